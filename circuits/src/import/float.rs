//! tract's float run: typed with the concrete input shapes, decluttered (constants and shape
//! arithmetic folded), and run with every translated tensor as an output, so calibration sees
//! each tensor's real range and accuracy compares against the original model's outputs. The
//! recurrences are unrolled ([`super::unroll`]) and the fused ops tract makes that the IR proves
//! as their parts are split back into those parts ([`super::unfuse`]), before anything reads the
//! model, so calibration and translation see the same tensors.

use std::collections::BTreeMap;
use std::path::Path;

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

use super::ImportError;

fn tract_err(e: TractError) -> ImportError {
    ImportError::Tract(sentences(&e))
}

/// tract's error chain as one line. Some of its contexts append a whole model or tensor dump to
/// their first line; a user needs the sentence, not the dump, so each context keeps its first
/// line, at most [`MAX_CONTEXT`] characters of it.
pub(crate) fn sentences(e: &TractError) -> String {
    e.chain()
        .filter_map(|c| {
            let text = c.to_string();
            let line = text.lines().next().unwrap_or("").trim();
            match line.char_indices().nth(MAX_CONTEXT) {
                _ if line.is_empty() => None,
                Some((cut, _)) => Some(format!("{}…", &line[..cut])),
                None => Some(line.to_string()),
            }
        })
        .collect::<Vec<_>>()
        .join(": ")
}

/// The longest part of a tract error message kept, in characters.
const MAX_CONTEXT: usize = 300;

/// What a graph input holds, from its ONNX element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// Real numbers, run as f32.
    Real,
    /// Integers (token ids, indices, integer data), run as i64.
    Integer,
    /// Booleans, run as bool; a data file writes them `true` / `false` or 1 / 0.
    Bool,
}

/// Loads `path` with the given input shapes and kinds, typed and decluttered.
pub fn load(
    path: &Path,
    shapes: &[Vec<usize>],
    kinds: &[InputKind],
) -> Result<TypedModel, ImportError> {
    // Exporters and quantizers annotate intermediate tensors with a symbolic batch (`N`); those
    // hints contradict the concrete input shape, and tract derives every shape anyway.
    let mut model = tract_onnx::onnx()
        .with_ignore_value_info(true)
        .model_for_path(path)
        .map_err(|e| ImportError::Malformed(sentences(&e)))?;
    for (i, s) in shapes.iter().enumerate() {
        // a real input keeps its declared precision (scikit-learn exports doubles)
        let double = model
            .input_fact(i)
            .is_ok_and(|f| f.datum_type.concretize() == Some(DatumType::F64));
        let fact = match kinds[i] {
            InputKind::Real if double => f64::fact(s),
            InputKind::Real => f32::fact(s),
            InputKind::Integer => i64::fact(s),
            InputKind::Bool => bool::fact(s),
        };
        model = model.with_input_fact(i, fact.into()).map_err(tract_err)?;
    }
    let mut typed = model
        .into_typed()
        .and_then(|m| m.into_decluttered())
        .map_err(tract_err)?;
    // recurrences become plain ops, which a second declutter folds like the rest
    if super::unroll::scans(&mut typed).map_err(tract_err)? {
        typed = typed.into_decluttered().map_err(tract_err)?;
    }
    super::unfuse::all(&mut typed).map_err(tract_err)?;
    reflections_fit(&typed)?;
    Ok(typed)
}

/// tract's run asserts, and so panics, where a reflected padding reaches beyond the far edge of
/// its axis (a reflection of a reflection, which ONNX leaves open): such a node is refused by
/// name before anything runs.
fn reflections_fit(model: &TypedModel) -> Result<(), ImportError> {
    use tract_onnx::tract_core::ops::array::{Pad, PadMode};
    for node in &model.nodes {
        let Some(pad) = node.op_as::<Pad>().filter(|p| p.mode == PadMode::Reflect) else {
            continue;
        };
        let shape = &model.outlet_fact(node.inputs[0]).map_err(tract_err)?.shape;
        for (axis, (before, after)) in pad.pads.iter().enumerate() {
            let n = shape[axis].to_i64().map_or(usize::MAX, |n| n as usize);
            if (*before).max(*after) >= n {
                return Err(ImportError::UnsupportedOp {
                    node: node.name.clone(),
                    op: "Pad".into(),
                    msg: format!(
                        "a reflected padding of {:?} on axis {axis} of {n} (at most {})",
                        (before, after),
                        n.saturating_sub(1)
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Runs `model` on every sample (flat, inputs concatenated, each of its kind) and returns, per
/// sample, the values of each of `outlets`.
pub fn run(
    model: &TypedModel,
    shapes: &[Vec<usize>],
    kinds: &[InputKind],
    outlets: &[OutletId],
    samples: &[Vec<f64>],
) -> Result<Vec<BTreeMap<OutletId, Vec<f64>>>, ImportError> {
    let mut m = model.clone();
    m.select_output_outlets(outlets).map_err(tract_err)?;
    let plan = m.into_runnable().map_err(tract_err)?;
    samples
        .iter()
        .map(|x| {
            let mut at = 0;
            let mut inputs = TVec::new();
            for s in shapes {
                let n: usize = s.iter().product();
                let values = &x[at..at + n];
                at += n;
                let misfit = |e: tract_ndarray::ShapeError| {
                    ImportError::Calibration(format!("sample does not fit {s:?}: {e}"))
                };
                let k = kinds[inputs.len()];
                let t = if k != InputKind::Real {
                    let bad = match k {
                        InputKind::Bool => values.iter().find(|v| **v != 0.0 && **v != 1.0),
                        _ => values.iter().find(|v| v.fract() != 0.0),
                    };
                    if let Some(v) = bad {
                        let what = if k == InputKind::Bool {
                            "a boolean"
                        } else {
                            "an integer"
                        };
                        return Err(ImportError::Calibration(format!(
                            "value {v} of input {} is not {what}",
                            inputs.len()
                        )));
                    }
                    let data: Vec<i64> = values.iter().map(|v| *v as i64).collect();
                    let t = tract_ndarray::ArrayD::from_shape_vec(s.clone(), data)
                        .map_err(misfit)?
                        .into_tensor();
                    if k == InputKind::Bool {
                        t.cast_to::<bool>().map_err(tract_err)?.into_owned()
                    } else {
                        t
                    }
                } else {
                    let dt = model
                        .input_fact(inputs.len())
                        .map_err(tract_err)?
                        .datum_type;
                    let t = tract_ndarray::ArrayD::from_shape_vec(s.clone(), values.to_vec())
                        .map_err(misfit)?
                        .into_tensor();
                    t.cast_to_dt(dt).map_err(tract_err)?.into_owned()
                };
                inputs.push(t.into());
            }
            let out = plan.run(inputs).map_err(tract_err)?;
            outlets
                .iter()
                .zip(out.iter())
                .map(|(o, v)| {
                    let v = v.cast_to::<f64>().map_err(tract_err)?;
                    let view = v.to_plain_array_view::<f64>().map_err(tract_err)?;
                    Ok((*o, view.iter().copied().collect()))
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tract_error_keeps_each_contexts_first_line_not_its_dump() {
        let dump = format!(
            "ModelPatch {{ nodes: [{}] }}",
            "Node { id: 0 }, ".repeat(200)
        );
        let e = TractError::msg(format!(
            "Trying to substitute a 10,100,F32 by 1,100,F32\n{dump}"
        ))
        .context("declutter node #4 \"/aff1/Gemm.ab\" EinSum")
        .context("running pass declutter");
        assert_eq!(
            sentences(&e),
            "running pass declutter: declutter node #4 \"/aff1/Gemm.ab\" EinSum: \
             Trying to substitute a 10,100,F32 by 1,100,F32"
        );
        let long = TractError::msg("x".repeat(MAX_CONTEXT + 50));
        let got = sentences(&long);
        assert_eq!(got.chars().count(), MAX_CONTEXT + 1, "{got}");
        assert!(got.ends_with('…'));
    }
}
