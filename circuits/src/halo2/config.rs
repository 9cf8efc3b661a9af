//! The columns every chip shares and the configuration of all chips on them.

use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Fixed, Instance};

use super::chips::{dot::DotConfig, mask::MaskConfig, poseidon::PoseidonConfig};
use super::chips::{range::RangeConfig, rescale::RescaleConfig};
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
    pub rescale: RescaleConfig,
    pub poseidon: PoseidonConfig,
    pub mask: MaskConfig,
    pub range: RangeConfig,
}

impl CircuitConfig {
    pub fn configure(meta: &mut ConstraintSystem<Fr>) -> Self {
        Self::configure_with(meta, 1)
    }

    /// The configuration with `range_lanes` range lanes (more lanes, fewer rows).
    pub fn configure_with(meta: &mut ConstraintSystem<Fr>, range_lanes: usize) -> Self {
        let main: [Column<Advice>; MAIN_WIDTH] = std::array::from_fn(|_| meta.advice_column());
        let fixed: [Column<Fixed>; FIXED_WIDTH] = std::array::from_fn(|_| meta.fixed_column());
        for c in main {
            meta.enable_equality(c);
        }
        let constants = meta.fixed_column();
        meta.enable_constant(constants);
        let instance = meta.instance_column();
        meta.enable_equality(instance);
        Self {
            main,
            fixed,
            instance,
            dot: DotConfig::configure(meta, &main, &fixed),
            rescale: RescaleConfig::configure(meta, &main, &fixed),
            poseidon: PoseidonConfig::configure(meta, &main, &fixed),
            mask: MaskConfig::configure(meta, &main),
            range: RangeConfig::configure(meta, range_lanes),
        }
    }
}
