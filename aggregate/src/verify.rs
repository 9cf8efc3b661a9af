//! Off-chain verification of an aggregation proof: the aggregation proof itself (strictly read,
//! as single proofs are) and the pairing check of the accumulator it carries. Either alone
//! proves nothing about the requests; both together prove every inner proof.

use halo2_proofs::poly::commitment::ParamsProver;
use halo2curves::bn256::{Bn256, Fq};
use halo2curves::group::prime::PrimeCurveAffine;
use snark_verifier::loader::native::NativeLoader;
use snark_verifier::pcs::kzg::{Bdfg21, KzgAccumulator, KzgAs, KzgDecidingKey};
use snark_verifier::pcs::AccumulationDecider;
use snark_verifier::util::arithmetic::fe_from_limbs;
use snark_verifier_sdk::{BITS, LIMBS};
use zkinfer_circuits::Fr;
use zkinfer_prover::artifacts::ARTIFACT_VERSION;
use zkinfer_prover::srs::Srs;
use zkinfer_prover::transcript::TranscriptKind;
use zkinfer_prover::verify::{check_with_layout, Rejection};
use zkinfer_prover::G1Affine;

use crate::circuit::ACCUMULATOR_LIMBS;
use crate::keys::AggregateKeys;
use crate::prove::{AggregateProofFile, AGGREGATION_BACKEND};

/// Verifies an aggregation proof file; `Ok(())` if and only if every request it carries is
/// proven.
pub fn verify_file(keys: &AggregateKeys, file: &AggregateProofFile) -> Result<(), Rejection> {
    let m = &keys.manifest;
    if file.version != ARTIFACT_VERSION
        || file.backend != AGGREGATION_BACKEND
        || file.transcript != TranscriptKind::Evm.label()
    {
        return Err(Rejection::Format(format!(
            "version {}, backend {}, transcript {}",
            file.version, file.backend, file.transcript
        )));
    }
    if file.vk_sha256 != m.vk_sha256 || file.leaves != m.leaves {
        return Err(Rejection::WrongKey(file.vk_sha256.clone()));
    }
    if file.requests.len() != m.requests
        || file.accumulator.len() != ACCUMULATOR_LIMBS
        || file
            .requests
            .iter()
            .any(|r| r.0.len() != m.instances_per_request)
    {
        return Err(Rejection::Malformed(format!(
            "{} requests; these keys take {} of {} instances each after {ACCUMULATOR_LIMBS} accumulator limbs",
            file.requests.len(),
            m.requests,
            m.instances_per_request
        )));
    }
    let instances = file.instances().map_err(Rejection::Malformed)?;
    let proof = file.proof_bytes().map_err(Rejection::Malformed)?;
    if check(&keys.srs, keys, &instances, &proof) {
        Ok(())
    } else {
        Err(Rejection::Invalid)
    }
}

/// The raw check: the proof verifies for `instances` and their accumulator passes the pairing.
pub fn check(srs: &Srs, keys: &AggregateKeys, instances: &[Fr], proof: &[u8]) -> bool {
    instances.len() == keys.manifest.instances
        && check_with_layout(srs, &keys.vk, instances, proof).is_some()
        && accumulator_holds(srs, &instances[..ACCUMULATOR_LIMBS])
}

/// Decodes the accumulator from its limbs and runs its pairing check.
pub fn accumulator_holds(srs: &Srs, limbs: &[Fr]) -> bool {
    let coordinate = |i: usize| -> Fq {
        let l: [Fr; LIMBS] = limbs[i * LIMBS..(i + 1) * LIMBS]
            .try_into()
            .expect("LIMBS limbs");
        fe_from_limbs::<Fr, Fq, LIMBS, BITS>(l)
    };
    // (0, 0) decodes as the identity, which passes any pairing check; no honest accumulator is
    // the identity, and the EVM verifier refuses it too.
    let point = |i: usize| -> Option<G1Affine> {
        Option::from(
            <G1Affine as halo2_proofs::arithmetic::CurveAffine>::from_xy(
                coordinate(2 * i),
                coordinate(2 * i + 1),
            ),
        )
        .filter(|p: &G1Affine| !bool::from(p.is_identity()))
    };
    let (Some(lhs), Some(rhs)) = (point(0), point(1)) else {
        return false;
    };
    let dk: KzgDecidingKey<Bn256> = (srs.get_g()[0], srs.g2(), srs.s_g2()).into();
    <KzgAs<Bn256, Bdfg21> as AccumulationDecider<G1Affine, NativeLoader>>::decide(
        &dk,
        KzgAccumulator::<G1Affine, NativeLoader>::new(lhs, rhs),
    )
    .is_ok()
}
