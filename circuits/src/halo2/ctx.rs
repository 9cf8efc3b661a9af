//! The layout context: the one region of the circuit, with a row cursor for the main lane and one
//! for the range lane, and small helpers to assign and copy cells.

use halo2_proofs::circuit::{Cell, Region, Value};
use halo2_proofs::plonk::{Advice, Column, Error, Fixed, Selector};

use crate::Fr;

/// An assigned advice cell with its value.
#[derive(Debug, Clone)]
pub struct Wire {
    pub cell: Cell,
    pub value: Value<Fr>,
}

pub struct Ctx<'a, 'r> {
    pub region: &'a mut Region<'r, Fr>,
    /// Next free row of the main lane.
    pub row: usize,
    /// Next free row of the range lane.
    pub range_row: usize,
}

impl<'a, 'r> Ctx<'a, 'r> {
    pub fn new(region: &'a mut Region<'r, Fr>) -> Self {
        Self {
            region,
            row: 0,
            range_row: 0,
        }
    }

    pub fn assign(&mut self, col: Column<Advice>, row: usize, value: Value<Fr>) -> Wire {
        let cell = self.region.assign_advice(col, row, value).cell();
        Wire { cell, value }
    }

    /// Assigns a copy of `w` and constrains the two cells equal.
    pub fn copy(&mut self, col: Column<Advice>, row: usize, w: &Wire) -> Wire {
        let out = self.assign(col, row, w.value);
        self.region.constrain_equal(out.cell, w.cell);
        out
    }

    /// Assigns a cell that the permutation argument pins to the constant `c`.
    pub fn constant(&mut self, col: Column<Advice>, row: usize, c: Fr) -> Result<Wire, Error> {
        let w = self.assign(col, row, Value::known(c));
        self.region.constrain_constant(w.cell, c)?;
        Ok(w)
    }

    pub fn fixed(&mut self, col: Column<Fixed>, row: usize, v: Fr) {
        self.region.assign_fixed(col, row, v);
    }

    pub fn enable(&mut self, s: &Selector, row: usize) -> Result<(), Error> {
        s.enable(self.region, row)
    }
}
