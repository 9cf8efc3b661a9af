//! `zkinfer compile`: ONNX → quantized IR, settings and accuracy report.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Result};
use serde_json::json;
use zkinfer_circuits::gpt::reference::Slots;
use zkinfer_circuits::import::Options;

pub fn run(
    model: &Path,
    calibration: Option<&Path>,
    input_shapes: &[Vec<usize>],
    batch: usize,
    slots: (usize, usize),
    backend: super::Backend,
    out: &Path,
    json_out: bool,
) -> Result<ExitCode> {
    if zkinfer_circuits::gpt::import::is_decoder(model) {
        return decoder(model, slots, backend, out, json_out);
    }
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
    let opts = Options {
        input_shapes: (!input_shapes.is_empty()).then(|| input_shapes.to_vec()),
    };
    let (imported, settings) =
        zkinfer_prover::compile::compile_dir(model, &samples, backend.id(), batch, &opts, out)?;
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

/// A decoder compiles for generation: no calibration, the circuit sized by its slots.
fn decoder(
    model: &Path,
    (prompt, gen): (usize, usize),
    backend: super::Backend,
    out: &Path,
    json_out: bool,
) -> Result<ExitCode> {
    if backend != super::Backend::Halo2 {
        bail!("{}: decoders compile for halo2 only (the generation circuit has no Groth16 gadgets yet)", model.display());
    }
    let slots = Slots { prompt, gen };
    let (gpt, settings) = zkinfer_prover::compile::compile_decoder(model, slots, out)?;
    let size = json!({ "k": settings.k, "main_rows": settings.main_rows, "range_rows": settings.range_rows });
    if json_out {
        super::print_json(&json!({
            "dir": out, "backend": backend.id(), "kind": "decoder", "params": gpt.params(),
            "vocab": gpt.vocab, "stop_token": gpt.stop, "context": gpt.context,
            "prompt_slots": prompt, "gen_slots": gen, "size": size,
        }));
    } else {
        println!("compiled decoder {} -> {}", model.display(), out.display());
        println!(
            "  {} parameters, {} blocks, d_model {}, vocabulary {} (stop token {}); {prompt} prompt + {gen} generated slots",
            gpt.params(), gpt.blocks.len(), gpt.d_model, gpt.vocab, gpt.stop
        );
        println!("  circuit {size}");
    }
    Ok(ExitCode::SUCCESS)
}
