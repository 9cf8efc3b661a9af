//! CNNs through the CLI as a user runs them, on both backends: compile (with the example's
//! calibration set) → setup → prove → verify, a tampered proof refused; bad input named once,
//! and a circuit beyond the machine's memory refused before setup starts.

use std::path::Path;
use std::process::Output;

mod common;

use common::ok;

fn zkinfer(args: &[&str]) -> Output {
    common::zkinfer_env(args, &[])
}

fn example(dir: &str, file: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(dir)
        .join(file)
        .display()
        .to_string()
}

fn cnn(file: &str) -> String {
    example("cnn", file)
}

/// The full flow on the CNN example `stem` for `backend`; returns the prove report.
fn flow(stem: &str, backend: &str) -> serde_json::Value {
    flow_in("cnn", stem, backend)
}

/// The full flow on `examples/DIR/STEM.onnx` for `backend`; returns the prove report.
fn flow_in(dir: &str, stem: &str, backend: &str) -> serde_json::Value {
    let cnn = |file: &str| example(dir, file);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(stem);
    let d = dir.to_str().unwrap();
    let c = ok(&zkinfer(&[
        "--backend",
        backend,
        "compile",
        &cnn(&format!("{stem}.onnx")),
        "--calibration",
        &cnn(&format!("{stem}.calibration.json")),
        "-o",
        d,
        "--json",
    ]));
    assert!(
        c["accuracy"]["argmax_agreement"].as_f64().unwrap() >= 0.85,
        "{c}"
    );
    ok(&zkinfer(&["setup", d, "--dev-srs", "--json"]));
    let out = tmp.path().join("out");
    let p = ok(&zkinfer(&[
        "prove",
        d,
        "--input",
        &cnn(&format!("{stem}.input.json")),
        "--request-id",
        "3",
        "-o",
        out.to_str().unwrap(),
        "--json",
    ]));
    let proof = out.join("proof-0.json");
    let v = ok(&zkinfer(&["verify", d, proof.to_str().unwrap(), "--json"]));
    assert_eq!(v["valid"], true);
    let mut file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&proof).unwrap()).unwrap();
    let mut bytes = file["proof"].as_str().unwrap().as_bytes().to_vec();
    bytes[100] = if bytes[100] == b'0' { b'1' } else { b'0' };
    file["proof"] = serde_json::json!(String::from_utf8(bytes).unwrap());
    let tampered = out.join("tampered.json");
    std::fs::write(&tampered, serde_json::to_vec(&file).unwrap()).unwrap();
    let t = zkinfer(&["verify", d, tampered.to_str().unwrap()]);
    assert_eq!(
        t.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&t.stderr)
    );
    p
}

#[test]
fn residual_cnn_on_halo2() {
    let p = flow("residual", "halo2");
    assert_eq!(p["proofs"][0]["output"][0].as_array().unwrap().len(), 5);
}

#[test]
fn residual_cnn_on_groth16() {
    flow("residual", "groth16");
}

#[test]
fn lenet_style_cnn_on_halo2() {
    let p = flow("lenet", "halo2");
    assert_eq!(p["proofs"][0]["n_in"], 1);
}

#[test]
fn onnxruntime_quantized_cnn_on_groth16() {
    // a QDQ file from onnxruntime's quantize_static: proved on the file's own grid
    let p = flow("lenet_qdq", "groth16");
    assert_eq!(p["proofs"][0]["output"][0].as_array().unwrap().len(), 10);
}

#[test]
fn tanh_sigmoid_gelu_mlp_on_halo2_and_refused_by_groth16() {
    let p = flow_in("smooth_mlp", "smooth_mlp", "halo2");
    assert_eq!(p["proofs"][0]["output"][0].as_array().unwrap().len(), 10);
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("m");
    let out = zkinfer(&[
        "--backend",
        "groth16",
        "compile",
        &example("smooth_mlp", "smooth_mlp.onnx"),
        "--calibration",
        &example("smooth_mlp", "smooth_mlp.calibration.json"),
        "-o",
        d.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("node `tanh`") && err.contains("Groth16 has none"),
        "{err}"
    );
    assert!(!d.exists(), "nothing written");
}

#[test]
fn torch_style_export_on_groth16() {
    flow("torch_style", "groth16");
}

#[test]
fn bad_input_names_the_problem_once() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("m");
    let d = d.to_str().unwrap();
    let junk = tmp.path().join("junk.onnx");
    std::fs::write(&junk, b"\x0a\xff\xff\xffnot an onnx file").unwrap();
    let out = zkinfer(&[
        "compile",
        junk.to_str().unwrap(),
        "--calibration",
        &cnn("lenet.input.json"),
        "-o",
        d,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.matches("junk.onnx").count(), 1, "the path once: {err}");
    assert!(!err.contains("panicked"), "{err}");
    // an input of the wrong shape at prove: named file, exit 2
    ok(&zkinfer(&[
        "compile",
        &cnn("torch_style.onnx"),
        "--calibration",
        &cnn("torch_style.calibration.json"),
        "-o",
        d,
        "--json",
    ]));
    // a circuit beyond the memory this machine allows is refused before any key is made
    let tight = [("ZKINFER_MEMORY_LIMIT_MIB", "1")];
    let out = common::zkinfer_env(&["setup", d, "--dev-srs"], &tight);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("needs about") && err.contains("this machine allows 0.0 GiB"),
        "{err}"
    );
    assert!(!Path::new(d).join("pk.bin").exists());
    ok(&zkinfer(&["setup", d, "--dev-srs", "--json"]));
    let wrong = tmp.path().join("wrong.json");
    std::fs::write(&wrong, br#"{"input": [[0.5, 0.25]]}"#).unwrap();
    let out = zkinfer(&[
        "prove",
        d,
        "--input",
        wrong.to_str().unwrap(),
        "--request-id",
        "1",
        "-o",
        tmp.path().join("o").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("wrong.json") && err.contains("sample 0 has 2 values, the model expects 64"),
        "{err}"
    );
}
