//! Pooling windows over the spatial axes of `[N, C, d1..dk]`: [`SumPool`] (AveragePool and
//! GlobalAveragePool, the division being the rescale after it) and [`MaxPool`]. Window positions
//! in the padding are left out: a sum skips them (zero padding) and a maximum never sees them
//! (ONNX pads MaxPool with -inf), so padding adds no cell.

use serde::{Deserialize, Serialize};

use super::kind::{Combination, Kind, Src};
use super::{unary, OpSpec};
use crate::graph::tensor::{numel, ravel, strides, unravel};

/// A pooling window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Window size per spatial axis.
    pub kernel: Vec<usize>,
    /// Step per spatial axis.
    pub strides: Vec<usize>,
    /// Gap between taps per spatial axis.
    pub dilations: Vec<usize>,
    /// Begin paddings of every spatial axis, then end paddings (ONNX order).
    pub pads: Vec<usize>,
}

/// Window sums.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SumPool(pub Window);

/// Window maxima.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MaxPool(pub Window);

/// Output length of a window sweep along one axis, if the window fits at all.
fn sweep(len: usize, k: usize, stride: usize, dil: usize, pb: usize, pe: usize) -> Option<usize> {
    let span = dil * (k - 1) + 1;
    let padded = len + pb + pe;
    (k > 0 && stride > 0 && dil > 0 && padded >= span).then(|| (padded - span) / stride + 1)
}

impl Window {
    /// The output's spatial dims for an input's spatial dims `x`.
    pub(crate) fn spatial(&self, x: &[usize]) -> Result<Vec<usize>, String> {
        let k = self.kernel.len();
        if k == 0 || x.len() != k {
            return Err(format!("a {k}-d window over {} spatial axes", x.len()));
        }
        if self.strides.len() != k || self.dilations.len() != k || self.pads.len() != 2 * k {
            return Err(format!(
                "strides, dilations and pads must cover {k} spatial axes"
            ));
        }
        (0..k)
            .map(|d| {
                let (s, dl) = (self.strides[d], self.dilations[d]);
                sweep(x[d], self.kernel[d], s, dl, self.pads[d], self.pads[k + d]).ok_or_else(
                    || format!("window {:?} does not fit spatial dims {x:?}", self.kernel),
                )
            })
            .collect()
    }

    /// The input position tap `tap` of output position `out` reads, or `None` in the padding.
    pub(crate) fn position(&self, out: &[usize], tap: &[usize], x: &[usize]) -> Option<Vec<usize>> {
        (0..self.kernel.len())
            .map(|d| {
                let p = (out[d] * self.strides[d] + tap[d] * self.dilations[d]) as isize
                    - self.pads[d] as isize;
                (p >= 0 && (p as usize) < x[d]).then_some(p as usize)
            })
            .collect()
    }

    /// How many taps of each output position's window fall inside spatial dims `x`, the output
    /// positions row-major (AveragePool without the padding in its count divides by these).
    pub fn taps_inside(&self, x: &[usize]) -> Result<Vec<usize>, String> {
        let out = self.spatial(x)?;
        let n = numel(&self.kernel);
        Ok((0..numel(&out))
            .map(|o| {
                let idx = unravel(o, &out);
                (0..n)
                    .filter(|t| self.position(&idx, &unravel(*t, &self.kernel), x).is_some())
                    .count()
            })
            .collect())
    }

    fn shape(&self, x: &[usize]) -> Result<Vec<usize>, String> {
        if x.len() < 3 {
            return Err(format!("input {x:?} must be [N, C, spatial...]"));
        }
        let k = self.kernel.len();
        if let Some(d) = (0..k.min(self.pads.len() / 2))
            .find(|d| self.pads[*d] >= self.kernel[*d] || self.pads[k + d] >= self.kernel[*d])
        {
            return Err(format!(
                "padding {}/{} is not smaller than the window {}",
                self.pads[d],
                self.pads[k + d],
                self.kernel[d]
            ));
        }
        let mut out = x[..2].to_vec();
        out.extend(self.spatial(&x[2..])?);
        Ok(out)
    }

    /// The in-range input elements of every output's window.
    pub fn windows(&self, x: &[usize], out: &[usize]) -> Vec<Vec<Src>> {
        let xs = strides(x);
        (0..numel(out))
            .map(|o| {
                let idx = unravel(o, out);
                (0..numel(&self.kernel))
                    .filter_map(|t| {
                        let p = self.position(&idx[2..], &unravel(t, &self.kernel), &x[2..])?;
                        let mut xi = idx[..2].to_vec();
                        xi.extend(p);
                        Some(Src::of(ravel(&xi, &xs)))
                    })
                    .collect()
            })
            .collect()
    }
}

impl OpSpec for SumPool {
    fn name(&self) -> &'static str {
        "sum_pool"
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        self.0.shape(unary(inputs))
    }

    fn kind(&self, inputs: &[&[usize]], out: &[usize]) -> Kind {
        Kind::Linear(
            self.0
                .windows(unary(inputs), out)
                .into_iter()
                .map(|w| Combination {
                    terms: w.into_iter().map(|s| (1, s)).collect(),
                    constant: 0,
                })
                .collect(),
        )
    }
}

impl OpSpec for MaxPool {
    fn name(&self) -> &'static str {
        "max_pool"
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        self.0.shape(unary(inputs))
    }

    fn kind(&self, inputs: &[&[usize]], out: &[usize]) -> Kind {
        Kind::Max(self.0.windows(unary(inputs), out))
    }
}
