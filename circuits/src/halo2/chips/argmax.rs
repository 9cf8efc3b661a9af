//! Greedy argmax over logits, ties to the lowest index. A one-hot `b` (boolean, running sum
//! `incl_j = Σ_{k≤j} b_k` ending at 1) selects the maximum `m = Σ b_j·l_j` and its index
//! `idx = Σ b_j·j`; every logit then satisfies `m - l_j - (1 - incl_j) ≥ 0` (range-checked), so
//! logits before the chosen index are strictly smaller and none after it is larger.

use halo2_proofs::circuit::Value;
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Expression, Fixed, Selector};
use halo2_proofs::poly::Rotation;
use halo2curves::ff::Field;

use crate::field::{fr_from_i64, fr_to_i128};
use crate::gpt::reference::argmax;
use crate::halo2::chips::range::RangeConfig;
use crate::halo2::ctx::{Ctx, Wire};
use crate::Fr;

/// Logits are 16-bit signed, so `m - l_j` has 17 bits.
pub const DIFF_BITS: u32 = 17;

#[derive(Debug, Clone)]
pub struct ArgmaxConfig {
    cols: [Column<Advice>; 7],
    index: Column<Fixed>,
    q_first: Selector,
    q_rest: Selector,
}

impl ArgmaxConfig {
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        main: &[Column<Advice>],
        index: Column<Fixed>,
    ) -> Self {
        let cfg = Self {
            cols: std::array::from_fn(|i| main[i]),
            index,
            q_first: meta.selector(),
            q_rest: meta.selector(),
        };
        meta.create_gate("argmax", |m| {
            let [l, b, incl, msel, idx, max, diff] =
                cfg.cols.map(|c| m.query_advice(c, Rotation::cur()));
            let [_, _, p_incl, p_msel, p_idx, p_max, _] =
                cfg.cols.map(|c| m.query_advice(c, Rotation::prev()));
            let j = m.query_fixed(cfg.index, Rotation::cur());
            let (first, rest) = (m.query_selector(cfg.q_first), m.query_selector(cfg.q_rest));
            let one = Expression::Constant(Fr::ONE);
            let boolean = b.clone() * (one.clone() - b.clone());
            let slack = diff - (max.clone() - l.clone() - (one - incl.clone()));
            vec![
                first.clone() * boolean.clone(),
                rest.clone() * boolean,
                first.clone() * slack.clone(),
                rest.clone() * slack,
                first.clone() * (incl.clone() - b.clone()),
                first.clone() * (msel.clone() - b.clone() * l.clone()),
                first * idx.clone(),
                rest.clone() * (incl - p_incl - b.clone()),
                rest.clone() * (msel - p_msel - b.clone() * l),
                rest.clone() * (idx - p_idx - b * j),
                rest * (max - p_max),
            ]
        });
        cfg
    }

    /// The index of the first maximum of `logits`; `choose` overrides the honest index (tests).
    pub fn assign(
        &self,
        ctx: &mut Ctx,
        range: &RangeConfig,
        logits: &[Wire],
        choose: Option<usize>,
    ) -> Result<Wire, Error> {
        let vals: Value<Vec<i64>> = Value::from_iter(
            logits
                .iter()
                .map(|w| w.value.map(|f| fr_to_i128(&f).unwrap_or(0) as i64)),
        );
        let best = vals.as_ref().map(|v| choose.unwrap_or_else(|| argmax(v)));
        let max = vals.as_ref().zip(best).map(|(v, b)| v[b]);
        let mut incl = Value::known(0i64);
        let mut msel = Value::known(0i64);
        let mut first = None;
        let mut last = None;
        for (j, l) in logits.iter().enumerate() {
            let row = ctx.row;
            ctx.enable(if j == 0 { &self.q_first } else { &self.q_rest }, row)?;
            ctx.fixed(self.index, row, Fr::from(j as u64));
            let b = best.map(|b| (b == j) as i64);
            incl = incl + b;
            msel = msel + b.zip(vals.as_ref().map(|v| v[j])).map(|(b, l)| b * l);
            let idx = best.map(|b| if b <= j { b as i64 } else { 0 });
            let diff = max
                .zip(vals.as_ref().map(|v| v[j]))
                .zip(incl)
                .map(|((m, l), i)| m - l - (1 - i));
            let f = |v: Value<i64>| v.map(fr_from_i64);
            ctx.copy(self.cols[0], row, l);
            ctx.assign(self.cols[1], row, f(b));
            let incl_cell = ctx.assign(self.cols[2], row, f(incl));
            let msel_cell = ctx.assign(self.cols[3], row, f(msel));
            let idx_cell = ctx.assign(self.cols[4], row, f(idx));
            let max_cell = ctx.assign(self.cols[5], row, f(max));
            let diff_cell = ctx.assign(self.cols[6], row, f(diff));
            ctx.row += 1;
            range.check(ctx, &diff_cell, DIFF_BITS, 0)?;
            if j == 0 {
                first = Some(max_cell);
            }
            last = Some((incl_cell, msel_cell, idx_cell));
        }
        let (incl, msel, idx) = last.expect("at least one logit");
        ctx.constrain_constant(incl.cell, Fr::ONE)?;
        ctx.constrain_equal(msel.cell, first.expect("at least one logit").cell);
        Ok(idx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::halo2::chips::harness::{cells, fails, passes};
    use crate::halo2::generation::config::GenConfig;

    /// The logits in spare cells, then the argmax, pinned to the reference's index.
    fn layout(
        logits: [i64; 5],
        choose: Option<usize>,
    ) -> impl Fn(&GenConfig, &mut Ctx) -> Result<(), Error> + Clone + Send + Sync {
        move |cfg, ctx| {
            let ws: Vec<Wire> = (0..logits.len())
                .map(|i| ctx.assign(cfg.base.main[9], i, Value::known(fr_from_i64(logits[i]))))
                .collect();
            ctx.row = logits.len();
            let idx = cfg.argmax.assign(ctx, &cfg.base.range, &ws, choose)?;
            ctx.constrain_constant(idx.cell, Fr::from(argmax(&logits) as u64))
        }
    }

    const TIED: [i64; 5] = [3, -7, 900, 900, -32768];

    #[test]
    fn the_first_maximum_passes() {
        passes(layout(TIED, None));
        passes(layout([-5, -5, -5, -5, -4], None));
    }

    #[test]
    fn another_index_fails() {
        // the later of two tied maxima, a smaller logit, the last one
        for c in [3, 0, 4] {
            fails(layout(TIED, Some(c)));
        }
    }

    #[test]
    fn every_cell_is_bound() {
        assert!(cells(layout(TIED, None), "argmax") >= 5 * 7);
        cells(layout([-5, -5, -5, -5, -4], None), "argmax");
    }
}
