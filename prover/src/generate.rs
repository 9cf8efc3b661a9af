//! Proving a generation: the reference run fixes the completion and the statement, the circuit
//! proves it, and the proof file is the same format as any other (so `verify` and settlement take
//! it unchanged); the client's opening adds the prompt, the completion and the salt.

use serde::{Deserialize, Serialize};
use zkinfer_circuits::field::fr_to_hex;
use zkinfer_circuits::halo2::generation::{GenWitness, GenerationCircuit};
use zkinfer_circuits::usage::InstanceStrings;

use crate::artifacts::ARTIFACT_VERSION;
use crate::keys::GenProverKeys;
use crate::prove::{create, ProofFile};
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

impl GenProverKeys {
    /// Generates greedily from `witness.prompt` and proves it.
    pub fn generate(&self, witness: GenWitness) -> Result<Generated, ProverError> {
        let start = std::time::Instant::now();
        let (circuit, run) = GenerationCircuit::prepare(self.plan.clone(), witness.clone())
            .map_err(|e| ProverError::Backend(e.to_string()))?;
        let statement = run.statement;
        let pb = crate::keys::spinner("proving the generation");
        let proof = create(&self.srs, &self.pk, circuit, &statement.instances());
        pb.finish_and_clear();
        let proof = proof?;
        let m = &self.manifest;
        let tokens = |v: &[usize]| v.iter().map(|t| *t as u64).collect::<Vec<_>>();
        let completion = tokens(&run.generation.completion);
        Ok(Generated {
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
                request_id: fr_to_hex(&witness.request_id),
                salt: fr_to_hex(&witness.salt),
                max_tokens: witness.max_tokens as u64,
                n_in: statement.n_in,
                n_out: statement.n_out,
                prompt_slots: self.plan.slots.prompt,
                completion_slots: self.plan.slots.gen,
                prompt: tokens(&witness.prompt),
                completion_text: detokenize(&completion),
                completion,
            },
            seconds: start.elapsed().as_secs_f64(),
        })
    }
}
