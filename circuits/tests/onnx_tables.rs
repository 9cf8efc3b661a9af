//! Element-wise functions through the front end: each ONNX activation, and each chain tract
//! expands one into (Elu, Selu, Celu, Softplus, Softsign, Mish, exact Gelu), becomes one table
//! whose entries libm computed, within a stated distance of tract's float run, proven by the
//! halo2 circuit; Groth16, which has no lookups, refuses the model naming the node.

#[path = "common/onnx.rs"]
mod onnx;

use onnx::{float, halo2_accepts, string, Net};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use zkinfer_circuits::groth16::circuit::Shape;
use zkinfer_circuits::import::{compile, Imported, Options};

/// Compiles `net` on 24 random samples in `[-1, 1]` and proves the first with MockProver.
fn compiled(net: &Net, name: &str, size: usize) -> Imported {
    let dir = tempfile::tempdir().unwrap();
    let path = net.write(dir.path(), name);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let samples: Vec<Vec<f64>> = (0..24)
        .map(|_| (0..size).map(|_| rng.gen_range(-1.0..1.0)).collect())
        .collect();
    let i = compile(&path, &samples, &Options::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
    halo2_accepts(&i.model, &samples[0]);
    i
}

fn ops(i: &Imported) -> Vec<&'static str> {
    i.model.graph().nodes.iter().map(|n| n.op.name()).collect()
}

#[test]
fn every_activation_is_one_table_within_tolerance() {
    let mut net = Net::default();
    net.input("x", &[1, 8]).init("c", &[], vec![1.5]);
    net.init("three", &[], vec![3.0])
        .init("two", &[], vec![2.0]);
    net.node("Add", &["x", "c"], &["xp"], vec![]);
    let unary = [
        "Sigmoid",
        "Tanh",
        "Erf",
        "Exp",
        "Softplus",
        "Elu",
        "Selu",
        "Celu",
        "HardSwish",
        "Mish",
        "Sin",
        "Cos",
        "Softsign",
    ];
    let mut outs: Vec<String> = Vec::new();
    for op in unary {
        let o = op.to_lowercase();
        net.node(op, &["x"], &[&o], vec![]);
        outs.push(o);
    }
    net.node("Gelu", &["x"], &["gelu"], vec![]);
    net.node(
        "Gelu",
        &["x"],
        &["gelu_tanh"],
        vec![string("approximate", "tanh")],
    );
    net.node("Pow", &["x", "three"], &["cube"], vec![]);
    net.node("Pow", &["x", "two"], &["square"], vec![]);
    // functions of x + 1.5, which stay positive: the scalar sum joins each chain
    net.node("Log", &["xp"], &["log"], vec![]);
    net.node("Sqrt", &["xp"], &["sqrt"], vec![]);
    net.node("Reciprocal", &["xp"], &["recip"], vec![]);
    net.node("Elu", &["x"], &["elu2"], vec![float("alpha", 0.5)]);
    for o in [
        "gelu",
        "gelu_tanh",
        "cube",
        "square",
        "log",
        "sqrt",
        "recip",
        "elu2",
    ] {
        outs.push(o.into());
    }
    for o in &outs {
        net.output(o);
    }
    let i = compiled(&net, "activations", 8);
    // one table per output, however many nodes tract made of it; nothing else
    assert_eq!(
        ops(&i),
        vec!["table"; outs.len()],
        "{:#?}",
        i.model.graph().nodes
    );
    // Celu and Elu with alpha 1 are one function: tract expands them differently, the entries
    // agree, and the circuit holds them once
    assert_eq!(i.model.tables().len(), outs.len() - 1);
    for (o, name) in i.accuracy.outputs.iter().zip(&outs) {
        assert!(o.max_abs_error <= 0.04, "{name}: {o:?}");
    }
    let e = Shape::new(i.model.clone(), 1).err().unwrap().to_string();
    let named = e.split('`').nth(1).unwrap_or_default();
    assert!(
        i.model.graph().nodes.iter().any(|n| n.name == named) && e.contains("Groth16 has none"),
        "{e}"
    );
}

#[test]
fn a_table_after_a_linear_layer_reads_its_clamped_rescale() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let w: Vec<f32> = (0..24).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let mut net = Net::default();
    net.input("x", &[1, 6])
        .init("w", &[6, 4], w)
        .init("b", &[4], vec![0.1, -0.2, 0.3, 0.0])
        .node("Gemm", &["x", "w", "b"], &["h"], vec![])
        .node("Tanh", &["h"], &["t"], vec![])
        .node("HardSigmoid", &["h"], &["hs"], vec![])
        .output("t")
        .output("hs");
    let i = compiled(&net, "gemm_tanh", 6);
    let names = ops(&i);
    // the table's input is the rescale's output, clamped to int8 by a proven clamp: its domain
    assert_eq!(&names[..3], ["einsum", "rescale", "table"], "{names:?}");
    let n = &i.model.graph().nodes[1];
    let bound = i.model.bounds_of(&n.name).unwrap();
    match &i.model.graph().nodes[2].op {
        zkinfer_circuits::ops::Op::Table(t) => {
            assert_eq!(t.first as i128, bound.0);
            assert_eq!(t.first as i128 + t.values.len() as i128 - 1, bound.1);
        }
        other => panic!("{other:?}"),
    }
    // HardSigmoid is a clamp of a scaling: no table
    assert!(!names[3..].contains(&"table"), "{names:?}");
    for o in &i.accuracy.outputs {
        assert!(o.max_abs_error <= 0.04, "{o:?}");
    }
}

#[test]
fn softmax_on_the_last_and_a_middle_axis() {
    let mut net = Net::default();
    net.input("x", &[1, 3, 5])
        .init("k", &[], vec![4.0])
        .node("Mul", &["x", "k"], &["logits"], vec![])
        .node("Softmax", &["logits"], &["p"], vec![])
        .node("Softmax", &["logits"], &["q"], vec![onnx::int("axis", 1)])
        .output("p")
        .output("q");
    let i = compiled(&net, "softmax", 15);
    assert_eq!(ops(&i), ["affine", "rescale", "softmax", "softmax"]);
    for o in &i.accuracy.outputs {
        assert!(o.max_abs_error <= 0.02, "{o:?}");
    }
}

#[test]
fn single_head_attention() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut w = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.gen_range(-0.7..0.7)).collect() };
    let mut net = Net::default();
    net.input("x", &[1, 4, 8])
        .init("wq", &[8, 8], w(64))
        .init("wk", &[8, 8], w(64))
        .init("wv", &[8, 8], w(64))
        .init("scale", &[], vec![0.35])
        .node("MatMul", &["x", "wq"], &["q"], vec![])
        .node("MatMul", &["x", "wk"], &["k"], vec![])
        .node("MatMul", &["x", "wv"], &["v"], vec![])
        .node(
            "Transpose",
            &["k"],
            &["kt"],
            vec![onnx::ints("perm", &[0, 2, 1])],
        )
        .node("MatMul", &["q", "kt"], &["s"], vec![])
        .node("Mul", &["s", "scale"], &["ss"], vec![])
        .node("Softmax", &["ss"], &["p"], vec![])
        .node("MatMul", &["p", "v"], &["o"], vec![])
        .output("o");
    let i = compiled(&net, "attention", 32);
    let names = ops(&i);
    for (op, n) in [("matmul", 2), ("softmax", 1)] {
        assert_eq!(names.iter().filter(|o| **o == op).count(), n, "{names:?}");
    }
    let range = 127.0 / i.model.output_scales()[0];
    for o in &i.accuracy.outputs {
        assert!(o.max_abs_error <= 0.05 * range, "{o:?} (range {range})");
    }
}
