//! Aggregating: N checked request proofs in, one aggregation proof file out, proved with the
//! Keccak EVM transcript so the generated Solidity verifier takes it.
//! Trees of aggregations are in [`crate::tree`].

use std::path::PathBuf;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use zkinfer_circuits::field::fr_to_hex;
use zkinfer_circuits::usage::InstanceStrings;
use zkinfer_circuits::Fr;
use zkinfer_prover::artifacts::ARTIFACT_VERSION;
use zkinfer_prover::prove::create;
use zkinfer_prover::transcript::TranscriptKind;

use crate::circuit::{instances, prover, ACCUMULATOR_LIMBS};
use crate::keys::{AggregateKeys, AggregateManifest};
use crate::snark::{load, protocol, snark, Inner};
use crate::AggregateError;
use zkinfer_prover::keys::VerifierKeys;

/// The backend label of aggregation proofs.
pub const AGGREGATION_BACKEND: &str = "halo2-kzg-bn254-shplonk-aggregation";

/// An aggregation proof: what a verifier (off-chain or on-chain) needs, and nothing private.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregateProofFile {
    /// Artifact version.
    pub version: u32,
    /// [`AGGREGATION_BACKEND`].
    pub backend: String,
    /// The transcript of the aggregation proof (the EVM one).
    pub transcript: String,
    /// True when the keys come from the insecure dev SRS.
    pub insecure_dev_srs: bool,
    /// SHA-256 of the aggregation verifying key.
    pub vk_sha256: String,
    /// SHA-256 of the model's verifying key.
    pub model_vk_sha256: String,
    /// Leaf aggregations under the proof (1: it verifies the requests' proofs itself); with the
    /// number of requests it names the keys that verify it.
    #[serde(
        default = "crate::keys::one",
        skip_serializing_if = "crate::keys::is_one"
    )]
    pub leaves: usize,
    /// The KZG accumulator's limbs, 0x-hex.
    pub accumulator: Vec<String>,
    /// Each request's instances, in the order they were aggregated.
    pub requests: Vec<InstanceStrings>,
    /// The proof, 0x-hex.
    pub proof: String,
}

impl AggregateProofFile {
    /// All public instances: the accumulator, then every request's.
    pub fn instances(&self) -> Result<Vec<Fr>, String> {
        let mut out = InstanceStrings(self.accumulator.clone())
            .parse()
            .map_err(|e| format!("accumulator: {e}"))?;
        for (i, r) in self.requests.iter().enumerate() {
            out.extend(r.parse().map_err(|e| format!("request {i}: {e}"))?);
        }
        Ok(out)
    }

    /// The proof bytes.
    pub fn proof_bytes(&self) -> Result<Vec<u8>, String> {
        zkinfer_prover::prove::proof_from_hex(&self.proof)
    }
}

/// A made aggregation.
pub struct Aggregated {
    /// The proof file.
    pub file: AggregateProofFile,
    /// Wall time of the whole aggregation (reading the proofs included).
    pub seconds: f64,
}

/// Aggregates the proof files, in the order given, with keys that verify them directly.
pub fn aggregate(keys: &AggregateKeys, proofs: &[PathBuf]) -> Result<Aggregated, AggregateError> {
    let start = Instant::now();
    let m = &keys.manifest;
    if m.leaves != 1 {
        return Err(AggregateError::Request(
            "these are a tree's root keys: aggregate with `aggregate_tree`".into(),
        ));
    }
    let inner = load_all(&keys.model, proofs, m.requests)?;
    let protocol = protocol(&keys.model.srs, &keys.model.vk, m.instances_per_request);
    let snarks = inner.iter().map(|i| snark(&protocol, i)).collect();
    let statements: Vec<Fr> = inner.iter().flat_map(|i| i.instances.clone()).collect();
    let (public, proof) = prove_layer(keys, snarks, &statements, false, TranscriptKind::Evm)?;
    Ok(Aggregated {
        file: proof_file(m, &public, &inner, proof),
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The request proofs, each checked against the model's keys; exactly `want` of them.
pub(crate) fn load_all(
    model: &VerifierKeys,
    proofs: &[PathBuf],
    want: usize,
) -> Result<Vec<Inner>, AggregateError> {
    if proofs.len() != want {
        return Err(AggregateError::Request(format!(
            "{} proofs given; these aggregation keys take {want}",
            proofs.len()
        )));
    }
    proofs.iter().map(|p| load(model, p)).collect()
}

/// Proves one layer over `snarks` with `transcript`; its instances must be the accumulator and
/// then `statements`. Returns the instances and the proof.
pub(crate) fn prove_layer(
    keys: &AggregateKeys,
    snarks: Vec<snark_verifier_sdk::Snark>,
    statements: &[Fr],
    nested: bool,
    transcript: TranscriptKind,
) -> Result<(Vec<Fr>, Vec<u8>), AggregateError> {
    let m = &keys.manifest;
    let pk = keys.pk.as_ref().ok_or_else(|| {
        AggregateError::Circuit("keys were loaded without the proving key".into())
    })?;
    let pb = zkinfer_prover::keys::spinner("aggregating");
    let circuit = prover(&m.shape, &keys.srs, snarks, nested);
    let public = instances(&circuit);
    if public.len() != m.instances || public[ACCUMULATOR_LIMBS..] != statements[..] {
        return Err(AggregateError::Circuit(
            "the circuit exposes other instances than the proofs carry".into(),
        ));
    }
    let proof = create(&keys.srs, pk, circuit, &public, transcript)?;
    pb.finish_and_clear();
    Ok((public, proof))
}

/// The file of a root (or single) aggregation proof.
pub(crate) fn proof_file(
    m: &AggregateManifest,
    public: &[Fr],
    inner: &[Inner],
    proof: Vec<u8>,
) -> AggregateProofFile {
    let hex = |v: &[Fr]| v.iter().map(fr_to_hex).collect::<Vec<_>>();
    AggregateProofFile {
        version: ARTIFACT_VERSION,
        backend: AGGREGATION_BACKEND.into(),
        transcript: TranscriptKind::Evm.label().into(),
        insecure_dev_srs: m.insecure_dev_srs,
        vk_sha256: m.vk_sha256.clone(),
        model_vk_sha256: m.model_vk_sha256.clone(),
        leaves: m.leaves,
        accumulator: hex(&public[..ACCUMULATOR_LIMBS]),
        requests: inner
            .iter()
            .map(|i| InstanceStrings(hex(&i.instances)))
            .collect(),
        proof: format!("0x{}", hex::encode(proof)),
    }
}
