//! One thread's way to the chain. The embedded chain is a state file the service shares with its
//! clients' CLI, so each use loads it under its lock and saves it when it sent a transaction; a
//! node is connected once and reconnected after a failure.

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use zkinfer_contracts::chain::embedded::Embedded;
use zkinfer_contracts::chain::rpc::Rpc;
use zkinfer_contracts::chain::Chain;
use zkinfer_contracts::ContractsError;

use crate::config::ChainConfig;

/// A thread's connection to the configured chain.
pub struct ChainAccess {
    config: ChainConfig,
    signer: PrivateKeySigner,
    rpc: Option<Rpc>,
}

impl ChainAccess {
    /// Access to `config`'s chain, sending as `signer`.
    pub fn new(config: ChainConfig, signer: PrivateKeySigner) -> Self {
        Self {
            config,
            signer,
            rpc: None,
        }
    }

    /// Who sends the service's transactions.
    pub fn sender(&self) -> Address {
        self.signer.address()
    }

    /// Runs `f` on the chain. `write`: `f` may send a transaction, so the embedded chain is
    /// saved after it (a reverted transaction still used its nonce).
    pub fn with<T>(
        &mut self,
        write: bool,
        f: impl FnOnce(&mut dyn Chain) -> Result<T, ContractsError>,
    ) -> Result<T, ContractsError> {
        match &self.config {
            ChainConfig::State(path) => {
                if !path.exists() {
                    // A missing state would silently start an empty chain without Settlement.
                    return Err(ContractsError::Chain(format!(
                        "{}: no chain state here (deploy Settlement first)",
                        path.display()
                    )));
                }
                Embedded::with_locked(path, write, |c| f(c))
            }
            ChainConfig::RpcUrl(url) => {
                if self.rpc.is_none() {
                    self.rpc = Some(Rpc::connect(url, std::slice::from_ref(&self.signer))?);
                }
                let out = f(self.rpc.as_mut().expect("connected above"));
                if matches!(out, Err(ContractsError::Chain(_))) {
                    self.rpc = None;
                }
                out
            }
        }
    }
}

/// Whether an error is the chain being unreachable or slow (worth a retry), rather than an
/// answer.
pub fn is_transient(e: &ContractsError) -> bool {
    matches!(e, ContractsError::Chain(_) | ContractsError::Io { .. })
}
