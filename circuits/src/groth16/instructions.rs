//! The graph instructions in R1CS: linear combinations are free (constant weights fold into the
//! combination), products are one constraint, rescales (and through them ReLU and max) are the
//! rescale gadget with its bit decompositions, constants are multiples of the `one` variable, and
//! an embedding's row is selected by its index's one-hot row.

use super::cs::{Cs, Num, Result};
use super::gadgets::rescale::rescale;
use super::{from_ark, to_ark, F};
use crate::field::{fr_from_i128, fr_from_i64, fr_to_i128};
use crate::ops::index_hot::IndexHots;
use crate::ops::instructions::division;
use crate::ops::rescale::RescaleParams;
use crate::ops::{Bound, Instructions};

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

    fn assert_constant(&mut self, x: &Num, c: i128) -> Result<()> {
        self.0.equal(x, &Num::constant(f(c)))
    }

    fn mul(&mut self, a: &Num, b: &Num) -> Result<Num> {
        self.0.mul(a, b)
    }

    fn rescale(&mut self, acc: &Num, p: &RescaleParams) -> Result<Num> {
        rescale(self.0, acc, p)
    }

    /// The quotient a witness, one product constraint, the remainder and the divisor's slack
    /// linear, each range-checked by bits with the quotient.
    fn div(&mut self, num: &Num, den: &Num, nb: Bound, db: Bound) -> Result<Num> {
        let (qb, q_bits, r_bits) = division(nb, db);
        let int = |v: &Option<F>| v.as_ref().and_then(|v| fr_to_i128(&from_ark(v)));
        let value = match (int(&num.value), int(&den.value)) {
            (Some(n), Some(d)) if d > 0 => Some(f(n.div_euclid(d))),
            (Some(_), Some(_)) => Some(F::from(0u64)),
            _ => None,
        };
        let cs = self.0;
        let q = cs.witness(value)?;
        let p = cs.mul(&q, den)?;
        let r = num.minus(&p);
        cs.range(&r, r_bits)?;
        cs.range(
            &den.minus(&r).scale_add(F::from(1u64), -F::from(1u64)),
            r_bits,
        )?;
        cs.range(&q.scale_add(F::from(1u64), -f(qb.0)), q_bits)?;
        Ok(q)
    }

    /// R1CS has no lookups: [`super::circuit::Shape::new`] refuses a model with a table, so
    /// this is never reached by a shaped circuit.
    fn lookup(&mut self, _: &Num, _: i64, _: &[i64]) -> Result<Num> {
        Err(ark_relations::gr1cs::SynthesisError::Unsatisfiable)
    }

    /// The entry of one column: the row selected as [`Self::embed_row`] selects it, for an
    /// index anywhere in the table's rows.
    fn embed(&mut self, index: &Num, width: usize, column: usize, values: &[i64]) -> Result<Num> {
        let rows = (values.len() / width) as i128;
        let mut row = self.embed_row(index, (0, rows - 1), width, values)?;
        Ok(row.swap_remove(column))
    }

    /// The index's one-hot row over the rows within `bound` (exact clamps, no assertion: the
    /// embedding's bound lies within the table's rows), each entry a constant combination of its
    /// bits.
    fn embed_row(
        &mut self,
        index: &Num,
        bound: Bound,
        width: usize,
        values: &[i64],
    ) -> Result<Vec<Num>> {
        let rows = values.len() / width;
        let hot = IndexHots { depth: rows }.lower(self, std::slice::from_ref(index), bound)?;
        Ok((0..width)
            .map(|c| {
                let terms: Vec<(F, &Num)> = hot
                    .iter()
                    .enumerate()
                    .map(|(r, h)| (to_ark(&fr_from_i64(values[r * width + c])), h))
                    .collect();
                Num::sum(&terms, F::from(0u64))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use ark_relations::gr1cs::ConstraintSystemRef;

    use super::*;
    use crate::groth16::mutation::assert_every_variable_bound;

    /// `floor(n / d)` with `n` and `d` public: the quotient is the floor, and every variable
    /// of the division (quotient, product, the bits of the three range checks) is bound.
    #[test]
    fn division_is_the_floor_and_every_variable_is_bound() {
        for (n, d) in [(1000i128, 7i128), (0, 3), (-50, 9), (255, 255), (254, 255)] {
            let synth = move |cs: ConstraintSystemRef<F>| -> Result<()> {
                let c = Cs::new(cs);
                let num = c.input(Some(f(n)))?;
                let den = c.input(Some(f(d)))?;
                let q = R1csOps(&c).div(&num, &den, (-1000, 1000), (1, 255))?;
                assert_eq!(q.value, Some(f(n.div_euclid(d))));
                Ok(())
            };
            assert_every_variable_bound(&synth, "division");
        }
    }
}
