//! Helpers shared by the circuit tests.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use zkinfer_circuits::model::{Model, Op, TensorSpec, IR_VERSION};

/// A random int8 MLP with the given layer widths (ReLU between layers, rescale after each).
pub fn random_model(rng: &mut ChaCha8Rng, dims: &[usize]) -> Model {
    let mut ops = Vec::new();
    for (i, w) in dims.windows(2).enumerate() {
        let (n_in, n_out) = (w[0], w[1]);
        ops.push(Op::Linear {
            in_dim: n_in,
            out_dim: n_out,
            weights: (0..n_in * n_out)
                .map(|_| rng.gen_range(-127..=127))
                .collect(),
            bias: (0..n_out).map(|_| rng.gen_range(-5000..=5000)).collect(),
        });
        ops.push(Op::Rescale {
            multiplier: rng.gen_range(16384..32768),
            shift: 22,
            min: -128,
            max: 127,
        });
        if i + 2 < dims.len() {
            ops.push(Op::Relu);
        }
    }
    Model {
        version: IR_VERSION,
        name: "random".into(),
        input: TensorSpec {
            len: dims[0],
            scale: 1.0,
            min: -128,
            max: 127,
        },
        ops,
        output_scale: 1.0,
    }
}
