//! The tiny GPT through the CLI: `compile` → `setup` → `generate` → `verify`, the proof settled on
//! the embedded chain with `chain request --prompt` and `chain settle` (paid per token), tampered
//! counts refused, bad requests refused with errors that name the problem; and `demo --model
//! tiny-gpt` paying exact amounts. Completions are checked against the reference generation.

mod common;

use std::path::Path;

use common::{chain_at, chain_output, deploy_and_register, ok, zkinfer_env as zkinfer};
use zkinfer_circuits::decoder::Slots;
use zkinfer_prover::compile::{plan_decoder_graph, Objective, Stop};

fn onnx() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/tiny_gpt/tiny_gpt.onnx")
        .display()
        .to_string()
}

/// The reference completion's tokens for `prompt`, the tiny GPT compiled for `slots` on its
/// calibration set as `zkinfer compile` and the demo compile it.
fn reference(prompt: &str, slots: Slots, max: usize) -> Vec<u64> {
    let onnx = onnx();
    let calibration = Path::new(&onnx).with_file_name("calibration.json");
    let rows: serde_json::Value =
        serde_json::from_slice(&std::fs::read(calibration).unwrap()).unwrap();
    let samples: Vec<Vec<f64>> = serde_json::from_value(rows["input"].clone()).unwrap();
    let (_, plan) = plan_decoder_graph(
        Path::new(&onnx),
        &samples,
        (slots, Stop::Last),
        Objective::Speed,
    )
    .unwrap();
    let tokens: Vec<u64> = prompt.bytes().map(u64::from).collect();
    let g = plan.decoder.generate(&tokens, max).unwrap();
    g.completion.iter().map(|t| *t as u64).collect()
}

fn u64s(v: &serde_json::Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

#[test]
fn generate_verify_settle_per_token_and_refuse_bad_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |p: &str| tmp.path().join(p).display().to_string();
    let c = ok(&zkinfer(
        &[
            "compile",
            &onnx(),
            "--prompt-slots",
            "5",
            "--gen-slots",
            "3",
            "-o",
            &t("m"),
            "--json",
        ],
        &[],
    ));
    assert_eq!(c["kind"], "decoder");
    assert_eq!(c["stop_token"], 256);
    ok(&zkinfer(&["setup", &t("m"), "--dev-srs", "--json"], &[]));
    common::assert_pinned_vk("tiny_gpt/tiny_gpt.onnx, 5 + 3 slots", &t("m"));
    let shape = ok(&zkinfer(&["inspect", &t("m"), "--json"], &[]));
    // the challenge checks of the matrix products (17 before them) and two range lanes, where
    // three were needed while rescales checked `|acc · M0|`
    assert_eq!(shape["k"], 16);
    assert_eq!(shape["lookups"], 3);

    // The client opens a request for its prompt on the embedded chain.
    let state = t("chain.json");
    let chain = |args: &[&str], dev: &str| chain_at(&state, dev, args);
    ok(&zkinfer(
        &["verifier", &t("m"), "-o", &t("v"), "--json"],
        &[],
    ));
    let (settlement, model_id) = deploy_and_register(&state, &t("v"));
    let (prompt, salt) = ("The ", "0x77");
    let req = ok(&chain(
        &[
            "request",
            "--settlement",
            &settlement,
            "--model-id",
            &model_id,
            "--model",
            &t("m"),
            "--prompt",
            prompt,
            "--max-tokens",
            "3",
            "--salt",
            salt,
            "--max-in",
            "5",
            "--max-out",
            "3",
        ],
        "3",
    ));
    assert_eq!(req["escrow"], "3500");
    let id = req["request_id"].as_str().unwrap().to_string();

    // The provider generates and proves; the completion is the reference one.
    let g = ok(&zkinfer(
        &[
            "generate",
            &t("m"),
            "--prompt",
            prompt,
            "--max-tokens",
            "3",
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
    let want = reference(prompt, Slots { prompt: 5, gen: 3 }, 3);
    assert_eq!(u64s(&g["completion_tokens"]), want);
    assert_eq!(g["n_in"], 4);
    assert_eq!(g["n_out"].as_u64().unwrap() as usize, want.len());
    let opening: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t("proof.opening.json")).unwrap()).unwrap();
    assert_eq!(opening["prompt"], serde_json::json!([84, 104, 101, 32]));
    assert_eq!(
        zkinfer(&["verify", &t("m"), &t("proof.json")], &[])
            .status
            .code(),
        Some(0)
    );

    // One token more or fewer, or another completion, is refused off-chain and on-chain.
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t("proof.json")).unwrap()).unwrap();
    let n_out = want.len() as u64;
    for (i, v) in [(4, n_out + 1), (4, n_out - 1), (3, 5), (2, 1)] {
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
        assert_eq!(
            refused.status.code(),
            Some(2),
            "settled with instance {i} = {v}"
        );
    }

    // The proof file settles unchanged, paid per token: 4 prompt + n_out generated.
    let settled = ok(&chain(
        &["settle", "--settlement", &settlement, &t("proof.json")],
        "2",
    ));
    let cost = 4 * 100 + n_out as u128 * 1000;
    let wei = |v: &serde_json::Value| v.as_str().unwrap().parse::<u128>().unwrap();
    assert_eq!(
        wei(&settled["provider_paid"]) + wei(&settled["owner_paid"]),
        cost
    );
    assert_eq!(wei(&settled["owner_paid"]), cost / 10);
    assert_eq!(wei(&settled["refunded"]), 3500 - cost);
    // The client reads the completion from the settlement event.
    let read = ok(&chain_output(&state, &settlement, &id, salt, &t("m")));
    assert_eq!(u64s(&read["completion"]), want);
    assert_eq!(read["completion_text"], g["completion"]);

    // Bad requests: clear errors, exit 2, no proof written.
    let cases: [(&[&str], &str); 4] = [
        (&["--prompt", "Hello!", "--max-tokens", "3"], "prompt"),
        (&["--prompt", "", "--max-tokens", "3"], "prompt"),
        (&["--prompt", "Hi", "--max-tokens", "4"], "--max-tokens"),
        (&["--prompt", "Hi", "--max-tokens", "x"], "max-tokens"),
    ];
    for (args, needle) in cases {
        let (out_path, dir) = (t("never.json"), t("m"));
        let mut a = vec!["generate", &dir, "--request-id", "9", "-o", &out_path];
        a.extend_from_slice(args);
        let out = zkinfer(&a, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!Path::new(&out_path).exists());
    }
    let out = zkinfer(
        &[
            "prove",
            &t("m"),
            "--input",
            &onnx(),
            "--request-id",
            "1",
            "-o",
            &t("x"),
        ],
        &[],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("zkinfer generate"));
    let out = zkinfer(
        &["--backend", "groth16", "compile", &onnx(), "-o", &t("g")],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("halo2 only"));
}

#[test]
fn demo_pays_the_tiny_gpt_per_token() {
    let (prompt, max) = ("The ", 2);
    let d = ok(&zkinfer(
        &[
            "--json",
            "demo",
            "--model",
            "tiny-gpt",
            "--prompt",
            prompt,
            "--max-tokens",
            "2",
            "--prompt-slots",
            "4",
        ],
        &[],
    ));
    let want = reference(prompt, Slots { prompt: 4, gen: 2 }, max);
    assert_eq!(u64s(&d["completion_tokens"]), want);
    assert_eq!(d["n_in"], 4);
    assert_eq!(d["n_out"].as_u64().unwrap() as usize, want.len());
    let wei = |k: &str| d[k].as_str().unwrap().parse::<u128>().unwrap();
    let (pin, pout) = (100_000_000_000_000u128, 200_000_000_000_000u128);
    let cost = 4 * pin + want.len() as u128 * pout;
    assert_eq!(wei("escrow"), 4 * pin + 2 * pout);
    assert_eq!(wei("provider_paid") + wei("owner_paid"), cost);
    assert_eq!(wei("refunded"), wei("escrow") - cost);
    assert!(d["prove_seconds"].as_f64().unwrap() > 0.0);
    assert!(d["completion"].is_string());
    assert_eq!(d["output_from_chain"], d["completion"]);
}
