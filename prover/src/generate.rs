//! Proving a generation on the decoder circuit over a graph: the reference run fixes the
//! completion and the statement, the circuit proves it, and the proof file is the same format as
//! any other (so `verify` and settlement take it unchanged); the client's opening adds the
//! prompt, the completion and the salt.

use halo2_proofs::plonk::ProvingKey;
use serde::{Deserialize, Serialize};
use zkinfer_circuits::decoder::Slots;
use zkinfer_circuits::field::fr_to_hex;
use zkinfer_circuits::halo2::decoder::circuit::DecoderCircuit;
use zkinfer_circuits::usage::{InstanceStrings, UsageStatement};

use crate::artifacts::{Manifest, ARTIFACT_VERSION};
use crate::keys::Generator;
use crate::prove::{create, ProofFile};
use crate::srs::Srs;
use crate::transcript::TranscriptKind;
use crate::G1Affine;
use crate::ProverError;

/// The private opening of a generation proof's commitments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenOpening {
    pub version: u32,
    pub request_id: String,
    pub salt: String,
    pub max_tokens: u64,
    pub n_in: u64,
    pub n_out: u64,
    /// The circuit's slots, which the commitments pad to.
    pub prompt_slots: usize,
    pub completion_slots: usize,
    pub prompt: Vec<u64>,
    /// Generated tokens up to and including the stop token.
    pub completion: Vec<u64>,
    /// The completion's bytes as text (lossy UTF-8, the stop token left out).
    pub completion_text: String,
}

pub struct Generated {
    pub file: ProofFile,
    pub opening: GenOpening,
    pub seconds: f64,
}

/// The text of byte tokens; tokens above 255 (the stop token) are left out.
pub fn detokenize(tokens: &[u64]) -> String {
    let bytes: Vec<u8> = tokens
        .iter()
        .filter(|t| **t < 256)
        .map(|t| *t as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The proof file and opening of a proven generation.
fn generated(
    m: &Manifest,
    proof: Vec<u8>,
    statement: &UsageStatement,
    request: &Request,
    slots: Slots,
    completion: &[usize],
    start: std::time::Instant,
) -> Generated {
    let completion: Vec<u64> = completion.iter().map(|t| *t as u64).collect();
    Generated {
        file: ProofFile {
            version: ARTIFACT_VERSION,
            backend: m.backend.id().into(),
            transcript: m.transcript.clone(),
            insecure_dev_srs: m.insecure_dev_srs,
            vk_sha256: m.vk_sha256.clone(),
            instances: InstanceStrings(statement.to_hex()),
            proof: format!("0x{}", hex::encode(&proof)),
        },
        opening: GenOpening {
            version: ARTIFACT_VERSION,
            request_id: fr_to_hex(&request.request_id),
            salt: fr_to_hex(&request.salt),
            max_tokens: request.max_tokens as u64,
            n_in: statement.n_in,
            n_out: statement.n_out,
            prompt_slots: slots.prompt,
            completion_slots: slots.gen,
            prompt: request.prompt.clone(),
            completion_text: detokenize(&completion),
            completion,
        },
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// A generation request: what the client committed to.
pub use zkinfer_circuits::halo2::decoder::circuit::DecodeRequest as Request;

/// Proves `circuit` for `statement` behind a spinner.
fn proving(
    srs: &Srs,
    pk: &ProvingKey<G1Affine>,
    circuit: DecoderCircuit,
    statement: &UsageStatement,
) -> Result<Vec<u8>, ProverError> {
    let pb = crate::keys::spinner("proving the generation");
    let proof = create(
        srs,
        pk,
        circuit,
        &statement.instances(),
        TranscriptKind::Evm,
    );
    pb.finish_and_clear();
    proof
}

impl Generator {
    /// The circuit's slots.
    pub fn slots(&self) -> Slots {
        self.plan.decoder.slots
    }

    /// The stop token generation ends at, if any.
    pub fn stop_token(&self) -> Option<u64> {
        self.plan.decoder.stop
    }

    /// Checks the prompt and budget against the circuit, before any proving.
    pub fn check(&self, prompt: &[u64], max_tokens: usize) -> Result<(), ProverError> {
        self.plan
            .decoder
            .check_request(prompt, max_tokens)
            .map_err(|e| ProverError::Backend(e.to_string()))
    }

    /// Generates greedily from the request's prompt and proves it.
    pub fn generate(&self, request: Request) -> Result<Generated, ProverError> {
        let start = std::time::Instant::now();
        let (circuit, run) = DecoderCircuit::prepare(self.plan.clone(), request.clone())
            .map_err(|e| ProverError::Backend(e.to_string()))?;
        let proof = proving(&self.srs, &self.pk, circuit, &run.statement)?;
        Ok(generated(
            &self.manifest,
            proof,
            &run.statement,
            &request,
            self.slots(),
            &run.generation.completion,
            start,
        ))
    }
}
