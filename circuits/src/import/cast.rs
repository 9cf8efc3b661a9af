//! Casts between integer types, as ONNX defines them: a value the target type cannot hold wraps
//! modulo `2^bits` into the type's range. Where the source's range fits the target, the cast is
//! the same tensor; otherwise it is a proven floor division (the `quotient` op) and a difference,
//! exact like every integer op ([`super::integer`]).

use tract_onnx::prelude::DatumType;

use super::quantize::{Emit, Q};
use super::translate::FloatNode;
use crate::graph::tensor::Tensor;
use crate::ops::{add, affine, clip, quotient, wiring, Op};

/// Whether every value of type `from` is one of type `to` (both integers).
pub(crate) fn holds(to: DatumType, from: DatumType) -> bool {
    let bits = |d: DatumType| 8 * d.size_of() as i32 - i32::from(d.is_signed());
    (to.is_signed() || !from.is_signed()) && bits(to) >= bits(from)
}

/// A Cast of the integers `x` to a type of `bits` (`signed` or not), as ONNX casts them: each
/// value modulo `2^bits` into the type's range `[t, t + 2^bits)`. Where `x`'s range lies within
/// it, the values are unchanged (a copy); otherwise `x - 2^bits · floor((x - t) / 2^bits)`, a
/// proven floor division, clipped to the type's range (the identity on those values, which
/// gives the graph the tight bound).
pub(crate) fn wrap(
    e: &mut Emit,
    fnode: &FloatNode,
    x: &Q,
    bits: u32,
    signed: bool,
) -> Result<Q, String> {
    let name = &fnode.name;
    if !x.integer || x.scale != 1.0 {
        return Err(format!("`{}` holds no integers to cast", x.name));
    }
    // the type's range `[t, t + m)`; tract computes these integers in 64 bits already, so a
    // 64-bit type holds them, unless they may be negative and the type is unsigned
    let span = (bits < 64).then(|| {
        let m = 1i64 << bits;
        (if signed { -m / 2 } else { 0 }, m)
    });
    let (t, m) = match span {
        None if !signed && x.lo < 0 => {
            return Err(format!(
                "a Cast of [{}, {}] to a {bits}-bit unsigned type",
                x.lo, x.hi
            ))
        }
        Some((t, m)) if x.lo < t || x.hi >= t + m => (t, m),
        _ => {
            let same = Op::Reshape(wiring::Reshape {
                shape: x.shape.clone(),
            });
            e.push(name, same, vec![x.name.clone()], &x.shape, 1.0);
            return Ok(Q {
                name: name.clone(),
                ..x.clone()
            });
        }
    };
    let [from, wraps, wrapped] = ["from", "wraps", "wrapped"].map(|p| format!("{name}:{p}"));
    let shift = Op::Affine(affine::Affine {
        mul: Tensor::scalar(1),
        add: Tensor::scalar(-t),
    });
    e.push(&from, shift, vec![x.name.clone()], &x.shape, 1.0);
    let q = Op::Quotient(quotient::Quotient {
        divisor: Tensor::scalar(m),
        floor: true,
    });
    e.push(&wraps, q, vec![from], &x.shape, 1.0);
    let sub = Op::Add(add::Add { coeffs: [1, -m] });
    e.push(&wrapped, sub, vec![x.name.clone(), wraps], &x.shape, 1.0);
    let clip = Op::Clip(clip::Clip {
        min: t,
        max: t + m - 1,
    });
    e.push(name, clip, vec![wrapped], &x.shape, 1.0);
    Ok(Q {
        name: name.clone(),
        scale: 1.0,
        shape: x.shape.clone(),
        lo: t,
        hi: t + m - 1,
        integer: true,
    })
}
