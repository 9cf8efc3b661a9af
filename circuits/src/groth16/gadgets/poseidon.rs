//! circom `Poseidon(4)` in R1CS: the S-box `x^5` is three products (`x^2`, `x^4`, `x^5`); adding
//! round constants and the MDS mix are linear and cost nothing.

use ark_ff::{AdditiveGroup, Field};

use crate::groth16::cs::{Cs, Num, Result};
use crate::groth16::{to_ark, F};
use crate::poseidon::{spec, RATE, WIDTH};

pub fn hash(cs: &Cs, inputs: [&Num; RATE]) -> Result<Num> {
    hash_with(cs, inputs, |_, _| None)
}

/// As [`hash`], with `claim(round, lane)` able to claim a wrong S-box output (tests).
pub(crate) fn hash_with(
    cs: &Cs,
    inputs: [&Num; RATE],
    claim: impl Fn(usize, usize) -> Option<F>,
) -> Result<Num> {
    let spec = spec();
    let mds: Vec<Vec<F>> = spec
        .mds
        .iter()
        .map(|row| row.iter().map(to_ark).collect())
        .collect();
    let mut state: Vec<Num> = std::iter::once(Num::constant(F::ZERO))
        .chain(inputs.iter().map(|n| (*n).clone()))
        .collect();
    for r in 0..spec.rounds() {
        let full = spec.is_full(r);
        let mut boxed = Vec::with_capacity(WIDTH);
        for (j, lane) in state.iter().enumerate() {
            let x = lane.scale_add(F::ONE, to_ark(&spec.ark[r][j]));
            if full || j == 0 {
                let x2 = cs.mul(&x, &x)?;
                let x4 = cs.mul(&x2, &x2)?;
                let honest = x4.value.zip(x.value).map(|(a, b)| a * b);
                boxed.push(cs.mul_claim(&x4, &x, claim(r, j).or(honest))?);
            } else {
                boxed.push(x);
            }
        }
        state = mds
            .iter()
            .map(|row| {
                let terms: Vec<(F, &Num)> = row.iter().zip(&boxed).map(|(k, b)| (*k, b)).collect();
                Num::sum(&terms, F::ZERO)
            })
            .collect();
    }
    Ok(state.swap_remove(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::groth16::cs::test_util::satisfied;
    use crate::Fr;

    fn check(bad: Option<(usize, usize)>) -> bool {
        satisfied(|cs| {
            let ins: Vec<Num> = (0..RATE as u64)
                .map(|i| cs.witness(Some(F::from(i + 10))))
                .collect::<Result<_>>()?;
            let out = hash_with(cs, std::array::from_fn(|i| &ins[i]), |r, j| {
                (Some((r, j)) == bad).then(|| F::from(12345u64))
            })?;
            if bad.is_none() {
                let want = crate::poseidon::hash(&std::array::from_fn(|i| Fr::from(i as u64 + 10)));
                assert_eq!(out.value, Some(to_ark(&want)));
            }
            Ok(())
        })
    }

    #[test]
    fn honest_hash_matches_native() {
        assert!(check(None));
    }

    #[test]
    fn wrong_sbox_output_fails_in_full_and_partial_rounds() {
        assert!(!check(Some((0, 2))));
        assert!(!check(Some((30, 0))));
        assert!(!check(Some((spec().rounds() - 1, 4))));
    }

    #[test]
    fn every_variable_is_bound() {
        let synth = |cs| {
            let cs = Cs::new(cs);
            let ins: Vec<Num> = (0..RATE as u64)
                .map(|i| cs.witness(Some(F::from(i + 10))))
                .collect::<Result<_>>()?;
            hash(&cs, std::array::from_fn(|i| &ins[i])).map(|_| ())
        };
        let n = crate::groth16::mutation::assert_every_variable_bound(&synth, "poseidon");
        assert!(n > 3 * spec().rounds());
    }
}
