//! Reductions over axes: [`ReduceSum`] (ReduceSum, and ReduceMean with the rescale after it),
//! [`ReduceMax`], [`ReduceMin`] and [`ArgMax`] (ArgMax, ArgMin). Reduced axes are kept with size 1
//! or dropped, as `keepdims` says.

use serde::{Deserialize, Serialize};

use super::instructions::Instructions;
use super::kind::{extreme, Bound, Combination, Kind, Src};
use super::rescale::RescaleParams;
use super::{unary, OpSpec};
use crate::graph::tensor::{numel, ravel, strides, unravel};

/// Axes to reduce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Axes {
    /// The reduced axes, distinct, in range.
    pub axes: Vec<usize>,
    /// Keep reduced axes with size 1.
    pub keepdims: bool,
}

/// Sums over axes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReduceSum(pub Axes);

/// Maxima over axes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReduceMax(pub Axes);

/// Minima over axes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReduceMin(pub Axes);

/// The index along `axis` of each maximum (minimum when `min`): the first one, or the last one
/// when `last` (ONNX `select_last_index`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArgMax {
    /// The reduced axis.
    pub axis: usize,
    /// Keep the axis with size 1.
    pub keepdims: bool,
    /// ArgMin.
    pub min: bool,
    /// Report the last extreme instead of the first.
    pub last: bool,
}

impl Axes {
    /// The output shape over an input of shape `x`.
    pub(crate) fn shape(&self, x: &[usize]) -> Result<Vec<usize>, String> {
        for (i, a) in self.axes.iter().enumerate() {
            if *a >= x.len() || self.axes[..i].contains(a) {
                return Err(format!("axes {:?} do not fit rank {}", self.axes, x.len()));
            }
        }
        Ok((0..x.len())
            .filter_map(|d| match (self.axes.contains(&d), self.keepdims) {
                (false, _) => Some(x[d]),
                (true, true) => Some(1),
                (true, false) => None,
            })
            .collect())
    }

    /// The input elements each output reduces.
    pub(crate) fn sets(&self, x: &[usize]) -> Vec<Vec<Src>> {
        let kept: Vec<usize> = (0..x.len()).filter(|d| !self.axes.contains(d)).collect();
        let kept_shape: Vec<usize> = kept.iter().map(|d| x[*d]).collect();
        let red_shape: Vec<usize> = self.axes.iter().map(|d| x[*d]).collect();
        let xs = strides(x);
        (0..numel(&kept_shape))
            .map(|o| {
                let ko = unravel(o, &kept_shape);
                (0..numel(&red_shape))
                    .map(|r| {
                        let mut idx = vec![0; x.len()];
                        for (d, v) in kept.iter().zip(&ko) {
                            idx[*d] = *v;
                        }
                        for (d, v) in self.axes.iter().zip(unravel(r, &red_shape)) {
                            idx[*d] = v;
                        }
                        Src::of(ravel(&idx, &xs))
                    })
                    .collect()
            })
            .collect()
    }
}

impl OpSpec for ReduceSum {
    fn name(&self) -> &'static str {
        "reduce_sum"
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        self.0.shape(unary(inputs))
    }

    fn kind(&self, inputs: &[&[usize]], _: &[usize]) -> Kind {
        Kind::Linear(
            self.0
                .sets(unary(inputs))
                .into_iter()
                .map(|s| Combination {
                    terms: s.into_iter().map(|x| (1, x)).collect(),
                    constant: 0,
                })
                .collect(),
        )
    }
}

impl OpSpec for ReduceMax {
    fn name(&self) -> &'static str {
        "reduce_max"
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        nonempty(unary(inputs), self.0.shape(unary(inputs))?)
    }

    fn kind(&self, inputs: &[&[usize]], _: &[usize]) -> Kind {
        Kind::Max(self.0.sets(unary(inputs)))
    }
}

fn nonempty(x: &[usize], out: Vec<usize>) -> Result<Vec<usize>, String> {
    if numel(x) == 0 {
        return Err("reduces an empty tensor".into());
    }
    Ok(out)
}

impl OpSpec for ReduceMin {
    fn name(&self) -> &'static str {
        "reduce_min"
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        nonempty(unary(inputs), self.0.shape(unary(inputs))?)
    }

    fn kind(&self, inputs: &[&[usize]], _: &[usize]) -> Kind {
        Kind::Min(self.0.sets(unary(inputs)))
    }
}

impl ArgMax {
    fn axes(&self) -> Axes {
        Axes {
            axes: vec![self.axis],
            keepdims: self.keepdims,
        }
    }
}

impl OpSpec for ArgMax {
    fn name(&self) -> &'static str {
        "arg_max"
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        nonempty(unary(inputs), self.axes().shape(unary(inputs))?)
    }

    fn kind(&self, inputs: &[&[usize]], _: &[usize]) -> Kind {
        let sets = self
            .axes()
            .sets(unary(inputs))
            .into_iter()
            .map(|set| {
                let mut c: Vec<(i64, Src)> = set
                    .into_iter()
                    .enumerate()
                    .map(|(i, s)| (i as i64, s))
                    .collect();
                if self.last {
                    c.reverse();
                }
                c
            })
            .collect();
        Kind::Arg {
            sets,
            min: self.min,
        }
    }
}

/// The reported index of the first extreme of `vals`. With `m` the proven extreme, each
/// candidate's gap `g_i = |m - x_i| ≥ 0` clamps to `z_i = min(g_i, 1)`, 0 exactly at the
/// extremes; `p_0 = 1, p_{i+1} = p_i · z_i` is 1 until the first extreme and 0 from there, so
/// `p_i - p_{i+1}` is the one-hot of the first extreme and the index is `Σ idx_i (p_i - p_{i+1})`.
/// Every step is a function of the inputs, so the index is unique.
pub(crate) fn arg<I: Instructions>(
    ins: &mut I,
    vals: &[(&I::Value, Bound)],
    idx: &[i64],
    min: bool,
) -> Result<I::Value, I::Error> {
    let (m, mb) = extreme(ins, vals, min)?;
    let n = vals.len();
    // p[0] = 1 is implicit: its term is the constant idx[0]
    let mut p: Vec<I::Value> = Vec::with_capacity(n);
    for (i, (x, b)) in vals.iter().enumerate() {
        let (terms, gap) = if min {
            ([(1, *x), (-1, &m)], (b.0 - mb.1, b.1 - mb.0))
        } else {
            ([(1, &m), (-1, *x)], (mb.0 - b.1, mb.1 - b.0))
        };
        let g = ins.linear(&terms, 0)?;
        let z = ins.rescale(&g, &RescaleParams::relu(gap, (0, 1)))?;
        let next = if i == 0 { z } else { ins.mul(&p[i - 1], &z)? };
        p.push(next);
    }
    // Σ_i idx_i (p_i - p_{i+1}) = idx_0 + Σ_{i=1}^{n-1} (idx_i - idx_{i-1}) p_i - idx_{n-1} p_n
    let mut terms: Vec<(i64, &I::Value)> =
        (1..n).map(|i| (idx[i] - idx[i - 1], &p[i - 1])).collect();
    terms.push((-idx[n - 1], &p[n - 1]));
    ins.linear(&terms, idx[0] as i128)
}
