//! Matrix products proven by a random-challenge check (Freivalds) instead of product by product:
//! a constant matrix applied at many positions, `y_l = W·x_l + b` ([`weights`]: a projection at
//! every token, a dense layer of every batch row), and a product of two computed matrices,
//! `Y = A·Bᵀ` ([`matmul`]: attention's `q·kᵀ` and `p·v`).
//!
//! In the first phase the outputs are free cells, laid out with copies of the inputs entry by
//! entry: each entry's values at the `L` positions of the fold on consecutive rows of the main
//! lane. After the prover has committed every first-phase cell, the transcript yields the
//! challenge `β`, and the second phase folds every entry down its rows by Horner's rule on the
//! challenge lane: `a = chain · β · a(prev) + v`, so the last row holds `Σ_l β^(L-1-l) · v_l`.
//! One product over the folded values, its outputs copy-constrained to the folded outputs, then
//! proves every position at once: `W·x̃ + σ·b = ỹ` (σ the fold of the constant 1), or
//! `A_r · b̃ = ỹ_r` for each row `r` of `A`.
//!
//! Sound because the fold gate and the product gates determine every second-phase cell, so a
//! check holds exactly when `Σ_l β^(L-1-l) · d_l = 0` for the errors `d_l` of one output at the
//! `L` positions (`d_l = y_l - W·x_l - b`, or `Y[r][l] - A_r·B_l`). The `d_l` are fixed by the
//! first-phase commitments before `β` is drawn (Fiat–Shamir over them): if some output is wrong,
//! its check is a non-zero polynomial of degree at most `L - 1` in `β`, which vanishes at a
//! random `β` with probability at most `(L - 1) / r`, `r > 2^253` the field's order. Over every
//! check of a circuit (fewer than its `2^k ≤ 2^26` rows) the error is below `2^-227`, and a
//! prover grinding `q` transcripts gains at most a factor `q`. A value written into a first-phase
//! cell after the challenge is not what was committed (halo2 commits each phase's columns at
//! `next_phase`), so it cannot fix a wrong output up; the tests show both.

pub mod matmul;
pub mod weights;

use halo2_proofs::circuit::Value;
use halo2_proofs::plonk::{
    Advice, Challenge, Column, ConstraintSystem, Error, Expression, FirstPhase, Fixed, SecondPhase,
    Selector,
};
use halo2_proofs::poly::Rotation;
use halo2curves::ff::Field;

use super::matvec::MatvecConfig;
use crate::halo2::config::MAIN_WIDTH;
use crate::halo2::ctx::{Ctx, Wire};
use crate::Fr;

/// Columns of the challenge lane, one per main-lane column.
pub const WIDTH: usize = MAIN_WIDTH;
/// Pairs a row of the product of a first-phase row with a folded vector.
pub const DOT: usize = WIDTH - 1;

#[derive(Debug, Clone)]
pub struct FreivaldsConfig {
    /// The main lane: the folded values, in the first phase.
    main: [Column<Advice>; WIDTH],
    /// The challenge lane: the accumulators, in the second phase.
    lane: [Column<Advice>; WIDTH],
    /// 0 on an entry's first row, 1 below it.
    chain: Column<Fixed>,
    q: Selector,
    /// `acc = chain · acc(prev) + Σ_i main_i · lane_i`, the accumulator in the lane's last column.
    q_dot: Selector,
    beta: Challenge,
    /// `W·x̃ + σ·b` on the challenge lane.
    product: MatvecConfig,
}

/// A product claimed in the first phase, checked against the challenge at the end.
#[derive(Debug, Clone)]
pub(crate) enum Claim {
    Weights(weights::Claim),
    Matmul(matmul::Claim),
}

/// A deliberate fault, for the negative tests.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fault {
    /// Output `output` of position 0 is off by `delta`.
    pub output: usize,
    pub delta: Fr,
    /// After the challenge, output `output` of this position is rewritten to hide the error
    /// from the fold.
    pub hide: Option<usize>,
}

/// One first-phase cell of a fold.
#[derive(Debug, Clone, Copy)]
enum Entry<'w> {
    /// A copy of an input.
    Copy(&'w Wire),
    /// A claimed output: a free cell the check alone binds.
    Free(Value<Fr>),
}

/// The first phase of a fold as laid out: `values[l][e]` on main row
/// `start + e / WIDTH · L + l`, column `e % WIDTH`.
#[derive(Debug, Clone)]
struct Fold {
    start: usize,
    values: Vec<Vec<Value<Fr>>>,
}

/// Main-lane rows of a fold of `entries` values at `len` positions.
fn fold_rows(entries: usize, len: usize) -> usize {
    entries.div_ceil(WIDTH) * len
}

impl FreivaldsConfig {
    /// The gates on `main` and a second-phase lane of its own; the weight product on `pool`
    /// (the matvec chip's fixed columns), `pool[0]` doubling as the chain flag.
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        main: &[Column<Advice>],
        pool: &[Column<Fixed>],
    ) -> Self {
        let main: [Column<Advice>; WIDTH] = main
            .get(..WIDTH)
            .and_then(|m| m.try_into().ok())
            .expect("the challenge check needs the standard main lane");
        let beta = meta.challenge_usable_after(FirstPhase);
        let lane: [Column<Advice>; WIDTH] =
            std::array::from_fn(|_| meta.advice_column_in(SecondPhase));
        for c in lane {
            meta.enable_equality(c);
        }
        let cfg = Self {
            main,
            lane,
            chain: pool[0],
            q: meta.selector(),
            q_dot: meta.selector(),
            beta,
            product: MatvecConfig::configure(meta, &lane, pool),
        };
        meta.create_gate("fold", |m| {
            let q = m.query_selector(cfg.q);
            let chain = m.query_fixed(cfg.chain, Rotation::cur());
            let beta = m.query_challenge(cfg.beta);
            (0..WIDTH)
                .map(|c| {
                    let a = m.query_advice(cfg.lane[c], Rotation::cur());
                    let prev = m.query_advice(cfg.lane[c], Rotation::prev());
                    let v = m.query_advice(cfg.main[c], Rotation::cur());
                    q.clone() * (a - chain.clone() * beta.clone() * prev - v)
                })
                .collect::<Vec<Expression<Fr>>>()
        });
        meta.create_gate("folded dot", |m| {
            let q = m.query_selector(cfg.q_dot);
            let chain = m.query_fixed(cfg.chain, Rotation::cur());
            let acc = m.query_advice(cfg.lane[DOT], Rotation::cur());
            let prev = m.query_advice(cfg.lane[DOT], Rotation::prev());
            let sum = (0..DOT).fold(Expression::Constant(Fr::ZERO), |s, i| {
                s + m.query_advice(cfg.main[i], Rotation::cur())
                    * m.query_advice(cfg.lane[i], Rotation::cur())
            });
            vec![q * (acc - chain * prev - sum)]
        });
        cfg
    }

    /// Lays the first phase of a fold at the cursor: `positions[l][e]` on the rows of entry
    /// `e`, the cells past the last entry pinned to 0 (a free one would feed its accumulator).
    /// Returns the free cells, position by position.
    fn lay_fold(
        &self,
        ctx: &mut Ctx,
        positions: &[Vec<Entry>],
    ) -> Result<(Fold, Vec<Vec<Wire>>), Error> {
        let (len, entries, start) = (positions.len(), positions[0].len(), ctx.row);
        let mut free: Vec<Vec<Wire>> = vec![Vec::new(); len];
        for e0 in (0..entries).step_by(WIDTH) {
            for (l, position) in positions.iter().enumerate() {
                let row = ctx.row;
                ctx.enable(&self.q, row)?;
                ctx.fixed(self.chain, row, if l == 0 { Fr::ZERO } else { Fr::ONE });
                for (c, col) in self.main.iter().enumerate() {
                    match position.get(e0 + c) {
                        Some(Entry::Copy(w)) => {
                            ctx.copy(*col, row, w);
                        }
                        Some(Entry::Free(v)) => free[l].push(ctx.assign(*col, row, *v)),
                        None => {
                            ctx.zero(*col, row)?;
                        }
                    }
                }
                ctx.row += 1;
            }
        }
        let values = positions
            .iter()
            .map(|p| {
                p.iter()
                    .map(|e| match e {
                        Entry::Copy(w) => w.value,
                        Entry::Free(v) => *v,
                    })
                    .collect()
            })
            .collect();
        Ok((Fold { start, values }, free))
    }

    /// The second phase of `fold`: the accumulators beside its rows. Returns the folded value of
    /// every entry (the accumulator on its last row). A `fault` with a hiding position rewrites
    /// that first-phase cell first, as a prover who saw `β` would.
    fn fold(
        &self,
        ctx: &mut Ctx,
        fold: &Fold,
        beta: Value<Fr>,
        fault: Option<(Fault, usize)>,
    ) -> Result<Vec<Wire>, Error> {
        let (len, entries) = (fold.values.len(), fold.values[0].len());
        let mut values = fold.values.clone();
        let mut known = false;
        beta.map(|_| known = true);
        if let (
            Some((
                Fault {
                    delta,
                    hide: Some(l),
                    ..
                },
                e,
            )),
            true,
        ) = (fault, known)
        {
            // β^(L-1)·δ + β^(L-1-l)·ε = 0 hides δ in the fold: ε = -δ·β^l
            let hide = beta.map(|b| -delta * b.pow([l as u64]));
            values[l][e] = values[l][e] + hide;
            let row = fold.start + e / WIDTH * len + l;
            ctx.assign(self.main[e % WIDTH], row, values[l][e]);
        }
        let mut folded: Vec<Wire> = Vec::with_capacity(entries);
        for e0 in (0..entries).step_by(WIDTH) {
            let base = fold.start + e0 / WIDTH * len;
            let mut acc = [Value::known(Fr::ZERO); WIDTH];
            let mut last: Vec<Wire> = Vec::new();
            for (l, position) in values.iter().enumerate() {
                last.clear();
                for (c, a) in acc.iter_mut().enumerate() {
                    let v = position.get(e0 + c).copied();
                    let v = v.unwrap_or(Value::known(Fr::ZERO));
                    *a = if l == 0 { v } else { *a * beta + v };
                    last.push(ctx.assign(self.lane[c], base + l, *a));
                }
            }
            folded.extend(last.into_iter().take(entries - e0));
        }
        Ok(folded)
    }

    /// Ends the first phase and checks every claim in `ctx` against the challenge.
    pub fn finish(&self, ctx: &mut Ctx) -> Result<(), Error> {
        ctx.next_phase();
        let beta = ctx.challenge(self.beta);
        for claim in std::mem::take(&mut ctx.claims) {
            match claim {
                Claim::Weights(c) => self.check_weights(ctx, &c, beta)?,
                Claim::Matmul(c) => self.check_matmul(ctx, &c, beta)?,
            }
        }
        Ok(())
    }
}
