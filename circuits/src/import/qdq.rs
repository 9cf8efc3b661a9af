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

/// Every QuantizeLinear whose only reader is a DequantizeLinear with the same zero point: the
/// dequantize node → (the quantizer's input, the requantization), and the quantize nodes absorbed.
#[allow(clippy::type_complexity)]
pub(crate) fn pairs(
    model: &TypedModel,
) -> Result<(BTreeMap<usize, (OutletId, FloatOp)>, BTreeSet<usize>), (String, String)> {
    let mut found = BTreeMap::new();
    let mut absorbed = BTreeSet::new();
    for node in model.nodes() {
        let Some((_, z, qmin, qmax)) = quantizer(node) else {
            continue;
        };
        let bad = |msg: &str| (node.name.clone(), msg.to_string());
        let succ = &node.outputs[0].successors;
        let [next] = succ[..] else {
            return Err(bad(
                "a QuantizeLinear must be read by exactly one DequantizeLinear",
            ));
        };
        let dq = model.node(next.node);
        let Some(d) = dq.op_as::<DequantizeLinearF32>() else {
            return Err(bad(
                "a QuantizeLinear must be read by exactly one DequantizeLinear",
            ));
        };
        if d.zero_point != z || !(d.scale.is_finite() && d.scale > 0.0) {
            return Err(bad(
                "its DequantizeLinear has another zero point or a bad scale",
            ));
        }
        let step = d.scale as f64;
        let op = FloatOp::Quant {
            step,
            lo: (qmin - z) as f64 * step,
            hi: (qmax - z) as f64 * step,
        };
        found.insert(dq.id, (node.inputs[0], op));
        absorbed.insert(node.id);
    }
    Ok((found, absorbed))
}
