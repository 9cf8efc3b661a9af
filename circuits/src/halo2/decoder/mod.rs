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

use super::chips::{control::ControlConfig, range};
use super::config::{CircuitConfig, Shape};
use super::ctx::Ctx;
use crate::decoder::{DecodeError, Decoder};
use crate::Fr;

/// The model circuit's columns and chips, and the generation control on its main lane.
#[derive(Debug, Clone)]
pub struct DecodeConfig {
    /// The chips every graph op lowers onto (with the function table).
    pub base: CircuitConfig,
    /// Select and meter.
    pub control: ControlConfig,
}

impl DecodeConfig {
    /// The configuration of `shape`.
    pub fn configure(meta: &mut ConstraintSystem<Fr>, shape: Shape) -> Self {
        let base = CircuitConfig::configure_with(meta, shape);
        let control = ControlConfig::configure(meta, &base.main, base.fixed[0]);
        Self { base, control }
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

/// Rows kept free at the bottom for halo2's blinding factors.
const RESERVED_ROWS: usize = 10;

impl DecodePlan {
    /// Sizes the circuit in the narrowest shape of the lowest `k`, as the model circuit's plan.
    pub fn new(decoder: Decoder) -> Result<Self, DecodeError> {
        let decoder = Arc::new(decoder);
        let mut best: Option<(Shape, (u32, usize, usize))> = None;
        for range_lanes in 1..=range::MAX_LANES {
            for matvec in [false, true] {
                let shape = Shape {
                    range_lanes,
                    matvec,
                    lookups: true,
                    // the read-out is a sum of products over the prompt slots
                    products: true,
                };
                let rows = size(&decoder, shape)?;
                if best.as_ref().is_none_or(|b| rows.0 < b.1 .0) {
                    best = Some((shape, rows));
                }
            }
        }
        let (shape, (k, main_rows, range_rows)) = best.expect("one shape at least");
        Ok(Self {
            decoder,
            shape,
            main_rows,
            range_rows,
            k,
        })
    }
}

fn size(decoder: &Arc<Decoder>, shape: Shape) -> Result<(u32, usize, usize), DecodeError> {
    let mut meta = ConstraintSystem::<Fr>::default();
    let cfg = DecodeConfig::configure(&mut meta, shape);
    let mut ctx = Ctx::counter();
    layout::layout(&cfg, decoder, &mut ctx, None, &layout::Faults::default())
        .map_err(|e| DecodeError::Shape(format!("layout: {e:?}")))?;
    let (main, range_rows) = (ctx.row, ctx.range_row());
    let tables = 1 + decoder
        .model
        .tables()
        .iter()
        .map(|(_, v)| v.len())
        .sum::<usize>();
    let need = main.max(range_rows).max(tables) + RESERVED_ROWS;
    let k = (range::RANGE_BITS + 1).max(need.next_power_of_two().trailing_zeros());
    Ok((k, main, range_rows))
}
