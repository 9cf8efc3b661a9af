//! Fixtures for the benchmarks: the example MLP 784-64-10 compiled as `zkinfer compile` does,
//! and its example input as a witness.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use zkinfer_circuits::graph::quantize_input;
use zkinfer_circuits::halo2::{Plan, Witness};
use zkinfer_circuits::import::compile;
use zkinfer_circuits::Fr;

pub fn example_path(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/mlp")
        .join(file)
}

pub fn example_rows(file: &str) -> Vec<Vec<f64>> {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(example_path(file)).expect("example file"))
            .expect("JSON");
    serde_json::from_value(v["input"].clone()).expect("rows of numbers")
}

/// The example MLP's circuit plan (batch 1).
pub fn mlp_plan() -> Arc<Plan> {
    let imported = compile(
        &example_path("mlp.onnx"),
        &example_rows("calibration.json"),
        &Default::default(),
    )
    .expect("example compiles");
    Arc::new(Plan::new(imported.model, 1).expect("example plans"))
}

pub fn mlp_witness(plan: &Plan) -> Witness {
    let row = quantize_input(&example_rows("input.json")[0], &plan.model).expect("example input");
    Witness {
        rows: vec![row],
        request_id: Fr::from(1),
        salt: Fr::from(2),
    }
}
