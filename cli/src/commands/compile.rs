//! `zkinfer compile`: ONNX → quantized IR, settings and accuracy report.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Result};
use serde_json::json;
use zkinfer_circuits::decoder::Slots;
use zkinfer_circuits::import::Imported;
use zkinfer_prover::artifacts::Settings;
use zkinfer_prover::compile::{compile, Recipe, Stop, Target};

pub fn run(
    model: &Path,
    calibration: Option<&Path>,
    input_shapes: &[Vec<usize>],
    (batch, optimize): (usize, super::Optimize),
    decoding: Decoding,
    backend: super::Backend,
    out: &Path,
    json_out: bool,
) -> Result<ExitCode> {
    // a decoder is told apart by its graph: an integer (token) input; with --forward it is
    // compiled as any graph, one forward pass
    let tokens = !decoding.forward
        && zkinfer_circuits::import::takes_tokens(model)
            .map_err(|e| anyhow::anyhow!("{}: {e}", model.display()))?;
    let calib_path = calibration_path(model, calibration)?;
    let target = if tokens {
        Target::Decoder {
            slots: decoding.slots,
            stop: decoding.stop,
        }
    } else {
        Target::Graph {
            batch,
            input_shapes: (!input_shapes.is_empty()).then(|| input_shapes.to_vec()),
        }
    };
    let recipe = Recipe {
        backend: backend.id(),
        target,
        optimize: optimize.objective(),
    };
    let (imported, settings) = compile(&recipe, model, &calib_path, out)?;
    if tokens {
        return decoder(model, &calib_path, &imported, &settings, out, json_out);
    }
    if backend == super::Backend::Halo2 {
        // said now, not after a setup that would run out of memory
        let plan = zkinfer_prover::artifacts::ModelDir::new(out).halo2()?;
        if let Err(e) = zkinfer_prover::inspect::check_memory(&plan) {
            tracing::warn!("{e}");
        }
    }
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
            "inputs": imported.model.graph().inputs.iter().map(|i| json!({"name": i.name, "shape": i.shape, "scale": i.scale})).collect::<Vec<_>>(),
            "outputs": imported.model.graph().outputs.iter().zip(imported.model.output_shapes()).map(|(n, s)| json!({"name": n, "shape": s})).collect::<Vec<_>>(),
            "nodes": imported.model.graph().nodes.len(),
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

/// How a decoder compiles: for generation over `slots` ending at `stop`, or (`forward`) as one
/// forward pass.
pub struct Decoding {
    pub slots: Slots,
    pub stop: Stop,
    pub forward: bool,
}

/// The calibration set: `--calibration`, or calibration.json or input.json beside the model.
fn calibration_path(model: &Path, calibration: Option<&Path>) -> Result<std::path::PathBuf> {
    if let Some(p) = calibration {
        return Ok(p.to_path_buf());
    }
    let dir = model.parent().unwrap_or(Path::new("."));
    match ["calibration.json", "input.json"].iter().map(|f| dir.join(f)).find(|p| p.is_file()) {
        Some(p) => Ok(p),
        None => bail!("no calibration set: pass --calibration FILE (no calibration.json or input.json beside {})", model.display()),
    }
}

/// Reports a decoder graph compiled for generation over its slots, calibrated on token
/// sequences of `prompt + gen` ids.
fn decoder(
    model: &Path,
    calib_path: &Path,
    imported: &Imported,
    settings: &Settings,
    out: &Path,
    json_out: bool,
) -> Result<ExitCode> {
    let slots = settings
        .slots
        .expect("a decoder's settings record its slots");
    let size = json!({ "k": settings.k, "main_rows": settings.main_rows, "range_rows": settings.range_rows });
    let stop_token = settings.graph_decoder.as_ref().and_then(|g| g.stop_token);
    let acc = &imported.accuracy;
    let vocab = imported.model.output_shapes()[0]
        .last()
        .copied()
        .unwrap_or(0);
    if json_out {
        super::print_json(&json!({
            "dir": out, "backend": "halo2", "kind": "decoder", "vocab": vocab,
            "stop_token": stop_token, "prompt_slots": slots.prompt, "gen_slots": slots.gen,
            "nodes": imported.model.graph().nodes.len(), "size": size,
            "calibration": calib_path, "accuracy": acc,
        }));
    } else {
        println!("compiled decoder {} -> {}", model.display(), out.display());
        let stop = stop_token.map_or("none".to_string(), |t| t.to_string());
        println!(
            "  vocabulary {vocab} (stop token {stop}); {} prompt + {} generated slots; circuit {size}",
            slots.prompt, slots.gen
        );
        println!(
            "  next-token agreement with the float model on {} calibration sequences: {:.1}%",
            acc.samples,
            100.0 * acc.argmax_agreement
        );
    }
    Ok(ExitCode::SUCCESS)
}
