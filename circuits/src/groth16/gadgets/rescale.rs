//! Rescale with clamp in R1CS, the relation of the halo2 rescale chip (the argument for its
//! uniqueness is in [`crate::ops::rescale`]): remainder `r` in `shift` bits, quotient
//! `q = (acc · M0 + half - r) / 2^n` (a linear combination, integral because the slack is
//! range-checked), boolean exclusive flags `lo` and `hi`, `P = (lo + hi) · q`, `H = hi · q`,
//! output `y = q - P + lo · min + hi · max` with `y - floor` in the bits of
//! [`RescaleParams::y_check`], and slack
//! `d = max - q + lo · (min - 1 - max) + hi · (2q - 2max - 1)` in `d_bits` bits. Five constraints
//! plus the bits.

use ark_ff::{AdditiveGroup, Field};

use crate::field::{fr_from_i128, fr_to_i128};
use crate::groth16::cs::{Cs, Num, Result};
use crate::groth16::{from_ark, to_ark, F};
use crate::ops::rescale::{RescaleParams, RescaleSteps};

fn f(v: i128) -> F {
    to_ark(&fr_from_i128(v))
}

pub fn rescale(cs: &Cs, acc: &Num, p: &RescaleParams) -> Result<Num> {
    rescale_with(cs, acc, p, |_| {})
}

/// As [`rescale`], with `tamper` able to corrupt the witness (tests).
pub(crate) fn rescale_with(
    cs: &Cs,
    acc: &Num,
    p: &RescaleParams,
    tamper: impl Fn(&mut RescaleSteps),
) -> Result<Num> {
    let steps = acc.value.map(|v| {
        // not a value the circuit can accept: zeros fail the constraints
        let mut s = fr_to_i128(&from_ark(&v))
            .and_then(|a| RescaleSteps::honest(a, p))
            .unwrap_or_default();
        tamper(&mut s);
        s
    });
    let get = |g: fn(&RescaleSteps) -> i128| steps.as_ref().map(|s| f(g(s)));
    let r = cs.bits(get(|s| s.r), p.shift)?;
    let inv_d = F::from(2u64)
        .pow([p.shift as u64])
        .inverse()
        .expect("2^n is invertible");
    let q = Num::sum(
        &[(inv_d * f(p.multiplier as i128), acc), (-inv_d, &r)],
        inv_d * f(p.half() as i128),
    );
    let lo = cs.boolean(get(|s| s.lo))?;
    let hi = cs.boolean(get(|s| s.hi))?;
    cs.enforce(&lo, &hi, &Num::constant(F::ZERO))?;
    let pq = cs.witness(get(|s| (s.lo + s.hi) * s.q))?;
    cs.enforce(&lo.plus(&hi), &q, &pq)?;
    let hq = cs.witness(get(|s| s.hi * s.q))?;
    cs.enforce(&hi, &q, &hq)?;
    let (min, max) = (f(p.min as i128), f(p.max as i128));
    let y = Num::sum(
        &[(F::ONE, &q), (-F::ONE, &pq), (min, &lo), (max, &hi)],
        F::ZERO,
    );
    let d = Num::sum(
        &[
            (-F::ONE, &q),
            (min - F::ONE - max, &lo),
            (-(max + max) - F::ONE, &hi),
            (F::from(2u64), &hq),
        ],
        max,
    );
    cs.range(&d, p.d_bits())?;
    let (floor, bits) = p.y_check();
    cs.range(&y.scale_add(F::ONE, -f(floor as i128)), bits)?;
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::groth16::cs::test_util::satisfied;
    use crate::ops::rescale::rescale as reference;

    const P: RescaleParams = RescaleParams {
        multiplier: 3,
        shift: 4,
        min: -128,
        max: 127,
        acc_bits: 20,
    };

    fn check(acc: i128, p: RescaleParams, tamper: Option<fn(&mut RescaleSteps)>) -> bool {
        satisfied(|cs| {
            let a = cs.witness(Some(f(acc)))?;
            let y = rescale_with(cs, &a, &p, |s| tamper.map_or((), |t| t(s)))?;
            if tamper.is_none() {
                assert_eq!(
                    y.value,
                    Some(f(
                        reference(acc, p.multiplier, p.shift, p.min, p.max).unwrap() as i128
                    ))
                );
            }
            Ok(())
        })
    }

    #[test]
    fn honest_rescale_matches_reference() {
        let relu = RescaleParams { min: 0, ..P };
        let identity = RescaleParams {
            multiplier: 1,
            shift: 0,
            min: 0,
            max: 127,
            acc_bits: 8,
        };
        for acc in [
            0i128,
            5,
            -5,
            8,
            -8,
            13,
            -13,
            100,
            -100,
            1000,
            -1000,
            (1 << 20) - 1,
            -(1 << 20) + 1,
        ] {
            assert!(check(acc, P, None), "acc {acc}");
            assert!(check(acc, relu, None), "relu acc {acc}");
        }
        for acc in [-128i128, -1, 0, 1, 127] {
            assert!(check(acc, identity, None));
        }
    }

    #[test]
    fn corrupted_witness_fails() {
        // wrong rounding: remainder one larger makes the quotient non-integral
        assert!(!check(13, P, Some(|s| s.r += 1)));
        // wrong rounding: quotient one larger with a consistent division
        assert!(!check(13, P, Some(|s| s.r -= 16)));
        // no clamp claimed above the ceiling, or below the floor
        assert!(!check(1000, P, Some(|s| s.hi = 0)));
        assert!(!check(-1000, P, Some(|s| s.lo = 0)));
        // a clamp claimed within range, on either side
        assert!(!check(100, P, Some(|s| s.hi = 1)));
        assert!(!check(100, P, Some(|s| s.lo = 1)));
        // both flags, and a flag that is not boolean
        assert!(!check(1000, P, Some(|s| s.lo = 1)));
        assert!(!check(100, P, Some(|s| s.hi = 2)));
        // ReLU letting a negative value through
        assert!(!check(
            -100,
            RescaleParams { min: 0, ..P },
            Some(|s| s.lo = 0)
        ));
        // an accumulator far beyond its bound (the graph's bounds hold by construction)
        assert!(!check(1 << 24, P, None));
        assert!(!check(-(1 << 24), P, None));
    }

    #[test]
    fn every_variable_is_bound() {
        use crate::groth16::cs::Cs;
        use crate::groth16::mutation::assert_every_variable_bound;
        let exact = RescaleParams {
            multiplier: 1,
            shift: 0,
            ..P
        };
        for (acc, p) in [0i128, 13, -13, 1000, -1000, 0, -100, -40, 1000]
            .into_iter()
            .zip([
                P,
                P,
                P,
                P,
                P,
                RescaleParams { min: 0, ..P },
                RescaleParams { min: 0, ..P },
                exact,
                exact,
            ])
        {
            let synth = move |cs| {
                let cs = Cs::new(cs);
                let a = cs.witness(Some(f(acc)))?;
                rescale(&cs, &a, &p).map(|_| ())
            };
            assert!(
                assert_every_variable_bound(&synth, "rescale") > 10,
                "acc {acc}"
            );
        }
    }
}
