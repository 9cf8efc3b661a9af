//! The batch mask and the metered count: bits `m_i` that form a prefix of ones
//! (`m_i (1 - m_{i-1}) = 0`), their running sum (the count of real rows), and the product gate that
//! zeroes padding rows' outputs.

use halo2_proofs::circuit::Value;
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Expression, Selector};
use halo2_proofs::poly::Rotation;
use halo2curves::ff::Field;

use crate::halo2::ctx::{Ctx, Wire};
use crate::Fr;

#[derive(Debug, Clone)]
pub struct MaskConfig {
    bit: Column<Advice>,
    count: Column<Advice>,
    product: Column<Advice>,
    q_first: Selector,
    q_rest: Selector,
    q_mul: Selector,
}

impl MaskConfig {
    /// The chip on the first three columns of `main`.
    pub fn configure(meta: &mut ConstraintSystem<Fr>, main: &[Column<Advice>]) -> Self {
        let cfg = Self {
            bit: main[0],
            count: main[1],
            product: main[2],
            q_first: meta.selector(),
            q_rest: meta.selector(),
            q_mul: meta.selector(),
        };
        meta.create_gate("mask", |m| {
            let one = Expression::Constant(Fr::ONE);
            let bit = m.query_advice(cfg.bit, Rotation::cur());
            let prev_bit = m.query_advice(cfg.bit, Rotation::prev());
            let count = m.query_advice(cfg.count, Rotation::cur());
            let prev_count = m.query_advice(cfg.count, Rotation::prev());
            let (first, rest) = (m.query_selector(cfg.q_first), m.query_selector(cfg.q_rest));
            let boolean = bit.clone() * (one.clone() - bit.clone());
            vec![
                first.clone() * boolean.clone(),
                rest.clone() * boolean,
                first * (count.clone() - bit.clone()),
                rest.clone() * bit.clone() * (one - prev_bit),
                rest * (count - prev_count - bit),
            ]
        });
        meta.create_gate("mul", |m| {
            let [a, b, p] =
                [cfg.bit, cfg.count, cfg.product].map(|c| m.query_advice(c, Rotation::cur()));
            vec![m.query_selector(cfg.q_mul) * (p - a * b)]
        });
        cfg
    }

    /// Mask bits for `rows` rows of which the first `count` are real; returns bits and count.
    pub fn mask(
        &self,
        ctx: &mut Ctx,
        rows: usize,
        count: Value<u64>,
    ) -> Result<(Vec<Wire>, Wire), Error> {
        let bits = (0..rows)
            .map(|i| count.map(|n| if (i as u64) < n { Fr::ONE } else { Fr::ZERO }))
            .collect::<Vec<_>>();
        self.mask_bits(ctx, &bits)
    }

    /// Lays out the given bits (tests pass bits that are not a prefix).
    pub(crate) fn mask_bits(
        &self,
        ctx: &mut Ctx,
        bits: &[Value<Fr>],
    ) -> Result<(Vec<Wire>, Wire), Error> {
        let mut sum = Value::known(Fr::ZERO);
        let mut cells = Vec::with_capacity(bits.len());
        let mut count = None;
        for (i, b) in bits.iter().enumerate() {
            let row = ctx.row + i;
            ctx.enable(if i == 0 { &self.q_first } else { &self.q_rest }, row)?;
            cells.push(ctx.assign(self.bit, row, *b));
            sum = sum + *b;
            count = Some(ctx.assign(self.count, row, sum));
        }
        ctx.row += bits.len();
        Ok((cells, count.expect("at least one row")))
    }

    /// `a · b` in one row.
    pub fn mul(&self, ctx: &mut Ctx, a: &Wire, b: &Wire) -> Result<Wire, Error> {
        let row = ctx.row;
        ctx.enable(&self.q_mul, row)?;
        ctx.copy(self.bit, row, a);
        ctx.copy(self.count, row, b);
        let p = ctx.assign(self.product, row, a.value * b.value);
        ctx.row += 1;
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::halo2::chips::harness::{
        cells, cells_in, fails, fails_in, narrow, passes, passes_in,
    };
    use crate::halo2::chips::table::Tables;

    fn layout(
        bits: [u64; 4],
        count: u64,
    ) -> impl Fn(&crate::halo2::chips::harness::Config, &mut Ctx) -> Result<(), Error>
           + Clone
           + Send
           + Sync {
        move |cfg, ctx| {
            let vals: Vec<Value<Fr>> = bits.iter().map(|b| Value::known(Fr::from(*b))).collect();
            let (_, n) = cfg.base.mask.mask_bits(ctx, &vals)?;
            // pin the count as a public value would
            ctx.constrain_constant(n.cell, Fr::from(count))?;
            Ok(())
        }
    }

    #[test]
    fn prefix_masks_pass() {
        passes(layout([1, 1, 1, 0], 3));
        passes(layout([0, 0, 0, 0], 0));
        passes(layout([1, 1, 1, 1], 4));
    }

    #[test]
    fn non_prefix_or_non_boolean_masks_fail() {
        fails(layout([1, 0, 1, 0], 2));
        fails(layout([0, 1, 1, 1], 3));
        fails(layout([2, 0, 0, 0], 2));
        // a count that disagrees with the bits
        fails(layout([1, 1, 0, 0], 3));
    }

    #[test]
    fn product_gate_rejects_wrong_product() {
        passes(|cfg, ctx| {
            let a = ctx.assign(cfg.base.main[3], 0, Value::known(Fr::from(6)));
            let b = ctx.assign(cfg.base.main[4], 0, Value::known(Fr::from(7)));
            ctx.row = 1;
            cfg.base.mask.mul(ctx, &a, &b).map(|_| ())
        });
        fails(|cfg, ctx| {
            let a = ctx.assign(cfg.base.main[3], 0, Value::known(Fr::from(6)));
            let b = ctx.assign(cfg.base.main[4], 0, Value::known(Fr::from(7)));
            ctx.row = 1;
            let p = cfg.base.mask.mul(ctx, &a, &b)?;
            ctx.constrain_constant(p.cell, Fr::from(43))
        });
    }

    #[test]
    fn narrow_lane_masks() {
        let (shape, none) = (narrow(), Tables::default());
        passes_in(layout([1, 1, 0, 0], 2), &none, shape);
        fails_in(layout([1, 0, 1, 0], 2), &none, shape);
        assert_eq!(
            cells_in(layout([1, 1, 1, 0], 3), &none, shape, "narrow mask"),
            8
        );
    }

    #[test]
    fn every_cell_is_bound() {
        for (bits, n) in [([1, 1, 1, 0], 3), ([1, 0, 0, 0], 1), ([1, 1, 1, 1], 4)] {
            assert_eq!(cells(layout(bits, n), "mask"), 8);
        }
        let mul = |cfg: &crate::halo2::chips::harness::Config, ctx: &mut Ctx| {
            let a = ctx.assign(cfg.base.main[3], 0, Value::known(Fr::from(6)));
            let b = ctx.assign(cfg.base.main[4], 0, Value::known(Fr::from(7)));
            ctx.row = 1;
            cfg.base.mask.mul(ctx, &a, &b).map(|_| ())
        };
        assert_eq!(cells(mul, "mask product"), 5);
    }
}
