//! The Groth16 backend: circuit-specific setup, proving and verification with ark-groth16 on
//! BN254, and export in snarkjs's JSON formats so an independent verifier can check our proofs.
//!
//! The dev setup draws its toxic waste from OS randomness inside ark-groth16 and never writes it
//! anywhere, but whoever ran it could have kept it: keys from it are labeled insecure.

use ark_bn254::{Bn254, G1Affine, G2Affine};
use ark_groth16::{Groth16, Proof, ProvingKey, VerifyingKey};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};
use ark_snark::SNARK;
use serde_json::{json, Value};
use zkinfer_circuits::groth16::circuit::Shape;
use zkinfer_circuits::groth16::{to_ark, Groth16Circuit};
use zkinfer_circuits::witness::{Run, Witness};

use crate::{Fr, ProverError};

fn err(stage: &str, e: impl std::fmt::Debug) -> ProverError {
    ProverError::Backend(format!("groth16 {stage}: {e:?}"))
}

pub fn to_bytes(x: &impl CanonicalSerialize) -> Vec<u8> {
    let mut out = Vec::new();
    x.serialize_compressed(&mut out)
        .expect("serializing to memory");
    out
}

/// The proving key's encoding on disk: uncompressed, so loading it needs no square roots.
pub fn to_bytes_uncompressed(x: &impl CanonicalSerialize) -> Vec<u8> {
    let mut out = Vec::new();
    x.serialize_uncompressed(&mut out)
        .expect("serializing to memory");
    out
}

/// Reads a canonical compressed encoding, rejecting trailing bytes and non-canonical forms.
pub fn from_bytes<T: CanonicalDeserialize + CanonicalSerialize>(bytes: &[u8]) -> Option<T> {
    let mut reader = bytes;
    let v = T::deserialize_with_mode(&mut reader, Compress::Yes, Validate::Yes).ok()?;
    (reader.is_empty() && to_bytes(&v) == bytes).then_some(v)
}

/// Circuit-specific setup from OS randomness. Returns the keys and the number of constraints.
pub fn setup(shape: std::sync::Arc<Shape>) -> Result<(ProvingKey<Bn254>, usize), ProverError> {
    tracing::warn!("Groth16 dev setup: single-party toxic waste from OS randomness (discarded, but unverifiable)");
    let constraints = constraint_count(shape.clone())?;
    let (pk, _) = Groth16::<Bn254>::circuit_specific_setup(
        Groth16Circuit::shape(shape),
        &mut rand::rngs::OsRng,
    )
    .map_err(|e| err("setup", e))?;
    Ok((pk, constraints))
}

pub fn constraint_count(shape: std::sync::Arc<Shape>) -> Result<usize, ProverError> {
    use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem, SynthesisMode};
    let cs = ConstraintSystem::<ark_bn254::Fr>::new_ref();
    cs.set_mode(SynthesisMode::Setup);
    Groth16Circuit::shape(shape)
        .generate_constraints(cs.clone())
        .map_err(|e| err("synthesis", e))?;
    Ok(cs.num_constraints())
}

pub fn prove(
    pk: &ProvingKey<Bn254>,
    shape: std::sync::Arc<Shape>,
    witness: Witness,
) -> Result<(Vec<u8>, Run), ProverError> {
    let (circuit, run) = Groth16Circuit::prepare(shape, witness)?;
    let proof = Groth16::<Bn254>::prove(pk, circuit, &mut rand::rngs::OsRng)
        .map_err(|e| err("prove", e))?;
    Ok((to_bytes(&proof), run))
}

/// True if and only if `proof` (canonical compressed bytes) is valid for `instances`.
pub fn check(vk: &VerifyingKey<Bn254>, instances: &[Fr], proof: &[u8]) -> bool {
    let Some(proof) = from_bytes::<Proof<Bn254>>(proof) else {
        return false;
    };
    let inputs: Vec<_> = instances.iter().map(to_ark).collect();
    Groth16::<Bn254>::verify(vk, &inputs, &proof).unwrap_or(false)
}

fn g1(p: &G1Affine) -> Value {
    json!([p.x.to_string(), p.y.to_string(), "1"])
}

fn g2(p: &G2Affine) -> Value {
    json!([
        [p.x.c0.to_string(), p.x.c1.to_string()],
        [p.y.c0.to_string(), p.y.c1.to_string()],
        ["1", "0"]
    ])
}

/// snarkjs `verification_key.json`.
pub fn snarkjs_vk(vk: &VerifyingKey<Bn254>) -> Value {
    json!({
        "protocol": "groth16",
        "curve": "bn128",
        "nPublic": vk.gamma_abc_g1.len() - 1,
        "vk_alpha_1": g1(&vk.alpha_g1),
        "vk_beta_2": g2(&vk.beta_g2),
        "vk_gamma_2": g2(&vk.gamma_g2),
        "vk_delta_2": g2(&vk.delta_g2),
        "IC": vk.gamma_abc_g1.iter().map(g1).collect::<Vec<_>>(),
    })
}

/// snarkjs `proof.json`; `None` if the bytes are not a proof.
pub fn snarkjs_proof(proof: &[u8]) -> Option<Value> {
    let p = from_bytes::<Proof<Bn254>>(proof)?;
    Some(
        json!({ "pi_a": g1(&p.a), "pi_b": g2(&p.b), "pi_c": g1(&p.c), "protocol": "groth16", "curve": "bn128" }),
    )
}

/// snarkjs `public.json`: the instances as decimal strings.
pub fn snarkjs_public(instances: &[Fr]) -> Value {
    json!(instances
        .iter()
        .map(|x| to_ark(x).to_string())
        .collect::<Vec<_>>())
}
