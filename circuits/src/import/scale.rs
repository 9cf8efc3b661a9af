//! Scales and multipliers: the one place the quantizer turns a float ratio into integers. A
//! tensor's scale maps its calibrated maximum to 127; a rescale's ratio becomes `M0 / 2^n`,
//! with `M0` as narrow as the output's range allows, since the circuit range-checks each of
//! the `n` bits of the remainder. Only IEEE-exact f64 operations are used.

use crate::ops::kind::bits_of;
use crate::ops::rescale::MAX_SHIFT;

/// `127 / max|v|`, or 1 for a tensor that is always 0 (or so near it, a subnormal, that the
/// scale would be infinite: every value of it rounds to 0 either way).
pub(crate) fn scale_for(max_abs: f64) -> f64 {
    Some(127.0 / max_abs)
        .filter(|s| max_abs > 0.0 && s.is_finite())
        .unwrap_or(1.0)
}

/// `m ≈ M0 / 2^n` with `M0 ∈ [2^14, 2^15)` where `n` allows.
pub(crate) fn multiplier(m: f64) -> (i64, u32) {
    normalised(m, 15)
}

/// The multiplier of a rescale whose output is clamped to `[min, max]`: `M0` carries four bits
/// more than that range, so rounding `M0` moves an output by at most 1/16 of a step, and no
/// more, since each bit of `M0` is a bit of the remainder the circuit range-checks.
pub(crate) fn rescale_multiplier(m: f64, min: i64, max: i64) -> (i64, u32) {
    let span = (max as i128 - min as i128).unsigned_abs();
    normalised(m, (bits_of(span) + 4).min(15))
}

/// `m ≈ M0 / 2^n` with `M0 ∈ [2^(bits-1), 2^bits)` where `n` allows.
fn normalised(m: f64, bits: u32) -> (i64, u32) {
    let floor = (1u64 << (bits - 1)) as f64;
    let mut n = 0u32;
    let mut v = m;
    while v < floor && n < MAX_SHIFT {
        v *= 2.0;
        n += 1;
    }
    (v.round().max(1.0) as i64, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplier_is_normalised() {
        let (m0, n) = multiplier(0.001);
        assert!((16384..32768).contains(&m0));
        assert!((m0 as f64 / (1u64 << n) as f64 - 0.001).abs() < 1e-7);
        assert_eq!(multiplier(40000.0), (40000, 0));
        // an int8 output: 12 bits, so M0's rounding moves it by at most 1/16 of a step
        let (m0, n) = rescale_multiplier(0.001, -128, 127);
        assert!((2048..4096).contains(&m0));
        let err = (m0 as f64 / (1u64 << n) as f64 - 0.001).abs() / 0.001;
        assert!(err * 128.0 <= 1.0 / 16.0, "{err}");
        // a wide output keeps the full 15 bits
        assert!((16384..32768).contains(&rescale_multiplier(0.001, -(1 << 19), 1 << 19).0));
        assert_eq!(
            (scale_for(0.0), scale_for(1e-316), scale_for(0.5)),
            (1.0, 1.0, 254.0)
        );
    }
}
