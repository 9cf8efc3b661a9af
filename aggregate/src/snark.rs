//! Inner proofs as the aggregation circuit takes them: each proof file is checked on its own first
//! (format, key, transcript, strict verification), so a bad one is named by its file before the
//! expensive circuit runs, and the circuit only ever sees proofs that verify.

use std::path::Path;

use halo2_proofs::plonk::VerifyingKey;
use halo2curves::bn256::Fq;
use snark_verifier::system::halo2::{compile, Config};
use snark_verifier::util::arithmetic::fe_to_limbs;
use snark_verifier::util::transcript::TranscriptWrite;
use snark_verifier::verifier::plonk::{PlonkProof, PlonkProtocol};
use snark_verifier_sdk::halo2::aggregation::AggregationCircuit;
use snark_verifier_sdk::{CircuitExt, Snark, BITS, LIMBS, SHPLONK};
use zkinfer_circuits::Fr;
use zkinfer_prover::artifacts::{read_json, ARTIFACT_VERSION};
use zkinfer_prover::keys::VerifierKeys;
use zkinfer_prover::prove::ProofFile;
use zkinfer_prover::srs::Srs;
use zkinfer_prover::transcript::TranscriptKind;
use zkinfer_prover::verify::check_with;
use zkinfer_prover::G1Affine;

use crate::AggregateError;

/// One request's proof: its public instances and Poseidon-transcript proof bytes.
#[derive(Clone, Debug)]
pub struct Inner {
    /// The usage statement and the output ciphertext.
    pub instances: Vec<Fr>,
    /// The proof.
    pub proof: Vec<u8>,
}

/// The model's verifier as the aggregation circuit runs it.
pub fn protocol(
    srs: &Srs,
    vk: &VerifyingKey<G1Affine>,
    instances: usize,
) -> PlonkProtocol<G1Affine> {
    compile(srs, vk, Config::kzg().with_num_instance(vec![instances]))
}

/// A leaf aggregation's verifier as a tree's root runs it: the leaf's first
/// [`crate::ACCUMULATOR_LIMBS`] instances are its KZG accumulator, which the root must fold into its
/// own (a leaf proof alone says nothing until its accumulator's pairing holds).
pub fn leaf_protocol(
    srs: &Srs,
    vk: &VerifyingKey<G1Affine>,
    instances: usize,
) -> PlonkProtocol<G1Affine> {
    let config = Config::kzg()
        .with_num_instance(vec![instances])
        .with_accumulator_indices(AggregationCircuit::accumulator_indices());
    compile(srs, vk, config)
}

/// Reads and checks one proof file against the model's verifying keys.
pub fn load(keys: &VerifierKeys, path: &Path) -> Result<Inner, AggregateError> {
    let file: ProofFile = read_json(path)?;
    let m = &keys.manifest;
    if file.version != ARTIFACT_VERSION || file.backend != m.backend.id() {
        return Err(AggregateError::proof(
            path,
            format!(
                "a version {} {} proof; aggregation takes version {ARTIFACT_VERSION} {} proofs",
                file.version,
                file.backend,
                m.backend.id()
            ),
        ));
    }
    if file.vk_sha256 != m.vk_sha256 {
        return Err(AggregateError::proof(
            path,
            format!(
                "made for the verifying key {}, not this model's",
                file.vk_sha256
            ),
        ));
    }
    if TranscriptKind::from_label(&file.transcript) != Some(TranscriptKind::Poseidon) {
        return Err(AggregateError::proof(
            path,
            format!(
                "made with the `{}` transcript; proofs to aggregate are made with `zkinfer prove --for-aggregation`",
                file.transcript
            ),
        ));
    }
    let instances = file
        .instances
        .parse()
        .map_err(|e| AggregateError::proof(path, e.to_string()))?;
    if instances.len() != m.instances {
        return Err(AggregateError::proof(
            path,
            format!(
                "{} instances, this model's proofs have {}",
                instances.len(),
                m.instances
            ),
        ));
    }
    let proof = file
        .proof_bytes()
        .map_err(|e| AggregateError::proof(path, e))?;
    if !check_with(
        &keys.srs,
        &keys.vk,
        &instances,
        &proof,
        TranscriptKind::Poseidon,
    ) {
        return Err(AggregateError::proof(path, "the proof does not verify"));
    }
    Ok(Inner { instances, proof })
}

/// The snark the aggregation circuit verifies.
pub fn snark(protocol: &PlonkProtocol<G1Affine>, inner: &Inner) -> Snark {
    Snark::new(
        protocol.clone(),
        vec![inner.instances.clone()],
        inner.proof.clone(),
    )
}

/// A snark of the right shape that does not verify, for key generation: the circuit's layout
/// does not depend on the values it verifies, so keys made from it serve every real batch and
/// depend on nothing but the model's key, N and the SRS. Points are the generator (the Poseidon
/// transcript cannot absorb the identity), scalars one.
pub fn placeholder(protocol: &PlonkProtocol<G1Affine>) -> Snark {
    let mut t = zkinfer_prover::transcript::poseidon_writer();
    let points = protocol.num_witness.iter().sum::<usize>() + protocol.quotient.num_chunk();
    let g = G1Affine::generator();
    for _ in 0..points {
        TranscriptWrite::write_ec_point(&mut t, g).expect("writing to memory");
    }
    for _ in 0..protocol.evaluations.len() {
        TranscriptWrite::write_scalar(&mut t, Fr::one()).expect("writing to memory");
    }
    let queries =
        PlonkProof::<G1Affine, snark_verifier_sdk::NativeLoader, SHPLONK>::empty_queries(protocol);
    use snark_verifier::cost::CostEstimation;
    for _ in 0..<SHPLONK as CostEstimation<G1Affine>>::estimate_cost(&queries).num_commitment {
        TranscriptWrite::write_ec_point(&mut t, g).expect("writing to memory");
    }
    let mut instances: Vec<Vec<Fr>> = protocol
        .num_instance
        .iter()
        .map(|&n| vec![Fr::zero(); n])
        .collect();
    // An accumulator is read as two curve points, which must be on the curve even here: the
    // generator twice.
    let limbs = generator_limbs();
    for indices in &protocol.accumulator_indices {
        for (&(column, row), limb) in indices.iter().zip(limbs.iter().cycle()) {
            instances[column][row] = *limb;
        }
    }
    Snark::new(protocol.clone(), instances, t.finalize())
}

/// The generator's coordinates as accumulator limbs (x, then y).
fn generator_limbs() -> Vec<Fr> {
    use halo2_proofs::arithmetic::CurveAffine;
    let g = G1Affine::generator()
        .coordinates()
        .expect("the generator is finite");
    [*g.x(), *g.y()]
        .iter()
        .flat_map(|c| fe_to_limbs::<Fq, Fr, LIMBS, BITS>(*c))
        .collect()
}
