//! The graph instructions in R1CS: linear combinations are free (constant weights fold into the
//! combination), products are one constraint, rescales (and through them ReLU and max) are the
//! rescale gadget with its bit decompositions, constants are multiples of the `one` variable.

use super::cs::{Cs, Num, Result};
use super::gadgets::rescale::rescale;
use super::{to_ark, F};
use crate::field::{fr_from_i128, fr_from_i64};
use crate::ops::rescale::RescaleParams;
use crate::ops::Instructions;

/// The instructions on one constraint system.
pub struct R1csOps<'a>(pub &'a Cs);

fn f(v: i128) -> F {
    to_ark(&fr_from_i128(v))
}

impl Instructions for R1csOps<'_> {
    type Value = Num;
    type Error = ark_relations::gr1cs::SynthesisError;

    fn constant(&mut self, c: i128) -> Result<Num> {
        Ok(Num::constant(f(c)))
    }

    fn linear(&mut self, terms: &[(i64, &Num)], constant: i128) -> Result<Num> {
        let terms: Vec<(F, &Num)> = terms
            .iter()
            .map(|(k, x)| (to_ark(&fr_from_i64(*k)), *x))
            .collect();
        Ok(Num::sum(&terms, f(constant)))
    }

    fn mul(&mut self, a: &Num, b: &Num) -> Result<Num> {
        self.0.mul(a, b)
    }

    fn rescale(&mut self, acc: &Num, p: &RescaleParams) -> Result<Num> {
        rescale(self.0, acc, p)
    }
}
