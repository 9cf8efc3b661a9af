//! The Groth16 model circuit against the reference executor: for random models its R1CS is
//! satisfied and its public inputs are exactly the halo2 backend's instances for the same request.
//! (Changed public inputs are tested against real proofs in the prover.) The mutation net edits
//! witness assignments after synthesis, which is meaningful only because it first inlines
//! ark-relations' cached linear-combination values (`groth16::mutation`).

use std::sync::Arc;

use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};
use halo2_proofs::dev::MockProver;
use halo2curves::ff::Field;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use zkinfer_circuits::graph::{Builder, Model};
use zkinfer_circuits::groth16::circuit::Shape;
use zkinfer_circuits::groth16::{from_ark, to_ark, Groth16Circuit, F};
use zkinfer_circuits::halo2::{ModelCircuit, Plan, Witness};
use zkinfer_circuits::ops::{wiring::Reshape, Op};

mod common;
use common::random_model;
use zkinfer_circuits::Fr;

/// Synthesizes with a witness; returns (satisfied, public inputs without the leading 1).
fn synthesize(c: Groth16Circuit) -> (bool, Vec<Fr>) {
    let cs = ConstraintSystem::<F>::new_ref();
    c.generate_constraints(cs.clone()).unwrap();
    let inputs = cs.instance_assignment().unwrap()[1..]
        .iter()
        .map(from_ark)
        .collect();
    (cs.is_satisfied().unwrap(), inputs)
}

#[test]
fn random_models_match_reference_and_halo2_instances() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for (dims, batch, rows) in [(vec![20, 12, 5], 1, 1), (vec![33, 9, 7, 4], 3, 2)] {
        let model = random_model(&mut rng, &dims);
        let shape = Arc::new(Shape::new(model.clone(), batch).unwrap());
        let plan = Arc::new(Plan::new(model, batch).unwrap());
        let w = Witness {
            rows: (0..rows)
                .map(|_| (0..dims[0]).map(|_| rng.gen_range(-128..=127)).collect())
                .collect(),
            request_id: Fr::from(rng.gen::<u64>()),
            salt: Fr::random(&mut rng),
        };
        let (circuit, run) = Groth16Circuit::prepare(shape.clone(), w.clone()).unwrap();
        let (_, halo2_run) = ModelCircuit::prepare(plan, w).unwrap();
        let (ok, inputs) = synthesize(circuit);
        assert!(ok, "dims {dims:?}");
        assert_eq!(inputs, run.statement.instances().to_vec());
        assert_eq!(
            inputs,
            halo2_run.statement.instances().to_vec(),
            "backends disagree"
        );
    }
}

#[test]
fn field_conversion_round_trips() {
    for v in [Fr::from(0), Fr::from(5), -Fr::from(3)] {
        assert_eq!(from_ark(&to_ark(&v)), v);
    }
}

/// The R1CS mutation net over an MLP circuit: 2,000 witness variables spread over the whole
/// witness vector (mask, input range checks, layers, rescales, both commitments), each changed by
/// +1 and -1, must each leave a constraint unsatisfied.
#[test]
fn every_sampled_witness_variable_is_bound() {
    use zkinfer_circuits::groth16::mutation::{spread, survivors, witness_count, DELTAS};
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let model = random_model(&mut rng, &[11, 6, 3]);
    let shape = Arc::new(Shape::new(model, 3).unwrap());
    let w = Witness {
        rows: vec![(0..11).map(|i| i * 11 - 60).collect(), vec![-128; 11]],
        request_id: Fr::from(7),
        salt: Fr::from(99),
    };
    let (circuit, _) = Groth16Circuit::prepare(shape, w).unwrap();
    let synth = |cs| circuit.clone().generate_constraints(cs);
    let n = witness_count(&synth).unwrap();
    let vars = spread(n, 2000);
    let t = std::time::Instant::now();
    let free = survivors(&synth, &vars, &DELTAS).unwrap();
    eprintln!(
        "Groth16 MLP circuit: {} of {n} witness variables mutated in {:.1?}",
        vars.len(),
        t.elapsed()
    );
    assert!(vars.len() >= 2000.min(n));
    assert!(free.is_empty(), "free witness variables: {free:?}");
}

/// An input declared narrower than int8 (a boolean, an index) is range-checked to its range by
/// both backends: a value that the commitment binds but the range excludes is refused, where the
/// same graph with an int8 input computes that statement.
#[test]
fn an_input_outside_its_declared_range_is_refused_by_both_backends() {
    let graph = |min: i64, max: i64| {
        let mut b = Builder::new("narrow");
        let x = b.input("b", &[1, 4]);
        let y = b
            .node("y", Op::Reshape(Reshape { shape: vec![4] }), &[&x])
            .unwrap();
        let mut g = b.graph(&[&y]);
        (g.inputs[0].min, g.inputs[0].max) = (min, max);
        Model::new(g).unwrap()
    };
    let (narrow, wide) = (graph(0, 1), graph(-128, 127));
    let w = |v: i64| Witness {
        rows: vec![vec![1, 0, v, 1]],
        request_id: Fr::from(4),
        salt: Fr::from(6),
    };
    let wide_plan = Arc::new(Plan::new(wide, 1).unwrap());
    let plan = Arc::new(Plan::new(narrow.clone(), 1).unwrap());
    let shape = Arc::new(Shape::new(narrow, 1).unwrap());
    for (v, ok) in [(1, true), (0, true), (2, false), (5, false), (-1, false)] {
        let (_, run) = ModelCircuit::prepare(wide_plan.clone(), w(v)).unwrap();
        let inst = run.statement.instances().to_vec();
        let circuit = ModelCircuit {
            plan: plan.clone(),
            witness: Some(Arc::new(w(v))),
        };
        let halo2 = MockProver::run(plan.k, &circuit, vec![inst.clone()])
            .unwrap()
            .verify();
        assert_eq!(halo2.is_ok(), ok, "halo2, value {v}");
        let (satisfied, publics) = synthesize(Groth16Circuit {
            shape: shape.clone(),
            witness: Some(Arc::new(w(v))),
        });
        assert_eq!(satisfied, ok, "R1CS, value {v}");
        assert_eq!(publics, inst);
    }
}
