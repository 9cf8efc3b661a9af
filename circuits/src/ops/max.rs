//! `y = max(a, b)` and `y = min(a, b)` of two tensors broadcast (numpy) together: one comparison
//! per output.

use serde::{Deserialize, Serialize};

use super::add::{binary_pairs, binary_shape};
use super::kind::Kind;
use super::OpSpec;

/// The element-wise maximum.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Max {}

impl OpSpec for Max {
    fn name(&self) -> &'static str {
        "max"
    }

    fn arity(&self) -> usize {
        2
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        binary_shape(inputs)
    }

    fn kind(&self, inputs: &[&[usize]], out: &[usize]) -> Kind {
        Kind::Max(
            binary_pairs(inputs, out)
                .into_iter()
                .map(Vec::from)
                .collect(),
        )
    }
}

/// The element-wise minimum.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Min {}

impl OpSpec for Min {
    fn name(&self) -> &'static str {
        "min"
    }

    fn arity(&self) -> usize {
        2
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        binary_shape(inputs)
    }

    fn kind(&self, inputs: &[&[usize]], out: &[usize]) -> Kind {
        Kind::Min(
            binary_pairs(inputs, out)
                .into_iter()
                .map(Vec::from)
                .collect(),
        )
    }
}
