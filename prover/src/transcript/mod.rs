//! The two halo2 proof transcripts and the one strict way both are read.
//!
//! - [`TranscriptKind::Evm`]: snark-verifier's Keccak-256 "EVM" transcript, so that the same proof
//!   bytes verify off-chain here and on-chain in the generated Solidity verifier. Points are
//!   uncompressed big-endian `(x, y)` pairs of 32 bytes, scalars 32 big-endian bytes.
//! - [`TranscriptKind::Poseidon`]: snark-verifier's Poseidon transcript, whose challenges a
//!   verifier inside a circuit can recompute cheaply; proofs made for aggregation use it. Points
//!   are halo2's 32-byte compressed encoding, scalars 32 little-endian bytes.
//!
//! A verifier that reduced scalars mod r or ignored bytes past the proof would accept a second
//! encoding of the same proof (`s + r` for `s`, or bytes appended). [`StrictRead`] therefore takes
//! only the one canonical encoding of every point and scalar (decoding and re-encoding must give
//! back the same bytes), refuses the identity and trailing bytes, and records the proof's
//! [`Layout`] so that the on-chain adapter can apply the same rules.

mod evm;
mod poseidon;

use std::io;

use halo2_proofs::transcript::{EncodedChallenge, Transcript, TranscriptRead};
use halo2curves::group::prime::PrimeCurveAffine;

pub use evm::{Challenge, Evm, EvmWrite};
pub use poseidon::{
    writer as poseidon_writer, Poseidon, PoseidonChallenge, PoseidonWrite, POSEIDON_R_F,
    POSEIDON_R_P,
};

use crate::{Fr, G1Affine};

/// The transcript label recorded in manifests and in proof files for the on-chain transcript.
pub const TRANSCRIPT: &str = TranscriptKind::Evm.label();

/// Which Fiat-Shamir transcript a halo2 proof was made with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TranscriptKind {
    /// Keccak-256, verified on-chain one proof at a time.
    #[default]
    Evm,
    /// Poseidon, verified inside the aggregation circuit.
    Poseidon,
}

impl TranscriptKind {
    /// The label proof files carry.
    pub const fn label(self) -> &'static str {
        match self {
            TranscriptKind::Evm => "keccak256-evm",
            TranscriptKind::Poseidon => "poseidon-snark-verifier",
        }
    }

    /// The kind a label names, if any.
    pub fn from_label(label: &str) -> Option<Self> {
        [TranscriptKind::Evm, TranscriptKind::Poseidon]
            .into_iter()
            .find(|k| k.label() == label)
    }
}

/// Where points and scalars sit in a proof. For a given verifying key it is the same for every
/// proof, which is what lets a contract check it with constants.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    /// Byte offsets of every scalar, in reading order.
    pub scalar_offsets: Vec<usize>,
    /// Total length in bytes.
    pub len: usize,
}

/// How one transcript encodes points and scalars, and the hasher that absorbs them.
pub trait Encoding {
    /// The challenge type of the transcript.
    type Challenge: EncodedChallenge<G1Affine>;
    /// The transcript that only hashes: bytes are handed to it after they were checked.
    type Hasher: Transcript<G1Affine, Self::Challenge>;
    /// Bytes of one encoded point.
    const POINT_BYTES: usize;
    /// A fresh hasher.
    fn hasher() -> Self::Hasher;
    /// The point these bytes encode, if they are its canonical encoding.
    fn point(bytes: &[u8]) -> Option<G1Affine>;
    /// The scalar these bytes encode, if they are its canonical encoding.
    fn scalar(bytes: &[u8; 32]) -> Option<Fr>;
}

/// Reads a proof in encoding `E`, refusing every non-canonical encoding and trailing bytes.
pub struct StrictRead<'a, E: Encoding = Evm> {
    rest: &'a [u8],
    inner: E::Hasher,
    layout: Layout,
}

impl<'a, E: Encoding> StrictRead<'a, E> {
    /// A reader over the proof bytes.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self {
            rest: bytes,
            inner: E::hasher(),
            layout: Layout::default(),
        }
    }

    fn take(&mut self, n: usize) -> io::Result<&'a [u8]> {
        if self.rest.len() < n {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "proof is too short",
            ));
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        self.layout.len += n;
        Ok(head)
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

impl<E: Encoding> Transcript<G1Affine, E::Challenge> for StrictRead<'_, E> {
    fn squeeze_challenge(&mut self) -> E::Challenge {
        self.inner.squeeze_challenge()
    }

    fn common_point(&mut self, point: G1Affine) -> io::Result<()> {
        self.inner.common_point(point)
    }

    fn common_scalar(&mut self, scalar: Fr) -> io::Result<()> {
        self.inner.common_scalar(scalar)
    }
}

impl<E: Encoding> TranscriptRead<G1Affine, E::Challenge> for StrictRead<'_, E> {
    fn read_point(&mut self) -> io::Result<G1Affine> {
        let bytes = self.take(E::POINT_BYTES)?;
        // The identity has no affine encoding the on-chain verifier accepts, and the Poseidon
        // transcript cannot absorb it: refuse it in both.
        let point = E::point(bytes)
            .filter(|p| !bool::from(PrimeCurveAffine::is_identity(p)))
            .ok_or_else(|| invalid("a point in the proof is not a canonical curve point"))?;
        self.common_point(point)?;
        Ok(point)
    }

    fn read_scalar(&mut self) -> io::Result<Fr> {
        let offset = self.layout.len;
        let bytes: &[u8; 32] = self.take(32)?.try_into().expect("32 bytes");
        let scalar = E::scalar(bytes).ok_or_else(|| invalid("non-canonical scalar in proof"))?;
        self.layout.scalar_offsets.push(offset);
        self.common_scalar(scalar)?;
        Ok(scalar)
    }
}
