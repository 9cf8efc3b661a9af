//! Reads a float MLP out of an ONNX graph: a chain of Gemm / MatMul(+Add) layers with optional
//! ReLU, through shape-only ops. Initializers are decoded here (FLOAT and DOUBLE, inline or raw)
//! so that no unusual tensor can reach a panicking path.

use std::collections::BTreeMap;
use std::path::Path;

use tract_onnx::pb::{self, tensor_shape_proto::dimension, type_proto};
use tract_onnx::prelude::Framework;

use super::ImportError;

/// One dense layer: `y = W x + b`, then ReLU if `relu`.
#[derive(Debug, Clone, PartialEq)]
pub struct FloatLayer {
    /// `out × in`, row-major.
    pub weights: Vec<f64>,
    pub bias: Vec<f64>,
    pub in_dim: usize,
    pub out_dim: usize,
    pub relu: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FloatNet {
    pub name: String,
    /// The graph input's dims, batch dimension included (set to 1).
    pub input_dims: Vec<usize>,
    pub layers: Vec<FloatLayer>,
}

impl FloatNet {
    pub fn input_len(&self) -> usize {
        self.input_dims.iter().skip(1).product::<usize>().max(1)
    }
}

pub(crate) struct Tensor {
    pub dims: Vec<usize>,
    pub data: Vec<f64>,
}

pub(crate) fn decode(t: &pb::TensorProto) -> Result<Tensor, String> {
    let dims: Vec<usize> = t
        .dims
        .iter()
        .map(|d| usize::try_from(*d).map_err(|_| format!("negative dim {d}")))
        .collect::<Result<_, _>>()?;
    let n: usize = dims.iter().product();
    let data: Vec<f64> = match t.data_type {
        1 if !t.raw_data.is_empty() => t
            .raw_data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect(),
        1 => t.float_data.iter().map(|v| *v as f64).collect(),
        11 if !t.raw_data.is_empty() => t
            .raw_data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect(),
        11 => t.double_data.clone(),
        7 if !t.raw_data.is_empty() => t
            .raw_data
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")) as f64)
            .collect(),
        7 => t.int64_data.iter().map(|v| *v as f64).collect(),
        other => {
            return Err(format!(
                "tensor `{}` has unsupported data type {other}",
                t.name
            ))
        }
    };
    if data.len() != n {
        return Err(format!(
            "tensor `{}` holds {} values for shape {:?}",
            t.name,
            data.len(),
            dims
        ));
    }
    if let Some(v) = data.iter().find(|v| !v.is_finite()) {
        return Err(format!("tensor `{}` holds a non-finite value {v}", t.name));
    }
    Ok(Tensor { dims, data })
}

fn attr<'a>(node: &'a pb::NodeProto, name: &str) -> Option<&'a pb::AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

/// The graph of an ONNX file; a missing file, a bad protobuf or a model without a graph is
/// [`ImportError::Malformed`].
pub(crate) fn read_graph(path: &Path) -> Result<pb::GraphProto, ImportError> {
    let malformed = |msg: String| ImportError::Malformed {
        path: path.display().to_string(),
        msg,
    };
    if !path.is_file() {
        return Err(malformed("no such file".into()));
    }
    let proto = tract_onnx::onnx()
        .proto_model_for_path(path)
        .map_err(|e| malformed(format!("{e:#}")))?;
    proto.graph.ok_or_else(|| malformed("no graph".into()))
}

/// Every initializer of `graph`, decoded, by name.
pub(crate) fn initializers<'g>(
    path: &Path,
    graph: &'g pb::GraphProto,
) -> Result<BTreeMap<&'g str, Tensor>, ImportError> {
    graph
        .initializer
        .iter()
        .map(|t| {
            let decoded = decode(t).map_err(|msg| ImportError::Malformed {
                path: path.display().to_string(),
                msg,
            })?;
            Ok((t.name.as_str(), decoded))
        })
        .collect()
}

pub fn parse(path: &Path) -> Result<FloatNet, ImportError> {
    let p = path.display().to_string();
    let malformed = |msg: String| ImportError::Malformed {
        path: p.clone(),
        msg,
    };
    let graph = read_graph(path)?;
    let graph = &graph;
    let mut consts = initializers(path, graph)?;
    let inputs: Vec<&pb::ValueInfoProto> = graph
        .input
        .iter()
        .filter(|i| !consts.contains_key(i.name.as_str()))
        .collect();
    let [input] = inputs.as_slice() else {
        return Err(malformed(format!(
            "expected one graph input, found {}",
            inputs.len()
        )));
    };
    let input_dims = match input.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(type_proto::Value::TensorType(t)) => t
            .shape
            .as_ref()
            .map(|s| {
                s.dim
                    .iter()
                    .enumerate()
                    .map(|(i, d)| match &d.value {
                        Some(dimension::Value::DimValue(v)) if *v > 0 => {
                            Ok(if i == 0 { 1 } else { *v as usize })
                        }
                        _ if i == 0 => Ok(1),
                        _ => Err(malformed(format!(
                            "input `{}` has a symbolic or empty dim {i}",
                            input.name
                        ))),
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .ok_or_else(|| malformed(format!("input `{}` has no shape", input.name)))?,
        _ => return Err(malformed(format!("input `{}` is not a tensor", input.name))),
    };
    let mut net = FloatNet {
        name: graph.name.clone(),
        input_dims,
        layers: Vec::new(),
    };
    let mut cur = input.name.clone();
    let mut width = net.input_len();

    for node in &graph.node {
        let name = if node.name.is_empty() {
            node.output.first().cloned().unwrap_or_default()
        } else {
            node.name.clone()
        };
        let bad = |msg: String| ImportError::Node {
            path: p.clone(),
            node: name.clone(),
            op: node.op_type.clone(),
            msg,
        };
        if node.op_type == "Constant" {
            let t = attr(node, "value")
                .and_then(|a| a.t.as_ref())
                .ok_or_else(|| bad("no tensor value".into()))?;
            let out = node.output.first().ok_or_else(|| bad("no output".into()))?;
            consts.insert(out, decode(t).map_err(&bad)?);
            continue;
        }
        if node.input.first() != Some(&cur) {
            return Err(bad(format!(
                "expects a chain: its first input should be `{cur}`"
            )));
        }
        let constant = |i: usize| -> Result<&Tensor, ImportError> {
            let n = node
                .input
                .get(i)
                .ok_or_else(|| bad(format!("missing input {i}")))?;
            consts
                .get(n.as_str())
                .ok_or_else(|| bad(format!("input `{n}` must be a constant initializer")))
        };
        match node.op_type.as_str() {
            "Flatten" | "Reshape" | "Identity" | "Dropout" => {}
            "Relu" => {
                let last = net
                    .layers
                    .last_mut()
                    .filter(|l| !l.relu)
                    .ok_or_else(|| bad("ReLU must follow a dense layer".into()))?;
                last.relu = true;
            }
            "Gemm" | "MatMul" => {
                let b = constant(1)?;
                let int = |n: &str, d: i64| attr(node, n).map_or(d, |a| a.i);
                let float = |n: &str| attr(node, n).map_or(1.0, |a| a.f as f64);
                let gemm = node.op_type == "Gemm";
                if gemm && int("transA", 0) != 0 {
                    return Err(bad("transA = 1 is not supported".into()));
                }
                let trans_b = gemm && int("transB", 0) != 0;
                let [r, c] = b.dims[..] else {
                    return Err(bad(format!("weight must be 2-D, got {:?}", b.dims)));
                };
                let (in_dim, out_dim) = if trans_b { (c, r) } else { (r, c) };
                if in_dim != width {
                    return Err(bad(format!(
                        "weight expects {in_dim} inputs but the tensor has {width}"
                    )));
                }
                let alpha = if gemm { float("alpha") } else { 1.0 };
                let weights = (0..out_dim)
                    .flat_map(|o| (0..in_dim).map(move |i| (o, i)))
                    .map(|(o, i)| {
                        alpha
                            * if trans_b {
                                b.data[o * in_dim + i]
                            } else {
                                b.data[i * out_dim + o]
                            }
                    })
                    .collect();
                let mut bias = vec![0.0; out_dim];
                if gemm && node.input.len() > 2 {
                    let cten = constant(2)?;
                    let beta = float("beta");
                    if cten.data.len() != out_dim && cten.data.len() != 1 {
                        return Err(bad(format!(
                            "bias has {} values for {out_dim} outputs",
                            cten.data.len()
                        )));
                    }
                    for (o, v) in bias.iter_mut().enumerate() {
                        *v = beta * cten.data[o % cten.data.len()];
                    }
                }
                net.layers.push(FloatLayer {
                    weights,
                    bias,
                    in_dim,
                    out_dim,
                    relu: false,
                });
                width = out_dim;
            }
            "Add" => {
                let c = constant(1)?;
                let last = net
                    .layers
                    .last_mut()
                    .filter(|l| !l.relu)
                    .ok_or_else(|| bad("Add must follow MatMul as its bias".into()))?;
                if c.data.len() != last.out_dim && c.data.len() != 1 {
                    return Err(bad(format!(
                        "bias has {} values for {} outputs",
                        c.data.len(),
                        last.out_dim
                    )));
                }
                for (o, v) in last.bias.iter_mut().enumerate() {
                    *v += c.data[o % c.data.len()];
                }
            }
            op => {
                return Err(ImportError::UnsupportedOp {
                    path: p.clone(),
                    op: op.to_string(),
                    node: name,
                })
            }
        }
        cur = node
            .output
            .first()
            .cloned()
            .ok_or_else(|| bad("no output".into()))?;
    }
    if graph.output.first().map(|o| &o.name) != Some(&cur) {
        return Err(malformed(format!(
            "graph output is not the end of the layer chain `{cur}`"
        )));
    }
    if net.layers.is_empty() {
        return Err(malformed("no dense layer found".into()));
    }
    Ok(net)
}
