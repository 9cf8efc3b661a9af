//! Booleans and integers through the front end, in graphs written here: comparisons, logic and
//! Where on computed tensors; integer and boolean inputs; index arithmetic, Gather of constant
//! tables and GatherElements at computed indices, OneHot (reads and writes at computed
//! indices: `onnx_indexed.rs`). Integer results must equal tract's
//! exactly, real ones stay within a stated distance, and each compiled model satisfies both
//! backends where it has no function tables (halo2 alone otherwise). What cannot be exact is refused by
//! name. The IR ops' own soundness is tested in `ops.rs`.

#[path = "common/onnx.rs"]
mod onnx;

use onnx::{compile_on, compiled, int, ops, proves, string, Net};
use zkinfer_circuits::import::Imported;

/// Every output exactly as tract computes it.
fn exact(i: &Imported) {
    for o in &i.accuracy.outputs {
        assert_eq!(o.max_abs_error, 0.0, "{}: {o:?}", i.model.name());
    }
}

/// Less / Greater / LessOrEqual of tensors and constants, Not / And / Or / Xor, and Where with
/// the result as its condition between two tensors, a tensor and a constant.
#[test]
fn comparisons_logic_and_where_of_computed_tensors() {
    let mut net = Net::default();
    net.input("x", &[1, 6])
        .input("y", &[1, 6])
        .init("t", &[6], vec![-0.5, -0.2, 0.0, 0.1, 0.4, 0.8])
        .init("q", &[], vec![0.25])
        .init("half", &[], vec![0.5])
        .node("Less", &["x", "y"], &["lt"], vec![])
        .node("Greater", &["x", "t"], &["gt"], vec![])
        .node("LessOrEqual", &["q", "y"], &["le"], vec![])
        .node("Not", &["gt"], &["ngt"], vec![])
        .node("And", &["lt", "ngt"], &["a"], vec![])
        .node("Or", &["a", "le"], &["o"], vec![])
        .node("Xor", &["lt", "le"], &["xo"], vec![])
        .node("Where", &["o", "x", "y"], &["w"], vec![])
        .node("Where", &["a", "x", "half"], &["w2"], vec![])
        .node("Cast", &["xo"], &["xf"], vec![int("to", 1)])
        .output("w")
        .output("w2")
        .output("xf");
    let i = compiled(&net, "logic", 12, 31);
    let names = ops(&i);
    assert!(
        names.contains(&"compare") && names.contains(&"choose"),
        "{names:?}"
    );
    // a select is off only where quantization moves a value across a comparison's threshold:
    // between x and y, by no more than they differ there
    let outs = &i.accuracy.outputs;
    assert!(outs[0].max_abs_error <= 0.05, "{outs:?}");
    assert!(outs.iter().all(|o| o.mean_abs_error <= 0.02), "{outs:?}");
}

/// Integer and boolean inputs: a comparison and index arithmetic on them are exact, a constant
/// table is read at the computed indices (integer entries exact, real ones int8), OneHot, and
/// GatherElements at indices computed by an ArgMax.
#[test]
fn integer_inputs_indices_and_tables_are_exact() {
    let mut net = Net::default();
    net.input_i64("idx", &[1, 4])
        .input_bool("b", &[1, 4])
        .input("x", &[1, 3, 4])
        .init_i64("two", &[], vec![2])
        .init_i64("one", &[], vec![1])
        .init_i64("next", &[5], vec![4, 0, 3, 1, 2])
        .init(
            "leaf",
            &[4, 2],
            vec![0.5, -1.0, 0.25, 2.0, -0.75, 1.5, 1.0, 0.0],
        )
        .init_i64("depth", &[], vec![4])
        .init("onoff", &[2], vec![0.0, 1.0])
        .node("Less", &["idx", "two"], &["small"], vec![])
        .node("And", &["small", "b"], &["both"], vec![])
        .node("Add", &["idx", "one"], &["shifted"], vec![])
        .node(
            "Gather",
            &["next", "shifted"],
            &["hop"],
            vec![int("axis", 0)],
        )
        .node("Cast", &["hop"], &["hopf"], vec![int("to", 1)])
        .node("Gather", &["leaf", "idx"], &["rows"], vec![int("axis", 0)])
        .node("Cast", &["both"], &["bothf"], vec![int("to", 1)])
        .node("OneHot", &["idx", "depth", "onoff"], &["hot"], vec![])
        .node(
            "ArgMax",
            &["x"],
            &["am"],
            vec![int("axis", 2), int("keepdims", 1)],
        )
        .node(
            "GatherElements",
            &["x", "am"],
            &["mx"],
            vec![int("axis", 2)],
        )
        .output("hopf")
        .output("bothf")
        .output("hot")
        .output("rows")
        .output("mx");
    let samples: Vec<Vec<f64>> = (0..6)
        .map(|s| {
            let idx = (0..4).map(|j| ((s + j) % 4) as f64);
            let b = (0..4).map(|j| ((s * j) % 2) as f64);
            let x = (0..12).map(|j| ((s * 7 + j * 5) % 11) as f64 / 11.0 - 0.5);
            idx.chain(b).chain(x).collect()
        })
        .collect();
    let i = compile_on(&net, "indices", &samples).unwrap();
    let inputs = &i.model.graph().inputs;
    assert_eq!(
        inputs
            .iter()
            .map(|x| (x.scale, x.min, x.max))
            .collect::<Vec<_>>()[..2],
        [(1.0, 0, 3), (1.0, 0, 1)],
        "an index input takes the rows of the table it reads; a boolean 0 and 1"
    );
    let outs = &i.accuracy.outputs;
    for o in &outs[..3] {
        assert_eq!(o.max_abs_error, 0.0, "{o:?}");
    }
    // the leaf table is int8 at its own scale (half a step: 1/127); the maximum read back, on
    // its sum's wider bound, is rescaled to int8
    assert!(
        outs[3].max_abs_error <= 0.008 && outs[4].max_abs_error <= 0.01,
        "{outs:?}"
    );
    proves(&i.model, &samples[1]);
}

/// EZKL's `boolean` example: four boolean inputs that tract evaluates out of their declared
/// order; the data file's arrays follow the declared order, and the result is exact.
#[test]
fn boolean_inputs_keep_their_declared_order() {
    let mut net = Net::default();
    for n in ["p", "q", "r", "s"] {
        net.input_bool(n, &[1, 3]);
    }
    net.node("And", &["q", "r"], &["qr"], vec![])
        .node("Xor", &["s", "p"], &["sp"], vec![])
        .node("And", &["r", "sp"], &["rsp"], vec![])
        .node("And", &["qr", "rsp"], &["out"], vec![])
        .output("out");
    let rows: Vec<f64> = [[0, 1, 1], [0, 1, 1], [1, 1, 0], [1, 0, 1]]
        .concat()
        .into_iter()
        .map(f64::from)
        .collect();
    let i = compile_on(&net, "boolean", &[rows.clone()]).unwrap();
    let names: Vec<&str> = i.model.graph().inputs.iter().map(|x| &x.name[..]).collect();
    assert_eq!(names, ["p", "q", "r", "s"]);
    exact(&i);
    onnx::proves(&i.model, &rows);
    let mut bad = rows.clone();
    bad[4] = 2.0;
    let e = compile_on(&net, "boolean", &[bad]).err().expect("refused");
    assert!(e.contains("value 2 of input 1 is not a boolean"), "{e}");
}

/// Quotients of integers by constants are tract's exactly: Div rounds toward 0 (by 3, by -3
/// broadcast per column), ShiftRight down, and a Mul by 2 (which tract turns into a ShiftLeft) is
/// a product; both backends accept the compiled model on negative, positive and extreme values.
#[test]
fn quotients_of_integers_are_exact() {
    let mut net = Net::default();
    net.input_i64("n", &[1, 4])
        .init_i64("by", &[4], vec![3, -3, 3, -3])
        .init_i64("one", &[], vec![1])
        .init_i64("two", &[], vec![2])
        .node("Div", &["n", "by"], &["q"], vec![])
        .node(
            "BitShift",
            &["n", "one"],
            &["h"],
            vec![string("direction", "RIGHT")],
        )
        .node("Mul", &["q", "two"], &["m"], vec![])
        .node("Cast", &["m"], &["mf"], vec![int("to", 1)])
        .node("Cast", &["h"], &["hf"], vec![int("to", 1)])
        .output("mf")
        .output("hf");
    let samples = [
        vec![1.0, 5.0, -7.0, 9.0],
        vec![-128.0, 127.0, -1.0, 0.0],
        vec![-5.0, -6.0, 8.0, -127.0],
    ];
    let i = compile_on(&net, "div", &samples).unwrap();
    let names = ops(&i);
    assert_eq!(
        names.iter().filter(|o| **o == "quotient").count(),
        2,
        "{names:?}"
    );
    exact(&i);
    for x in &samples {
        proves(&i.model, x);
    }
}

/// What cannot be kept exact is refused naming the node: a division of integers by a constant
/// past ±2^15, OneHot of indices that may be negative (ONNX counts those from the end).
#[test]
fn inexact_integer_ops_are_refused_by_node() {
    let mut net = Net::default();
    net.input_i64("n", &[1, 4])
        .init_i64("wide", &[], vec![100_000])
        .node("Div", &["n", "wide"], &["q"], vec![])
        .node("Cast", &["q"], &["qf"], vec![int("to", 1)])
        .output("qf");
    let e = compile_on(&net, "div", &[vec![1.0, 5.0, -7.0, 9.0]])
        .err()
        .expect("refused");
    assert!(
        e.contains("`Div_q`") && e.contains("Div of integers by other than whole constants"),
        "{e}"
    );
    let mut net = Net::default();
    net.input_i64("n", &[1, 3])
        .init_i64("depth", &[], vec![4])
        .init("onoff", &[2], vec![0.0, 1.0])
        .node("OneHot", &["n", "depth", "onoff"], &["h"], vec![])
        .output("h");
    let e = compile_on(&net, "hot", &[vec![0.0, 3.0, 1.0]])
        .err()
        .expect("refused");
    assert!(e.contains("OneHot") && e.contains("[-128, 127]"), "{e}");
}

/// A classifier as scikit-learn's converter writes a linear SVC: a double input and double
/// weights (tract runs it in f64), the score's sign picking an integer label from a constant
/// table. The label is exact and both backends accept the model (R1CS selecting the label by
/// the index's one-hot row).
#[test]
fn double_precision_models_run_as_declared() {
    let mut net = Net::default();
    net.input_f64("x", &[1, 4])
        .init_f64("w", &[4, 1], vec![0.5, -0.25, 1.0, -0.75])
        .init_f64("b", &[1], vec![0.1])
        .init_i64("shape", &[1], vec![-1])
        .init_f64("zero", &[], vec![0.0])
        .init_i64("labels", &[2], vec![3, 7])
        .node("MatMul", &["x", "w"], &["s"], vec![])
        .node("Add", &["s", "b"], &["sb"], vec![])
        .node("Reshape", &["sb", "shape"], &["flat"], vec![])
        .node("Greater", &["flat", "zero"], &["pos"], vec![])
        .node("Cast", &["pos"], &["at"], vec![int("to", 7)])
        .node(
            "Gather",
            &["labels", "at"],
            &["label"],
            vec![int("axis", 0)],
        )
        .output("label");
    let samples = [
        vec![0.9, -0.3, 0.2, 0.1],
        vec![-0.8, 0.5, -0.4, 0.6],
        vec![0.1, 0.9, -0.2, -0.7],
    ];
    let i = compile_on(&net, "svc", &samples).unwrap();
    assert_eq!(i.model.graph().inputs[0].max, 127, "a real input, int8");
    exact(&i);
    for x in &samples {
        proves(&i.model, x);
    }
}

/// Casts between integer types as ONNX defines them: a value the target cannot hold wraps
/// modulo `2^bits` (int64 to uint8 of negative values, to int8 of values past 127), exactly as
/// tract casts; a target that holds every value is the same tensor, with no op.
#[test]
fn narrowing_integer_casts_wrap() {
    let mut net = Net::default();
    net.input_i64("n", &[1, 4])
        .init_i64("k", &[], vec![90])
        .init_i64("three", &[], vec![3])
        .node("Sub", &["n", "three"], &["d"], vec![])
        .node("Cast", &["d"], &["u8"], vec![int("to", 2)])
        .node("Mul", &["n", "k"], &["big"], vec![])
        .node("Cast", &["big"], &["i8"], vec![int("to", 3)])
        .node("Cast", &["n"], &["i32"], vec![int("to", 6)])
        .init_i8("two", &[], vec![2], true)
        // halved, so that the output's int8 commitment holds every value exactly
        .node("Div", &["u8", "two"], &["half"], vec![])
        .node("Cast", &["half"], &["u8f"], vec![int("to", 1)])
        .node("Cast", &["i8"], &["i8f"], vec![int("to", 1)])
        .node("Cast", &["i32"], &["i32f"], vec![int("to", 1)])
        .output("u8f")
        .output("i8f")
        .output("i32f");
    let samples = [vec![0.0, 1.0, 2.0, 3.0], vec![-2.0, 5.0, -128.0, 127.0]];
    let i = compile_on(&net, "casts", &samples).unwrap();
    let names = ops(&i);
    assert_eq!(
        names.iter().filter(|o| **o == "quotient").count(),
        3,
        "the uint8 and int8 casts wrap (and the halving), the int32 one does not: {names:?}"
    );
    exact(&i);
    for x in &samples {
        proves(&i.model, x);
    }
}
