//! The witness-mutation harness for the R1CS backend: each witness variable, changed by one
//! value at a time, must leave some constraint unsatisfied. A variable that may change is free:
//! the prover may put anything there.
//!
//! ark-relations caches the value of every symbolic linear combination when it is created, so
//! editing an assignment after synthesis would be checked against stale sums. The harness first
//! inlines every combination into plain variables (`finalize`), then drops the cache, so each
//! check re-evaluates the constraints from the edited witness. A changed variable can only break
//! the rows that read it (every other row holds as in the honest, satisfied system), so each
//! mutation is checked against exactly those rows of the system's matrices: the same verdict as
//! re-checking the whole system, at the cost of a variable's rows instead of all of them.
//! [`survivors`] shows the harness is not blind: its tests leave one variable unconstrained and
//! require it to be reported.
//!
//! For a new gadget: call [`assert_every_variable_bound`] on its honest synthesis in the
//! gadget's tests, and make sure `circuits/tests/groth16_circuit.rs` reaches it.

use ark_relations::gr1cs::{
    ConstraintSystem, ConstraintSystemRef, Matrix, SynthesisError, R1CS_PREDICATE_LABEL,
};
use rayon::prelude::*;

use super::F;

/// A synthesis of the circuit under test onto the given constraint system, with its witness.
pub trait Synthesis: Fn(ConstraintSystemRef<F>) -> Result<(), SynthesisError> + Sync {}
impl<T: Fn(ConstraintSystemRef<F>) -> Result<(), SynthesisError> + Sync> Synthesis for T {}

/// The deltas every variable is tried with.
pub const DELTAS: [i64; 2] = [1, -1];

/// The synthesized system, inlined and without cached sums; errors unless it is satisfied.
fn system(synth: &impl Synthesis) -> Result<ConstraintSystem<F>, SynthesisError> {
    let cs = ConstraintSystem::<F>::new_ref();
    synth(cs.clone())?;
    let mut sys = cs.into_inner().ok_or(SynthesisError::MissingCS)?;
    sys.finalize();
    sys.assignments.lc_assignment.clear();
    if !sys.is_satisfied()? {
        return Err(SynthesisError::Unsatisfiable);
    }
    Ok(sys)
}

/// The rows `(a·z)(b·z) = c·z` of an R1CS system over `z = (instance ‖ witness)`, and the rows
/// each witness variable appears in.
struct Rows {
    abc: Vec<Matrix<F>>,
    z: Vec<F>,
    /// Where the witness starts in `z`.
    offset: usize,
    uses: Vec<Vec<usize>>,
}

impl Rows {
    fn new(sys: &ConstraintSystem<F>) -> Result<Self, SynthesisError> {
        let mut matrices = sys.to_matrices()?;
        assert!(
            matrices.len() == 1,
            "the mutation harness reads R1CS systems only"
        );
        let abc = matrices
            .remove(R1CS_PREDICATE_LABEL)
            .expect("an R1CS system");
        let offset = sys.num_instance_variables();
        let a = &sys.assignments;
        let z: Vec<F> = a
            .instance_assignment
            .iter()
            .chain(&a.witness_assignment)
            .copied()
            .collect();
        let mut uses = vec![Vec::new(); a.witness_assignment.len()];
        for m in &abc {
            for (r, row) in m.iter().enumerate() {
                for &(_, i) in row {
                    if let Some(u) = i.checked_sub(offset).and_then(|w| uses.get_mut(w)) {
                        if u.last() != Some(&r) {
                            u.push(r);
                        }
                    }
                }
            }
        }
        for u in &mut uses {
            u.sort_unstable();
            u.dedup();
        }
        Ok(Self {
            abc,
            z,
            offset,
            uses,
        })
    }

    fn holds(&self, r: usize) -> bool {
        let dot = |m: &Matrix<F>| m[r].iter().map(|(c, i)| *c * self.z[*i]).sum::<F>();
        dot(&self.abc[0]) * dot(&self.abc[1]) == dot(&self.abc[2])
    }

    /// Whether the system still holds with witness variable `i` set to `v`.
    fn holds_with(&mut self, i: usize, v: F) -> bool {
        let honest = std::mem::replace(&mut self.z[self.offset + i], v);
        let ok = self.uses[i].iter().all(|r| self.holds(*r));
        self.z[self.offset + i] = honest;
        ok
    }
}

/// Witness variables of the honest synthesis.
pub fn witness_count(synth: &impl Synthesis) -> Result<usize, SynthesisError> {
    Ok(system(synth)?.assignments.witness_assignment.len())
}

/// `n` witness indices spread evenly over `0..total` (all when there are fewer).
pub fn spread(total: usize, n: usize) -> Vec<usize> {
    if total <= n {
        return (0..total).collect();
    }
    (0..n).map(|i| i * total / n).collect()
}

/// The `(index, delta)` mutations of `vars` the system still accepts. Work is split over the
/// threads, each on its own synthesis (ark-relations' systems are not shared across threads).
pub fn survivors(
    synth: &impl Synthesis,
    vars: &[usize],
    deltas: &[i64],
) -> Result<Vec<(usize, i64)>, SynthesisError> {
    let chunk = vars.len().div_ceil(rayon::current_num_threads()).max(1);
    let found: Vec<Result<Vec<(usize, i64)>, SynthesisError>> = vars
        .par_chunks(chunk)
        .map(|part| {
            let mut rows = Rows::new(&system(synth)?)?;
            let mut out = Vec::new();
            for &i in part {
                let honest = *rows
                    .z
                    .get(rows.offset + i)
                    .ok_or(SynthesisError::AssignmentMissing)?;
                for &d in deltas {
                    let delta = if d < 0 {
                        -F::from((-d) as u64)
                    } else {
                        F::from(d as u64)
                    };
                    if rows.holds_with(i, honest + delta) {
                        out.push((i, d));
                    }
                }
            }
            Ok(out)
        })
        .collect();
    let mut all = Vec::new();
    for f in found {
        all.extend(f?);
    }
    Ok(all)
}

/// Panics unless every witness variable of `synth`, changed by each of [`DELTAS`], breaks a
/// constraint; returns how many variables it covered.
pub fn assert_every_variable_bound(synth: &impl Synthesis, what: &str) -> usize {
    let n = witness_count(synth).expect("honest synthesis is satisfied");
    let free = survivors(synth, &(0..n).collect::<Vec<_>>(), &DELTAS).expect("synthesis");
    assert!(n > 0, "{what}: no witness variable");
    assert!(
        free.is_empty(),
        "{what}: free witness variables {free:?} of {n}"
    );
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::groth16::cs::{Cs, Num};

    /// `x · y = 42` with `x = 6`, and a variable `z` left unconstrained when `free_z`.
    fn synth(free_z: bool) -> impl Synthesis {
        move |cs: ConstraintSystemRef<F>| {
            let c = Cs::new(cs);
            let x = c.witness(Some(F::from(6u64)))?;
            let y = c.witness(Some(F::from(7u64)))?;
            let z = c.witness(Some(F::from(3u64)))?;
            c.equal(&x, &Num::constant(F::from(6u64)))?;
            c.enforce(&x, &y, &Num::constant(F::from(42u64)))?;
            if !free_z {
                c.equal(&z.plus(&x), &Num::constant(F::from(9u64)))?;
            }
            Ok(())
        }
    }

    #[test]
    fn bound_variables_pass() {
        assert_eq!(assert_every_variable_bound(&synth(false), "toy"), 3);
    }

    #[test]
    fn a_free_variable_is_reported() {
        let free = survivors(&synth(true), &[0, 1, 2], &DELTAS).unwrap();
        assert_eq!(free, vec![(2, 1), (2, -1)]);
    }
}
