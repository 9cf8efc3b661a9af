//! The columns every chip shares and the configuration of all chips on them.

use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Fixed, Instance};
use serde::{Deserialize, Serialize};

use super::chips::freivalds::FreivaldsConfig;
use super::chips::table::TableConfig;
use super::chips::{adot::AdotConfig, dot::DotConfig, mask::MaskConfig, poseidon::PoseidonConfig};
use super::chips::{
    matvec, matvec::MatvecConfig, range, range::RangeConfig, rescale::RescaleConfig,
};
use crate::Fr;

/// Advice columns of the standard main lane, which every chip fits.
pub const MAIN_WIDTH: usize = 10;
/// Advice columns of the widest main lane: where a model's main lane fixes `k`, the speed
/// objective may widen it (the matvec chip's blocks grow from 5 × 5 up to 9 × 9 a row, a linear
/// chain takes up to 17 terms a row) when that lowers `k`.
pub const MAX_WIDTH: usize = 18;
/// Advice columns of the narrowest main lane: the Poseidon state's width. The linear, rescale,
/// hash and mask chips lay their rows over it (a rescale on two rows, a Poseidon round on two);
/// the matvec, table, product, challenge and generation-control chips need the standard lane.
pub const NARROW_WIDTH: usize = 5;

/// Fixed columns the main-lane chips share on a lane `width` wide: the linear chip's
/// coefficients, constant and chain flag, and at least the five a rescale or a Poseidon round
/// reads.
pub fn fixed_width(width: usize) -> usize {
    (width + 1).max(5)
}

/// Where cell `i` of a chip's record goes when the record is laid row by row over `main`: its
/// column and its row offset from the record's first row (read there by that rotation).
pub fn place(main: &[Column<Advice>], i: usize) -> (Column<Advice>, usize) {
    (main[i % main.len()], i / main.len())
}

fn standard_width() -> usize {
    MAIN_WIDTH
}

#[derive(Debug, Clone)]
pub struct CircuitConfig {
    /// The main lane, shared by the chips below: [`Shape::main_width`] columns.
    pub main: Vec<Column<Advice>>,
    /// Fixed columns the main-lane chips share ([`fixed_width`] of the lane's).
    pub fixed: Vec<Column<Fixed>>,
    pub instance: Column<Instance>,
    pub dot: DotConfig,
    /// Constant-weight blocks, `b` inputs by `b` outputs a row (`b` half the lane's width), on
    /// the shared fixed columns and the rest of `b² + 1` of its own; absent where the plan found
    /// they do not lower `k` (their fixed columns would cost a commitment each in every verifier).
    pub matvec: Option<MatvecConfig>,
    pub rescale: RescaleConfig,
    pub poseidon: PoseidonConfig,
    pub mask: MaskConfig,
    pub range: RangeConfig,
    /// Function tables, on the main lane and the shared fixed columns; only in circuits of
    /// models with table ops.
    pub table: Option<TableConfig>,
    /// Sums of products of two witness vectors, four pairs a row; only in circuits that have
    /// them (attention's `q·kᵀ` and `p·v`, a decoder's read-out).
    pub adot: Option<AdotConfig>,
    /// Products of one constant matrix at many positions, checked at one random point after
    /// the first phase; only where the plan found it lowers `k` (a second phase and its lane
    /// of ten columns).
    pub freivalds: Option<FreivaldsConfig>,
}

/// The choices a plan makes between configurations of the same chips: each lowers the rows
/// a model needs at the price of columns. Compile records it in the settings, so that later
/// commands lay the circuit out once instead of searching again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    /// Advice columns of the main lane: [`MAIN_WIDTH`], down to [`NARROW_WIDTH`] for a
    /// circuit without the chips that need the standard lane (fewer commitments for every
    /// verifier, more rows for the prover), or up to [`MAX_WIDTH`] (fewer rows, more columns).
    /// Chips of a fixed width use the lane's first columns. Settings written before the choice
    /// existed used the standard lane.
    #[serde(default = "standard_width")]
    pub main_width: usize,
    /// Range lanes (more lanes, fewer range rows).
    pub range_lanes: usize,
    /// Limb width of the range lanes (wider limbs, fewer range rows and a larger table).
    pub range_bits: u32,
    /// Whether constant-weight blocks go on the matvec chip.
    pub matvec: bool,
    /// Whether the circuit has function tables (the model has table ops).
    pub lookups: bool,
    /// Whether the circuit has the chip for sums of witness products (the model has them).
    pub products: bool,
    /// Whether products of one constant matrix at many positions are checked against a
    /// challenge instead of one by one (the model has such products).
    pub freivalds: bool,
}

impl Default for Shape {
    /// The standard main lane, one range lane of the narrowest limbs, no matvec columns, no
    /// tables.
    fn default() -> Self {
        Shape {
            main_width: MAIN_WIDTH,
            range_lanes: 1,
            range_bits: range::MIN_LIMB_BITS,
            matvec: false,
            lookups: false,
            products: false,
            freivalds: false,
        }
    }
}

impl Shape {
    /// Whether the chips can be configured this way (a shape read from a file may not).
    pub fn check(&self) -> Result<(), String> {
        if !(NARROW_WIDTH..=MAX_WIDTH).contains(&self.main_width) {
            return Err(format!(
                "a main lane of {} columns ({NARROW_WIDTH} to {MAX_WIDTH})",
                self.main_width
            ));
        }
        if self.main_width < MAIN_WIDTH && !self.fits_narrow() {
            return Err(format!(
                "a main lane of {} columns with matvec, tables, products or the challenge \
                 check, which need {MAIN_WIDTH}",
                self.main_width
            ));
        }
        if !(1..=range::MAX_LANES).contains(&self.range_lanes) {
            return Err(format!(
                "{} range lanes (1 to {})",
                self.range_lanes,
                range::MAX_LANES
            ));
        }
        if !(range::MIN_LIMB_BITS..=range::MAX_LIMB_BITS).contains(&self.range_bits) {
            return Err(format!(
                "range limbs of {} bits ({} to {})",
                self.range_bits,
                range::MIN_LIMB_BITS,
                range::MAX_LIMB_BITS
            ));
        }
        Ok(())
    }

    /// Whether every chip this shape configures fits a lane narrower than the standard one.
    pub fn fits_narrow(&self) -> bool {
        !(self.matvec || self.lookups || self.products || self.freivalds)
    }
}

impl CircuitConfig {
    pub fn configure(meta: &mut ConstraintSystem<Fr>) -> Self {
        Self::configure_with(meta, Shape::default())
    }

    /// The configuration of `shape`, which must pass [`Shape::check`].
    pub fn configure_with(meta: &mut ConstraintSystem<Fr>, shape: Shape) -> Self {
        assert!(shape.check().is_ok(), "an invalid shape {shape:?}");
        let main: Vec<Column<Advice>> = (0..shape.main_width)
            .map(|_| meta.advice_column())
            .collect();
        let fixed: Vec<Column<Fixed>> = (0..fixed_width(shape.main_width))
            .map(|_| meta.fixed_column())
            .collect();
        for &c in &main {
            meta.enable_equality(c);
        }
        let constants = meta.fixed_column();
        meta.enable_constant(constants);
        let instance = meta.instance_column();
        meta.enable_equality(instance);
        let dot = DotConfig::configure(meta, &main, &fixed);
        let rescale = RescaleConfig::configure(meta, &main, &fixed);
        let poseidon = PoseidonConfig::configure(meta, &main, &fixed);
        let mask = MaskConfig::configure(meta, &main);
        let range = RangeConfig::configure(meta, shape.range_lanes, shape.range_bits);
        // Last, so that a circuit without it keeps the column order of the others. The
        // challenge check's product runs blocks of the standard lane's size on its own lane.
        let pool = (shape.matvec || shape.freivalds).then(|| {
            let blocks = [
                shape.matvec.then(|| matvec::block_for(shape.main_width)),
                shape.freivalds.then_some(matvec::B),
            ];
            let size = blocks.into_iter().flatten().map(matvec::fixed_for).max();
            let mut pool: Vec<Column<Fixed>> = fixed.to_vec();
            pool.extend((fixed.len()..size.unwrap_or(0)).map(|_| meta.fixed_column()));
            pool
        });
        let matvec = match (&pool, shape.matvec) {
            (Some(pool), true) => Some(MatvecConfig::configure(meta, &main, pool)),
            _ => None,
        };
        let table = shape
            .lookups
            .then(|| TableConfig::configure(meta, &main, &fixed[..4]));
        let adot = shape
            .products
            .then(|| AdotConfig::configure(meta, &main, fixed[0]));
        let freivalds = pool
            .filter(|_| shape.freivalds)
            .map(|pool| FreivaldsConfig::configure(meta, &main, &pool));
        Self {
            main,
            fixed,
            instance,
            dot,
            matvec,
            rescale,
            poseidon,
            mask,
            range,
            table,
            adot,
            freivalds,
        }
    }
}
