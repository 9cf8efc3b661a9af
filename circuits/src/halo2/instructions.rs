//! The graph instructions on halo2 chips: constant linear combinations on the dot chip (the
//! coefficients are fixed columns, part of the verifying key), products on the mask chip's
//! product gate, rescales (and through them ReLU and max) on the rescale chip with its range
//! checks, constants pinned by the permutation argument.

use std::collections::BTreeMap;

use halo2_proofs::plonk::Error;

use super::chips::dot::Term;
use super::config::CircuitConfig;
use super::ctx::{Ctx, Wire};
use crate::field::{fr_from_i128, fr_from_i64};
use crate::ops::rescale::RescaleParams;
use crate::ops::Instructions;
use crate::Fr;

/// The instructions on one region's context.
pub struct Halo2Ops<'c, 'x, 'a, 'r> {
    cfg: &'c CircuitConfig,
    ctx: &'x mut Ctx<'a, 'r>,
    /// One pinned cell per constant value: later uses copy it.
    constants: BTreeMap<i128, Wire>,
}

impl<'c, 'x, 'a, 'r> Halo2Ops<'c, 'x, 'a, 'r> {
    /// Instructions laying out on `ctx` with the chips of `cfg`.
    pub fn new(cfg: &'c CircuitConfig, ctx: &'x mut Ctx<'a, 'r>) -> Self {
        Self {
            cfg,
            ctx,
            constants: BTreeMap::new(),
        }
    }
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

    fn mul(&mut self, a: &Wire, b: &Wire) -> Result<Wire, Error> {
        self.cfg.mask.mul(self.ctx, a, b)
    }

    fn rescale(&mut self, acc: &Wire, p: &RescaleParams) -> Result<Wire, Error> {
        self.cfg.rescale.assign(self.ctx, &self.cfg.range, acc, p)
    }
}
