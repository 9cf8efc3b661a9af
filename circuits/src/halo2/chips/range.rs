//! Range checks of any width: `w + offset ∈ [0, 2^bits)`. The value is split into 12-bit limbs in a
//! lane of its own (running sum `sum_i = limb_i + 2^12 · sum_{i+1}`), each limb looked up in a
//! 12-bit table; a top limb narrower than 12 bits is looked up again shifted by `2^12 - 2^p`, which
//! bounds it by `2^p`. A circuit may configure several such lanes (each with its own lookup);
//! every check goes to the lane with the fewest rows so far.

use halo2_proofs::circuit::{Layouter, Value};
use halo2_proofs::plonk::{
    Advice, Column, ConstraintSystem, Error, Expression, Fixed, Selector, TableColumn,
};
use halo2_proofs::poly::Rotation;

use crate::field::{fr_bits, fr_from_i64};
use crate::halo2::ctx::{Ctx, Wire};
use crate::Fr;

pub const RANGE_BITS: u32 = 12;

/// Range lanes a circuit may configure.
pub const MAX_LANES: usize = 2;

#[derive(Debug, Clone)]
struct Lane {
    limb: Column<Advice>,
    sum: Column<Advice>,
    shift: Column<Fixed>,
    offset: Column<Fixed>,
    q_sum: Selector,
    q_last: Selector,
    q_shift: Selector,
    q_lookup: Selector,
}

#[derive(Debug, Clone)]
pub struct RangeConfig {
    lanes: Vec<Lane>,
    table: TableColumn,
}

/// Limbs and extra rows needed for a `bits`-wide check.
fn shape(bits: u32) -> (usize, u32, bool) {
    let limbs = bits.div_ceil(RANGE_BITS).max(1);
    let top = bits - RANGE_BITS * (limbs - 1);
    (limbs as usize, top, top < RANGE_BITS)
}

/// Rows of the range lane one check takes.
pub fn rows_for(bits: u32) -> usize {
    let (limbs, _, partial) = shape(bits);
    limbs + partial as usize
}

impl RangeConfig {
    pub fn configure(meta: &mut ConstraintSystem<Fr>, lanes: usize) -> Self {
        assert!((1..=MAX_LANES).contains(&lanes));
        // Column order (first lane, then the table) keeps one-lane keys as they always were.
        let first = Self::lane(meta);
        let table = meta.lookup_table_column();
        let mut all = vec![first];
        all.extend((1..lanes).map(|_| Self::lane(meta)));
        for lane in &all {
            Self::constrain(meta, lane, table);
        }
        Self { lanes: all, table }
    }

    fn lane(meta: &mut ConstraintSystem<Fr>) -> Lane {
        Lane {
            limb: meta.advice_column(),
            sum: meta.advice_column(),
            shift: meta.fixed_column(),
            offset: meta.fixed_column(),
            q_sum: meta.selector(),
            q_last: meta.selector(),
            q_shift: meta.selector(),
            q_lookup: meta.complex_selector(),
        }
    }

    fn constrain(meta: &mut ConstraintSystem<Fr>, cfg: &Lane, table: TableColumn) {
        meta.enable_equality(cfg.sum);
        let base = Expression::Constant(Fr::from(1u64 << RANGE_BITS));
        meta.create_gate("range", |m| {
            let limb = m.query_advice(cfg.limb, Rotation::cur());
            let sum = m.query_advice(cfg.sum, Rotation::cur());
            let next = m.query_advice(cfg.sum, Rotation::next());
            let offset = m.query_fixed(cfg.offset, Rotation::cur());
            let prev_limb = m.query_advice(cfg.limb, Rotation::prev());
            let shift = m.query_fixed(cfg.shift, Rotation::cur());
            vec![
                m.query_selector(cfg.q_sum)
                    * (sum.clone() + offset.clone() - limb.clone() - base * next),
                m.query_selector(cfg.q_last) * (sum + offset - limb.clone()),
                m.query_selector(cfg.q_shift) * (limb - prev_limb - shift),
            ]
        });
        meta.lookup("range limb", |m| {
            let q = m.query_selector(cfg.q_lookup);
            vec![(q * m.query_advice(cfg.limb, Rotation::cur()), table)]
        });
    }

    pub fn load_table(&self, layouter: &mut impl Layouter<Fr>) -> Result<(), Error> {
        layouter.assign_table(
            || "range table",
            |mut t| {
                for i in 0..(1usize << RANGE_BITS) {
                    t.assign_cell(|| "", self.table, i, || Value::known(Fr::from(i as u64)))?;
                }
                Ok(())
            },
        )
    }

    /// Constrains `w ∈ [0, max]` for `0 ≤ max < 2^62`: `w` and `w + 2^b - 1 - max` both
    /// `b`-bit, `b` the width of `max`.
    pub fn within(&self, ctx: &mut Ctx, w: &Wire, max: i64) -> Result<(), Error> {
        let b = (64 - max.leading_zeros()).max(1);
        self.check(ctx, w, b, 0)?;
        self.check(ctx, w, b, (1i64 << b) - 1 - max)
    }

    /// Constrains `w + offset ∈ [0, 2^bits)`.
    pub fn check(&self, ctx: &mut Ctx, w: &Wire, bits: u32, offset: i64) -> Result<(), Error> {
        let lane_index = (0..self.lanes.len())
            .min_by_key(|i| ctx.range_rows[*i])
            .expect("at least one lane");
        let lane = &self.lanes[lane_index];
        let (limbs, top, partial) = shape(bits);
        let v = w.value.map(|x| x + fr_from_i64(offset));
        let limb_at =
            |i: usize| v.map(|x| Fr::from(fr_bits(&x, RANGE_BITS * i as u32, RANGE_BITS)));
        let start = ctx.range_rows[lane_index];
        // sum_i = Σ_{j ≥ i} limb_j 2^{12 (j - i)}, with sum_0 holding w (the offset is in the gate).
        for i in 0..limbs {
            let row = start + i;
            let limb = limb_at(i);
            ctx.assign(lane.limb, row, limb);
            if i == 0 {
                ctx.copy(lane.sum, row, w);
                ctx.fixed(lane.offset, row, fr_from_i64(offset));
            } else {
                let rest = v.map(|x| {
                    (i..limbs).rev().fold(Fr::from(0), |s, j| {
                        s * Fr::from(1u64 << RANGE_BITS)
                            + Fr::from(fr_bits(&x, RANGE_BITS * j as u32, RANGE_BITS))
                    })
                });
                ctx.assign(lane.sum, row, rest);
                ctx.fixed(lane.offset, row, Fr::from(0));
            }
            ctx.enable(
                if i + 1 == limbs {
                    &lane.q_last
                } else {
                    &lane.q_sum
                },
                row,
            )?;
            ctx.enable(&lane.q_lookup, row)?;
        }
        if partial {
            let row = start + limbs;
            let shift = Fr::from((1u64 << RANGE_BITS) - (1u64 << top));
            ctx.assign(lane.limb, row, limb_at(limbs - 1).map(|l| l + shift));
            ctx.fixed(lane.shift, row, shift);
            ctx.enable(&lane.q_shift, row)?;
            ctx.enable(&lane.q_lookup, row)?;
        }
        ctx.range_rows[lane_index] += rows_for(bits);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::fr_from_i128;
    use crate::halo2::chips::harness::{cells, fails, passes};

    fn check(
        v: i128,
        bits: u32,
        offset: i64,
    ) -> impl Fn(&crate::halo2::chips::harness::Config, &mut Ctx) -> Result<(), Error> + Clone {
        move |cfg, ctx| {
            let w = ctx.assign(cfg.base.main[0], 0, Value::known(fr_from_i128(v)));
            ctx.row += 1;
            cfg.base.range.check(ctx, &w, bits, offset)
        }
    }

    #[test]
    fn values_in_range_pass() {
        passes(check(0, 0, 0));
        passes(check(255, 8, 0));
        passes(check(-128, 8, 128));
        passes(check(127, 8, 128));
        passes(check((1 << 40) - 1, 40, 0));
        passes(check(1 << 23, 24, 0));
    }

    #[test]
    fn values_out_of_range_fail() {
        fails(check(1, 0, 0));
        fails(check(256, 8, 0));
        fails(check(-1, 8, 0));
        fails(check(-129, 8, 128));
        fails(check(128, 8, 128));
        fails(check(1 << 40, 40, 0));
        fails(check(1 << 24, 24, 0));
        fails(check(-(1 << 20), 40, 0));
    }

    #[test]
    fn every_cell_is_bound() {
        // One limb; a partial top limb (its shifted copy too); four limbs with a partial top.
        assert_eq!(cells(check(255, 12, 0), "range"), 1 + 2);
        assert_eq!(cells(check(-128, 8, 128), "range"), 1 + 3);
        assert_eq!(cells(check((1 << 40) - 1, 40, 0), "range"), 1 + 4 * 2 + 1);
    }
}
