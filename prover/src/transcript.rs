//! The halo2 proof transcript: snark-verifier's Keccak-256 "EVM" transcript, so that the same proof
//! bytes verify off-chain here and on-chain in the generated Solidity verifier. Points are written
//! as uncompressed big-endian `(x, y)` pairs of 32 bytes, scalars as 32 big-endian bytes.
//!
//! The on-chain verifier reduces scalars mod r and ignores calldata past the proof, so a proof
//! with `s + r` in place of `s`, or with bytes appended, would also pass there. [`StrictRead`]
//! therefore rejects non-canonical scalars and coordinates and trailing bytes, and records the
//! proof's [`Layout`] so that the on-chain adapter can apply the same rules.

use std::io;

use halo2_proofs::arithmetic::CurveAffine;
use halo2_proofs::transcript::{Transcript, TranscriptRead};
use halo2curves::group::prime::PrimeCurveAffine;
use snark_verifier::loader::native::NativeLoader;
use snark_verifier::system::halo2::transcript::evm::{ChallengeEvm, EvmTranscript};

use crate::{Fr, G1Affine};

/// The transcript label recorded in manifests and proof files.
pub const TRANSCRIPT: &str = "keccak256-evm";

/// The writer used by the prover.
pub type EvmWrite = EvmTranscript<G1Affine, NativeLoader, Vec<u8>, Vec<u8>>;
/// The challenge type of the EVM transcript.
pub type Challenge = ChallengeEvm<G1Affine>;

/// Where points and scalars sit in a proof. For a given verifying key it is the same for every
/// proof, which is what lets a contract check it with constants.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    /// Byte offsets of every scalar, in reading order.
    pub scalar_offsets: Vec<usize>,
    /// Total length in bytes.
    pub len: usize,
}

pub struct StrictRead<'a> {
    rest: &'a [u8],
    inner: EvmTranscript<G1Affine, NativeLoader, &'a [u8], Vec<u8>>,
    layout: Layout,
}

impl<'a> StrictRead<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self {
            rest: bytes,
            // The inner transcript only hashes: bytes are handed to it after they were checked.
            inner: EvmTranscript::<G1Affine, NativeLoader, &'a [u8], Vec<u8>>::new(&[][..]),
            layout: Layout::default(),
        }
    }

    fn take<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        if self.rest.len() < N {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "proof is too short",
            ));
        }
        let (head, rest) = self.rest.split_at(N);
        self.rest = rest;
        self.layout.len += N;
        Ok(head.try_into().expect("N bytes"))
    }

    /// True when the verifier consumed every byte.
    pub fn finish(&self) -> bool {
        self.rest.is_empty()
    }

    /// The layout of what was read so far.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// Parses a 32-byte big-endian field element, refusing values at or above the modulus.
fn canonical<F: halo2curves::ff::PrimeField<Repr = [u8; 32]>>(be: [u8; 32]) -> Option<F> {
    let mut le = be;
    le.reverse();
    Option::from(F::from_repr(le))
}

impl Transcript<G1Affine, Challenge> for StrictRead<'_> {
    fn squeeze_challenge(&mut self) -> Challenge {
        Transcript::<G1Affine, Challenge>::squeeze_challenge(&mut self.inner)
    }

    fn common_point(&mut self, point: G1Affine) -> io::Result<()> {
        Transcript::<G1Affine, Challenge>::common_point(&mut self.inner, point)
    }

    fn common_scalar(&mut self, scalar: Fr) -> io::Result<()> {
        Transcript::<G1Affine, Challenge>::common_scalar(&mut self.inner, scalar)
    }
}

impl TranscriptRead<G1Affine, Challenge> for StrictRead<'_> {
    fn read_point(&mut self) -> io::Result<G1Affine> {
        let x = canonical(self.take::<32>()?);
        let y = canonical(self.take::<32>()?);
        let (x, y) = x
            .zip(y)
            .ok_or_else(|| invalid("non-canonical point coordinate in proof"))?;
        // The identity has no affine encoding the on-chain verifier accepts, so refuse it here too.
        let point: G1Affine = Option::from(G1Affine::from_xy(x, y))
            .filter(|p: &G1Affine| !bool::from(PrimeCurveAffine::is_identity(p)))
            .ok_or_else(|| invalid("point in proof is not on the curve"))?;
        self.common_point(point)?;
        Ok(point)
    }

    fn read_scalar(&mut self) -> io::Result<Fr> {
        let offset = self.layout.len;
        let scalar = canonical(self.take::<32>()?)
            .ok_or_else(|| invalid("non-canonical scalar in proof"))?;
        self.layout.scalar_offsets.push(offset);
        self.common_scalar(scalar)?;
        Ok(scalar)
    }
}
