//! The witness-mutation net over a whole model circuit: a deterministic spread of advice cells
//! over every region of an MLP circuit is changed one at a time; MockProver must reject each
//! against the honest instances. The allow-list is empty: no cell may take another value. (The
//! decoder circuit's net runs in `onnx_decoder.rs`, over a decoder graph.)

use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use zkinfer_circuits::halo2::config::{MAIN_WIDTH, NARROW_WIDTH};
use zkinfer_circuits::halo2::mutation::assert_sample_bound;
use zkinfer_circuits::halo2::plan::Objective;
use zkinfer_circuits::halo2::{ModelCircuit, Plan, Witness};
use zkinfer_circuits::Fr;

mod common;

/// Cells sampled per circuit.
const SAMPLE: usize = 2000;

#[test]
fn every_sampled_cell_of_the_mlp_circuit_is_bound() {
    let plan = sampled_cells_bound(&[11, 6, 3], 3, Objective::Speed);
    assert_eq!(plan.shape.main_width, MAIN_WIDTH);
}

/// The same on the narrow main lane the gas layout takes (a rescale and a Poseidon round on
/// two rows each).
#[test]
fn every_sampled_cell_of_the_narrow_mlp_circuit_is_bound() {
    let plan = sampled_cells_bound(&[11, 6, 3], 3, Objective::Gas);
    assert_eq!(plan.shape.main_width, NARROW_WIDTH);
}

/// The same on a lane wider than the standard one, which the speed layout takes where the
/// matvec chip's blocks fix `k` (here 7 × 7 or wider).
#[test]
fn every_sampled_cell_of_a_wide_lane_circuit_is_bound() {
    let plan = sampled_cells_bound(&[300, 120, 4], 1, Objective::Speed);
    assert!(plan.shape.main_width > MAIN_WIDTH, "{:?}", plan.shape);
}

/// Samples the cells of an MLP of `dims` over `batch` rows, the first two real (11 inputs
/// and 6 outputs leave the dot chip's rows partly filled, and 2 of 3 batch rows real).
fn sampled_cells_bound(dims: &[usize], batch: usize, objective: Objective) -> Arc<Plan> {
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let model = common::random_model(&mut rng, dims);
    let plan = Arc::new(Plan::optimized(model, batch, objective).unwrap());
    let n = dims[0] as i64;
    let w = Witness {
        rows: vec![
            (0..n).map(|i| (i * 11) % 120 - 60).collect(),
            (0..n).map(|i| 50 - (i * 7) % 100).collect(),
        ][..batch.min(2)]
            .to_vec(),
        request_id: Fr::from(7),
        salt: Fr::from(99),
    };
    let (circuit, run) = ModelCircuit::prepare(plan.clone(), w).unwrap();
    let inst = vec![run.statement.instances().to_vec()];
    let what = format!("MLP circuit {dims:?}, {objective:?} layout");
    assert_sample_bound(plan.k, &circuit, &inst, SAMPLE, &what);
    plan
}
