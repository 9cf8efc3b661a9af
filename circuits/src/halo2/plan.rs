//! The halo2 plan: a model for a batch size, and the rows each lane needs, which fix the circuit
//! size `k`. The rows come from a dry run of the circuit's own layout on a counting context, so
//! the size can never disagree with what synthesis lays out.

use std::sync::Arc;

use halo2_proofs::plonk::ConstraintSystem;

use super::circuit::layout;
use super::config::{CircuitConfig, Shape};
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
    /// The configuration: a second range lane halves the range rows of a model whose range
    /// checks, not its main lane, fix `k` (a CNN's many rescales); the matvec chip shortens the
    /// main lane of wide constant-weight layers.
    pub shape: Shape,
}

/// Rows kept free at the bottom for halo2's blinding factors.
const RESERVED_ROWS: usize = 10;

impl Plan {
    /// Sizes the circuit of `model` over `batch` samples, in the narrowest shape of the lowest
    /// `k`: columns cost proving time at equal `k`, and each fixed or advice column one more
    /// commitment for every verifier to check.
    pub fn new(model: Model, batch: usize) -> Result<Self, GraphError> {
        check_batch(batch)?;
        let (lookups, products) = (!model.tables().is_empty(), model.has_products());
        let narrow = Shape {
            lookups,
            products,
            ..Shape::default()
        };
        let mut best = (narrow, size(&model, batch, narrow));
        for range_lanes in 1..=range::MAX_LANES {
            for matvec in [false, true] {
                let shape = Shape {
                    range_lanes,
                    matvec,
                    lookups,
                    products,
                };
                if shape == best.0 {
                    continue;
                }
                let rows = size(&model, batch, shape);
                if rows.0 < best.1 .0 {
                    best = (shape, rows);
                }
            }
        }
        let (shape, rows) = best;
        Ok(Plan::sized(model, batch, shape, rows))
    }

    /// Sizes the circuit of `model` over `batch` samples in the configuration `shape`, whose
    /// `lookups` and `products` follow the model (a table op has no other lowering, and the
    /// products chip is always the denser one).
    pub fn with_shape(model: Model, batch: usize, shape: Shape) -> Result<Self, GraphError> {
        check_batch(batch)?;
        let shape = Shape {
            lookups: !model.tables().is_empty(),
            products: model.has_products(),
            ..shape
        };
        let rows = size(&model, batch, shape);
        Ok(Plan::sized(model, batch, shape, rows))
    }

    fn sized(
        model: Model,
        batch: usize,
        shape: Shape,
        (k, main, range): (u32, usize, usize),
    ) -> Self {
        Plan {
            model: Arc::new(model),
            batch,
            main_rows: main,
            range_rows: range,
            k,
            shape,
        }
    }
}

/// `(k, main rows, range rows)` of `model` in `shape`, by a dry run of the layout.
fn size(model: &Model, batch: usize, shape: Shape) -> (u32, usize, usize) {
    let mut meta = ConstraintSystem::<Fr>::default();
    let cfg = CircuitConfig::configure_with(&mut meta, shape);
    let mut ctx = Ctx::counter();
    layout(&cfg, &mut ctx, model, batch, None).expect("a counting layout cannot fail");
    let (main_rows, range_rows) = (ctx.row, ctx.range_row());
    // every table's entries and the all-zero row disabled lookups read
    let table_rows = match shape.lookups {
        true => 1 + model.tables().iter().map(|(_, v)| v.len()).sum::<usize>(),
        false => 0,
    };
    let need = main_rows.max(range_rows).max(table_rows) + RESERVED_ROWS;
    let k = (range::RANGE_BITS + 1).max(need.next_power_of_two().trailing_zeros());
    (k, main_rows, range_rows)
}
