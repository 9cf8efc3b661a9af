//! Float graph → integer graph. Per tensor a scale `s = 127 / max|value|` over the calibration
//! set (inputs and every rescaled output); each linear op, product or slope ([`accumulate`]) is
//! followed by a rescale to int8 whose ratio `s_y / s_acc` is written `M0 / 2^n` ([`super::scale`]). Clamps (ReLU, Clip, Max / Min with a constant) that alone
//! read a rescaled tensor become the rescale's clamp, as long as its range keeps 0. Every other
//! op keeps its input's scale; one that joins tensors at different scales (Max, Concat) first
//! rescales them to the coarsest, so no value is clamped. An output that may leave int8 (after
//! Neg or Abs of -128) ends in a clamp to int8. A function of one tensor becomes a table from its
//! input's integers to int8 at its output's calibrated scale (a mean of squares read by a table
//! alone, a norm's variance, is first rescaled to 12 bits, not 8); a softmax gets an exp table over
//! the differences its input can show and gives probabilities at scale 127. Only IEEE-exact f64
//! operations (mul, div, round) and `libm` are used, so every machine derives the same model.

use std::collections::BTreeMap;

use tract_onnx::prelude::OutletId;

use super::accumulate::accumulate;
use super::scale::{rescale_multiplier, scale_for};
use super::translate::{FloatGraph, FloatNode, FloatOp};
use super::ImportError;
use crate::graph::{Graph, Input, Node, Tensor, GRAPH_VERSION};
use crate::ops::clip::{Clip, MAX_CLAMP_ABS};
use crate::ops::topk::TopK;
use crate::ops::{
    affine, max, piecewise, pool, reduce, relu, rescale, select, softmax, table, wiring, Op,
};

/// The bits of a mean of squares read by a table alone: `[0, 2^12)`, a 4096-entry table.
pub(crate) const VARIANCE_BITS: u32 = 12;

/// A quantized tensor: its IR name, scale and shape, and the range its integers stay in.
#[derive(Debug, Clone)]
pub(crate) struct Q {
    pub name: String,
    pub scale: f64,
    pub shape: Vec<usize>,
    pub lo: i64,
    pub hi: i64,
    /// Exact integers at scale 1 (booleans, indices, counts): integer arithmetic on them stays
    /// exact ([`super::integer`]).
    pub integer: bool,
}

/// The integer graph being written, and the tensor each tract outlet became.
#[derive(Default)]
pub(crate) struct Emit {
    nodes: Vec<Node>,
    tensors: BTreeMap<OutletId, Q>,
    /// (tensor, target scale's bits) → its rescaled copy, so a tensor joined twice is
    /// rescaled once
    aligned: BTreeMap<(String, u64), Q>,
}

impl Emit {
    pub(crate) fn push(
        &mut self,
        name: &str,
        op: Op,
        inputs: Vec<String>,
        shape: &[usize],
        scale: f64,
    ) {
        self.nodes.push(Node {
            name: name.to_string(),
            op,
            inputs,
            shape: shape.to_vec(),
            scale,
        });
    }

    /// `x` rescaled to `scale`, clamped to `[min, max]`, as tensor `name`.
    fn rescale(&mut self, name: &str, x: &Q, scale: f64, min: i64, max: i64) -> Q {
        let (m0, shift) = rescale_multiplier(scale / x.scale, min, max);
        let op = Op::Rescale(rescale::Rescale {
            multiplier: m0,
            shift,
            min,
            max,
        });
        self.push(name, op, vec![x.name.clone()], &x.shape, scale);
        Q {
            name: name.to_string(),
            scale,
            shape: x.shape.clone(),
            lo: min,
            hi: max,
            integer: false,
        }
    }

    /// `op` on the tensor `from` (its name and shape), written as `to`; returns the output
    /// shape, which the op derives.
    pub(crate) fn step(
        &mut self,
        to: &str,
        op: Op,
        from: (&str, &[usize]),
        scale: f64,
    ) -> Result<Vec<usize>, String> {
        let shape = op.shape(&[from.1]).map_err(|m| format!("{to}: {m}"))?;
        self.push(to, op, vec![from.0.to_string()], &shape, scale);
        Ok(shape)
    }

    /// `ins` at one scale, the coarsest of them: each finer one rescaled down, never clamped.
    pub(crate) fn align(&mut self, node: &str, ins: &[Q]) -> Vec<Q> {
        let s = ins.iter().map(|q| q.scale).fold(f64::INFINITY, f64::min);
        let mut out = Vec::with_capacity(ins.len());
        for (i, q) in ins.iter().enumerate() {
            if q.scale == s {
                out.push(q.clone());
                continue;
            }
            let key = (q.name.clone(), s.to_bits());
            let q = match self.aligned.get(&key) {
                Some(q) => q.clone(),
                None => {
                    let name = format!("{node}:in{i}");
                    let r = self.rescale(&name, q, s, -128, 127);
                    self.aligned.insert(key, r.clone());
                    r
                }
            };
            out.push(q);
        }
        out
    }
}

pub(crate) fn names(ins: &[Q]) -> Vec<String> {
    ins.iter().map(|q| q.name.clone()).collect()
}

/// `v · s` rounded as a clamp bound; an infinite side becomes the widest bound.
pub(crate) fn bound(v: f64, s: f64) -> i64 {
    let m = MAX_CLAMP_ABS as f64;
    (v * s).round().clamp(-m, m) as i64
}

/// Quantizes `fg`; `range[o]` is `max|value|` of outlet `o` over the calibration set.
pub(crate) fn quantize(
    fg: &FloatGraph,
    name: &str,
    range: &BTreeMap<OutletId, f64>,
) -> Result<Graph, ImportError> {
    let scale_of = |o: &OutletId| scale_for(range.get(o).copied().unwrap_or(0.0));
    let mut readers: BTreeMap<OutletId, usize> = BTreeMap::new();
    for n in &fg.nodes {
        for i in &n.inputs {
            *readers.entry(*i).or_default() += 1;
        }
    }
    for o in &fg.outputs {
        *readers.entry(*o).or_default() += 1;
    }
    // the node that alone reads outlet `o`
    let only_reader = |o: OutletId, after: usize| {
        (readers.get(&o) == Some(&1))
            .then(|| {
                fg.nodes
                    .iter()
                    .enumerate()
                    .skip(after)
                    .find(|(_, r)| r.inputs.contains(&o))
            })
            .flatten()
    };
    let mut e = Emit::default();
    let mut fused = vec![false; fg.nodes.len()];
    let mut inputs = Vec::new();
    for input in &fg.inputs {
        let (n, o, shape) = (&input.name, &input.outlet, &input.shape);
        if input.kind != super::float::InputKind::Real {
            let (q, tokens) = super::integer::input(fg, input)?;
            inputs.push(Input {
                name: n.clone(),
                shape: shape.clone(),
                scale: 1.0,
                min: q.lo,
                max: q.hi,
                tokens,
            });
            e.tensors.insert(*o, q);
            continue;
        }
        let mut q = Q {
            name: n.clone(),
            scale: scale_of(o),
            shape: shape.clone(),
            lo: -128,
            hi: 127,
            integer: false,
        };
        let mut outlet = *o;
        // an input quantized by the file alone is taken on the file's grid
        if let Some((k, r)) = only_reader(*o, 0) {
            if let FloatOp::Quant { step, lo, hi } = r.op {
                let (min, max) = (bound(lo, 1.0 / step), bound(hi, 1.0 / step));
                if -128 <= min && max <= 127 {
                    (q.scale, q.lo, q.hi, fused[k], outlet) =
                        (1.0 / step, min, max, true, r.outlet);
                }
            }
        }
        inputs.push(Input {
            name: n.clone(),
            shape: shape.clone(),
            scale: q.scale,
            min: q.lo,
            max: q.hi,
            tokens: false,
        });
        e.tensors.insert(*o, q.clone());
        e.tensors.insert(outlet, q);
    }
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
        if let Some(q) = super::integer::arithmetic(&mut e, fnode, &ins) {
            e.tensors.insert(fnode.outlet, q);
            continue;
        }
        if fnode.integer && super::integer::divides(&fnode.op) {
            // tract computes it in integers, which a rescale does not repeat
            return Err(bad(
                "a fractional scale of integers (sums, differences, products and quotients \
                 by whole constants of integers are exact)"
                    .into(),
            ));
        }
        if !fnode.op.rescaled() {
            let q = plain(&mut e, fnode, &ins, scale_of(&fnode.outlet)).map_err(bad)?;
            e.tensors.insert(fnode.outlet, q);
            continue;
        }
        // the clamps and requantizations that alone read this node's output, in a chain,
        // become its rescale's clamp; a requantization fixes the scale
        let (mut out, mut lo, mut hi, mut grid, mut chain) =
            (fnode, f64::NEG_INFINITY, f64::INFINITY, None, Vec::new());
        while let Some((k, c)) = only_reader(out.outlet, j + 1) {
            match c.op {
                FloatOp::Clip { lo: a, hi: b } => (lo, hi) = (lo.max(a), hi.min(b)),
                FloatOp::Quant { step, lo: a, hi: b } => {
                    (lo, hi, grid) = (lo.max(a), hi.min(b), Some(1.0 / step))
                }
                _ => break,
            }
            out = c;
            chain.push(k);
        }
        let s_y = grid.unwrap_or_else(|| scale_of(&out.outlet));
        let (min, max) = (bound(lo, s_y).max(-128), bound(hi, s_y).min(127));
        let (out, s_y, min, max) = match grid {
            // the file's range, which may reach past int8 (uint8 less its zero point)
            Some(_) if bound(lo, s_y) <= 0 && 0 <= bound(hi, s_y) => {
                (out, s_y, bound(lo, s_y), bound(hi, s_y))
            }
            None if min <= 0 && 0 <= max => (out, s_y, min, max),
            _ => {
                chain.clear();
                (fnode, scale_of(&fnode.outlet), -128, 127)
            }
        };
        // a mean of squares read by a table alone (a norm's rsqrt, steep near 0) keeps
        // VARIANCE_BITS, so small variances still resolve to distinct table entries
        let variance = matches!(fnode.op, FloatOp::SumSquares { .. })
            && chain.is_empty()
            && only_reader(fnode.outlet, j + 1)
                .is_some_and(|(_, r)| matches!(r.op, FloatOp::Func { .. }));
        let (s_y, min, max) = if variance {
            let top = (1i64 << VARIANCE_BITS) - 1;
            let m = range.get(&fnode.outlet).copied().unwrap_or(0.0);
            (if m > 0.0 { top as f64 / m } else { 1.0 }, 0, top)
        } else {
            (s_y, min, max)
        };
        chain.iter().for_each(|k| fused[*k] = true);
        let s_in: Vec<f64> = ins.iter().map(|q| q.scale).collect();
        let (ops, ratio) = accumulate(&fnode.op, &ins[0].shape, &s_in, s_y).map_err(bad)?;
        let mut from = names(&ins);
        // each op of the chain has the shape it computes (a square, then its sum, differ)
        let mut shapes: Vec<Vec<usize>> = ins.iter().map(|q| q.shape.clone()).collect();
        for (k, (op, s_acc)) in ops.into_iter().enumerate() {
            let acc = match k {
                0 => format!("{}:acc", fnode.name),
                k => format!("{}:acc{k}", fnode.name),
            };
            let refs: Vec<&[usize]> = shapes.iter().map(|s| &s[..]).collect();
            let shape = op.shape(&refs).map_err(bad)?;
            e.push(&acc, op, from, &shape, s_acc);
            (from, shapes) = (vec![acc], vec![shape]);
        }
        let (m0, shift) = rescale_multiplier(ratio, min, max);
        let op = Op::Rescale(rescale::Rescale {
            multiplier: m0,
            shift,
            min,
            max,
        });
        e.push(&out.name, op, from, &fnode.shape, s_y);
        let q = Q {
            name: out.name.clone(),
            scale: s_y,
            shape: fnode.shape.clone(),
            lo: min,
            hi: max,
            integer: false,
        };
        e.tensors.insert(out.outlet, q);
    }
    let mut outputs = Vec::new();
    for o in &fg.outputs {
        let q = e.tensors.get(o).cloned().ok_or_else(|| {
            ImportError::Calibration(format!("output {o:?} is a constant or was not translated"))
        })?;
        outputs.push(to_int8(&mut e, &q));
    }
    Ok(Graph {
        version: GRAPH_VERSION,
        name: name.to_string(),
        inputs,
        nodes: e.nodes,
        outputs,
    })
}

/// The name of `q` within int8, as outputs must be: itself; clamped when it may be off by one
/// (`-(-128)`); otherwise rescaled to fit.
fn to_int8(e: &mut Emit, q: &Q) -> String {
    if -128 <= q.lo && q.hi <= 127 {
        return q.name.clone();
    }
    let name = format!("{}:int8", q.name);
    if e.nodes.iter().any(|n| n.name == name) {
        return name;
    }
    let reach = q.lo.abs().max(q.hi.abs());
    if reach <= 129 {
        let op = Op::Clip(Clip {
            min: -128,
            max: 127,
        });
        e.push(&name, op, vec![q.name.clone()], &q.shape, q.scale);
    } else {
        e.rescale(&name, q, q.scale * 127.0 / reach as f64, -128, 127);
    }
    name
}

/// An op without a rescale: it keeps its input's scale (Sign and ArgMax give plain integers;
/// a requantization that could not fuse is a rescale of its own; a function's table goes from
/// its input's scale to `s_out`, the calibrated one of its output).
fn plain(e: &mut Emit, fnode: &FloatNode, ins: &[Q], s_out: f64) -> Result<Q, String> {
    if fnode.op.boolean() {
        return super::integer::quantize(e, fnode, ins);
    }
    if let FloatOp::At(at) = &fnode.op {
        return super::indexed::quantize(e, fnode, ins, at);
    }
    if let FloatOp::Wrap { bits, signed } = fnode.op {
        return super::cast::wrap(e, fnode, &ins[0], bits, signed);
    }
    let ins = if ins.len() > 1 {
        e.align(&fnode.name, ins)
    } else {
        ins.to_vec()
    };
    let x = &ins[0];
    let mut scale = x.scale;
    let (mut lo, mut hi) = (
        ins.iter().map(|q| q.lo).min().unwrap_or(0),
        ins.iter().map(|q| q.hi).max().unwrap_or(0),
    );
    let op = match &fnode.op {
        FloatOp::MaxPool(w) => Op::MaxPool(pool::MaxPool(w.clone())),
        FloatOp::ReduceMax(a) => Op::ReduceMax(reduce::ReduceMax(a.clone())),
        FloatOp::ReduceMin(a) => Op::ReduceMin(reduce::ReduceMin(a.clone())),
        FloatOp::Extreme { min: false } => Op::Max(max::Max {}),
        FloatOp::Extreme { min: true } => Op::Min(max::Min {}),
        FloatOp::Clip { lo: a, hi: b } if *a == 0.0 && *b == f64::INFINITY => {
            (lo, hi) = (lo.max(0), hi.max(0));
            Op::Relu(relu::Relu {})
        }
        FloatOp::Clip { lo: a, hi: b } => {
            let (min, max) = (bound(*a, scale), bound(*b, scale));
            (lo, hi) = (lo.clamp(min, max), hi.clamp(min, max));
            Op::Clip(Clip { min, max })
        }
        FloatOp::Quant { step, lo: a, hi: b } => {
            let s = 1.0 / step;
            return Ok(e.rescale(&fnode.name, x, s, bound(*a, s), bound(*b, s)));
        }
        FloatOp::Abs => {
            (lo, hi) = (0, lo.abs().max(hi.abs()));
            Op::Piecewise(piecewise::Piecewise {
                pos: Tensor::scalar(1),
                neg: Tensor::scalar(-1),
            })
        }
        FloatOp::Neg => {
            (lo, hi) = (-hi, -lo);
            Op::Affine(affine::Affine {
                mul: Tensor::scalar(-1),
                add: Tensor::scalar(0),
            })
        }
        FloatOp::Sign => {
            (scale, lo, hi) = (1.0, -1, 1);
            Op::Clip(Clip { min: -1, max: 1 })
        }
        FloatOp::ArgMax { axis, min, last } => {
            let n = x.shape[*axis];
            if n > 128 {
                return Err(format!(
                    "an index over {n} values does not fit int8 (at most 128)"
                ));
            }
            (scale, lo, hi) = (1.0, 0, n as i64 - 1);
            Op::ArgMax(reduce::ArgMax {
                axis: *axis,
                keepdims: true,
                min: *min,
                last: *last,
            })
        }
        FloatOp::ConcatConstants { axis, parts } => {
            let parts: Vec<_> = parts
                .iter()
                .map(|p| p.as_ref().map(|t| t.map(|v| bound(*v, scale))))
                .collect();
            for v in parts.iter().flatten().flat_map(|t| &t.data) {
                (lo, hi) = (lo.min(*v), hi.max(*v));
            }
            Op::Concat(wiring::Concat {
                axis: *axis,
                inputs: ins.len(),
                parts,
            })
        }
        FloatOp::PadWith { pad, value } => {
            let value = bound(*value, scale);
            (lo, hi) = (lo.min(value), hi.max(value));
            Op::Pad(wiring::Pad {
                value,
                ..pad.clone()
            })
        }
        FloatOp::TopK(t) => {
            let n = x.shape[t.axis];
            if t.indices && n > 128 {
                return Err(format!(
                    "indices among {n} values do not fit int8 (at most 128)"
                ));
            }
            if t.indices {
                (scale, lo, hi) = (1.0, 0, n as i64 - 1);
            }
            Op::TopK(t.clone())
        }
        FloatOp::Softmax { axes, keep } => {
            (scale, lo, hi) = (softmax::OUT as f64, 0, softmax::OUT);
            Op::Softmax(softmax_of(axes, keep.clone(), x)?)
        }
        FloatOp::Func { name, expr } => {
            let t = super::func::table(name, expr, x, s_out)?;
            (scale, lo, hi) = (
                s_out,
                *t.values.iter().min().unwrap(),
                *t.values.iter().max().unwrap(),
            );
            Op::Table(t)
        }
        FloatOp::Embed { table, axis } => return super::lookup::gather(e, fnode, x, table, *axis),
        FloatOp::Remap { map } => return Ok(super::lookup::remap(e, fnode, &ins, map)),
        FloatOp::Select { cond, fill } => {
            let fill = fill.map(|f| bound(f, scale));
            if let Some(f) = fill {
                (lo, hi) = (lo.min(f), hi.max(f));
            }
            Op::Select(select::Select {
                cond: cond.clone(),
                fill,
            })
        }
        FloatOp::Wire(op) => op.clone(),
        other => unreachable!("{other:?} is rescaled"),
    };
    // ops that only pick, compare or negate values keep integers integers
    let keeps = matches!(
        fnode.op,
        FloatOp::Wire(_)
            | FloatOp::MaxPool(_)
            | FloatOp::ReduceMax(_)
            | FloatOp::ReduceMin(_)
            | FloatOp::Extreme { .. }
            | FloatOp::Neg
            | FloatOp::Abs
            | FloatOp::TopK(TopK { indices: false, .. })
            | FloatOp::ConcatConstants { .. }
    ) || matches!(fnode.op, FloatOp::PadWith { value, .. } if value.fract() == 0.0);
    let integer = matches!(
        fnode.op,
        FloatOp::ArgMax { .. } | FloatOp::TopK(TopK { indices: true, .. })
    ) || keeps && ins.iter().all(|q| q.integer);
    e.push(&fnode.name, op, names(&ins), &fnode.shape, scale);
    Ok(Q {
        name: fnode.name.clone(),
        scale,
        shape: fnode.shape.clone(),
        lo,
        hi,
        integer,
    })
}

/// Softmax over `axes` of `x`, probabilities at scale 127: the exp table over every difference
/// `x_j - max x` can take, `round(2^16 · exp(d / s_x))`.
fn softmax_of(
    axes: &[usize],
    keep: Option<Tensor<i64>>,
    x: &Q,
) -> Result<softmax::Softmax, String> {
    let first = x.lo - x.hi;
    if (1 - first) as usize > table::MAX_TABLE_LEN {
        return Err(format!(
            "softmax over values {} apart; its exp table holds at most {}",
            -first,
            table::MAX_TABLE_LEN
        ));
    }
    let one = (1i64 << softmax::EXP_BITS) as f64;
    Ok(softmax::Softmax {
        axes: axes.to_vec(),
        first,
        exp: (first..=0)
            .map(|d| (libm::exp(d as f64 / x.scale) * one).round() as i64)
            .collect(),
        out: softmax::OUT,
        keep,
    })
}
