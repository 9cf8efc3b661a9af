//! The graph instructions on halo2 chips: constant linear combinations on the dot chip, and
//! blocks of them over one input list on the matvec chip (the coefficients are fixed columns,
//! part of the verifying key), products on the mask chip's product gate, sums of products four
//! pairs a row on the adot chip, rescales (and through them ReLU and max) on the rescale chip
//! with its range checks, function tables and embeddings on the table chip's lookup, constants
//! pinned by the permutation argument.

use std::collections::BTreeMap;

use halo2_proofs::plonk::Error;

use super::chips::adot;
use super::chips::dot::Term;
use super::chips::freivalds::{self, matmul};
use super::chips::matvec::{self, Layer};
use super::chips::table::Tables;
use super::config::CircuitConfig;
use super::ctx::{Ctx, Wire};
use crate::field::{fr_from_i128, fr_from_i64, fr_to_i128};
use crate::ops::instructions::{division, sum_of_products, Block, Grid};
use crate::ops::rescale::RescaleParams;
use crate::ops::{Bound, Instructions};
use crate::Fr;

/// The instructions on one region's context.
pub struct Halo2Ops<'c, 'x, 'a, 'r> {
    cfg: &'c CircuitConfig,
    ctx: &'x mut Ctx<'a, 'r>,
    /// One pinned cell per constant value: later uses copy it.
    constants: BTreeMap<i128, Wire>,
    /// The model's tables, `(first, values)`; table `i` has tag `i + 1` (0 is the empty row's).
    tables: &'c [(i64, &'c [i64])],
}

impl<'c, 'x, 'a, 'r> Halo2Ops<'c, 'x, 'a, 'r> {
    /// Instructions laying out on `ctx` with the chips of `cfg`, the function tables loaded as
    /// `tables` (see [`tags`]).
    pub fn new(
        cfg: &'c CircuitConfig,
        ctx: &'x mut Ctx<'a, 'r>,
        tables: &'c [(i64, &'c [i64])],
    ) -> Self {
        Self {
            cfg,
            ctx,
            constants: BTreeMap::new(),
            tables,
        }
    }
}

impl Halo2Ops<'_, '_, '_, '_> {
    /// Outputs [`Instructions::linear_block`] lays out together: the matvec chip's block where
    /// the plan configured it, else the standard lane's.
    fn block(&self) -> usize {
        self.cfg.matvec.as_ref().map_or(matvec::B, |c| c.block())
    }

    /// Rows [`Instructions::linear_block`] lays out for `m` outputs over `n` inputs.
    fn block_rows(&self, n: usize, m: usize) -> usize {
        let b = self.block();
        (0..m)
            .step_by(b)
            .map(|k| {
                let chain = (m - k).min(b) * self.cfg.dot.rows_for(n);
                match &self.cfg.matvec {
                    Some(chip) => chain.min(chip.rows_for(n, b)),
                    None => chain,
                }
            })
            .sum()
    }
}

/// The function table's rows for `tables` (a model's, in order): table `i` under tag `i + 1`.
pub fn tags(tables: &[(i64, &[i64])]) -> Tables {
    let mut t = Tables::default();
    for (i, (first, values)) in tables.iter().enumerate() {
        t.push(i as u64 + 1, *first, values);
    }
    t
}

impl Instructions for Halo2Ops<'_, '_, '_, '_> {
    type Value = Wire;
    type Error = Error;

    fn constant(&mut self, c: i128) -> Result<Wire, Error> {
        if let Some(w) = self.constants.get(&c) {
            return Ok(w.clone());
        }
        let row = self.ctx.row;
        let w = if c == 0 {
            self.ctx.zero(self.cfg.main[0], row)?
        } else {
            self.ctx.constant(self.cfg.main[0], row, fr_from_i128(c))?
        };
        self.ctx.row += 1;
        self.constants.insert(c, w.clone());
        Ok(w)
    }

    fn linear(&mut self, terms: &[(i64, &Wire)], constant: i128) -> Result<Wire, Error> {
        let coeffs: Vec<Fr> = terms.iter().map(|(k, _)| fr_from_i64(*k)).collect();
        let cells: Vec<Term> = terms.iter().map(|(_, w)| Term::Copy(w)).collect();
        let (_, acc) = self
            .cfg
            .dot
            .assign(self.ctx, &coeffs, &cells, fr_from_i128(constant))?;
        Ok(acc)
    }

    /// Blocks of `b` outputs on the matvec chip, where the plan configured it and that takes
    /// fewer rows than `b` dot chains (one bias row, then a row per `b` inputs, against a row
    /// per `width - 1` inputs per output); the rest on the dot chip.
    fn linear_block(
        &mut self,
        xs: &[&Wire],
        weights: &[Vec<i64>],
        constants: &[i128],
    ) -> Result<Vec<Wire>, Error> {
        let m = xs.len();
        let cfg = self.cfg;
        let mut out = Vec::with_capacity(weights.len());
        let b = self.block();
        for (ws, cs) in weights.chunks(b).zip(constants.chunks(b)) {
            let block_rows = cfg.matvec.as_ref().map_or(usize::MAX, |c| c.rows_for(m, b));
            let chain_rows = ws.len() * cfg.dot.rows_for(m);
            let bias: Option<Vec<i64>> = cs.iter().map(|c| i64::try_from(*c).ok()).collect();
            match (&cfg.matvec, bias) {
                (Some(chip), Some(bias)) if block_rows < chain_rows => {
                    let one = self.constant(1)?;
                    let flat: Vec<i64> = ws.concat();
                    let x: Vec<Wire> = xs.iter().map(|w| (*w).clone()).collect();
                    let layer = Layer {
                        in_dim: m,
                        out_dim: ws.len(),
                        weights: &flat,
                        bias: &bias,
                        shift: 0,
                    };
                    out.extend(chip.assign(self.ctx, &layer, &x, None, &one)?);
                }
                _ => {
                    for (w, c) in ws.iter().zip(cs) {
                        let terms: Vec<(i64, &Wire)> =
                            w.iter().copied().zip(xs.iter().copied()).collect();
                        out.push(self.linear(&terms, *c)?);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Blocks that share their weights and (64-bit) constants at `L ≥ 2` positions go to the
    /// challenge check where the plan configured it and it takes fewer rows than `L` blocks;
    /// the rest are laid out block by block, in order.
    fn linear_blocks(&mut self, blocks: &[Block<'_, Wire>]) -> Result<Vec<Vec<Wire>>, Error> {
        let mut out: Vec<Option<Vec<Wire>>> = vec![None; blocks.len()];
        if let Some(chip) = &self.cfg.freivalds {
            let mut done = vec![false; blocks.len()];
            for (i, b) in blocks.iter().enumerate() {
                if done[i] {
                    continue;
                }
                let same: Vec<usize> = (i..blocks.len())
                    .filter(|j| !done[*j] && blocks[*j].same_map(b))
                    .collect();
                let bias: Option<Vec<i64>> =
                    b.constants.iter().map(|c| i64::try_from(*c).ok()).collect();
                let (n, m, len) = (b.xs.len(), b.weights.len(), same.len());
                let checked = freivalds::weights::fold_rows(n, m, len)
                    + freivalds::weights::product_rows(n, m);
                for j in &same {
                    done[*j] = true;
                }
                let Some(bias) = bias.filter(|_| checked < len * self.block_rows(n, m)) else {
                    continue;
                };
                let one = self.constant(1)?;
                let xs: Vec<Vec<&Wire>> = same.iter().map(|j| blocks[*j].xs.clone()).collect();
                let ys = chip.defer(self.ctx, &xs, &b.weights, &bias, &one)?;
                for (j, y) in same.into_iter().zip(ys) {
                    out[j] = Some(y);
                }
            }
        }
        for (o, b) in out.iter_mut().zip(blocks) {
            if o.is_none() {
                *o = Some(self.linear_block(&b.xs, &b.weights, &b.constants)?);
            }
        }
        Ok(out
            .into_iter()
            .map(|o| o.expect("every block laid"))
            .collect())
    }

    /// Grids checked against the challenge where the plan configured it and the check takes
    /// fewer rows than their sums on the products chip, folded along whichever side is
    /// cheaper; every other sum is an [`Instructions::inner`], in order.
    fn inners(&mut self, sums: &[Vec<(&Wire, &Wire)>], grids: &[Grid]) -> Result<Vec<Wire>, Error> {
        let mut out: Vec<Option<Wire>> = vec![None; sums.len()];
        if let Some(chip) = &self.cfg.freivalds {
            for g in grids {
                let (r, c, d) = (g.at.len(), g.at[0].len(), sums[g.at[0][0]].len());
                let direct = r * c * adot::rows_for(d);
                let (by_cols, by_rows) = (matmul::rows(r, c, d), matmul::rows(c, r, d));
                if direct <= by_cols.min(by_rows) {
                    continue;
                }
                let a: Vec<Vec<&Wire>> =
                    g.at.iter()
                        .map(|row| sums[row[0]].iter().map(|p| p.0).collect())
                        .collect();
                let b: Vec<Vec<&Wire>> = g.at[0]
                    .iter()
                    .map(|o| sums[*o].iter().map(|p| p.1).collect())
                    .collect();
                if by_cols <= by_rows {
                    let y = chip.defer_matmul(self.ctx, &a, &b)?;
                    for (row, ys) in g.at.iter().zip(y) {
                        for (o, y) in row.iter().zip(ys) {
                            out[*o] = Some(y);
                        }
                    }
                } else {
                    let yt = chip.defer_matmul(self.ctx, &b, &a)?;
                    for (ci, ys) in yt.into_iter().enumerate() {
                        for (row, y) in g.at.iter().zip(ys) {
                            out[row[ci]] = Some(y);
                        }
                    }
                }
            }
        }
        out.into_iter()
            .zip(sums)
            .map(|(o, pairs)| match o {
                Some(y) => Ok(y),
                None => self.inner(pairs),
            })
            .collect()
    }

    fn rows(&self) -> Option<(usize, usize)> {
        Some((self.ctx.row, self.ctx.range_rows.iter().sum()))
    }

    /// A copy constraint to the constant's pinned cell (one per constant value in the circuit).
    fn assert_constant(&mut self, x: &Wire, c: i128) -> Result<(), Error> {
        let k = self.constant(c)?;
        self.ctx.constrain_equal(x.cell, k.cell);
        Ok(())
    }

    fn mul(&mut self, a: &Wire, b: &Wire) -> Result<Wire, Error> {
        self.cfg.mask.mul(self.ctx, a, b)
    }

    /// Four pairs a row on the products chip, where the plan configured it (a row per pair
    /// and a combination otherwise).
    fn inner(&mut self, pairs: &[(&Wire, &Wire)]) -> Result<Wire, Error> {
        let Some(chip) = &self.cfg.adot else {
            return sum_of_products(self, pairs);
        };
        let a: Vec<Option<&Wire>> = pairs.iter().map(|(a, _)| Some(*a)).collect();
        let b: Vec<Option<&Wire>> = pairs.iter().map(|(_, b)| Some(*b)).collect();
        chip.assign(self.ctx, &a, &b)
    }

    fn rescale(&mut self, acc: &Wire, p: &RescaleParams) -> Result<Wire, Error> {
        self.cfg.rescale.assign(self.ctx, &self.cfg.range, acc, p)
    }

    /// The quotient in a cell of its own, its product with `den` on the mask chip's product
    /// gate, the remainder and the divisor's slack over it as combinations, and the three range
    /// checks on the range lane.
    fn div(&mut self, num: &Wire, den: &Wire, nb: Bound, db: Bound) -> Result<Wire, Error> {
        let (qb, q_bits, r_bits) = division(nb, db);
        let value = num.value.zip(den.value).map(|(n, d)| {
            match (fr_to_i128(&n), fr_to_i128(&d)) {
                (Some(n), Some(d)) if d > 0 => fr_from_i128(n.div_euclid(d)),
                // not a division the circuit can accept: the checks fail
                _ => Fr::from(0),
            }
        });
        let row = self.ctx.row;
        let q = self.ctx.assign(self.cfg.main[0], row, value);
        self.ctx.row += 1;
        let p = self.mul(&q, den)?;
        let r = self.linear(&[(1, num), (-1, &p)], 0)?;
        let slack = self.linear(&[(1, den), (-1, &r)], -1)?;
        let range = &self.cfg.range;
        range.check(self.ctx, &r, r_bits, 0)?;
        range.check(self.ctx, &slack, r_bits, 0)?;
        range.check(self.ctx, &q, q_bits, -(qb.0 as i64))?;
        Ok(q)
    }

    /// One row of the table chip: `(tag, x, y)` looked up, the tag fixed by the key. An input
    /// outside the domain gets `y = 0`, which no entry of the tag pairs with it.
    fn lookup(&mut self, x: &Wire, first: i64, values: &[i64]) -> Result<Wire, Error> {
        let (Some(chip), Some(i)) = (
            &self.cfg.table,
            self.tables
                .iter()
                .position(|(f, v)| *f == first && *v == values),
        ) else {
            // a plan sizes tables from the model, so a circuit of it has them all
            return Err(Error::Synthesis);
        };
        let y = x.value.map(|v| {
            let e = fr_to_i128(&v)
                .and_then(|x| usize::try_from(x - first as i128).ok())
                .and_then(|i| values.get(i));
            e.map_or(Fr::from(0), |e| fr_from_i64(*e))
        });
        chip.apply(self.ctx, i as u64 + 1, x, y)
    }

    /// One embedding row of the table chip: the key `index · width + column` proven by its gate
    /// (width and column fixed), `(tag, key, y)` looked up. An index that is no row gets `y = 0`,
    /// which no entry pairs with its key.
    fn embed(
        &mut self,
        index: &Wire,
        width: usize,
        column: usize,
        values: &[i64],
    ) -> Result<Wire, Error> {
        let (Some(chip), Some(i)) = (
            &self.cfg.table,
            self.tables
                .iter()
                .position(|(f, v)| *f == 0 && *v == values),
        ) else {
            return Err(Error::Synthesis);
        };
        let y = index.value.map(|v| {
            let e = fr_to_i128(&v)
                .and_then(|t| usize::try_from(t).ok())
                .and_then(|t| t.checked_mul(width)?.checked_add(column))
                .and_then(|k| values.get(k));
            e.map_or(Fr::from(0), |e| fr_from_i64(*e))
        });
        chip.embed(self.ctx, i as u64 + 1, index, width, column, y)
    }
}
