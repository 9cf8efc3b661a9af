//! N-d convolution with constant kernels, as ONNX `Conv` defines it: input `[N, C, d1..dk]`,
//! kernel `[M, C/groups, k1..kk]`, explicit begin/end padding with zeros, strides, dilations and
//! groups. A tap that falls in the padding reads a zero, so it is left out of the combination:
//! padding costs nothing and adds no cell. Every output is one constant linear combination.

use serde::{Deserialize, Serialize};

use super::kind::{Combination, Kind, Src};
use super::pool::Window;
use super::{check_bias, check_weights, unary, OpSpec};
use crate::graph::tensor::{numel, ravel, strides, unravel, Tensor};

/// The convolution op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conv {
    /// `[M, C/groups, k1..kk]`.
    pub weights: Tensor<i64>,
    /// One per output channel, at the accumulator's scale.
    pub bias: Option<Vec<i64>>,
    /// One per spatial axis.
    pub strides: Vec<usize>,
    /// One per spatial axis.
    pub dilations: Vec<usize>,
    /// Begin paddings of every spatial axis, then end paddings (ONNX order).
    pub pads: Vec<usize>,
    /// Channel groups; `C` and `M` are multiples of it.
    pub groups: usize,
}

impl Conv {
    /// The kernel's window: its spatial dims with this conv's strides, dilations and pads.
    fn window(&self) -> Window {
        Window {
            kernel: self.weights.shape[2..].to_vec(),
            strides: self.strides.clone(),
            dilations: self.dilations.clone(),
            pads: self.pads.clone(),
        }
    }
}

impl OpSpec for Conv {
    fn name(&self) -> &'static str {
        "conv"
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
        if g == 0 || !x[1].is_multiple_of(g) || !w[0].is_multiple_of(g) || w[1] * g != x[1] {
            return Err(format!(
                "{} input channels, {} kernels of {} channels and {g} groups do not fit",
                x[1], w[0], w[1]
            ));
        }
        if self.bias.as_ref().is_some_and(|b| b.len() != w[0]) {
            return Err(format!("bias must have {} values", w[0]));
        }
        let mut out = vec![x[0], w[0]];
        out.extend(self.window().spatial(&x[2..])?);
        Ok(out)
    }

    fn kind(&self, inputs: &[&[usize]], out: &[usize]) -> Kind {
        let x = unary(inputs);
        let w = &self.weights.shape;
        let (xs, ws) = (strides(x), strides(w));
        let window = self.window();
        let per_group = w[0] / self.groups;
        let taps = numel(&w[1..]);
        let combs = (0..numel(out))
            .map(|o| {
                let idx = unravel(o, out);
                let (n, m) = (idx[0], idx[1]);
                let c0 = (m / per_group) * w[1];
                let terms = (0..taps)
                    .filter_map(|t| {
                        let kidx = unravel(t, &w[1..]);
                        let p = window.position(&idx[2..], &kidx[1..], &x[2..])?;
                        let mut xi = vec![n, c0 + kidx[0]];
                        xi.extend(p);
                        let mut wi = vec![m];
                        wi.extend_from_slice(&kidx);
                        Some((self.weights.data[ravel(&wi, &ws)], Src::of(ravel(&xi, &xs))))
                    })
                    .collect();
                let constant = self.bias.as_ref().map_or(0, |b| b[m] as i128);
                Combination { terms, constant }
            })
            .collect();
        Kind::Linear(combs)
    }
}
