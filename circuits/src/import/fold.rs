//! A binary op with one constant operand. Mul / Add / Sub / Div by a constant become a scale and
//! an offset, folded into the linear op before them where the algebra allows (Gemm's alpha and
//! beta, a bias Add after MatMul, BatchNorm after Conv, attention's score scale) so they cost no rescale; Max / Min with a
//! constant become a clamp, which quantization fuses into the rescale before it.

use super::translate::{FloatNode, FloatOp};
use crate::graph::tensor::{broadcast_map, broadcast_shape, numel, Tensor};

/// What `x ⊙ k` with a constant `k` becomes.
#[derive(Debug, Clone)]
pub(crate) enum Constant {
    /// `x · mul + add`; `None` for the identity part.
    Scale {
        mul: Option<Tensor<f64>>,
        add: Option<Tensor<f64>>,
    },
    /// `clamp(x, lo, hi)`, an infinite side unbounded.
    Clip { lo: f64, hi: f64 },
}

/// `x ⊙ k` for tract's binary op `name`; `flipped` when the constant is the left operand.
pub(crate) fn with_constant(
    name: &str,
    k: &Tensor<f64>,
    flipped: bool,
) -> Result<Constant, String> {
    let neg = || k.map(|v| -v);
    let (mul, add) = match (name, flipped) {
        ("Add", _) => (None, Some(k.clone())),
        ("Sub", false) | ("SubF", true) => (None, Some(neg())),
        // k - x
        ("Sub", true) | ("SubF", false) => (Some(Tensor::scalar(-1.0)), Some(k.clone())),
        ("Mul", _) => (Some(k.clone()), None),
        ("Div", false) => (Some(k.map(|v| 1.0 / v)), None),
        // of integers, exact (a ShiftRight is a quotient, [`super::integer`])
        ("ShiftLeft", false) => match k.data.iter().find(|v| !(0.0..=30.0).contains(*v)) {
            Some(v) => return Err(format!("ShiftLeft by {v} bits")),
            None => (Some(k.map(|v| libm::ldexp(1.0, *v as i32))), None),
        },
        ("Max" | "Min", _) => {
            let [c] = k.data[..] else {
                return Err(format!(
                    "{name} with a constant of shape {:?} (only a scalar)",
                    k.shape
                ));
            };
            if c.is_nan() {
                return Err(format!("{name} with NaN"));
            }
            return Ok(if name == "Max" {
                Constant::Clip {
                    lo: c,
                    hi: f64::INFINITY,
                }
            } else {
                Constant::Clip {
                    lo: f64::NEG_INFINITY,
                    hi: c,
                }
            });
        }
        _ => return Err(format!("{name} with a constant operand")),
    };
    Ok(Constant::Scale { mul, add })
}

/// The standalone op for a scale that did not fold: `(x · m) + a`.
pub(crate) fn affine(mul: Option<Tensor<f64>>, add: Option<Tensor<f64>>) -> FloatOp {
    FloatOp::Affine {
        mul: mul.unwrap_or(Tensor::scalar(1.0)),
        add: add.unwrap_or(Tensor::scalar(0.0)),
    }
}

/// Folds `x · mul + add` into `node`, which computes `x`; leaves it unchanged and returns false
/// when the algebra does not allow it.
pub(crate) fn fold_scale(
    node: &mut FloatNode,
    mul: Option<&Tensor<f64>>,
    add: Option<&Tensor<f64>>,
) -> bool {
    let saved = node.clone();
    let ok = mul.is_none_or(|m| fold(node, m, false)) && add.is_none_or(|a| fold(node, a, true));
    if !ok {
        *node = saved;
    }
    ok
}

/// `a ⊙ b` broadcast together.
fn combine(a: &Tensor<f64>, b: &Tensor<f64>, f: impl Fn(f64, f64) -> f64) -> Option<Tensor<f64>> {
    let shape = broadcast_shape(&a.shape, &b.shape)?;
    let (ma, mb) = (
        broadcast_map(&a.shape, &shape),
        broadcast_map(&b.shape, &shape),
    );
    let data = (0..numel(&shape))
        .map(|i| f(a.data[ma[i]], b.data[mb[i]]))
        .collect();
    Tensor::new(shape, data)
}

/// The per-channel vector of a constant broadcast over `[N, C, spatial...]`, if it is one.
fn per_channel(k: &Tensor<f64>, out: &[usize]) -> Option<Vec<f64>> {
    if broadcast_shape(&k.shape, out).as_deref() != Some(out) {
        return None;
    }
    let lead = out.len() - k.shape.len();
    let ok = k
        .shape
        .iter()
        .enumerate()
        .all(|(d, s)| *s == 1 || d + lead == 1);
    ok.then(|| {
        let m = broadcast_map(&k.shape, out);
        let per: usize = out[2..].iter().product();
        (0..out[1]).map(|c| k.data[m[c * per]]).collect()
    })
}

/// Folds `y = x ⊙ k` (a constant Mul, or Add when `add`) into the node computing `x`, if the
/// algebra allows; true when folded.
fn fold(node: &mut FloatNode, k: &Tensor<f64>, add: bool) -> bool {
    let scalar = numel(&k.shape) == 1
        && broadcast_shape(&k.shape, &node.shape).as_deref() == Some(&node.shape[..]);
    let out = node.shape.clone();
    match &mut node.op {
        FloatOp::Affine { mul, add: offset } => {
            let m = if add {
                mul.clone()
            } else {
                combine(mul, k, |a, b| a * b).unwrap_or(mul.clone())
            };
            let o = combine(offset, k, |a, b| if add { a + b } else { a * b });
            match o {
                Some(o)
                    if broadcast_shape(&o.shape, &out).as_deref() == Some(&out[..])
                        && broadcast_shape(&m.shape, &out).as_deref() == Some(&out[..]) =>
                {
                    *mul = m;
                    *offset = o;
                    true
                }
                _ => false,
            }
        }
        FloatOp::Conv { weights, bias, .. } => {
            let Some(v) = per_channel(k, &out) else {
                return false;
            };
            let per = numel(&weights.shape[1..]);
            for (c, kv) in v.iter().enumerate() {
                if add {
                    bias[c] += kv;
                } else {
                    bias[c] *= kv;
                    weights.data[c * per..(c + 1) * per]
                        .iter_mut()
                        .for_each(|w| *w *= kv);
                }
            }
            true
        }
        FloatOp::Einsum { bias, .. } if add => {
            let b = match bias {
                Some(b) => combine(b, k, |a, c| a + c),
                None => Some(k.clone()),
            };
            match b {
                Some(b) if broadcast_shape(&b.shape, &out).as_deref() == Some(&out[..]) => {
                    *bias = Some(b);
                    true
                }
                _ => false,
            }
        }
        FloatOp::Einsum { weights, bias, .. } if scalar => {
            weights.data.iter_mut().for_each(|w| *w *= k.data[0]);
            if let Some(b) = bias {
                b.data.iter_mut().for_each(|v| *v *= k.data[0]);
            }
            true
        }
        // a positive factor joins the rescale's ratio (attention's 1/√d after q·kᵀ)
        FloatOp::SumPool {
            factor,
            exclude_pad: false,
            ..
        }
        | FloatOp::ReduceSum { factor, .. }
        | FloatOp::MatMul { factor, .. }
            if scalar && !add && k.data[0] > 0.0 =>
        {
            *factor *= k.data[0];
            true
        }
        _ => false,
    }
}
