//! Key generation and proving for the MLP 784-64-10 (ReLU) with the halo2 backend.
//! `cargo bench -p zkinfer-benches --bench halo2_mlp`

use criterion::{criterion_group, criterion_main, Criterion};
use zkinfer_benches::{mlp_plan, mlp_witness};
use zkinfer_circuits::halo2::ModelCircuit;
use zkinfer_prover::{keys::keygen, prove::create, srs};

fn bench(c: &mut Criterion) {
    let plan = mlp_plan();
    let params = srs::dev(plan.k);
    let mut g = c.benchmark_group("halo2_mlp_784_64_10");
    g.sample_size(10);
    g.bench_function("keygen", |b| {
        b.iter(|| keygen(&params, plan.clone()).expect("keygen"))
    });
    let pk = keygen(&params, plan.clone()).expect("keygen");
    let witness = mlp_witness(&plan);
    g.bench_function("prove", |b| {
        b.iter(|| {
            let (circuit, run) =
                ModelCircuit::prepare(plan.clone(), witness.clone()).expect("witness");
            create(&params, &pk, circuit, &run.statement.instances()).expect("proof")
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
