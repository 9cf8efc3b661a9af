//! The circuit of a model on any backend: the graph's nodes in evaluation order, each lowered
//! through its structure onto the backend's [`Instructions`]. Both circuits call this one function,
//! so they lay out the same computation and differ only in how each instruction is constrained.

use super::tensor::numel;
use super::Model;
use crate::ops::Instructions;

/// Lays out one sample: `inputs` are the values of every graph input, flat and in order; returns
/// the outputs, concatenated in order.
pub fn lower<I: Instructions>(
    model: &Model,
    ins: &mut I,
    inputs: Vec<I::Value>,
) -> Result<Vec<I::Value>, I::Error> {
    assert_eq!(
        inputs.len(),
        model.input_len(),
        "one value per input element"
    );
    let g = model.graph();
    let n_in = g.inputs.len();
    let mut values: Vec<Vec<I::Value>> = vec![Vec::new(); n_in + g.nodes.len()];
    let mut rest = inputs.into_iter();
    for (t, i) in g.inputs.iter().enumerate() {
        values[t] = rest.by_ref().take(numel(&i.shape)).collect();
    }
    for &j in &model.order {
        let wires = &model.wires[j];
        let ins_v: Vec<&[I::Value]> = wires.iter().map(|t| &values[*t][..]).collect();
        let bounds: Vec<_> = wires.iter().map(|t| model.bounds[*t]).collect();
        let before = ins.rows();
        let y = model.kinds[j].lower(ins, &ins_v, &bounds, model.bounds[n_in + j])?;
        if let (Some(a), Some(b)) = (before, ins.rows()) {
            let node = &g.nodes[j];
            tracing::trace!(node = %node.name, op = node.op.name(), main = b.0 - a.0, range = b.1 - a.1, "rows");
        }
        values[n_in + j] = y;
    }
    Ok(model
        .outputs
        .iter()
        .flat_map(|t| values[*t].iter().cloned())
        .collect())
}
