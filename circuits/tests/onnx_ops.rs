//! Each ONNX op of the comparison, transposed-convolution and wiring families through the front
//! end, in a graph written here: it becomes the IR ops it should (nothing computed twice, clamps
//! fused into the rescale before them), its quantized outputs stay within a stated distance of
//! tract's float run, and the compiled model satisfies both backends on a calibration sample.
//! The ops' own soundness (broken witnesses, mutation nets) is tested in `ops.rs`.

#[path = "common/onnx.rs"]
mod onnx;

use onnx::{compile_on, compiled, float, int, ints, ops, within, Net};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use zkinfer_circuits::ops::Op;

fn normal(rng: &mut ChaCha8Rng, n: usize, s: f32) -> Vec<f32> {
    (0..n).map(|_| rng.gen_range(-s..s)).collect()
}

#[test]
fn conv_transpose_with_stride_padding_and_groups() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut net = Net::default();
    net.input("x", &[1, 2, 4, 4])
        .init("w", &[2, 3, 3, 3], normal(&mut rng, 54, 0.5))
        .init("b", &[3], normal(&mut rng, 3, 0.2))
        .init("wg", &[2, 2, 2, 2], normal(&mut rng, 16, 0.5))
        .node(
            "ConvTranspose",
            &["x", "w", "b"],
            &["y"],
            vec![
                ints("strides", &[2, 2]),
                ints("pads", &[1, 1, 1, 1]),
                ints("output_padding", &[1, 1]),
            ],
        )
        .node(
            "ConvTranspose",
            &["x", "wg"],
            &["z"],
            vec![int("group", 2), ints("strides", &[1, 1])],
        )
        .output("y")
        .output("z");
    let i = compiled(&net, "deconv", 32, 11);
    assert_eq!(
        ops(&i),
        ["conv_transpose", "rescale", "conv_transpose", "rescale"]
    );
    assert_eq!(i.model.output_shapes(), [&[1, 3, 8, 8][..], &[1, 4, 5, 5]]);
    within(&i, 0.05);
}

#[test]
fn leaky_relu_and_prelu_are_one_piecewise_op() {
    let mut net = Net::default();
    net.input("x", &[1, 2, 3, 3])
        .init("slope", &[2, 1, 1], vec![0.25, -0.5])
        .node("LeakyRelu", &["x"], &["l"], vec![float("alpha", 0.1)])
        .node("PRelu", &["x", "slope"], &["p"], vec![])
        .output("l")
        .output("p");
    let i = compiled(&net, "leaky", 18, 2);
    assert_eq!(ops(&i), ["piecewise", "rescale", "piecewise", "rescale"]);
    within(&i, 0.02);
}

#[test]
fn clips_fuse_into_the_rescale_before_them() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut net = Net::default();
    net.input("x", &[1, 8])
        .init("w", &[8, 6], normal(&mut rng, 48, 1.0))
        .init("lo", &[], vec![-0.5])
        .init("hi", &[], vec![0.75])
        .init("six", &[], vec![0.4])
        .init("zero", &[], vec![0.0])
        .node("MatMul", &["x", "w"], &["h"], vec![])
        .node("Clip", &["h", "lo", "hi"], &["c"], vec![])
        // Relu6-style clip on the input: no rescale before it, so a clip op of its own
        .node("Clip", &["x", "zero", "six"], &["r6"], vec![])
        .output("c")
        .output("r6");
    let i = compiled(&net, "clip", 8, 4);
    assert_eq!(ops(&i), ["einsum", "rescale", "clip"]);
    let g = i.model.graph();
    let Op::Rescale(r) = &g.nodes[1].op else {
        panic!("{:?}", g.nodes[1].op)
    };
    // the clamp at the clip's own output scale: -0.5 is -127 · 0.5 / 0.75
    assert_eq!((r.min, r.max), (-85, 127));
    within(&i, 0.03);
}

#[test]
fn max_min_of_tensors_at_different_scales_and_with_constants() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut net = Net::default();
    net.input("x", &[1, 6])
        .init("w1", &[6, 4], normal(&mut rng, 24, 1.0))
        .init("w2", &[6, 4], normal(&mut rng, 24, 0.1))
        .init("c", &[], vec![0.2])
        .node("MatMul", &["x", "w1"], &["a"], vec![])
        .node("MatMul", &["x", "w2"], &["b"], vec![])
        .node("Max", &["a", "b"], &["mx"], vec![])
        .node("Min", &["a", "b"], &["mn"], vec![])
        .node("Max", &["b", "c"], &["bc"], vec![])
        .output("mx")
        .output("mn")
        .output("bc");
    let i = compiled(&net, "maxmin", 6, 6);
    let ops = ops(&i);
    // b is read three times, so its Max with 0.2 is a clip of its own; the finer of a, b is
    // rescaled once to the coarser scale for both joins
    assert_eq!(
        ops,
        ["einsum", "rescale", "einsum", "rescale", "rescale", "max", "min", "clip"]
    );
    within(&i, 0.05);
}

#[test]
fn abs_neg_sign_keep_their_input_scale() {
    let mut net = Net::default();
    net.input("x", &[1, 10])
        .node("Abs", &["x"], &["a"], vec![])
        .node("Neg", &["x"], &["n"], vec![])
        .node("Sign", &["x"], &["s"], vec![])
        .output("a")
        .output("n")
        .output("s");
    let i = compiled(&net, "signs", 10, 7);
    // |-128| and -(-128) leave int8, so those two outputs end in a clamp to int8
    assert_eq!(ops(&i), ["piecewise", "affine", "clip", "clip", "clip"]);
    assert_eq!(i.model.output_scales()[20], 1.0);
    within(&i, 0.01);
}

#[test]
fn reductions_arg_extremes_and_global_max_pool() {
    let mut net = Net::default();
    net.input("x", &[1, 3, 4, 4])
        .node(
            "ReduceMin",
            &["x"],
            &["rmin"],
            vec![ints("axes", &[2, 3]), int("keepdims", 0)],
        )
        .node(
            "ArgMax",
            &["x"],
            &["amax"],
            vec![int("axis", 1), int("keepdims", 0)],
        )
        .node(
            "ArgMin",
            &["x"],
            &["amin"],
            vec![int("axis", 3), int("select_last_index", 1)],
        )
        .node("GlobalMaxPool", &["x"], &["gmax"], vec![])
        .output("rmin")
        .output("amax")
        .output("amin")
        .output("gmax");
    let i = compiled(&net, "reduce", 48, 8);
    let ops = ops(&i);
    for op in ["reduce_min", "arg_max", "reduce_max"] {
        assert!(ops.contains(&op), "{op} missing from {ops:?}");
    }
    assert_eq!(
        i.model.output_shapes(),
        [&[1, 3][..], &[1, 4, 4], &[1, 3, 4, 1], &[1, 3, 1, 1]]
    );
    // indices are exact but for ties that quantization creates: the index outputs may differ
    // only where two inputs quantize to the same value, which random inputs make rare
    let acc = &i.accuracy.outputs;
    assert!(
        acc[0].max_abs_error <= 0.01 && acc[3].max_abs_error <= 0.01,
        "{acc:?}"
    );
    assert!(
        acc[1].mean_abs_error <= 0.05 && acc[2].mean_abs_error <= 0.1,
        "{acc:?}"
    );
}

/// Concat with a constant block, as a vision transformer puts its class token before the
/// patches: the block is quantized at the patches' scale and pinned in the circuit, and the
/// linear layer after it reads both.
#[test]
fn concat_with_a_constant_class_token() {
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let mut net = Net::default();
    net.input("x", &[1, 3, 4])
        .init("cls", &[1, 1, 4], normal(&mut rng, 4, 0.8))
        .init("w", &[4, 2], normal(&mut rng, 8, 0.5))
        .node("Concat", &["cls", "x"], &["t"], vec![int("axis", 1)])
        .node("MatMul", &["t", "w"], &["y"], vec![])
        .output("y");
    let i = compiled(&net, "class_token", 12, 23);
    let names = ops(&i);
    assert!(names.contains(&"concat"), "{names:?}");
    assert_eq!(i.model.output_shapes(), [&[1, 4, 2][..]]);
    within(&i, 0.05);
}

/// TopK: the largest values with their indices along the last axis, and the smallest values
/// alone along the middle one (its unread indices get no node); both outputs are exact but for
/// ties that quantization creates.
#[test]
fn top_k_values_and_indices() {
    let mut net = Net::default();
    net.input("x", &[1, 3, 6])
        .init_i64("three", &[1], vec![3])
        .init_i64("two", &[1], vec![2])
        .node("TopK", &["x", "three"], &["v", "i"], vec![int("axis", -1)])
        .node(
            "TopK",
            &["x", "two"],
            &["s", "unread"],
            vec![int("axis", 1), int("largest", 0)],
        )
        .output("v")
        .output("i")
        .output("s");
    let i = compiled(&net, "top_k", 18, 9);
    assert_eq!(ops(&i), ["top_k"; 3]);
    assert_eq!(
        i.model.output_shapes(),
        [&[1, 3, 3][..], &[1, 3, 3], &[1, 2, 6]]
    );
    let acc = &i.accuracy.outputs;
    assert!(
        acc[0].max_abs_error <= 0.01 && acc[2].max_abs_error <= 0.01,
        "{acc:?}"
    );
    assert!(acc[1].mean_abs_error <= 0.05, "{acc:?}");
}

#[test]
fn tile_gather_elements_and_split_only_copy() {
    let mut net = Net::default();
    net.input("x", &[2, 3])
        .init_i64("reps", &[2], vec![2, 2])
        .init_i64("idx", &[2, 2], vec![2, 0, -1, 1])
        .init_i64("parts", &[2], vec![1, 2])
        .node("Tile", &["x", "reps"], &["t"], vec![])
        .node(
            "GatherElements",
            &["x", "idx"],
            &["g"],
            vec![int("axis", 1)],
        )
        .node(
            "Split",
            &["x", "parts"],
            &["s0", "s1"],
            vec![int("axis", 1)],
        )
        .output("t")
        .output("g")
        .output("s0")
        .output("s1");
    let i = compiled(&net, "wiring", 6, 9);
    let ops = ops(&i);
    assert!(
        ops.contains(&"tile") && ops.contains(&"gather_elements"),
        "{ops:?}"
    );
    assert!(
        ops.iter().all(|o| !["rescale", "clip"].contains(o)),
        "{ops:?}"
    );
    assert_eq!(
        i.model.output_shapes(),
        [&[4, 6][..], &[2, 2], &[2, 1], &[2, 2]]
    );
    within(&i, 0.005);
}

#[test]
fn average_pool_over_padding_divides_by_the_taps_inside() {
    let mut net = Net::default();
    net.input("x", &[1, 2, 5, 5])
        .node(
            "AveragePool",
            &["x"],
            &["y"],
            vec![
                ints("kernel_shape", &[3, 3]),
                ints("pads", &[1, 1, 1, 1]),
                ints("strides", &[2, 2]),
                int("count_include_pad", 0),
            ],
        )
        .output("y");
    let i = compiled(&net, "avgpool", 50, 10);
    assert_eq!(ops(&i), ["sum_pool", "affine", "rescale"]);
    // a corner averages 4 taps, an edge 6, the centre 9: 2^12 / count, rounded
    let Op::Affine(a) = &i.model.graph().nodes[1].op else {
        unreachable!()
    };
    assert_eq!(&a.mul.data[..3], [1024, 683, 1024]);
    assert_eq!(a.mul.data[4], 455);
    within(&i, 0.01);
}

#[test]
fn qdq_uses_the_files_scales() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let mut w: Vec<i32> = (0..32).map(|_| rng.gen_range(-127..=127)).collect();
    w[5] = -127;
    let mut net = Net::default();
    net.input("x", &[1, 8])
        .init("sx", &[], vec![1.0 / 128.0])
        .init_i8("zx", &[], vec![0], false)
        .init("sw", &[], vec![0.01])
        .init_i8("zw", &[], vec![0], false)
        .init_i8("wq", &[8, 4], w.clone(), false)
        .init("sy", &[], vec![0.02])
        .init_i8("zy", &[], vec![10], true)
        .node("QuantizeLinear", &["x", "sx", "zx"], &["xq"], vec![])
        .node("DequantizeLinear", &["xq", "sx", "zx"], &["xd"], vec![])
        .node("DequantizeLinear", &["wq", "sw", "zw"], &["wd"], vec![])
        .node("MatMul", &["xd", "wd"], &["h"], vec![])
        .node("Relu", &["h"], &["r"], vec![])
        .node("QuantizeLinear", &["r", "sy", "zy"], &["yq"], vec![])
        .node("DequantizeLinear", &["yq", "sy", "zy"], &["y"], vec![])
        .output("y");
    let i = compiled(&net, "qdq", 8, 13);
    let g = i.model.graph();
    // the input on the file's grid; the weights are the file's integers; ReLU and the
    // requantization are the clamp of one rescale, to uint8 less its zero point; the output
    // is brought into int8 after it
    assert_eq!(
        (g.inputs[0].scale, g.inputs[0].min, g.inputs[0].max),
        (128.0, -128, 127)
    );
    assert_eq!(ops(&i), ["einsum", "rescale", "rescale"]);
    let Op::Einsum(mm) = &g.nodes[0].op else {
        unreachable!()
    };
    assert_eq!(
        mm.weights.data,
        w.iter().map(|v| *v as i64).collect::<Vec<_>>()
    );
    let Op::Rescale(r) = &g.nodes[1].op else {
        unreachable!()
    };
    assert_eq!((r.min, r.max), (0, 245));
    assert!(
        (g.nodes[1].scale - 50.0).abs() < 1e-4,
        "{}",
        g.nodes[1].scale
    );
    within(&i, 0.03);
}

#[test]
fn qdq_pair_on_two_grids_is_refused_by_name() {
    // a QuantizeLinear read by a DequantizeLinear of another scale is not one requantization:
    // taking either scale would silently change the model, so the pair is refused
    let mut net = Net::default();
    net.input("x", &[1, 4])
        .init("s1", &[], vec![0.01])
        .init("s2", &[], vec![0.02])
        .init_i8("z", &[], vec![0], false)
        .node("QuantizeLinear", &["x", "s1", "z"], &["xq"], vec![])
        .node("DequantizeLinear", &["xq", "s2", "z"], &["y"], vec![])
        .output("y");
    let e = compile_on(&net, "two_grids", &[vec![0.5; 4]])
        .err()
        .expect("refused");
    assert!(
        e.contains("another scale or zero point") && e.contains("QuantizeLinear"),
        "{e}"
    );
}

#[test]
fn matmul_of_two_activations_on_both_backends() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut net = Net::default();
    net.input("x", &[1, 4, 6])
        .init("wa", &[6, 5], normal(&mut rng, 30, 0.6))
        .init("wb", &[6, 5], normal(&mut rng, 30, 0.6))
        .node("MatMul", &["x", "wa"], &["a"], vec![])
        .node("MatMul", &["x", "wb"], &["b"], vec![])
        .node("Transpose", &["b"], &["bt"], vec![ints("perm", &[0, 2, 1])])
        .node("MatMul", &["a", "bt"], &["s"], vec![])
        .output("s");
    let i = compiled(&net, "qk", 24, 12);
    let names = ops(&i);
    assert_eq!(
        names.iter().filter(|o| **o == "matmul").count(),
        1,
        "{names:?}"
    );
    let range = 127.0 / i.model.output_scales()[0];
    within(&i, 0.05 * range);
}

#[test]
fn mean_of_squares_is_a_product_then_a_sum() {
    // tract fuses ReduceMean(Pow(x, 2)) into one reduction, the variance of a LayerNorm
    let mut net = Net::default();
    net.input("x", &[1, 3, 8])
        .init("two", &[], vec![2.0])
        .node("Pow", &["x", "two"], &["sq"], vec![])
        .node("ReduceMean", &["sq"], &["var"], vec![ints("axes", &[-1])])
        .output("var");
    let i = compiled(&net, "mean_squares", 24, 13);
    assert_eq!(ops(&i), ["mul", "reduce_sum", "rescale"]);
    let range = 127.0 / i.model.output_scales()[0];
    within(&i, 0.02 * range);
}

/// Where with a constant condition (Trilu and Equal, folded by tract) outside a softmax: wiring
/// from two tensors at different scales, or from one and a constant; both backends prove it.
#[test]
fn where_with_a_constant_condition_is_wiring() {
    let mut net = Net::default();
    net.opset(14)
        .input("x", &[1, 4, 4])
        .init("k", &[], vec![3.0])
        .init("ones", &[4, 4], vec![1.0; 16])
        .init("zero", &[], vec![0.0])
        .init("half", &[], vec![0.5])
        .node("Mul", &["x", "k"], &["y"], vec![])
        .node("Trilu", &["ones"], &["tril"], vec![int("upper", 0)])
        .node("Equal", &["tril", "zero"], &["future"], vec![])
        .node("Where", &["future", "x", "y"], &["w1"], vec![])
        .node("Where", &["future", "half", "x"], &["w2"], vec![])
        .output("w1")
        .output("w2");
    let i = compiled(&net, "where", 16, 17);
    let names = ops(&i);
    assert_eq!(
        names.iter().filter(|o| **o == "select").count(),
        2,
        "{names:?}"
    );
    within(&i, 0.03);
    for n in &i.model.graph().nodes {
        if let Op::Select(s) = &n.op {
            let future: Vec<i64> = (0..16).map(|j| i64::from(j % 4 > j / 4)).collect();
            match s.fill {
                None => assert_eq!(s.cond.data, future),
                Some(_) => assert_eq!(
                    s.cond.data,
                    future.iter().map(|f| 1 - f).collect::<Vec<_>>()
                ),
            }
        }
    }
}

/// Trilu of a computed tensor (torch's `tril`/`triu` on activations) is a select by the
/// constant triangle with fill 0, for both attributes and offsets, on both backends.
#[test]
fn trilu_of_a_computed_tensor_is_a_select_by_the_triangle() {
    let mut net = Net::default();
    net.opset(14)
        .input("x", &[1, 3, 4])
        .init("k", &[], vec![2.0])
        .init_i64("one", &[], vec![1])
        .node("Mul", &["x", "k"], &["y"], vec![])
        .node("Trilu", &["y"], &["low"], vec![int("upper", 0)])
        .node("Trilu", &["y", "one"], &["up"], vec![int("upper", 1)])
        .output("low")
        .output("up");
    let i = compiled(&net, "trilu", 12, 23);
    within(&i, 0.03);
    let conds: Vec<Vec<i64>> = i
        .model
        .graph()
        .nodes
        .iter()
        .filter_map(|n| match &n.op {
            Op::Select(s) => Some(s.cond.data.clone()),
            _ => None,
        })
        .collect();
    // rows of 4 over 3 rows: lower keeps j <= i, upper with k = 1 keeps j >= i + 1
    let low: Vec<i64> = (0..12).map(|e| i64::from(e % 4 <= e / 4)).collect();
    let up: Vec<i64> = (0..12).map(|e| i64::from(e % 4 > e / 4)).collect();
    assert_eq!(conds, vec![low, up]);
}

/// Resize in nearest mode, which the IR has no op for, is found by running it to only move
/// values: a flat gather, wiring with no constraint (tract writes DepthToSpace as reshapes and
/// a transpose, also wiring).
#[test]
fn ops_that_only_move_values_are_found_by_probing() {
    let mut net = Net::default();
    net.input("x", &[1, 2, 2, 3])
        .input("y", &[1, 4, 2, 3])
        .init("scales", &[4], vec![1.0, 1.0, 2.0, 2.0])
        .node(
            "Resize",
            &["x", "", "scales"],
            &["up"],
            vec![onnx::string("mode", "nearest")],
        )
        .node("DepthToSpace", &["y"], &["d2s"], vec![int("blocksize", 2)])
        .output("up")
        .output("d2s");
    let i = compiled(&net, "moves", 36, 17);
    let ops = ops(&i);
    let wiring = ["reshape", "transpose", "gather_elements"];
    assert!(
        ops.contains(&"gather_elements") && ops.iter().all(|o| wiring.contains(o)),
        "{ops:?}"
    );
    // copies of the quantized inputs: off by at most half an input step
    within(&i, 0.5 / 127.0 + 1e-9);
}

/// ScatterND and ScatterElements at constant indices, as torch exports an in-place assignment
/// (`x[:, 1] = u`), are found by running them to only move values of their two computed inputs:
/// both flattened, joined and gathered, wiring with no constraint.
#[test]
fn scatters_at_constant_indices_only_move_values() {
    let mut net = Net::default();
    net.input("x", &[1, 4, 3])
        .input("u", &[2, 3])
        .input("y", &[1, 6])
        .input("v", &[1, 2])
        .init_i64("rows", &[2, 2], vec![0, 1, 0, 3])
        .init_i64("at", &[1, 2], vec![4, 0])
        .node("ScatterND", &["x", "rows", "u"], &["s"], vec![])
        .node(
            "ScatterElements",
            &["y", "at", "v"],
            &["e"],
            vec![int("axis", 1)],
        )
        .output("s")
        .output("e");
    let i = compiled(&net, "scatters", 26, 29);
    let ops = ops(&i);
    let wiring = ["reshape", "concat", "gather_elements", "rescale"];
    assert!(
        ops.contains(&"concat") && ops.iter().all(|o| wiring.contains(o)),
        "{ops:?}"
    );
    // copies of the quantized inputs, brought to one scale: off by at most an input step
    within(&i, 1.0 / 127.0 + 1e-9);
}

/// Resize in linear mode (bilinear, half-pixel) and CumSum (exclusive, reversed), which the IR
/// has no op for, are found by running them to be constant linear maps: a `linear_map` of the
/// terms found and its rescale, within a few output steps of tract's float run.
#[test]
fn constant_linear_maps_are_found_by_probing() {
    let mut net = Net::default();
    net.input("x", &[1, 2, 3, 3])
        .input("y", &[1, 8])
        .init("scales", &[4], vec![1.0, 1.0, 2.0, 2.0])
        .init_i64("axis", &[], vec![1])
        .node(
            "Resize",
            &["x", "", "scales"],
            &["up"],
            vec![onnx::string("mode", "linear")],
        )
        .node(
            "CumSum",
            &["y", "axis"],
            &["c"],
            vec![int("exclusive", 1), int("reverse", 1)],
        )
        .output("up")
        .output("c");
    let i = compiled(&net, "linear_maps", 26, 19);
    let ops = ops(&i);
    assert_eq!(
        ops.iter().filter(|o| **o == "linear_map").count(),
        2,
        "{ops:?}"
    );
    assert_eq!(i.model.output_shapes(), [&[1, 2, 6, 6][..], &[1, 8]]);
    within(&i, 0.05);
}

/// An op that computes anything but a move or a constant linear map fails the probes and is
/// named: LRN divides each element by a power of its neighbourhood's sum of squares.
#[test]
fn an_op_that_computes_fails_the_probes_and_is_named() {
    let mut net = Net::default();
    net.input("x", &[1, 4, 2])
        .node("LRN", &["x"], &["n"], vec![int("size", 3)])
        .output("n");
    let e = compile_on(&net, "lrn", &[vec![0.5; 8]])
        .err()
        .expect("LRN refused");
    assert!(e.contains("LRN") && e.contains("no translation"), "{e}");
}
