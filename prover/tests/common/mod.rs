//! Helpers shared by the prover tests.

use std::path::{Path, PathBuf};

use zkinfer_circuits::graph::{Builder, Model, Tensor};
use zkinfer_circuits::ops::{einsum::Einsum, rescale::Rescale, Op};

#[allow(dead_code)]
pub fn example(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/mlp")
        .join(file)
}

/// The rows of an example input file.
#[allow(dead_code)]
pub fn example_rows(file: &str) -> Vec<Vec<f64>> {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(example(file)).unwrap()).unwrap();
    serde_json::from_value(v["input"].clone()).unwrap()
}

/// A one-layer int8 model, `inputs` to `outputs`, quick to prove.
#[allow(dead_code)] // not every test binary that includes this module uses it
pub fn small_model(inputs: usize, outputs: usize) -> Model {
    let mut b = Builder::new("small");
    let x = b.input("input", &[1, inputs]);
    let weights = (0..(inputs * outputs) as i64)
        .map(|i| (i * 37 % 255) - 127)
        .collect();
    let bias = (0..outputs as i64)
        .map(|j| 10 * (j + 1) * if j % 2 == 0 { 1 } else { -1 })
        .collect();
    let dense = Op::Einsum(Einsum {
        input_axes: "bk".into(),
        weight_axes: "nk".into(),
        output_axes: "bn".into(),
        weights: Tensor::new(vec![outputs, inputs], weights).unwrap(),
        bias: Tensor::new(vec![outputs], bias),
    });
    let acc = b.node("fc:acc", dense, &[&x]).unwrap();
    let rescale = Op::Rescale(Rescale {
        multiplier: 20000,
        shift: 20,
        min: -128,
        max: 127,
    });
    let y = b.node("fc", rescale, &[&acc]).unwrap();
    b.finish(&[&y]).unwrap()
}
