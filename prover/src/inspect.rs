//! Circuit shape and a prover-memory estimate, for `zkinfer inspect`.

use halo2_proofs::plonk::{Circuit, ConstraintSystem};
use serde::Serialize;
use zkinfer_circuits::halo2::decoder::circuit::DecoderCircuit;
use zkinfer_circuits::halo2::ModelCircuit;

use crate::artifacts::Halo2Plan;

use crate::Fr;

#[derive(Debug, Clone, Serialize)]
pub struct CircuitStats {
    pub k: u32,
    pub rows: usize,
    pub main_rows_used: usize,
    pub range_rows_used: usize,
    pub advice_columns: usize,
    pub fixed_columns: usize,
    pub selectors: usize,
    pub instance_columns: usize,
    pub lookups: usize,
    pub permutation_columns: usize,
    pub gates: usize,
    pub degree: usize,
    pub public_instances: usize,
    /// Rough peak memory of proving: every polynomial in coefficient, Lagrange and extended form.
    pub estimated_prover_bytes: u64,
}

pub fn stats(plan: &Halo2Plan) -> CircuitStats {
    let mut cs = ConstraintSystem::<Fr>::default();
    let (k, main, range) = match plan {
        Halo2Plan::Model(p) => {
            let _ = ModelCircuit::configure_with_params(&mut cs, p.shape);
            (p.k, p.main_rows, p.range_rows)
        }
        Halo2Plan::Decode(p) => {
            let _ = DecoderCircuit::configure_with_params(&mut cs, p.shape);
            (p.k, p.main_rows, p.range_rows)
        }
    };
    let n = 1u64 << k;
    let degree = cs.degree();
    let ext = n << (degree as u64 - 1).next_power_of_two().trailing_zeros();
    let perm = cs.permutation().get_columns().len();
    let perm_products = perm.div_ceil(degree - 2);
    // polynomials kept in three forms (pk: fixed, selectors, permutation sigmas) and the
    // prover's own (advice, instance, lookup permuted/product columns, permutation products)
    let pk_polys = (cs.num_fixed_columns() + cs.num_selectors() + perm) as u64;
    let prover_polys = (cs.num_advice_columns()
        + cs.num_instance_columns()
        + 3 * cs.lookups().len()
        + perm_products) as u64;
    let estimated = 32 * ((pk_polys + prover_polys) * (2 * n + ext) + 2 * ext);
    CircuitStats {
        k,
        rows: n as usize,
        main_rows_used: main,
        range_rows_used: range,
        advice_columns: cs.num_advice_columns(),
        fixed_columns: cs.num_fixed_columns(),
        selectors: cs.num_selectors(),
        instance_columns: cs.num_instance_columns(),
        lookups: cs.lookups().len(),
        permutation_columns: perm,
        gates: cs.gates().len(),
        degree,
        public_instances: plan.num_instances(),
        estimated_prover_bytes: estimated,
    }
}
