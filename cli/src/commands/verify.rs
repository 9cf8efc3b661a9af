//! `zkinfer verify`: exit 0 if and only if the proof is valid (1 if it is not, 2 on bad input).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::json;
use zkinfer_prover::artifacts::{read_json, ModelDir};
use zkinfer_prover::keys::load_verifier;
use zkinfer_prover::prove::ProofFile;
use zkinfer_prover::verify::verify_file;

pub fn run(dir: &Path, proof: &Path, json_out: bool) -> Result<ExitCode> {
    let keys = load_verifier(&ModelDir::new(dir))?;
    let file: ProofFile = read_json(proof)
        .with_context(|| format!("{}: not a zkinfer proof file", proof.display()))?;
    let result = verify_file(keys.as_ref(), &file);
    if json_out {
        let reason = result.as_ref().err().map(|e| e.to_string());
        super::print_json(
            &json!({ "valid": result.is_ok(), "reason": reason, "instances": file.instances }),
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
