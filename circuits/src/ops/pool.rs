//! Pooling windows over the spatial axes of `[N, C, d1..dk]`: [`SumPool`] (AveragePool and
//! GlobalAveragePool, the division being the rescale after it) and [`MaxPool`]. Window positions
//! in the padding are left out: a sum skips them (zero padding) and a maximum never sees them
//! (ONNX pads MaxPool with -inf), so padding adds no cell.

use serde::{Deserialize, Serialize};

use super::conv::sweep;
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

impl Window {
    fn shape(&self, x: &[usize]) -> Result<Vec<usize>, String> {
        let k = self.kernel.len();
        if k == 0 || x.len() != k + 2 {
            return Err(format!("input {x:?} must be [N, C] and {k} spatial axes"));
        }
        if self.strides.len() != k || self.dilations.len() != k || self.pads.len() != 2 * k {
            return Err(format!(
                "strides, dilations and pads must cover {k} spatial axes"
            ));
        }
        let mut out = x[..2].to_vec();
        for d in 0..k {
            let (s, dl, pb, pe) = (
                self.strides[d],
                self.dilations[d],
                self.pads[d],
                self.pads[k + d],
            );
            if pb >= self.kernel[d] || pe >= self.kernel[d] {
                return Err(format!(
                    "padding {pb}/{pe} is not smaller than the window {}",
                    self.kernel[d]
                ));
            }
            out.push(
                sweep(x[d + 2], self.kernel[d], s, dl, pb, pe)
                    .ok_or_else(|| format!("window {:?} does not fit input {x:?}", self.kernel))?,
            );
        }
        Ok(out)
    }

    /// The in-range input elements of every output's window.
    pub fn windows(&self, x: &[usize], out: &[usize]) -> Vec<Vec<Src>> {
        let k = self.kernel.len();
        let xs = strides(x);
        (0..numel(out))
            .map(|o| {
                let idx = unravel(o, out);
                (0..numel(&self.kernel))
                    .filter_map(|t| {
                        let kidx = unravel(t, &self.kernel);
                        let mut xi = idx[..2].to_vec();
                        for d in 0..k {
                            let p = (idx[d + 2] * self.strides[d] + kidx[d] * self.dilations[d])
                                as isize
                                - self.pads[d] as isize;
                            if p < 0 || p as usize >= x[d + 2] {
                                return None;
                            }
                            xi.push(p as usize);
                        }
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
