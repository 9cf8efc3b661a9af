//! Circuit shape and a prover-memory estimate, for `zkinfer inspect`, and the check that keeps
//! `setup` from starting a circuit this machine cannot hold: without it a user's too-large
//! model runs for many minutes and ends killed for memory, not with a reason.

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

/// Names the memory limit in MiB that overrides the machine's own (a container's, or a larger
/// one for a user who knows the estimate is too cautious).
pub const MEMORY_LIMIT_VAR: &str = "ZKINFER_MEMORY_LIMIT_MIB";

/// The memory this process may use: [`MEMORY_LIMIT_VAR`] if set, else the least of the
/// machine's total and the cgroup's limit; `None` where neither can be read.
pub fn memory_limit() -> Option<u64> {
    if let Ok(v) = std::env::var(MEMORY_LIMIT_VAR) {
        let mib = v.trim().parse::<u64>();
        if mib.is_err() {
            tracing::warn!("{MEMORY_LIMIT_VAR}={v} is not a number of MiB: no memory check");
        }
        return mib.ok().map(|mib| mib << 20);
    }
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        let line = s.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib << 10)
    });
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    match (total, cgroup) {
        (Some(t), Some(c)) => Some(t.min(c)),
        (t, c) => t.or(c),
    }
}

/// Refuses a circuit whose estimated prover memory exceeds [`memory_limit`].
pub fn check_memory(plan: &Halo2Plan) -> Result<(), crate::ProverError> {
    let (Some(limit), s) = (memory_limit(), stats(plan)) else {
        return Ok(());
    };
    if s.estimated_prover_bytes <= limit {
        return Ok(());
    }
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    Err(crate::ProverError::Memory(format!(
        "the circuit (k = {}, {} advice and {} fixed columns) needs about {:.1} GiB to set up \
         and prove, and this machine allows {:.1} GiB: prove fewer samples a proof (--batch), \
         a smaller input, or on a larger machine ({MEMORY_LIMIT_VAR} overrides the limit)",
        s.k,
        s.advice_columns,
        s.fixed_columns,
        gib(s.estimated_prover_bytes),
        gib(limit)
    )))
}
