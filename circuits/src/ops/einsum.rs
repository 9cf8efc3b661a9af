//! Contraction with a constant tensor: `y[o] = bias[o] + Σ x[·] · w[·]` over the labels that
//! appear in an operand but not in the output, as in `numpy.einsum(input_axes + "," +
//! weight_axes + "->" + output_axes, x, w)`. Gemm and MatMul with a constant operand arrive
//! here in whatever axis order the exporter chose; an output label in neither operand is a new
//! axis of size 1. The weights are circuit constants, so each
//! output is one constant linear combination of input elements.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::kind::{Combination, Kind, Src};
use super::{check_bias, check_weights, OpSpec};
use crate::graph::tensor::{broadcast_map, broadcast_shape, numel, strides, unravel, Tensor};

/// The einsum op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Einsum {
    /// One label per axis of the data input, e.g. `"mk"`.
    pub input_axes: String,
    /// One label per axis of the constant, e.g. `"nk"`.
    pub weight_axes: String,
    /// One label per axis of the output, e.g. `"mn"`.
    pub output_axes: String,
    /// The constant operand.
    pub weights: Tensor<i64>,
    /// Added to every output, broadcast (numpy) to the output's shape.
    pub bias: Option<Tensor<i64>>,
}

impl Einsum {
    fn sizes(&self, input: &[usize]) -> Result<BTreeMap<char, usize>, String> {
        let mut sizes = BTreeMap::new();
        for (axes, shape, what) in [
            (&self.input_axes, input, "input"),
            (&self.weight_axes, &self.weights.shape[..], "weight"),
        ] {
            let labels: Vec<char> = axes.chars().collect();
            if labels.len() != shape.len() {
                return Err(format!(
                    "{what} axes `{axes}` label {} axes, the {what} has shape {shape:?}",
                    labels.len()
                ));
            }
            for (d, l) in labels.iter().enumerate() {
                if labels[..d].contains(l) {
                    return Err(format!("{what} axes `{axes}` repeat `{l}`"));
                }
                match sizes.insert(*l, shape[d]) {
                    Some(s) if s != shape[d] => {
                        return Err(format!("axis `{l}` has sizes {s} and {}", shape[d]))
                    }
                    _ => {}
                }
            }
        }
        Ok(sizes)
    }
}

impl OpSpec for Einsum {
    fn name(&self) -> &'static str {
        "einsum"
    }

    fn check(&self) -> Result<(), String> {
        check_weights(&self.weights.data)?;
        if let Some(b) = &self.bias {
            check_bias(&b.data)?;
        }
        Ok(())
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let sizes = self.sizes(inputs[0])?;
        let labels: Vec<char> = self.output_axes.chars().collect();
        if let Some(l) = labels
            .iter()
            .enumerate()
            .find(|(d, l)| labels[..*d].contains(l))
        {
            return Err(format!(
                "output axes `{}` repeat `{}`",
                self.output_axes, l.1
            ));
        }
        // An output axis in no operand is a new axis of size 1 (tract writes `k,nk->mn`).
        let out: Vec<usize> = labels
            .iter()
            .map(|l| sizes.get(l).copied().unwrap_or(1))
            .collect();
        if let Some(b) = &self.bias {
            if broadcast_shape(&b.shape, &out).as_deref() != Some(&out[..]) {
                return Err(format!(
                    "bias of shape {:?} does not broadcast to {out:?}",
                    b.shape
                ));
            }
        }
        Ok(out)
    }

    fn kind(&self, inputs: &[&[usize]], out: &[usize]) -> Kind {
        let sizes = self.sizes(inputs[0]).expect("checked by shape");
        let operands = [
            (&self.input_axes[..], inputs[0]),
            (&self.weight_axes[..], &self.weights.shape[..]),
        ];
        let bias = self
            .bias
            .as_ref()
            .map(|b| (b, broadcast_map(&b.shape, out)));
        let combs = contraction(&sizes, &operands, &self.output_axes, out)
            .into_iter()
            .enumerate()
            .map(|(o, terms)| Combination {
                terms: terms
                    .into_iter()
                    .map(|[x, w]| (self.weights.data[w], Src::of(x)))
                    .collect(),
                constant: bias.as_ref().map_or(0, |(b, map)| b.data[map[o]] as i128),
            })
            .collect();
        Kind::Linear(combs)
    }
}

/// For each output element of `numpy.einsum` over two operands (their labels and shapes),
/// each term of its sum over the labels the output lacks: the flat index in each operand.
pub(crate) fn contraction(
    sizes: &BTreeMap<char, usize>,
    operands: &[(&str, &[usize]); 2],
    output_axes: &str,
    out: &[usize],
) -> Vec<Vec<[usize; 2]>> {
    let out_labels: Vec<char> = output_axes.chars().collect();
    let summed: Vec<char> = sizes
        .keys()
        .copied()
        .filter(|l| !out_labels.contains(l))
        .collect();
    let summed_shape: Vec<usize> = summed.iter().map(|l| sizes[l]).collect();
    let place = |(axes, shape): &(&str, &[usize])| -> Vec<(char, usize)> {
        axes.chars().zip(strides(shape)).collect()
    };
    let places = [place(&operands[0]), place(&operands[1])];
    (0..numel(out))
        .map(|o| {
            let mut value: BTreeMap<char, usize> =
                out_labels.iter().copied().zip(unravel(o, out)).collect();
            (0..numel(&summed_shape))
                .map(|s| {
                    for (l, v) in summed.iter().zip(unravel(s, &summed_shape)) {
                        value.insert(*l, v);
                    }
                    places
                        .each_ref()
                        .map(|p| p.iter().map(|(l, st)| value[l] * st).sum())
                })
                .collect()
        })
        .collect()
}
