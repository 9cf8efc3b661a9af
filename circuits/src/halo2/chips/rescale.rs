//! Rescale with clamp: `y = clamp(⌊acc · M0 / 2^n + 1/2⌋, min, max)`, one row per value.
//!
//! Witness: quotient `q` and remainder `r` of `acc · M0 + 2^(n-1) = q · 2^n + r`, the flags
//! `lo` (`q < min`) and `hi` (`q > max`), the slack `d` and the output `y`. Range checks on `r`,
//! `d` and `y` make the division and both clamp decisions unique: the argument is in
//! [`crate::ops::rescale`]. With `n = 0` the remainder is pinned to 0 instead of checked, which
//! saves a range row for each comparison built on a rescale.

use halo2_proofs::circuit::Value;
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Expression, Fixed, Selector};
use halo2_proofs::poly::Rotation;
use halo2curves::ff::Field;

use crate::field::{fr_from_i128, fr_to_i128};
use crate::halo2::chips::range::RangeConfig;
use crate::halo2::config::place;
use crate::halo2::ctx::{Ctx, Wire};
pub use crate::ops::rescale::RescaleParams;
use crate::ops::rescale::RescaleSteps;
use crate::Fr;

#[derive(Debug, Clone)]
pub struct RescaleConfig {
    main: Vec<Column<Advice>>,
    multiplier: Column<Fixed>,
    divisor: Column<Fixed>,
    half: Column<Fixed>,
    max: Column<Fixed>,
    min: Column<Fixed>,
    q: Selector,
}

/// The witness of one row, exposed so tests can corrupt it.
#[derive(Debug, Clone, Copy)]
pub struct RescaleWitness {
    pub q: Fr,
    pub r: Fr,
    pub lo: Fr,
    pub hi: Fr,
    pub d: Fr,
    pub y: Fr,
}

impl RescaleWitness {
    pub fn honest(acc: &Fr, p: &RescaleParams) -> Self {
        // A value the circuit cannot accept gets zeros, which fail the constraints.
        let st = fr_to_i128(acc)
            .and_then(|v| RescaleSteps::honest(v, p))
            .unwrap_or_default();
        let f = fr_from_i128;
        Self {
            q: f(st.q),
            r: f(st.r),
            lo: f(st.lo),
            hi: f(st.hi),
            d: f(st.d),
            y: f(st.y),
        }
    }

    fn cells(&self) -> [Fr; CELLS - 1] {
        [self.q, self.r, self.lo, self.hi, self.d, self.y]
    }
}

/// Cells of one rescale: the accumulator and the witness.
const CELLS: usize = 7;

impl RescaleConfig {
    /// The chip on `main` (at least five columns) and the first five of `fixed`.
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        main: &[Column<Advice>],
        fixed: &[Column<Fixed>],
    ) -> Self {
        let cfg = Self {
            main: main.to_vec(),
            multiplier: fixed[0],
            divisor: fixed[1],
            half: fixed[2],
            max: fixed[3],
            min: fixed[4],
            q: meta.selector(),
        };
        meta.create_gate("rescale", |m| {
            let s = m.query_selector(cfg.q);
            let [acc, quo, r, lo, hi, d, y] = std::array::from_fn::<_, CELLS, _>(|i| {
                let (col, row) = place(&cfg.main, i);
                m.query_advice(col, Rotation(row as i32))
            });
            let [mult, div, half, max, min] =
                [cfg.multiplier, cfg.divisor, cfg.half, cfg.max, cfg.min]
                    .map(|col| m.query_fixed(col, Rotation::cur()));
            let one = Expression::Constant(Fr::ONE);
            let mid = one.clone() - lo.clone() - hi.clone();
            let slack = lo.clone() * (min.clone() - one.clone() - quo.clone())
                + hi.clone() * (quo.clone() - max.clone() - one.clone())
                + mid.clone() * (max.clone() - quo.clone());
            let out = lo.clone() * min + hi.clone() * max + mid * quo.clone();
            vec![
                s.clone() * lo.clone() * (one.clone() - lo.clone()),
                s.clone() * hi.clone() * (one - hi.clone()),
                s.clone() * lo * hi,
                s.clone() * (acc * mult + half - quo * div - r),
                s.clone() * (d - slack),
                s * (y - out),
            ]
        });
        cfg
    }

    /// Main-lane rows of one rescale.
    pub fn rows(&self) -> usize {
        CELLS.div_ceil(self.main.len())
    }

    pub fn assign(
        &self,
        ctx: &mut Ctx,
        range: &RangeConfig,
        acc: &Wire,
        p: &RescaleParams,
    ) -> Result<Wire, Error> {
        let w = acc.value.map(|v| RescaleWitness::honest(&v, p));
        self.assign_witness(ctx, range, acc, p, w)
    }

    pub(crate) fn assign_witness(
        &self,
        ctx: &mut Ctx,
        range: &RangeConfig,
        acc: &Wire,
        p: &RescaleParams,
        w: Value<RescaleWitness>,
    ) -> Result<Wire, Error> {
        let row = ctx.row;
        ctx.enable(&self.q, row)?;
        let f = crate::field::fr_from_i64;
        for (col, v) in [
            (self.multiplier, f(p.multiplier)),
            (self.divisor, f(1i64 << p.shift)),
            (self.half, f(p.half())),
            (self.max, f(p.max)),
            (self.min, f(p.min)),
        ] {
            ctx.fixed(col, row, v);
        }
        let (col, at) = place(&self.main, 0);
        ctx.copy(col, row + at, acc);
        let parts = w.map(|w| w.cells());
        let mut cells = Vec::with_capacity(CELLS - 1);
        for i in 0..CELLS - 1 {
            let (col, at) = place(&self.main, i + 1);
            let v = parts.map(|p| p[i]);
            // the remainder of a division by 2^0 is 0: pinned, not range-checked
            cells.push(match (i, p.shift) {
                (1, 0) => ctx.pinned(col, row + at, v)?,
                _ => ctx.assign(col, row + at, v),
            });
        }
        ctx.row += self.rows();
        let (r, d, y) = (&cells[1], &cells[4], &cells[5]);
        if p.shift > 0 {
            range.check(ctx, r, p.shift, 0)?;
        }
        range.check(ctx, d, p.d_bits(), 0)?;
        let (floor, bits) = p.y_check();
        range.check(ctx, y, bits, -floor)?;
        Ok(y.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // Every test runs on the standard lane, the narrow one and the widest.
    use crate::halo2::chips::harness::{self, narrow, wide, widest, Config};
    use crate::halo2::chips::harness::{
        fails_on_every_lane as fails, passes_on_every_lane as passes,
    };
    use crate::halo2::chips::table::Tables;
    use crate::ops::rescale::rescale;

    fn cells<F>(f: F, what: &str) -> usize
    where
        F: Fn(&Config, &mut Ctx) -> Result<(), Error> + Clone + Send + Sync,
    {
        let standard = harness::cells_in(f.clone(), &Tables::default(), wide(), what);
        let narrow = harness::cells_in(f.clone(), &Tables::default(), narrow(), what);
        let widest = harness::cells_in(f, &Tables::default(), widest(), what);
        assert_eq!(standard, narrow, "{what}: the same cells on every lane");
        assert_eq!(standard, widest, "{what}: the same cells on every lane");
        standard
    }

    const P: RescaleParams = RescaleParams {
        multiplier: 3,
        shift: 4,
        min: -128,
        max: 127,
        acc_bits: 20,
    };

    /// A division by 2^0 (a comparison's rescale): its remainder is pinned, not checked.
    const EXACT: RescaleParams = RescaleParams {
        multiplier: 1,
        shift: 0,
        ..P
    };

    fn layout(
        acc: i128,
        p: RescaleParams,
        corrupt: fn(&mut RescaleWitness),
    ) -> impl Fn(&Config, &mut Ctx) -> Result<(), Error> + Clone + Send + Sync {
        move |cfg, ctx| {
            let accw = ctx.assign(cfg.base.main[0], ctx.row, Value::known(fr_from_i128(acc)));
            ctx.row += 1;
            let mut w = RescaleWitness::honest(&fr_from_i128(acc), &p);
            corrupt(&mut w);
            let y = cfg.base.rescale.assign_witness(
                ctx,
                &cfg.base.range,
                &accw,
                &p,
                Value::known(w),
            )?;
            let want = rescale(acc, p.multiplier, p.shift, p.min, p.max).unwrap();
            y.value.assert_if_known(|v| {
                *v == crate::field::fr_from_i64(want)
                    || w.y != RescaleWitness::honest(&fr_from_i128(acc), &p).y
            });
            Ok(())
        }
    }

    #[test]
    fn honest_rescale_matches_reference() {
        let relu = RescaleParams { min: 0, ..P };
        let identity = RescaleParams {
            multiplier: 1,
            shift: 0,
            min: 0,
            max: 127,
            acc_bits: 8,
        };
        for acc in [
            0i128,
            5,
            -5,
            8,
            -8,
            13,
            -13,
            100,
            -100,
            800,
            -800,
            1000,
            -1000,
            (1 << 20) - 1,
            -(1 << 20) + 1,
        ] {
            passes(layout(acc, P, |_| {}));
            passes(layout(acc, relu, |_| {}));
        }
        for acc in [-128i128, -1, 0, 1, 127] {
            passes(layout(acc, identity, |_| {}));
        }
    }

    #[test]
    fn corrupted_witness_fails() {
        // wrong rounding (quotient off by one, remainder adjusted to keep the division equation)
        fails(layout(13, P, |w| {
            w.q += Fr::ONE;
            w.r -= Fr::from(16);
            w.y += Fr::ONE;
            w.d -= Fr::ONE;
        }));
        // another remainder in range, with the quotient solved for it in the field: the division
        // holds, but `q` is far from any integer the slack's range check allows
        fails(layout(13, P, |w| {
            w.r += Fr::ONE;
            w.q -= Fr::from(16).invert().unwrap();
            w.y = w.q;
            w.d = Fr::from(127) - w.q;
        }));
        // output that is not the clamped quotient
        fails(layout(13, P, |w| w.y += Fr::ONE));
        // claims no clamp when the value exceeds the ceiling
        fails(layout(1000, P, |w| {
            w.hi = Fr::ZERO;
            w.y = w.q;
            w.d = Fr::from(127) - w.q;
        }));
        // claims no clamp when the value is below the floor
        fails(layout(-1000, P, |w| {
            w.lo = Fr::ZERO;
            w.y = w.q;
            w.d = Fr::from(127) - w.q;
        }));
        // claims a clamp when the value is within range, on either side
        fails(layout(100, P, |w| {
            w.hi = Fr::ONE;
            w.y = Fr::from(127);
            w.d = w.q - Fr::from(128);
        }));
        fails(layout(100, P, |w| {
            w.lo = Fr::ONE;
            w.y = -Fr::from(128);
            w.d = -Fr::from(129) - w.q;
        }));
        // non-boolean and non-exclusive flags
        fails(layout(100, P, |w| w.hi = Fr::from(2)));
        fails(layout(1000, P, |w| w.lo = Fr::ONE));
        // ReLU letting a negative value through: the slack holds, the output's check does not
        fails(layout(-100, RescaleParams { min: 0, ..P }, |w| {
            w.lo = Fr::ZERO;
            w.y = w.q;
            w.d = Fr::from(127) - w.q;
        }));
        // a division by 2^0 with a remainder
        fails(layout(40, EXACT, |w| {
            w.r = Fr::ONE;
            w.q -= Fr::ONE;
            w.y -= Fr::ONE;
            w.d += Fr::ONE;
        }));
    }

    #[test]
    fn accumulator_far_beyond_its_bound_fails() {
        // The graph's bounds hold by construction; a quotient outside the slack's window fails
        // whatever the flags say.
        fails(layout(1 << 24, P, |_| {}));
        fails(layout(-(1 << 24), P, |_| {}));
    }

    #[test]
    fn every_cell_is_bound() {
        // Zero, rounding both ways, clamping both ways, ReLU, and an exact division.
        for acc in [0i128, 13, -13, 1000, -1000] {
            assert!(cells(layout(acc, P, |_| {}), "rescale") > 10);
        }
        for acc in [0i128, -100] {
            cells(layout(acc, RescaleParams { min: 0, ..P }, |_| {}), "relu");
        }
        for acc in [-40i128, 0, 40, 1000] {
            cells(layout(acc, EXACT, |_| {}), "exact");
        }
    }
}
