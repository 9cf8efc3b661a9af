//! tract's float run: typed with the concrete input shapes, decluttered (constants and shape
//! arithmetic folded), and run with every translated tensor as an output, so calibration sees
//! each tensor's real range and accuracy compares against the original model's outputs.

use std::collections::BTreeMap;
use std::path::Path;

use tract_onnx::prelude::*;

use super::ImportError;

fn tract_err(e: TractError) -> ImportError {
    ImportError::Tract(format!("{e:#}"))
}

/// Loads `path` with the given f32 input shapes, typed and decluttered.
pub fn load(path: &Path, shapes: &[Vec<usize>]) -> Result<TypedModel, ImportError> {
    // Exporters and quantizers annotate intermediate tensors with a symbolic batch (`N`); those
    // hints contradict the concrete input shape, and tract derives every shape anyway.
    let mut model = tract_onnx::onnx()
        .with_ignore_value_info(true)
        .model_for_path(path)
        .map_err(|e| ImportError::Malformed(format!("{e:#}")))?;
    for (i, s) in shapes.iter().enumerate() {
        model = model
            .with_input_fact(i, f32::fact(s).into())
            .map_err(tract_err)?;
    }
    model
        .into_typed()
        .and_then(|m| m.into_decluttered())
        .map_err(tract_err)
}

/// Runs `model` on every sample (flat, inputs concatenated) and returns, per sample, the values of
/// each of `outlets`.
pub fn run(
    model: &TypedModel,
    shapes: &[Vec<usize>],
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
                let data: Vec<f32> = x[at..at + n].iter().map(|v| *v as f32).collect();
                at += n;
                let t = tract_ndarray::ArrayD::from_shape_vec(s.clone(), data).map_err(|e| {
                    ImportError::Calibration(format!("sample does not fit {s:?}: {e}"))
                })?;
                inputs.push(t.into_tensor().into());
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
