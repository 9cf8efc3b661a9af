//! `y = a · b` of two tensors broadcast (numpy) together: one witness product per output.

use serde::{Deserialize, Serialize};

use super::add::{binary_pairs, binary_shape};
use super::kind::Kind;
use super::OpSpec;

/// The element-wise product.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Mul {}

impl OpSpec for Mul {
    fn name(&self) -> &'static str {
        "mul"
    }

    fn arity(&self) -> usize {
        2
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        binary_shape(inputs)
    }

    fn kind(&self, inputs: &[&[usize]], out: &[usize]) -> Kind {
        Kind::Product(binary_pairs(inputs, out))
    }
}
