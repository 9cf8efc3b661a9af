//! Fused ops split back into their parts. tract fuses some patterns into one op for speed
//! (RmsNorm from a declutter rule, LstmEpilogue and GruEpilogue where its ONNX importer builds
//! an LSTM or GRU step); the
//! IR proves each as the ops it is made of, so each is wired back as those ops, every part a
//! tensor that tract computes and calibration measures. Nothing here changes what the model
//! computes: each part is an op tract itself runs, in the fused op's own order.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::array::Slice;
use tract_onnx::tract_core::ops::gru_cell::GruEpilogue;
use tract_onnx::tract_core::ops::lstm_cell::LstmEpilogue;
use tract_onnx::tract_core::ops::math::{add, mul, rsqrt, sub, tanh};
use tract_onnx::tract_core::ops::nn::{sigmoid, Reduce, Reducer, RmsNorm};

/// Splits every fused op of `model` that the IR proves as its parts.
pub(crate) fn all(model: &mut TypedModel) -> TractResult<()> {
    unfuse_rms_norm(model)?;
    unfuse_lstm_cell(model)?;
    unfuse_gru_cell(model)
}

/// The nodes of `model` whose op is `O`.
fn fused<O: TypedOp>(model: &TypedModel) -> Vec<usize> {
    model
        .nodes()
        .iter()
        .filter(|n| n.op_is::<O>())
        .map(|n| n.id)
        .collect()
}

/// tract fuses `x · rsqrt(mean(x²) + eps)` (the second half of LayerNormalization, written as
/// one op or decomposed by an exporter) into one RmsNorm. The IR proves it as a mean of squares,
/// a table of `rsqrt(v + eps)` and a product, so it is wired back as those ops, each a tensor
/// tract computes and calibration measures.
fn unfuse_rms_norm(model: &mut TypedModel) -> TractResult<()> {
    for id in fused::<RmsNorm>(model) {
        let node = model.node(id);
        let r = node.op_as::<RmsNorm>().expect("an RmsNorm").clone();
        let (name, inputs) = (node.name.clone(), node.inputs.clone());
        let rank = model.outlet_fact(inputs[0])?.rank();
        let mut patch = TypedModelPatch::default();
        let x = patch.taps(model, &inputs)?[0];
        let reduce = Reduce {
            axes: tvec![r.axis],
            reducer: Reducer::MeanOfSquares,
        };
        let ms = patch.wire_node(format!("{name}.mean_sq"), reduce, &[x])?[0];
        let eps = (*r.eps).clone().broadcast_into_rank(rank)?;
        let eps = patch.add_const(format!("{name}.eps"), eps)?;
        let v = patch.wire_node(format!("{name}.add_eps"), add(), &[ms, eps])?[0];
        let s = patch.wire_node(format!("{name}.rsqrt"), rsqrt(), &[v])?[0];
        let y = patch.wire_node(format!("{name}.mul"), mul(), &[x, s])?[0];
        patch.shunt_outside(model, OutletId::new(id, 0), y)?;
        patch.apply(model)?;
    }
    model.compact()
}

/// An LSTM step's epilogue, from its gates' pre-activations `[.., 4h]` (ONNX's order: input,
/// output, forget, cell) and the previous cell state: `C = σ(f)·C₋₁ + σ(i)·tanh(c)` and
/// `H = σ(o)·tanh(C)`, outputs `(H, C)`.
fn unfuse_lstm_cell(model: &mut TypedModel) -> TractResult<()> {
    for id in fused::<LstmEpilogue>(model) {
        let node = model.node(id);
        let h = node
            .op_as::<LstmEpilogue>()
            .expect("an LstmEpilogue")
            .hidden;
        let (name, inputs) = (node.name.clone(), node.inputs.clone());
        let axis = model.outlet_fact(inputs[0])?.rank() - 1;
        let mut patch = TypedModelPatch::default();
        let taps = patch.taps(model, &inputs)?;
        let (pre, c_prev) = (taps[0], taps[1]);
        let mut gate = |g: usize, what: &str| -> TractResult<OutletId> {
            let slice = Slice::new(axis, g * h, (g + 1) * h);
            let x = patch.wire_node(format!("{name}.{what}_pre"), slice, &[pre])?[0];
            let f = if what == "cell" { tanh() } else { sigmoid() };
            Ok(patch.wire_node(format!("{name}.{what}"), f, &[x])?[0])
        };
        let (i, o, f, c) = (
            gate(0, "in")?,
            gate(1, "out")?,
            gate(2, "forget")?,
            gate(3, "cell")?,
        );
        let kept = patch.wire_node(format!("{name}.kept"), mul(), &[f, c_prev])?[0];
        let new = patch.wire_node(format!("{name}.new"), mul(), &[i, c])?[0];
        let ct = patch.wire_node(format!("{name}.c"), add(), &[kept, new])?[0];
        let squashed = patch.wire_node(format!("{name}.c_tanh"), tanh(), &[ct])?[0];
        let ht = patch.wire_node(format!("{name}.h"), mul(), &[o, squashed])?[0];
        patch.shunt_outside(model, OutletId::new(id, 0), ht)?;
        patch.shunt_outside(model, OutletId::new(id, 1), ct)?;
        patch.apply(model)?;
    }
    model.compact()
}

/// A GRU step's epilogue (ONNX's `linear_before_reset`), from `xh = Xt·Wᵀ + Wb` and
/// `rh = Ht₋₁·Rᵀ + Rb`, both `[.., 3h]` in ONNX's gate order (update, reset, hidden), and the
/// previous state: `z = σ(xh_z + rh_z)`, `r = σ(xh_r + rh_r)`, `n = tanh(xh_h + r·rh_h)` and
/// `H = n + z·(H₋₁ − n)`.
fn unfuse_gru_cell(model: &mut TypedModel) -> TractResult<()> {
    for id in fused::<GruEpilogue>(model) {
        let node = model.node(id);
        let h = node.op_as::<GruEpilogue>().expect("a GruEpilogue").hidden;
        let (name, inputs) = (node.name.clone(), node.inputs.clone());
        let axis = model.outlet_fact(inputs[0])?.rank() - 1;
        let mut patch = TypedModelPatch::default();
        let taps = patch.taps(model, &inputs)?;
        let (xh, rh, h_prev) = (taps[0], taps[1], taps[2]);
        let mut part = |x: OutletId, g: usize, what: &str| -> TractResult<OutletId> {
            let slice = Slice::new(axis, g * h, (g + 1) * h);
            Ok(patch.wire_node(format!("{name}.{what}"), slice, &[x])?[0])
        };
        let (xz, xr, xn) = (part(xh, 0, "xz")?, part(xh, 1, "xr")?, part(xh, 2, "xn")?);
        let (rz, rr, rn) = (part(rh, 0, "rz")?, part(rh, 1, "rr")?, part(rh, 2, "rn")?);
        let mut wire = |what: &str, op: Box<dyn TypedOp>, from: &[OutletId]| {
            Ok::<_, TractError>(patch.wire_node(format!("{name}.{what}"), op, from)?[0])
        };
        let z = wire("z_pre", Box::new(add()), &[xz, rz])?;
        let z = wire("z", Box::new(sigmoid()), &[z])?;
        let r = wire("r_pre", Box::new(add()), &[xr, rr])?;
        let r = wire("r", Box::new(sigmoid()), &[r])?;
        let reset = wire("reset", Box::new(mul()), &[r, rn])?;
        let n = wire("n_pre", Box::new(add()), &[xn, reset])?;
        let n = wire("n", Box::new(tanh()), &[n])?;
        let back = wire("back", Box::new(sub()), &[h_prev, n])?;
        let kept = wire("kept", Box::new(mul()), &[z, back])?;
        let ht = wire("h", Box::new(add()), &[n, kept])?;
        patch.shunt_outside(model, OutletId::new(id, 0), ht)?;
        patch.apply(model)?;
    }
    model.compact()
}
