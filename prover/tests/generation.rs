//! Real generation proofs on the example tiny GPT through the graph front end (a 3 + 2 slot
//! circuit): keygen, prove, verify, rejection of tampered instances, and keys that are a function
//! of the model, the slots and the SRS.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use zkinfer_circuits::decoder::Slots;
use zkinfer_circuits::halo2::decoder::circuit::{DecodeRequest, DecoderCircuit};
use zkinfer_circuits::Fr;
use zkinfer_prover::artifacts::Halo2Plan;
use zkinfer_prover::compile::{plan_decoder_graph, Objective, Stop};
use zkinfer_prover::keys::{keygen, vk_bytes};
use zkinfer_prover::prove::create;
use zkinfer_prover::srs;
use zkinfer_prover::verify::check;

fn example(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/tiny_gpt")
        .join(file)
}

#[test]
fn a_tiny_gpt_generation_proves_and_verifies() {
    let calibration: serde_json::Value =
        serde_json::from_slice(&std::fs::read(example("calibration.json")).unwrap()).unwrap();
    let samples: Vec<Vec<f64>> = serde_json::from_value(calibration["input"].clone()).unwrap();
    let slots = Slots { prompt: 3, gen: 2 };
    let (_, plan) = plan_decoder_graph(
        &example("tiny_gpt.onnx"),
        &samples,
        (slots, Stop::Last),
        Objective::Speed,
    )
    .unwrap();
    let plan = Arc::new(plan);
    let srs = srs::dev(plan.k);
    let pk = keygen(&srs, &Halo2Plan::Decode(plan.clone())).unwrap();
    let request = DecodeRequest {
        request_id: Fr::from(5),
        salt: Fr::from(99),
        prompt: b"The".iter().map(|b| *b as u64).collect(),
        max_tokens: 2,
    };
    let (circuit, run) = DecoderCircuit::prepare(plan.clone(), request).unwrap();
    assert_eq!((run.generation.n_in, run.generation.n_out), (3, 2));
    let inst = run.statement.instances();
    let proof = create(&srs, &pk, circuit, &inst, Default::default()).unwrap();
    assert!(check(&srs, pk.get_vk(), &inst, &proof));
    for i in 0..5 {
        let mut bad = inst.clone();
        bad[i] += Fr::from(1);
        assert!(
            !check(&srs, pk.get_vk(), &bad, &proof),
            "instance {i} + 1 accepted"
        );
    }
    let again = keygen(&srs, &Halo2Plan::Decode(plan)).unwrap();
    assert_eq!(vk_bytes(again.get_vk()), vk_bytes(pk.get_vk()));
}
