//! Element-wise comparisons and sign ops that tract leaves as element-wise mini ops or expands
//! into a select: Neg, Abs, Sign and LeakyRelu; PRelu, which tract writes as
//! `iff(0 > a, a · slope, a)`, is recognised as that pattern and becomes one piecewise-linear op,
//! so neither the comparison (a boolean tensor the IR has no type for) nor the product of every
//! element by its slope is ever computed on its own.

use std::collections::{BTreeMap, BTreeSet};

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::{
    binary::TypedBinOp, element_wise::ElementWiseOp, logic::Iff, nn::LeakyRelu,
};

use super::translate::{const_of, FloatOp};
use crate::graph::tensor::Tensor;

/// The translation of one element-wise mini op.
pub(crate) fn element_wise(e: &ElementWiseOp) -> Result<FloatOp, String> {
    if let Some(l) = e.0.downcast_ref::<LeakyRelu>() {
        return Ok(FloatOp::Piecewise {
            pos: Tensor::scalar(1.0),
            neg: Tensor::scalar(l.alpha as f64),
        });
    }
    match e.0.name().as_str() {
        "Abs" => Ok(FloatOp::Abs),
        "Neg" => Ok(FloatOp::Neg),
        "Sign" => Ok(FloatOp::Sign),
        other => Err(format!("element-wise {other}")),
    }
}

fn bin_name(model: &TypedModel, o: OutletId) -> Option<&'static str> {
    model.node(o.node).op_as::<TypedBinOp>().map(|b| b.0.name())
}

/// Whether `o` is a constant 0 of any shape.
fn is_zero(model: &TypedModel, o: OutletId) -> bool {
    const_of(model, o).is_some_and(|k| k.data.iter().all(|v| *v == 0.0))
}

/// Every select of the form `iff(0 > a, a · k, a)` (or `a < 0`) with a constant `k`: the select's
/// node → (`a`, the piecewise op), and the comparison and product nodes it absorbs, when the
/// select is their only reader.
#[allow(clippy::type_complexity)]
pub(crate) fn prelu(model: &TypedModel) -> (BTreeMap<usize, (OutletId, FloatOp)>, BTreeSet<usize>) {
    let mut found = BTreeMap::new();
    let mut absorbed = BTreeSet::new();
    let only_reader = |o: OutletId, reader: usize| {
        let succ = &model.node(o.node).outputs[o.slot].successors;
        succ.iter().all(|s| s.node == reader)
    };
    for node in model.nodes() {
        if !node.op_is::<Iff>() || node.inputs.len() != 3 {
            continue;
        }
        let (test, prod, a) = (node.inputs[0], node.inputs[1], node.inputs[2]);
        let t = model.node(test.node);
        let compares = match bin_name(model, test) {
            Some("GT") => is_zero(model, t.inputs[0]) && t.inputs[1] == a,
            Some("LT") => t.inputs[0] == a && is_zero(model, t.inputs[1]),
            _ => false,
        };
        let p = model.node(prod.node);
        let slope = match bin_name(model, prod) {
            Some("Mul") if p.inputs[0] == a => const_of(model, p.inputs[1]),
            Some("Mul") if p.inputs[1] == a => const_of(model, p.inputs[0]),
            _ => None,
        };
        let Some(k) = slope else { continue };
        if !compares || !only_reader(test, node.id) || !only_reader(prod, node.id) {
            continue;
        }
        absorbed.insert(test.node);
        absorbed.insert(prod.node);
        let pos = k.map(|_| 1.0);
        found.insert(node.id, (a, FloatOp::Piecewise { pos, neg: k }));
    }
    (found, absorbed)
}
