//! Ops that only move values, found by running them: an op tract can evaluate on its own
//! (Resize in nearest mode, DepthToSpace, SpaceToDepth, and any other pure rearrangement) whose
//! one computed input is real-valued is run on probes. The first holds each element's own
//! index, so the output names, per position, the element it copies; two more, of values that
//! are not indices (fractions, negatives, no two equal), must come out as exactly those
//! copies. An op that computes anything (a rounding, a sort, a sum) fails a probe and stays
//! untranslated. What passes is wiring in the IR: a flat gather, no constraint.

use tract_onnx::prelude::*;

/// Largest input probed: the probes' values stay distinct and exact in f32.
const MAX_PROBED: usize = 1 << 20;

/// `(input, map)` when `node` copies elements of its one computed input `input`: output
/// element `o` (row-major) is input element `map[o]`.
pub(crate) fn moves(model: &TypedModel, node: &TypedNode) -> Option<(usize, Vec<usize>)> {
    if node.outputs.len() != 1 {
        return None;
    }
    let facts: Vec<&TypedFact> = node
        .inputs
        .iter()
        .map(|o| model.outlet_fact(*o).ok())
        .collect::<Option<_>>()?;
    let computed: Vec<usize> = (0..facts.len())
        .filter(|i| facts[*i].konst.is_none())
        .collect();
    let [at] = computed[..] else { return None };
    if facts[at].datum_type != f32::datum_type() {
        return None;
    }
    let shape: Vec<usize> = facts[at].shape.as_concrete()?.to_vec();
    let n: usize = shape.iter().product();
    if n == 0 || n > MAX_PROBED {
        return None;
    }
    let run = |values: Vec<f32>| -> Option<Vec<f32>> {
        let mut inputs = TVec::new();
        for (i, f) in facts.iter().enumerate() {
            if i == at {
                let t = tract_ndarray::ArrayD::from_shape_vec(shape.clone(), values.clone())
                    .ok()?
                    .into_tensor();
                inputs.push(t.into_tvalue());
            } else {
                inputs.push(f.konst.clone()?.into_tvalue());
            }
        }
        let out = node.op.eval_out_of_plan(inputs).ok()??;
        let t = out.first()?.cast_to::<f32>().ok()?;
        let view = t.to_plain_array_view::<f32>().ok()?;
        Some(view.iter().copied().collect())
    };
    let picked = run((0..n).map(|i| i as f32).collect())?;
    let map: Vec<usize> = picked
        .iter()
        .map(|v| (v.fract() == 0.0 && *v >= 0.0 && (*v as usize) < n).then_some(*v as usize))
        .collect::<Option<_>>()?;
    for k in 1..=2u64 {
        // distinct fractions of both signs: (i · 7919 + k) mod 2^20, centred, over 8
        let values: Vec<f32> = (0..n as u64)
            .map(|i| ((i * 7919 + k * 104_729) % (1 << 20)) as f32 / 8.0 - 65_536.0)
            .collect();
        let out = run(values.clone())?;
        if out.len() != map.len() || out.iter().zip(&map).any(|(o, m)| *o != values[*m]) {
            return None;
        }
    }
    Some((at, map))
}
