//! Reads and writes at computed indices through the front end, against tract's float run: Gather
//! of a computed tensor at an index input and at indices computed from one (negative ones count
//! from the end), GatherElements and GatherND; ScatterElements and ScatterND with a repeated
//! index (the last update wins, as tract applies them), with reduction `add`, and into constant
//! zeros. Every output is the quantized element tract picks, and each compiled model satisfies
//! both backends. An index outside its axis is refused by the reference, naming the node (and by
//! the circuit: `ops_exact.rs`).

#[path = "common/onnx.rs"]
mod onnx;

use onnx::{compile_on, int, ops, proves, string, Net};
use zkinfer_circuits::graph::{execute, quantize_input};
use zkinfer_circuits::import::Imported;

/// Every output within half a step of its input's grid (the values are moved, never computed).
fn moved(i: &Imported, step: f64) {
    for o in &i.accuracy.outputs {
        assert!(
            o.max_abs_error <= step / 2.0 + 1e-9,
            "{}: {o:?}",
            i.model.name()
        );
    }
}

/// Each input's declared range.
fn ranges(i: &Imported) -> Vec<(i64, i64)> {
    i.model
        .graph()
        .inputs
        .iter()
        .map(|x| (x.min, x.max))
        .collect()
}

/// Values in `(-0.5, 0.5)`, different per sample and position.
fn reals(s: usize, n: usize) -> impl Iterator<Item = f64> {
    (0..n).map(move |j| ((s * 7 + j * 5) % 13) as f64 / 13.0 - 0.5)
}

/// Gather at an index input and at that index minus 2 (negative: from the end), GatherElements
/// along the middle axis and GatherND of rows by two coordinates, the first of which only 0 fits.
#[test]
fn gathers_at_computed_indices_pick_what_tract_picks() {
    let mut net = Net::default();
    net.input("x", &[1, 4, 3])
        .input_i64("idx", &[1, 2])
        .input_i64("at", &[1, 2, 3])
        .input_i64("nd", &[2, 2])
        .init_i64("two", &[], vec![2])
        .node("Gather", &["x", "idx"], &["g"], vec![int("axis", 1)])
        .node("Sub", &["idx", "two"], &["back"], vec![])
        .node("Gather", &["x", "back"], &["gb"], vec![int("axis", 2)])
        .node(
            "GatherElements",
            &["x", "at"],
            &["ge"],
            vec![int("axis", 1)],
        )
        .node("GatherND", &["x", "nd"], &["gn"], vec![])
        .output("g")
        .output("gb")
        .output("ge")
        .output("gn");
    let samples: Vec<Vec<f64>> = (0..6)
        .map(|s| {
            let idx = [(s % 4) as f64, ((s + 2) % 4) as f64];
            let at = (0..6).map(|j| ((s + j * 3) % 4) as f64);
            let nd = [0.0, (s % 4) as f64, 0.0, ((s * 3 + 1) % 4) as f64];
            reals(s, 12).chain(idx).chain(at).chain(nd).collect()
        })
        .collect();
    let i = compile_on(&net, "gathers", &samples).unwrap();
    let names = ops(&i);
    assert_eq!(
        names.iter().filter(|o| **o == "index_hot").count(),
        5,
        "{names:?}"
    );
    let ranges = ranges(&i);
    assert_eq!(
        ranges[1..],
        [(0, 3), (0, 3), (0, 3)],
        "an index input spans its axis"
    );
    let step = 1.0 / i.model.graph().inputs[0].scale;
    moved(&i, step);
    proves(&i.model, &samples[0]);
    proves(&i.model, &samples[3]);
    // idx = 3 gives back = 1, within the axis of 3; a first GatherND coordinate of 1 is not
    let mut bad = samples[0].clone();
    bad[12..14].copy_from_slice(&[3.0, 0.0]);
    bad[20] = 1.0;
    let q = quantize_input(&bad, &i.model).unwrap();
    let e = execute(&i.model, &q).err().expect("refused").to_string();
    assert!(
        e.contains("gn:hot0") && e.contains("outside [-1, 1)"),
        "{e}"
    );
}

/// ScatterElements along the last axis with a repeated index (the later update wins), the same
/// with reduction `add` (both land), and ScatterND into constant zeros and into a computed tensor,
/// each with a repeated index.
#[test]
fn scatters_at_computed_indices_write_what_tract_writes() {
    let mut net = Net::default();
    net.opset(16)
        .input("x", &[1, 2, 4])
        .input_i64("at", &[1, 2, 2])
        .input("u", &[1, 2, 2])
        .input_i64("pos", &[3, 1])
        .input("v", &[3])
        .input_i64("rows", &[2, 2])
        .input("r", &[2, 4])
        .init("zeros", &[5], vec![0.0; 5])
        .node(
            "ScatterElements",
            &["x", "at", "u"],
            &["se"],
            vec![int("axis", 2)],
        )
        .node(
            "ScatterElements",
            &["x", "at", "u"],
            &["sa"],
            vec![int("axis", 2), string("reduction", "add")],
        )
        .node("ScatterND", &["zeros", "pos", "v"], &["sz"], vec![])
        .node("ScatterND", &["x", "rows", "r"], &["sn"], vec![])
        .output("se")
        .output("sa")
        .output("sz")
        .output("sn");
    let samples: Vec<Vec<f64>> = (0..6)
        .map(|s| {
            // row 0 writes position 1 or 2 twice; ScatterND's first two updates land together
            let at = [(1 + s % 2) as f64, (1 + s % 2) as f64, (s % 4) as f64, 3.0];
            let pos = [(s % 5) as f64, (s % 5) as f64, ((s + 3) % 5) as f64];
            let rows = [0.0, (s % 2) as f64, 0.0, (s % 2) as f64];
            let mut x: Vec<f64> = reals(s, 8).collect();
            x.extend(at);
            x.extend(reals(s + 1, 4));
            x.extend(pos);
            x.extend(reals(s + 2, 3));
            x.extend(rows);
            x.extend(reals(s + 3, 8));
            x
        })
        .collect();
    let i = compile_on(&net, "scatters", &samples).unwrap();
    let ranges = ranges(&i);
    assert_eq!(
        [ranges[1], ranges[3], ranges[5]],
        [(0, 3), (0, 4), (0, 1)],
        "an index input spans its axis"
    );
    let step = i
        .model
        .graph()
        .inputs
        .iter()
        .filter(|x| x.min < 0)
        .map(|x| 1.0 / x.scale)
        .fold(0.0, f64::max);
    // an `add` sums two values each within half a step, and its sum is requantized to int8 on
    // a grid of its own (half a step more, and up to twice the step where its range doubles)
    for (k, o) in i.accuracy.outputs.iter().enumerate() {
        let tol = if k == 1 { 2.0 * step } else { step / 2.0 } + 1e-9;
        assert!(o.max_abs_error <= tol, "output {k}: {o:?} (step {step})");
    }
    for s in [0, 1, 4] {
        proves(&i.model, &samples[s]);
    }
}

/// What the IR cannot write exactly is refused naming the node and what is wrong: a scatter
/// reduced by `mul`, GatherND with batch axes, a scatter of constant updates.
#[test]
fn unsupported_reads_and_writes_are_refused_by_node() {
    let base = |net: &mut Net| {
        net.opset(16).input("x", &[1, 4]).input_i64("at", &[1, 2]);
    };
    let mut net = Net::default();
    base(&mut net);
    net.input("u", &[1, 2])
        .node(
            "ScatterElements",
            &["x", "at", "u"],
            &["y"],
            vec![int("axis", 1), string("reduction", "mul")],
        )
        .output("y");
    let sample = vec![0.1, 0.2, 0.3, 0.4, 1.0, 2.0, 0.5, -0.5];
    let e = compile_on(&net, "mul", &[sample.clone()])
        .err()
        .expect("refused");
    assert!(
        e.contains("ScatterElements_y") && e.contains("reduction `mul`"),
        "{e}"
    );
    let mut net = Net::default();
    base(&mut net);
    net.init("k", &[1, 2], vec![0.5, 0.25])
        .node(
            "ScatterElements",
            &["x", "at", "k"],
            &["y"],
            vec![int("axis", 1)],
        )
        .output("y");
    let e = compile_on(&net, "const", &[sample[..6].to_vec()])
        .err()
        .expect("refused");
    assert!(
        e.contains("ScatterElements_y") && e.contains("constant updates"),
        "{e}"
    );
    let mut net = Net::default();
    net.input("x", &[2, 3, 4])
        .input_i64("at", &[2, 1])
        .node("GatherND", &["x", "at"], &["y"], vec![int("batch_dims", 1)])
        .output("y");
    let mut sample: Vec<f64> = (0..24).map(|v| v as f64 / 24.0).collect();
    sample.extend([1.0, 2.0]);
    let e = compile_on(&net, "nd", &[sample]).err().expect("refused");
    assert!(
        e.contains("GatherND_y") && e.contains("batch_dims 1"),
        "{e}"
    );
}
