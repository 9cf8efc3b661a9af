//! Generation control: which token each position runs, which positions are metered output, and
//! the count `n_out`.
//!
//! - **select**, one row per position: `t = m·p + (1 - m)·g`, the prompt token `p` where the prompt
//!   mask bit `m` is 1, else `g`, the argmax of the previous position.
//! - **meter**, one row per position in a block of their own, carrying `count`, `stopped` and the
//!   client's `cap` (max tokens) down the rows: `is_stop = [t = stop]` and `full = [count = cap]`
//!   by inverses (each pinned to 0 where its input is 0), `alive = (1 - m)·(1 - stopped)·(1 - full)`, `e = alive · t` (the output token or
//!   0), then `count' = count + alive`, `stopped' = stopped + alive · is_stop`, `cap' = cap`. The
//!   row after the last holds `n_out = count`.

use halo2_proofs::circuit::Value;
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Expression, Fixed, Selector};
use halo2_proofs::poly::Rotation;
use halo2curves::ff::Field;

use crate::halo2::ctx::{Ctx, Wire};
use crate::Fr;

#[derive(Debug, Clone)]
pub struct ControlConfig {
    cols: [Column<Advice>; 10],
    stop: Column<Fixed>,
    q_select: Selector,
    q_meter: Selector,
    q_step: Selector,
}

/// One position's inputs to the meter.
pub struct Step<'w> {
    pub mask: &'w Wire,
    pub token: &'w Wire,
}

/// What the meter gives: each position's output token or 0, and `n_out`.
pub struct Metered {
    pub out: Vec<Wire>,
    pub count: Wire,
}

/// Deliberate faults for the negative tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct MeterFault {
    /// Position whose `alive` flag is flipped (its successors follow the flipped value).
    pub flip_alive: Option<usize>,
}

impl ControlConfig {
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        main: &[Column<Advice>],
        stop: Column<Fixed>,
    ) -> Self {
        let cfg = Self {
            cols: std::array::from_fn(|i| main[i]),
            stop,
            q_select: meta.selector(),
            q_meter: meta.selector(),
            q_step: meta.selector(),
        };
        let one = || Expression::Constant(Fr::ONE);
        meta.create_gate("select token", |m| {
            let [mask, p, g, t] =
                [0, 1, 2, 3].map(|i| m.query_advice(cfg.cols[i], Rotation::cur()));
            let q = m.query_selector(cfg.q_select);
            vec![q * (t - (mask.clone() * p + (one() - mask) * g))]
        });
        meta.create_gate("meter", |m| {
            let [mask, t, inv_z, is_stop, count, stopped, cap, inv_w, alive, e] =
                cfg.cols.map(|c| m.query_advice(c, Rotation::cur()));
            let stop = m.query_fixed(cfg.stop, Rotation::cur());
            let q = m.query_selector(cfg.q_meter);
            let z = t.clone() - stop;
            let w = count - cap;
            let not_full = w.clone() * inv_w.clone();
            // Each inverse is pinned to 0 where its input is 0 (the last factor of the second and
            // fourth lines): otherwise any value satisfies the is-zero test there, a free cell.
            vec![
                q.clone() * (is_stop.clone() - (one() - z.clone() * inv_z.clone())),
                q.clone() * is_stop.clone() * z,
                q.clone() * is_stop * inv_z,
                q.clone() * (one() - not_full.clone()) * w,
                q.clone() * (one() - not_full.clone()) * inv_w,
                q.clone() * (alive.clone() - (one() - mask) * (one() - stopped) * not_full),
                q * (e - alive * t),
            ]
        });
        meta.create_gate("meter step", |m| {
            let cur = cfg.cols.map(|c| m.query_advice(c, Rotation::cur()));
            let next = cfg.cols.map(|c| m.query_advice(c, Rotation::next()));
            let (is_stop, count, stopped, cap, alive) = (
                cur[3].clone(),
                cur[4].clone(),
                cur[5].clone(),
                cur[6].clone(),
                cur[8].clone(),
            );
            let q = m.query_selector(cfg.q_step);
            vec![
                q.clone() * (next[4].clone() - count - alive.clone()),
                q.clone() * (next[5].clone() - stopped - alive * is_stop),
                q * (next[6].clone() - cap),
            ]
        });
        cfg
    }

    /// The token a position runs: the prompt token if `mask` is 1, else `generated`.
    pub fn select(
        &self,
        ctx: &mut Ctx,
        mask: &Wire,
        prompt: &Wire,
        generated: &Wire,
    ) -> Result<Wire, Error> {
        let row = ctx.row;
        ctx.enable(&self.q_select, row)?;
        ctx.copy(self.cols[0], row, mask);
        ctx.copy(self.cols[1], row, prompt);
        ctx.copy(self.cols[2], row, generated);
        let t = mask
            .value
            .zip(prompt.value)
            .zip(generated.value)
            .map(|((m, p), g)| if m == Fr::ONE { p } else { g });
        let out = ctx.assign(self.cols[3], row, t);
        ctx.row += 1;
        Ok(out)
    }

    /// The meter block over every position; `zero` is a cell pinned to 0.
    pub fn meter(
        &self,
        ctx: &mut Ctx,
        steps: &[Step],
        cap: &Wire,
        stop: u64,
        zero: &Wire,
        fault: MeterFault,
    ) -> Result<Metered, Error> {
        let inv = |v: Value<Fr>| v.map(|v| v.invert().unwrap_or(Fr::ZERO));
        let stop_fr = Fr::from(stop);
        let mut count = Value::known(Fr::ZERO);
        let mut stopped = Value::known(Fr::ZERO);
        let mut out = Vec::with_capacity(steps.len());
        for (i, s) in steps.iter().enumerate() {
            let row = ctx.row;
            ctx.enable(&self.q_meter, row)?;
            ctx.enable(&self.q_step, row)?;
            ctx.fixed(self.stop, row, stop_fr);
            ctx.copy(self.cols[0], row, s.mask);
            ctx.copy(self.cols[1], row, s.token);
            let z = s.token.value.map(|t| t - stop_fr);
            ctx.assign(self.cols[2], row, inv(z));
            let is_stop = z.map(|z| if z == Fr::ZERO { Fr::ONE } else { Fr::ZERO });
            ctx.assign(self.cols[3], row, is_stop);
            let count_cell = ctx.assign(self.cols[4], row, count);
            let stopped_cell = ctx.assign(self.cols[5], row, stopped);
            if i == 0 {
                ctx.constrain_equal(count_cell.cell, zero.cell);
                ctx.constrain_equal(stopped_cell.cell, zero.cell);
                ctx.copy(self.cols[6], row, cap);
            } else {
                ctx.assign(self.cols[6], row, cap.value);
            }
            let w = count.zip(cap.value).map(|(c, k)| c - k);
            ctx.assign(self.cols[7], row, inv(w));
            let alive = s.mask.value.zip(stopped).zip(w).map(|((m, st), w)| {
                let live = m == Fr::ZERO && st == Fr::ZERO && w != Fr::ZERO;
                let live = live != (fault.flip_alive == Some(i));
                if live {
                    Fr::ONE
                } else {
                    Fr::ZERO
                }
            });
            ctx.assign(self.cols[8], row, alive);
            out.push(ctx.assign(
                self.cols[9],
                row,
                alive.zip(s.token.value).map(|(a, t)| a * t),
            ));
            count = count + alive;
            stopped = stopped + alive.zip(is_stop).map(|(a, s)| a * s);
            ctx.row += 1;
        }
        let row = ctx.row;
        let count = ctx.assign(self.cols[4], row, count);
        ctx.assign(self.cols[5], row, stopped);
        ctx.assign(self.cols[6], row, cap.value);
        ctx.row += 1;
        Ok(Metered { out, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::halo2::chips::harness::Config;
    use crate::halo2::chips::harness::{cells, fails, passes};

    const STOP: u64 = 7;

    /// Select on the first two positions, then the meter over five, its count pinned to `want`.
    fn layout(
        tokens: [u64; 5],
        mask: [u64; 5],
        cap: u64,
        want: u64,
        fault: MeterFault,
    ) -> impl Fn(&Config, &mut Ctx) -> Result<(), Error> + Clone + Send + Sync {
        move |cfg, ctx| {
            let main = &cfg.base.main;
            let zero = ctx.constant(main[0], 0, Fr::ZERO)?;
            let cap = ctx.constant(main[1], 0, Fr::from(cap))?;
            let ms: Vec<Wire> = (0..5)
                .map(|i| ctx.assign(main[2], i, Value::known(Fr::from(mask[i]))))
                .collect();
            let ts: Vec<Wire> = (0..5)
                .map(|i| ctx.assign(main[3], i, Value::known(Fr::from(tokens[i]))))
                .collect();
            ctx.row = 5;
            let picked = cfg.control().select(ctx, &ms[0], &ts[0], &ts[1])?;
            ctx.constrain_constant(picked.cell, Fr::from(tokens[0]))?;
            let other = cfg.control().select(ctx, &zero, &ts[0], &ts[1])?;
            ctx.constrain_constant(other.cell, Fr::from(tokens[1]))?;
            let steps: Vec<Step> = (0..5)
                .map(|i| Step {
                    mask: &ms[i],
                    token: &ts[i],
                })
                .collect();
            let m = cfg.control().meter(ctx, &steps, &cap, STOP, &zero, fault)?;
            ctx.constrain_constant(m.count.cell, Fr::from(want))
        }
    }

    const TOKENS: [u64; 5] = [5, 5, 2, STOP, 3];
    const MASK: [u64; 5] = [1, 1, 0, 0, 0];

    #[test]
    fn counts_up_to_the_stop_token_or_the_cap() {
        let none = MeterFault::default();
        passes(layout(TOKENS, MASK, 4, 2, none));
        passes(layout(TOKENS, MASK, 1, 1, none));
        passes(layout(TOKENS, MASK, 0, 0, none));
        passes(layout([5, 5, 2, 4, 3], MASK, 4, 3, none));
    }

    #[test]
    fn a_flipped_alive_flag_fails() {
        for at in [0, 2, 4] {
            let fault = MeterFault {
                flip_alive: Some(at),
            };
            fails(layout(TOKENS, MASK, 4, 2, fault));
        }
    }

    #[test]
    fn every_cell_is_bound() {
        // A stop token (its inverse pinned to 0) and a full count (likewise), or neither.
        let none = MeterFault::default();
        for (tokens, cap, want) in [(TOKENS, 4, 2), (TOKENS, 1, 1), ([5, 5, 2, 4, 3], 4, 3)] {
            assert!(cells(layout(tokens, MASK, cap, want, none), "control") > 5 * 10);
        }
    }
}
