//! N-d transposed convolution with constant kernels, as ONNX `ConvTranspose` defines it: input
//! `[N, C, d1..dk]`, kernel `[C, M/groups, k1..kk]`; input position `i` and tap `t` add to output
//! position `o = i·stride + t·dilation - pad_begin`. Written in gather form, each output is the
//! constant linear combination of the (input, tap) pairs that land on it: a pair that lands in
//! the cropped padding adds nothing and costs no cell.

use serde::{Deserialize, Serialize};

use super::kind::{Combination, Kind, Src};
use super::{check_bias, check_weights, unary, OpSpec};
use crate::graph::tensor::{numel, ravel, strides, unravel, Tensor};

/// The transposed convolution op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConvTranspose {
    /// `[C, M/groups, k1..kk]`.
    pub weights: Tensor<i64>,
    /// One per output channel, at the accumulator's scale.
    pub bias: Option<Vec<i64>>,
    /// One per spatial axis.
    pub strides: Vec<usize>,
    /// One per spatial axis.
    pub dilations: Vec<usize>,
    /// Begin croppings of every spatial axis, then end croppings (ONNX order).
    pub pads: Vec<usize>,
    /// Extra output length at the end of each spatial axis (ONNX `output_padding`).
    pub output_padding: Vec<usize>,
    /// Channel groups; `C` and `M` are multiples of it.
    pub groups: usize,
}

impl OpSpec for ConvTranspose {
    fn name(&self) -> &'static str {
        "conv_transpose"
    }

    fn check(&self) -> Result<(), String> {
        check_weights(&self.weights.data)?;
        check_bias(self.bias.as_deref().unwrap_or(&[]))
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let x = unary(inputs);
        let w = &self.weights.shape;
        let k = w.len().saturating_sub(2);
        if k == 0 || x.len() != k + 2 {
            return Err(format!(
                "input {x:?} and kernel {w:?} must both be [_, _, spatial...]"
            ));
        }
        let g = self.groups;
        if g == 0 || w[0] != x[1] || !x[1].is_multiple_of(g) {
            return Err(format!(
                "{} input channels, a kernel for {} and {g} groups do not fit",
                x[1], w[0]
            ));
        }
        let m = w[1] * g;
        if self.bias.as_ref().is_some_and(|b| b.len() != m) {
            return Err(format!("bias must have {m} values"));
        }
        let per_axis = [&self.strides, &self.dilations, &self.output_padding];
        if per_axis.iter().any(|v| v.len() != k) || self.pads.len() != 2 * k {
            return Err(format!(
                "strides, dilations, output padding and pads must cover {k} spatial axes"
            ));
        }
        if self.strides.iter().chain(&self.dilations).any(|v| *v == 0) {
            return Err("strides and dilations must be positive".into());
        }
        let mut out = vec![x[0], m];
        for d in 0..k {
            let full = self.strides[d] * x[d + 2].saturating_sub(1)
                + self.dilations[d] * w[d + 2].saturating_sub(1)
                + 1
                + self.output_padding[d];
            let crop = self.pads[d] + self.pads[k + d];
            if x[d + 2] == 0 || w[d + 2] == 0 || full <= crop {
                return Err(format!(
                    "kernel {w:?} with pads {:?} leaves no output from {x:?}",
                    self.pads
                ));
            }
            out.push(full - crop);
        }
        Ok(out)
    }

    fn kind(&self, inputs: &[&[usize]], out: &[usize]) -> Kind {
        let x = unary(inputs);
        let w = &self.weights.shape;
        let (xs, ws) = (strides(x), strides(w));
        let k = w.len() - 2;
        let per_group_out = w[1];
        let per_group_in = x[1] / self.groups;
        let kernel = &w[2..];
        let combs = (0..numel(out))
            .map(|o| {
                let idx = unravel(o, out);
                let (n, m) = (idx[0], idx[1]);
                let g = m / per_group_out;
                let mut terms = Vec::new();
                for t in 0..numel(kernel) {
                    let tap = unravel(t, kernel);
                    // the input position this tap reads, if one lands here
                    let pos: Option<Vec<usize>> = (0..k)
                        .map(|d| {
                            let v = (idx[d + 2] + self.pads[d])
                                .checked_sub(tap[d] * self.dilations[d])?;
                            (v % self.strides[d] == 0 && v / self.strides[d] < x[d + 2])
                                .then_some(v / self.strides[d])
                        })
                        .collect();
                    let Some(pos) = pos else { continue };
                    for c in g * per_group_in..(g + 1) * per_group_in {
                        let mut xi = vec![n, c];
                        xi.extend_from_slice(&pos);
                        let mut wi = vec![c, m % per_group_out];
                        wi.extend_from_slice(&tap);
                        terms.push((self.weights.data[ravel(&wi, &ws)], Src::of(ravel(&xi, &xs))));
                    }
                }
                let constant = self.bias.as_ref().map_or(0, |b| b[m] as i128);
                Combination { terms, constant }
            })
            .collect();
        Kind::Linear(combs)
    }
}
