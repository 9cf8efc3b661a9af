//! `zkinfer verifier`: the model's Solidity verifier (split into parts under EIP-170 when needed)
//! and its `IUsageVerifier` adapter (or, with `--aggregation N`, the verifier of the model's
//! aggregation proofs and its `IBatchVerifier` adapter): sources, creation code, ABI and a manifest.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;
use zkinfer_contracts::artifact::build;
use zkinfer_contracts::solc::Solc;
use zkinfer_prover::artifacts::ModelDir;

/// `aggregation`: the number of requests and of leaves of the aggregation keys to use.
pub fn run(
    dir: &Path,
    out: &Path,
    aggregation: Option<(usize, usize)>,
    json_out: bool,
) -> Result<ExitCode> {
    let solc = Solc::find()?;
    let artifact = match aggregation {
        None => build(&ModelDir::new(dir), &solc)?,
        Some((n, leaves)) => {
            let agg = zkinfer_aggregate::AggregateDir::tree(ModelDir::new(dir), n, leaves);
            agg.check()?;
            zkinfer_contracts::artifact::build_aggregation(&agg, &solc)?
        }
    };
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
        let interface = if aggregation.is_some() {
            "IBatchVerifier"
        } else {
            "IUsageVerifier"
        };
        println!(
            "  {} ({interface}): {} bytes of runtime code",
            manifest.adapter.contract, manifest.adapter.runtime_size
        );
    }
    Ok(ExitCode::SUCCESS)
}
