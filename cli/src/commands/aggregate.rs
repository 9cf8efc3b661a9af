//! `zkinfer aggregate`: N request proofs of one model (made with `prove --for-aggregation`) folded
//! into one aggregation proof for `Settlement.settleBatch`. The keys for N are made on first use
//! (minutes) and kept in `DIR/aggregate-N/`; with `--leaves M`, a tree's root keys are kept in
//! `DIR/aggregate-{N/M}xM/` beside its leaves' in `DIR/aggregate-{N/M}/`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Result};
use serde_json::json;
use zkinfer_aggregate::keys::{load, setup, AggregateDir};
use zkinfer_aggregate::{aggregate_tree, verify_file};
use zkinfer_prover::artifacts::{write_json, ModelDir};
use zkinfer_prover::keys::SrsSource;

/// What `zkinfer aggregate` was asked for.
pub struct Args<'a> {
    pub dir: &'a Path,
    pub proofs: &'a [PathBuf],
    pub out: &'a Path,
    pub srs: Option<PathBuf>,
    pub dev_srs: bool,
    pub k: Option<u32>,
    pub leaves: usize,
}

pub fn run(a: Args<'_>, json_out: bool) -> Result<ExitCode> {
    let source = match (a.srs, a.dev_srs) {
        (Some(p), _) => SrsSource::File(p),
        (None, true) => SrsSource::Dev,
        (None, false) => bail!(
            "choose the aggregation SRS: --srs FILE (the model's setup, at least 2^k points) or --dev-srs (insecure, for development)"
        ),
    };
    if a.proofs.is_empty() {
        bail!("no proofs to aggregate");
    }
    let dir = AggregateDir::tree(ModelDir::new(a.dir), a.proofs.len(), a.leaves);
    dir.check()?;
    // Every proof is checked before keys are made: a wrong one is named in seconds, not minutes.
    let model = zkinfer_aggregate::keys::model_keys(&dir.model)?;
    for p in a.proofs {
        zkinfer_aggregate::snark::load(&model, p)?;
    }
    let report = setup(&dir, &source, a.k)?;
    let agg = aggregate_tree(&dir, a.proofs)?;
    let keys = load(&dir, false)?;
    // Checked before it is written: a file here is a proof that verifies.
    verify_file(&keys, &agg.file)?;
    write_json(a.out, &agg.file)?;
    let m = &keys.manifest;
    if json_out {
        super::print_json(&json!({
            "out": a.out, "requests": m.requests, "leaves": m.leaves, "k": m.shape.k,
            "advice_columns": m.shape.advice,
            "keys_cached": report.cached, "setup_seconds": report.seconds,
            "aggregate_seconds": agg.seconds, "vk_sha256": m.vk_sha256,
        }));
    } else {
        let tree = match m.leaves {
            1 => String::new(),
            l => format!(" (a tree of {l} leaves of {})", m.requests / l),
        };
        println!(
            "aggregated {} proofs{tree} -> {} in {:.1} s",
            m.requests,
            a.out.display(),
            agg.seconds
        );
        println!(
            "  keys {} ({}, k = {}, {} advice columns){}",
            dir.dir().display(),
            if report.cached { "reused" } else { "generated" },
            m.shape.k,
            m.shape.advice,
            if report.cached {
                String::new()
            } else {
                format!(" in {:.1} s", report.seconds)
            }
        );
        if m.insecure_dev_srs {
            println!(
                "  WARNING: insecure dev SRS; aggregation proofs with these keys can be forged"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
