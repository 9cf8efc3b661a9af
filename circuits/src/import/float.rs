//! Float reference outputs from tract, for the accuracy report.

use std::path::Path;

use tract_onnx::prelude::*;

use super::ImportError;

/// Runs the ONNX model on each sample with tract (batch 1).
pub fn run(
    path: &Path,
    dims: &[usize],
    samples: &[Vec<f64>],
) -> Result<Vec<Vec<f64>>, ImportError> {
    let fail = |e: TractError| ImportError::Malformed {
        path: path.display().to_string(),
        msg: format!("tract: {e:#}"),
    };
    let model = tract_onnx::onnx()
        .model_for_path(path)
        .and_then(|m| m.with_input_fact(0, f32::fact(dims).into()))
        .and_then(|m| m.into_optimized())
        .and_then(|m| m.into_runnable())
        .map_err(fail)?;
    samples
        .iter()
        .map(|x| {
            let data: Vec<f32> = x.iter().map(|v| *v as f32).collect();
            let input =
                tract_ndarray::ArrayD::from_shape_vec(dims.to_vec(), data).map_err(|e| {
                    ImportError::Calibration(format!(
                        "sample does not fit input shape {dims:?}: {e}"
                    ))
                })?;
            let out = model.run(tvec!(input.into_tensor().into())).map_err(fail)?;
            let view = out[0].to_plain_array_view::<f32>().map_err(fail)?;
            Ok(view.iter().map(|v| *v as f64).collect())
        })
        .collect()
}
