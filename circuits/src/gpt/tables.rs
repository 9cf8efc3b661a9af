//! The tables of the decoder's non-linear functions over their whole quantized input domain,
//! computed with `libm` so that every machine derives the same values, keys and verifier.

use super::{ACT, EXP_BITS};

/// `exp(-u / 2^frac)` scaled by `2^EXP_BITS`, for `u = max - score ∈ [0, 2·2048)`.
pub fn exp_table(frac_bits: u32) -> Vec<i64> {
    let scale = (1u64 << EXP_BITS) as f64;
    (0..exp_domain())
        .map(|u| libm::round(scale * libm::exp(-(u as f64) / (1u64 << frac_bits) as f64)) as i64)
        .collect()
}

/// Inputs of the exp table: a score minus the row's maximum, both within [`ACT`].
pub fn exp_domain() -> i64 {
    ACT.1 - ACT.0 + 1
}

/// `gelu(x) = x/2 · (1 + erf(x/√2))` at the activation scale, for `x ∈ ACT`; entry `i` is input
/// `ACT.0 + i`.
pub fn gelu_table(frac_bits: u32) -> Vec<i64> {
    let scale = (1u64 << frac_bits) as f64;
    (ACT.0..=ACT.1)
        .map(|u| {
            let x = u as f64 / scale;
            libm::round(0.5 * x * (1.0 + libm::erf(x / libm::sqrt(2.0))) * scale) as i64
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_hold_the_functions() {
        let e = exp_table(6);
        assert_eq!(e[0], 1 << 16);
        assert_eq!(e[64], 24109); // 65536 / e
        assert!(e.windows(2).all(|w| w[0] >= w[1]) && *e.last().unwrap() == 0);
        let g = gelu_table(6);
        let at = |x: i64| g[(x - ACT.0) as usize];
        assert_eq!((at(0), at(64), at(-64), at(2047)), (0, 54, -10, 2047));
    }
}
