//! `zkinfer setup`: SRS and keys, reused when nothing changed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Result};
use serde_json::json;
use zkinfer_prover::artifacts::ModelDir;
use zkinfer_prover::keys::{setup, SrsSource};

pub fn run(dir: &Path, srs: Option<PathBuf>, dev_srs: bool, json_out: bool) -> Result<ExitCode> {
    let groth16 = !ModelDir::new(dir)
        .settings()?
        .backend
        .backend()
        .universal_srs();
    let source = match (srs, dev_srs) {
        (Some(_), _) if groth16 => bail!("Groth16 keys are circuit-specific: it takes no --srs (setup runs a dev setup)"),
        _ if groth16 => SrsSource::Dev,
        (Some(p), _) => SrsSource::File(p),
        (None, true) => SrsSource::Dev,
        (None, false) => bail!("choose an SRS: --srs FILE (halo2 ParamsKZG format) or --dev-srs (insecure, for development)"),
    };
    let report = setup(&ModelDir::new(dir), &source)?;
    let m = &report.manifest;
    if json_out {
        super::print_json(
            &json!({ "dir": dir, "cached": report.cached, "seconds": report.seconds, "manifest": m }),
        );
    } else {
        println!(
            "{} keys for {} (k = {}) in {:.2} s",
            if report.cached { "reused" } else { "generated" },
            dir.display(),
            m.k,
            report.seconds
        );
        println!("  vk sha256 {}", m.vk_sha256);
        if m.insecure_dev_srs {
            println!(
                "  WARNING: insecure dev setup ({}); proofs made with these keys can be forged",
                m.srs_source
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
