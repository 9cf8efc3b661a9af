//! Proving: one proof per input, several inputs in parallel (rayon), with a progress bar; the
//! proof file and the client's opening, the same for both backends.

use halo2_proofs::plonk::{create_proof, Circuit, ProvingKey};
use halo2_proofs::poly::kzg::commitment::KZGCommitmentScheme;
use halo2_proofs::poly::kzg::multiopen::ProverSHPLONK;
use halo2_proofs::transcript::TranscriptWriterBuffer;

use crate::transcript::{Challenge, EvmWrite, TranscriptKind};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use zkinfer_circuits::field::fr_to_hex;
use zkinfer_circuits::usage::InstanceStrings;
use zkinfer_circuits::witness::{Run, Witness};

use crate::keys::ProvingBackend;
use crate::srs::Srs;
use crate::{artifacts::ARTIFACT_VERSION, Bn256, G1Affine, ProverError};

/// A proof file: what a verifier (off-chain or on-chain) needs, and nothing private.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofFile {
    pub version: u32,
    /// The backend's identifier as the file states it: an untrusted file naming a system we do
    /// not know is refused as another backend, not as unreadable JSON.
    pub backend: String,
    pub transcript: String,
    pub insecure_dev_srs: bool,
    /// SHA-256 of the verifying key the proof was made for.
    pub vk_sha256: String,
    /// `request_id, input_commitment, output_commitment, n_in, n_out`, 0x-hex.
    pub instances: InstanceStrings,
    pub proof: String,
}

impl ProofFile {
    /// The proof bytes, decoded from their 0x-hex.
    pub fn proof_bytes(&self) -> Result<Vec<u8>, String> {
        proof_from_hex(&self.proof)
    }
}

/// Proof bytes from a proof file's 0x-hex.
pub fn proof_from_hex(proof: &str) -> Result<Vec<u8>, String> {
    let hex = proof.strip_prefix("0x").ok_or("proof must be 0x-hex")?;
    hex::decode(hex).map_err(|e| format!("proof: {e}"))
}

/// The private opening of a proof's commitments, for the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opening {
    pub version: u32,
    pub request_id: String,
    pub salt: String,
    pub n_in: u64,
    pub n_out: u64,
    /// Quantized input rows as committed (without padding rows).
    pub input: Vec<Vec<i64>>,
    /// Quantized output rows as committed (without padding rows).
    pub output: Vec<Vec<i64>>,
    /// Outputs in real units.
    pub output_real: Vec<Vec<f64>>,
}

pub struct Proved {
    pub file: ProofFile,
    pub opening: Opening,
    pub seconds: f64,
}

/// Creates one halo2 proof of `circuit` for `instances`, with the chosen transcript.
pub fn create<C: Circuit<crate::Fr>>(
    srs: &Srs,
    pk: &ProvingKey<G1Affine>,
    circuit: C,
    instances: &[crate::Fr],
    transcript: TranscriptKind,
) -> Result<Vec<u8>, ProverError> {
    fn run<'a, E, T>(
        srs: &'a Srs,
        pk: &ProvingKey<G1Affine>,
        circuit: impl Circuit<crate::Fr>,
        instances: &[crate::Fr],
        mut transcript: T,
    ) -> Result<T, ProverError>
    where
        E: halo2_proofs::transcript::EncodedChallenge<G1Affine>,
        T: halo2_proofs::transcript::TranscriptWrite<G1Affine, E>,
    {
        create_proof::<KZGCommitmentScheme<Bn256>, ProverSHPLONK<'a, Bn256>, E, _, _, _>(
            srs,
            pk,
            &[circuit],
            &[&[instances]],
            rand::rngs::OsRng,
            &mut transcript,
        )
        .map_err(|e| ProverError::Backend(format!("create_proof: {e:?}")))?;
        Ok(transcript)
    }
    Ok(match transcript {
        TranscriptKind::Evm => {
            let t = <EvmWrite as TranscriptWriterBuffer<_, G1Affine, Challenge>>::init(vec![]);
            run(srs, pk, circuit, instances, t)?.finalize()
        }
        TranscriptKind::Poseidon => run(
            srs,
            pk,
            circuit,
            instances,
            crate::transcript::poseidon_writer(),
        )?
        .finalize(),
    })
}

/// Proves one witness with either backend; `transcript` is the EVM one unless the proof is to be
/// aggregated.
pub fn prove_one(
    keys: &dyn ProvingBackend,
    witness: Witness,
    transcript: TranscriptKind,
) -> Result<Proved, ProverError> {
    let start = std::time::Instant::now();
    let (proof, Run { statement, outputs }) = keys.prove(witness.clone(), transcript)?;
    let manifest = keys.manifest();
    let model = keys.model();
    let output: Vec<Vec<i64>> = outputs
        .iter()
        .map(|r| r.iter().map(|v| *v as i64).collect())
        .collect();
    Ok(Proved {
        file: ProofFile {
            version: ARTIFACT_VERSION,
            backend: manifest.backend.id().into(),
            transcript: match transcript {
                TranscriptKind::Evm => manifest.transcript.clone(),
                TranscriptKind::Poseidon => transcript.label().into(),
            },
            insecure_dev_srs: manifest.insecure_dev_srs,
            vk_sha256: manifest.vk_sha256.clone(),
            instances: InstanceStrings(statement.to_hex()),
            proof: format!("0x{}", hex::encode(&proof)),
        },
        opening: Opening {
            version: ARTIFACT_VERSION,
            request_id: fr_to_hex(&witness.request_id),
            salt: fr_to_hex(&witness.salt),
            n_in: statement.n_in,
            n_out: statement.n_out,
            input: witness.rows,
            output_real: output
                .iter()
                .map(|r| model.dequantize(&r.iter().map(|v| *v as i128).collect::<Vec<_>>()))
                .collect(),
            output,
        },
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Proves every witness, in parallel, in input order.
pub fn prove_many(
    keys: &dyn ProvingBackend,
    witnesses: Vec<Witness>,
    transcript: TranscriptKind,
) -> Vec<Result<Proved, ProverError>> {
    let pb = indicatif::ProgressBar::new(witnesses.len() as u64);
    pb.set_style(
        indicatif::ProgressStyle::with_template("proving {bar:30} {pos}/{len} [{elapsed}]")
            .expect("valid template"),
    );
    let out = witnesses
        .into_par_iter()
        .map(|w| {
            let r = prove_one(keys, w, transcript);
            pb.inc(1);
            r
        })
        .collect();
    pb.finish_and_clear();
    out
}
