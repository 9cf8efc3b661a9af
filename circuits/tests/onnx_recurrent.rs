//! Recurrences through the front end: ONNX's LSTM and GRU, which tract lowers to a loop over
//! time, are unrolled into one copy of the step per time step. For each graph written here the
//! unrolled model computes what tract's loop over the original file computes (a wrongly wired
//! step, state or direction would not), it compiles to plain IR ops whose outputs stay within a
//! stated distance of the float run, and the compiled model satisfies the halo2 circuit on a
//! calibration sample (its sigmoid and tanh are tables, which Groth16 does not have).

#[path = "common/onnx.rs"]
mod onnx;

use onnx::{compile_on, compiled_halo2, int, ops, string, within, Net};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::gru_seq::GruSeq;
use tract_onnx::tract_core::ops::scan::Scan;
use zkinfer_circuits::import::float::{self, InputKind};

/// The unrolled model (what zkinfer calibrates and translates) and tract's loop over the
/// original file give the same outputs on a random input of `shape`.
fn unrolls_exactly(net: &Net, name: &str, shape: &[usize]) {
    let dir = tempfile::tempdir().unwrap();
    let path = net.write(dir.path(), name);
    let unrolled = float::load(&path, &[shape.to_vec()], &[InputKind::Real]).unwrap();
    let looping = |n: &TypedNode| n.op_is::<Scan>() || n.op_is::<GruSeq>();
    assert!(!unrolled.nodes().iter().any(looping));
    let original = tract_onnx::onnx()
        .model_for_path(&path)
        .unwrap()
        .with_input_fact(0, f32::fact(shape).into())
        .unwrap()
        .into_typed()
        .unwrap();
    assert!(original.nodes().iter().any(looping));
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let n = shape.iter().product();
    let x = Tensor::from_shape(shape, &uniform(&mut rng, n, 1.0)).unwrap();
    let want = original
        .into_runnable()
        .unwrap()
        .run(tvec![x.clone().into()])
        .unwrap();
    let got = unrolled
        .into_runnable()
        .unwrap()
        .run(tvec![x.into()])
        .unwrap();
    assert_eq!(want.len(), got.len());
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(w.shape(), g.shape());
        let w = w.to_plain_array_view::<f32>().unwrap();
        let g = g.to_plain_array_view::<f32>().unwrap();
        for (a, b) in w.iter().zip(g.iter()) {
            assert!((a - b).abs() < 1e-5, "{name}: {w:?} against {g:?}");
        }
    }
}

fn uniform(rng: &mut ChaCha8Rng, n: usize, s: f32) -> Vec<f32> {
    (0..n).map(|_| rng.gen_range(-s..s)).collect()
}

/// An ONNX recurrence `op` of `gates` gates and `hidden` units over `steps` steps of `width`
/// features (batch 1), with biases, random weights from `seed`, and these attributes.
fn recurrent(
    op: &str,
    gates: i64,
    (steps, width, hidden): (i64, i64, i64),
    seed: u64,
    mut attrs: Vec<tract_onnx::pb::AttributeProto>,
) -> Net {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (g, h) = (gates as usize, hidden as usize);
    attrs.push(int("hidden_size", hidden));
    let mut net = Net::default();
    net.input("x", &[steps, 1, width])
        .init(
            "w",
            &[1, gates * hidden, width],
            uniform(&mut rng, g * h * width as usize, 0.6),
        )
        .init(
            "r",
            &[1, gates * hidden, hidden],
            uniform(&mut rng, g * h * h, 0.6),
        )
        .init(
            "b",
            &[1, 2 * gates * hidden],
            uniform(&mut rng, 2 * g * h, 0.3),
        )
        .node(op, &["x", "w", "r", "b"], &["y", "y_h"], attrs);
    net
}

/// An LSTM of `hidden` units over `steps` steps of `width` features.
fn lstm(steps: i64, width: i64, hidden: i64, seed: u64) -> Net {
    recurrent("LSTM", 4, (steps, width, hidden), seed, vec![])
}

/// A GRU of `hidden` units over `steps` steps of `width` features, with these attributes.
fn gru(steps: i64, width: i64, hidden: i64, attrs: Vec<tract_onnx::pb::AttributeProto>) -> Net {
    recurrent("GRU", 3, (steps, width, hidden), 2, attrs)
}

#[test]
fn an_lstm_unrolls_into_one_step_per_time_step() {
    let mut net = lstm(4, 2, 3, 1);
    net.output("y").output("y_h");
    unrolls_exactly(&net, "lstm", &[4, 1, 2]);
    let i = compiled_halo2(&net, "lstm", 8, 21);
    let ops = ops(&i);
    // Every step computes its four gates: three sigmoids and two tanh tables (the candidate and
    // the new cell's), and the cell and output products of two activations.
    let tables = ops.iter().filter(|o| **o == "table").count();
    assert_eq!(tables, 4 * 5, "{ops:?}");
    assert_eq!(i.model.output_shapes(), [&[4, 1, 1, 3][..], &[1, 1, 3]]);
    within(&i, 0.06);
}

#[test]
fn a_gru_as_torch_exports_it_is_split_into_its_gates() {
    // torch writes linear_before_reset = 1, which tract runs as a loop of one fused op per step
    // up to 3 steps and as one fused op over the whole sequence from 4 on
    for (steps, direction) in [(3, "forward"), (5, "forward"), (5, "reverse")] {
        let attrs = vec![
            int("linear_before_reset", 1),
            string("direction", direction),
        ];
        let mut net = gru(steps, 2, 3, attrs);
        net.output("y").output("y_h");
        unrolls_exactly(&net, "torch_gru", &[steps as usize, 1, 2]);
        let i = compiled_halo2(&net, "torch_gru", 2 * steps as usize, 23);
        within(&i, 0.05);
    }
}

#[test]
fn a_reverse_gru_walks_the_sequence_from_its_end() {
    let mut net = gru(3, 2, 2, vec![string("direction", "reverse")]);
    net.output("y");
    unrolls_exactly(&net, "gru", &[3, 1, 2]);
    let i = compiled_halo2(&net, "gru", 6, 22);
    assert_eq!(i.model.output_shapes(), [&[3, 1, 1, 2][..]]);
    within(&i, 0.05);
}

#[test]
fn a_recurrence_too_long_to_unroll_is_refused_by_name() {
    let mut net = lstm(1025, 1, 1, 3);
    net.output("y");
    let err = compile_on(&net, "long", &[vec![0.1; 1025]])
        .err()
        .expect("refused");
    assert!(
        err.contains("recurrence `LSTM_y") && err.contains("1025 steps"),
        "{err}"
    );
}
