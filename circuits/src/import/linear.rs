//! tract's linear family → float ops: EinSum (Gemm, MatMul, a matmul of two computed tensors),
//! Conv, Deconv and the pools. Each takes its window from tract's pool spec with the padding tract
//! computed for the concrete input shape, so what the IR proves is the window tract ran; constant
//! kernels and biases stay floats until quantization.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::{
    cnn::{
        Conv as TConv, Deconv, KernelFormat, MaxPool as TMaxPool, PoolSpec, SumPool as TSumPool,
    },
    einsum::EinSum,
    nn::DataFormat,
};

use super::translate::{const_of, shape_of, FloatOp};
use crate::graph::tensor::{numel, Tensor};
use crate::ops::pool::Window;

/// The float op of `node` if it is of the linear family, with the outlets it reads (`from`: the
/// node's inputs, aliases resolved); `None` for any other op.
pub(crate) fn translate(
    model: &TypedModel,
    node: &TypedNode,
    from: &[OutletId],
) -> Option<Result<(FloatOp, Vec<OutletId>), String>> {
    let konst = |i: usize| const_of(model, node.inputs[i]);
    let in_shape = |i: usize| shape_of(model, node.inputs[i]);
    let one = |op: Result<FloatOp, String>| Some(op.map(|op| (op, vec![from[0]])));
    if let Some(e) = node.op_as::<EinSum>() {
        let (ins, outs) = e.axes.to_strs();
        return Some(match (konst(0), konst(1)) {
            (None, None) => Ok((
                FloatOp::MatMul {
                    axes: [ins[0].clone(), ins[1].clone(), outs[0].clone()],
                    factor: 1.0,
                },
                from.to_vec(),
            )),
            (a, b) => {
                let (x, w) = match (a, b) {
                    (None, Some(w)) => (0, w),
                    (Some(w), None) => (1, w),
                    _ => unreachable!("tract folds constant expressions"),
                };
                Ok((
                    FloatOp::Einsum {
                        axes: [ins[x].clone(), ins[1 - x].clone(), outs[0].clone()],
                        weights: w,
                        bias: None,
                    },
                    vec![from[x]],
                ))
            }
        });
    }
    if let Some(c) = node.op_as::<TConv>() {
        return one(conv(c, in_shape(0), konst(1), konst(2), node.inputs.len()));
    }
    if let Some(p) = node.op_as::<TMaxPool>() {
        if p.with_index_outputs.is_some() {
            return one(Err("MaxPool with indices".into()));
        }
        return one(in_shape(0).and_then(|x| window(&p.pool_spec, &x).map(FloatOp::MaxPool)));
    }
    if let Some(p) = node.op_as::<TSumPool>() {
        return one(in_shape(0).and_then(|x| sum_pool(p, &x)));
    }
    if let Some(d) = node.op_as::<Deconv>() {
        let w = konst(1).ok_or_else(|| "the kernel is not a constant".to_string());
        return one(in_shape(0).and_then(|x| deconv(d, &x, w?, konst(2), node.inputs.len())));
    }
    None
}

/// A bias of `o` channels: the constant, one value broadcast, or zeros when the op has none.
fn bias_of(b: Option<Tensor<f64>>, o: usize, n_inputs: usize) -> Result<Vec<f64>, String> {
    match b {
        Some(b) if numel(&b.shape) == o => Ok(b.data),
        Some(b) if numel(&b.shape) == 1 => Ok(vec![b.data[0]; o]),
        None if n_inputs < 3 => Ok(vec![0.0; o]),
        _ => Err("the bias is not a constant".into()),
    }
}

fn conv(
    c: &TConv,
    x: Result<Vec<usize>, String>,
    w: Option<Tensor<f64>>,
    b: Option<Tensor<f64>>,
    n_inputs: usize,
) -> Result<FloatOp, String> {
    if c.q_params.is_some() {
        return Err("quantized convolution".into());
    }
    let x = x?;
    let w = w.ok_or("the kernel is not a constant")?;
    match c.kernel_fmt {
        KernelFormat::OIHW => {}
        f => return Err(format!("kernel format {f:?} (only OIHW)")),
    }
    let bias = bias_of(b, w.shape[0], n_inputs)?;
    let win = window(&c.pool_spec, &x)?;
    Ok(FloatOp::Conv {
        weights: w,
        bias,
        strides: win.strides,
        dilations: win.dilations,
        pads: win.pads,
        groups: c.group,
    })
}

fn sum_pool(p: &TSumPool, x: &[usize]) -> Result<FloatOp, String> {
    let win = window(&p.pool_spec, x)?;
    let exclude_pad = p.normalize && !p.count_include_pad && win.pads.iter().any(|p| *p > 0);
    let factor = if p.normalize && !exclude_pad {
        1.0 / numel(&win.kernel) as f64
    } else {
        1.0
    };
    Ok(FloatOp::SumPool {
        window: win,
        factor,
        exclude_pad,
    })
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
    let bias = bias_of(bias, m, n_inputs)?;
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
