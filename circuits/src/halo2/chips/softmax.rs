//! Softmax over one row of attention scores, with a proven maximum and a proven normalisation:
//!
//! - `m` is the row's maximum: every `u_j = m - s_j` is a key of the exp table (so `u_j ≥ 0`),
//!   and `Π u_j = 0` (so `m` is one of the scores);
//! - `e_j = EXP[u_j]` by lookup, `S = Σ e_j` on the dot chip;
//! - `p_j = round_half_up(e_j · 2^PB / S)`: `2·e_j·2^PB + S = 2·p_j·S + rem_j` with
//!   `0 ≤ rem_j < 2S` and `p_j ∈ [0, 2^(PB+1))`, which leaves one `p_j`.

use halo2_proofs::circuit::Value;
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Expression, Selector};
use halo2_proofs::poly::Rotation;
use halo2curves::ff::Field;

use crate::field::{fr_from_i64, fr_to_i128};
use crate::gpt::{EXP_BITS, PROB_BITS};
use crate::halo2::chips::dot::{DotConfig, Term};
use crate::halo2::chips::range::RangeConfig;
use crate::halo2::chips::table::{TableConfig, TAG_EXP};
use crate::halo2::ctx::{Ctx, Wire};
use crate::ops::kind::bits_of;
use crate::Fr;

#[derive(Debug, Clone)]
pub struct SoftmaxConfig {
    cols: [Column<Advice>; 5],
    q_first: Selector,
    q_rest: Selector,
    q_div: Selector,
}

/// Deliberate faults for the negative tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fault {
    /// Added to the claimed maximum.
    pub max: i64,
    /// Added to the first probability (its remainder follows, so the equation still holds).
    pub p0: i64,
}

fn rem_bits(n: usize) -> u32 {
    bits_of(2 * n as u128 * (1u128 << EXP_BITS))
}

fn int(v: &Value<Fr>) -> Value<i64> {
    v.map(|f| fr_to_i128(&f).unwrap_or(0) as i64)
}

impl SoftmaxConfig {
    pub fn configure(meta: &mut ConstraintSystem<Fr>, main: &[Column<Advice>]) -> Self {
        let cfg = Self {
            cols: std::array::from_fn(|i| main[i]),
            q_first: meta.selector(),
            q_rest: meta.selector(),
            q_div: meta.selector(),
        };
        meta.create_gate("softmax max", |m| {
            let [u, _e, s, max, prod] = cfg.cols.map(|c| m.query_advice(c, Rotation::cur()));
            let prev_max = m.query_advice(cfg.cols[3], Rotation::prev());
            let prev_prod = m.query_advice(cfg.cols[4], Rotation::prev());
            let (first, rest) = (m.query_selector(cfg.q_first), m.query_selector(cfg.q_rest));
            let diff = u.clone() - (max.clone() - s);
            vec![
                first.clone() * diff.clone(),
                first * (prod.clone() - u.clone()),
                rest.clone() * diff,
                rest.clone() * (max - prev_max),
                rest * (prod - prev_prod * u),
            ]
        });
        meta.create_gate("softmax division", |m| {
            let [e, sum, p, rem, t] = cfg.cols.map(|c| m.query_advice(c, Rotation::cur()));
            let q = m.query_selector(cfg.q_div);
            let c = |v: u64| Expression::Constant(Fr::from(v));
            vec![
                q.clone()
                    * (c(2 << PROB_BITS) * e + sum.clone() - c(2) * p * sum.clone() - rem.clone()),
                q * (t - (c(2) * sum - c(1) - rem)),
            ]
        });
        cfg
    }

    /// Probabilities `p_j` (scale `2^-PROB_BITS`) of the scores `s`.
    #[allow(clippy::too_many_arguments)]
    pub fn assign(
        &self,
        ctx: &mut Ctx,
        dot: &DotConfig,
        range: &RangeConfig,
        table: &TableConfig,
        exp: &[i64],
        s: &[Wire],
        fault: Fault,
    ) -> Result<Vec<Wire>, Error> {
        let n = s.len();
        let vals: Value<Vec<i64>> = Value::from_iter(s.iter().map(|w| int(&w.value)));
        let max = vals
            .as_ref()
            .map(|v| v.iter().copied().max().unwrap_or(0) + fault.max);
        let look = |u: i64| exp.get(u as usize).copied().unwrap_or(0);
        let mut es = Vec::with_capacity(n);
        let mut prod = Value::known(Fr::ONE);
        for (j, sj) in s.iter().enumerate() {
            let row = ctx.row;
            ctx.enable(if j == 0 { &self.q_first } else { &self.q_rest }, row)?;
            let u = max.zip(int(&sj.value)).map(|(m, v)| m - v);
            let uf = u.map(fr_from_i64);
            ctx.assign(self.cols[0], row, uf);
            es.push(ctx.assign(self.cols[1], row, u.map(|u| fr_from_i64(look(u)))));
            ctx.copy(self.cols[2], row, sj);
            ctx.assign(self.cols[3], row, max.map(fr_from_i64));
            prod = prod * uf;
            let p = ctx.assign(self.cols[4], row, prod);
            table.enable(ctx, row, TAG_EXP)?;
            if j + 1 == n {
                ctx.constrain_constant(p.cell, Fr::ZERO)?;
            }
            ctx.row += 1;
        }
        let terms: Vec<Term> = es.iter().map(Term::Copy).collect();
        let (_, sum) = dot.assign(ctx, &vec![Fr::ONE; n], &terms, Fr::ZERO)?;
        let bits = rem_bits(n);
        let mut ps = Vec::with_capacity(n);
        for (j, e) in es.iter().enumerate() {
            let row = ctx.row;
            ctx.enable(&self.q_div, row)?;
            ctx.copy(self.cols[0], row, e);
            ctx.copy(self.cols[1], row, &sum);
            let (ev, sv) = (int(&e.value), int(&sum.value));
            let num = ev.zip(sv).map(|(e, s)| 2 * (e << PROB_BITS) + s);
            let honest = num
                .zip(sv)
                .map(|(n, s)| if s > 0 { n / (2 * s) } else { 0 });
            let p = honest.map(|p| if j == 0 { p + fault.p0 } else { p });
            let rem = num.zip(sv).zip(p).map(|((n, s), p)| n - 2 * p * s);
            let t = sv.zip(rem).map(|(s, r)| 2 * s - 1 - r);
            let pw = ctx.assign(self.cols[2], row, p.map(fr_from_i64));
            let rw = ctx.assign(self.cols[3], row, rem.map(fr_from_i64));
            let tw = ctx.assign(self.cols[4], row, t.map(fr_from_i64));
            ctx.row += 1;
            range.check(ctx, &rw, bits, 0)?;
            range.check(ctx, &tw, bits, 0)?;
            range.check(ctx, &pw, PROB_BITS + 1, 0)?;
            ps.push(pw);
        }
        Ok(ps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpt::reference::softmax;
    use crate::gpt::tables::exp_table;
    use crate::gpt::toy::toy;
    use crate::halo2::chips::harness::{cells_with, fails_with, passes_with};
    use crate::halo2::chips::table::Tables;
    use crate::halo2::generation::config::GenConfig;

    fn exp() -> Vec<i64> {
        exp_table(toy(7).frac_bits)
    }

    fn tables() -> Tables {
        let mut t = Tables::default();
        t.push(TAG_EXP, 0, &exp());
        t
    }

    /// Softmax of fixed scores, probabilities pinned to the reference.
    fn layout(
        s: [i64; 5],
        fault: Fault,
    ) -> impl Fn(&GenConfig, &mut Ctx) -> Result<(), Error> + Clone + Send + Sync {
        move |cfg, ctx| {
            let exp = exp();
            let sw: Vec<Wire> = (0..s.len())
                .map(|i| ctx.assign(cfg.base.main[9], i, Value::known(fr_from_i64(s[i]))))
                .collect();
            ctx.row = s.len();
            let b = &cfg.base;
            let p = cfg
                .softmax
                .assign(ctx, &b.dot, &b.range, &cfg.table, &exp, &sw, fault)?;
            for (pw, want) in p.iter().zip(softmax(&exp, &s)) {
                ctx.constrain_constant(pw.cell, fr_from_i64(want))?;
            }
            Ok(())
        }
    }

    const S: [i64; 5] = [10, -20, 35, 35, 0];

    #[test]
    fn honest_probabilities_pass_and_faults_fail() {
        let t = tables();
        passes_with(layout(S, Fault::default()), &t);
        fails_with(layout(S, Fault { p0: 1, max: 0 }), &t);
        fails_with(layout(S, Fault { p0: 0, max: 1 }), &t);
    }

    #[test]
    fn every_cell_is_bound() {
        assert!(cells_with(layout(S, Fault::default()), &tables(), "softmax") > 5 * 8);
    }
}
