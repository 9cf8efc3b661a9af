//! `zkinfer verify`: exit 0 if and only if the proof (a request's, or an aggregation of several)
//! is valid (1 if it is not, 2 on bad input).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::json;
use zkinfer_prover::artifacts::{read_json, ModelDir};
use zkinfer_prover::keys::load_verifier;
use zkinfer_prover::prove::ProofFile;
use zkinfer_prover::verify::verify_file;

pub fn run(dir: &Path, proof: &Path, json_out: bool) -> Result<ExitCode> {
    let value: serde_json::Value = read_json(proof)
        .with_context(|| format!("{}: not a zkinfer proof file", proof.display()))?;
    if value["backend"] == zkinfer_aggregate::prove::AGGREGATION_BACKEND {
        return aggregation(dir, proof, value, json_out);
    }
    let keys = load_verifier(&ModelDir::new(dir))?;
    let file: ProofFile = serde_json::from_value(value)
        .with_context(|| format!("{}: not a zkinfer proof file", proof.display()))?;
    let result = verify_file(keys.as_ref(), &file);
    report(proof, result, json!(file.instances), json_out)
}

/// An aggregation proof, checked with the keys for its number of requests and leaves.
fn aggregation(
    dir: &Path,
    proof: &Path,
    value: serde_json::Value,
    json_out: bool,
) -> Result<ExitCode> {
    let file: zkinfer_aggregate::AggregateProofFile = serde_json::from_value(value)
        .with_context(|| format!("{}: not a zkinfer aggregation proof file", proof.display()))?;
    let agg =
        zkinfer_aggregate::AggregateDir::tree(ModelDir::new(dir), file.requests.len(), file.leaves);
    agg.check()?;
    let keys = zkinfer_aggregate::keys::load(&agg, false)?;
    let result = zkinfer_aggregate::verify_file(&keys, &file);
    report(proof, result, json!(file.requests), json_out)
}

fn report(
    proof: &Path,
    result: Result<(), zkinfer_prover::verify::Rejection>,
    instances: serde_json::Value,
    json_out: bool,
) -> Result<ExitCode> {
    if json_out {
        let reason = result.as_ref().err().map(|e| e.to_string());
        super::print_json(
            &json!({ "valid": result.is_ok(), "reason": reason, "instances": instances }),
        );
    } else {
        match &result {
            Ok(()) => println!("valid proof: {}", proof.display()),
            Err(e) => eprintln!("INVALID proof {}: {e}", proof.display()),
        }
    }
    Ok(if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
