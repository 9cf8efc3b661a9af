//! The integer form of each op that ends in a rescale: its constants quantized (weights and slopes
//! per tensor to int8 at `s_w = 127 / max|w|`, biases at the accumulator's scale `s_x · s_w`), the
//! accumulator's scale, and the ratio `s_y / s_acc` the rescale after it applies. An op without
//! a rescale keeps its input's scale and is handled in [`super::quantize`].

use super::scale::{multiplier, scale_for};
use super::translate::FloatOp;
use crate::graph::Tensor;
use crate::ops::{
    add, affine, conv, conv_transpose, einsum, linear_map, matmul, mul, piecewise, pool, reduce, Op,
};

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

fn ints(t: &Tensor<f64>, s: f64) -> Tensor<i64> {
    t.map(|v| (v * s).round() as i64)
}

fn bias_ints(b: &[f64], s: f64) -> Vec<i64> {
    b.iter().map(|v| (v * s).round() as i64).collect()
}

/// `2^DIVISOR_BITS / count` is the integer multiplier of an average over `count` taps.
const DIVISOR_BITS: u32 = 12;

/// `op` over inputs of shapes `x` at scales `s_in`, rescaled to `s_y`: the integer ops in a
/// chain, each with its output's scale, and the rescale's ratio.
pub(crate) fn accumulate(
    op: &FloatOp,
    x: &[usize],
    s_in: &[f64],
    s_y: f64,
) -> Result<(Vec<(Op, f64)>, f64), String> {
    let s_x = s_in[0];
    if let FloatOp::SumPool {
        window,
        exclude_pad: true,
        ..
    } = op
    {
        // the sum, then each output times 2^12 / (its taps inside the input)
        let counts = window.taps_inside(&x[2..])?;
        let mut shape = vec![1, 1];
        shape.extend(window.spatial(&x[2..])?);
        let div = (1u64 << DIVISOR_BITS) as f64;
        let mul = Tensor {
            shape,
            data: counts
                .iter()
                .map(|c| (div / *c as f64).round() as i64)
                .collect(),
        };
        let scaled = Op::Affine(affine::Affine {
            mul,
            add: Tensor::scalar(0),
        });
        let sum = Op::SumPool(pool::SumPool(window.clone()));
        return Ok((vec![(sum, s_x), (scaled, s_x * div)], s_y / (s_x * div)));
    }
    if let FloatOp::SumSquares { axes, factor } = op {
        // the square a product of the input with itself, then its sum
        let sum = Op::ReduceSum(reduce::ReduceSum(axes.clone()));
        let s_acc = s_x * s_in[1];
        let square = Op::Mul(mul::Mul {});
        return Ok((vec![(square, s_acc), (sum, s_acc)], factor * s_y / s_acc));
    }
    let (op, s_acc, ratio) = single(op, s_in, s_y)?;
    Ok((vec![(op, s_acc)], ratio))
}

fn single(op: &FloatOp, s_in: &[f64], s_y: f64) -> Result<(Op, f64, f64), String> {
    let s_x = s_in[0];
    let at = |s_acc: f64| s_y / s_acc;
    Ok(match op {
        FloatOp::Einsum {
            axes,
            weights,
            bias,
        } => {
            let s_w = scale_for(max_abs(&weights.data));
            let op = Op::Einsum(einsum::Einsum {
                input_axes: axes[0].clone(),
                weight_axes: axes[1].clone(),
                output_axes: axes[2].clone(),
                weights: ints(weights, s_w),
                bias: bias.as_ref().map(|b| ints(b, s_x * s_w)),
            });
            (op, s_x * s_w, at(s_x * s_w))
        }
        FloatOp::Conv {
            weights,
            bias,
            strides,
            dilations,
            pads,
            groups,
        } => {
            let s_w = scale_for(max_abs(&weights.data));
            let op = Op::Conv(conv::Conv {
                weights: ints(weights, s_w),
                bias: Some(bias_ints(bias, s_x * s_w)),
                strides: strides.clone(),
                dilations: dilations.clone(),
                pads: pads.clone(),
                groups: *groups,
            });
            (op, s_x * s_w, at(s_x * s_w))
        }
        FloatOp::ConvTranspose {
            weights,
            bias,
            strides,
            dilations,
            pads,
            output_padding,
            groups,
        } => {
            let s_w = scale_for(max_abs(&weights.data));
            let op = Op::ConvTranspose(conv_transpose::ConvTranspose {
                weights: ints(weights, s_w),
                bias: Some(bias_ints(bias, s_x * s_w)),
                strides: strides.clone(),
                dilations: dilations.clone(),
                pads: pads.clone(),
                output_padding: output_padding.clone(),
                groups: *groups,
            });
            (op, s_x * s_w, at(s_x * s_w))
        }
        FloatOp::Affine { mul, add } => {
            let s_m = scale_for(max_abs(&mul.data));
            let op = Op::Affine(affine::Affine {
                mul: ints(mul, s_m),
                add: ints(add, s_x * s_m),
            });
            (op, s_x * s_m, at(s_x * s_m))
        }
        FloatOp::LinearMap { shape, rows, bias } => {
            let s_w = scale_for(rows.iter().flatten().fold(0.0, |m, (_, w)| m.max(w.abs())));
            let terms = rows
                .iter()
                .map(|row| {
                    let q = row.iter().map(|(i, w)| (*i, (w * s_w).round() as i64));
                    q.filter(|(_, w)| *w != 0).collect()
                })
                .collect();
            let op = Op::LinearMap(linear_map::LinearMap {
                shape: shape.clone(),
                terms,
                bias: bias_ints(bias, s_x * s_w),
            });
            (op, s_x * s_w, at(s_x * s_w))
        }
        FloatOp::Piecewise { pos, neg } => {
            let s_m = scale_for(max_abs(&pos.data).max(max_abs(&neg.data)));
            let op = Op::Piecewise(piecewise::Piecewise {
                pos: ints(pos, s_m),
                neg: ints(neg, s_m),
            });
            (op, s_x * s_m, at(s_x * s_m))
        }
        FloatOp::SumPool { factor, .. } | FloatOp::ReduceSum { factor, .. } if *factor <= 0.0 => {
            return Err(format!("scales a sum by {factor} (only positive factors)"));
        }
        FloatOp::SumPool { window, factor, .. } => (
            Op::SumPool(pool::SumPool(window.clone())),
            s_x,
            factor * at(s_x),
        ),
        FloatOp::ReduceSum { axes, factor } => (
            Op::ReduceSum(reduce::ReduceSum(axes.clone())),
            s_x,
            factor * at(s_x),
        ),
        FloatOp::Add { sub } => {
            // both operands brought to a common power-of-two multiple of s_y
            let (ra, rb) = (s_y / s_in[0], s_y / s_in[1]);
            let (_, n) = multiplier(ra.max(rb));
            let k = |r: f64| (r * (1u64 << n) as f64).round() as i64;
            let kb = if *sub { -k(rb) } else { k(rb) };
            let op = Op::Add(add::Add {
                coeffs: [k(ra), kb],
            });
            (op, (1u64 << n) as f64 * s_y, 1.0 / (1u64 << n) as f64)
        }
        FloatOp::Mul => (Op::Mul(mul::Mul {}), s_x * s_in[1], at(s_x * s_in[1])),
        FloatOp::MatMul {
            axes: [a, b, o],
            factor,
        } => (
            Op::MatMul(matmul::MatMul {
                a_axes: a.clone(),
                b_axes: b.clone(),
                output_axes: o.clone(),
            }),
            s_x * s_in[1],
            factor * at(s_x * s_in[1]),
        ),
        other => unreachable!("{other:?} has no rescale"),
    })
}
