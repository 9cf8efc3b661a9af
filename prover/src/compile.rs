//! Compiling a model into a model directory: import and quantize the ONNX file, size the circuit
//! for the chosen backend, and write the IR, settings and accuracy report.

use std::path::Path;

use zkinfer_circuits::decoder::{Decoder, Slots};
use zkinfer_circuits::halo2::decoder::DecodePlan;
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
        graph_decoder: None,
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

/// The settings of a generation circuit of `(k, main rows, range rows)` (halo2, one request).
fn generation_settings(
    model: &Path,
    (k, main, range): (u32, usize, usize),
    slots: Slots,
    graph_decoder: GraphDecoder,
) -> Result<Settings, ProverError> {
    Ok(Settings {
        version: ARTIFACT_VERSION,
        backend: BackendId::Halo2,
        batch: 1,
        k: Some(k),
        main_rows: Some(main),
        range_rows: Some(range),
        constraints: None,
        source_sha256: sha256_hex(&read_bytes(model)?),
        slots: Some(slots),
        graph_decoder: Some(graph_decoder),
    })
}

/// Which token ends a decoder graph's generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The vocabulary's last entry (the default).
    Last,
    /// None: generation runs to the client's `max_tokens`.
    Never,
    /// This token id.
    Token(u64),
}

/// Compiles a decoder graph (ONNX with a token input) for generation over `slots` into `out`
/// (halo2 only): [`plan_decoder_graph`], then its IR, settings and accuracy report written.
pub fn compile_decoder_graph(
    model: &Path,
    samples: &[Vec<f64>],
    slots: Slots,
    stop: Stop,
    out: &Path,
) -> Result<(Imported, Settings), ProverError> {
    let (imported, plan) = plan_decoder_graph(model, samples, slots, stop)?;
    let rows = (plan.k, plan.main_rows, plan.range_rows);
    let stop_token = plan.decoder.stop;
    let settings = generation_settings(model, rows, slots, GraphDecoder { stop_token })?;
    let dir = ModelDir::new(out);
    write_json(&dir.path(MODEL_FILE), &imported.model)?;
    write_json(&dir.path(SETTINGS_FILE), &settings)?;
    write_json(&dir.path(ACCURACY_FILE), &imported.accuracy)?;
    Ok((imported, settings))
}

/// A decoder graph imported with the input shape `[1, P + T]` and its generation circuit
/// sized. It is calibrated on token sequences of that length: a longer sequence is cut to its
/// first `P + T` tokens (a prefix of a text is a text), a shorter one is refused by the import.
pub fn plan_decoder_graph(
    model: &Path,
    samples: &[Vec<f64>],
    slots: Slots,
    stop: Stop,
) -> Result<(Imported, DecodePlan), ProverError> {
    let total = slots.prompt + slots.gen;
    let opts = Options {
        input_shapes: Some(vec![vec![1, total]]),
    };
    let samples: Vec<Vec<f64>> = samples
        .iter()
        .map(|s| s[..s.len().min(total)].to_vec())
        .collect();
    let imported = import::compile(model, &samples, &opts)
        .map_err(|e| ProverError::artifact(model, e.to_string()))?;
    let vocab = imported
        .model
        .output_shapes()
        .first()
        .and_then(|s| s.last().copied())
        .unwrap_or(0) as u64;
    let stop_token = match stop {
        Stop::Last => Some(vocab.saturating_sub(1)),
        Stop::Never => None,
        Stop::Token(t) => Some(t),
    };
    let decoder = Decoder::new(imported.model.clone(), slots, stop_token)
        .map_err(|e| ProverError::artifact(model, e.to_string()))?;
    let plan = DecodePlan::new(decoder).map_err(|e| ProverError::artifact(model, e.to_string()))?;
    Ok((imported, plan))
}
