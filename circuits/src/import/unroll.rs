//! Recurrences unrolled: tract lowers ONNX's LSTM, GRU, RNN and Scan to a `Scan` op whose body
//! runs once per time step, carrying its state from one step to the next. A circuit has no
//! loops, so each `Scan` of a known number of steps is replaced, before translation, by that many
//! copies of its body wired in sequence: each step's scanned inputs are slices of the outer
//! inputs, its state inputs the previous step's state outputs (the outer initial values at the
//! first step), its full inputs the outer tensors themselves (the weights, which stay constants
//! and fold into the linear ops that read them). Scanned outputs are the steps' outputs
//! concatenated, last-value outputs the final step's.
//!
//! This only rewrites the model before anything reads it: the circuit proves the unrolled
//! model, which calibration and the accuracy report run like any other, and which computes what
//! tract's loop over the original file computes (`tests/onnx_recurrent.rs` runs both).

use std::collections::BTreeMap;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::{ensure, DimLike, TractErrorContext};
use tract_onnx::tract_core::ops::array::{Slice, TypedConcat};
use tract_onnx::tract_core::ops::scan::{iteration_count, InputMapping, Scan};
use tract_onnx::tract_core::ops::source::TypedSource;

/// A recurrence longer than this is refused: each step is a copy of the body in the circuit.
pub(crate) const MAX_STEPS: usize = 1024;

/// Replaces every `Scan` of `model` (nested ones included) by its unrolled body; whether there
/// was one.
pub(crate) fn scans(model: &mut TypedModel) -> TractResult<bool> {
    let mut any = false;
    // a body may itself hold a scan, which unrolling brings into the outer model
    while let Some(id) = model
        .nodes()
        .iter()
        .find(|n| n.op_is::<Scan>())
        .map(|n| n.id)
    {
        let scan = model.node(id).op_as::<Scan>().expect("a Scan").clone();
        unroll(model, id, &scan)?.apply(model)?;
        any = true;
    }
    if any {
        model.compact()?;
    }
    Ok(any)
}

fn unroll(model: &TypedModel, id: usize, scan: &Scan) -> TractResult<TypedModelPatch> {
    let node = model.node(id);
    let name = node.name.clone();
    ensure!(
        scan.skip == 0,
        "recurrence `{name}` skips its first {} steps",
        scan.skip
    );
    let facts = model.node_input_facts(id)?;
    let steps = iteration_count(&scan.input_mapping, &facts)
        .with_context(|| format!("recurrence `{name}` scans no input"))?
        .to_usize()
        .with_context(|| format!("recurrence `{name}` has a symbolic number of steps"))?;
    ensure!(
        (1..=MAX_STEPS).contains(&steps),
        "recurrence `{name}` has {steps} steps (1 to {MAX_STEPS} can be unrolled)"
    );
    for (slot, m) in scan.input_mapping.iter().enumerate() {
        if let InputMapping::Scan(info) = m {
            let len = facts[slot].shape[info.axis].to_usize()?;
            ensure!(
                len % info.chunk.unsigned_abs() == 0,
                "recurrence `{name}` scans {len} values in chunks of {}",
                info.chunk.unsigned_abs()
            );
        }
    }
    let mut patch = TypedModelPatch::new(format!("unroll {name}"));
    let outer = patch.taps(model, &node.inputs)?;
    let mut state: Vec<OutletId> = scan
        .input_mapping
        .iter()
        .zip(&outer)
        .filter(|(m, _)| m.is_state())
        .map(|(_, o)| *o)
        .collect();
    let mut pieces: Vec<Vec<OutletId>> = vec![Vec::new(); scan.output_mapping.len()];
    let mut last: Vec<OutletId> = Vec::new();
    for step in 0..steps {
        let prefix = format!("{name}.{step}");
        let mut carried = state.iter();
        let mut inputs = Vec::with_capacity(outer.len());
        for (slot, m) in scan.input_mapping.iter().enumerate() {
            inputs.push(match m {
                InputMapping::Full => outer[slot],
                InputMapping::State => *carried.next().expect("a state output per state input"),
                InputMapping::Scan(info) => {
                    let c = info.chunk.unsigned_abs();
                    let len = facts[slot].shape[info.axis].to_usize()?;
                    // a negative chunk walks the axis from its end
                    let start = match info.chunk < 0 {
                        true => len - (step + 1) * c,
                        false => step * c,
                    };
                    let slice = Slice::new(info.axis, start, start + c);
                    patch.wire_node(format!("{prefix}.in{slot}"), slice, &[outer[slot]])?[0]
                }
            });
        }
        let outs = wire_body(&mut patch, &scan.body, &inputs, &prefix)?;
        state.clear();
        for (ix, (o, m)) in outs.iter().zip(&scan.output_mapping).enumerate() {
            if m.scan.is_some() {
                pieces[ix].push(*o);
            }
            if m.state {
                state.push(*o);
            }
        }
        last = outs;
    }
    for (ix, m) in scan.output_mapping.iter().enumerate() {
        if let Some((slot, info)) = m.scan {
            let mut parts = std::mem::take(&mut pieces[ix]);
            if info.chunk < 0 {
                ensure!(
                    info.chunk == -1,
                    "recurrence `{name}` writes its output backwards in chunks of {}",
                    -info.chunk
                );
                parts.reverse();
            }
            let full = match parts.len() {
                1 => parts[0],
                _ => {
                    let concat = TypedConcat { axis: info.axis };
                    patch.wire_node(format!("{name}.out{slot}"), concat, &parts)?[0]
                }
            };
            patch.shunt_outside(model, OutletId::new(id, slot), full)?;
        }
        if let Some(slot) = m.last_value_slot {
            patch.shunt_outside(model, OutletId::new(id, slot), last[ix])?;
        }
    }
    Ok(patch)
}

/// Wires a copy of `body` into `patch`, its inputs fed by `inputs`; its outputs.
fn wire_body(
    patch: &mut TypedModelPatch,
    body: &TypedModel,
    inputs: &[OutletId],
    prefix: &str,
) -> TractResult<Vec<OutletId>> {
    let mut at: BTreeMap<OutletId, OutletId> = body
        .inputs
        .iter()
        .copied()
        .zip(inputs.iter().copied())
        .collect();
    for id in body.eval_order()? {
        let n = body.node(id);
        if n.op_is::<TypedSource>() {
            continue;
        }
        let from: TVec<OutletId> = n.inputs.iter().map(|o| at[o]).collect();
        let outs = patch.wire_node(format!("{prefix}.{}", n.name), n.op.clone(), &from)?;
        for (slot, o) in outs.into_iter().enumerate() {
            at.insert(OutletId::new(id, slot), o);
        }
    }
    Ok(body.outputs.iter().map(|o| at[o]).collect())
}
