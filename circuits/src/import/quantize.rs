//! Float graph → integer graph. Per tensor a scale `s = 127 / max|value|` over the calibration
//! set (inputs and every rescaled output); each linear op, product or slope ([`accumulate`]) is
//! followed by a rescale to int8 whose ratio `s_y / s_acc` is written `M0 / 2^n` with `M0` in
//! `[2^14, 2^15)` where `n` allows. Clamps (ReLU, Clip, Max / Min with a constant) that alone
//! read a rescaled tensor become the rescale's clamp, as long as its range keeps 0. Every other
//! op keeps its input's scale; one that joins tensors at different scales (Max, Concat) first
//! rescales them to the coarsest, so no value is clamped. An output that may leave int8 (after
//! Neg or Abs of -128) ends in a clamp to int8. Only IEEE-exact f64 operations (mul, div, round)
//! are used, so every machine derives the same model.

use std::collections::BTreeMap;

use tract_onnx::prelude::OutletId;

use super::accumulate::accumulate;
use super::translate::{FloatGraph, FloatNode, FloatOp};
use super::ImportError;
use crate::graph::{Graph, Input, Node, Tensor, GRAPH_VERSION};
use crate::ops::clip::{Clip, MAX_CLAMP_ABS};
use crate::ops::rescale::MAX_SHIFT;
use crate::ops::{affine, max, piecewise, pool, reduce, relu, rescale, Op};

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

/// A quantized tensor: its IR name, scale and shape, and whether it may leave int8.
#[derive(Debug, Clone)]
struct Q {
    name: String,
    scale: f64,
    shape: Vec<usize>,
    wide: bool,
}

/// The integer graph being written, and the tensor each tract outlet became.
#[derive(Default)]
struct Emit {
    nodes: Vec<Node>,
    tensors: BTreeMap<OutletId, Q>,
    /// (tensor, target scale's bits) → its rescaled copy, so a tensor joined twice is
    /// rescaled once
    aligned: BTreeMap<(String, u64), String>,
}

impl Emit {
    fn push(&mut self, name: &str, op: Op, inputs: Vec<String>, shape: &[usize], scale: f64) {
        self.nodes.push(Node {
            name: name.to_string(),
            op,
            inputs,
            shape: shape.to_vec(),
            scale,
        });
    }

    /// `ins` at one scale, the coarsest of them: each finer one rescaled down, never clamped.
    fn align(&mut self, node: &str, ins: &[Q]) -> Vec<Q> {
        let s = ins.iter().map(|q| q.scale).fold(f64::INFINITY, f64::min);
        let mut out = Vec::with_capacity(ins.len());
        for (i, q) in ins.iter().enumerate() {
            if q.scale == s {
                out.push(q.clone());
                continue;
            }
            let key = (q.name.clone(), s.to_bits());
            let name = match self.aligned.get(&key) {
                Some(name) => name.clone(),
                None => {
                    let name = format!("{node}:in{i}");
                    let (m0, shift) = multiplier(s / q.scale);
                    let op = Op::Rescale(rescale::Rescale {
                        multiplier: m0,
                        shift,
                        min: -128,
                        max: 127,
                    });
                    self.push(&name, op, vec![q.name.clone()], &q.shape, s);
                    self.aligned.insert(key, name.clone());
                    name
                }
            };
            out.push(Q {
                name,
                scale: s,
                shape: q.shape.clone(),
                wide: false,
            });
        }
        out
    }
}

fn names(ins: &[Q]) -> Vec<String> {
    ins.iter().map(|q| q.name.clone()).collect()
}

/// `v · s` rounded as a clamp bound; an infinite side becomes the widest bound.
fn bound(v: f64, s: f64) -> i64 {
    let m = MAX_CLAMP_ABS as f64;
    (v * s).round().clamp(-m, m) as i64
}

fn scalar(v: i64) -> Tensor<i64> {
    Tensor {
        shape: vec![],
        data: vec![v],
    }
}

/// Quantizes `fg`; `range[o]` is `max|value|` of outlet `o` over the calibration set.
pub(crate) fn quantize(
    fg: &FloatGraph,
    name: &str,
    range: &BTreeMap<OutletId, f64>,
) -> Result<Graph, ImportError> {
    let scale_of = |o: &OutletId| scale_for(range.get(o).copied().unwrap_or(0.0));
    let mut e = Emit::default();
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
        let q = Q {
            name: n.clone(),
            scale: s,
            shape: shape.clone(),
            wide: false,
        };
        e.tensors.insert(*o, q);
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
        let ins: Vec<Q> = fnode
            .inputs
            .iter()
            .map(|o| {
                e.tensors
                    .get(o)
                    .cloned()
                    .ok_or_else(|| bad("reads a tensor that was not translated".into()))
            })
            .collect::<Result<_, _>>()?;
        if fnode.op.rescaled() {
            // the clamps that alone read this node's output, in a chain, become its clamp
            let (mut out, mut lo, mut hi, mut chain) =
                (fnode, f64::NEG_INFINITY, f64::INFINITY, Vec::new());
            while readers.get(&out.outlet) == Some(&1) {
                let next = fg
                    .nodes
                    .iter()
                    .enumerate()
                    .skip(j + 1)
                    .find(|(_, r)| r.inputs.contains(&out.outlet));
                let Some((
                    k,
                    c @ FloatNode {
                        op: FloatOp::Clip { lo: a, hi: b },
                        ..
                    },
                )) = next
                else {
                    break;
                };
                (lo, hi, out) = (lo.max(*a), hi.min(*b), c);
                chain.push(k);
            }
            let s_y = scale_of(&out.outlet);
            let (min, max) = (bound(lo, s_y).max(-128), bound(hi, s_y).min(127));
            let (out, min, max) = if min <= 0 && 0 <= max {
                chain.iter().for_each(|k| fused[*k] = true);
                (out, min, max)
            } else {
                (fnode, -128, 127)
            };
            let s_y = scale_of(&out.outlet);
            let s_in: Vec<f64> = ins.iter().map(|q| q.scale).collect();
            let (chain, ratio) = accumulate(&fnode.op, &ins[0].shape, &s_in, s_y).map_err(bad)?;
            let mut acc = String::new();
            let mut from = names(&ins);
            for (k, (op, s_acc)) in chain.into_iter().enumerate() {
                acc = match k {
                    0 => format!("{}:acc", fnode.name),
                    k => format!("{}:acc{k}", fnode.name),
                };
                e.push(&acc, op, from, &fnode.shape, s_acc);
                from = vec![acc.clone()];
            }
            let (m0, shift) = multiplier(ratio);
            let op = Op::Rescale(rescale::Rescale {
                multiplier: m0,
                shift,
                min,
                max,
            });
            e.push(&out.name, op, vec![acc], &fnode.shape, s_y);
            let q = Q {
                name: out.name.clone(),
                scale: s_y,
                shape: fnode.shape.clone(),
                wide: false,
            };
            e.tensors.insert(out.outlet, q);
        } else {
            let q = plain(&mut e, fnode, &ins).map_err(bad)?;
            e.tensors.insert(fnode.outlet, q);
        }
    }
    let mut outputs = Vec::new();
    for o in &fg.outputs {
        let q = e.tensors.get(o).cloned().ok_or_else(|| {
            ImportError::Calibration(format!("output {o:?} is a constant or was not translated"))
        })?;
        if !q.wide {
            outputs.push(q.name);
            continue;
        }
        let clamped = format!("{}:int8", q.name);
        if !e.nodes.iter().any(|n| n.name == clamped) {
            let op = Op::Clip(Clip {
                min: -128,
                max: 127,
            });
            e.push(&clamped, op, vec![q.name], &q.shape, q.scale);
        }
        outputs.push(clamped);
    }
    Ok(Graph {
        version: GRAPH_VERSION,
        name: name.to_string(),
        inputs,
        nodes: e.nodes,
        outputs,
    })
}

/// An op without a rescale: it keeps its input's scale (Sign and ArgMax give plain integers).
fn plain(e: &mut Emit, fnode: &FloatNode, ins: &[Q]) -> Result<Q, String> {
    let ins = if ins.len() > 1 {
        e.align(&fnode.name, ins)
    } else {
        ins.to_vec()
    };
    let x = &ins[0];
    let (mut scale, mut wide) = (x.scale, ins.iter().any(|q| q.wide));
    let op = match &fnode.op {
        FloatOp::MaxPool(w) => Op::MaxPool(pool::MaxPool(w.clone())),
        FloatOp::ReduceMax(a) => Op::ReduceMax(reduce::ReduceMax(a.clone())),
        FloatOp::ReduceMin(a) => Op::ReduceMin(reduce::ReduceMin(a.clone())),
        FloatOp::Extreme { min: false } => Op::Max(max::Max {}),
        FloatOp::Extreme { min: true } => Op::Min(max::Min {}),
        FloatOp::Clip { lo, hi } if *lo == 0.0 && *hi == f64::INFINITY => Op::Relu(relu::Relu {}),
        FloatOp::Clip { lo, hi } => {
            let (min, max) = (bound(*lo, scale), bound(*hi, scale));
            wide &= min < -128 || max > 127;
            Op::Clip(Clip { min, max })
        }
        FloatOp::Abs => {
            wide = true;
            Op::Piecewise(piecewise::Piecewise {
                pos: scalar(1),
                neg: scalar(-1),
            })
        }
        FloatOp::Neg => {
            wide = true;
            Op::Affine(affine::Affine {
                mul: scalar(-1),
                add: scalar(0),
            })
        }
        FloatOp::Sign => {
            (scale, wide) = (1.0, false);
            Op::Clip(Clip { min: -1, max: 1 })
        }
        FloatOp::ArgMax { axis, min, last } => {
            let n = x.shape[*axis];
            if n > 128 {
                return Err(format!(
                    "an index over {n} values does not fit int8 (at most 128)"
                ));
            }
            (scale, wide) = (1.0, false);
            Op::ArgMax(reduce::ArgMax {
                axis: *axis,
                keepdims: true,
                min: *min,
                last: *last,
            })
        }
        FloatOp::Wire(op) => op.clone(),
        other => unreachable!("{other:?} is rescaled"),
    };
    e.push(&fnode.name, op, names(&ins), &fnode.shape, scale);
    Ok(Q {
        name: fnode.name.clone(),
        scale,
        shape: fnode.shape.clone(),
        wide,
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
