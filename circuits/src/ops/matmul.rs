//! Contraction of two computed tensors: `y[o] = Σ a[·] · b[·]` over the labels that appear in an
//! operand but not in the output, as `numpy.einsum(a_axes + "," + b_axes + "->" + output_axes,
//! a, b)`: MatMul of activations (attention's `Q·Kᵀ` and `P·V`), batched or not. Each output
//! is a sum of witness products, lowered as [`Instructions::inner`] (one product per term, the
//! sum a combination), so it is as sound as the product relation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::einsum::contraction;
use super::kind::{Kind, Src};
use super::OpSpec;

/// The contraction op.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatMul {
    /// One label per axis of the first input, e.g. `"bqd"`.
    pub a_axes: String,
    /// One label per axis of the second input, e.g. `"bkd"`.
    pub b_axes: String,
    /// One label per axis of the output, e.g. `"bqk"`.
    pub output_axes: String,
}

fn labels(axes: &str, shape: &[usize], what: &str) -> Result<Vec<char>, String> {
    let l: Vec<char> = axes.chars().collect();
    if l.len() != shape.len() {
        return Err(format!(
            "{what} axes `{axes}` label {} axes, the {what} has shape {shape:?}",
            l.len()
        ));
    }
    if let Some((d, c)) = l.iter().enumerate().find(|(d, c)| l[..*d].contains(c)) {
        return Err(format!("{what} axes `{axes}` repeat `{c}` at {d}"));
    }
    Ok(l)
}

impl MatMul {
    fn sizes(&self, a: &[usize], b: &[usize]) -> Result<BTreeMap<char, usize>, String> {
        let mut sizes = BTreeMap::new();
        for (axes, shape, what) in [(&self.a_axes, a, "first"), (&self.b_axes, b, "second")] {
            for (l, n) in labels(axes, shape, what)?.into_iter().zip(shape) {
                match sizes.insert(l, *n) {
                    Some(s) if s != *n => return Err(format!("axis `{l}` has sizes {s} and {n}")),
                    _ => {}
                }
            }
        }
        Ok(sizes)
    }
}

impl OpSpec for MatMul {
    fn name(&self) -> &'static str {
        "matmul"
    }

    fn arity(&self) -> usize {
        2
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let sizes = self.sizes(inputs[0], inputs[1])?;
        let l: Vec<char> = self.output_axes.chars().collect();
        if let Some(c) = l.iter().enumerate().find(|(d, c)| l[..*d].contains(c)) {
            return Err(format!(
                "output axes `{}` repeat `{}`",
                self.output_axes, c.1
            ));
        }
        // an output axis in neither operand is a new axis of size 1 (tract writes `k,nk->mn`)
        Ok(l.iter()
            .map(|c| sizes.get(c).copied().unwrap_or(1))
            .collect())
    }

    fn kind(&self, inputs: &[&[usize]], out: &[usize]) -> Kind {
        let sizes = self.sizes(inputs[0], inputs[1]).expect("checked by shape");
        let operands = [(&self.a_axes[..], inputs[0]), (&self.b_axes[..], inputs[1])];
        let sums = contraction(&sizes, &operands, &self.output_axes, out)
            .into_iter()
            .map(|terms| {
                terms
                    .into_iter()
                    .map(|[a, b]| [Src { input: 0, index: a }, Src { input: 1, index: b }])
                    .collect()
            })
            .collect();
        Kind::Inner(sums)
    }
}
