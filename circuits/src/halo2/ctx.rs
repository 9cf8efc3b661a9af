//! The layout context: the one region of the circuit, with a row cursor for the main lane and one
//! for the range lane, the products whose check waits for the challenge, and small helpers to
//! assign and copy cells. A context without a region lays nothing out and only moves the
//! cursors: plans use it to count the rows a circuit needs.

use halo2_proofs::circuit::{Cell, Region, Value};
use halo2_proofs::plonk::{Advice, Challenge, Column, Error, Fixed, Selector};

use crate::halo2::chips::freivalds::Claim;
use crate::halo2::chips::range::MAX_LANES;
use crate::Fr;

/// An assigned advice cell with its value.
#[derive(Debug, Clone)]
pub struct Wire {
    pub cell: Cell,
    pub value: Value<Fr>,
}

pub struct Ctx<'a, 'r> {
    region: Option<&'a mut Region<'r, Fr>>,
    /// Next free row of the main lane.
    pub row: usize,
    /// Next free row of each range lane.
    pub range_rows: [usize; MAX_LANES],
    /// The first cell [`Self::zero`] pinned to 0; later zeros copy it (one constant row in all).
    zero: Option<Cell>,
    /// One past the highest row an advice cell was assigned at, whatever the cursors say.
    touched: usize,
    /// Products claimed in the first phase, checked against the challenge at the end
    /// ([`crate::halo2::chips::freivalds`]).
    pub(crate) claims: Vec<Claim>,
}

impl<'a, 'r> Ctx<'a, 'r> {
    pub fn new(region: &'a mut Region<'r, Fr>) -> Self {
        Self {
            region: Some(region),
            row: 0,
            range_rows: [0; MAX_LANES],
            zero: None,
            touched: 0,
            claims: Vec::new(),
        }
    }

    /// A context that only counts rows.
    pub fn counter() -> Self {
        Self {
            region: None,
            row: 0,
            range_rows: [0; MAX_LANES],
            zero: None,
            touched: 0,
            claims: Vec::new(),
        }
    }

    /// One past the highest row any advice cell was assigned at (layouts that place cells by
    /// explicit row as well as by the cursors).
    pub fn rows_touched(&self) -> usize {
        self.touched
    }

    pub fn assign(&mut self, col: Column<Advice>, row: usize, value: Value<Fr>) -> Wire {
        self.touched = self.touched.max(row + 1);
        let cell = match self.region.as_mut() {
            Some(r) => r.assign_advice(col, row, value).cell(),
            None => Cell {
                row_offset: row,
                column: col.into(),
            },
        };
        Wire { cell, value }
    }

    /// Assigns a copy of `w` and constrains the two cells equal.
    pub fn copy(&mut self, col: Column<Advice>, row: usize, w: &Wire) -> Wire {
        let out = self.assign(col, row, w.value);
        self.constrain_equal(out.cell, w.cell);
        out
    }

    pub fn constrain_equal(&mut self, a: Cell, b: Cell) {
        if let Some(r) = self.region.as_mut() {
            r.constrain_equal(a, b);
        }
    }

    pub fn constrain_constant(&mut self, cell: Cell, c: Fr) -> Result<(), Error> {
        match self.region.as_mut() {
            Some(r) => r.constrain_constant(cell, c),
            None => Ok(()),
        }
    }

    /// Assigns a cell that the permutation argument pins to the constant `c`.
    pub fn constant(&mut self, col: Column<Advice>, row: usize, c: Fr) -> Result<Wire, Error> {
        let w = self.assign(col, row, Value::known(c));
        self.constrain_constant(w.cell, c)?;
        Ok(w)
    }

    /// Assigns a 0 that the permutation argument pins: the padding of a row a chip does not fill.
    /// A padding cell assigned as a plain witness is a free variable, whatever its coefficient.
    pub fn zero(&mut self, col: Column<Advice>, row: usize) -> Result<Wire, Error> {
        self.pinned(col, row, Value::known(Fr::from(0)))
    }

    /// A cell pinned as [`Self::zero`] but holding `value`: what an attacker writes into padding.
    /// Only the negative tests' faults use it; the permutation argument must reject it.
    pub(crate) fn pinned(
        &mut self,
        col: Column<Advice>,
        row: usize,
        value: Value<Fr>,
    ) -> Result<Wire, Error> {
        let w = self.assign(col, row, value);
        match self.zero {
            Some(z) => self.constrain_equal(w.cell, z),
            None => {
                self.constrain_constant(w.cell, Fr::from(0))?;
                self.zero = Some(w.cell);
            }
        }
        Ok(w)
    }

    pub fn fixed(&mut self, col: Column<Fixed>, row: usize, v: Fr) {
        if let Some(r) = self.region.as_mut() {
            r.assign_fixed(col, row, v);
        }
    }

    /// Rows used by the fullest range lane.
    pub fn range_row(&self) -> usize {
        self.range_rows.iter().copied().max().unwrap_or(0)
    }

    /// Ends the first phase: the prover commits every first-phase cell, and the challenges of
    /// that phase become known.
    pub fn next_phase(&mut self) {
        if let Some(r) = self.region.as_mut() {
            r.next_phase();
        }
    }

    /// The challenge's value: unknown before its phase, and when only counting.
    pub fn challenge(&self, c: Challenge) -> Value<Fr> {
        match self.region.as_ref() {
            Some(r) => r.get_challenge(c),
            None => Value::unknown(),
        }
    }

    pub fn enable(&mut self, s: &Selector, row: usize) -> Result<(), Error> {
        match self.region.as_mut() {
            Some(r) => s.enable(r, row),
            None => Ok(()),
        }
    }
}
