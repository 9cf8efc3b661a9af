//! The generation circuit as a halo2 [`Circuit`]: the function table and range table, then the
//! layout of [`super::layout`] in one region, its five cells bound to the instance column.

use std::sync::Arc;

use halo2_proofs::circuit::{Layouter, SimpleFloorPlanner};
use halo2_proofs::plonk::{Circuit, ConstraintSystem, Error};

use super::config::GenConfig;
use super::layout::{layout, Faults, Inputs};
use super::plan::GenPlan;
use crate::gpt::reference::{generate, Generation};
use crate::gpt::GptError;
use crate::halo2::ctx::Ctx;
use crate::usage::{completion_commitment, prompt_commitment, UsageStatement};
use crate::Fr;

pub type GenWitness = Inputs;

#[derive(Clone)]
pub struct GenerationCircuit {
    pub plan: Arc<GenPlan>,
    pub witness: Option<Arc<GenWitness>>,
    pub faults: Faults,
}

/// The reference generation a proof attests, and its statement.
#[derive(Debug, Clone)]
pub struct GenRun {
    pub generation: Generation,
    pub statement: UsageStatement,
}

impl GenerationCircuit {
    pub fn shape(plan: Arc<GenPlan>) -> Self {
        Self {
            plan,
            witness: None,
            faults: Faults::default(),
        }
    }

    /// Runs the reference generation and derives the statement the circuit will prove.
    pub fn prepare(plan: Arc<GenPlan>, witness: GenWitness) -> Result<(Self, GenRun), GptError> {
        let generation = generate(&plan.model, plan.slots, &witness.prompt, witness.max_tokens)?;
        let tokens = |v: &[usize]| v.iter().map(|t| *t as u64).collect::<Vec<_>>();
        let statement = UsageStatement {
            request_id: witness.request_id,
            input_commitment: prompt_commitment(
                witness.request_id,
                witness.salt,
                &tokens(&witness.prompt),
                plan.slots.prompt,
                witness.max_tokens as u64,
            ),
            output_commitment: completion_commitment(
                witness.request_id,
                witness.salt,
                &tokens(&generation.completion),
                plan.slots.gen,
            ),
            n_in: generation.n_in as u64,
            n_out: generation.n_out as u64,
        };
        Ok((
            Self {
                plan,
                witness: Some(Arc::new(witness)),
                faults: Faults::default(),
            },
            GenRun {
                generation,
                statement,
            },
        ))
    }
}

impl GenerationCircuit {
    /// The five public values this circuit's witness lays out (its faults included), from a
    /// counting run of the layout: the statement a prover holding this witness would claim.
    pub fn claimed_instances(&self) -> Result<[Fr; 5], Error> {
        let inputs = self.witness.as_deref().ok_or(Error::Synthesis)?;
        let mut cs = ConstraintSystem::<Fr>::default();
        let cfg = GenConfig::configure(&mut cs);
        let mut ctx = Ctx::counter();
        let publics = layout(&cfg, &self.plan, &mut ctx, Some(inputs), &self.faults)?;
        let mut out = [Fr::from(0); 5];
        for (o, w) in out.iter_mut().zip(&publics) {
            w.value.map(|v| *o = v);
        }
        Ok(out)
    }
}

impl Circuit<Fr> for GenerationCircuit {
    type Config = GenConfig;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = ();

    fn without_witnesses(&self) -> Self {
        Self::shape(self.plan.clone())
    }

    fn configure(meta: &mut ConstraintSystem<Fr>) -> GenConfig {
        GenConfig::configure(meta)
    }

    fn synthesize(&self, cfg: GenConfig, mut layouter: impl Layouter<Fr>) -> Result<(), Error> {
        cfg.base.range.load_table(&mut layouter)?;
        cfg.table.load(&mut layouter, &self.plan.tables)?;
        let publics = layouter.assign_region(
            || "generation",
            |mut region| {
                let mut ctx = Ctx::new(&mut region);
                let out = layout(
                    &cfg,
                    &self.plan,
                    &mut ctx,
                    self.witness.as_deref(),
                    &self.faults,
                )?;
                debug_assert_eq!(
                    (ctx.row, ctx.range_row()),
                    (self.plan.main_rows, self.plan.range_rows)
                );
                Ok(out)
            },
        )?;
        for (i, w) in publics.iter().enumerate() {
            layouter.constrain_instance(w.cell, cfg.base.instance, i);
        }
        Ok(())
    }
}
