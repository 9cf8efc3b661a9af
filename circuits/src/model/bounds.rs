//! Static bounds on every tensor's values, derived from the input range and the weights. The
//! circuit sizes its range checks from them, so they must hold for every admissible input.

use super::ir::{Model, ModelError, Op};

/// Largest magnitude an intermediate may reach: keeps all products far below the 254-bit field.
pub const MAX_BOUND_BITS: u32 = 100;

/// `[lo, hi]` for the input and after every op.
pub fn bounds(model: &Model) -> Result<Vec<(i128, i128)>, ModelError> {
    let mut out = vec![(model.input.min as i128, model.input.max as i128)];
    for (index, op) in model.ops.iter().enumerate() {
        let (lo, hi) = *out.last().expect("non-empty");
        let next = match op {
            Op::Linear {
                in_dim,
                out_dim,
                weights,
                bias,
            } => {
                let (mut glo, mut ghi) = (i128::MAX, i128::MIN);
                for j in 0..*out_dim {
                    let (mut a, mut b) = (bias[j] as i128, bias[j] as i128);
                    for &w in &weights[j * in_dim..(j + 1) * in_dim] {
                        let (p, q) = (w as i128 * lo, w as i128 * hi);
                        a += p.min(q);
                        b += p.max(q);
                    }
                    glo = glo.min(a);
                    ghi = ghi.max(b);
                }
                (glo, ghi)
            }
            Op::Rescale { min, max, .. } => (*min as i128, *max as i128),
            Op::Relu => (lo.max(0), hi.max(0)),
        };
        if bits_of(next.0.unsigned_abs().max(next.1.unsigned_abs())) > MAX_BOUND_BITS {
            return Err(ModelError::Overflow {
                index,
                op: op.name(),
            });
        }
        out.push(next);
    }
    Ok(out)
}

/// Number of bits needed to write `v`.
pub fn bits_of(v: u128) -> u32 {
    128 - v.leading_zeros()
}
