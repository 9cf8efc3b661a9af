//! The model circuit against the reference executor: random models and inputs satisfy MockProver
//! with the instances the reference computes, and any other instance is rejected.

use std::sync::Arc;

use halo2_proofs::dev::MockProver;
use halo2curves::ff::Field;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use zkinfer_circuits::graph::{execute, Model};
use zkinfer_circuits::halo2::config::{Shape, MAIN_WIDTH, NARROW_WIDTH};
use zkinfer_circuits::halo2::plan::Objective;
use zkinfer_circuits::halo2::{ModelCircuit, Plan, Witness};
use zkinfer_circuits::ops::Op;

mod common;
use common::random_model;
use zkinfer_circuits::usage::{commit, encrypt, pack, USAGE_INSTANCES};
use zkinfer_circuits::Fr;

fn witness(rng: &mut ChaCha8Rng, len: usize, rows: usize) -> Witness {
    Witness {
        rows: (0..rows)
            .map(|_| (0..len).map(|_| rng.gen_range(-128..=127)).collect())
            .collect(),
        request_id: Fr::from(rng.gen::<u64>()),
        salt: Fr::random(&mut *rng),
    }
}

fn run(
    plan: &Arc<Plan>,
    w: Witness,
    instances: Option<Vec<Fr>>,
) -> Result<(), Vec<halo2_proofs::dev::VerifyFailure>> {
    let (circuit, run) = ModelCircuit::prepare(plan.clone(), w).unwrap();
    let inst = instances.unwrap_or_else(|| run.statement.instances().to_vec());
    MockProver::run(plan.k, &circuit, vec![inst])
        .unwrap()
        .verify()
}

#[test]
fn random_models_match_reference() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for (dims, batch, rows) in [
        (vec![20, 12, 5], 1, 1),
        (vec![33, 9, 7, 4], 3, 2),
        (vec![40, 3], 2, 2),
    ] {
        let model = random_model(&mut rng, &dims);
        let plan = Arc::new(Plan::new(model, batch).unwrap());
        for _ in 0..2 {
            let w = witness(&mut rng, dims[0], rows);
            if let Err(e) = run(&plan, w, None) {
                panic!("dims {dims:?}: {:?}", &e[..e.len().min(3)]);
            }
        }
    }
}

#[test]
fn extreme_inputs_and_clamping_match_reference() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let model = random_model(&mut rng, &[16, 6, 3]);
    // a tiny shift clamps most outputs at the int8 bounds
    let mut g = model.graph().clone();
    if let Op::Rescale(r) = &mut g.nodes[1].op {
        r.shift = 12;
    }
    let model = Model::new(g).unwrap();
    let plan = Arc::new(Plan::new(model, 1).unwrap());
    for v in [-128i64, 127, 0] {
        let w = Witness {
            rows: vec![vec![v; 16]],
            request_id: Fr::from(1),
            salt: Fr::from(2),
        };
        run(&plan, w, None).unwrap();
    }
}

#[test]
fn every_other_instance_is_rejected() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let model = random_model(&mut rng, &[12, 6, 4]);
    let plan = Arc::new(Plan::new(model.clone(), 3).unwrap());
    let w = witness(&mut rng, 12, 2);
    let (_, good) = ModelCircuit::prepare(plan.clone(), w.clone()).unwrap();
    let good = good.statement.instances().to_vec();
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] += Fr::ONE;
        assert!(
            run(&plan, w.clone(), Some(bad)).is_err(),
            "instance {i} + 1 accepted"
        );
    }
    // the batch's outputs, padding rows zero
    let honest: Vec<i128> = {
        let mut o: Vec<i128> = w
            .rows
            .iter()
            .flat_map(|r| execute(&model, r).unwrap().output())
            .collect();
        o.resize(12, 0);
        o
    };
    // a commitment to other outputs (one output changed) is rejected
    let mut outs = honest.clone();
    outs[0] = if outs[0] == 5 { 6 } else { 5 };
    let mut bad = good.clone();
    bad[2] = commit(w.request_id, w.salt, 2, &outs).unwrap();
    assert!(run(&plan, w.clone(), Some(bad)).is_err());
    // the true output encrypted under another salt or request id, or another output under the
    // right pads, is rejected
    let words = pack(&honest).unwrap();
    assert_eq!(
        encrypt(w.request_id, w.salt, &words),
        good[USAGE_INSTANCES..],
        "the statement's ciphertext is the honest one"
    );
    for cipher in [
        encrypt(w.request_id, w.salt + Fr::ONE, &words),
        encrypt(w.request_id + Fr::ONE, w.salt, &words),
        encrypt(w.request_id, w.salt, &pack(&outs).unwrap()),
    ] {
        let mut bad = good.clone();
        bad.truncate(USAGE_INSTANCES);
        bad.extend(cipher);
        assert!(run(&plan, w.clone(), Some(bad)).is_err());
    }
    // claiming all three batch rows as real (over-billing) is rejected
    let mut bad = good.clone();
    bad[3] = Fr::from(3);
    bad[4] = Fr::from(3);
    assert!(run(&plan, w, Some(bad)).is_err());
}

#[test]
fn narrow_lane_matches_reference_and_rejects_other_instances() {
    // the gas layout: linear chains of four terms a row, rescales and Poseidon rounds on two
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    for (dims, batch, rows) in [(vec![20, 12, 5], 1, 1), (vec![33, 9, 7, 4], 3, 2)] {
        let model = random_model(&mut rng, &dims);
        let plan = Plan::optimized(model, batch, Objective::Gas).unwrap();
        assert_eq!(plan.shape.main_width, NARROW_WIDTH, "{:?}", plan.shape);
        let plan = Arc::new(plan);
        let w = witness(&mut rng, dims[0], rows);
        if let Err(e) = run(&plan, w.clone(), None) {
            panic!("dims {dims:?}: {:?}", &e[..e.len().min(3)]);
        }
        let honest = ModelCircuit::prepare(plan.clone(), w.clone()).unwrap().1;
        for i in 0..USAGE_INSTANCES {
            let mut bad = honest.statement.instances().to_vec();
            bad[i] += Fr::ONE;
            assert!(run(&plan, w.clone(), Some(bad)).is_err(), "instance {i}");
        }
    }
}

#[test]
fn plan_rows_match_layout_and_fit_k() {
    // the plan sizes the circuit by a dry run of the layout itself
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let model = random_model(&mut rng, &[50, 20, 10]);
    let plan = Plan::new(model, 2).unwrap();
    // debug_assert in synthesize compares the counted rows with the layout
    let w = witness(&mut rng, 50, 1);
    let plan = Arc::new(plan);
    run(&plan, w, None).unwrap();
    assert!(plan.main_rows + 10 <= 1 << plan.k);
}

#[test]
fn matvec_blocks_are_taken_only_where_they_lower_k() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    // 512 × 256 weights: a row per nine inputs per output on the dot chip needs 2^14 rows, five
    // outputs at a time on the matvec chip fit in 2^13
    let wide = Plan::new(random_model(&mut rng, &[512, 256, 10]), 1).unwrap();
    assert!(wide.shape.matvec, "{:?}", wide.shape);
    let chains = Plan::with_shape(Model::clone(&wide.model), 1, Default::default()).unwrap();
    assert!(wide.k < chains.k, "{} vs {}", wide.k, chains.k);
    let w = witness(&mut rng, 512, 1);
    let wide = Arc::new(wide);
    run(&wide, w.clone(), None).unwrap();
    let mut bad = ModelCircuit::prepare(wide.clone(), w.clone())
        .unwrap()
        .1
        .statement
        .instances()
        .to_vec();
    bad[2] += Fr::ONE;
    assert!(run(&wide, w, Some(bad)).is_err());
    // at equal k the narrower circuit wins: no matvec columns in a small model's verifier
    let small = Plan::new(random_model(&mut rng, &[50, 20, 10]), 1).unwrap();
    assert!(!small.shape.matvec);
}

#[test]
fn a_wider_lane_is_taken_where_it_lowers_k_and_proves_the_same_statement() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    for dims in [vec![512, 256, 10], vec![300, 120, 4]] {
        let model = random_model(&mut rng, &dims);
        let plan = Plan::new(model, 1).unwrap();
        assert!(
            plan.shape.main_width > MAIN_WIDTH,
            "{dims:?}: {:?}",
            plan.shape
        );
        let standard = Shape {
            main_width: MAIN_WIDTH,
            ..plan.shape
        };
        let standard = Plan::with_shape(Model::clone(&plan.model), 1, standard).unwrap();
        assert!(
            plan.k < standard.k,
            "{dims:?}: {} vs {}",
            plan.k,
            standard.k
        );
        let w = witness(&mut rng, dims[0], 1);
        let (plan, standard) = (Arc::new(plan), Arc::new(standard));
        if let Err(e) = run(&plan, w.clone(), None) {
            panic!("dims {dims:?}: {:?}", &e[..e.len().min(3)]);
        }
        // the same statement on both lanes: the width changes the layout, not what is proven
        let honest = ModelCircuit::prepare(plan.clone(), w.clone()).unwrap().1;
        let same = ModelCircuit::prepare(standard, w.clone()).unwrap().1;
        assert_eq!(honest.statement.instances(), same.statement.instances());
        for i in 0..USAGE_INSTANCES {
            let mut bad = honest.statement.instances().to_vec();
            bad[i] += Fr::ONE;
            assert!(run(&plan, w.clone(), Some(bad)).is_err(), "instance {i}");
        }
    }
}
