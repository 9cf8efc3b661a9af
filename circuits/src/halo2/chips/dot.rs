//! Linear combinations with constant coefficients, `acc = constant + Σ c_i · x_i`, one term
//! a row per main-lane column but the accumulator's, accumulated down the rows. Linear layers use it with their weights as fixed
//! coefficients (the weights are part of the verifying key); packing uses it with powers of 256.

use halo2_proofs::circuit::Value;
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Expression, Fixed, Selector};
use halo2_proofs::poly::Rotation;
use halo2curves::ff::Field;

use crate::halo2::ctx::{Ctx, Wire};
use crate::Fr;

#[derive(Debug, Clone)]
pub struct DotConfig {
    x: Vec<Column<Advice>>,
    acc: Column<Advice>,
    coeff: Vec<Column<Fixed>>,
    constant: Column<Fixed>,
    /// 1 where the row continues the previous row's sum, 0 where a new sum starts.
    chain: Column<Fixed>,
    q: Selector,
}

/// One term of a combination: a cell assigned elsewhere (copied in) or a fresh witness.
pub enum Term<'w> {
    Copy(&'w Wire),
    Fresh(Value<Fr>),
}

impl Term<'_> {
    fn value(&self) -> Value<Fr> {
        match self {
            Term::Copy(w) => w.value,
            Term::Fresh(v) => *v,
        }
    }
}

impl DotConfig {
    /// The chip on `main` (terms in all columns but the last, the sum in the last) and the
    /// first `main.len() + 1` of `fixed`.
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        main: &[Column<Advice>],
        fixed: &[Column<Fixed>],
    ) -> Self {
        let width = main.len() - 1;
        let cfg = Self {
            x: main[..width].to_vec(),
            acc: main[width],
            coeff: fixed[..width].to_vec(),
            constant: fixed[width],
            chain: fixed[width + 1],
            q: meta.selector(),
        };
        meta.create_gate("dot", |m| {
            let q = m.query_selector(cfg.q);
            let acc = m.query_advice(cfg.acc, Rotation::cur());
            let prev = m.query_advice(cfg.acc, Rotation::prev());
            let chain = m.query_fixed(cfg.chain, Rotation::cur());
            let constant = m.query_fixed(cfg.constant, Rotation::cur());
            let sum = (0..cfg.x.len()).fold(Expression::Constant(Fr::ZERO), |s, i| {
                s + m.query_fixed(cfg.coeff[i], Rotation::cur())
                    * m.query_advice(cfg.x[i], Rotation::cur())
            });
            vec![q * (acc - chain * prev - constant - sum)]
        });
        cfg
    }

    /// Rows of a combination of `terms` terms.
    pub fn rows_for(&self, terms: usize) -> usize {
        terms.div_ceil(self.x.len()).max(1)
    }

    /// Lays out `constant + Σ coeffs[i] · terms[i]`; returns the term cells and the result.
    pub fn assign(
        &self,
        ctx: &mut Ctx,
        coeffs: &[Fr],
        terms: &[Term],
        constant: Fr,
    ) -> Result<(Vec<Wire>, Wire), Error> {
        self.assign_with(ctx, coeffs, terms, constant, |_, acc| acc)
    }

    /// As [`Self::assign`], with `adjust(row, honest_acc)` choosing each row's accumulator
    /// witness: tests use it to assign a wrong sum.
    pub(crate) fn assign_with(
        &self,
        ctx: &mut Ctx,
        coeffs: &[Fr],
        terms: &[Term],
        constant: Fr,
        adjust: impl Fn(usize, Value<Fr>) -> Value<Fr>,
    ) -> Result<(Vec<Wire>, Wire), Error> {
        assert_eq!(coeffs.len(), terms.len(), "one coefficient per term");
        let rows = self.rows_for(terms.len());
        let width = self.x.len();
        let mut cells = Vec::with_capacity(terms.len());
        let mut acc = Value::known(Fr::ZERO);
        let mut last = None;
        for r in 0..rows {
            let row = ctx.row + r;
            ctx.enable(&self.q, row)?;
            let c = if r == 0 { constant } else { Fr::ZERO };
            ctx.fixed(self.constant, row, c);
            ctx.fixed(self.chain, row, if r == 0 { Fr::ZERO } else { Fr::ONE });
            acc = if r == 0 { Value::known(c) } else { acc };
            for k in 0..width {
                let i = r * width + k;
                let Some(term) = terms.get(i) else {
                    // Padding: coefficient 0 and a pinned 0, so the cell is no free variable.
                    ctx.fixed(self.coeff[k], row, Fr::ZERO);
                    ctx.zero(self.x[k], row)?;
                    continue;
                };
                ctx.fixed(self.coeff[k], row, coeffs[i]);
                let cell = match term {
                    Term::Copy(w) => ctx.copy(self.x[k], row, w),
                    Term::Fresh(v) => ctx.assign(self.x[k], row, *v),
                };
                acc = acc + term.value() * Value::known(coeffs[i]);
                cells.push(cell);
            }
            acc = adjust(r, acc);
            last = Some(ctx.assign(self.acc, row, acc));
        }
        ctx.row += rows;
        Ok((cells, last.expect("at least one row")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::halo2::chips::harness::{
        cells, cells_in, fails, fails_in, narrow, passes, passes_in, widest,
    };
    use crate::halo2::chips::table::Tables;

    fn layout(
        ctx: &mut Ctx,
        cfg: &crate::halo2::chips::harness::Config,
        bad_row: Option<usize>,
    ) -> Result<(), Error> {
        let xs: Vec<Value<Fr>> = (0..20u64).map(|i| Value::known(Fr::from(i + 1))).collect();
        let coeffs: Vec<Fr> = (0..20u64).map(|i| -Fr::from(i * 3 + 2)).collect();
        let terms: Vec<Term> = xs.iter().map(|v| Term::Fresh(*v)).collect();
        // Row 0's previous row wraps into the unusable rows; chains never start there.
        ctx.row = 1;
        let (_, out) = cfg
            .base
            .dot
            .assign_with(ctx, &coeffs, &terms, Fr::from(5), |r, acc| {
                if Some(r) == bad_row {
                    acc + Value::known(Fr::ONE)
                } else {
                    acc
                }
            })?;
        let want: Fr = (0..20u64).fold(Fr::from(5), |s, i| s - Fr::from((i * 3 + 2) * (i + 1)));
        out.value
            .assert_if_known(|v| *v == want || bad_row.is_some());
        Ok(())
    }

    #[test]
    fn honest_sum_passes() {
        passes(|cfg, ctx| layout(ctx, cfg, None));
    }

    #[test]
    fn wrong_sum_in_any_row_fails() {
        for r in 0..3 {
            fails(move |cfg, ctx| layout(ctx, cfg, Some(r)));
        }
    }

    #[test]
    fn every_cell_is_bound() {
        // 20 terms on three rows of 9: 7 padding cells, all pinned, and 3 accumulators.
        assert_eq!(cells(|cfg, ctx| layout(ctx, cfg, None), "dot"), 27 + 3);
    }

    #[test]
    fn narrow_and_widest_lanes_sum_width_minus_one_terms_a_row() {
        let none = Tables::default();
        // 20 terms on five rows of 4 (no padding), or on two rows of 17 (14 padding cells, all
        // pinned); an accumulator a row
        for (shape, rows, n) in [(narrow(), 5, 20 + 5), (widest(), 2, 34 + 2)] {
            passes_in(|cfg, ctx| layout(ctx, cfg, None), &none, shape);
            for r in 0..rows {
                fails_in(move |cfg, ctx| layout(ctx, cfg, Some(r)), &none, shape);
            }
            let cells = cells_in(|cfg, ctx| layout(ctx, cfg, None), &none, shape, "dot");
            assert_eq!(cells, n, "{shape:?}");
        }
    }
}
