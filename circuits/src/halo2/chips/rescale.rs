//! Rescale with clamp: `y = clamp(round_half_away(acc · M0 / 2^n), min, max)`, one row per value.
//!
//! Witness: sign `s`, magnitude `u = |acc|`, quotient `q` and remainder `r` of
//! `u · M0 + 2^(n-1) = q · 2^n + r`, clamp flag `c`, clamped magnitude `m`, slack `d`, output `y`.
//! Range checks on `u`, `r` and `d` make the sign, the division and the comparison with the cap
//! (`max` for positive values, `-min` for negative ones) unique; ReLU is the case `min = 0`.
//! A `q` from another remainder in range differs from the true one by `δ · 2^-n` with
//! `0 < |δ| < 2^n`, a field element far outside the slack's range, so `d`'s check also pins `q`.

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
    hi: Column<Fixed>,
    neg_lo: Column<Fixed>,
    q: Selector,
}

/// The witness of one row, exposed so tests can corrupt it.
#[derive(Debug, Clone, Copy)]
pub struct RescaleWitness {
    pub s: Fr,
    pub u: Fr,
    pub q: Fr,
    pub r: Fr,
    pub c: Fr,
    pub m: Fr,
    pub d: Fr,
    pub y: Fr,
}

impl RescaleWitness {
    pub fn honest(acc: &Fr, p: &RescaleParams) -> Self {
        // A value the circuit cannot accept gets zeros, which fail the range checks.
        let Some(st) = fr_to_i128(acc).and_then(|v| RescaleSteps::honest(v, p)) else {
            return Self::zero();
        };
        let f = fr_from_i128;
        Self {
            s: f(st.s),
            u: f(st.u),
            q: f(st.q),
            r: f(st.r),
            c: f(st.c),
            m: f(st.m),
            d: f(st.d),
            y: f(st.y),
        }
    }

    fn zero() -> Self {
        let z = Fr::ZERO;
        Self {
            s: z,
            u: z,
            q: z,
            r: z,
            c: z,
            m: z,
            d: z,
            y: z,
        }
    }
}

/// Cells of one rescale.
const CELLS: usize = 9;

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
            hi: fixed[3],
            neg_lo: fixed[4],
            q: meta.selector(),
        };
        meta.create_gate("rescale", |m| {
            let q = m.query_selector(cfg.q);
            let [acc, s, u, quo, r, c, mag, d, y] = std::array::from_fn::<_, CELLS, _>(|i| {
                let (col, row) = place(&cfg.main, i);
                m.query_advice(col, Rotation(row as i32))
            });
            let [mult, div, half, hi, neg_lo] =
                [cfg.multiplier, cfg.divisor, cfg.half, cfg.hi, cfg.neg_lo]
                    .map(|col| m.query_fixed(col, Rotation::cur()));
            let one = Expression::Constant(Fr::ONE);
            let two = Expression::Constant(Fr::from(2));
            let sign = one.clone() - two * s.clone();
            let cap = hi.clone() + s.clone() * (neg_lo - hi);
            let bool_s = s.clone() * (one.clone() - s.clone());
            let bool_c = c.clone() * (one.clone() - c.clone());
            vec![
                q.clone() * bool_s,
                q.clone() * bool_c,
                q.clone() * (u.clone() - acc * sign.clone()),
                q.clone() * (u * mult + half - quo.clone() * div - r),
                q.clone() * (mag.clone() - quo.clone() - c.clone() * (cap.clone() - quo.clone())),
                q.clone()
                    * (d - (one.clone() - c.clone()) * (cap.clone() - quo.clone())
                        - c * (quo - cap - one)),
                q * (y - mag * sign),
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
            (self.hi, f(p.max)),
            (self.neg_lo, f(-p.min)),
        ] {
            ctx.fixed(col, row, v);
        }
        let (col, at) = place(&self.main, 0);
        ctx.copy(col, row + at, acc);
        let parts: Value<[Fr; 8]> = w.map(|w| [w.s, w.u, w.q, w.r, w.c, w.m, w.d, w.y]);
        let cells: Vec<Wire> = (0..8)
            .map(|i| {
                let (col, at) = place(&self.main, i + 1);
                ctx.assign(col, row + at, parts.map(|p| p[i]))
            })
            .collect();
        ctx.row += self.rows();
        let (u, r, d, y) = (&cells[1], &cells[3], &cells[6], &cells[7]);
        range.check(ctx, u, p.u_bits(), 0)?;
        range.check(ctx, r, p.shift, 0)?;
        range.check(ctx, d, p.d_bits(), 0)?;
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
            w.m += Fr::ONE;
            w.y += Fr::ONE;
            w.d -= Fr::ONE;
        }));
        // another remainder in range, with the quotient solved for it in the field: the division
        // holds, but `q` is far from any integer the slack's range check allows
        fails(layout(13, P, |w| {
            w.r += Fr::ONE;
            w.q -= Fr::from(16).invert().unwrap();
            w.m = w.q;
            w.y = w.q;
            w.d = Fr::from(127) - w.q;
        }));
        // output that is not m·sign
        fails(layout(13, P, |w| w.y += Fr::ONE));
        // wrong sign for a positive value
        fails(layout(40, P, |w| {
            w.s = Fr::ONE;
            w.u = -w.u;
            w.y = -w.y;
        }));
        // claims no clamp when the value exceeds the cap
        fails(layout(1000, P, |w| {
            w.c = Fr::ZERO;
            w.m = w.q;
            w.y = w.q;
            w.d = Fr::from(127) - w.q;
        }));
        // claims a clamp when the value is below the cap
        fails(layout(100, P, |w| {
            w.c = Fr::ONE;
            w.m = Fr::from(127);
            w.y = Fr::from(127);
            w.d = w.q - Fr::from(128);
        }));
        // non-boolean flag
        fails(layout(100, P, |w| w.c = Fr::from(2)));
        // ReLU letting a negative value through
        fails(layout(-100, RescaleParams { min: 0, ..P }, |w| {
            w.m = w.q;
            w.c = Fr::ZERO;
            w.y = -w.q;
        }));
    }

    #[test]
    fn accumulator_beyond_its_bound_fails() {
        fails(layout(1 << 21, P, |_| {}));
    }

    #[test]
    fn every_cell_is_bound() {
        // Zero (no sign to choose), rounding both ways, clamping both ways, and ReLU.
        for acc in [0i128, 13, -13, 1000, -1000] {
            assert!(cells(layout(acc, P, |_| {}), "rescale") > 10);
        }
        for acc in [0i128, -100] {
            cells(layout(acc, RescaleParams { min: 0, ..P }, |_| {}), "relu");
        }
    }
}
