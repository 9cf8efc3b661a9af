//! Masks before a softmax: a causal or padding mask arrives as `Where(mask, scores, fill)` (or
//! the fill first, for `masked_fill(mask == 0, -inf)`) with a constant condition, or as
//! `scores + bias` with a constant bias of zeros and fills; tract has already folded the Trilu,
//! Equal and slicing that built the constant. The softmax that alone reads it takes the mask as
//! its `keep` pattern: the masked scores never enter the circuit, so no masked score can leak
//! into a probability, and the select and the huge fill never need a tensor of their own.
//!
//! A fill is a constant at or below [`FILL`]: in tract's f32 run its exp is exactly 0 whenever
//! the scores lie within 400 of one another, so the masked softmax is the same function.

use std::collections::{BTreeMap, BTreeSet};

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::{
    binary::TypedBinOp,
    logic::Iff,
    nn::{Softmax as TSoftmax, SoftmaxKind},
};

use super::translate::{const_of, FloatOp};
use crate::graph::tensor::Tensor;

/// The largest constant read as a mask's fill (−inf, `finfo.min`, −1e9 and −1e4 all are).
pub(crate) const FILL: f64 = -1000.0;

/// The 0/1 keep pattern of the select or sum that produces `o` (when it is a mask over a
/// computed tensor), and the computed tensor.
fn mask_of(model: &TypedModel, o: OutletId) -> Option<(OutletId, Tensor<i64>)> {
    let node = model.node(o.node);
    let fill =
        |x: OutletId| const_of(model, x).is_some_and(|k| k.data.len() == 1 && k.data[0] <= FILL);
    let computed = |x: OutletId| const_of(model, x).is_none();
    if node.op_is::<Iff>() && node.inputs.len() == 3 {
        let c = const_of(model, node.inputs[0])?;
        let (a, b) = (node.inputs[1], node.inputs[2]);
        // where the condition holds, the select takes `a`
        let (scores, keep_when) = if fill(b) && computed(a) {
            (a, 1.0)
        } else if fill(a) && computed(b) {
            (b, 0.0)
        } else {
            return None;
        };
        return Some((
            scores,
            c.map(|v| i64::from((*v != 0.0) == (keep_when != 0.0))),
        ));
    }
    let b = node.op_as::<TypedBinOp>()?;
    if b.0.name() != "Add" {
        return None;
    }
    let (x, k) = match (
        const_of(model, node.inputs[0]),
        const_of(model, node.inputs[1]),
    ) {
        (None, Some(k)) => (node.inputs[0], k),
        (Some(k), None) => (node.inputs[1], k),
        _ => return None,
    };
    if k.data.iter().any(|v| *v != 0.0 && *v > FILL) || k.data.iter().all(|v| *v == 0.0) {
        return None;
    }
    Some((x, k.map(|v| i64::from(*v == 0.0))))
}

/// Every float softmax that alone reads a mask: its node → (the scores, the masked softmax), and
/// the mask nodes it absorbs.
#[allow(clippy::type_complexity)]
pub(crate) fn masked_softmax(
    model: &TypedModel,
) -> (BTreeMap<usize, (OutletId, FloatOp)>, BTreeSet<usize>) {
    let mut found = BTreeMap::new();
    let mut absorbed = BTreeSet::new();
    for node in model.nodes() {
        let Some(s) = node.op_as::<TSoftmax>() else {
            continue;
        };
        if s.kind != SoftmaxKind::Softmax || s.quant_output_dt.is_some() {
            continue;
        }
        let m = node.inputs[0];
        if model.node(m.node).outputs[m.slot].successors.len() != 1 {
            continue;
        }
        let Some((scores, keep)) = mask_of(model, m) else {
            continue;
        };
        let same = model.outlet_fact(scores).ok().map(|f| f.shape.to_tvec())
            == model.outlet_fact(m).ok().map(|f| f.shape.to_tvec());
        if !same {
            continue;
        }
        absorbed.insert(m.node);
        let op = FloatOp::Softmax {
            axes: s.axes.to_vec(),
            keep: Some(keep),
        };
        found.insert(node.id, (scores, op));
    }
    (found, absorbed)
}

/// The keep pattern of `Trilu(x, k)` over a computed `x` of `shape`: `x[.., i, j]` stays where
/// `j - i >= k` (upper) or `j - i <= k` (lower), every other element is the constant 0. The
/// pattern is a constant of the verifying key, like any select's condition.
pub(crate) fn trilu_keep(shape: &[usize], upper: bool, k: i64) -> Result<Tensor<i64>, String> {
    let [.., rows, cols] = shape else {
        return Err(format!(
            "Trilu of a tensor of shape {shape:?} (rank 2 or more)"
        ));
    };
    let (rows, cols) = (*rows, *cols);
    let keep = (0..shape.iter().product::<usize>()).map(|e| {
        let (i, j) = ((e / cols) % rows, e % cols);
        let above = j as i64 - i as i64;
        i64::from(if upper { above >= k } else { above <= k })
    });
    Tensor::new(shape.to_vec(), keep.collect())
        .ok_or_else(|| format!("Trilu of a tensor of shape {shape:?}"))
}
