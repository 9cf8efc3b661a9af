//! The Poseidon transcript proofs for aggregation are made with: snark-verifier's, with the
//! parameters snark-verifier-sdk's aggregation circuit hashes with (width 3, rate 2, 8 full and 57
//! partial rounds), so the circuit recomputes exactly these challenges.

use std::sync::OnceLock;

use halo2curves::ff::PrimeField;
use halo2curves::group::GroupEncoding;
use snark_verifier::halo2_base::poseidon::hasher::spec::OptimizedPoseidonSpec;
use snark_verifier::loader::native::NativeLoader;
use snark_verifier::system::halo2::transcript::halo2::{ChallengeScalar, PoseidonTranscript};

use super::Encoding;
use crate::{Fr, G1Affine};

/// Full rounds of the transcript's permutation.
pub const POSEIDON_R_F: usize = 8;
/// Partial rounds of the transcript's permutation.
pub const POSEIDON_R_P: usize = 57;
const T: usize = 3;
const RATE: usize = 2;

/// The transcript over a stream `S`.
pub type Transcript<S> = PoseidonTranscript<G1Affine, NativeLoader, S, T, RATE, 8, 57>;
/// The writer used by the prover.
pub type PoseidonWrite = Transcript<Vec<u8>>;
/// The challenge type of the Poseidon transcript.
pub type PoseidonChallenge = ChallengeScalar<G1Affine>;

/// The permutation's constants, computed once (they take a while).
fn spec() -> OptimizedPoseidonSpec<Fr, T, RATE> {
    static SPEC: OnceLock<OptimizedPoseidonSpec<Fr, T, RATE>> = OnceLock::new();
    SPEC.get_or_init(|| OptimizedPoseidonSpec::new::<POSEIDON_R_F, POSEIDON_R_P, 0>())
        .clone()
}

/// A writer for a new proof.
pub fn writer() -> PoseidonWrite {
    Transcript::from_spec(Vec::new(), spec())
}

/// Compressed points, little-endian scalars.
pub struct Poseidon;

impl Encoding for Poseidon {
    type Challenge = PoseidonChallenge;
    type Hasher = Transcript<&'static [u8]>;
    const POINT_BYTES: usize = 32;

    fn hasher() -> Self::Hasher {
        Transcript::from_spec(&[][..], spec())
    }

    fn point(bytes: &[u8]) -> Option<G1Affine> {
        let mut repr = <G1Affine as GroupEncoding>::Repr::default();
        repr.as_mut().copy_from_slice(bytes);
        let p: G1Affine = Option::from(G1Affine::from_bytes(&repr))?;
        // Decoding tolerates spare flag bits; only the encoding the prover writes is accepted.
        (p.to_bytes().as_ref() == bytes).then_some(p)
    }

    fn scalar(bytes: &[u8; 32]) -> Option<Fr> {
        // `from_repr` refuses values at or above r.
        Option::from(Fr::from_repr(*bytes))
    }
}
