//! Range checks of any width: `w + offset ∈ [0, 2^bits)`. The value is split into limbs of the
//! circuit's limb width `b` in a lane of its own, one advice column holding the running sum
//! `sum_i = limb_i + 2^b · sum_{i+1}` from `sum_0 = w`. The limb is not a cell: each row looks up
//! `(width, sum + offset − chain · 2^b · sum_next)` in a table holding every `(p, v)` with
//! `v < 2^p`, `p ≤ b`, where the fixed `chain` is 1 on every row of a check but its last. So the
//! lookup is the whole constraint: the limbs telescope to `w + offset`, each bounded exactly by
//! its row's width (the full width `b`, the top limb its own), and a narrow top limb costs no
//! extra row. On rows without a check the width, offset and chain are 0 and the table's only
//! entry of width 0 is `(0, 0)`, so an unused sum cell is held to 0 rather than left free.
//!
//! The lookup's input is of degree 2, which makes the circuit's degree 5: the quotient keeps its
//! 4× evaluation domain (one more piece to commit), and each permutation product covers three
//! columns instead of two. Against a limb column and a gate, a lane saves one advice column (a
//! commitment, its FFTs and its opening) and two selectors.
//!
//! The table has `2^(b+1) − 1` rows, so a plan picks `b` per circuit: wide limbs where range
//! checks fix `k`, narrow ones where the table would. A circuit may configure several lanes
//! (each with its own lookup); every check goes to the lane with the fewest rows so far.

use halo2_proofs::circuit::{Layouter, Value};
use halo2_proofs::plonk::{
    Advice, Column, ConstraintSystem, Error, Expression, Fixed, TableColumn,
};
use halo2_proofs::poly::Rotation;

use crate::field::{fr_bits, fr_from_i64};
use crate::halo2::ctx::{Ctx, Wire};
use crate::Fr;

/// The narrowest limb width a plan uses: its table (511 rows) fits circuits from `k = 10` on, so
/// the table does not set the size of a small model's circuit.
pub const MIN_LIMB_BITS: u32 = 8;
/// The widest: its table (`2^19` rows) fits circuits from `k = 20` on.
pub const MAX_LIMB_BITS: u32 = 18;

/// Range lanes a circuit may configure.
pub const MAX_LANES: usize = 3;

#[derive(Debug, Clone)]
struct Lane {
    sum: Column<Advice>,
    offset: Column<Fixed>,
    /// The width each limb is looked up under; 0 on rows without one.
    width: Column<Fixed>,
    /// 1 where the next row holds the rest of this check's running sum.
    chain: Column<Fixed>,
}

#[derive(Debug, Clone)]
pub struct RangeConfig {
    lanes: Vec<Lane>,
    /// Limb width of every lane.
    bits: u32,
    width: TableColumn,
    value: TableColumn,
}

/// Rows of the table for limbs of `bits`: every value below `2^p` for each `p ≤ bits`.
pub fn table_rows(bits: u32) -> usize {
    (1usize << (bits + 1)) - 1
}

/// Limbs of a `bits`-wide check on `limb`-bit limbs, and the width of the top one.
fn shape(bits: u32, limb: u32) -> (usize, u32) {
    let limbs = bits.div_ceil(limb).max(1);
    (limbs as usize, bits - limb * (limbs - 1))
}

impl RangeConfig {
    /// `lanes` lanes of `bits`-bit limbs.
    pub fn configure(meta: &mut ConstraintSystem<Fr>, lanes: usize, bits: u32) -> Self {
        assert!((1..=MAX_LANES).contains(&lanes));
        assert!((MIN_LIMB_BITS..=MAX_LIMB_BITS).contains(&bits));
        let width = meta.lookup_table_column();
        let value = meta.lookup_table_column();
        let all: Vec<Lane> = (0..lanes).map(|_| Self::lane(meta)).collect();
        for lane in &all {
            Self::constrain(meta, lane, bits, width, value);
        }
        Self {
            lanes: all,
            bits,
            width,
            value,
        }
    }

    fn lane(meta: &mut ConstraintSystem<Fr>) -> Lane {
        Lane {
            sum: meta.advice_column(),
            offset: meta.fixed_column(),
            width: meta.fixed_column(),
            chain: meta.fixed_column(),
        }
    }

    fn constrain(
        meta: &mut ConstraintSystem<Fr>,
        cfg: &Lane,
        bits: u32,
        width: TableColumn,
        value: TableColumn,
    ) {
        meta.enable_equality(cfg.sum);
        let base = Expression::Constant(Fr::from(1u64 << bits));
        meta.lookup("range limb", |m| {
            let sum = m.query_advice(cfg.sum, Rotation::cur());
            let next = m.query_advice(cfg.sum, Rotation::next());
            let offset = m.query_fixed(cfg.offset, Rotation::cur());
            let chain = m.query_fixed(cfg.chain, Rotation::cur());
            vec![
                (m.query_fixed(cfg.width, Rotation::cur()), width),
                (sum + offset - chain * base * next, value),
            ]
        });
    }

    pub fn load_table(&self, layouter: &mut impl Layouter<Fr>) -> Result<(), Error> {
        layouter.assign_table(
            || "range table",
            |mut t| {
                let mut row = 0;
                for p in 0..=self.bits {
                    for v in 0..1u64 << p {
                        t.assign_cell(|| "", self.width, row, || Value::known(Fr::from(p as u64)))?;
                        t.assign_cell(|| "", self.value, row, || Value::known(Fr::from(v)))?;
                        row += 1;
                    }
                }
                Ok(())
            },
        )
    }

    /// Constrains `w ∈ [0, max]` for `0 ≤ max < 2^62`.
    pub fn within(&self, ctx: &mut Ctx, w: &Wire, max: i64) -> Result<(), Error> {
        self.between(ctx, w, 0, max)
    }

    /// Constrains `w ∈ [min, max]` for `min ≤ 0 ≤ max`, `max - min < 2^62`: `w - min` and
    /// `w - min + 2^b - 1 - (max - min)` both `b`-bit, `b` the width of `max - min`. Where
    /// `max - min = 2^b - 1` the two are one check.
    pub fn between(&self, ctx: &mut Ctx, w: &Wire, min: i64, max: i64) -> Result<(), Error> {
        let span = max - min;
        let b = (64 - span.leading_zeros()).max(1);
        self.check(ctx, w, b, -min)?;
        if span == (1i64 << b) - 1 {
            return Ok(());
        }
        self.check(ctx, w, b, (1i64 << b) - 1 - span - min)
    }

    /// Constrains `w + offset ∈ [0, 2^bits)`.
    pub fn check(&self, ctx: &mut Ctx, w: &Wire, bits: u32, offset: i64) -> Result<(), Error> {
        let lane_index = (0..self.lanes.len())
            .min_by_key(|i| ctx.range_rows[*i])
            .expect("at least one lane");
        let lane = &self.lanes[lane_index];
        let b = self.bits;
        let (limbs, top) = shape(bits, b);
        let v = w.value.map(|x| x + fr_from_i64(offset));
        let start = ctx.range_rows[lane_index];
        // sum_i = Σ_{j ≥ i} limb_j 2^{b (j - i)}, with sum_0 holding w (the offset is added in
        // the lookup's input).
        for i in 0..limbs {
            let row = start + i;
            if i == 0 {
                ctx.copy(lane.sum, row, w);
                ctx.fixed(lane.offset, row, fr_from_i64(offset));
            } else {
                let rest = v.map(|x| {
                    (i..limbs).rev().fold(Fr::from(0), |s, j| {
                        s * Fr::from(1u64 << b) + Fr::from(fr_bits(&x, b * j as u32, b))
                    })
                });
                ctx.assign(lane.sum, row, rest);
            }
            let last = i + 1 == limbs;
            ctx.fixed(lane.width, row, Fr::from(if last { top } else { b } as u64));
            if !last {
                ctx.fixed(lane.chain, row, Fr::from(1));
            }
        }
        ctx.range_rows[lane_index] += limbs;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::fr_from_i128;
    use crate::halo2::chips::harness::{cells, fails, passes};

    use crate::halo2::chips::harness::Config;

    /// `v` in a main-lane cell, then `f` on the range chip and that cell.
    fn on(
        v: i128,
        f: impl Fn(&RangeConfig, &mut Ctx, &Wire) -> Result<(), Error> + Clone,
    ) -> impl Fn(&Config, &mut Ctx) -> Result<(), Error> + Clone {
        move |cfg, ctx| {
            let w = ctx.assign(cfg.base.main[0], 0, Value::known(fr_from_i128(v)));
            ctx.row += 1;
            f(&cfg.base.range, ctx, &w)
        }
    }

    fn check(
        v: i128,
        bits: u32,
        offset: i64,
    ) -> impl Fn(&Config, &mut Ctx) -> Result<(), Error> + Clone {
        on(v, move |r, ctx, w| r.check(ctx, w, bits, offset))
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

    fn between(
        v: i128,
        min: i64,
        max: i64,
    ) -> impl Fn(&Config, &mut Ctx) -> Result<(), Error> + Clone {
        on(v, move |r, ctx, w| r.between(ctx, w, min, max))
    }

    #[test]
    fn between_holds_both_ends() {
        // spans of 2^b - 1 (one check) and of other widths (two)
        for (min, max) in [(0, 1), (-128, 127), (0, 255), (-3, 3), (0, 200), (-5, 0)] {
            for v in [min, max, (min + max) / 2] {
                passes(between(v as i128, min, max));
            }
            fails(between(min as i128 - 1, min, max));
            fails(between(max as i128 + 1, min, max));
        }
        assert_eq!(cells(between(1, 0, 1), "boolean"), 1 + 1);
        assert_eq!(cells(between(100, 0, 200), "byte and a half"), 1 + 2);
    }

    #[test]
    fn every_cell_is_bound() {
        // One limb; two with a narrow top; five (the harness's limbs are the narrowest, 8-bit).
        assert_eq!(cells(check(-128, 8, 128), "range"), 1 + 1);
        assert_eq!(cells(check(255, 11, 0), "range"), 1 + 2);
        assert_eq!(cells(check((1 << 40) - 1, 40, 0), "range"), 1 + 5);
    }
}
