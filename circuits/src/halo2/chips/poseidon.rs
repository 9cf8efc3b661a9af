//! The circom Poseidon permutation (width 5, x^5) as a chip: one row per round. The state sits in
//! five columns and the squares `(s_j + rc_j)^2` in the other five, which keeps every gate at
//! degree 4; round constants are fixed columns, the MDS matrix is in the gate.

use halo2_proofs::circuit::Value;
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Expression, Fixed, Selector};
use halo2_proofs::poly::Rotation;
use halo2curves::ff::Field;

use crate::halo2::config::{FIXED_WIDTH, MAIN_WIDTH};
use crate::halo2::ctx::{Ctx, Wire};
use crate::poseidon::{round, spec, RATE, WIDTH};
use crate::Fr;

#[derive(Debug, Clone)]
pub struct PoseidonConfig {
    state: [Column<Advice>; WIDTH],
    square: [Column<Advice>; WIDTH],
    rc: [Column<Fixed>; WIDTH],
    q_full: Selector,
    q_partial: Selector,
}

/// Main-lane rows of one permutation.
pub fn rows_per_hash() -> usize {
    spec().rounds() + 1
}

impl PoseidonConfig {
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        main: &[Column<Advice>; MAIN_WIDTH],
        fixed: &[Column<Fixed>; FIXED_WIDTH],
    ) -> Self {
        let cfg = Self {
            state: std::array::from_fn(|i| main[i]),
            square: std::array::from_fn(|i| main[WIDTH + i]),
            rc: std::array::from_fn(|i| fixed[i]),
            q_full: meta.selector(),
            q_partial: meta.selector(),
        };
        let mds = spec().mds;
        for (name, sel, full) in [
            ("poseidon full", cfg.q_full, true),
            ("poseidon partial", cfg.q_partial, false),
        ] {
            meta.create_gate(name, |m| {
                let q = m.query_selector(sel);
                let pre: Vec<Expression<Fr>> = (0..WIDTH)
                    .map(|j| {
                        m.query_advice(cfg.state[j], Rotation::cur())
                            + m.query_fixed(cfg.rc[j], Rotation::cur())
                    })
                    .collect();
                let sq: Vec<Expression<Fr>> = (0..WIDTH)
                    .map(|j| m.query_advice(cfg.square[j], Rotation::cur()))
                    .collect();
                let boxed: Vec<Expression<Fr>> = (0..WIDTH)
                    .map(|j| {
                        if full || j == 0 {
                            pre[j].clone() * sq[j].clone() * sq[j].clone()
                        } else {
                            pre[j].clone()
                        }
                    })
                    .collect();
                let mut out = Vec::new();
                for j in 0..WIDTH {
                    if full || j == 0 {
                        out.push(q.clone() * (sq[j].clone() - pre[j].clone() * pre[j].clone()));
                    }
                }
                for (i, row) in mds.iter().enumerate() {
                    let next = m.query_advice(cfg.state[i], Rotation::next());
                    let mixed = (0..WIDTH).fold(Expression::Constant(Fr::ZERO), |s, j| {
                        s + Expression::Constant(row[j]) * boxed[j].clone()
                    });
                    out.push(q.clone() * (next - mixed));
                }
                out
            });
        }
        cfg
    }

    /// `Poseidon(inputs)`; a `None` input is the constant 0.
    pub fn hash(&self, ctx: &mut Ctx, inputs: [Option<&Wire>; RATE]) -> Result<Wire, Error> {
        self.hash_with(ctx, inputs, |_, _| {})
    }

    /// As [`Self::hash`], with `adjust(round, state)` able to corrupt the witness (tests).
    pub(crate) fn hash_with(
        &self,
        ctx: &mut Ctx,
        inputs: [Option<&Wire>; RATE],
        adjust: impl Fn(usize, &mut [Fr; WIDTH]),
    ) -> Result<Wire, Error> {
        let spec = spec();
        let start = ctx.row;
        ctx.constant(self.state[0], start, Fr::ZERO)?;
        for (i, input) in inputs.iter().enumerate() {
            match input {
                Some(w) => ctx.copy(self.state[i + 1], start, w),
                None => ctx.constant(self.state[i + 1], start, Fr::ZERO)?,
            };
        }
        let mut state: Value<[Fr; WIDTH]> = Value::known([Fr::ZERO; WIDTH]);
        for (i, input) in inputs.iter().enumerate() {
            if let Some(w) = input {
                state = state.zip(w.value).map(|(mut s, v)| {
                    s[i + 1] = v;
                    s
                });
            }
        }
        let mut out = None;
        for r in 0..spec.rounds() {
            let row = start + r;
            let full = spec.is_full(r);
            ctx.enable(if full { &self.q_full } else { &self.q_partial }, row)?;
            for j in 0..WIDTH {
                ctx.fixed(self.rc[j], row, spec.ark[r][j]);
                // A partial round reads only lane 0's square: the other square cells stay
                // unassigned (no gate reads them), rather than witness cells nothing binds.
                if full || j == 0 {
                    let sq = state.map(|s| (s[j] + spec.ark[r][j]).square());
                    ctx.assign(self.square[j], row, sq);
                }
            }
            state = state.map(|s| {
                let mut n = round(spec, r, &s);
                adjust(r, &mut n);
                n
            });
            for j in 0..WIDTH {
                let w = ctx.assign(self.state[j], row + 1, state.map(|s| s[j]));
                if j == 0 {
                    out = Some(w);
                }
            }
        }
        ctx.row += rows_per_hash();
        Ok(out.expect("at least one round"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::halo2::chips::harness::{cells, fails, passes};
    use crate::poseidon::hash;

    fn layout(
        bad_round: Option<usize>,
    ) -> impl Fn(&crate::halo2::chips::harness::Config, &mut Ctx) -> Result<(), Error> + Clone {
        move |cfg, ctx| {
            let ins: Vec<Wire> = (0..3u64)
                .map(|i| ctx.assign(cfg.base.main[i as usize], 0, Value::known(Fr::from(i + 10))))
                .collect();
            ctx.row = 1;
            let out = cfg.base.poseidon.hash_with(
                ctx,
                [Some(&ins[0]), Some(&ins[1]), Some(&ins[2]), None],
                |r, s| {
                    if Some(r) == bad_round {
                        s[1] += Fr::ONE;
                    }
                },
            )?;
            if bad_round.is_none() {
                let want = hash(&[Fr::from(10), Fr::from(11), Fr::from(12), Fr::ZERO]);
                out.value.assert_if_known(|v| *v == want);
            }
            Ok(())
        }
    }

    #[test]
    fn honest_permutation_matches_native_hash() {
        passes(layout(None));
    }

    #[test]
    fn corrupted_state_fails_in_full_and_partial_rounds() {
        fails(layout(Some(0)));
        fails(layout(Some(30)));
        fails(layout(Some(spec().rounds() - 1)));
    }

    #[test]
    fn every_cell_is_bound() {
        assert!(cells(layout(None), "poseidon") > 3 * spec().rounds());
    }
}
