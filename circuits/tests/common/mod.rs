//! Helpers shared by the circuit tests.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use zkinfer_circuits::graph::{Builder, Model, Tensor};
use zkinfer_circuits::ops::{einsum::Einsum, rescale::Rescale, Op};

/// A random int8 MLP with the given layer widths: dense layers as the front end writes them
/// (`einsum bk,nk->bn` with a bias), each rescaled to int8, clamped at 0 (ReLU) between layers.
pub fn random_model(rng: &mut ChaCha8Rng, dims: &[usize]) -> Model {
    let mut b = Builder::new("random");
    let mut cur = b.input("input", &[1, dims[0]]);
    for (i, w) in dims.windows(2).enumerate() {
        let (n_in, n_out) = (w[0], w[1]);
        let weights = (0..n_in * n_out)
            .map(|_| rng.gen_range(-127..=127))
            .collect();
        let bias = (0..n_out).map(|_| rng.gen_range(-5000..=5000)).collect();
        let dense = Op::Einsum(Einsum {
            input_axes: "bk".into(),
            weight_axes: "nk".into(),
            output_axes: "bn".into(),
            weights: Tensor::new(vec![n_out, n_in], weights).unwrap(),
            bias: Tensor::new(vec![n_out], bias),
        });
        let acc = b.node(&format!("fc{i}:acc"), dense, &[&cur]).unwrap();
        let relu = i + 2 < dims.len();
        let rescale = Op::Rescale(Rescale {
            multiplier: rng.gen_range(16384..32768),
            shift: 22,
            min: if relu { 0 } else { -128 },
            max: 127,
        });
        cur = b.node(&format!("fc{i}"), rescale, &[&acc]).unwrap();
    }
    b.finish(&[&cur]).unwrap()
}
