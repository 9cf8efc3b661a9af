//! Where zkinfer proofs are checked on-chain: Solidity verifiers generated from a model's verifying
//! key behind one `IUsageVerifier` interface ([`generate`], [`artifact`]), the pinned solc driver
//! ([`solc`]), the Settlement contract and its client ([`settlement`]), and the chains they run on
//! ([`chain`]: embedded revm or a node through alloy).

pub mod artifact;
pub mod chain;
pub mod claim;
pub mod generate;
pub mod keys;
pub mod settlement;
pub mod solc;
pub mod yul;

use std::path::{Path, PathBuf};

pub use generate::I_USAGE_VERIFIER_SOL;

#[derive(Debug, thiserror::Error)]
pub enum ContractsError {
    #[error("{0}")]
    Toolchain(String),
    #[error("Solidity compilation failed: {0}")]
    Compile(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Model(String),
    #[error("bad proof: {0}")]
    Proof(String),
    #[error("bad state: {0}")]
    State(String),
    #[error("chain: {0}")]
    Chain(String),
    #[error("key: {0}")]
    Key(String),
    #[error("transaction reverted: {0}")]
    Reverted(String),
}

impl ContractsError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Writes through a temporary file and a rename, so readers never see a partial file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ContractsError> {
    zkinfer_prover::artifacts::write_atomic(path, bytes)
        .map_err(|e| ContractsError::State(e.to_string()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn interface_declares_verify_over_the_instance_list() {
        assert!(super::I_USAGE_VERIFIER_SOL
            .contains("function verify(bytes calldata proof, uint256[] calldata instances) external view returns (bool);"));
    }
}
