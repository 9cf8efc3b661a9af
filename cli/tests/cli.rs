//! The `zkinfer` binary as a user runs it: the full flow on the example MLP, tampered proofs,
//! and bad input (clear error, non-zero exit, no panic, earlier artifacts untouched).

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;

use common::{example, ok};

fn zkinfer(args: &[&str]) -> Output {
    common::zkinfer_env(args, &[])
}

/// A clean failure: the given exit code, a message containing `needle`, no panic.
fn fails_with(out: &Output, code: i32, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(err.contains(needle), "expected `{needle}` in: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    assert!(
        !err.contains("Some("),
        "a Rust `Option` in a message: {err}"
    );
}

fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect();
    v.sort();
    v
}

fn edit_json(path: &Path, f: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    f(&mut v);
    let out = path.with_extension("edited.json");
    std::fs::write(&out, serde_json::to_vec(&v).unwrap()).unwrap();
    out
}

#[test]
fn compile_setup_prove_verify_and_tamper() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("mlp");
    let d = dir.to_str().unwrap();
    let c = ok(&zkinfer(&[
        "compile",
        &example("mlp.onnx"),
        "-o",
        d,
        "--json",
    ]));
    // the speed layout: 8 × 8 matvec blocks on a main lane of 16 columns fit 2^11 rows
    assert_eq!(c["size"]["k"], 11);
    assert!(c["accuracy"]["argmax_agreement"].as_f64().unwrap() >= 0.9);
    let s = ok(&zkinfer(&["setup", d, "--dev-srs", "--json"]));
    assert_eq!(s["manifest"]["insecure_dev_srs"], true);
    let i = ok(&zkinfer(&["inspect", d, "--json"]));
    // the five usage instances and one ciphertext word (10 int8 outputs)
    assert_eq!(i["public_instances"], 6);
    assert!(i["advice_columns"].as_u64().unwrap() <= 18);

    // two inputs proven in parallel, one proof each, request ids 7 and 8
    let second = tmp.path().join("ezkl.json");
    let row: serde_json::Value =
        serde_json::from_slice(&std::fs::read(example("calibration.json")).unwrap()).unwrap();
    std::fs::write(
        &second,
        serde_json::to_vec(&serde_json::json!({ "input_data": [row["input"][3]] })).unwrap(),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let p = ok(&zkinfer(&[
        "prove",
        d,
        "--input",
        &example("input.json"),
        second.to_str().unwrap(),
        "--request-id",
        "7",
        "-o",
        out.to_str().unwrap(),
        "--json",
    ]));
    let proofs = p["proofs"].as_array().unwrap();
    assert_eq!(proofs.len(), 2);
    assert_eq!(proofs[1]["instances"][0], format!("0x{:064x}", 8));
    assert_eq!(
        (proofs[0]["n_in"].as_u64(), proofs[0]["n_out"].as_u64()),
        (Some(1), Some(1))
    );

    let proof0 = out.join("proof-0.json");
    let v = ok(&zkinfer(&["verify", d, proof0.to_str().unwrap(), "--json"]));
    assert_eq!(v["valid"], true);
    assert!(
        zkinfer(&["verify", d, out.join("proof-1.json").to_str().unwrap()])
            .status
            .success()
    );

    // tampered instance, instance + r, tampered proof byte: exit 1
    let bumped = edit_json(&proof0, |v| v["instances"][4] = serde_json::json!("0x02"));
    fails_with(
        &zkinfer(&["verify", d, bumped.to_str().unwrap()]),
        1,
        "does not verify",
    );
    // the output ciphertext: a word changed, or one word dropped
    let cipher = edit_json(&proof0, |v| v["instances"][5] = serde_json::json!("0x02"));
    fails_with(
        &zkinfer(&["verify", d, cipher.to_str().unwrap()]),
        1,
        "does not verify",
    );
    let short = edit_json(&proof0, |v| {
        v["instances"].as_array_mut().unwrap().pop();
    });
    fails_with(
        &zkinfer(&["verify", d, short.to_str().unwrap()]),
        1,
        "5 instances, this model's proofs have 6",
    );
    let plus_r = edit_json(&proof0, |v| {
        v["instances"][3] = serde_json::json!(
            "21888242871839275222246405745257275088548364400416034343698204186575808495618"
        )
    });
    fails_with(
        &zkinfer(&["verify", d, plus_r.to_str().unwrap()]),
        1,
        "modulus",
    );
    let flipped = edit_json(&proof0, |v| {
        let s = v["proof"].as_str().unwrap().to_string();
        let mut b = s.into_bytes();
        b[200] = if b[200] == b'0' { b'1' } else { b'0' };
        v["proof"] = serde_json::json!(String::from_utf8(b).unwrap());
    });
    fails_with(
        &zkinfer(&["verify", d, flipped.to_str().unwrap()]),
        1,
        "INVALID",
    );

    // corrupt verifying key and corrupt proof file: exit 2, named
    let garbage = tmp.path().join("garbage.json");
    std::fs::write(&garbage, b"{not json").unwrap();
    fails_with(
        &zkinfer(&["verify", d, garbage.to_str().unwrap()]),
        2,
        "garbage.json",
    );
    let vk = dir.join("vk.bin");
    let mut bytes = std::fs::read(&vk).unwrap();
    bytes[40] ^= 0xff;
    std::fs::write(&vk, &bytes).unwrap();
    fails_with(
        &zkinfer(&["verify", d, proof0.to_str().unwrap()]),
        2,
        "vk.bin",
    );
}

#[test]
fn optimize_gas_trades_rows_for_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = |optimize: &str| {
        let dir = tmp.path().join(optimize);
        let d = dir.to_str().unwrap();
        let onnx = example("mlp.onnx");
        ok(&zkinfer(&[
            "compile",
            &onnx,
            "-o",
            d,
            "--optimize",
            optimize,
            "--json",
        ]));
        let recipe: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("compile.json")).unwrap()).unwrap();
        assert_eq!(recipe["optimize"], optimize);
        // the gas layout takes the narrow main lane (the MLP has no table or product chip),
        // the speed layout a wide one (its matvec blocks fix k)
        let settings: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("settings.json")).unwrap()).unwrap();
        let width = if optimize == "gas" { 5 } else { 16 };
        assert_eq!(settings["shape"]["main_width"], width, "{settings}");
        ok(&zkinfer(&["inspect", d, "--json"]))
    };
    let (speed, gas) = (layout("speed"), layout("gas"));
    let columns = |i: &serde_json::Value| {
        ["advice_columns", "fixed_columns", "selectors", "lookups"]
            .map(|c| i[c].as_u64().unwrap())
            .iter()
            .sum::<u64>()
    };
    assert!(columns(&gas) < columns(&speed), "{gas} vs {speed}");
    assert!(gas["k"].as_u64() > speed["k"].as_u64(), "{gas} vs {speed}");
    let out = zkinfer(&[
        "compile",
        &example("mlp.onnx"),
        "-o",
        "x",
        "--optimize",
        "size",
    ]);
    fails_with(&out, 2, "size");
}

#[test]
fn bad_input_is_a_clear_error_and_leaves_artifacts_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("mlp");
    let d = dir.to_str().unwrap();
    ok(&zkinfer(&[
        "compile",
        &example("mlp.onnx"),
        "-o",
        d,
        "--json",
    ]));
    let before = snapshot(&dir);

    // malformed ONNX
    let junk = tmp.path().join("junk.onnx");
    std::fs::write(&junk, b"\x0a\xff\xff\xffnot an onnx file").unwrap();
    fails_with(
        &zkinfer(&[
            "compile",
            junk.to_str().unwrap(),
            "--calibration",
            &example("input.json"),
            "-o",
            d,
        ]),
        2,
        "junk.onnx",
    );
    // an op no translation knows: the example with its Relu renamed to `Relx`
    let onnx = std::fs::read(example("mlp.onnx")).unwrap();
    let pos = onnx.windows(4).position(|w| w == b"Relu").unwrap();
    let mut unknown = onnx.clone();
    unknown[pos..pos + 4].copy_from_slice(b"Relx");
    let unknown_path = tmp.path().join("unknown_op.onnx");
    std::fs::write(&unknown_path, &unknown).unwrap();
    let out = zkinfer(&[
        "compile",
        unknown_path.to_str().unwrap(),
        "--calibration",
        &example("input.json"),
        "-o",
        d,
    ]);
    fails_with(&out, 2, "Relx");
    fails_with(&out, 2, "relu1");
    assert_eq!(
        snapshot(&dir),
        before,
        "a failed compile changed earlier artifacts"
    );

    // wrong input shape
    ok(&zkinfer(&["setup", d, "--dev-srs", "--json"]));
    let keys = snapshot(&dir);
    let short = tmp.path().join("short.json");
    std::fs::write(
        &short,
        serde_json::to_vec(&serde_json::json!({ "input": [vec![0.5; 783]] })).unwrap(),
    )
    .unwrap();
    let out_dir = tmp.path().join("out");
    let out = zkinfer(&[
        "prove",
        d,
        "--input",
        short.to_str().unwrap(),
        "--request-id",
        "1",
        "-o",
        out_dir.to_str().unwrap(),
    ]);
    fails_with(&out, 2, "783 values");
    fails_with(&out, 2, "short.json");
    assert!(!out_dir.exists(), "a failed prove wrote output");
    // a request id at or above the field modulus
    let out = zkinfer(&[
        "prove",
        d,
        "--input",
        &example("input.json"),
        "--request-id",
        "0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001",
        "-o",
        out_dir.to_str().unwrap(),
    ]);
    fails_with(&out, 2, "modulus");
    // a recorded circuit shape the chips cannot take, or that is not what compile chose
    let edited = tmp.path().join("edited");
    std::fs::create_dir(&edited).unwrap();
    for f in ["model.json", "settings.json"] {
        std::fs::copy(dir.join(f), edited.join(f)).unwrap();
    }
    let (e, settings) = (edited.to_str().unwrap(), edited.join("settings.json"));
    let changed = edit_json(&settings, |s| s["shape"]["range_bits"] = 40.into());
    std::fs::rename(changed, &settings).unwrap();
    let out = zkinfer(&["inspect", e]);
    fails_with(&out, 2, "settings.json");
    fails_with(&out, 2, "range limbs of 40 bits");
    let changed = edit_json(&settings, |s| {
        s["shape"]["range_bits"] = 8.into();
        s["shape"]["main_width"] = 20.into();
    });
    std::fs::rename(changed, &settings).unwrap();
    let out = zkinfer(&["inspect", e]);
    fails_with(&out, 2, "settings.json");
    fails_with(&out, 2, "a main lane of 20 columns");
    let changed = edit_json(&settings, |s| {
        s["shape"]["main_width"] = 16.into();
        s["shape"]["range_bits"] = 9.into();
        s["shape"]["range_lanes"] = 3.into();
    });
    std::fs::rename(changed, &settings).unwrap();
    fails_with(
        &zkinfer(&["inspect", e]),
        2,
        "main_rows = 1807 and range_rows = 1228 but the layout of its shape needs",
    );
    // setup without an SRS choice (halo2)
    fails_with(&zkinfer(&["setup", d]), 2, "--dev-srs");
    assert_eq!(snapshot(&dir), keys, "failed commands changed the keys");
    // a missing model directory
    fails_with(
        &zkinfer(&["inspect", tmp.path().join("nope").to_str().unwrap()]),
        2,
        "nope",
    );
}

#[test]
fn groth16_backend_end_to_end_with_snarkjs_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("g16");
    let d = dir.to_str().unwrap();
    let c = ok(&zkinfer(&[
        "compile",
        &example("mlp.onnx"),
        "--backend",
        "groth16",
        "-o",
        d,
        "--json",
    ]));
    assert!(c["size"]["constraints"].as_u64().unwrap() > 10_000);
    ok(&zkinfer(&["setup", d, "--json"]));
    assert!(dir.join("verification_key.json").exists());
    let i = ok(&zkinfer(&["inspect", d, "--json"]));
    assert_eq!(i["backend"], "groth16-bn254");
    // the five usage instances and one ciphertext word, as on halo2
    assert_eq!(i["public_instances"], 6);
    let out = tmp.path().join("out");
    let p = ok(&zkinfer(&[
        "prove",
        d,
        "--input",
        &example("input.json"),
        "--request-id",
        "5",
        "--salt",
        "0x09",
        "-o",
        out.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(p["proofs"][0]["n_out"], 1);
    let proof = out.join("proof-0.json");
    assert!(zkinfer(&["verify", d, proof.to_str().unwrap()])
        .status
        .success());
    assert!(
        out.join("snarkjs-proof-0.json").exists() && out.join("snarkjs-public-0.json").exists()
    );
    let bumped = edit_json(&proof, |v| v["instances"][3] = serde_json::json!("0x02"));
    fails_with(
        &zkinfer(&["verify", d, bumped.to_str().unwrap()]),
        1,
        "does not verify",
    );
    // the other backend's flag is refused with a clear message
    fails_with(
        &zkinfer(&["verify", "--backend", "halo2", d, proof.to_str().unwrap()]),
        2,
        "groth16-bn254",
    );

    // the same request through halo2 gives the same instances
    let h = tmp.path().join("h2");
    ok(&zkinfer(&[
        "compile",
        &example("mlp.onnx"),
        "-o",
        h.to_str().unwrap(),
        "--json",
    ]));
    ok(&zkinfer(&[
        "setup",
        h.to_str().unwrap(),
        "--dev-srs",
        "--json",
    ]));
    let hp = ok(&zkinfer(&[
        "prove",
        h.to_str().unwrap(),
        "--input",
        &example("input.json"),
        "--request-id",
        "5",
        "--salt",
        "0x09",
        "-o",
        tmp.path().join("hout").to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(hp["proofs"][0]["instances"], p["proofs"][0]["instances"]);
}

#[test]
fn batch_meters_real_rows_and_refuses_too_many() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("b3");
    let d = dir.to_str().unwrap();
    let c = ok(&zkinfer(&[
        "compile",
        &example("mlp.onnx"),
        "--batch",
        "3",
        "-o",
        d,
        "--json",
    ]));
    assert_eq!(c["batch"], 3);
    ok(&zkinfer(&["setup", d, "--dev-srs", "--json"]));
    let calib: serde_json::Value =
        serde_json::from_slice(&std::fs::read(example("calibration.json")).unwrap()).unwrap();
    let rows = |n: usize| {
        let p = tmp.path().join(format!("rows{n}.json"));
        let v = serde_json::json!({ "input": calib["input"].as_array().unwrap()[..n] });
        std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
        p
    };
    let out = tmp.path().join("out");
    let p = ok(&zkinfer(&[
        "prove",
        d,
        "--input",
        rows(2).to_str().unwrap(),
        "--request-id",
        "1",
        "-o",
        out.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(
        (
            p["proofs"][0]["n_in"].as_u64(),
            p["proofs"][0]["n_out"].as_u64()
        ),
        (Some(2), Some(2))
    );
    assert_eq!(p["proofs"][0]["output"].as_array().unwrap().len(), 2);
    assert!(
        zkinfer(&["verify", d, out.join("proof-0.json").to_str().unwrap()])
            .status
            .success()
    );
    // claiming the padding row as a third billed sample fails
    let three = edit_json(&out.join("proof-0.json"), |v| {
        v["instances"][3] = serde_json::json!("0x03");
        v["instances"][4] = serde_json::json!("0x03");
    });
    fails_with(
        &zkinfer(&["verify", d, three.to_str().unwrap()]),
        1,
        "does not verify",
    );
    let too_many = zkinfer(&[
        "prove",
        d,
        "--input",
        rows(4).to_str().unwrap(),
        "--request-id",
        "1",
        "-o",
        out.to_str().unwrap(),
    ]);
    fails_with(&too_many, 2, "batch size 3");
}
