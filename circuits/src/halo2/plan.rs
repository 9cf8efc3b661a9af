//! The halo2 plan: the lowered stages of a model for a batch size, and the rows each lane needs,
//! which fix the circuit size `k`.

use std::sync::Arc;

use crate::halo2::chips::{dot, poseidon, range, rescale};
use crate::lowering::lower;
pub use crate::lowering::Stage;
use crate::model::{Model, ModelError};
use crate::poseidon::RATE;
use crate::usage::BYTES_PER_WORD;

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
            return Err(ModelError::Shape(format!(
                "batch size {batch} must be in 1..=1024"
            )));
        }
        let stages = lower(&model)?;
        let mut plan = Plan {
            model: Arc::new(model),
            batch,
            stages,
            main_rows: 0,
            range_rows: 0,
            k: 0,
        };
        plan.count_rows();
        Ok(plan)
    }

    fn count_rows(&mut self) {
        let (in_len, out_len) = (self.model.input.len, self.model.output_len());
        // a constant-zero row, the packed words, the Poseidon chain
        let commit = |values: usize| {
            1 + pack_rows(values)
                + hashes_for(3 + values.div_ceil(BYTES_PER_WORD)) * poseidon::rows_per_hash()
        };
        let mut main = self.batch + 1 + commit(self.batch * in_len) + commit(self.batch * out_len);
        main += self.batch * out_len;
        let mut range_rows = self.batch * in_len * range::rows_for(8);
        let mut len = in_len;
        for stage in &self.stages {
            match stage {
                Stage::Linear {
                    in_dim, out_dim, ..
                } => {
                    main += self.batch * out_dim * dot::rows_for(*in_dim);
                    len = *out_dim;
                }
                Stage::Rescale(p) => {
                    main += self.batch * len;
                    range_rows += self.batch * len * rescale::range_rows(p);
                }
            }
        }
        self.main_rows = main;
        self.range_rows = range_rows;
        let need = main.max(range_rows) + RESERVED_ROWS;
        self.k = (range::RANGE_BITS + 1).max(need.next_power_of_two().trailing_zeros());
    }
}
