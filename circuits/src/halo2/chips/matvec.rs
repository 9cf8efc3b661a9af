//! Matrix-vector products with constant weights, `b` inputs by `b` outputs a row on a lane of
//! `2b` (or `2b + 1`) columns: the lane holds inputs `x_0..x_{b-1}` and accumulators
//! `acc_0..acc_{b-1}`, `b²` fixed columns hold the weight block, and
//! `acc_k = chain · acc_k(prev) + Σ_j w_jk · x_j`. A layer's outputs are laid out `b` at a time:
//! a bias row (input 1, weights = biases), an optional residual row (inputs = the residual,
//! weights = `2^shift` on the diagonal), then the inputs `b` by `b`.
//!
//! Sound because every cell of a row is bound: the inputs by copy constraints (or pinned to 0
//! past a row's end), the weights and the chain flag are fixed, and the gate determines each
//! accumulator from them and the row above; `chain = 0` on a block's first row cuts the
//! dependence on whatever lies above it. A wider lane (the speed objective's, where it lowers
//! `k`) changes only `b`, not the argument.

use halo2_proofs::circuit::Value;
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Expression, Fixed, Selector};
use halo2_proofs::poly::Rotation;
use halo2curves::ff::Field;

use crate::field::fr_from_i64;
use crate::halo2::ctx::{Ctx, Wire};
use crate::Fr;

/// The block on the standard lane of ten columns (and on the challenge lane, as wide).
pub const B: usize = 5;

/// Fixed columns a chip of block `b` needs: the weight block and the chain flag.
pub fn fixed_for(b: usize) -> usize {
    b * b + 1
}

/// The block a lane of `width` advice columns carries.
pub fn block_for(width: usize) -> usize {
    width / 2
}

/// One row of a block: its inputs, and the weight of input `j` for output `k`.
type Row<'a> = (Vec<Option<&'a Wire>>, Box<dyn Fn(usize, usize) -> i64 + 'a>);

#[derive(Debug, Clone)]
pub struct MatvecConfig {
    x: Vec<Column<Advice>>,
    acc: Vec<Column<Advice>>,
    /// `w[j][k]`: the weight of input `j` for output `k`.
    w: Vec<Vec<Column<Fixed>>>,
    chain: Column<Fixed>,
    q: Selector,
}

/// One layer for the chip: `out_dim × in_dim` weights (out-major) and biases.
pub struct Layer<'a> {
    pub in_dim: usize,
    pub out_dim: usize,
    pub weights: &'a [i64],
    pub bias: &'a [i64],
    /// `2^shift` scales the residual.
    pub shift: u32,
}

impl MatvecConfig {
    /// The chip of block [`block_for`]`(main.len())` on `main` and the first
    /// [`fixed_for`] of `fixed`.
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        main: &[Column<Advice>],
        fixed: &[Column<Fixed>],
    ) -> Self {
        let b = block_for(main.len());
        assert!(
            fixed.len() >= fixed_for(b),
            "a block of {b} needs {} fixed columns",
            fixed_for(b)
        );
        let cfg = Self {
            x: main[..b].to_vec(),
            acc: main[b..2 * b].to_vec(),
            w: (0..b).map(|j| fixed[j * b..(j + 1) * b].to_vec()).collect(),
            chain: fixed[b * b],
            q: meta.selector(),
        };
        meta.create_gate("matvec", |m| {
            let q = m.query_selector(cfg.q);
            let chain = m.query_fixed(cfg.chain, Rotation::cur());
            let xs: Vec<_> = cfg
                .x
                .iter()
                .map(|c| m.query_advice(*c, Rotation::cur()))
                .collect();
            (0..b)
                .map(|k| {
                    let acc = m.query_advice(cfg.acc[k], Rotation::cur());
                    let prev = m.query_advice(cfg.acc[k], Rotation::prev());
                    let sum = (0..b).fold(Expression::Constant(Fr::ZERO), |s, j| {
                        s + m.query_fixed(cfg.w[j][k], Rotation::cur()) * xs[j].clone()
                    });
                    q.clone() * (acc - chain.clone() * prev - sum)
                })
                .collect::<Vec<_>>()
        });
        cfg
    }

    /// Inputs (and outputs) of one row.
    pub fn block(&self) -> usize {
        self.x.len()
    }

    /// Rows [`Self::assign`] lays out for `out_dim` outputs over `in_dim` inputs, without a
    /// residual.
    pub fn rows_for(&self, in_dim: usize, out_dim: usize) -> usize {
        out_dim.div_ceil(self.block()) * (1 + in_dim.div_ceil(self.block()))
    }

    /// `bias + Σ w · x (+ residual · 2^shift)` for every output; `one` is a cell pinned to 1.
    pub fn assign(
        &self,
        ctx: &mut Ctx,
        layer: &Layer,
        x: &[Wire],
        residual: Option<&[Wire]>,
        one: &Wire,
    ) -> Result<Vec<Wire>, Error> {
        self.assign_with(ctx, layer, x, residual, one, |_, v| v)
    }

    /// As [`Self::assign`], with `adjust(output, honest)` choosing each finished accumulator.
    pub(crate) fn assign_with(
        &self,
        ctx: &mut Ctx,
        layer: &Layer,
        x: &[Wire],
        residual: Option<&[Wire]>,
        one: &Wire,
        adjust: impl Fn(usize, Value<Fr>) -> Value<Fr>,
    ) -> Result<Vec<Wire>, Error> {
        assert_eq!(x.len(), layer.in_dim);
        let b = self.block();
        let zero = Value::known(Fr::ZERO);
        let mut outs = Vec::with_capacity(layer.out_dim);
        for g in 0..layer.out_dim.div_ceil(b) {
            let outputs: Vec<usize> = (g * b..((g + 1) * b).min(layer.out_dim)).collect();
            // Each row: (inputs, weight of input j for output k).
            let mut rows: Vec<Row<'_>> = Vec::new();
            rows.push((
                vec![Some(one)],
                Box::new(|j, k| if j == 0 { layer.bias[k] } else { 0 }),
            ));
            if let Some(res) = residual {
                let ins = outputs.iter().map(|o| Some(&res[*o])).collect();
                let diag = 1i64 << layer.shift;
                rows.push((ins, Box::new(move |j, k| if j == k % b { diag } else { 0 })));
            }
            for c in 0..layer.in_dim.div_ceil(b) {
                let ins = (c * b..((c + 1) * b).min(layer.in_dim))
                    .map(|i| Some(&x[i]))
                    .collect();
                rows.push((
                    ins,
                    Box::new(move |j, k| layer.weights[k * layer.in_dim + c * b + j]),
                ));
            }
            let mut acc = vec![zero; b];
            let mut cells = Vec::new();
            let last = rows.len() - 1;
            for (r, (ins, weight)) in rows.iter().enumerate() {
                let row = ctx.row;
                ctx.enable(&self.q, row)?;
                ctx.fixed(self.chain, row, if r == 0 { Fr::ZERO } else { Fr::ONE });
                // Inputs past the row's end are pinned zeros: their weights are 0, but a plain
                // witness there would still be a free cell.
                let xv: Vec<Value<Fr>> = (0..b)
                    .map(|j| match ins.get(j).copied().flatten() {
                        Some(w) => Ok(ctx.copy(self.x[j], row, w).value),
                        None => ctx.zero(self.x[j], row).map(|w| w.value),
                    })
                    .collect::<Result<_, Error>>()?;
                cells.clear();
                for (k, a) in acc.iter_mut().enumerate() {
                    let o = outputs.get(k).copied();
                    for (j, v) in xv.iter().enumerate() {
                        let w = match (o, ins.get(j)) {
                            (Some(o), Some(_)) => weight(j, o),
                            _ => 0,
                        };
                        ctx.fixed(self.w[j][k], row, fr_from_i64(w));
                        if w != 0 {
                            *a = *a + *v * Value::known(fr_from_i64(w));
                        }
                    }
                    let v = match o {
                        Some(o) if r == last => adjust(o, *a),
                        _ => *a,
                    };
                    cells.push(ctx.assign(self.acc[k], row, v));
                }
                ctx.row += 1;
            }
            outs.extend(cells.into_iter().take(outputs.len()));
        }
        Ok(outs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::halo2::chips::harness::{self, cells_in, fails_in, passes_in, Config};
    use crate::halo2::chips::table::Tables;

    const IN: usize = 7;
    const OUT: usize = 6;

    fn weights() -> Vec<i64> {
        (0..IN * OUT).map(|i| (i as i64 * 37) % 23 - 11).collect()
    }

    /// `W·x + b + 4·res` on 7 inputs and 6 outputs (both rows end in padding), outputs pinned.
    fn layout(bump: i64) -> impl Fn(&Config, &mut Ctx) -> Result<(), Error> + Clone + Send + Sync {
        move |cfg, ctx| {
            let main = &cfg.base.main;
            let (w, bias) = (weights(), vec![5i64, -3, 0, 9, 1, -8]);
            let xs: Vec<i64> = (0..IN as i64).map(|i| i * 13 - 40).collect();
            let res: Vec<i64> = (0..OUT as i64).map(|i| 20 - i * 9).collect();
            let one = ctx.constant(main[0], 0, Fr::ONE)?;
            let xw: Vec<Wire> = (0..IN)
                .map(|i| ctx.assign(main[9], i, Value::known(fr_from_i64(xs[i]))))
                .collect();
            let rw: Vec<Wire> = (0..OUT)
                .map(|i| ctx.assign(main[8], i, Value::known(fr_from_i64(res[i]))))
                .collect();
            ctx.row = IN;
            let layer = Layer {
                in_dim: IN,
                out_dim: OUT,
                weights: &w,
                bias: &bias,
                shift: 2,
            };
            let bumped = Value::known(fr_from_i64(bump));
            let outs = cfg
                .base
                .matvec
                .as_ref()
                .expect("the harness has matvec")
                .assign_with(ctx, &layer, &xw, Some(&rw), &one, |o, v| {
                    if o == OUT - 1 {
                        v + bumped
                    } else {
                        v
                    }
                })?;
            for (o, cell) in outs.iter().enumerate() {
                let want: i64 =
                    bias[o] + 4 * res[o] + (0..IN).map(|i| w[o * IN + i] * xs[i]).sum::<i64>();
                ctx.constrain_constant(cell.cell, fr_from_i64(want))?;
            }
            Ok(())
        }
    }

    /// The standard lane (blocks of 5) and the wider ones the speed objective may take.
    fn lanes() -> Vec<crate::halo2::config::Shape> {
        use crate::halo2::config::{MAIN_WIDTH, MAX_WIDTH};
        (MAIN_WIDTH..=MAX_WIDTH)
            .step_by(2)
            .map(|main_width| crate::halo2::config::Shape {
                main_width,
                ..harness::wide()
            })
            .collect()
    }

    #[test]
    fn honest_products_pass_and_a_wrong_one_fails() {
        for shape in lanes() {
            passes_in(layout(0), &Tables::default(), shape);
            fails_in(layout(1), &Tables::default(), shape);
        }
    }

    #[test]
    fn every_cell_is_bound() {
        for shape in lanes() {
            let b = block_for(shape.main_width);
            // the inputs and residuals, and every input and accumulator of every bias, residual
            // and input row
            let rows = OUT.div_ceil(b) * (2 + IN.div_ceil(b));
            let n = cells_in(layout(0), &Tables::default(), shape, "matvec");
            assert!(n > IN + OUT + rows * 2 * b, "block {b}: {n} cells");
        }
    }

    #[test]
    fn rows_for_counts_what_assign_lays_out() {
        for shape in lanes() {
            let mut meta = ConstraintSystem::<Fr>::default();
            let cfg = Config::configure(&mut meta, shape);
            let chip = cfg.base.matvec.as_ref().expect("matvec");
            assert_eq!(chip.block(), block_for(shape.main_width));
            let mut ctx = Ctx::counter();
            let one = ctx.constant(cfg.base.main[0], 0, Fr::ONE).unwrap();
            let x: Vec<Wire> = (0..IN)
                .map(|i| ctx.assign(cfg.base.main[1], i, Value::known(Fr::from(i as u64))))
                .collect();
            ctx.row = IN;
            let (w, bias) = (weights(), vec![0i64; OUT]);
            let layer = Layer {
                in_dim: IN,
                out_dim: OUT,
                weights: &w,
                bias: &bias,
                shift: 0,
            };
            chip.assign(&mut ctx, &layer, &x, None, &one).unwrap();
            assert_eq!(ctx.row - IN, chip.rows_for(IN, OUT));
        }
    }
}
