//! Many request proofs of one model, one proof for the chain.
//!
//! A provider proves each request with the Poseidon transcript (`zkinfer prove
//! --for-aggregation`), then folds N of them into one aggregation proof: snark-verifier-sdk's
//! aggregation circuit runs the succinct halo2 verifier of every inner proof, which reduces each
//! to a KZG accumulator (a pair of G1 points whose pairing check is the proof's validity), and
//! combines them with a random linear combination into one accumulator.
//!
//! The aggregation proof's public instances are the accumulator's [`ACCUMULATOR_LIMBS`] limbs
//! followed, request by request, by every inner proof's instances (the usage statement and the
//! output ciphertext), so a contract builds those from its own storage exactly as it does for a
//! single settlement. It is verified with the Keccak EVM transcript like any single proof.
//!
//! Why this is sound: the circuit constrains the accumulator to be the combination of the inner
//! verifiers' outputs for exactly the exposed instances and for the model's verifying key (loaded
//! as constants, so the aggregation key is specific to one model and one N). Accepting requires
//! both the aggregation proof and the pairing check of the accumulator: the generated Solidity
//! verifier folds the accumulator into its own final pairing, and [`verify`] decides it here. An
//! accumulator that passes for an invalid inner proof would need the prover to predict the
//! combination's challenges, which the circuit derives from every inner proof by Fiat-Shamir.
//!
//! A tree (`--leaves M`) aggregates N/M proofs per leaf and the M leaf proofs in a root, so no
//! circuit holds more than max(N/M, M) verifiers. The root reads each leaf's accumulator from the
//! leaf's instances and folds it into its own with the leaf's proof: the root's single pairing
//! check then stands for every leaf's and so for every request's, and the root exposes only the
//! requests' statements after its accumulator, exactly what a single aggregation of N exposes.

pub mod circuit;
pub mod keys;
pub mod prove;
pub mod snark;
pub mod tree;
pub mod verify;

pub use circuit::ACCUMULATOR_LIMBS;
pub use keys::{setup, AggregateDir, AggregateManifest};
pub use prove::{aggregate, AggregateProofFile};
/// Limbs per accumulator coordinate, and bits per limb.
pub use snark_verifier_sdk::{BITS as LIMB_BITS, LIMBS};
pub use tree::aggregate_tree;
pub use verify::verify_file;

use zkinfer_prover::ProverError;

/// Why an aggregation could not be made or checked.
#[derive(Debug, thiserror::Error)]
pub enum AggregateError {
    /// A model-directory or key artifact is missing or wrong.
    #[error(transparent)]
    Prover(#[from] ProverError),
    /// One inner proof file is unusable; the message names why.
    #[error("{path}: {msg}")]
    Proof {
        /// The proof file.
        path: String,
        /// What is wrong with it.
        msg: String,
    },
    /// The request names no proofs, or proofs that cannot go together.
    #[error("{0}")]
    Request(String),
    /// The aggregation circuit or its keys failed.
    #[error("aggregation circuit: {0}")]
    Circuit(String),
}

impl AggregateError {
    pub(crate) fn proof(path: &std::path::Path, msg: impl Into<String>) -> Self {
        Self::Proof {
            path: path.display().to_string(),
            msg: msg.into(),
        }
    }
}
