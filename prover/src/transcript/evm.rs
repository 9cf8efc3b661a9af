//! The Keccak-256 EVM transcript's encoding: what the generated Solidity verifier reads.

use halo2_proofs::arithmetic::CurveAffine;
use halo2curves::ff::PrimeField;
use snark_verifier::loader::native::NativeLoader;
use snark_verifier::system::halo2::transcript::evm::{ChallengeEvm, EvmTranscript};

use super::Encoding;
use crate::{Fr, G1Affine};

/// The writer used by the prover.
pub type EvmWrite = EvmTranscript<G1Affine, NativeLoader, Vec<u8>, Vec<u8>>;
/// The challenge type of the EVM transcript.
pub type Challenge = ChallengeEvm<G1Affine>;

/// Uncompressed big-endian points, big-endian scalars.
pub struct Evm;

/// Parses a 32-byte big-endian field element, refusing values at or above the modulus.
fn canonical<F: PrimeField<Repr = [u8; 32]>>(be: &[u8]) -> Option<F> {
    let mut le: [u8; 32] = be.try_into().ok()?;
    le.reverse();
    Option::from(F::from_repr(le))
}

impl Encoding for Evm {
    type Challenge = Challenge;
    type Hasher = EvmTranscript<G1Affine, NativeLoader, &'static [u8], Vec<u8>>;
    const POINT_BYTES: usize = 64;

    fn hasher() -> Self::Hasher {
        EvmTranscript::<G1Affine, NativeLoader, &'static [u8], Vec<u8>>::new(&[][..])
    }

    fn point(bytes: &[u8]) -> Option<G1Affine> {
        let x = canonical(&bytes[..32])?;
        let y = canonical(&bytes[32..])?;
        Option::from(G1Affine::from_xy(x, y))
    }

    fn scalar(bytes: &[u8; 32]) -> Option<Fr> {
        canonical(bytes)
    }
}
