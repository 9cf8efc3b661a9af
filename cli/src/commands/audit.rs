//! `zkinfer audit`: rebuild a bundle from scratch and compare every artifact, then (given a chain)
//! the verifier's code, the model's registration and every settled proof. Exit 0 when everything
//! matches, 1 on any mismatch, 2 when the bundle is bad or the audit cannot run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use alloy::primitives::{Address, U256};
use anyhow::{bail, Result};
use clap::Args;
use zkinfer_audit::onchain::{audit_chain, Deployment};
use zkinfer_audit::{Bundle, Report};
use zkinfer_contracts::chain::embedded::Embedded;
use zkinfer_contracts::chain::rpc::Rpc;
use zkinfer_contracts::solc::Solc;

/// The chain to check the bundle against.
#[derive(Args)]
pub struct ChainArgs {
    /// JSON-RPC URL of a node (read only: no key needed).
    #[arg(long, conflicts_with = "state")]
    rpc_url: Option<String>,
    /// State file of the embedded chain.
    #[arg(long)]
    state: Option<PathBuf>,
    /// The Settlement contract the model is registered in.
    #[arg(long, requires = "model_id")]
    settlement: Option<Address>,
    /// The model's id in Settlement.
    #[arg(long, requires = "settlement")]
    model_id: Option<U256>,
}

pub fn run(bundle: &Path, chain: &ChainArgs, json_out: bool) -> Result<ExitCode> {
    let deployment = match (chain.settlement, chain.model_id) {
        (Some(settlement), Some(model_id)) => Some(Deployment {
            settlement,
            model_id,
        }),
        _ => None,
    };
    if deployment.is_some() && chain.rpc_url.is_none() && chain.state.is_none() {
        bail!("--settlement needs the chain: --rpc-url URL or --state FILE");
    }
    if deployment.is_none() && (chain.rpc_url.is_some() || chain.state.is_some()) {
        bail!("a chain to audit needs --settlement ADDR and --model-id N");
    }
    let opened = Bundle::open(bundle)?;
    let solc = Solc::find()?;
    let rebuilt = zkinfer_audit::rebuild(&opened, &solc)?;
    let mut rows = rebuilt.rows.clone();
    let mut described = None;
    if let Some(at) = deployment {
        let found = match (&chain.rpc_url, &chain.state) {
            (Some(url), _) => {
                let mut node = Rpc::connect(url, &[])?;
                described = Some(url.clone());
                audit_chain(&mut node, at, &opened, &rebuilt, &solc)?
            }
            (None, Some(state)) => {
                if !state.is_file() {
                    bail!("{}: no such chain state file", state.display());
                }
                let _lock = Embedded::lock(state)?;
                let mut embedded = Embedded::open(state)?;
                described = Some(format!("embedded ({})", state.display()));
                audit_chain(&mut embedded, at, &opened, &rebuilt, &solc)?
            }
            (None, None) => unreachable!("checked above"),
        };
        rows.extend(found);
    }
    let report = Report::new(bundle.display().to_string(), described, rows);
    if json_out {
        super::print_json(&serde_json::to_value(&report)?);
    } else {
        print!("{}", report.table());
        if matches!(
            opened.index.srs,
            zkinfer_audit::bundle::SrsRecord::Dev { .. }
        ) {
            println!(
                "note: the keys come from the INSECURE dev SRS: anyone can forge proofs under them"
            );
        }
        match report.mismatches().count() {
            0 => println!("audit passed: {} checks", report.rows.len()),
            n => println!(
                "audit FAILED: {n} of {} checks do not match",
                report.rows.len()
            ),
        }
    }
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
