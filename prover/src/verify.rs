//! Verification of a proof file against a model directory's verifying key; halo2 proofs are read
//! through the strict transcript.

use halo2_proofs::plonk::{verify_proof, VerifyingKey};
use halo2_proofs::poly::commitment::ParamsProver;
use halo2_proofs::poly::kzg::commitment::KZGCommitmentScheme;
use halo2_proofs::poly::kzg::multiopen::VerifierSHPLONK;
use halo2_proofs::poly::kzg::strategy::SingleStrategy;

use crate::keys::VerifyingBackend;
use crate::prove::ProofFile;
use crate::srs::Srs;
use crate::transcript::{Encoding, Evm, Layout, Poseidon, StrictRead, TranscriptKind};
use crate::{Bn256, Fr, G1Affine, ProverError};

/// Why a proof was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    #[error("the proof file is for another backend or version ({0})")]
    Format(String),
    #[error("the proof was made for another verifying key (vk {0})")]
    WrongKey(String),
    #[error("malformed proof file: {0}")]
    Malformed(String),
    #[error("the proof does not verify for these instances")]
    Invalid,
}

/// Checks raw EVM-transcript proof bytes for the given instances: canonical encodings only, no
/// trailing bytes.
pub fn check(srs: &Srs, vk: &VerifyingKey<G1Affine>, instances: &[Fr], proof: &[u8]) -> bool {
    check_with(srs, vk, instances, proof, TranscriptKind::Evm)
}

/// Like [`check`], for a proof made with `transcript`.
pub fn check_with(
    srs: &Srs,
    vk: &VerifyingKey<G1Affine>,
    instances: &[Fr],
    proof: &[u8],
    transcript: TranscriptKind,
) -> bool {
    match transcript {
        TranscriptKind::Evm => check_with_layout(srs, vk, instances, proof).is_some(),
        TranscriptKind::Poseidon => read_strictly::<Poseidon>(srs, vk, instances, proof).is_some(),
    }
}

/// Like [`check`], and returns where the proof's scalars sit (the on-chain adapter checks them).
pub fn check_with_layout(
    srs: &Srs,
    vk: &VerifyingKey<G1Affine>,
    instances: &[Fr],
    proof: &[u8],
) -> Option<Layout> {
    read_strictly::<Evm>(srs, vk, instances, proof)
}

fn read_strictly<E: Encoding>(
    srs: &Srs,
    vk: &VerifyingKey<G1Affine>,
    instances: &[Fr],
    proof: &[u8],
) -> Option<Layout> {
    let mut transcript = StrictRead::<E>::new(proof);
    let strategy = SingleStrategy::new(srs);
    let ok =
        verify_proof::<KZGCommitmentScheme<Bn256>, VerifierSHPLONK<'_, Bn256>, E::Challenge, _, _>(
            srs.verifier_params(),
            vk,
            strategy,
            &[&[instances]],
            &mut transcript,
        )
        .is_ok();
    (ok && transcript.finish()).then(|| transcript.layout().clone())
}

/// Verifies a proof file; `Ok(())` if and only if it is valid for the model's key.
pub fn verify_file(keys: &dyn VerifyingBackend, file: &ProofFile) -> Result<(), Rejection> {
    let m = keys.manifest();
    // The key's own transcript (the on-chain one), or Poseidon for a proof made to be
    // aggregated (which only a halo2 key accepts).
    let transcript = if file.transcript == m.transcript {
        Some(TranscriptKind::Evm)
    } else {
        TranscriptKind::from_label(&file.transcript).filter(|t| *t == TranscriptKind::Poseidon)
    };
    let Some(transcript) = transcript.filter(|_| {
        file.version == crate::artifacts::ARTIFACT_VERSION && file.backend == m.backend.id()
    }) else {
        return Err(Rejection::Format(format!(
            "version {}, backend {}, transcript {}",
            file.version, file.backend, file.transcript
        )));
    };
    if file.vk_sha256 != m.vk_sha256 {
        return Err(Rejection::WrongKey(file.vk_sha256.clone()));
    }
    let instances = file
        .instances
        .parse()
        .map_err(|e| Rejection::Malformed(e.to_string()))?;
    if instances.len() != m.instances {
        return Err(Rejection::Malformed(format!(
            "{} instances, this model's proofs have {}",
            instances.len(),
            m.instances
        )));
    }
    let proof = file.proof_bytes().map_err(Rejection::Malformed)?;
    if keys.check(&instances, &proof, transcript) {
        Ok(())
    } else {
        Err(Rejection::Invalid)
    }
}

impl From<ProverError> for Rejection {
    fn from(e: ProverError) -> Self {
        Rejection::Malformed(e.to_string())
    }
}
