//! The service's configuration file (JSON): which models it serves under which Settlement model
//! ids, on which chain, with which key, and its limits. Relative paths are read from the file's
//! directory, so a configuration moves with the files it names.

use std::path::{Path, PathBuf};

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use serde::{Deserialize, Serialize};

use crate::store::StoreConfig;
use crate::ServeError;

/// The chain the service settles on.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum ChainConfig {
    /// The embedded chain in this state file, shared (under its lock) with the clients' CLI.
    State(PathBuf),
    /// A node's JSON-RPC URL.
    RpcUrl(String),
}

/// One served model.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The compiled model directory, with its keys set up.
    pub dir: PathBuf,
    /// Its id in Settlement.
    pub model_id: u64,
}

/// Limits that keep one client from starving the others.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// The largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Unfinished jobs beyond which new openings get 429.
    pub max_queue: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1 << 20,
            max_queue: 256,
        }
    }
}

/// The whole configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on; port 0 picks a free one (the bound address is printed).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The job store: a SQLite file (one server), or a `postgres://` URL (servers on several
    /// machines sharing one queue).
    pub store: StoreConfig,
    /// The chain.
    pub chain: ChainConfig,
    /// The Settlement contract.
    pub settlement: Address,
    /// The models served.
    pub models: Vec<ModelConfig>,
    /// A file holding the provider's hex private key; without it, `$ZKINFER_PRIVATE_KEY`.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Sign as anvil's well-known dev account N instead (dev chains only).
    #[serde(default)]
    pub dev_account: Option<usize>,
    /// Proving workers in this process (0: the API and follower only, in front of workers
    /// elsewhere on a shared store).
    #[serde(default = "one")]
    pub workers: usize,
    /// How often the follower reads the chain and idle workers look for jobs, in milliseconds.
    #[serde(default = "default_poll_ms")]
    pub poll_ms: u64,
    /// How long a worker holds a job before another may take it over, in seconds.
    #[serde(default = "default_lease")]
    pub lease_seconds: u64,
    /// The block the follower starts from on a store that has no cursor yet (a node's whole
    /// history need not be read).
    #[serde(default)]
    pub start_block: u64,
    /// Proving time assumed for a model before any proof of it was timed, in seconds.
    #[serde(default = "default_prove_estimate")]
    pub prove_seconds_estimate: f64,
    /// Request limits.
    #[serde(default)]
    pub limits: Limits,
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn one() -> usize {
    1
}
fn default_poll_ms() -> u64 {
    500
}
fn default_lease() -> u64 {
    600
}
fn default_prove_estimate() -> f64 {
    60.0
}

impl Config {
    /// Reads and checks the configuration at `path`; relative paths in it become relative to
    /// its directory.
    pub fn load(path: &Path) -> Result<Self, ServeError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ServeError::Config(format!("{}: {e}", path.display())))?;
        let mut c: Config = serde_json::from_str(&text)
            .map_err(|e| ServeError::Config(format!("{}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let StoreConfig::Sqlite(p) = &mut c.store {
            resolve(p);
        }
        if let ChainConfig::State(p) = &mut c.chain {
            resolve(p);
        }
        if let Some(p) = &mut c.key_file {
            resolve(p);
        }
        for m in &mut c.models {
            resolve(&mut m.dir);
        }
        c.check()
            .map_err(|e| ServeError::Config(format!("{}: {e}", path.display())))?;
        Ok(c)
    }

    fn check(&self) -> Result<(), String> {
        if self.models.is_empty() {
            return Err("\"models\" is empty: name at least one model directory and id".into());
        }
        let mut ids: Vec<u64> = self.models.iter().map(|m| m.model_id).collect();
        ids.sort_unstable();
        if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("model id {} is listed twice", w[0]));
        }
        if self.poll_ms == 0 || self.lease_seconds == 0 {
            return Err("\"poll_ms\" and \"lease_seconds\" must be positive".into());
        }
        if self.dev_account.is_some() && self.key_file.is_some() {
            return Err("give \"key_file\" or \"dev_account\", not both".into());
        }
        if matches!(self.dev_account, Some(i) if i >= zkinfer_contracts::chain::DEV_KEYS.len()) {
            return Err("\"dev_account\" is 0-3".into());
        }
        Ok(())
    }

    /// The provider's signing key: the key file, else `$ZKINFER_PRIVATE_KEY`, else the dev
    /// account. The embedded chain needs no signature and defaults to dev account 0.
    pub fn signer(&self) -> Result<PrivateKeySigner, ServeError> {
        if let Some(i) = self.dev_account {
            return Ok(zkinfer_contracts::keys::dev(i));
        }
        match zkinfer_contracts::keys::load(self.key_file.as_deref())? {
            Some(k) => Ok(k),
            None if matches!(self.chain, ChainConfig::State(_)) => {
                Ok(zkinfer_contracts::keys::dev(0))
            }
            None => Err(ServeError::Config(format!(
                "a node needs the provider's key: set \"key_file\" or ${}",
                zkinfer_contracts::keys::KEY_ENV
            ))),
        }
    }
}
