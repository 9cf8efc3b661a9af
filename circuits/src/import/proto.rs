//! The ONNX protobuf itself, for what tract's typed model does not keep: graph input names and
//! declared dims, and node op types (to name the ONNX op in errors).

use std::path::Path;

use tract_onnx::pb;
use tract_onnx::prelude::Framework;

use super::ImportError;

/// The graph of an ONNX file; a missing file, a bad protobuf or a model without a graph is
/// [`ImportError::Malformed`].
pub(crate) fn read_graph(path: &Path) -> Result<pb::GraphProto, ImportError> {
    if !path.is_file() {
        return Err(ImportError::Malformed("no such file".into()));
    }
    let proto = tract_onnx::onnx()
        .proto_model_for_path(path)
        .map_err(|e| ImportError::Malformed(super::float::sentences(&e)))?;
    proto
        .graph
        .ok_or_else(|| ImportError::Malformed("the model has no graph".into()))
}
