//! Pad in each of its modes: ONNX Pad with a constant other than 0, reflected and with the edge
//! repeated, against tract's float run and proven on both backends; the IR's pad modes against
//! numpy's `np.pad` and through the `op_nets` checks (reference, halo2 and R1CS agree, a changed
//! output is refused, the witness-mutation nets); and paddings that cannot be written, refused
//! by node.

#[path = "common/onnx.rs"]
mod onnx;
mod op_nets;

use onnx::{compile_on, proves, string, Net};
use op_nets::check;
use zkinfer_circuits::graph::{execute, Builder};
use zkinfer_circuits::ops::wiring::{Pad, PadMode};
use zkinfer_circuits::ops::Op;

/// `x` of [1, 2, 3, 4] padded by `pads` (ONNX order: every axis's begin, then every end).
fn padded(mode: &str, pads: [i64; 8], value: Option<f32>) -> Net {
    let mut net = Net::default();
    net.input("x", &[1, 2, 3, 4])
        .init_i64("pads", &[8], pads.to_vec());
    let mut inputs = vec!["x", "pads"];
    if let Some(v) = value {
        net.init("v", &[], vec![v]);
        inputs.push("v");
    }
    net.node("Pad", &inputs, &["y"], vec![string("mode", mode)])
        .output("y");
    net
}

fn samples() -> Vec<Vec<f64>> {
    (0..3)
        .map(|s| {
            (0..24)
                .map(|i| ((i * 7 + s * 5) % 17) as f64 / 8.0 - 1.0)
                .collect()
        })
        .collect()
}

/// Each output element is an input element or the padding value, both quantized at the input's
/// scale, so the float run and the quantized one differ by rounding alone (twice where the
/// output is requantized): a cell copied from the wrong place would differ by the data's spread.
#[test]
fn every_pad_mode_matches_tract_and_proves() {
    let samples = samples();
    for (mode, value) in [
        ("constant", Some(2.5)),
        ("constant", Some(-0.75)),
        ("reflect", None),
        ("edge", None),
    ] {
        let net = padded(mode, [0, 1, 2, 1, 0, 0, 1, 3], value);
        let i = compile_on(&net, mode, &samples).unwrap();
        assert_eq!(i.model.output_shapes(), vec![&[1, 3, 6, 8][..]]);
        // a padding value beyond the input's range requantizes the output: rounding twice
        let scale = i.model.output_scales()[0];
        for o in &i.accuracy.outputs {
            assert!(o.max_abs_error <= 1.01 / scale, "{mode}: {o:?}");
        }
        proves(&i.model, &samples[0]);
    }
}

#[test]
fn paddings_that_cannot_be_written_are_refused_by_node() {
    // a reflection of 3 on an axis of 3 would reflect its own reflection
    let err = compile_on(
        &padded("reflect", [0, 0, 3, 0, 0, 0, 0, 0], None),
        "far",
        &samples(),
    )
    .err()
    .expect("refused");
    assert!(
        err.contains("node `Pad_y`") && err.contains("reflected padding of (3, 0) on axis 2 of 3"),
        "{err}"
    );
    let inf = padded("constant", [0, 0, 1, 0, 0, 0, 0, 0], Some(f32::INFINITY));
    let err = compile_on(&inf, "inf", &samples()).err().expect("refused");
    assert!(
        err.contains("node `Pad_y`") && err.contains("padding with inf"),
        "{err}"
    );
    // a model file that asks the IR for the same is refused when it is built
    let mut b = Builder::new("far");
    let x = b.input("x", &[1, 3]);
    let pad = Op::Pad(Pad {
        pads: vec![0, 3, 0, 0],
        value: 0,
        mode: PadMode::Reflect,
    });
    let err = b.node("p", pad, &[&x]).unwrap_err().to_string();
    assert!(err.contains("reaches beyond axis 1"), "{err}");
}

/// The rows numpy gives for `np.pad(x, ((0, 0), (2, 1), (1, 3)), 'reflect')` and
/// `np.pad(x, ((0, 0), (1, 2), (0, 5)), 'edge')` of `x = arange(12).reshape(1, 3, 4)`.
#[test]
fn reflected_and_edge_padding_match_numpy_through_the_op_nets() {
    let mut b = Builder::new("pads");
    let x = b.input("x", &[1, 3, 4]);
    let pad = |mode, pads: Vec<usize>| {
        Op::Pad(Pad {
            pads,
            value: 0,
            mode,
        })
    };
    let r = b
        .node("r", pad(PadMode::Reflect, vec![0, 2, 1, 0, 1, 3]), &[&x])
        .unwrap();
    let e = b
        .node("e", pad(PadMode::Edge, vec![0, 1, 0, 0, 2, 5]), &[&x])
        .unwrap();
    let model = b.finish(&[&r, &e]).unwrap();
    let out = execute(&model, &(0..12).collect::<Vec<i64>>())
        .unwrap()
        .output();
    let reflect = [
        [9, 8, 9, 10, 11, 10, 9, 8],
        [5, 4, 5, 6, 7, 6, 5, 4],
        [1, 0, 1, 2, 3, 2, 1, 0],
        [5, 4, 5, 6, 7, 6, 5, 4],
        [9, 8, 9, 10, 11, 10, 9, 8],
        [5, 4, 5, 6, 7, 6, 5, 4],
    ];
    let edge = [
        [0, 1, 2, 3, 3, 3, 3, 3, 3],
        [0, 1, 2, 3, 3, 3, 3, 3, 3],
        [4, 5, 6, 7, 7, 7, 7, 7, 7],
        [8, 9, 10, 11, 11, 11, 11, 11, 11],
        [8, 9, 10, 11, 11, 11, 11, 11, 11],
        [8, 9, 10, 11, 11, 11, 11, 11, 11],
    ];
    let want: Vec<i128> = reflect
        .iter()
        .flatten()
        .chain(edge.iter().flatten())
        .map(|v| *v as i128)
        .collect();
    assert_eq!(out, want);
    check(model, 41);
}
