//! Rescale with clamp in R1CS, the relation of the halo2 rescale chip: sign `s`, magnitude
//! `u = acc · (1 - 2s)` in `u_bits` bits, remainder `r` in `shift` bits, quotient
//! `q = (u · M0 + half - r) / 2^n` (a linear combination, integral because the slack is
//! range-checked),
//! clamp flag `c`, `P = c · (cap - q)`, `m = q + P`, slack `d = cap - q - 2P - c` in `d_bits` bits,
//! output `y = m · (1 - 2s)`. Six constraints plus the bits.

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
        let mut s = fr_to_i128(&from_ark(&v))
            .and_then(|a| RescaleSteps::honest(a, p))
            // not a value the circuit can accept: zeros fail the range checks
            .unwrap_or(RescaleSteps {
                s: 0,
                u: 0,
                q: 0,
                r: 0,
                c: 0,
                m: 0,
                d: 0,
                y: 0,
            });
        tamper(&mut s);
        s
    });
    let get = |g: fn(&RescaleSteps) -> i128| steps.as_ref().map(|s| f(g(s)));
    let s = cs.boolean(get(|s| s.s))?;
    let sign = s.scale_add(-F::from(2u64), F::ONE);
    let u = cs.bits(get(|s| s.u), p.u_bits())?;
    cs.enforce(acc, &sign, &u)?;
    let r = cs.bits(get(|s| s.r), p.shift)?;
    let inv_d = F::from(2u64)
        .pow([p.shift as u64])
        .inverse()
        .expect("2^n is invertible");
    let q = Num::sum(
        &[(inv_d * f(p.multiplier as i128), &u), (-inv_d, &r)],
        inv_d * f(p.half() as i128),
    );
    let c = cs.boolean(get(|s| s.c))?;
    // cap = max + s · (-min - max)
    let cap = s.scale_add(f(-(p.min as i128) - p.max as i128), f(p.max as i128));
    let cap_minus_q = cap.minus(&q);
    let pc = cs.witness(get(|s| s.m - s.q))?;
    cs.enforce(&c, &cap_minus_q, &pc)?;
    let m = q.plus(&pc);
    let d = Num::sum(
        &[(F::ONE, &cap_minus_q), (-F::from(2u64), &pc), (-F::ONE, &c)],
        F::ZERO,
    );
    cs.range(&d, p.d_bits())?;
    let y = cs.witness(get(|s| s.y))?;
    cs.enforce(&m, &sign, &y)?;
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
        assert!(!check(
            13,
            P,
            Some(|s| {
                s.r -= 16;
                s.q += 1;
                s.m += 1;
                s.y += 1;
            })
        ));
        assert!(!check(13, P, Some(|s| s.y += 1)));
        // wrong sign for a positive value
        assert!(!check(
            40,
            P,
            Some(|s| {
                s.s = 1;
                s.u = -s.u;
                s.y = -s.y;
            })
        ));
        // no clamp claimed above the cap
        assert!(!check(
            1000,
            P,
            Some(|s| {
                s.c = 0;
                s.m = s.q;
                s.y = s.q;
            })
        ));
        // a clamp claimed below the cap
        assert!(!check(
            100,
            P,
            Some(|s| {
                s.c = 1;
                s.m = 127;
                s.y = 127;
            })
        ));
        // ReLU letting a negative value through
        assert!(!check(
            -100,
            RescaleParams { min: 0, ..P },
            Some(|s| {
                s.c = 0;
                s.m = s.q;
                s.y = -s.q;
            })
        ));
        // an accumulator beyond its bound
        assert!(!check(1 << 21, P, None));
    }

    #[test]
    fn every_variable_is_bound() {
        use crate::groth16::cs::Cs;
        use crate::groth16::mutation::assert_every_variable_bound;
        for (acc, p) in [0i128, 13, -13, 1000, -1000, 0, -100].into_iter().zip([
            P,
            P,
            P,
            P,
            P,
            RescaleParams { min: 0, ..P },
            RescaleParams { min: 0, ..P },
        ]) {
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
