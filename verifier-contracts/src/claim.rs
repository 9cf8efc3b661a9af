//! A proof file turned into what `Settlement.settle` takes: the request id, the claimed output
//! commitment, counts and ciphertext, and the proof in the encoding the on-chain verifier reads;
//! an aggregation proof turned into what `Settlement.settleBatch` takes.

use alloy::primitives::{Bytes, U256};
use zkinfer_circuits::field::fr_to_hex;
use zkinfer_prover::prove::ProofFile;

use crate::ContractsError;

#[derive(Clone, Debug)]
pub struct Claim {
    pub request_id: U256,
    pub input_commitment: U256,
    pub output_commitment: U256,
    pub n_in: u64,
    pub n_out: u64,
    /// The output, encrypted to the client.
    pub ciphertext: Vec<U256>,
    pub proof: Bytes,
}

impl Claim {
    /// The instances a verifier checks, in order.
    pub fn instances(&self) -> Vec<U256> {
        let mut out = vec![
            self.request_id,
            self.input_commitment,
            self.output_commitment,
            U256::from(self.n_in),
            U256::from(self.n_out),
        ];
        out.extend(&self.ciphertext);
        out
    }
}

/// Parses a field element instance (already checked below r) as a U256.
pub fn to_u256(f: &zkinfer_circuits::Fr) -> U256 {
    fr_to_hex(f)
        .parse()
        .expect("fr_to_hex gives 0x-hex below r")
}

/// Reads a proof file as a settlement claim.
pub fn from_proof_file(file: &ProofFile) -> Result<Claim, ContractsError> {
    let inst = file
        .instances
        .parse()
        .map_err(|e| ContractsError::Proof(e.to_string()))?;
    let raw = file.proof_bytes().map_err(ContractsError::Proof)?;
    let backend: zkinfer_prover::BackendId = file
        .backend
        .parse()
        .map_err(|e: zkinfer_prover::ProverError| ContractsError::Proof(e.to_string()))?;
    statement(&inst, crate::generate::evm_proof(backend, &raw)?.into())
}

/// A claim from a statement's instances and the proof bytes.
fn statement(inst: &[zkinfer_circuits::Fr], proof: Bytes) -> Result<Claim, ContractsError> {
    let usage = zkinfer_circuits::usage::USAGE_INSTANCES;
    if inst.len() < usage {
        return Err(ContractsError::Proof(format!(
            "{} instances; a statement has at least {usage}",
            inst.len()
        )));
    }
    let count = |i: usize, name: &str| -> Result<u64, ContractsError> {
        u64::try_from(to_u256(&inst[i]))
            .map_err(|_| ContractsError::Proof(format!("{name} does not fit in 64 bits")))
    };
    Ok(Claim {
        request_id: to_u256(&inst[0]),
        input_commitment: to_u256(&inst[1]),
        output_commitment: to_u256(&inst[2]),
        n_in: count(3, "n_in")?,
        n_out: count(4, "n_out")?,
        ciphertext: inst[usage..].iter().map(to_u256).collect(),
        proof,
    })
}

/// An aggregation proof turned into what `Settlement.settleBatch` takes.
#[derive(Clone, Debug)]
pub struct BatchClaim {
    /// The accumulator's limbs.
    pub accumulator: [U256; zkinfer_aggregate::ACCUMULATOR_LIMBS],
    /// Each request's claim, in aggregation order (their `proof` is empty).
    pub claims: Vec<Claim>,
    /// The aggregation proof.
    pub proof: Bytes,
}

impl BatchClaim {
    /// The instances the batch verifier checks, in order.
    pub fn instances(&self) -> Vec<U256> {
        let mut out = self.accumulator.to_vec();
        for c in &self.claims {
            out.extend(c.instances());
        }
        out
    }
}

/// Reads an aggregation proof file as a batch claim.
pub fn from_aggregate_file(
    file: &zkinfer_aggregate::AggregateProofFile,
) -> Result<BatchClaim, ContractsError> {
    let bad = |e: String| ContractsError::Proof(e);
    let accumulator: Vec<U256> = zkinfer_circuits::usage::InstanceStrings(file.accumulator.clone())
        .parse()
        .map_err(|e| bad(format!("accumulator: {e}")))?
        .iter()
        .map(to_u256)
        .collect();
    let accumulator = accumulator.try_into().map_err(|v: Vec<U256>| {
        bad(format!(
            "{} accumulator limbs; an aggregation proof has {}",
            v.len(),
            zkinfer_aggregate::ACCUMULATOR_LIMBS
        ))
    })?;
    let claims = file
        .requests
        .iter()
        .map(|r| {
            let inst = r.parse().map_err(|e| bad(e.to_string()))?;
            statement(&inst, Bytes::new())
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(BatchClaim {
        accumulator,
        claims,
        proof: file.proof_bytes().map_err(bad)?.into(),
    })
}
