//! Key generation and proving for the MLP 784-64-10 (ReLU), halo2 and Groth16 side by side.
//! `cargo bench -p zkinfer-benches --bench mlp`

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use zkinfer_benches::{mlp_plan, mlp_witness};
use zkinfer_circuits::groth16::circuit::Shape;
use zkinfer_circuits::halo2::ModelCircuit;
use zkinfer_prover::artifacts::Halo2Plan;
use zkinfer_prover::transcript::TranscriptKind;
use zkinfer_prover::{groth16, keys::keygen, prove::create, srs};

fn halo2(c: &mut Criterion) {
    let plan = mlp_plan();
    let params = srs::dev(plan.k);
    let mut g = c.benchmark_group("mlp_784_64_10/halo2");
    g.sample_size(10);
    g.bench_function("keygen", |b| {
        b.iter(|| keygen(&params, &Halo2Plan::Model(plan.clone())).expect("keygen"))
    });
    let pk = keygen(&params, &Halo2Plan::Model(plan.clone())).expect("keygen");
    let witness = mlp_witness(&plan);
    g.bench_function("prove", |b| {
        b.iter(|| {
            let (circuit, run) =
                ModelCircuit::prepare(plan.clone(), witness.clone()).expect("witness");
            create(
                &params,
                &pk,
                circuit,
                &run.statement.instances(),
                TranscriptKind::Evm,
            )
            .expect("proof")
        })
    });
    g.finish();
}

fn groth16(c: &mut Criterion) {
    let plan = mlp_plan();
    let shape = Arc::new(Shape::new((*plan.model).clone(), 1).expect("shape"));
    let witness = mlp_witness(&plan);
    let mut g = c.benchmark_group("mlp_784_64_10/groth16");
    g.sample_size(10);
    g.bench_function("setup", |b| {
        b.iter(|| groth16::setup(shape.clone()).expect("setup"))
    });
    let (pk, constraints) = groth16::setup(shape.clone()).expect("setup");
    println!("groth16 constraints: {constraints}");
    g.bench_function("prove", |b| {
        b.iter(|| groth16::prove(&pk, shape.clone(), witness.clone()).expect("proof"))
    });
    g.finish();
}

criterion_group!(benches, halo2, groth16);
criterion_main!(benches);
