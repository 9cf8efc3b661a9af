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
    if is_lfs_pointer(path) {
        return Err(ImportError::Malformed(
            "a Git LFS pointer, not the model itself (fetch it with `git lfs pull`)".into(),
        ));
    }
    let proto = tract_onnx::onnx()
        .proto_model_for_path(path)
        .map_err(|e| ImportError::Malformed(super::float::sentences(&e)))?;
    proto
        .graph
        .ok_or_else(|| ImportError::Malformed("the model has no graph".into()))
}

/// Whether the file is the small text Git LFS leaves in a clone made without LFS, which would
/// otherwise read as a protobuf with an invalid wire type.
fn is_lfs_pointer(path: &Path) -> bool {
    use std::io::Read;
    const POINTER: &[u8] = b"version https://git-lfs.github.com/spec/";
    let mut head = [0u8; POINTER.len()];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| head == POINTER)
}
