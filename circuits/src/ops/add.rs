//! `y = ka · a + kb · b` of two tensors broadcast (numpy) together: Add and Sub, with the
//! integer factors that bring both operands to one scale (a residual branch meets the main path
//! at a different scale). Each output is a two-term constant combination.

use serde::{Deserialize, Serialize};

use super::kind::{Combination, Kind, Src};
use super::{check_weights, OpSpec};
use crate::graph::tensor::{broadcast_map, broadcast_shape, numel};

/// The two-tensor sum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Add {
    /// `[ka, kb]`.
    pub coeffs: [i64; 2],
}

/// The broadcast shape of a binary op's inputs.
pub(crate) fn binary_shape(inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
    broadcast_shape(inputs[0], inputs[1]).ok_or_else(|| {
        format!(
            "shapes {:?} and {:?} do not broadcast",
            inputs[0], inputs[1]
        )
    })
}

/// For each output element, the element of each input it reads.
pub(crate) fn binary_pairs(inputs: &[&[usize]], out: &[usize]) -> Vec<[Src; 2]> {
    let (a, b) = (broadcast_map(inputs[0], out), broadcast_map(inputs[1], out));
    (0..numel(out))
        .map(|i| {
            [
                Src {
                    input: 0,
                    index: a[i],
                },
                Src {
                    input: 1,
                    index: b[i],
                },
            ]
        })
        .collect()
}

impl OpSpec for Add {
    fn name(&self) -> &'static str {
        "add"
    }

    fn arity(&self) -> usize {
        2
    }

    fn check(&self) -> Result<(), String> {
        check_weights(&self.coeffs)
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        binary_shape(inputs)
    }

    fn kind(&self, inputs: &[&[usize]], out: &[usize]) -> Kind {
        let [ka, kb] = self.coeffs;
        Kind::Linear(
            binary_pairs(inputs, out)
                .into_iter()
                .map(|[a, b]| Combination {
                    terms: vec![(ka, a), (kb, b)],
                    constant: 0,
                })
                .collect(),
        )
    }
}
