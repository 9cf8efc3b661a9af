//! Matrix-vector products with constant weights, five inputs by five outputs a row: the main lane
//! holds inputs `x_0..x_4` and accumulators `acc_0..acc_4`, 25 fixed columns hold the weight block,
//! and `acc_k = chain · acc_k(prev) + Σ_j w_jk · x_j`. A layer's outputs are laid out five at a
//! time: a bias row (input 1, weights = biases), an optional residual row (inputs = the residual,
//! weights = `2^shift` on the diagonal), then the inputs five by five.

use halo2_proofs::circuit::Value;
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Expression, Fixed, Selector};
use halo2_proofs::poly::Rotation;
use halo2curves::ff::Field;

use crate::field::fr_from_i64;
use crate::halo2::ctx::{Ctx, Wire};
use crate::Fr;

pub const B: usize = 5;
/// Fixed columns the chip needs: the weight block and the chain flag.
pub const FIXED: usize = B * B + 1;

/// One row of a block: its inputs, and the weight of input `j` for output `k`.
type Row<'a> = (Vec<Option<&'a Wire>>, Box<dyn Fn(usize, usize) -> i64 + 'a>);

#[derive(Debug, Clone)]
pub struct MatvecConfig {
    x: [Column<Advice>; B],
    acc: [Column<Advice>; B],
    w: [[Column<Fixed>; B]; B],
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
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        main: &[Column<Advice>],
        fixed: &[Column<Fixed>],
    ) -> Self {
        let cfg = Self {
            x: std::array::from_fn(|j| main[j]),
            acc: std::array::from_fn(|k| main[B + k]),
            w: std::array::from_fn(|j| std::array::from_fn(|k| fixed[j * B + k])),
            chain: fixed[B * B],
            q: meta.selector(),
        };
        meta.create_gate("matvec", |m| {
            let q = m.query_selector(cfg.q);
            let chain = m.query_fixed(cfg.chain, Rotation::cur());
            let xs = cfg.x.map(|c| m.query_advice(c, Rotation::cur()));
            (0..B)
                .map(|k| {
                    let acc = m.query_advice(cfg.acc[k], Rotation::cur());
                    let prev = m.query_advice(cfg.acc[k], Rotation::prev());
                    let sum = (0..B).fold(Expression::Constant(Fr::ZERO), |s, j| {
                        s + m.query_fixed(cfg.w[j][k], Rotation::cur()) * xs[j].clone()
                    });
                    q.clone() * (acc - chain.clone() * prev - sum)
                })
                .collect::<Vec<_>>()
        });
        cfg
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
        let zero = Value::known(Fr::ZERO);
        let mut outs = Vec::with_capacity(layer.out_dim);
        for g in 0..layer.out_dim.div_ceil(B) {
            let outputs: Vec<usize> = (g * B..((g + 1) * B).min(layer.out_dim)).collect();
            // Each row: (inputs, weight of input j for output k).
            let mut rows: Vec<Row<'_>> = Vec::new();
            rows.push((
                vec![Some(one)],
                Box::new(|j, k| if j == 0 { layer.bias[k] } else { 0 }),
            ));
            if let Some(res) = residual {
                let ins = outputs.iter().map(|o| Some(&res[*o])).collect();
                let diag = 1i64 << layer.shift;
                rows.push((ins, Box::new(move |j, k| if j == k % B { diag } else { 0 })));
            }
            for c in 0..layer.in_dim.div_ceil(B) {
                let ins = (c * B..((c + 1) * B).min(layer.in_dim))
                    .map(|i| Some(&x[i]))
                    .collect();
                rows.push((
                    ins,
                    Box::new(move |j, k| layer.weights[k * layer.in_dim + c * B + j]),
                ));
            }
            let mut acc = [zero; B];
            let mut cells = Vec::new();
            let last = rows.len() - 1;
            for (r, (ins, weight)) in rows.iter().enumerate() {
                let row = ctx.row;
                ctx.enable(&self.q, row)?;
                ctx.fixed(self.chain, row, if r == 0 { Fr::ZERO } else { Fr::ONE });
                // Inputs past the row's end are pinned zeros: their weights are 0, but a plain
                // witness there would still be a free cell.
                let xv: Vec<Value<Fr>> = (0..B)
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
    use crate::halo2::chips::harness::Config;
    use crate::halo2::chips::harness::{cells, fails, passes};

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

    #[test]
    fn honest_products_pass_and_a_wrong_one_fails() {
        passes(layout(0));
        fails(layout(1));
    }

    #[test]
    fn every_cell_is_bound() {
        assert!(cells(layout(0), "matvec") > IN + OUT + 2 * 4 * 10);
    }
}
