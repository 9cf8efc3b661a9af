//! tract's typed, decluttered model → float graph nodes. tract has already typed every tensor
//! with the concrete input shapes and folded constants and shape arithmetic (Shape, Gather and
//! Concat on shape vectors, ConstantOfShape, Cast, Identity, Dropout), so what remains are real
//! ops on tensors. Each is translated here into an IR op with float constants ([`FloatOp`]), the
//! linear family (einsums, convolutions, pools) in [`linear`]. Constant Mul / Add / Sub / Div are
//! folded into the linear op before them where the algebra allows (Gemm's alpha and beta, a bias
//! Add after MatMul, BatchNorm after Conv), so they cost no rescale. Chains of element-wise functions of one tensor (Sigmoid, an expanded Elu) become
//! one function ([`func`]); a mask before a softmax is folded into it ([`mask`]). An op without a translation is an error naming the ONNX node and op.

use std::collections::{BTreeMap, BTreeSet};

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::{
    array::{Gather as TGather, GatherElements as TGatherElements, Topk, Trilu as TTrilu},
    binary::TypedBinOp,
    element_wise::ElementWiseOp,
    konst::Const,
    logic::Iff,
    nn::{Reduce, Reducer, Softmax as TSoftmax, SoftmaxKind},
    source::TypedSource,
};

use super::float::InputKind;
use super::fold::{self, Constant};
use super::func::{self, Expr};
use super::integer::{self, Logic, Translated};
use super::{compare, indexed, linear, mask, probe, qdq, wiring};
use crate::graph::tensor::Tensor;
use crate::ops::{compare::Cmp, pool::Window, reduce::Axes, wiring as wire, Op};

/// A translated op whose constants are still floats.
#[derive(Debug, Clone)]
pub(crate) enum FloatOp {
    /// `einsum(x, w) + bias`.
    Einsum {
        axes: [String; 3],
        weights: Tensor<f64>,
        bias: Option<Tensor<f64>>,
    },
    /// Convolution; the kernel in OIHW.
    Conv {
        weights: Tensor<f64>,
        bias: Vec<f64>,
        strides: Vec<usize>,
        dilations: Vec<usize>,
        pads: Vec<usize>,
        groups: usize,
    },
    /// `x · mul + add`.
    Affine { mul: Tensor<f64>, add: Tensor<f64> },
    /// Window sums times `factor` (1 / window for an average); with `exclude_pad`, divided
    /// instead by the taps inside the input (AveragePool with `count_include_pad = 0`).
    SumPool {
        window: Window,
        factor: f64,
        exclude_pad: bool,
    },
    /// Sums over axes times `factor`.
    ReduceSum { axes: Axes, factor: f64 },
    /// Sums of squares over axes times `factor` (the input twice: its square is a product).
    SumSquares { axes: Axes, factor: f64 },
    /// `a + b`, or `a - b`.
    Add { sub: bool },
    /// `a · b`.
    Mul,
    /// `factor · einsum(a, b)` of two computed tensors (`factor > 0`, a folded score scale),
    /// labels as the IR's matmul.
    MatMul { axes: [String; 3], factor: f64 },
    /// Window maxima.
    MaxPool(Window),
    /// Maxima over axes.
    ReduceMax(Axes),
    /// Minima over axes.
    ReduceMin(Axes),
    /// Transposed convolution; the kernel in ONNX's `[C, M/groups, k..]`.
    ConvTranspose {
        weights: Tensor<f64>,
        bias: Vec<f64>,
        strides: Vec<usize>,
        dilations: Vec<usize>,
        pads: Vec<usize>,
        output_padding: Vec<usize>,
        groups: usize,
    },
    /// `clamp(x, lo, hi)`, an infinite side unbounded (Relu, Clip, Max / Min with a constant).
    Clip { lo: f64, hi: f64 },
    /// A QuantizeLinear → DequantizeLinear pair: `x` on the grid `step`, clamped to
    /// `[lo, hi]` (the quantized type's range less the zero point, times `step`).
    Quant { step: f64, lo: f64, hi: f64 },
    /// `pos · x` for `x ≥ 0`, `neg · x` below, both broadcast (LeakyRelu, PRelu).
    Piecewise { pos: Tensor<f64>, neg: Tensor<f64> },
    /// `|x|`.
    Abs,
    /// `-x`.
    Neg,
    /// `sign(x)`, a tensor of -1, 0, 1 at scale 1.
    Sign,
    /// `max(a, b)`, or `min(a, b)`, of two tensors.
    Extreme { min: bool },
    /// The index of the maximum (minimum) along `axis`, the first or the `last` of ties, at
    /// scale 1.
    ArgMax { axis: usize, min: bool, last: bool },
    /// Softmax over axes; `keep` a constant mask (1: the element takes part) folded into it.
    Softmax {
        axes: Vec<usize>,
        keep: Option<Tensor<i64>>,
    },
    /// An element-wise function of one tensor, made a table ([`func`]).
    Func { name: String, expr: Expr },
    /// `where(cond, a, b)` with a constant 0/1 condition; `fill` a constant in place of `b`.
    Select {
        cond: Tensor<i64>,
        fill: Option<f64>,
    },
    /// Entries along `axis` of a constant table picked by integer indices (Gather of an
    /// embedding by token ids, of a leaf's value by a tree's computed index).
    Embed { table: Tensor<f64>, axis: usize },
    /// `[x ⋈ y]` of two tensors, or of a tensor and the constant `k`, as 0/1 ([`integer`]).
    Compare { cmp: Cmp, k: Option<Tensor<f64>> },
    /// Not, And, Or of 0/1 tensors.
    Logic(Logic),
    /// `on` where the index equals the position along the new `axis` (of `dim`), `off` elsewhere.
    OneHot {
        axis: usize,
        dim: usize,
        off: f64,
        on: f64,
    },
    /// `where(cond, a, b)` with a computed 0/1 condition; a constant branch in place of its input.
    Choose {
        then: Option<Tensor<f64>>,
        otherwise: Option<Tensor<f64>>,
    },
    /// Output element `o` is element `map[o]` of the inputs' elements one after another: an op
    /// found by running it to only move values ([`super::probe`]).
    Remap { map: Vec<usize> },
    /// A read or write at computed indices ([`super::indexed`]).
    At(indexed::At),
    /// A shape op, already in the IR's terms.
    Wire(Op),
    /// `x / divisor` of integers, rounded toward 0 or down ([`crate::ops::quotient`]).
    Quotient { divisor: Tensor<i64>, floor: bool },
    /// A Cast of integers to a type of `bits` (`signed` or not) that may not hold them all: the
    /// value modulo `2^bits` in the type's range ([`super::cast`]).
    Wrap { bits: u32, signed: bool },
    /// Concat with constant blocks: per part in order, `None` for the next input.
    ConcatConstants {
        axis: usize,
        parts: Vec<Option<Tensor<f64>>>,
    },
    /// Pad with a constant other than 0, quantized at the input's scale.
    PadWith {
        pad: crate::ops::wiring::Pad,
        value: f64,
    },
    /// One output of TopK: the values, or the indices.
    TopK(crate::ops::topk::TopK),
    /// A constant linear map found by probing: per output of `shape`, terms and a bias.
    LinearMap {
        shape: Vec<usize>,
        rows: Vec<Vec<(usize, f64)>>,
        bias: Vec<f64>,
    },
}

impl FloatOp {
    /// Ops on or into 0/1 tensors, quantized by [`integer`].
    pub fn boolean(&self) -> bool {
        matches!(
            self,
            FloatOp::Compare { .. }
                | FloatOp::Logic(_)
                | FloatOp::OneHot { .. }
                | FloatOp::Choose { .. }
        )
    }

    /// Linear ops, products and piecewise slopes end in a rescale back to int8.
    pub fn rescaled(&self) -> bool {
        matches!(
            self,
            FloatOp::Add { .. }
                | FloatOp::Mul
                | FloatOp::MatMul { .. }
                | FloatOp::Einsum { .. }
                | FloatOp::Conv { .. }
                | FloatOp::ConvTranspose { .. }
                | FloatOp::Piecewise { .. }
                | FloatOp::Affine { .. }
                | FloatOp::SumPool { .. }
                | FloatOp::ReduceSum { .. }
                | FloatOp::SumSquares { .. }
                | FloatOp::LinearMap { .. }
        )
    }
}

/// A translated node: its op, the tract outlets it reads and the outlet it stands for.
#[derive(Debug, Clone)]
pub(crate) struct FloatNode {
    pub name: String,
    pub op: FloatOp,
    pub inputs: Vec<OutletId>,
    pub outlet: OutletId,
    pub shape: Vec<usize>,
    /// Whether tract types the output as integers (an index, a count), kept exact at scale 1.
    pub integer: bool,
}

/// A graph input: its name, outlet and shape, and what it holds (reals, integers, booleans).
#[derive(Debug, Clone)]
pub(crate) struct FloatInput {
    pub name: String,
    pub outlet: OutletId,
    pub shape: Vec<usize>,
    pub kind: InputKind,
}

/// The translated graph: sources, nodes in evaluation order, outputs.
#[derive(Debug, Clone)]
pub(crate) struct FloatGraph {
    pub inputs: Vec<FloatInput>,
    pub nodes: Vec<FloatNode>,
    pub outputs: Vec<OutletId>,
    /// Outlets where tract's run holds the file's integers, with their `(step, zero point)`.
    pub grid: BTreeMap<OutletId, (f64, i32)>,
}

/// A translation failure at one node: `(node, op, message)`.
pub(crate) type NodeError = (String, String, String);

pub(crate) fn const_of(model: &TypedModel, o: OutletId) -> Option<Tensor<f64>> {
    let k = model.outlet_fact(o).ok()?.konst.clone()?;
    let t = k.cast_to::<f64>().ok()?;
    let view = t.to_plain_array_view::<f64>().ok()?;
    Tensor::new(t.shape().to_vec(), view.iter().copied().collect())
}

/// Appends the node computing outlet `out`.
fn push(
    g: &mut FloatGraph,
    at: &mut BTreeMap<OutletId, usize>,
    model: &TypedModel,
    name: &str,
    op: FloatOp,
    inputs: Vec<OutletId>,
    out: OutletId,
) -> Result<(), String> {
    let integer = model
        .outlet_fact(out)
        .is_ok_and(|f| f.datum_type.is_integer());
    g.nodes.push(FloatNode {
        name: name.to_string(),
        op,
        inputs,
        outlet: out,
        shape: shape_of(model, out)?,
        integer,
    });
    at.insert(out, g.nodes.len() - 1);
    Ok(())
}

pub(crate) fn shape_of(model: &TypedModel, o: OutletId) -> Result<Vec<usize>, String> {
    let f = model.outlet_fact(o).map_err(|e| e.to_string())?;
    f.shape
        .as_concrete()
        .map(|s| s.to_vec())
        .ok_or_else(|| format!("shape {:?} is not concrete", f.shape))
}

/// Translates every node of `model` (typed, decluttered, concrete shapes).
pub(crate) fn translate(model: &TypedModel, names: &[String]) -> Result<FloatGraph, NodeError> {
    let mut g = FloatGraph {
        inputs: Vec::new(),
        nodes: Vec::new(),
        outputs: Vec::new(),
        grid: BTreeMap::new(),
    };
    // outlet → index of the node that stands for it
    let mut at: BTreeMap<OutletId, usize> = BTreeMap::new();
    let order = model
        .eval_order()
        .map_err(|e| (String::new(), String::new(), e.to_string()))?;
    let sources = model
        .input_outlets()
        .map_err(|e| (String::new(), String::new(), e.to_string()))?
        .to_vec();
    // PRelu arrives as a select over a comparison and a product, a requantization as a
    // QuantizeLinear and a DequantizeLinear: the last node of each stands for the pattern
    let (mut patterns, mut absorbed) = compare::prelu(model);
    // a chain of element-wise functions of one tensor: its last node stands for the chain
    let (chains, inner) = func::chains(model);
    patterns.extend(chains);
    absorbed.extend(inner);
    // a causal or padding mask before a softmax: the softmax stands for both
    let (masked, masks) = mask::masked_softmax(model);
    patterns.extend(masked);
    absorbed.extend(masks);
    let qdq::Pairs {
        quant,
        passthrough,
        grid,
    } = qdq::pairs(model).map_err(|(node, msg)| (node, "QuantizeLinear".to_string(), msg))?;
    patterns.extend(quant);
    // a pattern reads its tensor where it is: a scale is not folded into the op making it
    let bases: BTreeSet<OutletId> = patterns.values().map(|(x, _)| *x).collect();
    g.grid = grid;
    // outlet → the outlet it is an alias of (a dequantize, an identity table)
    let mut alias: BTreeMap<OutletId, OutletId> = BTreeMap::new();
    let resolve = |alias: &BTreeMap<OutletId, OutletId>, o: &OutletId| *alias.get(o).unwrap_or(o);
    for id in order {
        if absorbed.contains(&id) {
            continue;
        }
        let node = model.node(id);
        let from: Vec<OutletId> = node.inputs.iter().map(|o| resolve(&alias, o)).collect();
        if passthrough.contains(&id) {
            alias.insert(OutletId::new(id, 0), from[0]);
            continue;
        }
        let err = |msg: String| (node.name.clone(), node.op.name().to_string(), msg);
        let out = OutletId::new(id, 0);
        if node.op_is::<TypedSource>() {
            let i = sources
                .iter()
                .position(|s| *s == out)
                .expect("a source is an input");
            let kind = match model.outlet_fact(out).map(|f| f.datum_type) {
                Ok(DatumType::Bool) => InputKind::Bool,
                Ok(d) if d.is_integer() => InputKind::Integer,
                _ => InputKind::Real,
            };
            g.inputs.push(FloatInput {
                name: names[i].clone(),
                outlet: out,
                shape: shape_of(model, out).map_err(err)?,
                kind,
            });
            continue;
        }
        if node.op_is::<Const>() || model.outlet_fact(out).is_ok_and(|f| f.konst.is_some()) {
            continue;
        }
        let shape = shape_of(model, out).map_err(&err)?;
        let in_shape = |i: usize| shape_of(model, node.inputs[i]);
        let konst = |i: usize| const_of(model, node.inputs[i]);
        let mut inputs = vec![from[0]];
        if let Some(t) = node.op_as::<Topk>() {
            let k = konst(1).filter(|k| k.data.len() == 1);
            let k = k.ok_or_else(|| err("a k that is not one constant".into()))?;
            // a node of the IR per output that is read: the values, the indices
            for (slot, fact) in node.outputs.iter().enumerate() {
                let o = OutletId::new(id, slot);
                if fact.successors.is_empty()
                    && !model.output_outlets().is_ok_and(|v| v.contains(&o))
                {
                    continue;
                }
                let op = FloatOp::TopK(crate::ops::topk::TopK {
                    axis: t.axis,
                    k: k.data[0] as usize,
                    largest: t.largest,
                    indices: slot == 1,
                });
                let name = [node.name.clone(), format!("{}.indices", node.name)];
                push(&mut g, &mut at, model, &name[slot], op, inputs.clone(), o).map_err(&err)?;
            }
            continue;
        }
        let op = if let Some((a, op)) = patterns.remove(&id) {
            inputs = vec![resolve(&alias, &a)];
            op
        } else if let Some(r) = linear::translate(model, node, &from) {
            let (op, ins) = r.map_err(&err)?;
            inputs = ins;
            op
        } else if let Some(r) = wiring::translate(model, node, &from, &shape) {
            let (op, ins) = r.map_err(&err)?;
            inputs = ins;
            op
        } else if let Some(r) = integer::translate(model, node, &from) {
            match r.map_err(&err)? {
                Translated::Op(op, ins) => {
                    inputs = ins;
                    op
                }
                Translated::Alias(o) => {
                    alias.insert(out, o);
                    continue;
                }
            }
        } else if let Some(r) = indexed::translate(model, node, &from) {
            let (op, ins) = r.map_err(&err)?;
            inputs = ins;
            op
        } else if let Some(r) = node.op_as::<Reduce>() {
            let axes = Axes {
                axes: r.axes.to_vec(),
                keepdims: true,
            };
            match r.reducer {
                Reducer::Sum => FloatOp::ReduceSum { axes, factor: 1.0 },
                // the mean of squares tract fuses from ReduceMean(Pow(x, 2)): x · x, summed
                Reducer::MeanOfSquares => {
                    let x = in_shape(0).map_err(&err)?;
                    let n: usize = axes.axes.iter().map(|a| x[*a]).product();
                    inputs = vec![from[0], from[0]];
                    FloatOp::SumSquares {
                        axes,
                        factor: 1.0 / n as f64,
                    }
                }
                Reducer::Max => FloatOp::ReduceMax(axes),
                Reducer::Min => FloatOp::ReduceMin(axes),
                Reducer::ArgMax(last) | Reducer::ArgMin(last) => FloatOp::ArgMax {
                    axis: r.axes[0],
                    min: matches!(r.reducer, Reducer::ArgMin(_)),
                    last,
                },
                other => return Err(err(format!("reducer {other:?}"))),
            }
        } else if let Some(b) = node.op_as::<TypedBinOp>() {
            let name = b.0.name();
            match (konst(0), konst(1)) {
                (Some(_), Some(_)) => unreachable!("tract folds constant expressions"),
                (None, None) => {
                    inputs = from.clone();
                    match name {
                        "Add" => FloatOp::Add { sub: false },
                        "Sub" => FloatOp::Add { sub: true },
                        "Mul" => FloatOp::Mul,
                        "Max" => FloatOp::Extreme { min: false },
                        "Min" => FloatOp::Extreme { min: true },
                        _ => return Err(err(format!("{name} of two computed tensors"))),
                    }
                }
                (a, b) => {
                    let (x, k, flipped) = match (a, b) {
                        (None, Some(k)) => (0, k, false),
                        (Some(k), None) => (1, k, true),
                        _ => unreachable!(),
                    };
                    inputs = vec![from[x]];
                    let single_use = model.node(inputs[0].node).outputs[inputs[0].slot]
                        .successors
                        .len()
                        == 1
                        && !bases.iter().any(|b| resolve(&alias, b) == inputs[0]);
                    match fold::with_constant(name, &k, flipped).map_err(&err)? {
                        Constant::Clip { lo, hi } => {
                            // ONNX Clip arrives as Max then Min: one clamp
                            let prev = at.get(&inputs[0]).copied().filter(|_| single_use);
                            if let Some(j) = prev {
                                if let FloatOp::Clip { lo: a, hi: b } = &mut g.nodes[j].op {
                                    (*a, *b) = (a.max(lo), b.min(hi));
                                    g.nodes[j].outlet = out;
                                    g.nodes[j].name = node.name.clone();
                                    at.insert(out, j);
                                    continue;
                                }
                            }
                            FloatOp::Clip { lo, hi }
                        }
                        Constant::Scale { mul, add } => match at.get(&inputs[0]).copied() {
                            Some(j)
                                if single_use
                                    && fold::fold_scale(
                                        &mut g.nodes[j],
                                        mul.as_ref(),
                                        add.as_ref(),
                                    ) =>
                            {
                                g.nodes[j].outlet = out;
                                g.nodes[j].name = node.name.clone();
                                at.insert(out, j);
                                continue;
                            }
                            _ => fold::affine(mul, add),
                        },
                    }
                }
            }
        } else if let Some(e) = node.op_as::<ElementWiseOp>() {
            compare::element_wise(e).map_err(&err)?
        } else if let Some(t) = node.op_as::<TTrilu>() {
            let k = konst(1)
                .filter(|k| k.data.len() == 1)
                .ok_or_else(|| err("a computed diagonal offset (only a constant k)".into()))?;
            FloatOp::Select {
                cond: mask::trilu_keep(&shape, t.upper, k.data[0] as i64).map_err(&err)?,
                fill: Some(0.0),
            }
        } else if node.op_is::<Iff>() {
            let cond =
                konst(0).ok_or_else(|| err("a computed condition (only a constant one)".into()))?;
            let ones = |flip: bool| cond.map(|c| i64::from((*c != 0.0) != flip));
            let scalar = |k: &Tensor<f64>| (k.data.len() == 1).then(|| k.data[0]);
            match (konst(1), konst(2)) {
                (None, None) => {
                    inputs = vec![from[1], from[2]];
                    FloatOp::Select {
                        cond: ones(false),
                        fill: None,
                    }
                }
                (None, Some(k)) if scalar(&k).is_some() => {
                    inputs = vec![from[1]];
                    FloatOp::Select {
                        cond: ones(false),
                        fill: scalar(&k),
                    }
                }
                (Some(k), None) if scalar(&k).is_some() => {
                    inputs = vec![from[2]];
                    FloatOp::Select {
                        cond: ones(true),
                        fill: scalar(&k),
                    }
                }
                _ => return Err(err("a select with a constant tensor branch".into())),
            }
        } else if let Some(s) = node.op_as::<TSoftmax>() {
            if s.kind != SoftmaxKind::Softmax || s.quant_output_dt.is_some() {
                return Err(err(format!("{:?} (only a float Softmax)", s.kind)));
            }
            FloatOp::Softmax {
                axes: s.axes.to_vec(),
                keep: None,
            }
        } else if let (Some(ga), Some(table)) = (node.op_as::<TGather>(), konst(0)) {
            // a constant table read at computed indices: an embedding
            inputs = vec![from[1]];
            FloatOp::Embed {
                table,
                axis: ga.axis,
            }
        } else if let Some(ga) = node.op_as::<TGather>() {
            let idx = konst(1).ok_or_else(|| err("the indices are not constant".into()))?;
            let len = in_shape(0).map_err(&err)?[ga.axis] as i64;
            let indices = idx.map(|v| {
                let i = *v as i64;
                if i < 0 {
                    i + len
                } else {
                    i
                }
            });
            FloatOp::Wire(Op::Gather(wire::Gather {
                axis: ga.axis,
                indices,
            }))
        } else if let Some(ge) = node.op_as::<TGatherElements>() {
            let idx = konst(1).ok_or_else(|| err("the indices are not constant".into()))?;
            let len = in_shape(0).map_err(&err)?[ge.axis] as i64;
            FloatOp::Wire(Op::GatherElements(wire::GatherElements {
                axis: ge.axis,
                indices: idx.map(|v| if *v < 0.0 { *v as i64 + len } else { *v as i64 }),
            }))
        } else if let Some((at, map)) = probe::moves(model, node) {
            inputs = at.iter().map(|i| from[*i]).collect();
            FloatOp::Remap { map }
        } else if let Some(l) = probe::linear(model, node) {
            inputs = vec![from[l.at]];
            FloatOp::LinearMap {
                shape: shape.clone(),
                rows: l.rows,
                bias: l.bias,
            }
        } else {
            return Err(err("no translation for this op".into()));
        };
        if let Some(i) = inputs
            .iter()
            .position(|o| !at.contains_key(o) && !sources.contains(o))
        {
            return Err(err(format!(
                "input {i} is a constant where a tensor is expected"
            )));
        }
        push(&mut g, &mut at, model, &node.name, op, inputs, out).map_err(&err)?;
    }
    // the graph's declared order, which data files follow, not the order tract evaluates them in
    g.inputs
        .sort_by_key(|i| sources.iter().position(|s| *s == i.outlet));
    g.outputs = model
        .output_outlets()
        .map_err(|e| (String::new(), String::new(), e.to_string()))?
        .iter()
        .map(|o| resolve(&alias, o))
        .collect();
    Ok(g)
}
