//! The generation plan: the model, its slots, the function table, and the rows the layout needs,
//! which fix `k`. Rows are counted by running the layout itself on a counting context.

use std::sync::Arc;

use halo2_proofs::plonk::ConstraintSystem;

use super::config::GenConfig;
use super::layout::{layout, Faults};
use crate::gpt::reference::Slots;
use crate::gpt::tables::{exp_table, gelu_table};
use crate::gpt::{Gpt, GptError, ACT};
use crate::halo2::chips::range::RANGE_BITS;
use crate::halo2::chips::table::{Tables, TAG_EMBED, TAG_EXP, TAG_GELU};
use crate::halo2::ctx::Ctx;
use crate::Fr;

/// Rows kept free at the bottom for halo2's blinding factors.
const RESERVED_ROWS: usize = 10;

#[derive(Debug, Clone)]
pub struct GenPlan {
    pub model: Arc<Gpt>,
    pub slots: Slots,
    /// The exp and GELU tables of the spec, and all tables as the circuit loads them.
    pub exp: Vec<i64>,
    pub gelu: Vec<i64>,
    pub tables: Tables,
    pub main_rows: usize,
    pub range_rows: usize,
    pub k: u32,
}

impl GenPlan {
    pub fn new(model: Gpt, slots: Slots) -> Result<Self, GptError> {
        model.validate()?;
        if slots.prompt == 0 || slots.gen == 0 || slots.gen > 255 {
            return Err(GptError::Shape(format!(
                "slots {}+{}: need at least one prompt and one generated token, at most 255 generated",
                slots.prompt, slots.gen
            )));
        }
        if slots.prompt + slots.gen > model.context {
            return Err(GptError::Shape(format!(
                "{} prompt + {} generated slots exceed the model's context of {}",
                slots.prompt, slots.gen, model.context
            )));
        }
        let (exp, gelu) = (exp_table(model.frac_bits), gelu_table(model.frac_bits));
        let mut tables = Tables::default();
        tables.push(TAG_EXP, 0, &exp);
        tables.push(TAG_GELU, ACT.0, &gelu);
        tables.push(TAG_EMBED, 0, &model.tok);
        let mut plan = Self {
            model: Arc::new(model),
            slots,
            exp,
            gelu,
            tables,
            main_rows: 0,
            range_rows: 0,
            k: 0,
        };
        let mut cs = ConstraintSystem::<Fr>::default();
        let cfg = GenConfig::configure(&mut cs);
        let mut ctx = Ctx::counter();
        layout(&cfg, &plan, &mut ctx, None, &Faults::default())
            .map_err(|e| GptError::Shape(format!("layout: {e:?}")))?;
        plan.main_rows = ctx.row;
        plan.range_rows = ctx.range_row();
        let need = ctx.row.max(ctx.range_row()).max(plan.tables.rows.len()) + RESERVED_ROWS;
        plan.k = (RANGE_BITS + 1).max(need.next_power_of_two().trailing_zeros());
        Ok(plan)
    }
}
