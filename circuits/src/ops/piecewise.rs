//! `y = pos · x` where `x ≥ 0` and `neg · x` below, with constant slopes broadcast (numpy) to the
//! input: LeakyRelu and PRelu (at the accumulator's scale, a rescale after), Abs (`1, -1`, no
//! rescale). Lowered as `(pos - neg) · relu(x) + neg · x`: the ReLU is the exact rescale whose
//! sign and slack checks decide the branch, the rest a constant combination.

use serde::{Deserialize, Serialize};

use super::kind::Kind;
use super::{check_weights, unary, OpSpec};
use crate::graph::tensor::{broadcast_map, broadcast_shape, numel, Tensor};

/// The piecewise-linear op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Piecewise {
    /// Slope where `x ≥ 0`, broadcast to the input.
    pub pos: Tensor<i64>,
    /// Slope where `x < 0`, broadcast to the input.
    pub neg: Tensor<i64>,
}

impl OpSpec for Piecewise {
    fn name(&self) -> &'static str {
        "piecewise"
    }

    fn check(&self) -> Result<(), String> {
        check_weights(&self.pos.data)?;
        check_weights(&self.neg.data)
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let x = unary(inputs);
        for (t, what) in [(&self.pos, "pos"), (&self.neg, "neg")] {
            if broadcast_shape(&t.shape, x).as_deref() != Some(x) {
                return Err(format!(
                    "{what} of shape {:?} does not broadcast to {x:?}",
                    t.shape
                ));
            }
        }
        Ok(x.to_vec())
    }

    fn kind(&self, _: &[&[usize]], out: &[usize]) -> Kind {
        let (p, n) = (
            broadcast_map(&self.pos.shape, out),
            broadcast_map(&self.neg.shape, out),
        );
        Kind::Piecewise(
            (0..numel(out))
                .map(|i| [self.pos.data[p[i]], self.neg.data[n[i]]])
                .collect(),
        )
    }
}
