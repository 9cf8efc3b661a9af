//! The one-hot row of each index: `y[..., j]` is 1 where the index `x` is `j` or `j - depth`
//! (ONNX's negative indices count from the end) and 0 elsewhere, for indices that must lie in
//! `[-depth, depth)`. It selects the element of a gather, or the target of a scatter, at
//! computed indices ([`crate::import`] builds those from it, products and sums). Unlike ONNX
//! OneHot, whose row is all 0 for an index out of range, an index out of range here is an error:
//! the reference refuses it, and no witness satisfies the circuit for it.
//!
//! Sound because, over the targets `[a, b] = [max(lo, -depth), min(hi, depth - 1)]` that an
//! index of static bound `[lo, hi]` may take, the steps `g_t = [x ≥ t] = clamp(x - t + 1, 0, 1)`
//! are exact rescales (one solution each), and `[x = t] = g_t - g_{t+1}`. At the ends, `g_a` is
//! the constant 1 where `lo ≥ a` and is asserted to be 1 otherwise, and `g_{b+1}` the constant 0
//! where `hi ≤ b` and asserted 0 otherwise; together these hold exactly when `a ≤ x ≤ b`. So the
//! row is a function of the index, with exactly one 1, at the index's position.

use serde::{Deserialize, Serialize};

use super::instructions::Instructions;
use super::kind::{width, Bound, Kind, MAX_COMPARE_BITS};
use super::rescale::RescaleParams;
use super::OpSpec;

/// Most positions an index may select among (each costs a comparison per index).
pub const MAX_DEPTH: usize = 1 << 16;

/// The op: one input of integer indices; the output has one more axis, of `depth`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexHot {
    /// The length of the axis the indices select along.
    pub depth: usize,
}

/// The structure: every input element becomes `depth` outputs, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexHots {
    /// The length of the axis the indices select along.
    pub depth: usize,
}

impl OpSpec for IndexHot {
    fn name(&self) -> &'static str {
        "index_hot"
    }

    fn check(&self) -> Result<(), String> {
        if self.depth == 0 || self.depth > MAX_DEPTH {
            return Err(format!("depth {} (1 to {MAX_DEPTH} positions)", self.depth));
        }
        Ok(())
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let mut out = inputs[0].to_vec();
        out.push(self.depth);
        Ok(out)
    }

    fn kind(&self, _: &[&[usize]], _: &[usize]) -> Kind {
        Kind::IndexHot(IndexHots { depth: self.depth })
    }
}

/// A step `[x ≥ t]`: a constant where the index's bound decides it.
enum Step<V> {
    Known(i128),
    Value(V),
}

impl IndexHots {
    fn depth(&self) -> i128 {
        self.depth as i128
    }

    /// The targets `[a, b]` an index within `x` may take; empty (`a > b`) if none.
    fn targets(&self, x: Bound) -> Bound {
        (x.0.max(-self.depth()), x.1.min(self.depth() - 1))
    }

    /// Always `[0, 1]`; an error when no index within `x` is a position, or the steps'
    /// differences are too wide to compare.
    pub fn bounds(&self, x: Bound) -> Result<Bound, String> {
        let (a, b) = self.targets(x);
        if a > b {
            return Err(format!(
                "indices may reach [{}, {}], none of them within [-{d}, {d})",
                x.0,
                x.1,
                d = self.depth
            ));
        }
        let w = width((x.0 - b, x.1 - a + 1));
        if w > MAX_COMPARE_BITS {
            return Err(format!(
                "indices up to 2^{w} apart; the limit is 2^{MAX_COMPARE_BITS}"
            ));
        }
        Ok((0, 1))
    }

    /// The reference: `None` for an index outside `[-depth, depth)`.
    pub fn eval(&self, x: &[i128]) -> Option<Vec<i128>> {
        let d = self.depth();
        let mut y = vec![0; x.len() * self.depth];
        for (i, v) in x.iter().enumerate() {
            if *v < -d || *v >= d {
                return None;
            }
            y[i * self.depth + v.rem_euclid(d) as usize] = 1;
        }
        Some(y)
    }

    /// Per index: the steps over its targets, the asserted ends, and each position's
    /// difference of steps (two where a negative index may also name it).
    pub fn lower<I: Instructions>(
        &self,
        ins: &mut I,
        x: &[I::Value],
        bound: Bound,
    ) -> Result<Vec<I::Value>, I::Error> {
        let (a, b) = self.targets(bound);
        let mut y = Vec::with_capacity(x.len() * self.depth);
        for v in x {
            let mut steps = Vec::with_capacity((b - a + 2) as usize);
            for t in a..=b + 1 {
                steps.push(if bound.0 >= t {
                    Step::Known(1)
                } else if bound.1 < t {
                    Step::Known(0)
                } else {
                    let d = ins.linear(&[(1, v)], 1 - t)?;
                    let p = RescaleParams::relu((bound.0 - t + 1, bound.1 - t + 1), (0, 1));
                    Step::Value(ins.rescale(&d, &p)?)
                });
            }
            for (step, end) in [(&steps[0], 1), (&steps[steps.len() - 1], 0)] {
                if let Step::Value(g) = step {
                    ins.assert_constant(g, end)?;
                }
            }
            for j in 0..self.depth() {
                let mut terms: Vec<(i64, &I::Value)> = Vec::new();
                let mut constant = 0;
                for t in [j, j - self.depth()]
                    .into_iter()
                    .filter(|t| a <= *t && *t <= b)
                {
                    let at = (t - a) as usize;
                    for (k, step) in [(1, &steps[at]), (-1, &steps[at + 1])] {
                        match step {
                            Step::Known(c) => constant += k as i128 * c,
                            Step::Value(g) => terms.push((k, g)),
                        }
                    }
                }
                y.push(if terms.is_empty() {
                    ins.constant(constant)?
                } else {
                    ins.linear(&terms, constant)?
                });
            }
        }
        Ok(y)
    }
}

#[cfg(test)]
mod tests {
    use halo2_proofs::circuit::Value;
    use halo2_proofs::plonk::Error;

    use super::*;
    use crate::field::fr_from_i64;
    use crate::groth16::cs::test_util::satisfied;
    use crate::groth16::instructions::R1csOps;
    use crate::groth16::to_ark;
    use crate::halo2::chips::harness::{fails, passes, Config};
    use crate::halo2::ctx::Ctx;
    use crate::halo2::instructions::Halo2Ops;

    /// The row of `index` laid out on the halo2 instructions, for an index of static `bound`;
    /// where the index is a position, its row is checked.
    fn halo2(
        index: i64,
        depth: usize,
        bound: Bound,
    ) -> impl Fn(&Config, &mut Ctx) -> Result<(), Error> + Clone {
        move |cfg, ctx| {
            let x = ctx.assign(cfg.base.main[0], 0, Value::known(fr_from_i64(index)));
            ctx.row = 1;
            let hots = IndexHots { depth };
            let row = hots.lower(&mut Halo2Ops::new(&cfg.base, ctx, &[]), &[x], bound)?;
            if let Some(want) = hots.eval(&[index as i128]) {
                for (y, w) in row.iter().zip(want) {
                    y.value.assert_if_known(|v| *v == fr_from_i64(w as i64));
                }
            }
            Ok(())
        }
    }

    fn r1cs(index: i64, depth: usize, bound: Bound) -> bool {
        satisfied(|cs| {
            let x = cs.witness(Some(to_ark(&fr_from_i64(index))))?;
            IndexHots { depth }.lower(&mut R1csOps(cs), &[x], bound)?;
            Ok(())
        })
    }

    /// An index of int8 bound selects among 3 positions from either end: the 6 indices in
    /// `[-3, 3)` satisfy both backends, and those just past either end, or far past, satisfy
    /// neither, though each step's rescale is honest: the asserted ends refuse them.
    #[test]
    fn only_indices_within_the_axis_satisfy_the_circuits() {
        let int8 = (-128, 127);
        for index in -3..3 {
            passes(halo2(index, 3, int8));
            assert!(r1cs(index, 3, int8), "index {index}");
        }
        for index in [-128, -4, 3, 100] {
            fails(halo2(index, 3, int8));
            assert!(!r1cs(index, 3, int8), "index {index}");
        }
        // a bound within the axis needs no assertion; one past it only at the end it passes
        assert!(r1cs(1, 4, (-2, 1)) && r1cs(-4, 4, (-4, 3)));
        passes(halo2(0, 1, (0, 3)));
        fails(halo2(1, 1, (0, 3)));
        assert!(r1cs(0, 1, (0, 3)) && !r1cs(1, 1, (0, 3)));
    }

    /// The reference refuses what the circuits refuse, and a bound no position fits is refused
    /// when the graph is built.
    #[test]
    fn the_reference_and_bounds_refuse_indices_past_the_axis() {
        let hots = IndexHots { depth: 3 };
        assert_eq!(hots.eval(&[-1, 0]), Some(vec![0, 0, 1, 1, 0, 0]));
        assert_eq!(hots.eval(&[3]), None);
        assert_eq!(hots.eval(&[-4]), None);
        assert_eq!(hots.bounds((-128, 127)), Ok((0, 1)));
        let e = hots.bounds((3, 9)).unwrap_err();
        assert!(e.contains("none of them within [-3, 3)"), "{e}");
    }
}
