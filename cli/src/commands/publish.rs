//! `zkinfer publish`: a model directory's public artifacts and terms as an audit bundle.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use alloy::primitives::{Address, U256};
use anyhow::Result;
use clap::Args;
use serde_json::json;
use zkinfer_audit::Terms;
use zkinfer_contracts::solc::Solc;
use zkinfer_prover::artifacts::ModelDir;

/// The terms the model is (or will be) registered on, as `chain register` takes them.
#[derive(Args)]
pub struct TermsArgs {
    /// Receives the royalty.
    #[arg(long, requires_all = ["provider", "royalty_bps", "price_in", "price_out"])]
    owner: Option<Address>,
    #[arg(long, requires = "owner")]
    provider: Option<Address>,
    /// Owner's share in basis points.
    #[arg(long, requires = "owner")]
    royalty_bps: Option<u16>,
    #[arg(long, requires = "owner")]
    price_in: Option<U256>,
    #[arg(long, requires = "owner")]
    price_out: Option<U256>,
    /// Payment token; default ETH.
    #[arg(long, default_value_t = Address::ZERO)]
    token: Address,
}

impl TermsArgs {
    fn terms(&self) -> Option<Terms> {
        Some(Terms {
            owner: self.owner?,
            provider: self.provider?,
            royalty_bps: self.royalty_bps?,
            price_in: self.price_in?,
            price_out: self.price_out?,
            token: self.token,
        })
    }
}

pub fn run(dir: &Path, out: &PathBuf, terms: &TermsArgs, json_out: bool) -> Result<ExitCode> {
    let solc = Solc::find()?;
    let index = zkinfer_audit::publish(&ModelDir::new(dir), &solc, terms.terms(), out)?;
    if json_out {
        super::print_json(&json!({ "bundle": out, "index": index }));
    } else {
        println!("published {} -> {}", dir.display(), out.display());
        println!("  {} files, backend {}", index.files.len(), index.backend);
        if index.terms.is_none() {
            println!("  no terms published: an on-chain audit needs them (--owner …)");
        }
    }
    Ok(ExitCode::SUCCESS)
}
