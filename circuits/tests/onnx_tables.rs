//! Element-wise functions through the front end: each ONNX activation, and each chain tract
//! expands one into (Elu, Selu, Celu, Softplus, Softsign, Mish, exact Gelu), becomes one table
//! whose entries libm computed, within a stated distance of tract's float run, proven by the
//! halo2 circuit; Groth16, which has no lookups, refuses the model naming the node.

#[path = "common/onnx.rs"]
mod onnx;

use onnx::{compiled_halo2, float, halo2_accepts, ops, string, Net};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use zkinfer_circuits::groth16::circuit::Shape;
use zkinfer_circuits::halo2::mutation::assert_sample_bound;
use zkinfer_circuits::halo2::{ModelCircuit, Plan};
use zkinfer_circuits::import::Imported;

fn compiled(net: &Net, name: &str, size: usize) -> Imported {
    compiled_halo2(net, name, size, 5)
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
        .scores("x", ["wq", "wk", "wv"])
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

/// LayerNormalization written as one op (opset 17) and as torch decomposes it (ReduceMean, Sub,
/// Pow, ReduceMean, Add, Sqrt, Div, then the affine): tract fuses both into a centring and an
/// RmsNorm, which the front end proves as a mean of squares at 12 bits, an rsqrt table and a
/// product. Both branches stay within a stated distance of tract's float run, and the
/// mutation net holds over the circuit (a rsqrt or any other cell off by one is refused).
#[test]
fn layer_norm_as_one_op_and_decomposed() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut w = |n: usize, lo: f32, hi: f32| -> Vec<f32> {
        (0..n).map(|_| rng.gen_range(lo..hi)).collect()
    };
    let (gamma, beta) = (w(16, 0.5, 1.5), w(16, -0.3, 0.3));
    let mut net = Net::default();
    net.opset(17)
        .input("x", &[1, 4, 16])
        .init("g", &[16], gamma)
        .init("b", &[16], beta)
        .init("two", &[], vec![2.0])
        .init("eps", &[], vec![1e-5])
        .node(
            "LayerNormalization",
            &["x", "g", "b"],
            &["ln"],
            vec![onnx::int("axis", -1), float("epsilon", 1e-5)],
        )
        .node(
            "ReduceMean",
            &["x"],
            &["mu"],
            vec![onnx::ints("axes", &[-1])],
        )
        .node("Sub", &["x", "mu"], &["d"], vec![])
        .node("Pow", &["d", "two"], &["d2"], vec![])
        .node(
            "ReduceMean",
            &["d2"],
            &["var"],
            vec![onnx::ints("axes", &[-1])],
        )
        .node("Add", &["var", "eps"], &["ve"], vec![])
        .node("Sqrt", &["ve"], &["sd"], vec![])
        .node("Div", &["d", "sd"], &["z"], vec![])
        .node("Mul", &["z", "g"], &["zg"], vec![])
        .node("Add", &["zg", "b"], &["dec"], vec![])
        .output("ln")
        .output("dec");
    let i = compiled(&net, "layer_norm", 64);
    let names = ops(&i);
    assert_eq!(
        names.iter().filter(|o| **o == "table").count(),
        2,
        "{names:?}"
    );
    // each rsqrt table reads a 12-bit variance
    for t in i.model.graph().nodes.iter() {
        if let zkinfer_circuits::ops::Op::Table(t) = &t.op {
            assert_eq!((t.first, t.values.len()), (0, 4096), "{}", t.func);
        }
    }
    for o in &i.accuracy.outputs {
        assert!(o.max_abs_error <= 0.08, "{o:?}");
    }
    let plan = Arc::new(Plan::new(i.model.clone(), 1).unwrap());
    let x: Vec<f64> = (0..64).map(|j| ((j * 7 % 13) as f64 - 6.0) / 6.0).collect();
    let w = halo2_accepts(&i.model, &x);
    let (circuit, run) = ModelCircuit::prepare(plan.clone(), w).unwrap();
    let inst = vec![run.statement.instances().to_vec()];
    assert_sample_bound(plan.k, &circuit, &inst, 1500, "layer_norm");
}

/// Causal attention as exporters write the mask: `masked_fill(tril(ones) == 0, -inf)` (Trilu,
/// Equal and Where, which tract folds to a constant condition) on one head, an additive mask of
/// 0 and -1e9 on the other. Each softmax takes the lower-triangular pattern as its mask: a
/// masked probability is the constant 0, and a change to a masked (future) position leaves the
/// earlier outputs as they were.
#[test]
fn causal_masks_fold_into_the_softmax() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let mut w = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.gen_range(-0.7..0.7)).collect() };
    let (l, d) = (4usize, 8usize);
    let additive: Vec<f32> = (0..l * l)
        .map(|i| if i % l <= i / l { 0.0 } else { -1e9 })
        .collect();
    let mut net = Net::default();
    net.opset(14)
        .input("x", &[1, l as i64, d as i64])
        .init("wq", &[8, 8], w(64))
        .init("wk", &[8, 8], w(64))
        .init("wv", &[8, 8], w(64))
        .init("ones", &[4, 4], vec![1.0; 16])
        .init("zero", &[], vec![0.0])
        .init("ninf", &[], vec![f32::NEG_INFINITY])
        .init("bias", &[4, 4], additive)
        .scores("x", ["wq", "wk", "wv"])
        .node("Trilu", &["ones"], &["tril"], vec![onnx::int("upper", 0)])
        .node("Equal", &["tril", "zero"], &["future"], vec![])
        .node("Where", &["future", "ninf", "s"], &["masked"], vec![])
        .node("Softmax", &["masked"], &["p"], vec![])
        .node("MatMul", &["p", "v"], &["o"], vec![])
        .node("Add", &["s", "bias"], &["biased"], vec![])
        .node("Softmax", &["biased"], &["p2"], vec![])
        .output("o")
        .output("p2");
    let i = compiled(&net, "causal", l * d);
    let names = ops(&i);
    assert_eq!(
        names.iter().filter(|o| **o == "softmax").count(),
        2,
        "{names:?}"
    );
    let tril: Vec<i64> = (0..l * l).map(|i| i64::from(i % l <= i / l)).collect();
    for n in &i.model.graph().nodes {
        if let zkinfer_circuits::ops::Op::Softmax(s) = &n.op {
            let keep = s.keep.as_ref().expect("the mask is folded in");
            assert_eq!(keep.data, tril, "{}", n.name);
        }
    }
    for o in &i.accuracy.outputs {
        assert!(o.max_abs_error <= 0.05, "{o:?}");
    }
    // the additive mask's probabilities: exactly 0 above the diagonal; position 0's outputs do
    // not move when the last token changes
    let mut x: Vec<f64> = (0..l * d)
        .map(|j| ((j * 5 % 11) as f64 - 5.0) / 5.0)
        .collect();
    let run = |x: &[f64]| {
        let q = zkinfer_circuits::graph::quantize_input(x, &i.model).unwrap();
        zkinfer_circuits::graph::execute(&i.model, &q)
            .unwrap()
            .output()
    };
    let before = run(&x);
    let p2 = &before[l * d..];
    for (j, p) in p2.iter().enumerate() {
        if tril[j] == 0 {
            assert_eq!(*p, 0, "masked probability {j}: {p2:?}");
        }
    }
    x[(l - 1) * d..].iter_mut().for_each(|v| *v = -*v);
    let after = run(&x);
    assert_eq!(
        before[..d],
        after[..d],
        "the first position saw the last token"
    );
    assert_eq!(p2[..l * (l - 1)], after[l * d..l * d + l * (l - 1)]);
    halo2_accepts(&i.model, &x);
}

/// MeanVarianceNormalization, which tract expands into a mean that a scale makes from a sum
/// and reads twice, once through a square: the square's table reads the sum itself, so the
/// scale stays an op of its own instead of being folded into the sum (which left the table's
/// input untranslated). Within a stated distance of tract, and the halo2 circuit accepts it.
#[test]
fn mean_variance_normalization_reads_its_mean_twice() {
    let mut net = Net::default();
    net.input("x", &[1, 4, 3])
        .node(
            "MeanVarianceNormalization",
            &["x"],
            &["h"],
            vec![onnx::ints("axes", &[1])],
        )
        .output("h");
    let i = compiled(&net, "mvn", 12);
    let names = ops(&i);
    assert!(
        names.contains(&"table") && names.contains(&"affine"),
        "{names:?}"
    );
    for o in &i.accuracy.outputs {
        assert!(o.max_abs_error <= 0.15 && o.mean_abs_error <= 0.03, "{o:?}");
    }
}
