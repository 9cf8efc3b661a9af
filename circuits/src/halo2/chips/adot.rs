//! Dot products between two witness vectors (attention's `q·k` and `p·v`, LayerNorm's `Σx²`, the
//! output shift): four pairs a row, `acc = chain · acc(prev) + Σ a_i · b_i`.

use halo2_proofs::circuit::Value;
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Expression, Fixed, Selector};
use halo2_proofs::poly::Rotation;
use halo2curves::ff::Field;

use crate::halo2::ctx::{Ctx, Wire};
use crate::Fr;

pub const PAIRS: usize = 4;

#[derive(Debug, Clone)]
pub struct AdotConfig {
    a: [Column<Advice>; PAIRS],
    b: [Column<Advice>; PAIRS],
    acc: Column<Advice>,
    chain: Column<Fixed>,
    q: Selector,
}

pub fn rows_for(n: usize) -> usize {
    n.div_ceil(PAIRS).max(1)
}

impl AdotConfig {
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        main: &[Column<Advice>],
        chain: Column<Fixed>,
    ) -> Self {
        let cfg = Self {
            a: std::array::from_fn(|i| main[2 * i]),
            b: std::array::from_fn(|i| main[2 * i + 1]),
            acc: main[2 * PAIRS],
            chain,
            q: meta.selector(),
        };
        meta.create_gate("adot", |m| {
            let acc = m.query_advice(cfg.acc, Rotation::cur());
            let prev = m.query_advice(cfg.acc, Rotation::prev());
            let chain = m.query_fixed(cfg.chain, Rotation::cur());
            let sum = (0..PAIRS).fold(Expression::Constant(Fr::ZERO), |s, i| {
                s + m.query_advice(cfg.a[i], Rotation::cur())
                    * m.query_advice(cfg.b[i], Rotation::cur())
            });
            vec![m.query_selector(cfg.q) * (acc - chain * prev - sum)]
        });
        cfg
    }

    /// `Σ a_i · b_i` over copies of the given cells (`None` is a zero).
    pub fn assign(
        &self,
        ctx: &mut Ctx,
        a: &[Option<&Wire>],
        b: &[Option<&Wire>],
    ) -> Result<Wire, Error> {
        self.assign_with(ctx, a, b, |v| v)
    }

    pub(crate) fn assign_with(
        &self,
        ctx: &mut Ctx,
        a: &[Option<&Wire>],
        b: &[Option<&Wire>],
        adjust: impl Fn(Value<Fr>) -> Value<Fr>,
    ) -> Result<Wire, Error> {
        assert_eq!(a.len(), b.len());
        let rows = rows_for(a.len());
        let mut acc = Value::known(Fr::ZERO);
        let mut out = None;
        for r in 0..rows {
            let row = ctx.row;
            ctx.enable(&self.q, row)?;
            ctx.fixed(self.chain, row, if r == 0 { Fr::ZERO } else { Fr::ONE });
            for i in 0..PAIRS {
                let idx = r * PAIRS + i;
                let mut put = |col, w: Option<&Option<&Wire>>| match w.copied().flatten() {
                    Some(w) => ctx.copy(col, row, w).value,
                    None => ctx.assign(col, row, Value::known(Fr::ZERO)).value,
                };
                let va = put(self.a[i], a.get(idx));
                let vb = put(self.b[i], b.get(idx));
                acc = acc + va * vb;
            }
            let v = if r + 1 == rows { adjust(acc) } else { acc };
            out = Some(ctx.assign(self.acc, row, v));
            ctx.row += 1;
        }
        Ok(out.expect("at least one row"))
    }
}
