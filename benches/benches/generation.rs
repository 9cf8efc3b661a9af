//! Proving a greedy generation of the example tiny GPT (135k parameters), compiled from its ONNX
//! through the graph front end as `zkinfer compile` does: 8 and 16 generated tokens after a
//! 16-token prompt, keys made once outside the measurement.
//! `cargo bench -p zkinfer-benches --bench generation`

use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use zkinfer_circuits::decoder::Slots;
use zkinfer_circuits::halo2::decoder::circuit::{DecodeRequest, DecoderCircuit};
use zkinfer_circuits::Fr;
use zkinfer_prover::artifacts::Halo2Plan;
use zkinfer_prover::compile::{plan_decoder_graph, Objective, Stop};
use zkinfer_prover::transcript::TranscriptKind;
use zkinfer_prover::{keys::keygen, prove::create, srs};

/// A 16-byte prompt: every prompt slot is used.
const PROMPT: &[u8] = b"The class method";

fn generation(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/tiny_gpt");
    let calibration: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("calibration.json")).expect("calibration"))
            .expect("JSON");
    let samples: Vec<Vec<f64>> =
        serde_json::from_value(calibration["input"].clone()).expect("rows of numbers");
    let mut g = c.benchmark_group("tiny_gpt_generation");
    g.sample_size(10);
    for gen in [8, 16] {
        let slots = Slots { prompt: 16, gen };
        let (_, plan) = plan_decoder_graph(
            &dir.join("tiny_gpt.onnx"),
            &samples,
            (slots, Stop::Last),
            Objective::Speed,
        )
        .expect("example decoder");
        let plan = Arc::new(plan);
        let params = srs::dev(plan.k);
        let pk = keygen(&params, &Halo2Plan::Decode(plan.clone())).expect("keygen");
        let request = DecodeRequest {
            request_id: Fr::from(1),
            salt: Fr::from(2),
            prompt: PROMPT.iter().map(|b| *b as u64).collect(),
            max_tokens: gen,
        };
        g.bench_function(
            format!("prove_16_prompt_{gen}_generated_k{}", plan.k),
            |b| {
                b.iter(|| {
                    let (circuit, run) =
                        DecoderCircuit::prepare(plan.clone(), request.clone()).expect("witness");
                    create(
                        &params,
                        &pk,
                        circuit,
                        &run.statement.instances(),
                        TranscriptKind::Evm,
                    )
                    .expect("proof")
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, generation);
criterion_main!(benches);
