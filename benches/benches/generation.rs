//! Proving a greedy generation of the example tiny GPT (135k parameters): 8 and 16 generated
//! tokens after a 16-token prompt, keys made once outside the measurement.
//! `cargo bench -p zkinfer-benches --bench generation`

use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use zkinfer_circuits::gpt::import::import;
use zkinfer_circuits::gpt::reference::Slots;
use zkinfer_circuits::halo2::generation::{GenPlan, GenWitness, GenerationCircuit};
use zkinfer_circuits::Fr;
use zkinfer_prover::artifacts::Halo2Plan;
use zkinfer_prover::{keys::keygen, prove::create, srs};

/// A 16-byte prompt: every prompt slot is used.
const PROMPT: &[u8] = b"The class method";

fn generation(c: &mut Criterion) {
    let onnx = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/tiny_gpt/tiny_gpt.onnx");
    let model = import(&onnx).expect("example decoder");
    let mut g = c.benchmark_group("tiny_gpt_generation");
    g.sample_size(10);
    for gen in [8, 16] {
        let slots = Slots { prompt: 16, gen };
        let plan = Arc::new(GenPlan::new(model.clone(), slots).expect("plan"));
        let params = srs::dev(plan.k);
        let pk = keygen(&params, &Halo2Plan::Generation(plan.clone())).expect("keygen");
        let witness = GenWitness {
            request_id: Fr::from(1),
            salt: Fr::from(2),
            prompt: PROMPT.iter().map(|b| *b as usize).collect(),
            max_tokens: gen,
        };
        g.bench_function(
            format!("prove_16_prompt_{gen}_generated_k{}", plan.k),
            |b| {
                b.iter(|| {
                    let (circuit, run) =
                        GenerationCircuit::prepare(plan.clone(), witness.clone()).expect("witness");
                    create(&params, &pk, circuit, &run.statement.instances()).expect("proof")
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, generation);
criterion_main!(benches);
