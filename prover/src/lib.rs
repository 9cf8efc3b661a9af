//! How zkinfer makes proofs: on-disk artifacts written atomically ([`artifacts`]), key generation
//! with caching ([`keys`]), parallel proving ([`prove`]) and verification ([`verify`]), for two
//! proof systems behind one [`backend::Backend`] trait, chosen by a typed [`backend::BackendId`]:
//! halo2 with a KZG structured reference string ([`srs`], [`transcript`]) and Groth16
//! ([`groth16`]). Loaded keys prove and verify behind [`keys::ProvingBackend`] and
//! [`keys::VerifyingBackend`]; [`deliver`] opens the output a settlement published for its client.

pub mod artifacts;
pub mod backend;
pub mod compile;
pub mod deliver;
pub mod generate;
pub mod groth16;
pub mod inputs;
pub mod inspect;
pub mod keys;
pub mod prove;
pub mod ptau;
pub mod srs;
pub mod transcript;
pub mod verify;

pub use halo2curves::bn256::{Bn256, Fr, G1Affine};

pub use backend::BackendId;
pub use transcript::TRANSCRIPT;

#[derive(Debug, thiserror::Error)]
pub enum ProverError {
    #[error("{path}: {msg}")]
    Artifact { path: String, msg: String },
    #[error("{path}: {err}")]
    Io { path: String, err: std::io::Error },
    #[error(transparent)]
    Witness(#[from] zkinfer_circuits::halo2::circuit::WitnessError),
    #[error(transparent)]
    Model(#[from] zkinfer_circuits::graph::GraphError),
    #[error(transparent)]
    Usage(#[from] zkinfer_circuits::usage::UsageError),
    #[error("proof system: {0}")]
    Backend(String),
    /// The circuit would not fit this machine's memory.
    #[error("{0}")]
    Memory(String),
}

impl ProverError {
    pub fn artifact(path: &std::path::Path, msg: impl Into<String>) -> Self {
        Self::Artifact {
            path: path.display().to_string(),
            msg: msg.into(),
        }
    }

    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            err: source,
        }
    }
}
