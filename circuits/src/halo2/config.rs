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

/// Advice columns of the main lane.
pub const MAIN_WIDTH: usize = 10;
/// Fixed columns shared by the main-lane chips.
pub const FIXED_WIDTH: usize = 11;

#[derive(Debug, Clone)]
pub struct CircuitConfig {
    /// The main lane, shared by the chips below.
    pub main: [Column<Advice>; MAIN_WIDTH],
    /// Fixed columns the main-lane chips share.
    pub fixed: [Column<Fixed>; FIXED_WIDTH],
    pub instance: Column<Instance>,
    pub dot: DotConfig,
    /// Constant-weight blocks, five inputs by five outputs a row, on the shared fixed columns
    /// and `matvec::FIXED - FIXED_WIDTH` of its own; absent where the plan found they do not
    /// lower `k` (their fixed columns would cost a commitment each in every verifier).
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
    /// The narrowest circuit: one range lane of the narrowest limbs, no matvec columns, no
    /// tables.
    fn default() -> Self {
        Shape {
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
}

impl CircuitConfig {
    pub fn configure(meta: &mut ConstraintSystem<Fr>) -> Self {
        Self::configure_with(meta, Shape::default())
    }

    /// The configuration of `shape`.
    pub fn configure_with(meta: &mut ConstraintSystem<Fr>, shape: Shape) -> Self {
        let main: [Column<Advice>; MAIN_WIDTH] = std::array::from_fn(|_| meta.advice_column());
        let fixed: [Column<Fixed>; FIXED_WIDTH] = std::array::from_fn(|_| meta.fixed_column());
        for c in main {
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
        // Last, so that a circuit without it keeps the column order of the others.
        let pool = (shape.matvec || shape.freivalds).then(|| {
            let mut pool: Vec<Column<Fixed>> = fixed.to_vec();
            pool.extend((FIXED_WIDTH..matvec::FIXED).map(|_| meta.fixed_column()));
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
