//! Helpers shared by the prover tests.

use std::path::{Path, PathBuf};

pub fn example(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/mlp")
        .join(file)
}

/// The rows of an example input file.
pub fn example_rows(file: &str) -> Vec<Vec<f64>> {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(example(file)).unwrap()).unwrap();
    serde_json::from_value(v["input"].clone()).unwrap()
}
