//! BN254 scalar-field helpers: signed integers in and out of the field, and the canonical text form
//! (0x-prefixed 32-byte big-endian hex) used in every artifact. Parsing never reduces: a value at or
//! above the modulus is an error, so `x + r` can never stand in for `x`.

pub use halo2curves::bn256::Fr;
use halo2curves::ff::PrimeField;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FieldError {
    #[error("`{0}` is not a number (expected 0x-prefixed hex or decimal)")]
    Syntax(String),
    #[error("`{0}` is at or above the BN254 scalar-field modulus")]
    NotCanonical(String),
}

pub fn fr_from_i64(v: i64) -> Fr {
    // `From<u64>` is one Montgomery multiplication; `from_u128` adds 64 doublings, which
    // showed in profiles of models with a million weights
    let f = Fr::from(v.unsigned_abs());
    if v < 0 {
        -f
    } else {
        f
    }
}

pub fn fr_from_i128(v: i128) -> Fr {
    if let Ok(v) = i64::try_from(v) {
        return fr_from_i64(v);
    }
    let f = Fr::from_u128(v.unsigned_abs());
    if v < 0 {
        -f
    } else {
        f
    }
}

/// The signed integer a field element stands for, if it lies within ±2^126.
pub fn fr_to_i128(f: &Fr) -> Option<i128> {
    let small = |x: &Fr| -> Option<i128> {
        let repr = x.to_repr();
        let bytes = repr.as_ref();
        if bytes[16..].iter().any(|b| *b != 0) || bytes[15] & 0xc0 != 0 {
            return None;
        }
        let mut lo = [0u8; 16];
        lo.copy_from_slice(&bytes[..16]);
        Some(u128::from_le_bytes(lo) as i128)
    };
    small(f).or_else(|| small(&-*f).map(|v| -v))
}

/// Bits `[lo, lo + n)` of the canonical integer form of `f` (n ≤ 64).
pub fn fr_bits(f: &Fr, lo: u32, n: u32) -> u64 {
    let repr = f.to_repr();
    let bytes = repr.as_ref();
    let mut out = 0u64;
    for i in 0..n {
        let bit = lo + i;
        if bit >= 256 {
            break;
        }
        let b = (bytes[(bit / 8) as usize] >> (bit % 8)) & 1;
        out |= (b as u64) << i;
    }
    out
}

pub fn fr_to_hex(f: &Fr) -> String {
    let mut be: Vec<u8> = f.to_repr().as_ref().to_vec();
    be.reverse();
    format!("0x{}", hex_encode(&be))
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses 0x-hex or decimal into a canonical field element.
pub fn fr_parse(s: &str) -> Result<Fr, FieldError> {
    let t = s.trim();
    let digits: Vec<u8> = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        parse_radix(h, 16).ok_or_else(|| FieldError::Syntax(s.into()))?
    } else {
        parse_radix(t, 10).ok_or_else(|| FieldError::Syntax(s.into()))?
    };
    // `digits` is a little-endian byte string of arbitrary length.
    if digits.len() > 32 && digits[32..].iter().any(|b| *b != 0) {
        return Err(FieldError::NotCanonical(s.into()));
    }
    let mut repr = <Fr as PrimeField>::Repr::default();
    for (i, b) in digits.iter().take(32).enumerate() {
        repr.as_mut()[i] = *b;
    }
    Option::from(Fr::from_repr(repr)).ok_or_else(|| FieldError::NotCanonical(s.into()))
}

/// Little-endian bytes of a non-negative integer written in `radix` (10 or 16).
fn parse_radix(s: &str, radix: u32) -> Option<Vec<u8>> {
    if s.is_empty() || s.len() > 100 {
        return None;
    }
    let mut out: Vec<u8> = vec![0];
    for ch in s.chars() {
        let d = ch.to_digit(radix)?;
        let mut carry = d;
        for byte in out.iter_mut() {
            let v = (*byte as u32) * radix + carry;
            *byte = (v & 0xff) as u8;
            carry = v >> 8;
        }
        while carry > 0 {
            out.push((carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    Some(out)
}

/// A uniformly random field element from the OS generator (commitment salts).
pub fn random_fr() -> Fr {
    use halo2curves::ff::Field;
    Fr::random(rand::rngs::OsRng)
}

/// The modulus r of the BN254 scalar field, as 0x-hex.
pub const MODULUS_HEX: &str = "0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_round_trip() {
        let edges = [
            i64::MIN as i128,
            i64::MAX as i128,
            i64::MIN as i128 - 1,
            i64::MAX as i128 + 1,
        ];
        for v in [0i128, 1, -1, 127, -128, 1 << 100, -(1 << 100)]
            .into_iter()
            .chain(edges)
        {
            assert_eq!(fr_to_i128(&fr_from_i128(v)), Some(v));
            let wide = Fr::from_u128(v.unsigned_abs());
            assert_eq!(fr_from_i128(v), if v < 0 { -wide } else { wide });
        }
        for v in [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX] {
            let wide = Fr::from_u128(v.unsigned_abs() as u128);
            assert_eq!(fr_from_i64(v), if v < 0 { -wide } else { wide });
            assert_eq!(fr_to_i128(&fr_from_i64(v)), Some(v as i128));
        }
        assert_eq!(fr_to_i128(&Fr::from_u128(1u128 << 127)), None);
    }

    #[test]
    fn parse_rejects_modulus_and_above() {
        assert_eq!(fr_parse("0x05").unwrap(), Fr::from(5));
        assert_eq!(fr_parse("12345").unwrap(), Fr::from(12345));
        assert!(matches!(
            fr_parse(MODULUS_HEX),
            Err(FieldError::NotCanonical(_))
        ));
        let r_plus_5 =
            "21888242871839275222246405745257275088548364400416034343698204186575808495622";
        assert!(matches!(
            fr_parse(r_plus_5),
            Err(FieldError::NotCanonical(_))
        ));
        let r_minus_1 =
            "21888242871839275222246405745257275088548364400416034343698204186575808495616";
        assert_eq!(fr_parse(r_minus_1).unwrap(), -Fr::from(1));
        assert!(matches!(fr_parse("0xzz"), Err(FieldError::Syntax(_))));
        assert_eq!(fr_parse(&fr_to_hex(&-Fr::from(7))).unwrap(), -Fr::from(7));
    }
}
