//! What an auditor runs, trusting no provider: [`publish`] writes what a model's deployment was
//! made from (the ONNX file, its compile recipe and calibration set, the SRS or how to make it,
//! the settings, the verifying key, the verifier's sources and code, and the published terms) as
//! a bundle whose [`bundle::BUNDLE_FILE`] lists every file's SHA-256. [`rebuild`] compiles the
//! model again from the bundle alone in a fresh directory — nothing cached — and compares each
//! artifact byte for byte; [`onchain`] compares the verifier's runtime code on a chain, the
//! model's registration, and re-verifies every settled proof off-chain with the rebuilt key.
//! Each comparison is a [`report::Row`]; the audit passes only when every row does.
//!
//! Soundness rests on determinism: compiling, key generation and verifier generation are
//! deterministic functions of the bundle's inputs (no platform float, no map order, no time), so
//! an honest deployment rebuilds exactly and anything else shows as a mismatch.

#![warn(missing_docs)]

pub mod bundle;
pub mod onchain;
pub mod publish;
pub mod rebuild;
pub mod report;

pub use bundle::{Bundle, Terms};
pub use publish::publish;
pub use rebuild::{rebuild, Rebuilt};
pub use report::{Report, Row};

/// Why an audit could not run (a mismatch is not an error: it is a row of the report).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The bundle is missing, truncated, edited or not a bundle.
    #[error("bad bundle {path}: {msg}")]
    Bundle {
        /// The bundle or the file in it.
        path: String,
        /// What is wrong.
        msg: String,
    },
    /// Compiling, key generation or a model artifact failed.
    #[error(transparent)]
    Prover(#[from] zkinfer_prover::ProverError),
    /// Verifier generation, solc or the chain failed.
    #[error(transparent)]
    Contracts(#[from] zkinfer_contracts::ContractsError),
    /// A file could not be read or written.
    #[error("{path}: {err}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        err: std::io::Error,
    },
}

impl AuditError {
    pub(crate) fn bundle(path: &std::path::Path, msg: impl Into<String>) -> Self {
        Self::Bundle {
            path: path.display().to_string(),
            msg: msg.into(),
        }
    }

    pub(crate) fn io(path: &std::path::Path, err: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            err,
        }
    }
}
