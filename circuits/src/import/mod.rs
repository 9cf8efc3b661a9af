//! ONNX → quantized graph IR, on tract: [`float`] loads the file with concrete input shapes and lets
//! tract type it and fold constants and shape arithmetic; [`translate`] maps tract's ops to IR ops
//! with float constants; tract's float run over the calibration set gives every tensor's range;
//! [`quantize`] fixes the scales and writes the integer graph; the accuracy of the quantized model
//! against tract's float outputs is reported per output. [`data`] reads our and EZKL's data files.

pub(crate) mod accumulate;
pub(crate) mod cast;
pub(crate) mod compare;
pub mod data;
pub mod float;
pub(crate) mod fold;
pub(crate) mod func;
pub(crate) mod indexed;
pub(crate) mod integer;
pub(crate) mod linear;
pub(crate) mod lookup;
pub(crate) mod mask;
pub(crate) mod probe;
pub mod proto;
pub(crate) mod qdq;
pub(crate) mod quantize;
pub(crate) mod scale;
pub(crate) mod translate;
pub(crate) mod unfuse;
pub(crate) mod unroll;
pub(crate) mod wiring;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tract_onnx::pb::{tensor_shape_proto::dimension, type_proto};

use crate::graph::{execute, quantize_input, GraphError, Model};
use float::InputKind;

/// Why an ONNX file could not be compiled. Messages do not repeat the file's path: callers
/// name the file once.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Not a readable ONNX model.
    #[error("not a readable ONNX model: {0}")]
    Malformed(String),
    /// tract could not type or run the model.
    #[error("tract cannot type or run the model: {0}")]
    Tract(String),
    /// An op the IR lacks.
    #[error("node `{node}`: unsupported op `{op}`: {msg}")]
    UnsupportedOp {
        /// The ONNX node.
        node: String,
        /// The ONNX op type (tract's op name where the node is tract's own).
        op: String,
        /// What about it is unsupported.
        msg: String,
    },
    /// A node that does not fit.
    #[error("node `{node}`{}: {msg}", if op.is_empty() { String::new() } else { format!(" ({op})") })]
    Node {
        /// The node.
        node: String,
        /// Its op type, if known.
        op: String,
        /// What is wrong.
        msg: String,
    },
    /// A graph input that cannot be given a concrete shape.
    #[error("input `{name}`: {msg}")]
    Input {
        /// The input.
        name: String,
        /// What is wrong.
        msg: String,
    },
    /// The calibration data does not fit the model.
    #[error("calibration: {0}")]
    Calibration(String),
    /// The quantized graph is invalid.
    #[error(transparent)]
    Model(#[from] GraphError),
}

/// Float vs quantized outputs of one model output over the calibration set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputAccuracy {
    /// The output's name.
    pub name: String,
    /// Largest absolute error of any element.
    pub max_abs_error: f64,
    /// Mean absolute error over all elements.
    pub mean_abs_error: f64,
    /// Fraction of rows (along the last axis, over all samples) whose argmax agrees: a
    /// classifier's class, a decoder's next token at each position.
    pub argmax_agreement: f64,
}

/// Float vs quantized outputs over the calibration set: every output, and the worst of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccuracyReport {
    /// Calibration samples compared.
    pub samples: usize,
    /// The largest `max_abs_error` of any output.
    pub max_abs_error: f64,
    /// The largest `mean_abs_error` of any output.
    pub mean_abs_error: f64,
    /// The smallest `argmax_agreement` of any output.
    pub argmax_agreement: f64,
    /// Per output, in order.
    pub outputs: Vec<OutputAccuracy>,
}

/// A compiled model with its accuracy.
pub struct Imported {
    /// The quantized, validated model.
    pub model: Model,
    /// Its accuracy against tract's float run.
    pub accuracy: AccuracyReport,
}

/// How to compile.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Concrete shapes of the graph inputs, batch axis first; by default the file's declared
    /// shapes with a symbolic batch axis set to 1.
    pub input_shapes: Option<Vec<Vec<usize>>>,
}

/// The graph inputs' names and concrete shapes.
pub fn input_shapes(path: &Path, opts: &Options) -> Result<Vec<(String, Vec<usize>)>, ImportError> {
    let graph = proto::read_graph(path)?;
    let inputs = graph_inputs(&graph);
    if let Some(given) = &opts.input_shapes {
        if given.len() != inputs.len() {
            return Err(ImportError::Input {
                name: inputs.first().map_or(String::new(), |i| i.name.clone()),
                msg: format!(
                    "{} shapes given for {} graph inputs",
                    given.len(),
                    inputs.len()
                ),
            });
        }
        return Ok(inputs
            .iter()
            .map(|i| i.name.clone())
            .zip(given.iter().cloned())
            .collect());
    }
    inputs
        .iter()
        .map(|i| {
            let bad = |msg: String| ImportError::Input {
                name: i.name.clone(),
                msg,
            };
            let Some(type_proto::Value::TensorType(t)) =
                i.r#type.as_ref().and_then(|t| t.value.as_ref())
            else {
                return Err(bad("is not a tensor".into()));
            };
            let dims = t
                .shape
                .as_ref()
                .ok_or_else(|| bad("has no shape; give --input-shape".into()))?;
            let shape = dims
                .dim
                .iter()
                .enumerate()
                .map(|(d, dim)| match &dim.value {
                    Some(dimension::Value::DimValue(v)) if *v > 0 => Ok(*v as usize),
                    _ if d == 0 => Ok(1),
                    _ => Err(bad(format!(
                        "dim {d} is symbolic; give its size with --input-shape"
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok((i.name.clone(), shape))
        })
        .collect()
}

/// Whether the model at `path` takes token ids: its one graph input is of an integer type, a
/// Gather reads it as indices (an embedding), and an output can be logits over that embedding's
/// rows (its last dimension is their count, or not declared). Such a model is a decoder
/// candidate whatever its tensors are called; a graph with several inputs (integer indices
/// beside data, say), whose integer input is data, or that returns the embedded vectors
/// themselves, is not.
pub fn takes_tokens(path: &Path) -> Result<bool, ImportError> {
    let graph = proto::read_graph(path)?;
    let names: Vec<&str> = graph_inputs(&graph)
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    let gathers: Vec<&tract_onnx::pb::NodeProto> = graph
        .node
        .iter()
        .filter(|n| {
            n.op_type == "Gather" && n.input.get(1).map(String::as_str) == names.first().copied()
        })
        .collect();
    if input_kinds(&graph, &names) != [InputKind::Integer] || gathers.is_empty() {
        return Ok(false);
    }
    let rows: Vec<i64> = gathers
        .iter()
        .filter_map(|n| graph.initializer.iter().find(|t| t.name == n.input[0]))
        .filter_map(|t| t.dims.first().copied())
        .collect();
    let last_dim = |o: &tract_onnx::pb::ValueInfoProto| {
        let type_proto::Value::TensorType(t) = o.r#type.as_ref()?.value.as_ref()?;
        match t.shape.as_ref()?.dim.last()?.value.as_ref()? {
            dimension::Value::DimValue(v) => Some(*v),
            _ => None,
        }
    };
    Ok(rows.is_empty()
        || graph
            .output
            .iter()
            .any(|o| last_dim(o).is_none_or(|d| rows.contains(&d))))
}

/// The graph's inputs that are not initializers (older exporters list both).
fn graph_inputs(graph: &tract_onnx::pb::GraphProto) -> Vec<&tract_onnx::pb::ValueInfoProto> {
    let consts: Vec<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    graph
        .input
        .iter()
        .filter(|i| !consts.contains(&i.name.as_str()))
        .collect()
}

fn names_of(named: &[(String, Vec<usize>)]) -> Vec<&str> {
    named.iter().map(|(n, _)| n.as_str()).collect()
}

/// The kind of each named graph input, from its element type.
fn input_kinds(graph: &tract_onnx::pb::GraphProto, names: &[&str]) -> Vec<InputKind> {
    use tract_onnx::pb::tensor_proto::DataType;
    names
        .iter()
        .map(|n| {
            let elem = graph.input.iter().find(|i| i.name == *n).and_then(|i| {
                let type_proto::Value::TensorType(t) = i.r#type.as_ref()?.value.as_ref()?;
                Some(t.elem_type)
            });
            if elem == Some(DataType::Bool as i32) {
                return InputKind::Bool;
            }
            let integer = elem.is_some_and(|e| {
                [
                    DataType::Int64,
                    DataType::Int32,
                    DataType::Int16,
                    DataType::Int8,
                    DataType::Uint8,
                    DataType::Uint16,
                    DataType::Uint32,
                    DataType::Uint64,
                ]
                .iter()
                .any(|d| *d as i32 == e)
            });
            if integer {
                InputKind::Integer
            } else {
                InputKind::Real
            }
        })
        .collect()
}

/// The ONNX op type of a tract node: tract names the nodes it expands `<onnx node>.<part>`.
fn onnx_op(ops: &BTreeMap<String, String>, node: &str) -> Option<(String, String)> {
    let mut n = node;
    loop {
        if let Some(op) = ops.get(n) {
            return Some((n.to_string(), op.clone()));
        }
        n = &n[..n.rfind('.')?];
    }
}

/// Imports `path`, calibrates on `arrays` (our or EZKL's layout, see [`data::samples`]) and
/// measures accuracy against tract's float run.
pub fn compile(path: &Path, arrays: &[Vec<f64>], opts: &Options) -> Result<Imported, ImportError> {
    let named = input_shapes(path, opts)?;
    let shapes: Vec<Vec<usize>> = named.iter().map(|(_, s)| s.clone()).collect();
    let sizes: Vec<usize> = shapes.iter().map(|s| s.iter().product()).collect();
    let samples = data::samples(&sizes, arrays).map_err(ImportError::Calibration)?;
    let graph = proto::read_graph(path)?;
    let ops: BTreeMap<String, String> = graph
        .node
        .iter()
        .map(|n| (n.name.clone(), n.op_type.clone()))
        .collect();
    let kinds = input_kinds(&graph, &names_of(&named));
    let typed = float::load(path, &shapes, &kinds)?;
    let names: Vec<String> = named.iter().map(|(n, _)| n.clone()).collect();
    let fg = translate::translate(&typed, &names).map_err(|(node, op, msg)| {
        let (node, op) = onnx_op(&ops, &node).unwrap_or((node, op));
        ImportError::UnsupportedOp { node, op, msg }
    })?;
    let mut outlets: Vec<_> = fg.inputs.iter().map(|i| i.outlet).collect();
    outlets.extend(fg.nodes.iter().map(|n| n.outlet));
    outlets.extend(fg.outputs.iter().copied());
    outlets.sort();
    outlets.dedup();
    let mut runs = float::run(&typed, &shapes, &kinds, &outlets, &samples)?;
    for run in &mut runs {
        for (o, v) in run.iter_mut() {
            if let Some((step, z)) = fg.grid.get(o) {
                v.iter_mut().for_each(|q| *q = (*q - *z as f64) * step);
            }
        }
    }
    let mut range: BTreeMap<_, f64> = BTreeMap::new();
    for run in &runs {
        for (o, v) in run {
            let m = range.entry(*o).or_default();
            *m = v.iter().fold(*m, |m, x| m.max(x.abs()));
        }
    }
    let name = if graph.name.is_empty() {
        "model".to_string()
    } else {
        graph.name.clone()
    };
    let model = Model::new(quantize::quantize(&fg, &name, &range)?)?;
    let accuracy = accuracy(&model, &fg.outputs, &runs, &samples)?;
    Ok(Imported { model, accuracy })
}

fn accuracy(
    model: &Model,
    outputs: &[tract_onnx::prelude::OutletId],
    runs: &[BTreeMap<tract_onnx::prelude::OutletId, Vec<f64>>],
    samples: &[Vec<f64>],
) -> Result<AccuracyReport, ImportError> {
    let names = &model.graph().outputs;
    let lens: Vec<usize> = model
        .output_shapes()
        .iter()
        .map(|s| s.iter().product())
        .collect();
    // argmax along the last axis: a classifier's class, each position's next token of a decoder
    let rows: Vec<usize> = model
        .output_shapes()
        .iter()
        .map(|s| s.last().copied().unwrap_or(1).max(1))
        .collect();
    let mut per: Vec<(f64, f64, usize)> = vec![(0.0, 0.0, 0); names.len()];
    for (x, run) in samples.iter().zip(runs) {
        let got = model.dequantize(&execute(model, &quantize_input(x, model)?)?.output());
        let mut at = 0;
        for (k, (o, len)) in outputs.iter().zip(&lens).enumerate() {
            let (g, w) = (&got[at..at + len], &run[o]);
            at += len;
            for (a, b) in g.iter().zip(w) {
                per[k].0 = per[k].0.max((a - b).abs());
                per[k].1 += (a - b).abs();
            }
            per[k].2 += g
                .chunks(rows[k])
                .zip(w.chunks(rows[k]))
                .filter(|(g, w)| argmax(g) == argmax(w))
                .count();
        }
    }
    let n = samples.len().max(1) as f64;
    let outputs: Vec<OutputAccuracy> = names
        .iter()
        .zip(&per)
        .zip(lens.iter().zip(&rows))
        .map(|((name, p), (len, r))| OutputAccuracy {
            name: name.clone(),
            max_abs_error: p.0,
            mean_abs_error: p.1 / (n * *len as f64),
            argmax_agreement: p.2 as f64 / (n * (*len / *r).max(1) as f64),
        })
        .collect();
    Ok(AccuracyReport {
        samples: samples.len(),
        max_abs_error: outputs.iter().map(|o| o.max_abs_error).fold(0.0, f64::max),
        mean_abs_error: outputs.iter().map(|o| o.mean_abs_error).fold(0.0, f64::max),
        argmax_agreement: outputs
            .iter()
            .map(|o| o.argmax_agreement)
            .fold(1.0, f64::min),
        outputs,
    })
}

/// Index of the largest value; ties go to the lowest index.
pub use crate::decoder::argmax;
