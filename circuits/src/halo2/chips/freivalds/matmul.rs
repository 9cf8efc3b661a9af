//! A product of two computed matrices, `Y[r][c] = Σ_t A[r][t] · B[c][t]` (attention's `q·kᵀ`
//! with `B = K`, `p·v` with `B = Vᵀ`): the columns `c` are the fold's positions, each folding
//! `Y[·][c]` and `B[c]`, so the second phase holds `ỹ_r = Σ_c β^(C-1-c) · Y[r][c]` and
//! `b̃ = Σ_c β^(C-1-c) · B[c]`; then `A[r] · b̃ = ỹ_r` for every row, nine pairs a row on the
//! folded-dot gate (`A[r]` copied on the main lane in the first phase, `b̃` copied beside it on
//! the challenge lane). `R·C·D` products become `(R + D)·C` folded values and `R·D` products
//! ([`super`] says why this is sound).

use halo2_proofs::circuit::Value;
use halo2_proofs::plonk::Error;
use halo2curves::ff::Field;

use super::{fold_rows, Claim as Any, Entry, Fault, Fold, FreivaldsConfig, DOT};
use crate::halo2::ctx::{Ctx, Wire};
use crate::Fr;

/// One claimed product, its first phase laid out.
#[derive(Debug, Clone)]
pub(crate) struct Claim {
    fold: Fold,
    /// `A`'s values, row by row.
    a: Vec<Vec<Value<Fr>>>,
    /// First row of the folded dots, `⌈D / 9⌉` rows per row of `A`.
    dots: usize,
    fault: Option<Fault>,
}

/// Main-lane rows of the check of an `r × d` by `c × d` product.
pub fn rows(r: usize, c: usize, d: usize) -> usize {
    fold_rows(r + d, c) + r * d.div_ceil(DOT)
}

impl FreivaldsConfig {
    /// `Y[r][c] = A[r] · B[c]` as free first-phase cells, laid out with the fold's and the
    /// folded dots' first-phase cells; the check waits in `ctx` for [`Self::finish`]. Every row
    /// of `a` and `b` has the same length.
    pub fn defer_matmul(
        &self,
        ctx: &mut Ctx,
        a: &[Vec<&Wire>],
        b: &[Vec<&Wire>],
    ) -> Result<Vec<Vec<Wire>>, Error> {
        self.defer_matmul_with(ctx, a, b, None)
    }

    /// As [`Self::defer_matmul`], with a fault on `Y[output][0]`.
    pub(crate) fn defer_matmul_with(
        &self,
        ctx: &mut Ctx,
        a: &[Vec<&Wire>],
        b: &[Vec<&Wire>],
        fault: Option<Fault>,
    ) -> Result<Vec<Vec<Wire>>, Error> {
        let d = a[0].len();
        assert!(a.iter().chain(b).all(|v| v.len() == d), "one inner length");
        let positions: Vec<Vec<Entry>> = b
            .iter()
            .enumerate()
            .map(|(c, bc)| {
                let y = a.iter().enumerate().map(|(r, ar)| {
                    let dot = ar
                        .iter()
                        .zip(bc)
                        .fold(Value::known(Fr::ZERO), |s, (x, y)| s + x.value * y.value);
                    Entry::Free(match fault {
                        Some(f) if c == 0 && f.output == r => dot + Value::known(f.delta),
                        _ => dot,
                    })
                });
                y.chain(bc.iter().map(|w| Entry::Copy(w))).collect()
            })
            .collect();
        let (fold, free) = self.lay_fold(ctx, &positions)?;
        let dots = ctx.row;
        for ar in a {
            for (j, chunk) in ar.chunks(DOT).enumerate() {
                let row = ctx.row;
                ctx.enable(&self.q_dot, row)?;
                ctx.fixed(self.chain, row, if j == 0 { Fr::ZERO } else { Fr::ONE });
                for (i, col) in self.main[..DOT].iter().enumerate() {
                    match chunk.get(i) {
                        Some(w) => ctx.copy(*col, row, w),
                        None => ctx.zero(*col, row)?,
                    };
                }
                ctx.row += 1;
            }
        }
        ctx.claims.push(Any::Matmul(Claim {
            fold,
            a: a.iter()
                .map(|r| r.iter().map(|w| w.value).collect())
                .collect(),
            dots,
            fault,
        }));
        // free[c][r] is Y[r][c]
        Ok((0..a.len())
            .map(|r| free.iter().map(|col| col[r].clone()).collect())
            .collect())
    }

    /// The fold, then `A[r] · b̃` beside the first-phase rows of `A[r]`, equal to `ỹ_r`.
    pub(super) fn check_matmul(
        &self,
        ctx: &mut Ctx,
        claim: &Claim,
        beta: Value<Fr>,
    ) -> Result<(), Error> {
        let r = claim.a.len();
        let fault = claim.fault.map(|f| (f, f.output));
        let folded = self.fold(ctx, &claim.fold, beta, fault)?;
        let (y, b) = folded.split_at(r);
        let mut row = claim.dots;
        for (ar, yr) in claim.a.iter().zip(y) {
            let mut acc = Value::known(Fr::ZERO);
            let mut last = None;
            for (j, chunk) in ar.chunks(DOT).enumerate() {
                for i in 0..DOT {
                    match b.get(j * DOT + i).filter(|_| i < chunk.len()) {
                        Some(w) => {
                            ctx.copy(self.lane[i], row, w);
                            acc = acc + chunk[i] * w.value;
                        }
                        None => {
                            ctx.zero(self.lane[i], row)?;
                        }
                    }
                }
                last = Some(ctx.assign(self.lane[DOT], row, acc));
                row += 1;
            }
            let last = last.expect("a row has one entry at least");
            ctx.constrain_equal(last.cell, yr.cell);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::WIDTH;
    use super::*;
    use crate::field::fr_from_i64;
    use crate::halo2::chips::harness::Config;
    use crate::halo2::chips::harness::{cells_in, fails_in, passes_in, proves, with_challenge};
    use crate::halo2::chips::table::Tables;

    const R: usize = 5;
    const C: usize = 4;
    /// Longer than a row of the folded dot, so an `A` row spans two.
    const D: usize = 11;

    /// `Y = A·Bᵀ` of pinned `5 × 11` and `4 × 11` matrices, `Y` left free for the check alone
    /// to bind; `fault` as in [`FreivaldsConfig::defer_matmul_with`].
    fn layout(
        fault: Option<(usize, Option<usize>)>,
    ) -> impl Fn(&Config, &mut Ctx) -> Result<(), Error> + Clone + Send + Sync {
        move |cfg, ctx| {
            let main = &cfg.base.main;
            let chip = cfg.base.freivalds.as_ref().expect("configured");
            let mut pinned = |n: usize, salt: i64| -> Result<Vec<Vec<Wire>>, Error> {
                (0..n)
                    .map(|i| {
                        let row = ctx.row;
                        ctx.row += 2;
                        (0..D)
                            .map(|t| {
                                let v = ((i * D + t) as i64 * salt) % 29 - 14;
                                ctx.constant(main[t % WIDTH], row + t / WIDTH, fr_from_i64(v))
                            })
                            .collect()
                    })
                    .collect()
            };
            let a = pinned(R, 31)?;
            let b = pinned(C, 17)?;
            fn refs(m: &[Vec<Wire>]) -> Vec<Vec<&Wire>> {
                m.iter().map(|v| v.iter().collect()).collect()
            }
            let fault = fault.map(|(output, hide)| Fault {
                output,
                delta: Fr::from(3),
                hide,
            });
            let y = chip.defer_matmul_with(ctx, &refs(&a), &refs(&b), fault)?;
            assert_eq!((y.len(), y[0].len()), (R, C));
            chip.finish(ctx)
        }
    }

    #[test]
    fn honest_products_pass_and_a_wrong_output_fails() {
        passes_in(layout(None), &Tables::default(), with_challenge());
        for output in [0, 4] {
            fails_in(
                layout(Some((output, None))),
                &Tables::default(),
                with_challenge(),
            );
        }
    }

    #[test]
    fn an_output_fixed_up_after_the_challenge_is_not_what_was_committed() {
        passes_in(
            layout(Some((1, Some(3)))),
            &Tables::default(),
            with_challenge(),
        );
        assert!(proves(layout(None), with_challenge()));
        assert!(!proves(layout(Some((1, Some(3)))), with_challenge()));
    }

    #[test]
    fn every_cell_is_bound() {
        let n = cells_in(
            layout(None),
            &Tables::default(),
            with_challenge(),
            "freivalds matmul",
        );
        assert!(n > rows(R, C, D) * DOT, "{n}");
    }
}
