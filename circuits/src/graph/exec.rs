//! The bit-exact integer reference executor: the specification every backend's circuit is tested
//! against. It evaluates each node's structure ([`crate::ops::Kind::eval`]) in evaluation order.

use super::tensor::numel;
use super::{GraphError, Model};
use crate::ops::Kind;

/// Every tensor of one run, by tensor id (graph inputs first, then nodes in file order).
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// Flat values of every tensor.
    pub tensors: Vec<Vec<i128>>,
    outputs: Vec<usize>,
}

impl Trace {
    /// The outputs, concatenated in the graph's output order.
    pub fn output(&self) -> Vec<i128> {
        self.outputs
            .iter()
            .flat_map(|t| self.tensors[*t].iter().copied())
            .collect()
    }
}

/// Quantizes one sample (every input, flat, in order):
/// `clamp(round_half_away(x · scale), min, max)`; fails on a wrong length or a non-finite value.
pub fn quantize_input(x: &[f64], model: &Model) -> Result<Vec<i64>, GraphError> {
    if x.len() != model.input_len() {
        return Err(GraphError::Shape(format!(
            "input has {} values, the model expects {}",
            x.len(),
            model.input_len()
        )));
    }
    let mut out = Vec::with_capacity(x.len());
    let mut at = 0;
    for input in &model.graph().inputs {
        for v in &x[at..at + numel(&input.shape)] {
            if !v.is_finite() {
                return Err(GraphError::Shape(format!(
                    "input `{}` value {} is not finite ({v})",
                    input.name,
                    out.len() - at
                )));
            }
            if input.tokens {
                if v.fract() != 0.0 || *v < 0.0 || *v > input.max as f64 {
                    return Err(GraphError::Shape(format!(
                        "input `{}` value {} is not a token id in [0, {}] ({v})",
                        input.name,
                        out.len() - at,
                        input.max
                    )));
                }
                out.push(*v as i64);
                continue;
            }
            // f64 multiply and round are exactly specified by IEEE 754: no platform math here.
            let q = (v * input.scale).round();
            out.push(q.clamp(input.min as f64, input.max as f64) as i64);
        }
        at += numel(&input.shape);
    }
    Ok(out)
}

/// Runs the model on one quantized sample.
pub fn execute(model: &Model, input: &[i64]) -> Result<Trace, GraphError> {
    if input.len() != model.input_len() {
        return Err(GraphError::Shape(format!(
            "input has {} values, the model expects {}",
            input.len(),
            model.input_len()
        )));
    }
    let g = model.graph();
    let mut tensors: Vec<Vec<i128>> = vec![Vec::new(); g.inputs.len() + g.nodes.len()];
    let mut at = 0;
    for (t, i) in g.inputs.iter().enumerate() {
        let vals = &input[at..at + numel(&i.shape)];
        if let Some(v) = vals.iter().find(|v| **v < i.min || **v > i.max) {
            return Err(GraphError::Shape(format!(
                "input `{}`: quantized value {v} is outside [{}, {}]",
                i.name, i.min, i.max
            )));
        }
        tensors[t] = vals.iter().map(|v| *v as i128).collect();
        at += vals.len();
    }
    let n_in = g.inputs.len();
    for &j in &model.order {
        let ins: Vec<&[i128]> = model.wires[j].iter().map(|t| &tensors[*t][..]).collect();
        let y = model.kinds[j].eval(&ins).ok_or_else(|| {
            let node = g.nodes[j].name.clone();
            match &model.kinds[j] {
                Kind::IndexHot(h) => GraphError::Index {
                    node,
                    depth: h.depth,
                },
                _ => GraphError::Overflow { node },
            }
        })?;
        tensors[n_in + j] = y;
    }
    Ok(Trace {
        tensors,
        outputs: model.outputs.clone(),
    })
}
