//! Rescale: `y = clamp(⌊x · M0 / 2^n + 1/2⌋, min, max)`, element-wise, in exact integers
//! (halves round up). It is how every linear op returns to int8: the quantizer writes each scale
//! ratio as `M0 / 2^n`. [`RescaleSteps`] is the integer witness both backends constrain: the
//! signed quotient `q` and remainder `r` of `x · M0 + 2^(n-1) = q · 2^n + r`, one flag for each
//! side `q` may be clamped on, the slack `d` that proves that side, and the output.
//!
//! Why it is unique, for an `x` the graph's bounds hold within `±2^acc_bits` (they hold by
//! construction: every input is range-checked and every op's output bound is derived):
//! - `r ∈ [0, 2^n)` and `d ∈ [0, 2^d_bits)` are range-checked. A `q` from another remainder in
//!   range differs from the true quotient by `δ · 2^-n` with `0 < |δ| < 2^n`, a field element far
//!   outside the window `d`'s check leaves `q`, so `q` is the true `⌊(x · M0 + half) / 2^n⌋`.
//! - The flags are boolean and exclusive. Below (`lo`): `d = min - 1 - q` proves `q < min`, and
//!   `y = min`. Above (`hi`): `d = q - max - 1` proves `q > max`, and `y = max`. Neither:
//!   `d = max - q` proves `q ≤ max`, `y = q`, and `y - floor ∈ [0, 2^bits)` proves
//!   `q ≥ floor ≥ min` (`floor` is `min`, or the lowest quotient the input's bound allows where
//!   that is higher, so an honest `y` always passes).
//!   Each case's checks exclude the others, so the flags, and `y`, are unique.
//!
//! The sign of `x` is never decided on its own, so no check of `|x|`'s width is needed: the
//! output's check (8 bits for int8) replaces it. Halves round up rather than away from
//! zero for the same reason (the two differ only at a negative `x` exactly halfway).

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

/// `clamp(⌊acc · multiplier / 2^shift + 1/2⌋, min, max)` in exact integers.
pub fn rescale(acc: i128, multiplier: i64, shift: u32, min: i64, max: i64) -> Option<i64> {
    let half = if shift == 0 { 0 } else { 1i128 << (shift - 1) };
    let t = acc.checked_mul(multiplier as i128)?.checked_add(half)?;
    // an arithmetic shift is the floor, negative values included
    Some((t >> shift).clamp(min as i128, max as i128) as i64)
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
    /// `|acc| < 2^acc_bits` for every admissible input (the graph's bounds).
    pub acc_bits: u32,
}

impl RescaleParams {
    /// Width of `|acc · M0|`, which bounds the quotient.
    pub fn a_bits(&self) -> u32 {
        self.acc_bits + bits_of(self.multiplier as u128)
    }

    /// Width of the clamp slack `d`: `max - min` unclamped, below `2^(a_bits - shift)` (the
    /// quotient's bound) clamped.
    pub fn d_bits(&self) -> u32 {
        let cap = self.max.max(-self.min) as u128;
        (bits_of(cap) + 1).max(self.a_bits().saturating_sub(self.shift) + 1)
    }

    /// The outputs an admissible input can give: the clamp `[min, max]` narrowed to the
    /// quotients an accumulator within `±2^acc_bits` reaches, so that the output's check is no
    /// wider than the values it can hold (an exact rescale of a 9-bit value clamped to ±2^19).
    pub fn y_range(&self) -> (i64, i64) {
        // the rescale is monotone in its input (`M0 > 0`), so the extremes map to the extremes
        let at = |acc| rescale(acc, self.multiplier, self.shift, self.min, self.max);
        let top = (self.acc_bits < 120).then(|| (1i128 << self.acc_bits) - 1);
        top.and_then(|t| Some((at(-t)?, at(t)?)))
            .unwrap_or((self.min, self.max))
    }

    /// The output's check, `y - floor ∈ [0, 2^bits)`, as `(floor, bits)` for `(floor, top)` the
    /// [`Self::y_range`]: it proves `y ≥ floor` (the slack proves `y ≤ max`).
    pub fn y_check(&self) -> (i64, u32) {
        let (floor, top) = self.y_range();
        (floor, bits_of((top - floor) as u128))
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

/// The integer witness of one rescale: quotient `q` and remainder `r` of
/// `acc · M0 + half = q · 2^n + r`, the flags `lo` (`q < min`) and `hi` (`q > max`), the slack `d`
/// (`min - 1 - q`, `q - max - 1` or `max - q`) and the output `y`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct RescaleSteps {
    pub q: i128,
    pub r: i128,
    pub lo: i128,
    pub hi: i128,
    pub d: i128,
    pub y: i128,
}

impl RescaleSteps {
    /// The honest witness, or `None` when `acc · M0` overflows.
    pub fn honest(acc: i128, p: &RescaleParams) -> Option<Self> {
        let t = acc
            .checked_mul(p.multiplier as i128)?
            .checked_add(p.half() as i128)?;
        let q = t >> p.shift;
        let r = t - (q << p.shift);
        let (min, max) = (p.min as i128, p.max as i128);
        let (lo, hi) = (q < min, q > max);
        let d = if lo {
            min - 1 - q
        } else if hi {
            q - max - 1
        } else {
            max - q
        };
        Some(Self {
            q,
            r,
            lo: lo as i128,
            hi: hi as i128,
            d,
            y: q.clamp(min, max),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rescale_rounds_halves_up_and_clamps() {
        // 2^2 = 4: 6/4 = 1.5 → 2, -6/4 = -1.5 → -1, 5/4 → 1, -5/4 → -1, 7/4 → 2, -7/4 → -2,
        // -2/4 = -0.5 → 0, -3/4 → -1
        let r = |acc| rescale(acc, 1, 2, -128, 127).unwrap();
        assert_eq!(
            [
                r(6),
                r(-6),
                r(5),
                r(-5),
                r(7),
                r(-7),
                r(2),
                r(-2),
                r(-3),
                r(0)
            ],
            [2, -1, 1, -1, 2, -2, 1, 0, -1, 0]
        );
        assert_eq!(rescale(10_000, 1, 2, -128, 127), Some(127));
        assert_eq!(rescale(-10_000, 1, 2, -128, 127), Some(-128));
        // multiplier 3, shift 3: 5·3/8 = 1.875 → 2; -4·3/8 = -1.5 → -1; -5·3/8 = -1.875 → -2
        assert_eq!(rescale(5, 3, 3, -128, 127), Some(2));
        assert_eq!(rescale(-4, 3, 3, -128, 127), Some(-1));
        assert_eq!(rescale(-5, 3, 3, -128, 127), Some(-2));
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
            assert_eq!(acc * 3 + p.half() as i128, s.q * 16 + s.r);
            assert!(s.r >= 0 && s.r < 16);
            assert!(s.d >= 0 && s.d < 1 << p.d_bits());
            let (floor, bits) = p.y_check();
            let floor = floor as i128;
            assert!(s.y - floor >= 0 && s.y - floor < 1 << bits);
        }
    }

    #[test]
    fn the_output_check_is_as_narrow_as_the_input_allows() {
        // an exact rescale of a 9-bit value clamped to ±2^19: 10 bits, not 20
        let p = RescaleParams {
            multiplier: 1,
            shift: 0,
            min: -(1 << 19),
            max: 1 << 19,
            acc_bits: 9,
        };
        assert_eq!((p.y_range(), p.y_check()), ((-511, 511), (-511, 10)));
        // an int8 clamp the quotients cover: the clamp itself
        let q = RescaleParams {
            multiplier: 3,
            shift: 4,
            min: -128,
            max: 127,
            acc_bits: 20,
        };
        assert_eq!((q.y_range(), q.y_check()), ((-128, 127), (-128, 8)));
        for p in [p, q, RescaleParams { min: 0, ..q }] {
            let (floor, bits) = p.y_check();
            for acc in -(1i128 << p.acc_bits) + 1..1 << p.acc_bits.min(12) {
                let y = RescaleSteps::honest(acc, &p).unwrap().y;
                assert!((0..1 << bits).contains(&(y - floor as i128)), "{p:?} {acc}");
            }
        }
    }
}
