//! The generation circuit's columns: the model circuit's (main lane, range lane, dot, matvec,
//! rescale, Poseidon, mask) plus the decoder chips, which share the main lane and its fixed
//! columns.

use halo2_proofs::plonk::{Column, ConstraintSystem, Fixed};

use crate::halo2::chips::{adot::AdotConfig, argmax::ArgmaxConfig, control::ControlConfig};
use crate::halo2::chips::{layernorm::NormConfig, matvec::MatvecConfig};
use crate::halo2::chips::{softmax::SoftmaxConfig, table::TableConfig};
use crate::halo2::config::{CircuitConfig, Shape};
use crate::Fr;

#[derive(Debug, Clone)]
pub struct GenConfig {
    pub base: CircuitConfig,
    /// The matvec chip of `base`, which every decoder layer uses.
    pub matvec: MatvecConfig,
    pub adot: AdotConfig,
    pub table: TableConfig,
    pub softmax: SoftmaxConfig,
    pub norm: NormConfig,
    pub argmax: ArgmaxConfig,
    pub control: ControlConfig,
}

impl GenConfig {
    pub fn configure(meta: &mut ConstraintSystem<Fr>) -> Self {
        let base = CircuitConfig::configure_with(
            meta,
            Shape {
                range_lanes: 2,
                matvec: true,
                lookups: false,
            },
        );
        let pool: Vec<Column<Fixed>> = base.fixed.to_vec();
        let main = base.main;
        let matvec = base
            .matvec
            .clone()
            .expect("configured with the matvec chip");
        Self {
            matvec,
            adot: AdotConfig::configure(meta, &main, pool[0]),
            table: TableConfig::configure(meta, &main, &pool[..4]),
            softmax: SoftmaxConfig::configure(meta, &main),
            norm: NormConfig::configure(meta, &main, &pool[..3]),
            argmax: ArgmaxConfig::configure(meta, &main, pool[0]),
            control: ControlConfig::configure(meta, &main, pool[0]),
            base,
        }
    }
}
