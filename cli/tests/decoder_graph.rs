//! A decoder graph through the CLI, found by its graph (an int64 token input), not by names:
//! `compile` (calibrated on token sequences, the stop token chosen) → `setup` → `chain request
//! --prompt-tokens` → `generate --prompt-tokens` → `verify`, the proof settled on the embedded
//! chain per token (so the request's commitment is the proof's); the completion
//! is the library's reference generation over the compiled graph, and a changed count or
//! completion is refused off-chain and on-chain; with `--forward` the same file is one graph pass
//! proven by `zkinfer prove`.

mod common;

use std::path::Path;

use common::{chain_at, deploy_and_register, ok, zkinfer_env as zkinfer};
use zkinfer_circuits::decoder::{Decoder, Slots};
use zkinfer_circuits::graph::Model;

fn example(file: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/decoder")
        .join(file)
        .display()
        .to_string()
}

fn u64s(v: &serde_json::Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

#[test]
fn a_decoder_graph_generates_verifies_and_settles_per_token() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |p: &str| tmp.path().join(p).display().to_string();
    let c = ok(&zkinfer(
        &[
            "compile",
            &example("decoder.onnx"),
            "--calibration",
            &example("decoder.calibration.json"),
            "--prompt-slots",
            "8",
            "--gen-slots",
            "8",
            "--stop-token",
            "none",
            "-o",
            &t("m"),
            "--json",
        ],
        &[],
    ));
    assert_eq!(c["kind"], "decoder");
    assert_eq!(c["vocab"], 48);
    assert!(c["stop_token"].is_null());
    assert!(
        c["accuracy"]["argmax_agreement"].as_f64().unwrap() >= 0.9,
        "{c}"
    );
    ok(&zkinfer(&["setup", &t("m"), "--dev-srs", "--json"], &[]));
    common::assert_pinned_vk("decoder/decoder.onnx, 8 + 8 slots, no stop token", &t("m"));
    let shape = ok(&zkinfer(&["inspect", &t("m"), "--json"], &[]));
    assert_eq!(shape["k"], c["size"]["k"]);

    // the client opens a request for a prompt of token ids (below the vocabulary's 48)
    let state = t("chain.json");
    let chain = |args: &[&str], dev: &str| chain_at(&state, dev, args);
    ok(&zkinfer(
        &["verifier", &t("m"), "-o", &t("v"), "--json"],
        &[],
    ));
    let (settlement, model_id) = deploy_and_register(&state, &t("v"));
    let (prompt, salt) = ("33,35,36,37", "0x99");
    let req = ok(&chain(
        &[
            "request",
            "--settlement",
            &settlement,
            "--model-id",
            &model_id,
            "--model",
            &t("m"),
            "--prompt-tokens",
            prompt,
            "--max-tokens",
            "6",
            "--salt",
            salt,
            "--max-in",
            "8",
            "--max-out",
            "6",
        ],
        "3",
    ));
    let id = req["request_id"].as_str().unwrap().to_string();

    // the provider generates from the same prompt
    let g = ok(&zkinfer(
        &[
            "generate",
            &t("m"),
            "--prompt-tokens",
            "33,35,36,37",
            "--max-tokens",
            "6",
            "--request-id",
            &id,
            "--salt",
            salt,
            "-o",
            &t("proof.json"),
            "--json",
        ],
        &[],
    ));
    let model: Model = serde_json::from_slice(&std::fs::read(t("m/model.json")).unwrap()).unwrap();
    let d = Decoder::new(model, Slots { prompt: 8, gen: 8 }, None).unwrap();
    let want = d.generate(&[33, 35, 36, 37], 6).unwrap();
    let want: Vec<u64> = want.completion.iter().map(|t| *t as u64).collect();
    assert_eq!(u64s(&g["completion_tokens"]), want);
    assert_eq!(
        (g["n_in"].as_u64(), g["n_out"].as_u64()),
        (Some(4), Some(6))
    );
    assert_eq!(
        zkinfer(&["verify", &t("m"), &t("proof.json")], &[])
            .status
            .code(),
        Some(0)
    );
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t("proof.json")).unwrap()).unwrap();
    for (i, v) in [(4, 7u64), (4, 5), (2, 1)] {
        let mut bad = file.clone();
        bad["instances"][i] = serde_json::json!(format!("{v:#x}"));
        let path = t(&format!("bad-{i}-{v}.json"));
        std::fs::write(&path, serde_json::to_vec(&bad).unwrap()).unwrap();
        assert_eq!(
            zkinfer(&["verify", &t("m"), &path], &[]).status.code(),
            Some(1),
            "{i}={v}"
        );
        let refused = chain(&["settle", "--settlement", &settlement, &path], "2");
        assert_eq!(refused.status.code(), Some(2), "settled with {i} = {v}");
    }
    let settled = ok(&chain(
        &["settle", "--settlement", &settlement, &t("proof.json")],
        "2",
    ));
    let wei = |v: &serde_json::Value| v.as_str().unwrap().parse::<u128>().unwrap();
    assert_eq!(
        wei(&settled["provider_paid"]) + wei(&settled["owner_paid"]),
        4 * 100 + 6 * 1000
    );

    // a token outside the vocabulary, and a stop token outside it, are refused by name
    let out = zkinfer(
        &[
            "generate",
            &t("m"),
            "--prompt-tokens",
            "1,48",
            "--max-tokens",
            "2",
            "--request-id",
            "5",
            "-o",
            &t("never.json"),
        ],
        &[],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("outside the vocabulary of 48"), "{err}");
    assert!(!Path::new(&t("never.json")).exists());
    let out = zkinfer(
        &[
            "compile",
            &example("decoder.onnx"),
            "--calibration",
            &example("decoder.calibration.json"),
            "--prompt-slots",
            "8",
            "--gen-slots",
            "8",
            "--stop-token",
            "48",
            "-o",
            &t("bad"),
        ],
        &[],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("stop token 48 is outside the vocabulary of 48"),
        "{err}"
    );
}

/// `compile --forward`: the decoder as any graph, one forward pass over its 16 token ids, proven
/// with `zkinfer prove` and verified; its input commitment packs token ids.
#[test]
fn a_decoder_graph_forward_pass_proves_with_prove() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |p: &str| tmp.path().join(p).display().to_string();
    let c = ok(&zkinfer(
        &[
            "compile",
            &example("decoder.onnx"),
            "--calibration",
            &example("decoder.calibration.json"),
            "--forward",
            "-o",
            &t("f"),
            "--json",
        ],
        &[],
    ));
    assert_eq!(c["inputs"][0]["shape"], serde_json::json!([1, 16]));
    ok(&zkinfer(&["setup", &t("f"), "--dev-srs", "--json"], &[]));
    ok(&zkinfer(
        &[
            "prove",
            &t("f"),
            "--input",
            &example("decoder.input.json"),
            "--request-id",
            "3",
            "-o",
            &t("out"),
            "--json",
        ],
        &[],
    ));
    let proof = t("out/proof-0.json");
    let v = ok(&zkinfer(&["verify", &t("f"), &proof, "--json"], &[]));
    assert_eq!(v["valid"], true);
    let out = zkinfer(
        &[
            "--backend",
            "groth16",
            "compile",
            &example("decoder.onnx"),
            "--calibration",
            &example("decoder.calibration.json"),
            "--forward",
            "-o",
            &t("g"),
        ],
        &[],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("use the halo2 backend"), "{err}");
}
