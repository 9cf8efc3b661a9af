//! The checks every op test runs: for a small graph around the op, the reference executor, the
//! halo2 circuit (MockProver) and the R1CS (satisfiability; for a table op, Groth16's refusal
//! naming the node) agree on random, extreme and clamping inputs; a statement with any one output changed is rejected (a wrong maximum, a wrong tap, a
//! broadcast read from the wrong element or the wrong branch of a comparison all change an
//! output); and the witness-mutation nets run over each op's circuits. halo2 runs every check in
//! the shape its plan picks and, where the layout differs, with the matvec chip and with the
//! challenge check forced on, so the substitutions a bigger model gets are under the same nets
//! as what they replace.

// shared by `ops.rs` and `ops_exact.rs`, each of which uses a part of it
#![allow(dead_code)]

use std::sync::Arc;

use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};
use halo2_proofs::dev::MockProver;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use zkinfer_circuits::graph::{execute, Model, Tensor};
use zkinfer_circuits::groth16::circuit::Shape;
use zkinfer_circuits::groth16::mutation::assert_every_variable_bound;
use zkinfer_circuits::groth16::{from_ark, Groth16Circuit, F};
use zkinfer_circuits::halo2::config::Shape as Halo2Shape;
use zkinfer_circuits::halo2::mutation::assert_sample_bound;
use zkinfer_circuits::halo2::{ModelCircuit, Plan, Witness};
use zkinfer_circuits::ops::{rescale::Rescale, Op};
use zkinfer_circuits::usage::commit;
use zkinfer_circuits::Fr;

/// Halo2 cells mutated per op circuit.
const SAMPLE: usize = 300;

pub fn rescale(shift: u32) -> Op {
    Op::Rescale(Rescale {
        multiplier: 21000,
        shift,
        min: -128,
        max: 127,
    })
}

pub fn ints(rng: &mut ChaCha8Rng, n: usize, r: i64) -> Vec<i64> {
    (0..n).map(|_| rng.gen_range(-r..=r)).collect()
}

pub fn witness(rows: Vec<Vec<i64>>) -> Witness {
    Witness {
        rows,
        request_id: Fr::from(77),
        salt: Fr::from(5),
    }
}

/// The halo2 plans an op is checked under: the one `Plan::new` picks and, for each substitution
/// that lays the model out otherwise, the one that forces it: matvec blocks, and the challenge
/// check of matrix products.
pub fn plans(model: &Model) -> Vec<Arc<Plan>> {
    let picked = Plan::new(model.clone(), 1).unwrap();
    let forced = [
        Halo2Shape {
            matvec: true,
            ..picked.shape
        },
        Halo2Shape {
            freivalds: true,
            ..picked.shape
        },
    ];
    let mut plans = vec![Arc::new(picked)];
    for shape in forced {
        let p = Plan::with_shape(model.clone(), 1, shape).unwrap();
        if plans.iter().all(|q| q.main_rows != p.main_rows) {
            plans.push(Arc::new(p));
        }
    }
    plans
}

/// The R1CS shape of `model`; `None` for a model with function tables, which Groth16 must
/// refuse at shaping, naming the table's node (an embedding it selects by comparisons).
fn r1cs(model: &Model) -> Option<Arc<Shape>> {
    let shaped = Shape::new(model.clone(), 1);
    let Some(node) = model.graph().nodes.iter().find(|n| n.op.needs_lookups()) else {
        return Some(Arc::new(shaped.unwrap()));
    };
    let e = shaped.expect_err("Groth16 refuses a table").to_string();
    assert!(
        e.contains(&format!("node `{}`", node.name)) && e.contains("Groth16 has none"),
        "{e}"
    );
    None
}

/// Reference, halo2 (in each of its plans) and R1CS (where it has the ops) agree on `rows`
/// one at a time; for the first, any changed output is rejected.
fn agree(model: &Model, rows: &[Vec<i64>]) {
    let plans = plans(model);
    let shape = r1cs(model);
    for (r, row) in rows.iter().enumerate() {
        let w = witness(vec![row.clone()]);
        let mut publics = None;
        if let Some(shape) = &shape {
            let (g16, g16_run) = Groth16Circuit::prepare(shape.clone(), w.clone()).unwrap();
            let cs = ConstraintSystem::<F>::new_ref();
            g16.generate_constraints(cs.clone()).unwrap();
            assert!(
                cs.is_satisfied().unwrap(),
                "{}: R1CS unsatisfied",
                model.name()
            );
            let p: Vec<Fr> = cs.instance_assignment().unwrap()[1..]
                .iter()
                .map(from_ark)
                .collect();
            assert_eq!(p, g16_run.statement.instances().to_vec());
            publics = Some(p);
        }
        for plan in &plans {
            let name = format!("{} ({:?})", model.name(), plan.shape);
            let (circuit, run) = ModelCircuit::prepare(plan.clone(), w.clone()).unwrap();
            let inst = run.statement.instances().to_vec();
            if let Err(e) = MockProver::run(plan.k, &circuit, vec![inst.clone()])
                .unwrap()
                .verify()
            {
                panic!(
                    "{name}: halo2 rejects the reference: {:?}",
                    &e[..e.len().min(3)]
                );
            }
            if let Some(p) = &publics {
                assert_eq!(p, &inst, "{name}: backends disagree");
            }
            if r > 0 {
                continue;
            }
            // every output, changed by one, is refused
            let honest = execute(model, row).unwrap().output();
            for i in 0..honest.len().min(6) {
                let mut outs = honest.clone();
                outs[i] += if outs[i] == 127 { -1 } else { 1 };
                let mut bad = inst.clone();
                bad[2] = commit(w.request_id, w.salt, 1, &outs).unwrap();
                assert!(
                    MockProver::run(plan.k, &circuit, vec![bad])
                        .unwrap()
                        .verify()
                        .is_err(),
                    "{name}: output {i} changed by one accepted"
                );
            }
        }
    }
}

/// The mutation nets: sampled halo2 cells in each plan, every R1CS witness variable.
fn nets(model: &Model, row: Vec<i64>) {
    for (i, plan) in plans(model).into_iter().enumerate() {
        let name = format!("{} ({:?})", model.name(), plan.shape);
        let (circuit, run) =
            ModelCircuit::prepare(plan.clone(), witness(vec![row.clone()])).unwrap();
        let inst = vec![run.statement.instances().to_vec()];
        // a forced substitution's chips have every cell mutated in their own tests; here the
        // net checks how the op is wired onto them
        let sample = if i == 0 { SAMPLE } else { SAMPLE / 2 };
        assert_sample_bound(plan.k, &circuit, &inst, sample, &name);
    }
    if let Some(shape) = r1cs(model) {
        let (g16, _) = Groth16Circuit::prepare(shape, witness(vec![row])).unwrap();
        assert_every_variable_bound(&|cs| g16.clone().generate_constraints(cs), model.name());
    }
}

/// Random rows, the extremes and a sign pattern; then the nets on a random row.
pub fn check(model: Model, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = model.input_len();
    let rows = vec![
        ints(&mut rng, n, 128)
            .into_iter()
            .map(|v| v.min(127))
            .collect(),
        ints(&mut rng, n, 20),
        vec![127; n],
        vec![-128; n],
        (0..n)
            .map(|i| if i % 3 == 0 { 127 } else { -128 })
            .collect::<Vec<i64>>(),
    ];
    agree(&model, &rows);
    nets(&model, rows[0].clone());
}

pub fn tensor(rng: &mut ChaCha8Rng, shape: &[usize], r: i64) -> Tensor<i64> {
    Tensor::new(shape.to_vec(), ints(rng, shape.iter().product(), r)).unwrap()
}
