//! The model circuit: the batch mask and count, the input commitment (with range checks on every
//! input value: to its declared range, within int8, or for token ids `[0, max]`), the model's graph per batch row, the masked
//! outputs, their commitment and their ciphertext, and the public instances of the usage
//! statement.

use std::sync::Arc;

use halo2_proofs::circuit::{Layouter, SimpleFloorPlanner, Value};
use halo2_proofs::plonk::{Circuit, ConstraintSystem, Error};

use super::chips::dot::Term;
use super::commit::{commit, encrypt, BYTES, TOKENS};
use super::config::{CircuitConfig, Shape};
use super::ctx::{Ctx, Wire};
use super::instructions::{tags, Halo2Ops};
use super::plan::Plan;
use crate::field::fr_from_i64;
use crate::graph::tensor::numel;
use crate::graph::{lower, Model};
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
}

impl Circuit<Fr> for ModelCircuit {
    type Config = CircuitConfig;
    type FloorPlanner = SimpleFloorPlanner;
    /// The plan's configuration.
    type Params = Shape;

    fn without_witnesses(&self) -> Self {
        Self::shape(self.plan.clone())
    }

    fn params(&self) -> Shape {
        self.plan.shape
    }

    fn configure_with_params(meta: &mut ConstraintSystem<Fr>, shape: Shape) -> CircuitConfig {
        CircuitConfig::configure_with(meta, shape)
    }

    fn configure(meta: &mut ConstraintSystem<Fr>) -> CircuitConfig {
        CircuitConfig::configure(meta)
    }

    fn synthesize(&self, cfg: CircuitConfig, mut layouter: impl Layouter<Fr>) -> Result<(), Error> {
        cfg.range.load_table(&mut layouter)?;
        let plan = &self.plan;
        if let Some(table) = &cfg.table {
            table.load(&mut layouter, &tags(&plan.model.tables()))?;
        }
        let publics = layouter.assign_region(
            || "model",
            |mut region| {
                let mut ctx = Ctx::new(&mut region);
                let publics = layout(
                    &cfg,
                    &mut ctx,
                    &plan.model,
                    plan.batch,
                    self.witness.as_deref(),
                )?;
                debug_assert_eq!(
                    (ctx.row, ctx.range_row()),
                    (plan.main_rows, plan.range_rows)
                );
                Ok(publics)
            },
        )?;
        for (i, w) in publics.iter().enumerate() {
            layouter.constrain_instance(w.cell, cfg.instance, i);
        }
        Ok(())
    }
}

/// The whole model circuit on `ctx`: the batch mask, the input commitment with range checks
/// (int8, or token ids within `[0, max]`), the graph once per batch row, the masked outputs and
/// their commitment and ciphertext, and last, once every first-phase cell is laid, the challenge
/// checks of the deferred products. Returns the cells of the public instances in order. Plans
/// run it on a counting context to size the circuit.
pub fn layout(
    cfg: &CircuitConfig,
    ctx: &mut Ctx,
    model: &Model,
    batch: usize,
    witness: Option<&Witness>,
) -> Result<Vec<Wire>, Error> {
    let known = |f: &dyn Fn(&Witness) -> Fr| match witness {
        Some(w) => Value::known(f(w)),
        None => Value::unknown(),
    };
    let in_len = model.input_len();
    let rows = match witness {
        Some(w) => Value::known(w.rows.len() as u64),
        None => Value::unknown(),
    };
    let (bits, count) = cfg.mask.mask(ctx, batch, rows)?;
    let row = ctx.row;
    let request_id = ctx.assign(cfg.main[0], row, known(&|w| w.request_id));
    let salt = ctx.assign(cfg.main[1], row, known(&|w| w.salt));
    ctx.row += 1;

    let values = witness.map(|w| w.padded_inputs(batch, in_len));
    let inputs: Vec<Term> = (0..batch * in_len)
        .map(|i| {
            Term::Fresh(match &values {
                Some(v) => Value::known(fr_from_i64(v[i])),
                None => Value::unknown(),
            })
        })
        .collect();
    let head = [&request_id, &salt, &count];
    let (xs, in_commit) = if model.token_inputs() {
        // each id within [0, max], below 2^16, so the packing is one-to-one
        let c = commit(cfg, ctx, &head, &inputs, TOKENS)?;
        let (xs, in_commit) = (c.cells, c.commitment);
        let maxes = model
            .graph()
            .inputs
            .iter()
            .flat_map(|i| std::iter::repeat_n(i.max, numel(&i.shape)));
        let maxes: Vec<i64> = maxes.collect();
        for (x, max) in xs.iter().zip(maxes.iter().cycle()) {
            cfg.range.within(ctx, x, *max)?;
        }
        (xs, in_commit)
    } else {
        let c = commit(cfg, ctx, &head, &inputs, BYTES)?;
        let (xs, in_commit) = (c.cells, c.commitment);
        // int8 as a byte; an input declared narrower (booleans, an index, a file's grid) to its
        // range, on which the graph's bounds rest
        for (x, (min, max)) in xs.iter().zip(model.input_ranges().cycle()) {
            if (min, max) == (-128, 127) {
                cfg.range.check(ctx, x, 8, BYTE_OFFSET)?;
            } else {
                cfg.range.between(ctx, x, min, max)?;
            }
        }
        (xs, in_commit)
    };

    let mut outputs = Vec::new();
    let tables = model.tables();
    for (b, bit) in bits.iter().enumerate() {
        let row = xs[b * in_len..(b + 1) * in_len].to_vec();
        let ys = lower(model, &mut Halo2Ops::new(cfg, ctx, &tables), row)?;
        for y in &ys {
            outputs.push(cfg.mask.mul(ctx, y, bit)?);
        }
    }
    let out_terms: Vec<Term> = outputs.iter().map(Term::Copy).collect();
    let out = commit(cfg, ctx, &[&request_id, &salt, &count], &out_terms, BYTES)?;
    let ciphertext = encrypt(cfg, ctx, &request_id, &salt, &out.words)?;
    if let Some(chip) = &cfg.freivalds {
        chip.finish(ctx)?;
    }
    let mut publics = vec![request_id, in_commit, out.commitment, count.clone(), count];
    publics.extend(ciphertext);
    Ok(publics)
}
