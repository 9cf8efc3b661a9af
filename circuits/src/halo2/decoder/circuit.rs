//! The decoder circuit as a halo2 [`Circuit`]: the range table and the model's function tables,
//! then the layout of [`super::layout`] in one region, its public cells bound to the instance
//! column.

use std::sync::Arc;

use halo2_proofs::circuit::{Layouter, SimpleFloorPlanner};
use halo2_proofs::plonk::{Circuit, ConstraintSystem, Error};

use super::layout::{layout, DecodeInputs, Faults};
use super::{DecodeConfig, DecodePlan};
use crate::decoder::{DecodeError, Generation};
use crate::halo2::config::Shape;
use crate::halo2::ctx::Ctx;
use crate::halo2::instructions::tags;
use crate::usage::UsageStatement;
use crate::Fr;

/// A generation's request: what the client committed to.
#[derive(Debug, Clone)]
pub struct DecodeRequest {
    /// The settlement request.
    pub request_id: Fr,
    /// The client's salt.
    pub salt: Fr,
    /// The prompt's token ids.
    pub prompt: Vec<u64>,
    /// The client's budget.
    pub max_tokens: usize,
}

/// The circuit of one plan, with or without a witness.
#[derive(Clone)]
pub struct DecoderCircuit {
    /// The plan.
    pub plan: Arc<DecodePlan>,
    /// The generation's inputs and stream; `None` for key generation.
    pub witness: Option<Arc<DecodeInputs>>,
    /// Deliberate faults (tests).
    pub faults: Faults,
}

/// What a generation produced: the tokens and the statement.
#[derive(Debug, Clone)]
pub struct DecodeRun {
    /// The reference generation.
    pub generation: Generation,
    /// The public instances.
    pub statement: UsageStatement,
}

impl DecoderCircuit {
    /// The circuit for key generation (no witness).
    pub fn shape(plan: Arc<DecodePlan>) -> Self {
        Self {
            plan,
            witness: None,
            faults: Faults::default(),
        }
    }

    /// Runs the reference generation for `request` and computes the statement.
    pub fn prepare(
        plan: Arc<DecodePlan>,
        request: DecodeRequest,
    ) -> Result<(Self, DecodeRun), DecodeError> {
        let d = &plan.decoder;
        let generation = d.generate(&request.prompt, request.max_tokens)?;
        let statement = d.statement(
            request.request_id,
            request.salt,
            &request.prompt,
            request.max_tokens,
            &generation,
        );
        let witness = DecodeInputs {
            request_id: request.request_id,
            salt: request.salt,
            prompt: request.prompt,
            max_tokens: request.max_tokens,
            stream: generation.stream.iter().map(|t| *t as u64).collect(),
        };
        let circuit = Self {
            plan,
            witness: Some(Arc::new(witness)),
            faults: Faults::default(),
        };
        Ok((
            circuit,
            DecodeRun {
                generation,
                statement,
            },
        ))
    }
}

impl DecoderCircuit {
    /// The instances the witness, faults included, assigns to the public cells: what a
    /// prover running this layout would claim (negative tests).
    pub fn claimed_instances(&self) -> Result<Vec<Fr>, Error> {
        let mut meta = ConstraintSystem::<Fr>::default();
        let cfg = DecodeConfig::configure(&mut meta, self.plan.shape);
        let mut ctx = Ctx::counter();
        let publics = layout(
            &cfg,
            &self.plan.decoder,
            &mut ctx,
            self.witness.as_deref(),
            &self.faults,
        )?;
        let mut out = vec![Fr::from(0); publics.len()];
        for (o, w) in out.iter_mut().zip(&publics) {
            w.value.map(|v| *o = v);
        }
        Ok(out)
    }
}

impl Circuit<Fr> for DecoderCircuit {
    type Config = DecodeConfig;
    type FloorPlanner = SimpleFloorPlanner;
    /// The plan's configuration.
    type Params = Shape;

    fn without_witnesses(&self) -> Self {
        Self::shape(self.plan.clone())
    }

    fn params(&self) -> Shape {
        self.plan.shape
    }

    fn configure_with_params(meta: &mut ConstraintSystem<Fr>, shape: Shape) -> DecodeConfig {
        DecodeConfig::configure(meta, shape)
    }

    fn configure(meta: &mut ConstraintSystem<Fr>) -> DecodeConfig {
        DecodeConfig::configure(
            meta,
            Shape {
                lookups: true,
                products: true,
                ..Shape::default()
            },
        )
    }

    fn synthesize(&self, cfg: DecodeConfig, mut layouter: impl Layouter<Fr>) -> Result<(), Error> {
        cfg.base.range.load_table(&mut layouter)?;
        let plan = &self.plan;
        let table = cfg.base.table.as_ref().ok_or(Error::Synthesis)?;
        table.load(&mut layouter, &tags(&plan.decoder.model.tables()))?;
        let publics = layouter.assign_region(
            || "decoder",
            |mut region| {
                let mut ctx = Ctx::new(&mut region);
                let publics = layout(
                    &cfg,
                    &plan.decoder,
                    &mut ctx,
                    self.witness.as_deref(),
                    &self.faults,
                )?;
                debug_assert_eq!(
                    (ctx.row, ctx.range_row()),
                    (plan.main_rows, plan.range_rows)
                );
                Ok(publics)
            },
        )?;
        for (i, w) in publics.iter().enumerate() {
            layouter.constrain_instance(w.cell, cfg.base.instance, i);
        }
        Ok(())
    }
}
