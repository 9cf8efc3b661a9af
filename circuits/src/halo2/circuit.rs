//! The model circuit: the batch mask and count, the input commitment (with int8 range checks on
//! every input value), the model's stages per batch row, the masked outputs and their commitment,
//! and the five public instances of the usage statement.

use std::sync::Arc;

use halo2_proofs::circuit::{Layouter, SimpleFloorPlanner, Value};
use halo2_proofs::plonk::{Circuit, ConstraintSystem, Error};

use super::chips::dot::Term;
use super::commit::{commit, BYTES};
use super::config::CircuitConfig;
use super::ctx::{Ctx, Wire};
use super::plan::Plan;
use crate::field::fr_from_i64;
use crate::lowering::{forward, RescaleParams, StageOps};
use crate::usage::BYTE_OFFSET;
pub use crate::witness::{run, Run, Witness, WitnessError};
use crate::Fr;

#[derive(Clone)]
pub struct ModelCircuit {
    pub plan: Arc<Plan>,
    pub witness: Option<Arc<Witness>>,
}

impl ModelCircuit {
    /// The circuit for key generation (no witness).
    pub fn shape(plan: Arc<Plan>) -> Self {
        Self {
            plan,
            witness: None,
        }
    }

    /// Checks the witness against the plan and computes the statement with the reference executor.
    pub fn prepare(plan: Arc<Plan>, witness: Witness) -> Result<(Self, Run), WitnessError> {
        let run = run(&plan.model, plan.batch, &witness)?;
        Ok((
            Self {
                plan,
                witness: Some(Arc::new(witness)),
            },
            run,
        ))
    }

    fn known<T>(&self, f: impl FnOnce(&Witness) -> T) -> Value<T> {
        match &self.witness {
            Some(w) => Value::known(f(w)),
            None => Value::unknown(),
        }
    }
}

/// The forward pass on halo2 chips: linear layers on the dot chip (weights as fixed
/// coefficients), rescales on the rescale chip.
struct Ops<'c, 'x, 'a, 'r> {
    cfg: &'c CircuitConfig,
    ctx: &'x mut Ctx<'a, 'r>,
}

impl StageOps for Ops<'_, '_, '_, '_> {
    type Value = Wire;
    type Error = Error;

    fn linear(&mut self, weights: &[i64], bias: i64, inputs: &[Wire]) -> Result<Wire, Error> {
        let terms: Vec<Term> = inputs.iter().map(Term::Copy).collect();
        let coeffs: Vec<Fr> = weights.iter().map(|w| fr_from_i64(*w)).collect();
        self.cfg
            .dot
            .assign(self.ctx, &coeffs, &terms, fr_from_i64(bias))
            .map(|(_, acc)| acc)
    }

    fn rescale(&mut self, acc: &Wire, p: &RescaleParams) -> Result<Wire, Error> {
        self.cfg.rescale.assign(self.ctx, &self.cfg.range, acc, p)
    }
}

impl Circuit<Fr> for ModelCircuit {
    type Config = CircuitConfig;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = ();

    fn without_witnesses(&self) -> Self {
        Self::shape(self.plan.clone())
    }

    fn configure(meta: &mut ConstraintSystem<Fr>) -> CircuitConfig {
        CircuitConfig::configure(meta)
    }

    fn synthesize(&self, cfg: CircuitConfig, mut layouter: impl Layouter<Fr>) -> Result<(), Error> {
        cfg.range.load_table(&mut layouter)?;
        let plan = &self.plan;
        let (in_len, batch) = (plan.model.input.len, plan.batch);
        let publics = layouter.assign_region(
            || "model",
            |mut region| {
                let mut ctx = Ctx::new(&mut region);
                let (bits, count) =
                    cfg.mask
                        .mask(&mut ctx, batch, self.known(|w| w.rows.len() as u64))?;
                let row = ctx.row;
                let request_id = ctx.assign(cfg.main[0], row, self.known(|w| w.request_id));
                let salt = ctx.assign(cfg.main[1], row, self.known(|w| w.salt));
                ctx.row += 1;

                let values = self.known(|w| w.padded_inputs(batch, in_len));
                let inputs: Vec<Term> = (0..batch * in_len)
                    .map(|i| Term::Fresh(values.as_ref().map(|v| fr_from_i64(v[i]))))
                    .collect();
                let (xs, in_commit) = commit(
                    &cfg,
                    &mut ctx,
                    &[&request_id, &salt, &count],
                    &inputs,
                    BYTES,
                )?;
                for x in &xs {
                    cfg.range.check(&mut ctx, x, 8, BYTE_OFFSET)?;
                }

                let mut outputs = Vec::new();
                for (b, bit) in bits.iter().enumerate() {
                    let row = xs[b * in_len..(b + 1) * in_len].to_vec();
                    let ys = forward(
                        &mut Ops {
                            cfg: &cfg,
                            ctx: &mut ctx,
                        },
                        &plan.stages,
                        row,
                    )?;
                    for y in &ys {
                        outputs.push(cfg.mask.mul(&mut ctx, y, bit)?);
                    }
                }
                let out_terms: Vec<Term> = outputs.iter().map(Term::Copy).collect();
                let (_, out_commit) = commit(
                    &cfg,
                    &mut ctx,
                    &[&request_id, &salt, &count],
                    &out_terms,
                    BYTES,
                )?;
                debug_assert_eq!(
                    (ctx.row, ctx.range_row()),
                    (plan.main_rows, plan.range_rows)
                );
                Ok([request_id, in_commit, out_commit, count.clone(), count])
            },
        )?;
        for (i, w) in publics.iter().enumerate() {
            layouter.constrain_instance(w.cell, cfg.instance, i);
        }
        Ok(())
    }
}
