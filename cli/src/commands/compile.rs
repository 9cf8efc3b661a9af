//! `zkinfer compile`: ONNX → quantized IR, settings and accuracy report.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Result};
use serde_json::json;

pub fn run(
    model: &Path,
    calibration: Option<&Path>,
    batch: usize,
    backend: super::Backend,
    out: &Path,
    json_out: bool,
) -> Result<ExitCode> {
    let calib_path = match calibration {
        Some(p) => p.to_path_buf(),
        None => {
            let dir = model.parent().unwrap_or(Path::new("."));
            match ["calibration.json", "input.json"].iter().map(|f| dir.join(f)).find(|p| p.is_file()) {
                Some(p) => p,
                None => bail!("no calibration set: pass --calibration FILE (no calibration.json or input.json beside {})", model.display()),
            }
        }
    };
    let samples = crate::input::read_rows(&calib_path)?;
    let (imported, settings) =
        zkinfer_prover::compile::compile_dir(model, &samples, backend.id(), batch, out)?;
    let size = match backend {
        super::Backend::Halo2 => {
            json!({ "k": settings.k, "main_rows": settings.main_rows, "range_rows": settings.range_rows })
        }
        super::Backend::Groth16 => json!({ "constraints": settings.constraints }),
    };
    let acc = &imported.accuracy;
    if json_out {
        super::print_json(&json!({
            "dir": out, "backend": backend.id(), "batch": batch, "size": size,
            "input_scale": imported.model.input.scale, "output_scale": imported.model.output_scale,
            "calibration": calib_path, "accuracy": acc,
        }));
    } else {
        println!("compiled {} -> {}", model.display(), out.display());
        println!("  backend {}, batch {batch}, circuit {size}", backend.id());
        println!(
            "  accuracy on {} calibration samples ({}): max |err| {:.4}, mean |err| {:.4}, argmax agreement {:.1}%",
            acc.samples, calib_path.display(), acc.max_abs_error, acc.mean_abs_error, 100.0 * acc.argmax_agreement
        );
    }
    Ok(ExitCode::SUCCESS)
}
