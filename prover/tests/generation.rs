//! Real generation proofs on a toy decoder: keygen, prove, verify, and rejection of tampered
//! instances.

use std::sync::Arc;

use zkinfer_circuits::gpt::reference::Slots;
use zkinfer_circuits::gpt::toy::toy;
use zkinfer_circuits::halo2::generation::{GenPlan, GenWitness, GenerationCircuit};
use zkinfer_circuits::Fr;
use zkinfer_prover::artifacts::Halo2Plan;
use zkinfer_prover::keys::{keygen, vk_bytes};
use zkinfer_prover::prove::create;
use zkinfer_prover::srs;
use zkinfer_prover::verify::check;

#[test]
fn a_toy_generation_proves_and_verifies() {
    let plan = Arc::new(GenPlan::new(toy(7), Slots { prompt: 3, gen: 4 }).unwrap());
    let srs = srs::dev(plan.k);
    let pk = keygen(&srs, &Halo2Plan::Generation(plan.clone())).unwrap();
    let w = GenWitness {
        request_id: Fr::from(5),
        salt: Fr::from(99),
        prompt: vec![1, 2],
        max_tokens: 4,
    };
    let (circuit, run) = GenerationCircuit::prepare(plan.clone(), w).unwrap();
    let inst = run.statement.instances();
    let proof = create(&srs, &pk, circuit, &inst).unwrap();
    assert!(check(&srs, pk.get_vk(), &inst, &proof));
    for i in 0..5 {
        let mut bad = inst;
        bad[i] += Fr::from(1);
        assert!(
            !check(&srs, pk.get_vk(), &bad, &proof),
            "instance {i} + 1 accepted"
        );
    }
    // Keys are a function of the model, the slots and the SRS.
    let again = keygen(&srs, &Halo2Plan::Generation(plan)).unwrap();
    assert_eq!(vk_bytes(again.get_vk()), vk_bytes(pk.get_vk()));
}
