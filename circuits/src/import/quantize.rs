//! Float graph → integer graph. Per tensor a scale `s = 127 / max|value|` over the calibration
//! set (inputs and every rescaled output); weights per tensor `round(w · s_w)` in int8, biases at
//! the accumulator's scale `s_x · s_w`; each linear op is followed by a rescale to int8 whose
//! ratio `s_y / s_acc` is written `M0 / 2^n` with `M0` in `[2^14, 2^15)` where `n` allows. A ReLU
//! that is the only reader of a rescaled tensor becomes the rescale's clamp at 0. Only IEEE-exact
//! f64 operations (mul, div, round) are used, so every machine derives the same model.

use std::collections::BTreeMap;

use tract_onnx::prelude::OutletId;

use super::translate::{FloatGraph, FloatOp};
use super::ImportError;
use crate::graph::{Graph, Input, Node, Tensor, GRAPH_VERSION};
use crate::ops::rescale::MAX_SHIFT;
use crate::ops::{add, affine, conv, einsum, pool, reduce, relu, rescale, Op};

/// `127 / max|v|`, or 1 for a tensor that is always 0.
pub(crate) fn scale_for(max_abs: f64) -> f64 {
    if max_abs > 0.0 {
        127.0 / max_abs
    } else {
        1.0
    }
}

/// `m ≈ M0 / 2^n` with `M0 ∈ [2^14, 2^15)` where `n` allows.
pub(crate) fn multiplier(m: f64) -> (i64, u32) {
    let mut n = 0u32;
    let mut v = m;
    while v < 16384.0 && n < MAX_SHIFT {
        v *= 2.0;
        n += 1;
    }
    (v.round().max(1.0) as i64, n)
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

fn ints(t: &Tensor<f64>, s: f64) -> Tensor<i64> {
    t.map(|v| (v * s).round() as i64)
}

/// Quantizes `fg`; `range[o]` is `max|value|` of outlet `o` over the calibration set.
pub(crate) fn quantize(
    fg: &FloatGraph,
    name: &str,
    range: &BTreeMap<OutletId, f64>,
) -> Result<Graph, ImportError> {
    let scale_of = |o: &OutletId| scale_for(range.get(o).copied().unwrap_or(0.0));
    // outlet → (IR tensor name, scale)
    let mut tensors: BTreeMap<OutletId, (String, f64)> = BTreeMap::new();
    let mut inputs = Vec::new();
    for (n, o, shape) in &fg.inputs {
        let s = scale_of(o);
        inputs.push(Input {
            name: n.clone(),
            shape: shape.clone(),
            scale: s,
            min: -128,
            max: 127,
        });
        tensors.insert(*o, (n.clone(), s));
    }
    let mut readers: BTreeMap<OutletId, usize> = BTreeMap::new();
    for n in &fg.nodes {
        for i in &n.inputs {
            *readers.entry(*i).or_default() += 1;
        }
    }
    for o in &fg.outputs {
        *readers.entry(*o).or_default() += 1;
    }
    let mut nodes: Vec<Node> = Vec::new();
    let mut fused = vec![false; fg.nodes.len()];
    for (j, fnode) in fg.nodes.iter().enumerate() {
        if fused[j] {
            continue;
        }
        let bad = |msg: String| ImportError::Node {
            node: fnode.name.clone(),
            op: String::new(),
            msg,
        };
        let ins: Vec<(String, f64)> = fnode
            .inputs
            .iter()
            .map(|o| {
                tensors
                    .get(o)
                    .cloned()
                    .ok_or_else(|| bad("reads a tensor that was not translated".into()))
            })
            .collect::<Result<_, _>>()?;
        let in_names: Vec<String> = ins.iter().map(|(n, _)| n.clone()).collect();
        let s_x = ins[0].1;
        let rescaled =
            fnode.op.is_linear() || matches!(fnode.op, FloatOp::Add { .. } | FloatOp::Mul);
        if !rescaled {
            let op = match &fnode.op {
                FloatOp::MaxPool(w) => Op::MaxPool(pool::MaxPool(w.clone())),
                FloatOp::ReduceMax(a) => Op::ReduceMax(reduce::ReduceMax(a.clone())),
                FloatOp::Relu => Op::Relu(relu::Relu {}),
                FloatOp::Wire(op) => op.clone(),
                _ => unreachable!("rescaled ops are handled below"),
            };
            if let Some((n, s)) = ins.iter().find(|(_, s)| *s != s_x) {
                return Err(bad(format!(
                    "joins tensors at different scales (`{n}` at {s}, `{}` at {s_x})",
                    ins[0].0
                )));
            }
            nodes.push(Node {
                name: fnode.name.clone(),
                op,
                inputs: in_names,
                shape: fnode.shape.clone(),
                scale: s_x,
            });
            tensors.insert(fnode.outlet, (fnode.name.clone(), s_x));
            continue;
        }
        // A ReLU that alone reads this node's output becomes the clamp of its rescale.
        let relu = fg
            .nodes
            .iter()
            .enumerate()
            .skip(j + 1)
            .find(|(_, r)| matches!(r.op, FloatOp::Relu) && r.inputs == [fnode.outlet]);
        let (out_outlet, out_name, floor) = match relu {
            Some((k, r)) if readers.get(&fnode.outlet) == Some(&1) => {
                fused[k] = true;
                (r.outlet, r.name.clone(), 0)
            }
            _ => (fnode.outlet, fnode.name.clone(), -128),
        };
        let s_y = scale_of(&out_outlet);
        let acc_name = format!("{}:acc", fnode.name);
        let (op, s_acc, ratio) = match &fnode.op {
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
                (op, s_x * s_w, s_y / (s_x * s_w))
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
                    bias: Some(
                        bias.iter()
                            .map(|b| (b * s_x * s_w).round() as i64)
                            .collect(),
                    ),
                    strides: strides.clone(),
                    dilations: dilations.clone(),
                    pads: pads.clone(),
                    groups: *groups,
                });
                (op, s_x * s_w, s_y / (s_x * s_w))
            }
            FloatOp::Affine { mul, add } => {
                let s_m = scale_for(max_abs(&mul.data));
                let op = Op::Affine(affine::Affine {
                    mul: ints(mul, s_m),
                    add: ints(add, s_x * s_m),
                });
                (op, s_x * s_m, s_y / (s_x * s_m))
            }
            FloatOp::SumPool { factor, .. } | FloatOp::ReduceSum { factor, .. }
                if *factor <= 0.0 =>
            {
                return Err(bad(format!(
                    "scales a sum by {factor} (only positive factors)"
                )));
            }
            FloatOp::SumPool { window, factor } => (
                Op::SumPool(pool::SumPool(window.clone())),
                s_x,
                factor * s_y / s_x,
            ),
            FloatOp::ReduceSum { axes, factor } => (
                Op::ReduceSum(reduce::ReduceSum(axes.clone())),
                s_x,
                factor * s_y / s_x,
            ),
            FloatOp::Add { sub } => {
                let (ra, rb) = (s_y / ins[0].1, s_y / ins[1].1);
                let (_, n) = multiplier(ra.max(rb));
                let k = |r: f64| (r * (1u64 << n) as f64).round() as i64;
                let kb = if *sub { -k(rb) } else { k(rb) };
                let op = Op::Add(add::Add {
                    coeffs: [k(ra), kb],
                });
                (op, (1u64 << n) as f64 * s_y, 1.0 / (1u64 << n) as f64)
            }
            FloatOp::Mul => (
                Op::Mul(crate::ops::mul::Mul {}),
                s_x * ins[1].1,
                s_y / (s_x * ins[1].1),
            ),
            _ => unreachable!("only rescaled ops reach here"),
        };
        let (m0, shift) = multiplier(ratio);
        nodes.push(Node {
            name: acc_name.clone(),
            op,
            inputs: in_names,
            shape: fnode.shape.clone(),
            scale: s_acc,
        });
        nodes.push(Node {
            name: out_name.clone(),
            op: Op::Rescale(rescale::Rescale {
                multiplier: m0,
                shift,
                min: floor,
                max: 127,
            }),
            inputs: vec![acc_name],
            shape: fnode.shape.clone(),
            scale: s_y,
        });
        tensors.insert(out_outlet, (out_name, s_y));
    }
    let outputs = fg
        .outputs
        .iter()
        .map(|o| {
            tensors.get(o).map(|t| t.0.clone()).ok_or_else(|| {
                ImportError::Calibration(format!(
                    "output {o:?} is a constant or was not translated"
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Graph {
        version: GRAPH_VERSION,
        name: name.to_string(),
        inputs,
        nodes,
        outputs,
    })
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
    }
}
