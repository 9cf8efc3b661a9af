//! A verifier transcript that accepts only canonical proofs. halo2's Blake2b reader decodes
//! compressed points with halo2curves, which ignores the "infinity" flag bit for a non-zero x, so
//! two byte strings decode to the same point and a proof with that bit flipped still verifies.
//! This reader re-encodes every point it reads and rejects any difference, and `finish` rejects
//! bytes left over after the verifier has read the whole proof.

use std::io;

use halo2_proofs::transcript::{
    Blake2bRead, Challenge255, Transcript, TranscriptRead, TranscriptReadBuffer,
};
use halo2curves::ff::PrimeField;
use halo2curves::group::GroupEncoding;

use crate::{Fr, G1Affine};

pub struct StrictRead<'a> {
    bytes: &'a [u8],
    /// Hashes what was read; its own reader is empty and never used.
    hasher: Blake2bRead<&'a [u8], G1Affine, Challenge255<G1Affine>>,
}

impl<'a> StrictRead<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            hasher: Blake2bRead::init(&[][..]),
        }
    }

    fn take<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        if self.bytes.len() < N {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "proof is too short",
            ));
        }
        let (head, rest) = self.bytes.split_at(N);
        self.bytes = rest;
        Ok(head.try_into().expect("N bytes"))
    }

    /// True when the verifier consumed every byte.
    pub fn finish(&self) -> bool {
        self.bytes.is_empty()
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

impl Transcript<G1Affine, Challenge255<G1Affine>> for StrictRead<'_> {
    fn squeeze_challenge(&mut self) -> Challenge255<G1Affine> {
        self.hasher.squeeze_challenge()
    }

    fn common_point(&mut self, point: G1Affine) -> io::Result<()> {
        self.hasher.common_point(point)
    }

    fn common_scalar(&mut self, scalar: Fr) -> io::Result<()> {
        self.hasher.common_scalar(scalar)
    }
}

impl TranscriptRead<G1Affine, Challenge255<G1Affine>> for StrictRead<'_> {
    fn read_point(&mut self) -> io::Result<G1Affine> {
        let raw = self.take::<32>()?;
        let mut repr = <G1Affine as GroupEncoding>::Repr::default();
        repr.as_mut().copy_from_slice(&raw);
        let point: G1Affine = Option::from(G1Affine::from_bytes(&repr))
            .ok_or_else(|| invalid("invalid point encoding in proof"))?;
        if point.to_bytes().as_ref() != raw {
            return Err(invalid("non-canonical point encoding in proof"));
        }
        self.common_point(point)?;
        Ok(point)
    }

    fn read_scalar(&mut self) -> io::Result<Fr> {
        let raw = self.take::<32>()?;
        let mut repr = <Fr as PrimeField>::Repr::default();
        repr.as_mut().copy_from_slice(&raw);
        let scalar: Fr = Option::from(Fr::from_repr(repr))
            .ok_or_else(|| invalid("non-canonical scalar in proof"))?;
        self.common_scalar(scalar)?;
        Ok(scalar)
    }
}
