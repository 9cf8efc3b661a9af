//! `zkinfer compile`: ONNX → quantized IR, settings and accuracy report.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use serde_json::json;
use zkinfer_circuits::groth16::circuit::Shape;
use zkinfer_circuits::halo2::Plan;
use zkinfer_circuits::import;
use zkinfer_prover::artifacts::*;

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
    let imported = import::compile(model, &samples)?;
    let source =
        std::fs::read(model).with_context(|| format!("{}: cannot read", model.display()))?;
    let mut settings = Settings {
        version: ARTIFACT_VERSION,
        backend: backend.id().into(),
        batch,
        k: None,
        main_rows: None,
        range_rows: None,
        constraints: None,
        source_sha256: sha256_hex(&source),
    };
    let size = match backend {
        super::Backend::Halo2 => {
            let plan = Plan::new(imported.model.clone(), batch)?;
            (settings.k, settings.main_rows, settings.range_rows) =
                (Some(plan.k), Some(plan.main_rows), Some(plan.range_rows));
            json!({ "k": plan.k, "main_rows": plan.main_rows, "range_rows": plan.range_rows })
        }
        super::Backend::Groth16 => {
            let shape = std::sync::Arc::new(Shape::new(imported.model.clone(), batch)?);
            let n = zkinfer_prover::groth16::constraint_count(shape)?;
            settings.constraints = Some(n);
            json!({ "constraints": n })
        }
    };
    let dir = ModelDir::new(out);
    write_json(&dir.path(MODEL_FILE), &imported.model)?;
    write_json(&dir.path(SETTINGS_FILE), &settings)?;
    write_json(&dir.path(ACCURACY_FILE), &imported.accuracy)?;
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
