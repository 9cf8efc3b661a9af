//! ONNX import: the example MLP calibrates with high agreement with tract's float run, and bad
//! files give errors that name the problem.

use std::path::{Path, PathBuf};

use prost::Message;
use tract_onnx::pb;
use zkinfer_circuits::import::{compile, ImportError, Options};

fn example(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/mlp")
        .join(file)
}

fn rows(file: &str) -> Vec<Vec<f64>> {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(example(file)).unwrap()).unwrap();
    serde_json::from_value(v["input"].clone()).unwrap()
}

#[test]
fn example_mlp_imports_with_high_accuracy() {
    let opts = Options::default();
    let imported = compile(&example("mlp.onnx"), &rows("calibration.json"), &opts).unwrap();
    let m = &imported.model;
    assert_eq!(m.input_len(), 784);
    assert_eq!(m.output_len(), 10);
    let ops: Vec<&str> = m.graph().nodes.iter().map(|n| n.op.name()).collect();
    // Flatten folds away; each Gemm is an einsum with its bias; the ReLU is the rescale's clamp
    assert_eq!(ops, ["einsum", "rescale", "einsum", "rescale"]);
    let acc = &imported.accuracy;
    assert_eq!(acc.samples, 32);
    assert!(acc.argmax_agreement >= 0.9, "{acc:?}");
    // outputs span about ±(127 / scale); error must be a small fraction of that range
    let range = 127.0 / m.output_scales()[0];
    assert!(acc.max_abs_error < 0.1 * range, "{acc:?} range {range}");
    // the same inputs give the same model, bit for bit
    let again = compile(&example("mlp.onnx"), &rows("calibration.json"), &opts).unwrap();
    assert_eq!(
        serde_json::to_string(&again.model).unwrap(),
        serde_json::to_string(m).unwrap()
    );
}

fn tensor(name: &str, dims: &[i64], data: Vec<f32>) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: 1,
        float_data: data,
        ..Default::default()
    }
}

fn value_info(name: &str, dims: &[i64]) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{dimension, Dimension};
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: 1,
                shape: Some(pb::TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|d| Dimension {
                            value: Some(dimension::Value::DimValue(*d)),
                            ..Default::default()
                        })
                        .collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn node(op: &str, name: &str, inputs: &[&str], output: &str) -> pb::NodeProto {
    pb::NodeProto {
        op_type: op.into(),
        name: name.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        ..Default::default()
    }
}

/// A 4-2 MatMul+Add model followed by `extra` (an op applied to the output).
fn write_model(dir: &Path, extra: Option<&str>) -> PathBuf {
    let mut nodes = vec![
        node("MatMul", "mm", &["x", "w"], "h"),
        node("Add", "add", &["h", "b"], "y"),
    ];
    let mut out = "y";
    if let Some(op) = extra {
        nodes.push(node(op, "weird_node", &["y"], "z"));
        out = "z";
    }
    let graph = pb::GraphProto {
        name: "tiny".into(),
        node: nodes,
        initializer: vec![
            tensor(
                "w",
                &[4, 2],
                vec![0.5, -0.25, 1.0, 0.0, -1.0, 0.75, 0.1, 0.2],
            ),
            tensor("b", &[2], vec![0.1, -0.1]),
        ],
        input: vec![value_info("x", &[1, 4])],
        output: vec![value_info(out, &[1, 2])],
        ..Default::default()
    };
    let model = pb::ModelProto {
        ir_version: 8,
        graph: Some(graph),
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: 13,
        }],
        ..Default::default()
    };
    let path = dir.join(format!("{}.onnx", extra.unwrap_or("plain")));
    std::fs::write(&path, model.encode_to_vec()).unwrap();
    path
}

#[test]
fn matmul_add_model_imports() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_model(dir.path(), None);
    let imported = compile(
        &path,
        &[vec![1.0, -0.5, 0.25, 0.0], vec![0.1, 0.2, 0.3, 0.4]],
        &Options::default(),
    )
    .unwrap();
    assert_eq!(imported.model.output_len(), 2);
    assert_eq!(imported.accuracy.argmax_agreement, 1.0);
}

#[test]
fn unsupported_op_names_op_and_node() {
    let dir = tempfile::tempdir().unwrap();
    // tract types IsNaN, which the IR has no translation for
    let path = write_model(dir.path(), Some("IsNaN"));
    match compile(&path, &[vec![0.0; 4]], &Options::default()) {
        Err(e @ ImportError::UnsupportedOp { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("IsNaN") && msg.contains("weird_node"), "{msg}");
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("IsNaN accepted"),
    }
}

#[test]
fn malformed_and_missing_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.onnx");
    std::fs::write(&junk, b"\x08\x07this is not protobuf \xff\xfe").unwrap();
    let e = compile(&junk, &[vec![0.0; 4]], &Options::default())
        .err()
        .expect("junk rejected");
    assert!(matches!(e, ImportError::Malformed(_)), "{e}");
    // a clone made without Git LFS holds a pointer where the model should be
    let pointer = dir.path().join("pointer.onnx");
    let text = "version https://git-lfs.github.com/spec/v1\noid sha256:ab12\nsize 4096\n";
    std::fs::write(&pointer, text).unwrap();
    let e = compile(&pointer, &[vec![0.0; 4]], &Options::default())
        .err()
        .expect("pointer rejected")
        .to_string();
    assert!(
        e.contains("Git LFS pointer") && e.contains("git lfs pull"),
        "{e}"
    );
    let e = compile(
        &dir.path().join("missing.onnx"),
        &[vec![0.0; 4]],
        &Options::default(),
    )
    .err()
    .expect("missing rejected");
    assert!(e.to_string().contains("no such file"), "{e}");
}

#[test]
fn calibration_of_wrong_width_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_model(dir.path(), None);
    let e = compile(&path, &[vec![0.0; 5]], &Options::default())
        .err()
        .expect("wrong width rejected");
    assert!(e.to_string().contains("5 values"), "{e}");
}
