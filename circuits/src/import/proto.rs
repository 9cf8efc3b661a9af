//! The ONNX protobuf itself, for what tract's typed model does not keep: graph input names and
//! declared dims, node op types (to name the ONNX op in errors), and initializers decoded here
//! (FLOAT, DOUBLE and INT64, inline or raw) so that no unusual tensor reaches a panicking path.

use std::collections::BTreeMap;
use std::path::Path;

use tract_onnx::pb;
use tract_onnx::prelude::Framework;

use super::ImportError;

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

/// The graph of an ONNX file; a missing file, a bad protobuf or a model without a graph is
/// [`ImportError::Malformed`].
pub(crate) fn read_graph(path: &Path) -> Result<pb::GraphProto, ImportError> {
    if !path.is_file() {
        return Err(ImportError::Malformed("no such file".into()));
    }
    let proto = tract_onnx::onnx()
        .proto_model_for_path(path)
        .map_err(|e| ImportError::Malformed(format!("{e:#}")))?;
    proto
        .graph
        .ok_or_else(|| ImportError::Malformed("the model has no graph".into()))
}

/// Every initializer of `graph`, decoded, by name.
pub(crate) fn initializers(graph: &pb::GraphProto) -> Result<BTreeMap<&str, Tensor>, ImportError> {
    graph
        .initializer
        .iter()
        .map(|t| {
            let decoded = decode(t).map_err(ImportError::Malformed)?;
            Ok((t.name.as_str(), decoded))
        })
        .collect()
}
