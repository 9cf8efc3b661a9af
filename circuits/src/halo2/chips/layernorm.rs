//! LayerNorm over `d` values: `s = Σx` (dot chip), `q = Σx²` (witness dot chip), then one row
//! proves `r = floor(2^R / sqrt(V))` for `V = d·q - s² + eps` by `r²·V ≤ 2^(2R) < (r+1)²·V`
//! (both slacks range-checked, `r` too), and a row per value computes
//! `acc_c = γ_c·(d·x_c - s)·r + β_c·2^shift`, which the rescale chip brings back to the activation
//! scale. No table is needed: the inverse square root is pinned by the two inequalities.

use halo2_proofs::circuit::Value;
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Expression, Fixed, Selector};
use halo2_proofs::poly::Rotation;
use halo2curves::ff::Field;

use crate::field::{fr_from_i128, fr_from_i64, fr_to_i128};
use crate::gpt::reference::{norm_shift, rsqrt};
use crate::gpt::{Norm, ACT, RES, RSQRT_BITS};
use crate::halo2::chips::adot::AdotConfig;
use crate::halo2::chips::dot::{DotConfig, Term};
use crate::halo2::chips::range::RangeConfig;
use crate::halo2::chips::rescale::{RescaleConfig, RescaleParams};
use crate::halo2::ctx::{Ctx, Wire};
use crate::ops::kind::bits_of;
use crate::Fr;

#[derive(Debug, Clone)]
pub struct NormConfig {
    cols: [Column<Advice>; 5],
    /// Stats row: `d`, `eps`. Value rows: `γ·d`, `γ`, `β·2^shift`.
    f: [Column<Fixed>; 3],
    q_stats: Selector,
    q_value: Selector,
}

/// The chips LayerNorm runs on.
pub struct NormChips<'c> {
    pub dot: &'c DotConfig,
    pub adot: &'c AdotConfig,
    pub range: &'c RangeConfig,
    pub rescale: &'c RescaleConfig,
}

/// Widths of the range checks: `r`, the two slacks.
pub fn stat_bits(d: usize) -> (u32, u32) {
    let v_max = (d as u128 * RES.1 as u128).pow(2) + (1u128 << 40);
    let slack = (1u128 << (RSQRT_BITS + 1)) * ((v_max as f64).sqrt() as u128 + 1) + v_max;
    (RSQRT_BITS + 1, bits_of(slack))
}

/// The rescale of each normalised value.
pub fn value_rescale(n: &Norm, frac_bits: u32) -> RescaleParams {
    let shift = norm_shift(n, frac_bits);
    let d = n.gamma.len() as u128;
    let g = n
        .gamma
        .iter()
        .map(|g| g.unsigned_abs() as u128)
        .max()
        .unwrap_or(0);
    let b = n
        .beta
        .iter()
        .map(|b| b.unsigned_abs() as u128)
        .max()
        .unwrap_or(0);
    // |d·x - s|·r ≤ sqrt(d·V)·2^R / sqrt(V) = sqrt(d)·2^R.
    let sqrt_d = (d as f64).sqrt().ceil() as u128;
    let bound = g * sqrt_d * (1u128 << RSQRT_BITS) + (b << shift);
    RescaleParams {
        multiplier: 1,
        shift,
        min: ACT.0,
        max: ACT.1,
        acc_bits: bits_of(bound) + 1,
    }
}

fn int(v: &Value<Fr>) -> Value<i128> {
    v.map(|f| fr_to_i128(&f).unwrap_or(0))
}

impl NormConfig {
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        main: &[Column<Advice>],
        fixed: &[Column<Fixed>],
    ) -> Self {
        let cfg = Self {
            cols: std::array::from_fn(|i| main[i]),
            f: std::array::from_fn(|i| fixed[i]),
            q_stats: meta.selector(),
            q_value: meta.selector(),
        };
        let two_r = Expression::Constant(Fr::from(2).pow_vartime([2 * RSQRT_BITS as u64]));
        meta.create_gate("layernorm stats", |m| {
            let [s, q, r, d1, d2] = cfg.cols.map(|c| m.query_advice(c, Rotation::cur()));
            let [d, eps, _] = cfg.f.map(|c| m.query_fixed(c, Rotation::cur()));
            let sel = m.query_selector(cfg.q_stats);
            let one = Expression::Constant(Fr::ONE);
            let v = d * q - s.clone() * s + eps;
            let r1 = r.clone() + one.clone();
            vec![
                sel.clone() * (d1 - (two_r.clone() - r.clone() * r * v.clone())),
                sel * (d2 - (r1.clone() * r1 * v - two_r.clone() - one)),
            ]
        });
        meta.create_gate("layernorm value", |m| {
            let [x, s, r, acc, _] = cfg.cols.map(|c| m.query_advice(c, Rotation::cur()));
            let [gd, g, b] = cfg.f.map(|c| m.query_fixed(c, Rotation::cur()));
            let sel = m.query_selector(cfg.q_value);
            vec![sel * (acc - (gd * x * r.clone() - g * s * r + b))]
        });
        cfg
    }

    /// LayerNorm of `x`; `r_fault` is added to the inverse square root (tests).
    pub fn assign(
        &self,
        ctx: &mut Ctx,
        chips: &NormChips,
        n: &Norm,
        frac_bits: u32,
        x: &[Wire],
        r_fault: i128,
    ) -> Result<Vec<Wire>, Error> {
        let d = x.len();
        let terms: Vec<Term> = x.iter().map(Term::Copy).collect();
        let (_, s) = chips.dot.assign(ctx, &vec![Fr::ONE; d], &terms, Fr::ZERO)?;
        let xs: Vec<Option<&Wire>> = x.iter().map(Some).collect();
        let q = chips.adot.assign(ctx, &xs, &xs)?;
        let (sv, qv) = (int(&s.value), int(&q.value));
        let big_v = sv
            .zip(qv)
            .map(|(s, q)| d as i128 * q - s * s + n.eps as i128);
        let r = big_v.map(|v| if v > 0 { rsqrt(v) + r_fault } else { 0 });
        let two_r = 1i128 << (2 * RSQRT_BITS);
        let d1 = big_v.zip(r).map(|(v, r)| two_r - r * r * v);
        let d2 = big_v.zip(r).map(|(v, r)| (r + 1) * (r + 1) * v - two_r - 1);
        let row = ctx.row;
        ctx.enable(&self.q_stats, row)?;
        ctx.fixed(self.f[0], row, Fr::from(d as u64));
        ctx.fixed(self.f[1], row, fr_from_i64(n.eps));
        let s_cell = ctx.copy(self.cols[0], row, &s);
        ctx.copy(self.cols[1], row, &q);
        let r_cell = ctx.assign(self.cols[2], row, r.map(fr_from_i128));
        let d1 = ctx.assign(self.cols[3], row, d1.map(fr_from_i128));
        let d2 = ctx.assign(self.cols[4], row, d2.map(fr_from_i128));
        ctx.row += 1;
        let (r_bits, slack_bits) = stat_bits(d);
        chips.range.check(ctx, &r_cell, r_bits, 0)?;
        chips.range.check(ctx, &d1, slack_bits, 0)?;
        chips.range.check(ctx, &d2, slack_bits, 0)?;

        let p = value_rescale(n, frac_bits);
        let mut out = Vec::with_capacity(d);
        for (c, xc) in x.iter().enumerate() {
            let row = ctx.row;
            ctx.enable(&self.q_value, row)?;
            let g = n.gamma[c];
            let b = (n.beta[c] as i128) << p.shift;
            ctx.fixed(self.f[0], row, fr_from_i64(g * d as i64));
            ctx.fixed(self.f[1], row, fr_from_i64(g));
            ctx.fixed(self.f[2], row, fr_from_i128(b));
            ctx.copy(self.cols[0], row, xc);
            ctx.copy(self.cols[1], row, &s_cell);
            ctx.copy(self.cols[2], row, &r_cell);
            let acc = int(&xc.value)
                .zip(sv)
                .zip(r)
                .map(|((x, s), r)| g as i128 * (d as i128 * x - s) * r + b);
            let acc = ctx.assign(self.cols[3], row, acc.map(fr_from_i128));
            ctx.row += 1;
            out.push(chips.rescale.assign(ctx, chips.range, &acc, &p)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpt::reference::layernorm;
    use crate::gpt::toy::toy;
    use crate::halo2::chips::harness::{cells, fails, passes};
    use crate::halo2::generation::config::GenConfig;

    /// LayerNorm of the toy model's first block on fixed inputs, outputs pinned to the reference.
    fn layout(
        x: [i64; 8],
        r_fault: i128,
    ) -> impl Fn(&GenConfig, &mut Ctx) -> Result<(), Error> + Clone + Send + Sync {
        move |cfg, ctx| {
            let m = toy(7);
            let n = &m.blocks[0].ln1;
            let xw: Vec<Wire> = (0..x.len())
                .map(|i| ctx.assign(cfg.base.main[9], i, Value::known(fr_from_i64(x[i]))))
                .collect();
            ctx.row = x.len();
            let b = &cfg.base;
            let chips = NormChips {
                dot: &b.dot,
                adot: &cfg.adot,
                range: &b.range,
                rescale: &b.rescale,
            };
            let out = cfg.norm.assign(ctx, &chips, n, m.frac_bits, &xw, r_fault)?;
            for (o, want) in out.iter().zip(layernorm(n, m.frac_bits, &x)) {
                ctx.constrain_constant(o.cell, fr_from_i64(want))?;
            }
            Ok(())
        }
    }

    const X: [i64; 8] = [-300, 120, 7, 0, 551, -3, 2100, -8000];

    #[test]
    fn honest_norm_passes_and_a_wrong_root_fails() {
        passes(layout(X, 0));
        passes(layout([5; 8], 0));
        fails(layout(X, 1));
        fails(layout(X, -1));
    }

    #[test]
    fn every_cell_is_bound() {
        assert!(cells(layout(X, 0), "layernorm") > 8 * 10);
        cells(layout([5; 8], 0), "layernorm of a constant");
    }
}
