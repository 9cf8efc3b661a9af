//! The batch mask: boolean bits that form a prefix of ones (`b_i (1 - b_{i-1}) = 0`) and their sum,
//! the metered count.

use ark_ff::{AdditiveGroup, Field};

use crate::groth16::cs::{Cs, Num, Result};
use crate::groth16::F;

/// Lays out the given bits; returns the bit variables and their sum.
pub fn mask(cs: &Cs, bits: &[Option<F>]) -> Result<(Vec<Num>, Num)> {
    let mut out: Vec<Num> = Vec::with_capacity(bits.len());
    for b in bits {
        let bit = cs.boolean(*b)?;
        if let Some(prev) = out.last() {
            cs.enforce(
                &bit,
                &Num::constant(F::ONE).minus(prev),
                &Num::constant(F::ZERO),
            )?;
        }
        out.push(bit);
    }
    let terms: Vec<(F, &Num)> = out.iter().map(|b| (F::ONE, b)).collect();
    let count = Num::sum(&terms, F::ZERO);
    Ok((out, count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::groth16::cs::test_util::satisfied;

    fn check(bits: [u64; 4], count: u64) -> bool {
        satisfied(|cs| {
            let (_, n) = mask(cs, &bits.map(|b| Some(F::from(b))))?;
            cs.equal(&n, &Num::constant(F::from(count)))
        })
    }

    #[test]
    fn prefix_masks_only() {
        assert!(check([1, 1, 1, 0], 3) && check([0, 0, 0, 0], 0) && check([1, 1, 1, 1], 4));
        assert!(!check([1, 0, 1, 0], 2));
        assert!(!check([0, 1, 1, 1], 3));
        assert!(!check([2, 0, 0, 0], 2));
        assert!(!check([1, 1, 0, 0], 3));
    }

    #[test]
    fn every_variable_is_bound() {
        use crate::groth16::mutation::assert_every_variable_bound;
        for (bits, count) in [
            ([1u64, 1, 1, 0], 3u64),
            ([1, 0, 0, 0], 1),
            ([0, 0, 0, 0], 0),
        ] {
            let synth = move |cs| {
                let cs = Cs::new(cs);
                let (_, n) = mask(&cs, &bits.map(|b| Some(F::from(b))))?;
                cs.equal(&n, &Num::constant(F::from(count)))
            };
            assert_eq!(assert_every_variable_bound(&synth, "mask"), 4);
        }
    }
}
