//! The decoder circuit: greedy generation over any decoder graph ([`crate::decoder`]) as one
//! forward pass of the graph's lowering over all `P + T` positions, on a token stream that the
//! circuit ties to its own outputs: `t_i = m_i·p_i + (1 − m_i)·argmax(logits_{i−1})`, with the
//! prompt mask and commitment, the meter and the completion's commitment of the generation
//! circuit's statement.
//!
//! Sound because every stream cell is copy-constrained to the select row of its position, whose
//! gate fixes it from the committed prompt token, the mask bit (a proven prefix of ones, the
//! first forced to 1) and the proven argmax of the previous position's logits (the IR's arg
//! lowering: attained and not exceeded, lowest index of ties); the logits are the graph's own
//! lowering of the stream, so the stream is a fixed point of the graph's greedy step, which for
//! a causal graph is the sequential generation. The meter and read-out are the generation
//! circuit's chips and the commitments the usage statement's.

pub mod circuit;
pub mod layout;

use std::sync::Arc;

use halo2_proofs::plonk::ConstraintSystem;

use super::chips::control::ControlConfig;
use super::config::{CircuitConfig, Shape, MAIN_WIDTH};
use super::ctx::Ctx;
use super::plan::{search, sized, table_rows, Features, Objective};
use crate::decoder::{DecodeError, Decoder};
use crate::Fr;

/// The model circuit's columns and chips, and the generation control on its main lane.
#[derive(Debug, Clone)]
pub struct DecodeConfig {
    /// The chips every graph op lowers onto (with the function table).
    pub base: CircuitConfig,
    /// Select and meter: on the standard main lane only (a decoder's shape always has it; a
    /// narrow one configures the model circuit's chips alone, for their tests).
    control: Option<ControlConfig>,
}

impl DecodeConfig {
    /// The configuration of `shape`.
    pub fn configure(meta: &mut ConstraintSystem<Fr>, shape: Shape) -> Self {
        let base = CircuitConfig::configure_with(meta, shape);
        let control = (shape.main_width >= MAIN_WIDTH)
            .then(|| ControlConfig::configure(meta, &base.main, base.fixed[0]));
        Self { base, control }
    }

    /// The generation control.
    pub fn control(&self) -> &ControlConfig {
        self.control
            .as_ref()
            .expect("a decoder's shape has the standard main lane")
    }
}

/// A decoder laid out: its shape and the rows a dry run of the layout needs, which fix `k`.
#[derive(Debug, Clone)]
pub struct DecodePlan {
    /// The decoder and its slots.
    pub decoder: Arc<Decoder>,
    /// The configuration.
    pub shape: Shape,
    /// Rows of the main lane.
    pub main_rows: usize,
    /// Rows of the fullest range lane.
    pub range_rows: usize,
    /// The circuit has `2^k` rows.
    pub k: u32,
}

impl DecodePlan {
    /// Public instances of this plan's proofs.
    pub fn num_instances(&self) -> usize {
        self.decoder.num_instances()
    }

    /// Sizes the circuit for proving speed ([`Objective::Speed`]).
    pub fn new(decoder: Decoder) -> Result<Self, DecodeError> {
        Self::optimized(decoder, Objective::Speed)
    }

    /// Sizes the circuit in the shape `objective` prefers, as the model circuit's plan.
    pub fn optimized(decoder: Decoder, objective: Objective) -> Result<Self, DecodeError> {
        let decoder = Arc::new(decoder);
        // the read-out is a sum of products over the prompt slots; attention's products are
        // matrix products a challenge could check
        let features = Features {
            lookups: true,
            products: true,
            checks: true,
            tables: table_rows(&decoder.model, true),
        };
        let (shape, (k, main_rows, range_rows)) =
            search(features, objective, |shape| size(&decoder, shape))?;
        Ok(Self {
            decoder,
            shape,
            main_rows,
            range_rows,
            k,
        })
    }

    /// The plan [`DecodePlan::new`] found, rebuilt from the shape it recorded with one dry run.
    pub fn recorded(decoder: Decoder, shape: Shape) -> Result<Self, DecodeError> {
        shape
            .check()
            .map_err(|e| DecodeError::Shape(format!("recorded circuit shape: {e}")))?;
        // a decoder always has tables and products
        if !(shape.lookups && shape.products) {
            let msg = format!("recorded circuit shape {shape:?} does not fit a decoder");
            return Err(DecodeError::Shape(msg));
        }
        let decoder = Arc::new(decoder);
        let tables = table_rows(&decoder.model, true);
        let (main, range) = size(&decoder, shape)?;
        let (k, main_rows, range_rows) = sized(shape, tables, main, range);
        Ok(Self {
            decoder,
            shape,
            main_rows,
            range_rows,
            k,
        })
    }
}

/// Main and fullest range lane's rows of the decoder circuit in `shape`, by a dry run.
fn size(decoder: &Arc<Decoder>, shape: Shape) -> Result<(usize, usize), DecodeError> {
    let mut meta = ConstraintSystem::<Fr>::default();
    let cfg = DecodeConfig::configure(&mut meta, shape);
    let mut ctx = Ctx::counter();
    layout::layout(&cfg, decoder, &mut ctx, None, &layout::Faults::default())
        .map_err(|e| DecodeError::Shape(format!("layout: {e:?}")))?;
    Ok((ctx.row, ctx.range_row()))
}
