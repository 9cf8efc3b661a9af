//! Rescale: `y = clamp(round_half_away(x · M0 / 2^n), min, max)`, element-wise, in exact integers.
//! It is how every linear op returns to int8: the quantizer writes each scale ratio as `M0 / 2^n`.
//! [`RescaleSteps`] is the integer witness both backends constrain (sign, magnitude, quotient and
//! remainder, clamp flag and slack); its range checks, sized by the input's bound, make it unique.
//! The magnitude checked is `|acc|`, not `|acc · M0|`: the product is a constant multiple of a
//! bounded value, so its sign and bound follow, and each rescale saves `M0`'s bits of range
//! checks.

use serde::{Deserialize, Serialize};

use super::kind::{bits_of, Kind};
use super::{unary, OpSpec};

/// Largest rescale shift; `2^shift` must stay well inside the range checks.
pub const MAX_SHIFT: u32 = 48;

/// The rescale op.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rescale {
    /// `M0`, in `1..=2^32`.
    pub multiplier: i64,
    /// `n`, at most [`MAX_SHIFT`].
    pub shift: u32,
    /// Clamp floor (≤ 0).
    pub min: i64,
    /// Clamp ceiling (≥ 0).
    pub max: i64,
}

impl OpSpec for Rescale {
    fn name(&self) -> &'static str {
        "rescale"
    }

    fn check(&self) -> Result<(), String> {
        if self.multiplier <= 0 || self.multiplier > 1 << 32 || self.shift > MAX_SHIFT {
            return Err(format!(
                "multiplier {} must be in 1..=2^32 and shift {} ≤ {MAX_SHIFT}",
                self.multiplier, self.shift
            ));
        }
        if !(self.min <= 0 && 0 <= self.max && self.max - self.min < 1 << 20) {
            return Err(format!(
                "clamp range [{}, {}] must contain 0 and span < 2^20",
                self.min, self.max
            ));
        }
        Ok(())
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        Ok(unary(inputs).to_vec())
    }

    fn kind(&self, _: &[&[usize]], _: &[usize]) -> Kind {
        Kind::Rescale(self.clone())
    }
}

impl Rescale {
    /// The op on one value; `None` when `x · M0` overflows.
    pub fn apply(&self, x: i128) -> Option<i64> {
        rescale(x, self.multiplier, self.shift, self.min, self.max)
    }

    /// The circuit parameters for inputs within `±2^acc_bits`.
    pub fn params(&self, acc_bits: u32) -> RescaleParams {
        RescaleParams {
            multiplier: self.multiplier,
            shift: self.shift,
            min: self.min,
            max: self.max,
            acc_bits,
        }
    }
}

/// `clamp(round_half_away(acc · multiplier / 2^shift), min, max)` in exact integers.
pub fn rescale(acc: i128, multiplier: i64, shift: u32, min: i64, max: i64) -> Option<i64> {
    let t = acc.checked_mul(multiplier as i128)?;
    let half = if shift == 0 { 0 } else { 1i128 << (shift - 1) };
    let q = (t.unsigned_abs() as i128).checked_add(half)? >> shift;
    let y = if t < 0 { -q } else { q };
    Some(y.clamp(min as i128, max as i128) as i64)
}

/// One rescale's constants and the bound on its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RescaleParams {
    /// `M0`.
    pub multiplier: i64,
    /// `n`.
    pub shift: u32,
    /// Clamp floor.
    pub min: i64,
    /// Clamp ceiling.
    pub max: i64,
    /// `|acc| < 2^acc_bits` for every admissible input.
    pub acc_bits: u32,
}

impl RescaleParams {
    /// Width of the magnitude `u = |acc|`, the value range-checked.
    pub fn u_bits(&self) -> u32 {
        self.acc_bits
    }

    /// Width of the scaled magnitude `u · M0`, which bounds the quotient.
    pub fn a_bits(&self) -> u32 {
        self.acc_bits + bits_of(self.multiplier as u128)
    }

    /// Width of the clamp slack `d`.
    pub fn d_bits(&self) -> u32 {
        let cap = self.max.max(-self.min) as u128;
        (bits_of(cap) + 1).max(self.a_bits().saturating_sub(self.shift) + 1)
    }

    /// `2^(n-1)`, the rounding offset (0 when `n = 0`).
    pub fn half(&self) -> i64 {
        if self.shift == 0 {
            0
        } else {
            1 << (self.shift - 1)
        }
    }
}

/// The integer witness of one rescale: sign `s`, magnitude `u = |acc|`, quotient `q` and
/// remainder `r` of `u · M0 + half = q · 2^n + r`, clamp flag `c`, clamped magnitude `m`, slack `d`
/// (`cap - q` unclamped, `q - cap - 1` clamped, with `cap = max` or `-min` by sign), output `y`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct RescaleSteps {
    pub s: i128,
    pub u: i128,
    pub q: i128,
    pub r: i128,
    pub c: i128,
    pub m: i128,
    pub d: i128,
    pub y: i128,
}

impl RescaleSteps {
    /// The honest witness, or `None` when `acc · M0` overflows.
    pub fn honest(acc: i128, p: &RescaleParams) -> Option<Self> {
        let t = acc.checked_mul(p.multiplier as i128)?;
        let (s, a) = (t < 0, t.unsigned_abs() as i128);
        let u = acc.unsigned_abs() as i128;
        let q = (a + p.half() as i128) >> p.shift;
        let r = a + p.half() as i128 - (q << p.shift);
        let cap = if s { -(p.min as i128) } else { p.max as i128 };
        let c = q > cap;
        let m = q.min(cap);
        let d = if c { q - cap - 1 } else { cap - q };
        Some(Self {
            s: s as i128,
            u,
            q,
            r,
            c: c as i128,
            m,
            d,
            y: if s { -m } else { m },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rescale_rounds_half_away_from_zero_and_clamps() {
        // 2^2 = 4: 6/4 = 1.5 → 2, -6/4 = -1.5 → -2, 5/4 → 1, -5/4 → -1, 7/4 → 2, -7/4 → -2
        let r = |acc| rescale(acc, 1, 2, -128, 127).unwrap();
        assert_eq!(
            [r(6), r(-6), r(5), r(-5), r(7), r(-7), r(2), r(-2), r(0)],
            [2, -2, 1, -1, 2, -2, 1, -1, 0]
        );
        assert_eq!(rescale(10_000, 1, 2, -128, 127), Some(127));
        assert_eq!(rescale(-10_000, 1, 2, -128, 127), Some(-128));
        // multiplier 3, shift 3: 5·3/8 = 1.875 → 2; -4·3/8 = -1.5 → -2
        assert_eq!(rescale(5, 3, 3, -128, 127), Some(2));
        assert_eq!(rescale(-4, 3, 3, -128, 127), Some(-2));
        assert_eq!(rescale(-40, 1, 0, 0, 127), Some(0));
    }

    #[test]
    fn steps_agree_with_the_reference_rescale() {
        let p = RescaleParams {
            multiplier: 3,
            shift: 4,
            min: -128,
            max: 127,
            acc_bits: 20,
        };
        for acc in -3000i128..3000 {
            let s = RescaleSteps::honest(acc, &p).unwrap();
            assert_eq!(
                s.y as i64,
                rescale(acc, 3, 4, -128, 127).unwrap(),
                "acc {acc}"
            );
            assert_eq!(s.u * 3 + p.half() as i128, s.q * 16 + s.r);
            assert!(s.u < 1 << p.u_bits());
            assert!(s.d >= 0 && s.d < 1 << p.d_bits());
        }
    }
}
