//! Lowering of the IR to circuit stages: a rescale followed by a ReLU becomes one clamped rescale
//! (`relu(clamp(z, lo, hi)) = clamp(z, max(lo, 0), max(hi, 0))`), a lone ReLU an identity rescale
//! clamped at 0. The plan also counts the rows each lane needs, which fixes the circuit size `k`.

use std::sync::Arc;

use crate::field::fr_from_i64;
use crate::halo2::chips::{dot, poseidon, range, rescale::RescaleParams};
use crate::model::bounds::{bits_of, bounds};
use crate::model::{Model, ModelError, Op};
use crate::poseidon::RATE;
use crate::usage::BYTES_PER_WORD;
use crate::Fr;

#[derive(Debug, Clone)]
pub enum Stage {
    Linear {
        in_dim: usize,
        out_dim: usize,
        weights: Vec<Fr>,
        bias: Vec<Fr>,
    },
    Rescale(RescaleParams),
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub model: Arc<Model>,
    /// Rows (samples) one proof covers; `n_in` counts the real ones.
    pub batch: usize,
    pub stages: Vec<Stage>,
    pub main_rows: usize,
    pub range_rows: usize,
    pub k: u32,
}

/// Rows kept free at the bottom for halo2's blinding factors.
const RESERVED_ROWS: usize = 10;

/// Poseidon permutations in the commitment chain over `elements` elements.
pub fn hashes_for(elements: usize) -> usize {
    1 + elements.saturating_sub(RATE).div_ceil(RATE - 1)
}

/// Main-lane rows of packing `values` int8 values.
pub fn pack_rows(values: usize) -> usize {
    (0..values)
        .step_by(BYTES_PER_WORD)
        .map(|s| dot::rows_for((values - s).min(BYTES_PER_WORD)))
        .sum()
}

impl Plan {
    pub fn new(model: Model, batch: usize) -> Result<Self, ModelError> {
        model.validate()?;
        if batch == 0 || batch > 1024 {
            return Err(ModelError::Shape(format!("batch size {batch} must be in 1..=1024")));
        }
        let bounds = bounds(&model)?;
        let mut stages = Vec::new();
        let mut i = 0;
        while i < model.ops.len() {
            let (lo, hi) = bounds[i];
            let acc_bits = bits_of(lo.unsigned_abs().max(hi.unsigned_abs()));
            let relu_next = matches!(model.ops.get(i + 1), Some(Op::Relu));
            match &model.ops[i] {
                Op::Linear { in_dim, out_dim, weights, bias } => stages.push(Stage::Linear {
                    in_dim: *in_dim,
                    out_dim: *out_dim,
                    weights: weights.iter().map(|w| fr_from_i64(*w)).collect(),
                    bias: bias.iter().map(|b| fr_from_i64(*b)).collect(),
                }),
                Op::Rescale { multiplier, shift, min, max } => {
                    let (min, max) = if relu_next { ((*min).max(0), (*max).max(0)) } else { (*min, *max) };
                    stages.push(Stage::Rescale(RescaleParams {
                        multiplier: *multiplier,
                        shift: *shift,
                        min,
                        max,
                        acc_bits,
                    }));
                    i += relu_next as usize;
                }
                Op::Relu => stages.push(Stage::Rescale(RescaleParams {
                    multiplier: 1,
                    shift: 0,
                    min: 0,
                    max: hi.max(0) as i64,
                    acc_bits,
                })),
            }
            i += 1;
        }
        let mut plan = Plan { model: Arc::new(model), batch, stages, main_rows: 0, range_rows: 0, k: 0 };
        plan.count_rows();
        Ok(plan)
    }

    fn count_rows(&mut self) {
        let (in_len, out_len) = (self.model.input.len, self.model.output_len());
        let commit = |values: usize| {
            pack_rows(values) + hashes_for(3 + values.div_ceil(BYTES_PER_WORD)) * poseidon::rows_per_hash()
        };
        let mut main = self.batch + 1 + commit(self.batch * in_len) + commit(self.batch * out_len);
        main += self.batch * out_len;
        let mut range_rows = self.batch * in_len * range::rows_for(8);
        let mut len = in_len;
        for stage in &self.stages {
            match stage {
                Stage::Linear { in_dim, out_dim, .. } => {
                    main += self.batch * out_dim * dot::rows_for(*in_dim);
                    len = *out_dim;
                }
                Stage::Rescale(p) => {
                    main += self.batch * len;
                    range_rows += self.batch * len * p.range_rows();
                }
            }
        }
        self.main_rows = main;
        self.range_rows = range_rows;
        let need = main.max(range_rows) + RESERVED_ROWS;
        self.k = (range::RANGE_BITS + 1).max(need.next_power_of_two().trailing_zeros());
    }
}
