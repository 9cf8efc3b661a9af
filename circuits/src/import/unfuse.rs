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

/// A fused op's replacement under construction: a patch whose parts are named after the node.
struct Parts {
    patch: TypedModelPatch,
    name: String,
}

impl Parts {
    fn wire(
        &mut self,
        what: &str,
        op: impl Into<Box<dyn TypedOp>>,
        from: &[OutletId],
    ) -> TractResult<OutletId> {
        Ok(self
            .patch
            .wire_node(format!("{}.{what}", self.name), op, from)?[0])
    }
}

/// Replaces every node of op `O` in `model` by the parts `build` wires from the node's inputs
/// (given with their ranks): one outlet for each of the node's outputs.
fn split<O: TypedOp + Clone>(
    model: &mut TypedModel,
    build: impl Fn(&O, &mut Parts, &[OutletId], &[usize]) -> TractResult<Vec<OutletId>>,
) -> TractResult<()> {
    let ids: Vec<usize> = model
        .nodes()
        .iter()
        .filter(|n| n.op_is::<O>())
        .map(|n| n.id)
        .collect();
    for id in ids {
        let node = model.node(id);
        let op = node.op_as::<O>().expect("a node of this op").clone();
        let ranks = node
            .inputs
            .iter()
            .map(|i| Ok(model.outlet_fact(*i)?.rank()))
            .collect::<TractResult<Vec<usize>>>()?;
        let mut parts = Parts {
            patch: TypedModelPatch::default(),
            name: node.name.clone(),
        };
        let taps = parts.patch.taps(model, &node.inputs)?;
        let outs = build(&op, &mut parts, &taps, &ranks)?;
        for (slot, o) in outs.into_iter().enumerate() {
            parts
                .patch
                .shunt_outside(model, OutletId::new(id, slot), o)?;
        }
        parts.patch.apply(model)?;
    }
    model.compact()
}

/// tract fuses `x · rsqrt(mean(x²) + eps)` (the second half of LayerNormalization, written as
/// one op or decomposed by an exporter) into one RmsNorm. The IR proves it as a mean of squares,
/// a table of `rsqrt(v + eps)` and a product, so it is wired back as those ops.
fn unfuse_rms_norm(model: &mut TypedModel) -> TractResult<()> {
    split::<RmsNorm>(model, |r, p, x, ranks| {
        let reduce = Reduce {
            axes: tvec![r.axis],
            reducer: Reducer::MeanOfSquares,
        };
        let ms = p.wire("mean_sq", reduce, &[x[0]])?;
        let eps = (*r.eps).clone().broadcast_into_rank(ranks[0])?;
        let eps = p.patch.add_const(format!("{}.eps", p.name), eps)?;
        let v = p.wire("add_eps", add(), &[ms, eps])?;
        let s = p.wire("rsqrt", rsqrt(), &[v])?;
        Ok(vec![p.wire("mul", mul(), &[x[0], s])?])
    })
}

/// An LSTM step's epilogue, from its gates' pre-activations `[.., 4h]` (ONNX's order: input,
/// output, forget, cell) and the previous cell state: `C = σ(f)·C₋₁ + σ(i)·tanh(c)` and
/// `H = σ(o)·tanh(C)`, outputs `(H, C)`.
fn unfuse_lstm_cell(model: &mut TypedModel) -> TractResult<()> {
    split::<LstmEpilogue>(model, |op, p, x, ranks| {
        let (h, axis) = (op.hidden, ranks[0] - 1);
        let mut gate = |g: usize, what: &str| -> TractResult<OutletId> {
            let slice = Slice::new(axis, g * h, (g + 1) * h);
            let pre = p.wire(&format!("{what}_pre"), slice, &[x[0]])?;
            let f = if what == "cell" { tanh() } else { sigmoid() };
            p.wire(what, f, &[pre])
        };
        let (i, o, f, c) = (
            gate(0, "in")?,
            gate(1, "out")?,
            gate(2, "forget")?,
            gate(3, "cell")?,
        );
        let kept = p.wire("kept", mul(), &[f, x[1]])?;
        let new = p.wire("new", mul(), &[i, c])?;
        let ct = p.wire("c", add(), &[kept, new])?;
        let squashed = p.wire("c_tanh", tanh(), &[ct])?;
        Ok(vec![p.wire("h", mul(), &[o, squashed])?, ct])
    })
}

/// A GRU step's epilogue (ONNX's `linear_before_reset`), from `xh = Xt·Wᵀ + Wb` and
/// `rh = Ht₋₁·Rᵀ + Rb`, both `[.., 3h]` in ONNX's gate order (update, reset, hidden), and the
/// previous state: `z = σ(xh_z + rh_z)`, `r = σ(xh_r + rh_r)`, `n = tanh(xh_h + r·rh_h)` and
/// `H = n + z·(H₋₁ − n)`.
fn unfuse_gru_cell(model: &mut TypedModel) -> TractResult<()> {
    split::<GruEpilogue>(model, |op, p, x, ranks| {
        let (h, axis) = (op.hidden, ranks[0] - 1);
        let (xh, rh, h_prev) = (x[0], x[1], x[2]);
        let mut part = |from: OutletId, g: usize, what: &str| {
            p.wire(what, Slice::new(axis, g * h, (g + 1) * h), &[from])
        };
        let (xz, xr, xn) = (part(xh, 0, "xz")?, part(xh, 1, "xr")?, part(xh, 2, "xn")?);
        let (rz, rr, rn) = (part(rh, 0, "rz")?, part(rh, 1, "rr")?, part(rh, 2, "rn")?);
        let z = p.wire("z_pre", add(), &[xz, rz])?;
        let z = p.wire("z", sigmoid(), &[z])?;
        let r = p.wire("r_pre", add(), &[xr, rr])?;
        let r = p.wire("r", sigmoid(), &[r])?;
        let reset = p.wire("reset", mul(), &[r, rn])?;
        let n = p.wire("n_pre", add(), &[xn, reset])?;
        let n = p.wire("n", tanh(), &[n])?;
        let back = p.wire("back", sub(), &[h_prev, n])?;
        let kept = p.wire("kept", mul(), &[z, back])?;
        Ok(vec![p.wire("h", add(), &[n, kept])?])
    })
}
