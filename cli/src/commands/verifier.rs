//! `zkinfer verifier`: the model's Solidity verifier (split into parts under EIP-170 when needed)
//! and its `IUsageVerifier` adapter: sources, creation code, ABI and a manifest.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;
use zkinfer_contracts::artifact::build;
use zkinfer_contracts::solc::Solc;
use zkinfer_prover::artifacts::ModelDir;

pub fn run(dir: &Path, out: &Path, json_out: bool) -> Result<ExitCode> {
    let solc = Solc::find()?;
    let artifact = build(&ModelDir::new(dir), &solc)?;
    let manifest = artifact.write(out)?;
    if json_out {
        super::print_json(&json!({ "out": out, "manifest": manifest }));
    } else {
        println!("verifier for {} -> {}", dir.display(), out.display());
        println!(
            "  backend {}, compiler {} {} (evm {}, optimizer runs {})",
            manifest.backend,
            manifest.compiler.compiler,
            manifest.compiler.version,
            manifest.compiler.evm_version,
            manifest.compiler.optimizer_runs
        );
        for p in &manifest.parts {
            println!("  {}: {} bytes of runtime code", p.contract, p.runtime_size);
        }
        println!(
            "  {} (IUsageVerifier): {} bytes of runtime code",
            manifest.adapter.contract, manifest.adapter.runtime_size
        );
    }
    Ok(ExitCode::SUCCESS)
}
