//! `zkinfer inspect`: the circuit's shape and estimated prover memory.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use zkinfer_prover::artifacts::ModelDir;
use zkinfer_prover::inspect::stats;

pub fn run(dir: &Path, json_out: bool) -> Result<ExitCode> {
    let md = ModelDir::new(dir);
    let backend = md.settings()?.backend;
    if backend == zkinfer_prover::BackendId::Groth16 {
        let n = zkinfer_prover::groth16::constraint_count(md.shape()?)?;
        // the usage statement and the output ciphertext's words, as for halo2
        let instances =
            zkinfer_circuits::witness::num_instances(&md.model()?, md.settings()?.batch);
        if json_out {
            super::print_json(
                &serde_json::json!({ "backend": backend, "constraints": n, "public_instances": instances }),
            );
        } else {
            println!(
                "{}: Groth16 R1CS with {n} constraints, {instances} public instances",
                dir.display()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let s = stats(&md.halo2()?);
    if json_out {
        super::print_json(&serde_json::to_value(&s)?);
    } else {
        println!(
            "{}: k = {} ({} rows; main lane {} used, range lane {} used)",
            dir.display(),
            s.k,
            s.rows,
            s.main_rows_used,
            s.range_rows_used
        );
        println!(
            "  columns: {} advice, {} fixed, {} selectors, {} instance; {} lookups; {} gates of degree ≤ {}",
            s.advice_columns, s.fixed_columns, s.selectors, s.instance_columns, s.lookups, s.gates, s.degree
        );
        println!(
            "  public instances: {}; estimated prover memory: {:.0} MiB",
            s.public_instances,
            s.estimated_prover_bytes as f64 / (1 << 20) as f64
        );
    }
    Ok(ExitCode::SUCCESS)
}
