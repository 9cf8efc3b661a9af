//! Compiling a model into a model directory: import and quantize the ONNX file, size the circuit
//! for the chosen backend, and write the IR, settings and accuracy report. [`compile`] also keeps
//! the [`Recipe`] and copies of the ONNX file and calibration set in the directory, so that the
//! directory can be made again from them alone ([`recompile`]): that is what an auditor does.

use std::path::Path;

use serde::{Deserialize, Serialize};
use zkinfer_circuits::decoder::{Decoder, Slots};
use zkinfer_circuits::halo2::config::Shape as Halo2Shape;
use zkinfer_circuits::halo2::decoder::DecodePlan;
pub use zkinfer_circuits::halo2::plan::Objective;
use zkinfer_circuits::import::{self, Imported, Options};

use crate::artifacts::*;
use crate::backend::BackendId;
use crate::ProverError;

/// How a model directory is compiled: with the ONNX file and the calibration set, everything
/// compiling depends on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipe {
    pub backend: BackendId,
    #[serde(flatten)]
    pub target: Target,
    /// What the halo2 plan minimizes (recipes written before it was recorded: speed).
    #[serde(default)]
    pub optimize: Objective,
}

/// What the circuit proves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// One forward pass of a graph over `batch` samples per proof, the inputs of the given
    /// concrete shapes (default: the file's, a symbolic batch axis set to 1).
    Graph {
        batch: usize,
        input_shapes: Option<Vec<Vec<usize>>>,
    },
    /// A decoder graph's greedy generation over `slots` (halo2 only).
    Decoder { slots: Slots, stop: Stop },
}

/// Compiles `onnx` calibrated on the file `calibration` as `recipe` says into `out`, and keeps
/// the recipe and copies of both files there.
pub fn compile(
    recipe: &Recipe,
    onnx: &Path,
    calibration: &Path,
    out: &Path,
) -> Result<(Imported, Settings), ProverError> {
    let source = read_bytes(onnx)?;
    let calib = read_bytes(calibration)?;
    let samples = crate::inputs::rows_of(calibration, &calib)?;
    let done = match &recipe.target {
        Target::Graph {
            batch,
            input_shapes,
        } => {
            let opts = Options {
                input_shapes: input_shapes.clone(),
            };
            let target = (recipe.backend, *batch, recipe.optimize);
            compile_dir(onnx, &samples, target, &opts, out)?
        }
        Target::Decoder { .. } if recipe.backend != BackendId::Halo2 => {
            let msg = "decoders compile for halo2 only (token inputs and embeddings need \
                lookups; Groth16 has none)";
            return Err(ProverError::artifact(onnx, msg));
        }
        Target::Decoder { slots, stop } => {
            compile_decoder_graph(onnx, &samples, (*slots, *stop), recipe.optimize, out)?
        }
    };
    let dir = ModelDir::new(out);
    write_atomic(&dir.path(SOURCE_FILE), &source)?;
    write_atomic(&dir.path(CALIBRATION_FILE), &calib)?;
    write_json(&dir.path(RECIPE_FILE), recipe)?;
    Ok(done)
}

/// Compiles `dir` again, from its recipe and copies alone, into `out`.
pub fn recompile(dir: &ModelDir, out: &Path) -> Result<(Imported, Settings), ProverError> {
    let recipe = dir.recipe()?;
    let (onnx, calibration) = (dir.path(SOURCE_FILE), dir.path(CALIBRATION_FILE));
    compile(&recipe, &onnx, &calibration, out)
}

/// Compiles `model` (ONNX) calibrated on `samples` (our or EZKL's layout) into `out`, for
/// `backend`, `batch` samples per proof and a halo2 plan of `objective`.
pub fn compile_dir(
    model: &Path,
    samples: &[Vec<f64>],
    (backend, batch, objective): (BackendId, usize, Objective),
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
        shape: None,
        constraints: None,
        source_sha256: sha256_hex(&source),
        slots: None,
        graph_decoder: None,
    };
    backend
        .backend()
        .size(&imported.model, batch, objective, &mut settings)?;
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
    shape: Halo2Shape,
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
        shape: Some(shape),
        constraints: None,
        source_sha256: sha256_hex(&read_bytes(model)?),
        slots: Some(slots),
        graph_decoder: Some(graph_decoder),
    })
}

/// Which token ends a decoder graph's generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
    (slots, stop): (Slots, Stop),
    objective: Objective,
    out: &Path,
) -> Result<(Imported, Settings), ProverError> {
    let (imported, plan) = plan_decoder_graph(model, samples, (slots, stop), objective)?;
    let rows = (plan.k, plan.main_rows, plan.range_rows);
    let stop_token = plan.decoder.stop;
    let decoder = GraphDecoder { stop_token };
    let settings = generation_settings(model, rows, plan.shape, slots, decoder)?;
    let dir = ModelDir::new(out);
    write_json(&dir.path(MODEL_FILE), &imported.model)?;
    write_json(&dir.path(SETTINGS_FILE), &settings)?;
    write_json(&dir.path(ACCURACY_FILE), &imported.accuracy)?;
    Ok((imported, settings))
}

/// A decoder graph imported with the input shape `[1, P + T]` and its generation circuit
/// sized. It is calibrated on token sequences of that length: a longer sequence is cut to its
/// first `P + T` tokens (a prefix of a text is a text), a shorter one is refused.
pub fn plan_decoder_graph(
    model: &Path,
    samples: &[Vec<f64>],
    (slots, stop): (Slots, Stop),
    objective: Objective,
) -> Result<(Imported, DecodePlan), ProverError> {
    let total = slots.prompt + slots.gen;
    // Said here rather than by the import, which knows nothing of slots: a model that merely
    // takes integers would otherwise read as expecting `P + T` values.
    if let Some((i, s)) = samples.iter().enumerate().find(|(_, s)| s.len() < total) {
        let msg = format!(
            "calibration sample {i} has {} tokens; a decoder of {} prompt and {} generated slots \
             calibrates on {total} (set --prompt-slots and --gen-slots, or --forward to prove \
             one forward pass)",
            s.len(),
            slots.prompt,
            slots.gen
        );
        return Err(ProverError::artifact(model, msg));
    }
    let opts = Options {
        input_shapes: Some(vec![vec![1, total]]),
    };
    let samples: Vec<Vec<f64>> = samples.iter().map(|s| s[..total].to_vec()).collect();
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
    let plan = DecodePlan::optimized(decoder, objective)
        .map_err(|e| ProverError::artifact(model, e.to_string()))?;
    Ok((imported, plan))
}
