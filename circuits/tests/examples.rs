//! The committed example models through the front end: each compiles from its ONNX file with its
//! calibration set, holds the ops it was written with (shape arithmetic folded away), and its
//! quantized outputs agree with tract's float run within a stated bound. EZKL's calibration layout
//! (samples concatenated per input) gives the very same model.

use std::path::{Path, PathBuf};

use zkinfer_circuits::import::{compile, Imported, Options};

fn example(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(file)
}

fn arrays(file: &str) -> Vec<Vec<f64>> {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(example(file)).unwrap()).unwrap();
    serde_json::from_value(v["input"].clone()).unwrap()
}

fn build(stem: &str) -> Imported {
    let onnx = example(&format!("{stem}.onnx"));
    compile(
        &onnx,
        &arrays(&format!("{stem}.calibration.json")),
        &Options::default(),
    )
    .unwrap()
}

fn ops(i: &Imported) -> Vec<&'static str> {
    i.model.graph().nodes.iter().map(|n| n.op.name()).collect()
}

/// Within `frac` of each output's range (`±127 / scale`), and argmax agreement of at least `agree`.
fn accurate(i: &Imported, frac: f64, agree: f64) {
    let acc = &i.accuracy;
    for (o, scale) in acc.outputs.iter().zip(i.model.output_scales()) {
        let range = 127.0 / scale;
        assert!(
            o.max_abs_error < frac * range,
            "{}: {o:?} (range {range})",
            i.model.name()
        );
        assert!(o.argmax_agreement >= agree, "{}: {o:?}", i.model.name());
    }
}

#[test]
fn lenet_style_cnn() {
    let i = build("cnn/lenet");
    assert_eq!(i.model.input_sizes(), [256]);
    let ops = ops(&i);
    for op in ["conv", "sum_pool", "einsum", "rescale"] {
        assert!(ops.contains(&op), "{op} missing from {ops:?}");
    }
    accurate(&i, 0.1, 0.85);
}

#[test]
fn smooth_mlp_has_one_table_per_activation() {
    let i = build("smooth_mlp/smooth_mlp");
    // GELU as torch writes it (Div, Erf, Add, Mul, Mul) is one table like Tanh and Sigmoid
    let mut expected = Vec::new();
    for _ in 0..3 {
        expected.extend(["einsum", "rescale", "table"]);
    }
    expected.extend(["einsum", "rescale"]);
    assert_eq!(ops(&i), expected);
    assert_eq!(i.model.tables().len(), 3);
    accurate(&i, 0.05, 0.85);
}

#[test]
fn residual_cnn_folds_batchnorm_and_adds_the_skip() {
    let i = build("cnn/residual");
    let ops = ops(&i);
    assert_eq!(
        ops,
        [
            "conv",
            "rescale",
            "max_pool",
            "conv",
            "rescale",
            "conv",
            "rescale",
            "add",
            "rescale",
            "reduce_sum",
            "rescale",
            "einsum",
            "rescale"
        ],
        "BatchNorm folds into its Conv, each ReLU into the rescale before it, Flatten into the Gemm"
    );
    accurate(&i, 0.1, 0.85);
}

#[test]
fn torch_style_export_folds_its_shape_arithmetic() {
    let i = build("cnn/torch_style");
    // Shape, Gather, Unsqueeze, Concat, Reshape, Identity and Dropout all fold away
    assert_eq!(ops(&i), ["conv", "rescale", "einsum", "rescale"]);
    accurate(&i, 0.1, 0.85);
}

/// The transformer block torch.onnx would write (`attention_block/make_block.py`): both
/// decomposed LayerNorms become rsqrt tables over 12-bit variances, the tanh-GELU one table, the
/// Trilu / Equal / Where mask the softmax's causal pattern; the shape arithmetic folds away.
#[test]
fn attention_block_as_torch_exports_it() {
    let i = build("attention_block/attention_block");
    let ops = ops(&i);
    let count = |op: &str| ops.iter().filter(|o| **o == op).count();
    // two rsqrt tables and the GELU; one softmax; q·kᵀ (its 1/√d folded into its rescale)
    // and p·v; tract moves the qkv Split into the projection, one einsum each
    assert_eq!(
        (count("table"), count("softmax"), count("matmul")),
        (3, 1, 2),
        "{ops:?}"
    );
    assert_eq!((count("einsum"), count("affine")), (6, 2), "{ops:?}");
    for n in &i.model.graph().nodes {
        if let zkinfer_circuits::ops::Op::Softmax(s) = &n.op {
            let keep = s.keep.as_ref().expect("the causal mask is folded in");
            let causal: Vec<i64> = (0..256).map(|j| i64::from(j % 16 <= j / 16)).collect();
            assert_eq!(keep.data, causal);
        }
    }
    for o in &i.accuracy.outputs {
        eprintln!("{o:?}");
    }
    accurate(&i, 0.1, 0.0);
}

#[test]
fn mlp_of_a_million_parameters() {
    let i = build("mlp_1m/mlp_1m");
    let weights: usize = i
        .model
        .graph()
        .nodes
        .iter()
        .map(|n| match &n.op {
            zkinfer_circuits::ops::Op::Einsum(e) => e.weights.data.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(weights, 1024 * 512 + 512 * 512 + 512 * 256 + 256 * 10);
    accurate(&i, 0.15, 0.75);
}

/// The int8 initializer `name` of an ONNX file, as the file stores it.
fn int8_initializer(onnx: &Path, name: &str) -> Vec<i64> {
    use tract_onnx::prelude::Framework;
    let pb = tract_onnx::onnx().proto_model_for_path(onnx).unwrap();
    let t = pb
        .graph
        .unwrap()
        .initializer
        .into_iter()
        .find(|t| t.name == name)
        .unwrap();
    t.raw_data.iter().map(|b| *b as i8 as i64).collect()
}

#[test]
fn onnxruntime_qdq_model_keeps_the_files_grid() {
    // lenet.onnx quantized by onnxruntime's quantize_static (make_qdq.py): every activation
    // between a QuantizeLinear and a DequantizeLinear, the Flatten's pair fused by tract into
    // an identity table
    let i = build("cnn/lenet_qdq");
    let g = i.model.graph();
    assert_eq!(
        ops(&i),
        [
            "rescale", "conv", "rescale", "sum_pool", "rescale", "conv", "rescale", "sum_pool",
            "rescale", "reshape", "einsum", "rescale", "einsum", "rescale", "rescale"
        ],
        "the input's uint8 grid does not fit int8 and is reached by a rescale; each ReLU is \
         the pair's clamp at the zero point; the output's uint8-like range is brought into int8"
    );
    let onnx = example("cnn/lenet_qdq.onnx");
    let zkinfer_circuits::ops::Op::Conv(c) = &g.nodes[1].op else {
        panic!("{:?}", g.nodes[1].op)
    };
    assert_eq!(c.weights.data, int8_initializer(&onnx, "c1w_quantized"));
    // the file's activation grid: 1 / r1_scale
    let r1 = 1.0 / 0.008790286;
    assert!(
        (g.nodes[2].scale - r1).abs() < 1e-3 * r1,
        "{}",
        g.nodes[2].scale
    );
    // the reference is onnxruntime's grid: within a few steps of the output's (y_scale 0.0058)
    for o in &i.accuracy.outputs {
        assert!(o.max_abs_error < 4.0 * 0.0058, "{o:?}");
        assert!(o.argmax_agreement >= 0.9, "{o:?}");
    }
}

#[test]
fn ezkl_calibration_layout_gives_the_same_model() {
    let ours = build("cnn/lenet");
    let concatenated = vec![arrays("cnn/lenet.calibration.json").concat()];
    let onnx = example("cnn/lenet.onnx");
    let ezkl = compile(&onnx, &concatenated, &Options::default()).unwrap();
    assert_eq!(
        serde_json::to_string(&ezkl.model).unwrap(),
        serde_json::to_string(&ours.model).unwrap()
    );
    assert_eq!(ezkl.accuracy.samples, 16);
}

#[test]
fn symbolic_dims_need_a_shape_and_take_one() {
    let onnx = example("cnn/lenet.onnx");
    let cal = arrays("cnn/lenet.calibration.json");
    // a wrong explicit shape is refused by tract's typing or by the sample length
    let opts = Options {
        input_shapes: Some(vec![vec![1, 1, 16, 16], vec![1, 2]]),
    };
    let e = compile(&onnx, &cal, &opts).err().unwrap().to_string();
    assert!(e.contains("2 shapes given for 1 graph inputs"), "{e}");
    let opts = Options {
        input_shapes: Some(vec![vec![1, 1, 16, 16]]),
    };
    assert_eq!(
        compile(&onnx, &cal, &opts).unwrap().model,
        build("cnn/lenet").model
    );
}
