//! tract's typed, decluttered model → float graph nodes. tract has already typed every tensor
//! with the concrete input shapes and folded constants and shape arithmetic (Shape, Gather and
//! Concat on shape vectors, ConstantOfShape, Cast, Identity, Dropout), so what remains are real
//! ops on tensors. Each is translated here into an IR op with float constants ([`FloatOp`]);
//! constant Mul / Add / Sub / Div are folded into the linear op before them where the algebra
//! allows (Gemm's alpha and beta, a bias Add after MatMul, BatchNorm after Conv), so they cost
//! no rescale. An op without a translation is an error naming the ONNX node and op.

use std::collections::BTreeMap;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::{
    array::{
        Gather as TGather, MultiBroadcastTo, Pad as TPad, PadMode, Slice as TSlice, TypedConcat,
    },
    binary::TypedBinOp,
    change_axes::AxisOp,
    cnn::{Conv as TConv, KernelFormat, MaxPool as TMaxPool, PoolSpec, SumPool as TSumPool},
    einsum::EinSum,
    konst::Const,
    nn::{DataFormat, Reduce, Reducer},
    source::TypedSource,
};

use crate::graph::tensor::{broadcast_map, broadcast_shape, numel, Tensor};
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
    /// Window sums times `factor` (1 / window for an average).
    SumPool { window: Window, factor: f64 },
    /// Sums over axes times `factor`.
    ReduceSum { axes: Axes, factor: f64 },
    /// `a + b`, or `a - b`.
    Add { sub: bool },
    /// `a · b`.
    Mul,
    /// Window maxima.
    MaxPool(Window),
    /// Maxima over axes.
    ReduceMax(Axes),
    /// `max(x, 0)`.
    Relu,
    /// A shape op, already in the IR's terms.
    Wire(Op),
}

impl FloatOp {
    /// Linear ops end in a rescale back to int8.
    pub fn is_linear(&self) -> bool {
        matches!(
            self,
            FloatOp::Einsum { .. }
                | FloatOp::Conv { .. }
                | FloatOp::Affine { .. }
                | FloatOp::SumPool { .. }
                | FloatOp::ReduceSum { .. }
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
}

/// A translation failure at one node: `(node, op, message)`.
pub(crate) type NodeError = (String, String, String);

fn const_of(model: &TypedModel, o: OutletId) -> Option<Tensor<f64>> {
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
        FloatOp::SumPool { factor, .. } | FloatOp::ReduceSum { factor, .. } if scalar && !add => {
            *factor *= k.data[0];
            true
        }
        _ => false,
    }
}

fn window(spec: &PoolSpec, input: &[usize]) -> Result<Window, String> {
    if !matches!(spec.data_format, DataFormat::NCHW) {
        return Err(format!("data format {:?} (only NCHW)", spec.data_format));
    }
    let k = spec.kernel_shape.len();
    let dil: Vec<usize> = spec
        .dilations
        .clone()
        .map(|d| d.to_vec())
        .unwrap_or(vec![1; k]);
    let st: Vec<usize> = spec
        .strides
        .clone()
        .map(|d| d.to_vec())
        .unwrap_or(vec![1; k]);
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

/// Translates every node of `model` (typed, decluttered, concrete shapes).
pub(crate) fn translate(model: &TypedModel, names: &[String]) -> Result<FloatGraph, NodeError> {
    let mut g = FloatGraph {
        inputs: Vec::new(),
        nodes: Vec::new(),
        outputs: Vec::new(),
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
    for id in order {
        let node = model.node(id);
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
        let mut inputs = vec![node.inputs[0]];
        let op = if let Some(e) = node.op_as::<EinSum>() {
            let (ins, outs) = e.axes.to_strs();
            let (x, w) =
                match (konst(0), konst(1)) {
                    (None, Some(w)) => (0, w),
                    (Some(w), None) => (1, w),
                    _ => return Err(err(
                        "a product of two computed tensors (only a constant operand is supported)"
                            .into(),
                    )),
                };
            inputs = vec![node.inputs[x]];
            FloatOp::Einsum {
                axes: [ins[x].clone(), ins[1 - x].clone(), outs[0].clone()],
                weights: w,
                bias: None,
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
            let padded = win.pads.iter().any(|p| *p > 0);
            if p.normalize && padded && !p.count_include_pad {
                return Err(err(
                    "AveragePool over padding with count_include_pad = 0".into()
                ));
            }
            let factor = if p.normalize {
                1.0 / numel(&win.kernel) as f64
            } else {
                1.0
            };
            FloatOp::SumPool {
                window: win,
                factor,
            }
        } else if let Some(r) = node.op_as::<Reduce>() {
            let axes = Axes {
                axes: r.axes.to_vec(),
                keepdims: true,
            };
            match r.reducer {
                Reducer::Sum => FloatOp::ReduceSum { axes, factor: 1.0 },
                Reducer::Max => FloatOp::ReduceMax(axes),
                other => return Err(err(format!("reducer {other:?}"))),
            }
        } else if let Some(b) = node.op_as::<TypedBinOp>() {
            let name = b.0.name();
            match (konst(0), konst(1)) {
                (Some(_), Some(_)) => unreachable!("tract folds constant expressions"),
                (None, None) => {
                    inputs = node.inputs.to_vec();
                    match name {
                        "Add" => FloatOp::Add { sub: false },
                        "Sub" => FloatOp::Add { sub: true },
                        "Mul" => FloatOp::Mul,
                        _ => return Err(err(format!("{name} of two computed tensors"))),
                    }
                }
                (a, b) => {
                    let (x, k, flipped) = match (a, b) {
                        (None, Some(k)) => (0, k, false),
                        (Some(k), None) => (1, k, true),
                        _ => unreachable!(),
                    };
                    inputs = vec![node.inputs[x]];
                    let k1 = |f: fn(f64) -> f64| k.map(|v| f(*v));
                    let (mul, add) = match (name, flipped) {
                        ("Add", _) => (None, Some(k.clone())),
                        ("Sub", false) => (None, Some(k1(|v| -v))),
                        ("Sub", true) | ("SubF", false) => {
                            // k - x
                            (
                                Some(Tensor {
                                    shape: vec![],
                                    data: vec![-1.0],
                                }),
                                Some(k.clone()),
                            )
                        }
                        ("SubF", true) => (None, Some(k1(|v| -v))),
                        ("Mul", _) => (Some(k.clone()), None),
                        ("Div", false) => (Some(k1(|v| 1.0 / v)), None),
                        ("Max", _) if k.data.iter().all(|v| *v == 0.0) => {
                            g.nodes.push(FloatNode {
                                name: node.name.clone(),
                                op: FloatOp::Relu,
                                inputs,
                                outlet: out,
                                shape,
                            });
                            at.insert(out, g.nodes.len() - 1);
                            continue;
                        }
                        _ => return Err(err(format!("{name} with a constant operand"))),
                    };
                    if let Some(j) = at.get(&inputs[0]).copied() {
                        let single_use = model.node(inputs[0].node).outputs[inputs[0].slot]
                            .successors
                            .len()
                            == 1;
                        let mut ok = single_use;
                        if ok {
                            let prev = &mut g.nodes[j];
                            let saved = prev.clone();
                            if let Some(m) = &mul {
                                ok = fold(prev, m, false);
                            }
                            if ok {
                                if let Some(a) = &add {
                                    ok = fold(prev, a, true);
                                }
                            }
                            if !ok {
                                *prev = saved;
                            }
                        }
                        if ok {
                            g.nodes[j].outlet = out;
                            g.nodes[j].name = node.name.clone();
                            at.insert(out, j);
                            continue;
                        }
                    }
                    let one = Tensor {
                        shape: vec![],
                        data: vec![1.0],
                    };
                    let zero = Tensor {
                        shape: vec![],
                        data: vec![0.0],
                    };
                    let (m, a) = (mul.unwrap_or(one), add.unwrap_or(zero));
                    // the offset applies after the multiplier: (x · m) + a
                    FloatOp::Affine { mul: m, add: a }
                }
            }
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
            inputs = node.inputs.to_vec();
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
        .to_vec();
    Ok(g)
}
