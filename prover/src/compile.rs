//! Compiling a model into a model directory: import and quantize the ONNX file, size the circuit
//! for the chosen backend, and write the IR, settings and accuracy report.

use std::path::Path;

use zkinfer_circuits::gpt::import::import as gpt_import;
use zkinfer_circuits::gpt::reference::Slots;
use zkinfer_circuits::gpt::Gpt;
use zkinfer_circuits::halo2::generation::GenPlan;
use zkinfer_circuits::import::{self, Imported, Options};

use crate::artifacts::*;
use crate::backend::BackendId;
use crate::ProverError;

/// Compiles `model` (ONNX) calibrated on `samples` (our or EZKL's layout) into `out`, for
/// `backend` and `batch` samples per proof.
pub fn compile_dir(
    model: &Path,
    samples: &[Vec<f64>],
    backend: BackendId,
    batch: usize,
    opts: &Options,
    out: &Path,
) -> Result<(Imported, Settings), ProverError> {
    let imported = import::compile(model, samples, opts)
        .map_err(|e| ProverError::artifact(model, e.to_string()))?;
    let source = read_bytes(model)?;
    let mut settings = Settings {
        version: ARTIFACT_VERSION,
        backend,
        batch,
        k: None,
        main_rows: None,
        range_rows: None,
        constraints: None,
        source_sha256: sha256_hex(&source),
        slots: None,
    };
    backend
        .backend()
        .size(&imported.model, batch, &mut settings)?;
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
        backend: BackendId::Halo2,
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
