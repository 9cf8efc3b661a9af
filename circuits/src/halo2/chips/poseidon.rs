//! The circom Poseidon permutation (width 5, x^5) as a chip: one row per round on the standard
//! main lane, two on the narrow one. A round's ten cells are the state and the squares
//! `(s_j + rc_j)^2`, which keep every gate at degree 4, laid row by row over the lane; the next
//! round's state starts the next round's rows. Round constants are fixed columns, the MDS
//! matrix is in the gate.

use halo2_proofs::circuit::Value;
use halo2_proofs::plonk::{
    Advice, Column, ConstraintSystem, Error, Expression, Fixed, Selector, VirtualCells,
};
use halo2_proofs::poly::Rotation;
use halo2curves::ff::Field;

use crate::halo2::config::place;
use crate::halo2::ctx::{Ctx, Wire};
use crate::poseidon::{round, spec, RATE, WIDTH};
use crate::Fr;

#[derive(Debug, Clone)]
pub struct PoseidonConfig {
    /// Column and row offset of each state cell.
    state: [(Column<Advice>, usize); WIDTH],
    /// Column and row offset of each square.
    square: [(Column<Advice>, usize); WIDTH],
    /// Rows of one round.
    stride: usize,
    rc: [Column<Fixed>; WIDTH],
    q_full: Selector,
    q_partial: Selector,
}

impl PoseidonConfig {
    /// The chip on `main` (at least [`WIDTH`] columns) and the first [`WIDTH`] of `fixed`.
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        main: &[Column<Advice>],
        fixed: &[Column<Fixed>],
    ) -> Self {
        let w = main.len();
        assert!(w >= WIDTH, "the Poseidon state needs {WIDTH} columns");
        let cfg = Self {
            state: std::array::from_fn(|j| place(main, j)),
            square: std::array::from_fn(|j| place(main, WIDTH + j)),
            stride: (2 * WIDTH).div_ceil(w),
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
                let at = |m: &mut VirtualCells<Fr>, (col, row): (Column<Advice>, usize)| {
                    m.query_advice(col, Rotation(row as i32))
                };
                let pre: Vec<Expression<Fr>> = (0..WIDTH)
                    .map(|j| at(m, cfg.state[j]) + m.query_fixed(cfg.rc[j], Rotation::cur()))
                    .collect();
                let sq: Vec<Expression<Fr>> = (0..WIDTH).map(|j| at(m, cfg.square[j])).collect();
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
                    let (col, first) = cfg.state[i];
                    let next = at(m, (col, first + cfg.stride));
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

    /// Main-lane rows of one permutation.
    pub fn rows_per_hash(&self) -> usize {
        spec().rounds() * self.stride + 1
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
        let cell = |(col, at): (Column<Advice>, usize), round: usize| (col, start + round + at);
        let (col, row) = cell(self.state[0], 0);
        ctx.constant(col, row, Fr::ZERO)?;
        for (i, input) in inputs.iter().enumerate() {
            let (col, row) = cell(self.state[i + 1], 0);
            match input {
                Some(w) => ctx.copy(col, row, w),
                None => ctx.constant(col, row, Fr::ZERO)?,
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
            let (base, row) = (r * self.stride, start + r * self.stride);
            let full = spec.is_full(r);
            ctx.enable(if full { &self.q_full } else { &self.q_partial }, row)?;
            for j in 0..WIDTH {
                ctx.fixed(self.rc[j], row, spec.ark[r][j]);
                // A partial round reads only lane 0's square: the other square cells stay
                // unassigned (no gate reads them), rather than witness cells nothing binds.
                if full || j == 0 {
                    let sq = state.map(|s| (s[j] + spec.ark[r][j]).square());
                    let (col, at) = cell(self.square[j], base);
                    ctx.assign(col, at, sq);
                }
            }
            state = state.map(|s| {
                let mut n = round(spec, r, &s);
                adjust(r, &mut n);
                n
            });
            for j in 0..WIDTH {
                let (col, at) = cell(self.state[j], base + self.stride);
                let w = ctx.assign(col, at, state.map(|s| s[j]));
                if j == 0 {
                    out = Some(w);
                }
            }
        }
        ctx.row += self.rows_per_hash();
        Ok(out.expect("at least one round"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // Every test runs on the standard lane and on the narrow one.
    use crate::halo2::chips::harness::{self, narrow, wide, widest, Config};
    use crate::halo2::chips::harness::{
        fails_on_every_lane as fails, passes_on_every_lane as passes,
    };
    use crate::halo2::chips::table::Tables;
    use crate::poseidon::hash;

    fn layout(
        bad_round: Option<usize>,
    ) -> impl Fn(&Config, &mut Ctx) -> Result<(), Error> + Clone + Send + Sync {
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
        for shape in [wide(), narrow(), widest()] {
            let n = harness::cells_in(layout(None), &Tables::default(), shape, "poseidon");
            assert!(n > 3 * spec().rounds());
        }
    }
}
