//! The generation circuit's columns: the model circuit's (main lane, range lane, dot, rescale,
//! Poseidon, mask) plus the decoder chips, which share the main lane and a pool of fixed columns.

use halo2_proofs::plonk::{Column, ConstraintSystem, Fixed};

use crate::halo2::chips::{adot::AdotConfig, argmax::ArgmaxConfig, control::ControlConfig};
use crate::halo2::chips::{layernorm::NormConfig, matvec, matvec::MatvecConfig};
use crate::halo2::chips::{softmax::SoftmaxConfig, table::TableConfig};
use crate::halo2::config::{CircuitConfig, FIXED_WIDTH};
use crate::Fr;

#[derive(Debug, Clone)]
pub struct GenConfig {
    pub base: CircuitConfig,
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
        let base = CircuitConfig::configure_with(meta, 2);
        let mut pool: Vec<Column<Fixed>> = base.fixed.to_vec();
        pool.extend((FIXED_WIDTH..matvec::FIXED).map(|_| meta.fixed_column()));
        let main = base.main;
        Self {
            matvec: MatvecConfig::configure(meta, &main, &pool),
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
