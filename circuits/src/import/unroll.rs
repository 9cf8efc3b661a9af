//! Recurrences unrolled: tract lowers ONNX's LSTM, GRU, RNN and Scan to a `Scan` op whose body
//! runs once per time step, carrying its state from one step to the next. A circuit has no
//! loops, so each `Scan` of a known number of steps is replaced, before translation, by that many
//! copies of its body wired in sequence: each step's scanned inputs are slices of the outer
//! inputs, its state inputs the previous step's state outputs (the outer initial values at the
//! first step), its full inputs the outer tensors themselves (the weights, which stay constants
//! and fold into the linear ops that read them). Scanned outputs are the steps' outputs
//! concatenated, last-value outputs the final step's. A GRU that tract runs as one fused
//! sequence op (`GruSeq`, torch's `linear_before_reset` GRU of four steps or more) is unrolled
//! the same way, each step its two products and tract's fused step (which
//! [`super::unfuse`] then splits into its gates).
//!
//! This only rewrites the model before anything reads it: the circuit proves the unrolled
//! model, which calibration and the accuracy report run like any other, and which computes what
//! tract's loop over the original file computes (`tests/onnx_recurrent.rs` runs both).

use std::collections::BTreeMap;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::{ensure, DimLike, TractErrorContext};
use tract_onnx::tract_core::ops::array::{Slice, TypedConcat};
use tract_onnx::tract_core::ops::change_axes::AxisOp;
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_core::ops::gru_cell::GruEpilogue;
use tract_onnx::tract_core::ops::gru_seq::GruSeq;
use tract_onnx::tract_core::ops::math::add;
use tract_onnx::tract_core::ops::scan::{iteration_count, InputMapping, Scan};
use tract_onnx::tract_core::ops::source::TypedSource;

/// A recurrence longer than this is refused: each step is a copy of the body in the circuit.
pub(crate) const MAX_STEPS: usize = 1024;

/// Replaces every `Scan` of `model` (nested ones included) by its unrolled body; whether there
/// was one.
pub(crate) fn scans(model: &mut TypedModel) -> TractResult<bool> {
    let mut any = false;
    // a body may itself hold a scan, which unrolling brings into the outer model
    loop {
        let next = model
            .nodes()
            .iter()
            .find(|n| n.op_is::<Scan>() || n.op_is::<GruSeq>());
        let Some(node) = next else { break };
        let id = node.id;
        let patch = match node.op_as::<Scan>() {
            Some(scan) => unroll(model, id, &scan.clone())?,
            None => gru_seq(model, id, node.op_as::<GruSeq>().expect("a GruSeq"))?,
        };
        patch.apply(model)?;
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

/// A fused GRU sequence (`[x, W, R, b?, h0]`, or `[xw, R, b?, h0]` once tract projected
/// `x·Wᵀ + Wb` out of it; `x` is `[batch, T, in]`, `h0` `[batch, 1, h]`) as one step per time
/// step, each `xh = xₜ·Wᵀ + Wb`, `rh = Hₜ₋₁·Rᵀ + Rb` and tract's fused GRU step on them.
fn gru_seq(model: &TypedModel, id: usize, op: &GruSeq) -> TractResult<TypedModelPatch> {
    let node = model.node(id);
    let name = node.name.clone();
    let h = op.hidden;
    let mut patch = TypedModelPatch::new(format!("unroll {name}"));
    let taps = patch.taps(model, &node.inputs)?;
    let (x, rest) = (taps[0], &taps[1..]);
    let (w, rest) = match op.projected {
        true => (None, rest),
        false => (Some(rest[0]), &rest[1..]),
    };
    let (r, b, h0) = match op.has_bias {
        true => (rest[0], Some(rest[1]), rest[2]),
        false => (rest[0], None, rest[1]),
    };
    let x_fact = model.outlet_fact(node.inputs[0])?;
    let steps = x_fact.shape[1]
        .to_usize()
        .with_context(|| format!("recurrence `{name}` has a symbolic number of steps"))?;
    ensure!(
        (1..=MAX_STEPS).contains(&steps),
        "recurrence `{name}` has {steps} steps (1 to {MAX_STEPS} can be unrolled)"
    );
    let product = EinSum::new("mk,nk->mn".parse()?, x_fact.datum_type);
    let b_axis = model
        .outlet_fact(node.inputs[node.inputs.len() - 2])?
        .rank()
        - 1;
    let mut bias = |at: usize, what: &str| -> TractResult<Option<OutletId>> {
        b.map(|b| {
            let slice = Slice::new(b_axis, at * h, (at + 3) * h);
            Ok(patch.wire_node(format!("{name}.{what}"), slice, &[b])?[0])
        })
        .transpose()
    };
    let (wb, rb) = (bias(0, "wb")?, bias(3, "rb")?);
    let mut state = patch.wire_node(format!("{name}.h0"), AxisOp::Rm(1), &[h0])?[0];
    let mut ys = vec![None; steps];
    for step in 0..steps {
        let t = if op.chunk < 0 { steps - 1 - step } else { step };
        let prefix = format!("{name}.{t}");
        let xt = patch.wire_node(format!("{prefix}.x"), Slice::new(1, t, t + 1), &[x])?[0];
        let xt = patch.wire_node(format!("{prefix}.xt"), AxisOp::Rm(1), &[xt])?[0];
        let mut xh = match w {
            Some(w) => patch.wire_node(format!("{prefix}.xw"), product.clone(), &[xt, w])?[0],
            None => xt,
        };
        if let (Some(wb), Some(_)) = (wb, w) {
            xh = patch.wire_node(format!("{prefix}.xh"), add(), &[xh, wb])?[0];
        }
        let mut rh = patch.wire_node(format!("{prefix}.hr"), product.clone(), &[state, r])?[0];
        if let Some(rb) = rb {
            rh = patch.wire_node(format!("{prefix}.rh"), add(), &[rh, rb])?[0];
        }
        let cell = GruEpilogue { hidden: h };
        state = patch.wire_node(format!("{prefix}.gru_cell"), cell, &[xh, rh, state])?[0];
        ys[t] = Some(patch.wire_node(format!("{prefix}.y"), AxisOp::Add(1), &[state])?[0]);
    }
    let ys: Vec<OutletId> = ys.into_iter().map(|y| y.expect("every step")).collect();
    if op.emit_y {
        let y = match ys.len() {
            1 => ys[0],
            _ => patch.wire_node(format!("{name}.y"), TypedConcat { axis: 1 }, &ys)?[0],
        };
        patch.shunt_outside(model, OutletId::new(id, 0), y)?;
    } else {
        ensure!(
            node.outputs[0].successors.is_empty(),
            "recurrence `{name}` has a sequence output it does not compute"
        );
    }
    let last = if op.chunk < 0 { ys[0] } else { ys[steps - 1] };
    patch.shunt_outside(model, OutletId::new(id, 1), last)?;
    Ok(patch)
}
