//! ReLU, `max(x, 0)` element-wise: an exact rescale (`M0 = 1`, `n = 0`) clamped to
//! `[0, hi]`, where `hi` is the input's static upper bound, so the clamp never bites on an
//! admissible input and the rescale relation's sign and slack checks decide the branch.

use serde::{Deserialize, Serialize};

use super::kind::Kind;
use super::{unary, OpSpec};

/// The ReLU op (no constants).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Relu {}

impl OpSpec for Relu {
    fn name(&self) -> &'static str {
        "relu"
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        Ok(unary(inputs).to_vec())
    }

    fn kind(&self, _: &[&[usize]], _: &[usize]) -> Kind {
        Kind::Relu
    }
}
