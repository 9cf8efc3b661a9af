//! Reductions over axes: [`ReduceSum`] (ReduceSum, and ReduceMean with the rescale after it),
//! [`ReduceMax`], [`ReduceMin`] and [`ArgMax`] (ArgMax, ArgMin). Reduced axes are kept with size 1
//! or dropped, as `keepdims` says.

use serde::{Deserialize, Serialize};

use super::kind::{Combination, Kind, Src};
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
