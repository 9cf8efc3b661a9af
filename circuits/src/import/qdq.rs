//! Pre-quantized models (QDQ, as onnxruntime's quantizer writes them). tract folds a
//! DequantizeLinear of a constant (a weight, a bias) into a float constant, which is quantized
//! like any other; what remains is each activation's QuantizeLinear → DequantizeLinear pair. The
//! pair is one requantization point: the tensor on the file's grid `step = scale`, clamped to the
//! quantized type's range less the zero point. Quantization gives that tensor the scale
//! `1 / step` instead of a calibrated one, and its range as the clamp of the rescale before it,
//! so the integers the circuit carries are the file's own (up to ties, which ONNX rounds to
//! even and the rescale away from zero).

use std::collections::{BTreeMap, BTreeSet};

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::change_axes::AxisOp;
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
use tract_onnx::tract_core::ops::quant::{DequantizeLinearF32, QuantizeLinearI8, QuantizeLinearU8};

use super::translate::FloatOp;

/// The quantize half of a pair: `(1 / step, zero point, qmin, qmax)`.
fn quantizer(node: &TypedNode) -> Option<(f32, i32, i32, i32)> {
    let e = node.op_as::<ElementWiseOp>()?;
    if let Some(q) = e.0.downcast_ref::<QuantizeLinearI8>() {
        return Some((q.scale, q.zero_point as i32, -128, 127));
    }
    e.0.downcast_ref::<QuantizeLinearU8>()
        .map(|q| (q.scale, q.zero_point as i32, 0, 255))
}

/// Whether `node` is one of tract's lookup tables on int8 (or uint8) that maps every value to
/// itself. tract fuses a DequantizeLinear → (element-wise-invariant ops) → QuantizeLinear chain
/// into such a table; when both ends share one grid, as onnxruntime writes a Flatten or a pool
/// between pairs, the table is the identity and the pair around it is one requantization.
fn identity_table(node: &TypedNode) -> bool {
    let Some(e) = node.op_as::<ElementWiseOp>() else {
        return false;
    };
    if e.0.name() != "LookupTable" {
        return false;
    }
    let all: Vec<u8> = (0..=255).collect();
    let probe = |t: Tensor| {
        e.0.eval_out_of_place(&t, Some(t.datum_type()))
            .is_ok_and(|out| out == t)
    };
    let as_i8: Vec<i8> = all.iter().map(|v| *v as i8).collect();
    probe(tensor1(&as_i8)) || probe(tensor1(&all))
}

/// Every QuantizeLinear whose reader is a DequantizeLinear on the same grid, possibly through
/// tract's identity tables and axis changes (a Flatten, which commutes with quantization).
pub(crate) struct Pairs {
    /// The quantize node → (its input, the requantization it stands for).
    pub quant: BTreeMap<usize, (OutletId, FloatOp)>,
    /// The nodes that pass their input on unchanged: identity tables and the dequantize.
    pub passthrough: BTreeSet<usize>,
    /// Outlets where tract carries the file's integers rather than floats, with their grid
    /// `(step, zero point)`: a float value is `(q − z)·step`.
    pub grid: BTreeMap<OutletId, (f64, i32)>,
}

/// Finds every pair; an error names the quantize node.
pub(crate) fn pairs(model: &TypedModel) -> Result<Pairs, (String, String)> {
    const MSG: &str = "a QuantizeLinear must be read by exactly one DequantizeLinear";
    let mut found = BTreeMap::new();
    let mut passthrough = BTreeSet::new();
    let mut grid = BTreeMap::new();
    for node in model.nodes() {
        let Some((inv_step, z, qmin, qmax)) = quantizer(node) else {
            continue;
        };
        let bad = |msg: &str| (node.name.clone(), msg.to_string());
        let mut at = node;
        let mut integer = vec![OutletId::new(node.id, 0)];
        let dq = loop {
            let [next] = at.outputs[0].successors[..] else {
                return Err(bad(MSG));
            };
            let reader = model.node(next.node);
            if identity_table(reader) {
                passthrough.insert(reader.id);
            } else if !reader.op_is::<AxisOp>() {
                break reader;
            }
            at = reader;
            integer.push(OutletId::new(reader.id, 0));
        };
        let Some(d) = dq.op_as::<DequantizeLinearF32>() else {
            return Err(bad(&format!("{MSG}, not by `{}`", dq.name)));
        };
        let same_grid = ((inv_step as f64) * (d.scale as f64) - 1.0).abs() < 1e-5;
        if d.zero_point != z || !(d.scale.is_finite() && d.scale > 0.0) || !same_grid {
            return Err(bad(
                "its DequantizeLinear has another scale or zero point, or a bad scale",
            ));
        }
        let step = d.scale as f64;
        let op = FloatOp::Quant {
            step,
            lo: (qmin - z) as f64 * step,
            hi: (qmax - z) as f64 * step,
        };
        found.insert(node.id, (node.inputs[0], op));
        passthrough.insert(dq.id);
        grid.extend(integer.into_iter().map(|o| (o, (step, z))));
    }
    Ok(Pairs {
        quant: found,
        passthrough,
        grid,
    })
}
