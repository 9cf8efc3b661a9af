//! A constant matrix at many positions, `y_l = W·x_l + b` for `l < L`: each position's inputs,
//! outputs and a 1 folded entry by entry, then one product `W·x̃ + σ·b` on a matvec chip over
//! the challenge lane, its outputs copy-constrained to `ỹ` ([`super`] says why this is sound).

use halo2_proofs::circuit::Value;
use halo2_proofs::plonk::Error;

use super::{Claim as Any, Entry, Fault, Fold, FreivaldsConfig};
use crate::field::fr_from_i64;
use crate::halo2::chips::matvec::{self, Layer};
use crate::halo2::ctx::{Ctx, Wire};
use crate::Fr;

/// One claimed product, its first phase laid out: `L` positions of `n` inputs.
#[derive(Debug, Clone)]
pub(crate) struct Claim {
    fold: Fold,
    n: usize,
    weights: Vec<i64>,
    bias: Vec<i64>,
    fault: Option<Fault>,
}

/// Rows of the first-phase fold of `len` positions of `n` inputs and `m` outputs.
pub fn fold_rows(n: usize, m: usize, len: usize) -> usize {
    super::fold_rows(n + m + 1, len)
}

/// Rows of the one product at the end.
pub fn product_rows(n: usize, m: usize) -> usize {
    m.div_ceil(matvec::B) * (1 + n.div_ceil(matvec::B))
}

impl FreivaldsConfig {
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
        let n = xs[0].len();
        let w: Vec<Vec<Fr>> = weights
            .iter()
            .map(|r| r.iter().map(|k| fr_from_i64(*k)).collect())
            .collect();
        let positions: Vec<Vec<Entry>> = xs
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
                    Entry::Free(match fault {
                        Some(f) if l == 0 && f.output == i => dot + Value::known(f.delta),
                        _ => dot,
                    })
                });
                x.iter()
                    .map(|x| Entry::Copy(x))
                    .chain(y)
                    .chain([Entry::Copy(one)])
                    .collect()
            })
            .collect();
        let (fold, ys) = self.lay_fold(ctx, &positions)?;
        ctx.claims.push(Any::Weights(Claim {
            fold,
            n,
            weights: weights.concat(),
            bias: bias.to_vec(),
            fault,
        }));
        Ok(ys)
    }

    /// The fold, then `W·x̃ + σ·b` on rows of its own, equal to `ỹ`.
    pub(super) fn check_weights(
        &self,
        ctx: &mut Ctx,
        claim: &Claim,
        beta: Value<Fr>,
    ) -> Result<(), Error> {
        let n = claim.n;
        let fault = claim.fault.map(|f| (f, n + f.output));
        let folded = self.fold(ctx, &claim.fold, beta, fault)?;
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
    use super::super::WIDTH;
    use super::*;
    use crate::halo2::chips::harness::Config;
    use crate::halo2::chips::harness::{cells_in, fails_in, passes_in, proves, with_challenge};
    use crate::halo2::chips::table::Tables;
    use halo2curves::ff::Field;

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
