//! The verifying key of every example graph model, pinned in `examples/pinned_vks.json` (the
//! decoders' are checked where their tests set them up: cli/tests/decoder_graph.rs and
//! generation.rs). Keys are deterministic functions of the ONNX file, the calibration set, the
//! compile options and the SRS, so an auditor rebuilds them byte for byte; pinning makes any
//! change to what a circuit constrains (an op's lowering, a gadget, the layout, quantization) a
//! visible change to that file that a reviewer signs off. The failure prints every new hash.

use std::path::{Path, PathBuf};

use zkinfer_prover::artifacts::{sha256_hex, ModelDir};
use zkinfer_prover::compile::{compile, Objective, Recipe, Target};
use zkinfer_prover::keys::{verifying_key, vk_bytes};
use zkinfer_prover::BackendId;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// The pinned hash of `name` in `examples/pinned_vks.json`.
fn pinned(name: &str) -> String {
    let pins: serde_json::Value =
        serde_json::from_slice(&std::fs::read(examples().join("pinned_vks.json")).unwrap())
            .unwrap();
    pins[name].as_str().unwrap_or("(not pinned)").to_string()
}

#[test]
fn every_example_graph_has_its_pinned_verifying_key() {
    let tmp = tempfile::tempdir().unwrap();
    let mut changed = Vec::new();
    let graphs = [
        ("mlp/mlp.onnx", "mlp/calibration.json"),
        (
            "smooth_mlp/smooth_mlp.onnx",
            "smooth_mlp/smooth_mlp.calibration.json",
        ),
        ("cnn/lenet.onnx", "cnn/lenet.calibration.json"),
        ("cnn/lenet_qdq.onnx", "cnn/lenet_qdq.calibration.json"),
        ("cnn/residual.onnx", "cnn/residual.calibration.json"),
        ("cnn/torch_style.onnx", "cnn/torch_style.calibration.json"),
        (
            "attention_block/attention_block.onnx",
            "attention_block/attention_block.calibration.json",
        ),
        ("mlp_1m/mlp_1m.onnx", "mlp_1m/mlp_1m.calibration.json"),
    ];
    // every example as compiled by default, and the MLP as the demo compiles it, for the chain
    let layouts = graphs
        .iter()
        .map(|g| (*g, Objective::Speed))
        .chain([(graphs[0], Objective::Gas)]);
    for ((onnx, calibration), optimize) in layouts {
        let name = match optimize {
            Objective::Speed => onnx.to_string(),
            Objective::Gas => format!("{onnx}, optimize gas"),
        };
        let out = tmp.path().join(name.replace(['/', ' ', ','], "-"));
        let recipe = Recipe {
            backend: BackendId::Halo2,
            target: Target::Graph {
                batch: 1,
                input_shapes: None,
            },
            optimize,
        };
        compile(
            &recipe,
            &examples().join(onnx),
            &examples().join(calibration),
            &out,
        )
        .unwrap();
        let plan = ModelDir::new(&out).halo2().unwrap();
        let vk = verifying_key(&zkinfer_prover::srs::dev(plan.k()), &plan).unwrap();
        let got = sha256_hex(&vk_bytes(&vk));
        if got != pinned(&name) {
            changed.push(format!("\"{name}\": \"{got}\""));
        }
    }
    assert!(
        changed.is_empty(),
        "verifying keys changed (review the circuit change, then pin in examples/pinned_vks.json):\n{}",
        changed.join("\n")
    );
}
