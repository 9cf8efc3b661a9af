//! Function tables: `(tag, key, value)` rows looked up from the main lane. One table holds every
//! table of a model, told apart by tag: function tables (exp of a softmax, GELU, rsqrt, …) and
//! embeddings (key `token · d + column`). A row looks up `(tag, key, out)` with `key` and `out`
//! in the first two main columns and `tag` fixed. An embedding row also proves
//! `key = d · token + column` (token in the third main column, `d` and the column fixed), so a
//! key names one row and column of the table. Lookup inputs stay of degree 2 (selector times one column):
//! halo2-axiom 0.5.3 produced proofs that do not verify for a degree-3 input such as
//! `q · (d · token + c)`, though MockProver accepted them.

use halo2_proofs::circuit::{Layouter, Value};
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Fixed, Selector, TableColumn};
use halo2_proofs::poly::Rotation;

use crate::field::fr_from_i64;
use crate::halo2::ctx::{Ctx, Wire};
use crate::Fr;

#[derive(Debug, Clone)]
pub struct TableConfig {
    input: Column<Advice>,
    output: Column<Advice>,
    token: Column<Advice>,
    tag: Column<Fixed>,
    mul: Column<Fixed>,
    add: Column<Fixed>,
    table: [TableColumn; 3],
    q: Selector,
    q_key: Selector,
}

/// The rows of the table: `(tag, key, value)`; row 0 is all zeros, what disabled rows look up.
#[derive(Debug, Clone, Default)]
pub struct Tables {
    pub rows: Vec<(u64, i64, i64)>,
}

impl Tables {
    /// `entries[i]` is the value at key `first + i`.
    pub fn push(&mut self, tag: u64, first: i64, entries: &[i64]) {
        if self.rows.is_empty() {
            self.rows.push((0, 0, 0));
        }
        for (i, v) in entries.iter().enumerate() {
            self.rows.push((tag, first + i as i64, *v));
        }
    }
}

impl TableConfig {
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        main: &[Column<Advice>],
        fixed: &[Column<Fixed>],
    ) -> Self {
        let cfg = Self {
            input: main[0],
            output: main[1],
            token: main[2],
            tag: fixed[0],
            mul: fixed[1],
            add: fixed[2],
            table: [(); 3].map(|_| meta.lookup_table_column()),
            q: meta.complex_selector(),
            q_key: meta.selector(),
        };
        meta.lookup("function table", |m| {
            let q = m.query_selector(cfg.q);
            let input = m.query_advice(cfg.input, Rotation::cur());
            let out = m.query_advice(cfg.output, Rotation::cur());
            let tag = m.query_fixed(cfg.tag, Rotation::cur());
            vec![
                (q.clone() * tag, cfg.table[0]),
                (q.clone() * input, cfg.table[1]),
                (q * out, cfg.table[2]),
            ]
        });
        meta.create_gate("embedding key", |m| {
            let [key, token] = [cfg.input, cfg.token].map(|c| m.query_advice(c, Rotation::cur()));
            let [mul, add] = [cfg.mul, cfg.add].map(|c| m.query_fixed(c, Rotation::cur()));
            vec![m.query_selector(cfg.q_key) * (key - (mul * token + add))]
        });
        cfg
    }

    pub fn load(&self, layouter: &mut impl Layouter<Fr>, tables: &Tables) -> Result<(), Error> {
        layouter.assign_table(
            || "function table",
            |mut t| {
                for (i, (tag, key, value)) in tables.rows.iter().enumerate() {
                    let cells = [Fr::from(*tag), fr_from_i64(*key), fr_from_i64(*value)];
                    for (col, v) in self.table.iter().zip(cells) {
                        t.assign_cell(|| "", *col, i, || Value::known(v))?;
                    }
                }
                Ok(())
            },
        )
    }

    /// Turns the lookup on for a row whose first two main cells another chip assigned.
    pub fn enable(&self, ctx: &mut Ctx, row: usize, tag: u64) -> Result<(), Error> {
        ctx.enable(&self.q, row)?;
        ctx.fixed(self.tag, row, Fr::from(tag));
        Ok(())
    }

    /// `f(x)` for the table `tag`: copies `x`, assigns `value` (what `f` gives), one row.
    pub fn apply(
        &self,
        ctx: &mut Ctx,
        tag: u64,
        x: &Wire,
        value: Value<Fr>,
    ) -> Result<Wire, Error> {
        let row = ctx.row;
        ctx.copy(self.input, row, x);
        let out = ctx.assign(self.output, row, value);
        self.enable(ctx, row, tag)?;
        ctx.row += 1;
        Ok(out)
    }

    /// `values[token · d + c]` of the embedding `tag`, looked up at the key its gate proves.
    #[allow(clippy::too_many_arguments)]
    pub fn embed(
        &self,
        ctx: &mut Ctx,
        tag: u64,
        token: &Wire,
        d: usize,
        c: usize,
        value: Value<Fr>,
    ) -> Result<Wire, Error> {
        let row = ctx.row;
        ctx.copy(self.token, row, token);
        let key = token
            .value
            .map(|t| t * Fr::from(d as u64) + Fr::from(c as u64));
        ctx.assign(self.input, row, key);
        let out = ctx.assign(self.output, row, value);
        self.enable(ctx, row, tag)?;
        ctx.enable(&self.q_key, row)?;
        ctx.fixed(self.mul, row, Fr::from(d as u64));
        ctx.fixed(self.add, row, Fr::from(c as u64));
        ctx.row += 1;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::halo2::chips::harness::{cells_with, fails_with, passes_with, Config};

    const TAG_SQUARE: u64 = 1;
    const TAG_EMBED: u64 = 2;
    /// The square table's domain starts here.
    const FIRST: i64 = -64;
    const D: usize = 6;

    fn square() -> Vec<i64> {
        (FIRST..64).map(|x| x * x).collect()
    }

    /// A 5-token embedding of width 6, `i · 7 - 30` at flat index `i`.
    fn embedding() -> Vec<i64> {
        (0..5 * D as i64).map(|i| i * 7 - 30).collect()
    }

    fn tables() -> Tables {
        let mut t = Tables::default();
        t.push(TAG_SQUARE, FIRST, &square());
        t.push(TAG_EMBED, 0, &embedding());
        t
    }

    /// The square of two values and the embedding of token 3 at columns 0 and 5, each `bump`ed.
    fn layout(bump: i64) -> impl Fn(&Config, &mut Ctx) -> Result<(), Error> + Clone + Send + Sync {
        move |cfg, ctx| {
            let table = cfg.base.table.as_ref().expect("the harness has tables");
            let main = &cfg.base.main;
            let xs = [-60i64, 17];
            let xw: Vec<Wire> = (0..2)
                .map(|i| ctx.assign(main[9], i, Value::known(fr_from_i64(xs[i]))))
                .collect();
            let token = ctx.assign(main[8], 0, Value::known(Fr::from(3)));
            ctx.row = 2;
            for (x, w) in xs.iter().zip(&xw) {
                let v = fr_from_i64(square()[(x - FIRST) as usize] + bump);
                table.apply(ctx, TAG_SQUARE, w, Value::known(v))?;
            }
            for c in [0, 5] {
                let v = fr_from_i64(embedding()[3 * D + c] + bump);
                table.embed(ctx, TAG_EMBED, &token, D, c, Value::known(v))?;
            }
            Ok(())
        }
    }

    #[test]
    fn table_values_pass_and_others_fail() {
        passes_with(layout(0), &tables());
        fails_with(layout(1), &tables());
    }

    /// Another token's row under this token's key is refused.
    #[test]
    fn another_tokens_row_fails() {
        let wrong = |cfg: &Config, ctx: &mut Ctx| {
            let table = cfg.base.table.as_ref().expect("the harness has tables");
            let token = ctx.assign(cfg.base.main[8], 0, Value::known(Fr::from(3)));
            ctx.row = 1;
            let v = fr_from_i64(embedding()[4 * D]);
            table.embed(ctx, TAG_EMBED, &token, D, 0, Value::known(v))?;
            Ok(())
        };
        fails_with(wrong, &tables());
    }

    #[test]
    fn every_cell_is_bound() {
        assert_eq!(
            cells_with(layout(0), &tables(), "table"),
            2 + 1 + 2 * 2 + 2 * 3
        );
    }
}
