//! tract's typed, decluttered model → float graph nodes. tract has already typed every tensor
//! with the concrete input shapes and folded constants and shape arithmetic (Shape, Gather and
//! Concat on shape vectors, ConstantOfShape, Cast, Identity, Dropout), so what remains are real
//! ops on tensors. Each is translated here into an IR op with float constants ([`FloatOp`]);
//! constant Mul / Add / Sub / Div are folded into the linear op before them where the algebra
//! allows (Gemm's alpha and beta, a bias Add after MatMul, BatchNorm after Conv), so they cost
//! no rescale. Chains of element-wise functions of one tensor (Sigmoid, an expanded Elu) become
//! one function ([`func`]). An op without a translation is an error naming the ONNX node and op.

use std::collections::BTreeMap;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::{
    array::{
        Gather as TGather, GatherElements as TGatherElements, MultiBroadcastTo, Pad as TPad,
        PadMode, Slice as TSlice, Tile as TTile, TypedConcat,
    },
    binary::TypedBinOp,
    change_axes::AxisOp,
    cnn::{
        Conv as TConv, Deconv, KernelFormat, MaxPool as TMaxPool, PoolSpec, SumPool as TSumPool,
    },
    einsum::EinSum,
    element_wise::ElementWiseOp,
    konst::Const,
    nn::{DataFormat, Reduce, Reducer, Softmax as TSoftmax, SoftmaxKind},
    source::TypedSource,
};

use super::fold::{self, Constant};
use super::func::{self, Expr};
use super::{compare, qdq};
use crate::graph::tensor::{numel, Tensor};
use crate::ops::{pool::Window, reduce::Axes, wiring, Op};

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
    /// `einsum(a, b)` of two computed tensors, labels as the IR's matmul.
    MatMul { axes: [String; 3] },
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
    /// Softmax over axes.
    Softmax { axes: Vec<usize> },
    /// An element-wise function of one tensor, made a table ([`func`]).
    Func { name: String, expr: Expr },
    /// A shape op, already in the IR's terms.
    Wire(Op),
}

impl FloatOp {
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
}

/// The translated graph: sources (name, outlet, shape), nodes in evaluation order, outputs.
#[derive(Debug, Clone)]
pub(crate) struct FloatGraph {
    pub inputs: Vec<(String, OutletId, Vec<usize>)>,
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

fn shape_of(model: &TypedModel, o: OutletId) -> Result<Vec<usize>, String> {
    let f = model.outlet_fact(o).map_err(|e| e.to_string())?;
    f.shape
        .as_concrete()
        .map(|s| s.to_vec())
        .ok_or_else(|| format!("shape {:?} is not concrete", f.shape))
}

/// A window's dilations and strides, 1 where the spec leaves them out.
fn steps(spec: &PoolSpec) -> (Vec<usize>, Vec<usize>) {
    let k = spec.kernel_shape.len();
    let or_ones = |v: Option<&[usize]>| v.map(|d| d.to_vec()).unwrap_or(vec![1; k]);
    (
        or_ones(spec.dilations.as_deref()),
        or_ones(spec.strides.as_deref()),
    )
}

fn window(spec: &PoolSpec, input: &[usize]) -> Result<Window, String> {
    if !matches!(spec.data_format, DataFormat::NCHW) {
        return Err(format!("data format {:?} (only NCHW)", spec.data_format));
    }
    let (dil, st) = steps(spec);
    let computed = spec
        .padding
        .compute(&input[2..], &spec.kernel_shape, &dil, &st);
    let mut pads: Vec<usize> = computed.iter().map(|c| c.pad_before).collect();
    pads.extend(computed.iter().map(|c| c.pad_after));
    Ok(Window {
        kernel: spec.kernel_shape.to_vec(),
        strides: st,
        dilations: dil,
        pads,
    })
}

/// tract's deconvolution as the IR's transposed convolution. tract regroups ONNX's kernel
/// `[C, M/g, k..]` into `[M, C/g, k..]`; this puts it back.
fn deconv(
    d: &Deconv,
    x: &[usize],
    w: Tensor<f64>,
    bias: Option<Tensor<f64>>,
    n_inputs: usize,
) -> Result<FloatOp, String> {
    if !matches!(d.kernel_format, KernelFormat::OIHW) || w.shape.len() < 3 {
        return Err(format!("kernel format {:?} (only OIHW)", d.kernel_format));
    }
    let spec = &d.pool_spec;
    if !matches!(spec.data_format, DataFormat::NCHW) {
        return Err(format!("data format {:?} (only NCHW)", spec.data_format));
    }
    let g = d.group;
    let (m, cg) = (w.shape[0], w.shape[1]);
    if g == 0 || m % g != 0 {
        return Err(format!("{m} output channels in {g} groups"));
    }
    let mg = m / g;
    let taps = numel(&w.shape[2..]);
    let mut data = Vec::with_capacity(w.data.len());
    for gi in 0..g {
        for ci in 0..cg {
            for mi in 0..mg {
                let at = ((gi * mg + mi) * cg + ci) * taps;
                data.extend_from_slice(&w.data[at..at + taps]);
            }
        }
    }
    let mut shape = vec![cg * g, mg];
    shape.extend_from_slice(&w.shape[2..]);
    let (dilations, strides) = steps(spec);
    let computed = spec
        .padding
        .compute_for_deconv(&x[2..], &shape[2..], &dilations, &strides, &d.adjustments)
        .map_err(|e| e.to_string())?;
    let mut pads: Vec<usize> = computed.iter().map(|c| c.pad_before).collect();
    pads.extend(computed.iter().map(|c| c.pad_after));
    let bias = match bias {
        Some(b) if numel(&b.shape) == m => b.data,
        Some(b) if numel(&b.shape) == 1 => vec![b.data[0]; m],
        None if n_inputs < 3 => vec![0.0; m],
        _ => return Err("the bias is not a constant".into()),
    };
    Ok(FloatOp::ConvTranspose {
        weights: Tensor { shape, data },
        bias,
        strides,
        dilations,
        pads,
        output_padding: d.adjustments.to_vec(),
        groups: g,
    })
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
    let qdq::Pairs {
        quant,
        passthrough,
        grid,
    } = qdq::pairs(model).map_err(|(node, msg)| (node, "QuantizeLinear".to_string(), msg))?;
    patterns.extend(quant);
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
            g.inputs
                .push((names[i].clone(), out, shape_of(model, out).map_err(err)?));
            continue;
        }
        if node.op_is::<Const>() || model.outlet_fact(out).is_ok_and(|f| f.konst.is_some()) {
            continue;
        }
        let shape = shape_of(model, out).map_err(&err)?;
        let in_shape = |i: usize| shape_of(model, node.inputs[i]);
        let konst = |i: usize| const_of(model, node.inputs[i]);
        let mut inputs = vec![from[0]];
        let op = if let Some((a, op)) = patterns.remove(&id) {
            inputs = vec![resolve(&alias, &a)];
            op
        } else if let Some(e) = node.op_as::<EinSum>() {
            let (ins, outs) = e.axes.to_strs();
            match (konst(0), konst(1)) {
                (None, None) => {
                    inputs = from.clone();
                    FloatOp::MatMul {
                        axes: [ins[0].clone(), ins[1].clone(), outs[0].clone()],
                    }
                }
                (a, b) => {
                    let (x, w) = match (a, b) {
                        (None, Some(w)) => (0, w),
                        (Some(w), None) => (1, w),
                        _ => unreachable!("tract folds constant expressions"),
                    };
                    inputs = vec![from[x]];
                    FloatOp::Einsum {
                        axes: [ins[x].clone(), ins[1 - x].clone(), outs[0].clone()],
                        weights: w,
                        bias: None,
                    }
                }
            }
        } else if let Some(c) = node.op_as::<TConv>() {
            if c.q_params.is_some() {
                return Err(err("quantized convolution".into()));
            }
            let x = in_shape(0).map_err(&err)?;
            let w = konst(1).ok_or_else(|| err("the kernel is not a constant".into()))?;
            match c.kernel_fmt {
                KernelFormat::OIHW => {}
                f => return Err(err(format!("kernel format {f:?} (only OIHW)"))),
            }
            let o = w.shape[0];
            let bias = match konst(2) {
                Some(b) if numel(&b.shape) == o => b.data,
                Some(b) if numel(&b.shape) == 1 => vec![b.data[0]; o],
                None if node.inputs.len() < 3 => vec![0.0; o],
                _ => return Err(err("the bias is not a constant".into())),
            };
            let win = window(&c.pool_spec, &x).map_err(&err)?;
            FloatOp::Conv {
                weights: w,
                bias,
                strides: win.strides,
                dilations: win.dilations,
                pads: win.pads,
                groups: c.group,
            }
        } else if let Some(p) = node.op_as::<TMaxPool>() {
            if p.with_index_outputs.is_some() {
                return Err(err("MaxPool with indices".into()));
            }
            FloatOp::MaxPool(window(&p.pool_spec, &in_shape(0).map_err(&err)?).map_err(&err)?)
        } else if let Some(p) = node.op_as::<TSumPool>() {
            let win = window(&p.pool_spec, &in_shape(0).map_err(&err)?).map_err(&err)?;
            let exclude_pad =
                p.normalize && !p.count_include_pad && win.pads.iter().any(|p| *p > 0);
            let factor = if p.normalize && !exclude_pad {
                1.0 / numel(&win.kernel) as f64
            } else {
                1.0
            };
            FloatOp::SumPool {
                window: win,
                factor,
                exclude_pad,
            }
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
                        == 1;
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
        } else if let Some(s) = node.op_as::<TSoftmax>() {
            if s.kind != SoftmaxKind::Softmax || s.quant_output_dt.is_some() {
                return Err(err(format!("{:?} (only a float Softmax)", s.kind)));
            }
            FloatOp::Softmax {
                axes: s.axes.to_vec(),
            }
        } else if let Some(d) = node.op_as::<Deconv>() {
            let x = in_shape(0).map_err(&err)?;
            let w = konst(1).ok_or_else(|| err("the kernel is not a constant".into()))?;
            deconv(d, &x, w, konst(2), node.inputs.len()).map_err(&err)?
        } else if let Some(a) = node.op_as::<AxisOp>() {
            match a {
                AxisOp::Move(from, to) => {
                    let mut perm: Vec<usize> = (0..shape.len()).collect();
                    let v = perm.remove(*from);
                    perm.insert(*to, v);
                    FloatOp::Wire(Op::Transpose(wiring::Transpose { perm }))
                }
                _ => FloatOp::Wire(Op::Reshape(wiring::Reshape {
                    shape: shape.clone(),
                })),
            }
        } else if let Some(s) = node.op_as::<TSlice>() {
            let (start, end) = (s.start.to_i64(), s.end.to_i64());
            let (Ok(start), Ok(end)) = (start, end) else {
                return Err(err("a slice with symbolic bounds".into()));
            };
            FloatOp::Wire(Op::Slice(wiring::Slice {
                axis: s.axis,
                start: start.max(0) as usize,
                end: end.max(0) as usize,
                step: 1,
            }))
        } else if let Some(c) = node.op_as::<TypedConcat>() {
            if let Some(i) = (0..node.inputs.len()).find(|i| konst(*i).is_some()) {
                return Err(err(format!("input {i} of the concatenation is a constant")));
            }
            inputs = from.clone();
            FloatOp::Wire(Op::Concat(wiring::Concat {
                axis: c.axis,
                inputs: inputs.len(),
            }))
        } else if let Some(p) = node.op_as::<TPad>() {
            let value = match &p.mode {
                PadMode::Constant(v) => {
                    v.cast_to_scalar::<f64>().map_err(|e| err(e.to_string()))?
                }
                m => return Err(err(format!("pad mode {m:?}"))),
            };
            if value != 0.0 {
                return Err(err(format!("padding with {value} (only 0)")));
            }
            let mut pads: Vec<usize> = p.pads.iter().map(|p| p.0).collect();
            pads.extend(p.pads.iter().map(|p| p.1));
            FloatOp::Wire(Op::Pad(wiring::Pad { pads, value: 0 }))
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
            FloatOp::Wire(Op::Gather(wiring::Gather {
                axis: ga.axis,
                indices,
            }))
        } else if let Some(ge) = node.op_as::<TGatherElements>() {
            let idx = konst(1).ok_or_else(|| err("the indices are not constant".into()))?;
            let len = in_shape(0).map_err(&err)?[ge.axis] as i64;
            FloatOp::Wire(Op::GatherElements(wiring::GatherElements {
                axis: ge.axis,
                indices: idx.map(|v| if *v < 0.0 { *v as i64 + len } else { *v as i64 }),
            }))
        } else if let Some(t) = node.op_as::<TTile>() {
            let reps = t
                .multipliers
                .iter()
                .map(|d| d.to_i64().map(|v| v as usize))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| err("symbolic repetitions".into()))?;
            FloatOp::Wire(Op::Tile(wiring::Tile { reps }))
        } else if node.op_is::<MultiBroadcastTo>() {
            FloatOp::Wire(Op::Expand(wiring::Expand {
                shape: shape.clone(),
            }))
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
        g.nodes.push(FloatNode {
            name: node.name.clone(),
            op,
            inputs,
            outlet: out,
            shape,
        });
        at.insert(out, g.nodes.len() - 1);
    }
    g.outputs = model
        .output_outlets()
        .map_err(|e| (String::new(), String::new(), e.to_string()))?
        .iter()
        .map(|o| resolve(&alias, o))
        .collect();
    Ok(g)
}
