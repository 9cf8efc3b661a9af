//! `zkinfer prove`: run the model on each input file and prove it, in parallel.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use serde_json::json;
use zkinfer_circuits::field::{fr_parse, random_fr, Fr};
use zkinfer_circuits::halo2::Witness;
use zkinfer_prover::artifacts::{write_json, ModelDir};
use zkinfer_prover::keys::load_prover;
use zkinfer_prover::prove::prove_many;
use zkinfer_prover::transcript::TranscriptKind;

pub fn run(
    dir: &Path,
    inputs: &[std::path::PathBuf],
    request_id: &str,
    salt: Option<&str>,
    transcript: TranscriptKind,
    out: &Path,
    json_out: bool,
) -> Result<ExitCode> {
    let keys = load_prover(&ModelDir::new(dir))?;
    let first = fr_parse(request_id).context("--request-id")?;
    let salt = salt.map(fr_parse).transpose().context("--salt")?;
    let model = keys.model();
    let mut witnesses = Vec::new();
    for (i, path) in inputs.iter().enumerate() {
        let rows = crate::input::read_quantized(path, model)?;
        if rows.len() > keys.batch() {
            return Err(anyhow!(
                "{}: {} rows exceed the batch size {} set at compile",
                path.display(),
                rows.len(),
                keys.batch()
            ));
        }
        witnesses.push(Witness {
            rows,
            request_id: first + Fr::from(i as u64),
            salt: salt.unwrap_or_else(random_fr),
        });
    }
    let results = prove_many(keys.as_ref(), witnesses, transcript);
    let mut report = Vec::new();
    for (i, (path, r)) in inputs.iter().zip(results).enumerate() {
        let proved = r.with_context(|| format!("{}: proving failed", path.display()))?;
        let proof_path = out.join(format!("proof-{i}.json"));
        let opening_path = out.join(format!("opening-{i}.json"));
        write_json(&proof_path, &proved.file)?;
        write_json(&opening_path, &proved.opening)?;
        if keys.manifest().backend == zkinfer_prover::BackendId::Groth16 {
            // snarkjs's formats, for `snarkjs groth16 verify verification_key.json public.json proof.json`
            let bytes = hex::decode(proved.file.proof.trim_start_matches("0x"))?;
            let instances = proved.file.instances.parse()?;
            let proof_json = zkinfer_prover::groth16::snarkjs_proof(&bytes)
                .context("encoding the proof for snarkjs")?;
            write_json(&out.join(format!("snarkjs-proof-{i}.json")), &proof_json)?;
            write_json(
                &out.join(format!("snarkjs-public-{i}.json")),
                &zkinfer_prover::groth16::snarkjs_public(&instances),
            )?;
        }
        let argmax: Vec<usize> = proved
            .opening
            .output_real
            .iter()
            .map(|r| zkinfer_circuits::import::argmax(r))
            .collect();
        if !json_out {
            println!(
                "{} -> {} ({:.2} s)",
                path.display(),
                proof_path.display(),
                proved.seconds
            );
            println!(
                "  usage: n_in = {}, n_out = {}",
                proved.opening.n_in, proved.opening.n_out
            );
            for (row, am) in proved.opening.output_real.iter().zip(&argmax) {
                let shown: Vec<String> = row.iter().map(|v| format!("{v:.3}")).collect();
                println!("  output [{}] argmax {am}", shown.join(", "));
            }
        }
        report.push(json!({
            "input": path, "proof": proof_path, "opening": opening_path, "seconds": proved.seconds,
            "n_in": proved.opening.n_in, "n_out": proved.opening.n_out, "instances": proved.file.instances,
            "output": proved.opening.output_real, "argmax": argmax,
        }));
    }
    if json_out {
        super::print_json(&json!({ "proofs": report }));
    }
    Ok(ExitCode::SUCCESS)
}
