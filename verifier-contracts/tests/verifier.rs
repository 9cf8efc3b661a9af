//! The generated verifiers on the embedded chain: reproducible, under EIP-170, and refusing every
//! tampered proof byte, every instance (ciphertext words included) changed or at or above r, an
//! instance list of another length, non-canonical scalars and padded proofs.

mod common;

use alloy::primitives::{Address, Bytes, U256};
use zkinfer_contracts::artifact::{build, build_in_parts, deploy, VerifierArtifact, MAX_CODE_SIZE};
use zkinfer_contracts::chain::embedded::Embedded;
use zkinfer_contracts::claim::Claim;
use zkinfer_contracts::generate::proof_layout;
use zkinfer_contracts::settlement::verify_call;
use zkinfer_prover::keys::{load_verifier_keys, LoadedVerifier};

fn deployed(verifier: &VerifierArtifact) -> (Embedded, Address) {
    let mut chain = Embedded::new();
    let (adapter, _) = deploy(
        &mut chain,
        zkinfer_contracts::keys::dev(0).address(),
        &verifier.part_codes(),
        &verifier.adapter.bytecode,
    )
    .unwrap();
    (chain, adapter)
}

fn accepts(chain: &mut Embedded, adapter: Address, proof: &[u8], instances: &[U256]) -> bool {
    verify_call(
        chain,
        adapter,
        Bytes::copy_from_slice(proof),
        instances.to_vec(),
    )
    .unwrap()
    .0
}

/// Every byte flipped and every instance changed (by one, and by adding r) is refused.
fn refuses_tampering(verifier: &VerifierArtifact, claim: &Claim) {
    let (mut chain, adapter) = deployed(verifier);
    let inst = &claim.instances();
    assert!(
        inst.len() > 5,
        "the statement carries the output ciphertext"
    );
    assert!(accepts(&mut chain, adapter, &claim.proof, inst));
    for i in 0..claim.proof.len() {
        let mut p = claim.proof.to_vec();
        p[i] ^= 1;
        assert!(
            !accepts(&mut chain, adapter, &p, inst),
            "proof byte {i} flipped was accepted"
        );
    }
    for i in 0..inst.len() {
        for delta in [U256::from(1), common::r()] {
            let mut bad = inst.clone();
            bad[i] += delta;
            assert!(
                !accepts(&mut chain, adapter, &claim.proof, &bad),
                "instance {i} + {delta} was accepted"
            );
        }
    }
    assert!(!accepts(
        &mut chain,
        adapter,
        &claim.proof,
        &inst[..inst.len() - 1]
    ));
    let mut more = inst.clone();
    more.push(U256::ZERO);
    assert!(!accepts(&mut chain, adapter, &claim.proof, &more));
    let mut longer = claim.proof.to_vec();
    longer.push(0);
    assert!(
        !accepts(&mut chain, adapter, &longer, inst),
        "a padded proof was accepted"
    );
    assert!(!accepts(
        &mut chain,
        adapter,
        &claim.proof[..claim.proof.len() - 32],
        inst
    ));
}

#[test]
fn halo2_verifier_refuses_every_tampered_byte_and_instance() {
    let fx = common::halo2();
    let claim = fx.claim(U256::from(1));
    refuses_tampering(&fx.verifier, &claim);
    // The same key's verifier split as a larger key's would be, each part handing its memory to
    // the next: it refuses exactly what the whole one does.
    let split = build_in_parts(&fx.dir, common::solc(), 2).unwrap();
    assert_eq!(split.parts.len(), 2);
    refuses_tampering(&split, &claim);
}

#[test]
fn groth16_verifier_refuses_every_tampered_byte_and_instance() {
    let fx = common::groth16();
    refuses_tampering(&fx.verifier, &fx.claim(U256::from(1)));
}

#[test]
fn halo2_adapter_refuses_scalars_at_or_above_r() {
    let fx = common::halo2();
    let LoadedVerifier::Halo2(keys) = load_verifier_keys(&fx.dir).unwrap() else {
        panic!("halo2 fixture")
    };
    let claim = &fx.claim(U256::from(1));
    // The layout the adapter checks is the one a real proof has.
    let instances = zkinfer_circuits::usage::InstanceStrings(
        claim
            .instances()
            .iter()
            .map(|v| format!("{v:#x}"))
            .collect(),
    )
    .parse()
    .unwrap();
    let real =
        zkinfer_prover::verify::check_with_layout(&keys.srs, &keys.vk, &instances, &claim.proof)
            .expect("the proof verifies");
    let layout = proof_layout(&keys.srs, &keys.vk, keys.manifest.instances);
    assert_eq!(real, layout);
    assert_eq!(layout.len, claim.proof.len());
    let (mut chain, adapter) = deployed(&fx.verifier);
    // s + r is the same scalar mod r: the generated code alone would accept it.
    for &off in [
        layout.scalar_offsets[0],
        *layout.scalar_offsets.last().unwrap(),
    ]
    .iter()
    {
        let mut p = claim.proof.to_vec();
        let s = U256::from_be_slice(&p[off..off + 32]) + common::r();
        p[off..off + 32].copy_from_slice(&s.to_be_bytes::<32>());
        assert!(
            !accepts(&mut chain, adapter, &p, &claim.instances()),
            "scalar at {off} + r accepted"
        );
    }
}

#[test]
fn verifiers_are_reproducible_and_fit_eip170() {
    for fx in [common::halo2(), common::groth16()] {
        let again = build(&fx.dir, common::solc()).unwrap();
        assert_eq!(
            fx.verifier.sources.sources, again.sources.sources,
            "{}",
            fx.backend
        );
        assert_eq!(fx.verifier.manifest(), again.manifest());
        for c in fx.verifier.parts.iter().chain([&fx.verifier.adapter]) {
            assert!(c.deployed_bytecode.len() <= MAX_CODE_SIZE);
        }
    }
    // The MLP's gas-layout verifier fits one contract (24,591 bytes before the point check
    // shared its modulus): no second part, no memory handed over (15k gas a verification).
    assert_eq!(common::halo2().verifier.parts.len(), 1);
    assert!(common::groth16().verifier.parts.is_empty());
}
