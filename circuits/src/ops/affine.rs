//! `y = x · mul + add` with constant tensors broadcast (numpy) to the input's shape: what a
//! BatchNormalization, or a Mul / Add / Sub / Div by a constant, becomes once quantized. Each
//! output is the one-term combination `add[·] + mul[·] · x`.

use serde::{Deserialize, Serialize};

use super::kind::{Combination, Kind, Src};
use super::{check_bias, check_weights, unary, OpSpec};
use crate::graph::tensor::{broadcast_map, broadcast_shape, numel, Tensor};

/// The affine op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affine {
    /// Multipliers, broadcast to the input.
    pub mul: Tensor<i64>,
    /// Offsets at the product's scale, broadcast to the input.
    pub add: Tensor<i64>,
}

impl OpSpec for Affine {
    fn name(&self) -> &'static str {
        "affine"
    }

    fn check(&self) -> Result<(), String> {
        check_weights(&self.mul.data)?;
        check_bias(&self.add.data)
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let x = unary(inputs);
        for (t, what) in [(&self.mul, "mul"), (&self.add, "add")] {
            if broadcast_shape(&t.shape, x).as_deref() != Some(x) {
                return Err(format!(
                    "{what} of shape {:?} does not broadcast to {x:?}",
                    t.shape
                ));
            }
        }
        Ok(x.to_vec())
    }

    fn kind(&self, inputs: &[&[usize]], out: &[usize]) -> Kind {
        let (m, a) = (
            broadcast_map(&self.mul.shape, out),
            broadcast_map(&self.add.shape, out),
        );
        debug_assert_eq!(inputs[0], out);
        Kind::Linear(
            (0..numel(out))
                .map(|i| Combination {
                    terms: vec![(self.mul.data[m[i]], Src::of(i))],
                    constant: self.add.data[a[i]] as i128,
                })
                .collect(),
        )
    }
}
