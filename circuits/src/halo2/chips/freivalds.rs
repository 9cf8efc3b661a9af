//! Products with one constant matrix at many positions, `y_l = W·x_l + b` for `l < L` (a
//! projection at every token, a dense layer of every batch row), proven by a random-challenge
//! check instead of `L` matrix-vector products.
//!
//! In the first phase the outputs `y_l` are free cells, laid out with copies of the inputs (and
//! of the constant 1) entry by entry: each entry's `L` values on consecutive rows of the main
//! lane. After the prover has committed every first-phase cell, the transcript yields the
//! challenge `β`, and the second phase folds every entry down its rows by Horner's rule on the
//! challenge lane: `a = chain · β · a(prev) + v`, so the last row holds
//! `x̃ = Σ_l β^(L-1-l) · x_l`, `ỹ` likewise and `σ = Σ_l β^(L-1-l)` from the ones. One product
//! `W·x̃ + σ·b` on the matvec chip over the challenge lane, its outputs copy-constrained to `ỹ`,
//! then proves every position at once.
//!
//! Sound because the fold gate and the matvec chip determine every second-phase cell, so the
//! check holds exactly when `Σ_l β^(L-1-l) · d_l = 0` for `d_l = y_l - W·x_l - b`. The `d_l`
//! are fixed by the first-phase commitments before `β` is drawn (Fiat–Shamir over them): if some
//! `y_l` is wrong, some entry of that sum is a non-zero polynomial of degree at most `L - 1` in
//! `β`, which vanishes at a random `β` with probability at most `(L - 1) / r`, `r > 2^253` the
//! field's order. Over every claim of a circuit (`Σ L` below its `2^k ≤ 2^26` rows) the error is
//! below `2^-227`, and a prover grinding `q` transcripts gains at most a factor `q`. A value
//! written into a first-phase cell after the challenge is not what was committed (halo2 commits
//! each phase's columns at `next_phase`), so it cannot fix a wrong `y` up; the tests show both.

use halo2_proofs::circuit::Value;
use halo2_proofs::plonk::{
    Advice, Challenge, Column, ConstraintSystem, Error, Expression, FirstPhase, Fixed, SecondPhase,
    Selector,
};
use halo2_proofs::poly::Rotation;
use halo2curves::ff::Field;

use super::matvec::{self, Layer, MatvecConfig};
use crate::field::fr_from_i64;
use crate::halo2::config::MAIN_WIDTH;
use crate::halo2::ctx::{Ctx, Wire};
use crate::Fr;

/// Columns of the challenge lane, one per main-lane column.
pub const WIDTH: usize = MAIN_WIDTH;

#[derive(Debug, Clone)]
pub struct FreivaldsConfig {
    /// The main lane: the folded values, in the first phase.
    main: [Column<Advice>; WIDTH],
    /// The challenge lane: the accumulators, in the second phase.
    lane: [Column<Advice>; WIDTH],
    /// 0 on an entry's first row, 1 below it.
    chain: Column<Fixed>,
    q: Selector,
    beta: Challenge,
    /// `W·x̃ + σ·b` on the challenge lane.
    product: MatvecConfig,
}

/// One claimed product, its first phase laid out: `L` positions of `n` inputs and `m` outputs.
#[derive(Debug, Clone)]
pub struct Claim {
    /// First main-lane row of the fold.
    start: usize,
    /// Every position's entries: inputs, outputs, then the 1 (values as laid out).
    values: Vec<Vec<Value<Fr>>>,
    n: usize,
    weights: Vec<i64>,
    bias: Vec<i64>,
    /// The negative tests' fault, whose hiding step comes after the challenge.
    fault: Option<Fault>,
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

/// Rows of the first-phase fold of `len` positions of `n` inputs and `m` outputs.
pub fn fold_rows(n: usize, m: usize, len: usize) -> usize {
    (n + m + 1).div_ceil(WIDTH) * len
}

/// Rows of the one product at the end.
pub fn product_rows(n: usize, m: usize) -> usize {
    m.div_ceil(matvec::B) * (1 + n.div_ceil(matvec::B))
}

impl FreivaldsConfig {
    /// The gate on `main` and a second-phase lane of its own; the product's weights on `pool`
    /// (the matvec chip's fixed columns), `pool[0]` doubling as the fold's chain flag.
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        main: &[Column<Advice>; MAIN_WIDTH],
        pool: &[Column<Fixed>],
    ) -> Self {
        let beta = meta.challenge_usable_after(FirstPhase);
        let lane: [Column<Advice>; WIDTH] =
            std::array::from_fn(|_| meta.advice_column_in(SecondPhase));
        for c in lane {
            meta.enable_equality(c);
        }
        let cfg = Self {
            main: *main,
            lane,
            chain: pool[0],
            q: meta.selector(),
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
        cfg
    }

    /// The outputs `y_l = W·x_l + b` of every position `l` as free first-phase cells, laid out
    /// with the fold's other first-phase cells; the check waits in `ctx` for [`Self::finish`].
    /// `weights` is `m × n`, `one` a cell pinned to 1.
    pub fn defer(
        &self,
        ctx: &mut Ctx,
        xs: &[Vec<&Wire>],
        weights: &[Vec<i64>],
        bias: &[i64],
        one: &Wire,
    ) -> Result<Vec<Vec<Wire>>, Error> {
        self.defer_with(ctx, xs, weights, bias, one, None)
    }

    /// As [`Self::defer`], with a fault.
    pub(crate) fn defer_with(
        &self,
        ctx: &mut Ctx,
        xs: &[Vec<&Wire>],
        weights: &[Vec<i64>],
        bias: &[i64],
        one: &Wire,
        fault: Option<Fault>,
    ) -> Result<Vec<Vec<Wire>>, Error> {
        let (n, m) = (xs[0].len(), weights.len());
        let w: Vec<Vec<Fr>> = weights
            .iter()
            .map(|r| r.iter().map(|k| fr_from_i64(*k)).collect())
            .collect();
        let values: Vec<Vec<Value<Fr>>> = xs
            .iter()
            .enumerate()
            .map(|(l, x)| {
                assert_eq!(x.len(), n, "every position has the block's inputs");
                let y = w.iter().zip(bias).enumerate().map(|(i, (row, b))| {
                    let dot = row
                        .iter()
                        .zip(x.iter())
                        .fold(Value::known(fr_from_i64(*b)), |s, (k, x)| {
                            s + x.value * Value::known(*k)
                        });
                    match fault {
                        Some(f) if l == 0 && f.output == i => dot + Value::known(f.delta),
                        _ => dot,
                    }
                });
                x.iter()
                    .map(|x| x.value)
                    .chain(y)
                    .chain([Value::known(Fr::ONE)])
                    .collect()
            })
            .collect();
        let (len, start) = (xs.len(), ctx.row);
        let mut ys: Vec<Vec<Option<Wire>>> = vec![vec![None; m]; len];
        for e0 in (0..n + m + 1).step_by(WIDTH) {
            for (l, x) in xs.iter().enumerate() {
                let row = ctx.row;
                ctx.enable(&self.q, row)?;
                ctx.fixed(self.chain, row, if l == 0 { Fr::ZERO } else { Fr::ONE });
                for (c, col) in self.main.iter().enumerate() {
                    let e = e0 + c;
                    if e < n {
                        ctx.copy(*col, row, x[e]);
                    } else if e < n + m {
                        ys[l][e - n] = Some(ctx.assign(*col, row, values[l][e]));
                    } else if e == n + m {
                        ctx.copy(*col, row, one);
                    } else {
                        // a free cell here would feed its accumulator; pinned instead
                        ctx.zero(*col, row)?;
                    }
                }
                ctx.row += 1;
            }
        }
        ctx.claims.push(Claim {
            start,
            values,
            n,
            weights: weights.concat(),
            bias: bias.to_vec(),
            fault,
        });
        Ok(ys
            .into_iter()
            .map(|y| {
                y.into_iter()
                    .map(|w| w.expect("every output laid"))
                    .collect()
            })
            .collect())
    }

    /// Ends the first phase and checks every claim in `ctx` against the challenge: the folds
    /// on the challenge lane beside their first-phase rows, then each claim's product on rows
    /// of its own.
    pub fn finish(&self, ctx: &mut Ctx) -> Result<(), Error> {
        ctx.next_phase();
        let beta = ctx.challenge(self.beta);
        for claim in std::mem::take(&mut ctx.claims) {
            self.check(ctx, &claim, beta)?;
        }
        Ok(())
    }

    fn check(&self, ctx: &mut Ctx, claim: &Claim, beta: Value<Fr>) -> Result<(), Error> {
        let (len, entries, n) = (claim.values.len(), claim.values[0].len(), claim.n);
        let mut values = claim.values.clone();
        let mut known = false;
        beta.map(|_| known = true);
        if let (
            Some(Fault {
                output: i,
                delta,
                hide: Some(l),
            }),
            true,
        ) = (claim.fault, known)
        {
            // β^(L-1)·δ + β^(L-1-l)·ε = 0 hides δ in the fold: ε = -δ·β^l
            let hide = beta.map(|b| -delta * b.pow([l as u64]));
            values[l][n + i] = values[l][n + i] + hide;
            let row = claim.start + (n + i) / WIDTH * len + l;
            ctx.assign(self.main[(n + i) % WIDTH], row, values[l][n + i]);
        }
        let mut folded: Vec<Wire> = Vec::with_capacity(entries);
        for e0 in (0..entries).step_by(WIDTH) {
            let base = claim.start + e0 / WIDTH * len;
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
        let (x, rest) = folded.split_at(n);
        let (y, sigma) = rest.split_at(rest.len() - 1);
        let layer = Layer {
            in_dim: n,
            out_dim: y.len(),
            weights: &claim.weights,
            bias: &claim.bias,
            shift: 0,
        };
        let out = self.product.assign(ctx, &layer, x, None, &sigma[0])?;
        for (o, y) in out.iter().zip(y) {
            ctx.constrain_equal(o.cell, y.cell);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::halo2::chips::harness::Config;
    use crate::halo2::chips::harness::{cells_in, fails_in, passes_in, proves, with_challenge};
    use crate::halo2::chips::table::Tables;

    const N: usize = 7;
    const M: usize = 6;
    const L: usize = 4;

    /// `y_l = W·x_l + b` at four positions of pinned inputs, the outputs left free for the check
    /// alone to bind; `fault` as in [`FreivaldsConfig::defer_with`].
    fn layout(
        fault: Option<(usize, Option<usize>)>,
    ) -> impl Fn(&Config, &mut Ctx) -> Result<(), Error> + Clone + Send + Sync {
        move |cfg, ctx| {
            let main = &cfg.base.main;
            let chip = cfg.base.freivalds.as_ref().expect("configured");
            let w: Vec<Vec<i64>> = (0..M)
                .map(|i| {
                    (0..N)
                        .map(|j| ((i * N + j) as i64 * 37) % 23 - 11)
                        .collect()
                })
                .collect();
            let bias = [5i64, -3, 0, 9, 1, -8];
            let one = ctx.constant(main[0], 0, Fr::ONE)?;
            ctx.row = 1;
            let mut xs: Vec<Vec<Wire>> = Vec::new();
            for l in 0..L {
                let row = ctx.row;
                let x = (0..N)
                    .map(|j| ctx.constant(main[j], row, fr_from_i64((l * 11 + j * 7) as i64 - 30)))
                    .collect::<Result<_, _>>()?;
                xs.push(x);
                ctx.row += 1;
            }
            let refs: Vec<Vec<&Wire>> = xs.iter().map(|x| x.iter().collect()).collect();
            let fault = fault.map(|(output, hide)| Fault {
                output,
                delta: Fr::from(5),
                hide,
            });
            chip.defer_with(ctx, &refs, &w, &bias, &one, fault)?;
            chip.finish(ctx)
        }
    }

    #[test]
    fn honest_products_pass_and_a_wrong_output_fails() {
        passes_in(layout(None), &Tables::default(), with_challenge());
        // output 2 of position 0 off by one, nothing hides it
        fails_in(
            layout(Some((2, None))),
            &Tables::default(),
            with_challenge(),
        );
    }

    #[test]
    fn an_output_fixed_up_after_the_challenge_is_not_what_was_committed() {
        // The fix-up makes the folded sums agree at this β: the mock prover, which does not
        // model the commitment of each phase, accepts it.
        passes_in(
            layout(Some((3, Some(2)))),
            &Tables::default(),
            with_challenge(),
        );
        // A real proof commits the first phase before β is drawn: the rewrite comes too late.
        assert!(proves(layout(None), with_challenge()));
        assert!(!proves(layout(Some((3, Some(2)))), with_challenge()));
    }

    #[test]
    fn every_cell_is_bound() {
        let n = cells_in(
            layout(None),
            &Tables::default(),
            with_challenge(),
            "freivalds",
        );
        assert!(
            n > fold_rows(N, M, L) * WIDTH + product_rows(N, M) * 5,
            "{n}"
        );
    }
}
