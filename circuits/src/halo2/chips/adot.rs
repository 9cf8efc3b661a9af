//! Dot products between two witness vectors (the IR's sums of products: attention's `q·kᵀ` and
//! `p·v`; the decoder circuit's read-out): four pairs a row, `acc = chain · acc(prev) + Σ a_i · b_i`.
//!
//! Sound because every `a_i`, `b_i` is a copy: of the caller's cells, or of the circuit's pinned
//! zero where a vector is shorter than its rows (and for `None` entries). The gate has no
//! per-pair coefficient, so a padding pair left as plain witness would add any `a · b` to the sum:
//! that was finding 1 of `SECURITY.md`.

use halo2_proofs::circuit::Value;
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Expression, Fixed, Selector};
use halo2_proofs::poly::Rotation;
use halo2curves::ff::Field;

use crate::halo2::ctx::{Ctx, Wire};
use crate::Fr;

pub const PAIRS: usize = 4;

#[derive(Debug, Clone)]
pub struct AdotConfig {
    a: [Column<Advice>; PAIRS],
    b: [Column<Advice>; PAIRS],
    acc: Column<Advice>,
    chain: Column<Fixed>,
    q: Selector,
}

/// How the cells a vector does not fill are assigned.
#[derive(Debug, Clone, Copy)]
enum Padding {
    /// Copies of the pinned zero.
    Pinned,
    /// As `Pinned`, but the first padding pair holds `(1, δ)`: the attack, for negative tests.
    Forged(Fr),
    /// Plain witness zeros: the bug, kept to show the mutation harness catches it.
    #[cfg(test)]
    Free,
}

pub fn rows_for(n: usize) -> usize {
    n.div_ceil(PAIRS).max(1)
}

impl AdotConfig {
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        main: &[Column<Advice>],
        chain: Column<Fixed>,
    ) -> Self {
        let cfg = Self {
            a: std::array::from_fn(|i| main[2 * i]),
            b: std::array::from_fn(|i| main[2 * i + 1]),
            acc: main[2 * PAIRS],
            chain,
            q: meta.selector(),
        };
        meta.create_gate("adot", |m| {
            let acc = m.query_advice(cfg.acc, Rotation::cur());
            let prev = m.query_advice(cfg.acc, Rotation::prev());
            let chain = m.query_fixed(cfg.chain, Rotation::cur());
            let sum = (0..PAIRS).fold(Expression::Constant(Fr::ZERO), |s, i| {
                s + m.query_advice(cfg.a[i], Rotation::cur())
                    * m.query_advice(cfg.b[i], Rotation::cur())
            });
            vec![m.query_selector(cfg.q) * (acc - chain * prev - sum)]
        });
        cfg
    }

    /// `Σ a_i · b_i` over copies of the given cells (`None` is a zero).
    pub fn assign(
        &self,
        ctx: &mut Ctx,
        a: &[Option<&Wire>],
        b: &[Option<&Wire>],
    ) -> Result<Wire, Error> {
        self.assign_with(ctx, a, b, |v| v)
    }

    pub(crate) fn assign_with(
        &self,
        ctx: &mut Ctx,
        a: &[Option<&Wire>],
        b: &[Option<&Wire>],
        adjust: impl Fn(Value<Fr>) -> Value<Fr>,
    ) -> Result<Wire, Error> {
        self.lay(ctx, a, b, adjust, Padding::Pinned)
    }

    /// As [`Self::assign_with`], with the attack of finding 1 when `forge` is set: the first
    /// padding pair holds `(1, forge)` (still wired to the pinned zero), and the sum includes it.
    pub(crate) fn assign_forged(
        &self,
        ctx: &mut Ctx,
        a: &[Option<&Wire>],
        b: &[Option<&Wire>],
        adjust: impl Fn(Value<Fr>) -> Value<Fr>,
        forge: Option<Fr>,
    ) -> Result<Wire, Error> {
        let padding = forge.map_or(Padding::Pinned, Padding::Forged);
        self.lay(ctx, a, b, adjust, padding)
    }

    fn lay(
        &self,
        ctx: &mut Ctx,
        a: &[Option<&Wire>],
        b: &[Option<&Wire>],
        adjust: impl Fn(Value<Fr>) -> Value<Fr>,
        padding: Padding,
    ) -> Result<Wire, Error> {
        assert_eq!(a.len(), b.len());
        let rows = rows_for(a.len());
        let mut acc = Value::known(Fr::ZERO);
        let mut out = None;
        for r in 0..rows {
            let row = ctx.row;
            ctx.enable(&self.q, row)?;
            ctx.fixed(self.chain, row, if r == 0 { Fr::ZERO } else { Fr::ONE });
            for i in 0..PAIRS {
                let idx = r * PAIRS + i;
                let mut put = |col, w: Option<&Option<&Wire>>| match w.copied().flatten() {
                    Some(w) => Ok(ctx.copy(col, row, w).value),
                    None => match padding {
                        Padding::Forged(d) if idx == a.len() => {
                            let v = if col == self.a[i] { Fr::ONE } else { d };
                            ctx.pinned(col, row, Value::known(v)).map(|w| w.value)
                        }
                        #[cfg(test)]
                        Padding::Free => Ok(ctx.assign(col, row, Value::known(Fr::ZERO)).value),
                        _ => ctx.zero(col, row).map(|w| w.value),
                    },
                };
                let va = put(self.a[i], a.get(idx))?;
                let vb = put(self.b[i], b.get(idx))?;
                acc = acc + va * vb;
            }
            let v = if r + 1 == rows { adjust(acc) } else { acc };
            out = Some(ctx.assign(self.acc, row, v));
            ctx.row += 1;
        }
        Ok(out.expect("at least one row"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::halo2::chips::harness::Config;
    use crate::halo2::chips::harness::{cells, fails, passes, survivors};

    /// `Σ a_i b_i` over six pairs (two rows, two padding pairs), one `None` term, against the
    /// expected sum pinned as a public value would be.
    fn layout(
        padding: Padding,
        bump: i64,
    ) -> impl Fn(&Config, &mut Ctx) -> Result<(), Error> + Clone + Send + Sync {
        move |cfg, ctx| {
            // Inputs `i + 2` in spare cells; `b[4]` is a `None` term, so value 10 is not laid out.
            let vals: Vec<Option<Wire>> = (0..12u64)
                .map(|i| {
                    let v = Value::known(Fr::from(i + 2));
                    (i != 10).then(|| ctx.assign(cfg.base.main[9], i as usize, v))
                })
                .collect();
            ctx.row = 13;
            let a: Vec<Option<&Wire>> = vals[..6].iter().map(Option::as_ref).collect();
            let b: Vec<Option<&Wire>> = vals[6..].iter().map(Option::as_ref).collect();
            let bump = Value::known(crate::field::fr_from_i64(bump));
            let out = cfg
                .base
                .adot
                .as_ref()
                .expect("the harness has products")
                .lay(ctx, &a, &b, |v| v + bump, padding)?;
            let want: u64 = [0usize, 1, 2, 3, 5]
                .iter()
                .map(|&i| (i as u64 + 2) * (i as u64 + 8))
                .sum();
            ctx.constrain_constant(out.cell, Fr::from(want))
        }
    }

    #[test]
    fn honest_sums_pass_and_wrong_sums_fail() {
        passes(layout(Padding::Pinned, 0));
        fails(layout(Padding::Pinned, 1));
    }

    #[test]
    fn every_cell_is_bound() {
        let n = cells(layout(Padding::Pinned, 0), "adot");
        assert_eq!(n, 11 + 2 * 9, "{n} cells");
    }

    #[test]
    fn the_harness_flags_free_padding() {
        // The chip as it was: the four cells of the two padding pairs in the last row are free
        // (a `None` term facing a non-zero one is not: changing it moves the sum).
        let free = survivors(layout(Padding::Free, 0));
        assert_eq!(free.len(), 4, "{free:?}");
        assert!(
            free.iter().all(|s| s.row == 14 && s.column < 2 * PAIRS),
            "{free:?}"
        );
    }
}
