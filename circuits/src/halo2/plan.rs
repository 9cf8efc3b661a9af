//! The halo2 plan: a model for a batch size, and the rows each lane needs, which fix the circuit
//! size `k`. The rows come from a dry run of the circuit's own layout on a counting context, so
//! the size can never disagree with what synthesis lays out.

use std::sync::Arc;

use halo2_proofs::plonk::ConstraintSystem;

use super::circuit::layout;
use super::config::CircuitConfig;
use super::ctx::Ctx;
use crate::graph::{GraphError, Model};
use crate::halo2::chips::range;
use crate::witness::check_batch;
use crate::Fr;

/// A model laid out for a batch size.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The validated model.
    pub model: Arc<Model>,
    /// Rows (samples) one proof covers; `n_in` counts the real ones.
    pub batch: usize,
    /// Rows of the main lane.
    pub main_rows: usize,
    /// Rows of the fullest range lane.
    pub range_rows: usize,
    /// The circuit has `2^k` rows.
    pub k: u32,
    /// Range lanes of the configuration: a second lane halves the range rows of a model whose
    /// range checks, not its main lane, fix `k` (a CNN's many rescales).
    pub range_lanes: usize,
}

/// Rows kept free at the bottom for halo2's blinding factors.
const RESERVED_ROWS: usize = 10;

impl Plan {
    /// Sizes the circuit of `model` over `batch` samples.
    pub fn new(model: Model, batch: usize) -> Result<Self, GraphError> {
        check_batch(batch)?;
        let size = |lanes: usize| {
            let mut meta = ConstraintSystem::<Fr>::default();
            let cfg = CircuitConfig::configure_with(&mut meta, lanes);
            let mut ctx = Ctx::counter();
            layout(&cfg, &mut ctx, &model, batch, None).expect("a counting layout cannot fail");
            let (main_rows, range_rows) = (ctx.row, ctx.range_row());
            let need = main_rows.max(range_rows) + RESERVED_ROWS;
            let k = (range::RANGE_BITS + 1).max(need.next_power_of_two().trailing_zeros());
            (k, main_rows, range_rows, lanes)
        };
        // One lane unless a second one lowers k: more columns cost proving time at equal k.
        let one = size(1);
        let (k, main_rows, range_rows, range_lanes) = match size(range::MAX_LANES) {
            two if two.0 < one.0 => two,
            _ => one,
        };
        Ok(Plan {
            model: Arc::new(model),
            batch,
            main_rows,
            range_rows,
            k,
            range_lanes,
        })
    }
}
