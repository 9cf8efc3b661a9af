//! `y_o = bias_o + Σ w · x_i` over a constant, sparse list of terms per output: a constant
//! linear map of any shape, for the ops the front end finds to be one by running them (Resize in
//! linear or cubic mode, CumSum; [`crate::import`]'s probes). Each output is one combination of
//! the terms it lists, so it constrains exactly what the reference sums.

use serde::{Deserialize, Serialize};

use super::kind::{Combination, Kind, Src};
use super::{check_bias, check_weights, unary, OpSpec};
use crate::graph::tensor::numel;

/// The map: the output's shape, and per output (row-major) its terms and bias.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinearMap {
    /// The output's shape.
    pub shape: Vec<usize>,
    /// Per output, `(input element, weight)` pairs (the input row-major).
    pub terms: Vec<Vec<(usize, i64)>>,
    /// Per output, the constant at the accumulator's scale.
    pub bias: Vec<i64>,
}

impl OpSpec for LinearMap {
    fn name(&self) -> &'static str {
        "linear_map"
    }

    fn check(&self) -> Result<(), String> {
        for t in &self.terms {
            check_weights(&t.iter().map(|(_, w)| *w).collect::<Vec<_>>())?;
        }
        check_bias(&self.bias)
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let (n, m) = (numel(unary(inputs)), numel(&self.shape));
        if self.terms.len() != m || self.bias.len() != m {
            return Err(format!(
                "{} term lists and {} biases for {m} outputs",
                self.terms.len(),
                self.bias.len()
            ));
        }
        match self.terms.iter().flatten().find(|(i, _)| *i >= n) {
            Some((i, _)) => Err(format!("reads element {i} of an input of {n}")),
            None => Ok(self.shape.clone()),
        }
    }

    fn kind(&self, _inputs: &[&[usize]], _out: &[usize]) -> Kind {
        Kind::Linear(
            self.terms
                .iter()
                .zip(&self.bias)
                .map(|(t, b)| Combination {
                    terms: t.iter().map(|(i, w)| (*w, Src::of(*i))).collect(),
                    constant: *b as i128,
                })
                .collect(),
        )
    }
}
