//! Compiling a model into a model directory: import and quantize the ONNX file, size the circuit
//! for the chosen backend, and write the IR, settings and accuracy report.

use std::path::Path;
use std::sync::Arc;

use zkinfer_circuits::gpt::import::import as gpt_import;
use zkinfer_circuits::gpt::reference::Slots;
use zkinfer_circuits::gpt::Gpt;
use zkinfer_circuits::groth16::circuit::Shape;
use zkinfer_circuits::halo2::generation::GenPlan;
use zkinfer_circuits::halo2::Plan;
use zkinfer_circuits::import::{self, Imported, Options};

use crate::artifacts::*;
use crate::ProverError;

/// Compiles `model` (ONNX) calibrated on `samples` (our or EZKL's layout) into `out`, for
/// `backend` (a backend id) and `batch` samples per proof.
pub fn compile_dir(
    model: &Path,
    samples: &[Vec<f64>],
    backend: &str,
    batch: usize,
    opts: &Options,
    out: &Path,
) -> Result<(Imported, Settings), ProverError> {
    let imported = import::compile(model, samples, opts)
        .map_err(|e| ProverError::artifact(model, e.to_string()))?;
    let source = read_bytes(model)?;
    let mut settings = Settings {
        version: ARTIFACT_VERSION,
        backend: backend.into(),
        batch,
        k: None,
        main_rows: None,
        range_rows: None,
        constraints: None,
        source_sha256: sha256_hex(&source),
        slots: None,
    };
    if backend == crate::groth16::BACKEND {
        let shape = Arc::new(Shape::new(imported.model.clone(), batch)?);
        settings.constraints = Some(crate::groth16::constraint_count(shape)?);
    } else if backend == crate::BACKEND {
        let plan = Plan::new(imported.model.clone(), batch)?;
        (settings.k, settings.main_rows, settings.range_rows) =
            (Some(plan.k), Some(plan.main_rows), Some(plan.range_rows));
    } else {
        return Err(ProverError::Backend(format!("unknown backend {backend}")));
    }
    let dir = ModelDir::new(out);
    write_json(&dir.path(MODEL_FILE), &imported.model)?;
    write_json(&dir.path(SETTINGS_FILE), &settings)?;
    write_json(&dir.path(ACCURACY_FILE), &imported.accuracy)?;
    Ok((imported, settings))
}

/// Compiles a decoder (ONNX) for generation with `slots` into `out` (halo2 only).
pub fn compile_decoder(
    model: &Path,
    slots: Slots,
    out: &Path,
) -> Result<(Gpt, Settings), ProverError> {
    let gpt = gpt_import(model).map_err(|e| ProverError::artifact(model, e.to_string()))?;
    let plan = GenPlan::new(gpt.clone(), slots)
        .map_err(|e| ProverError::artifact(model, e.to_string()))?;
    let settings = Settings {
        version: ARTIFACT_VERSION,
        backend: crate::BACKEND.into(),
        batch: 1,
        k: Some(plan.k),
        main_rows: Some(plan.main_rows),
        range_rows: Some(plan.range_rows),
        constraints: None,
        source_sha256: sha256_hex(&read_bytes(model)?),
        slots: Some(slots),
    };
    let dir = ModelDir::new(out);
    write_json(&dir.path(MODEL_FILE), &gpt)?;
    write_json(&dir.path(SETTINGS_FILE), &settings)?;
    Ok((gpt, settings))
}
