//! `zkinfer publish` and `zkinfer audit` as an auditor runs them. An honest deployment audits
//! clean on the embedded chain (rebuilt with one thread and with two) and on anvil; every lie the
//! audit exists to catch is a mismatch naming the artifact, with exit 1: another ONNX weight,
//! another calibration set, a verifier deployed from another model, a registration on other terms,
//! a settled proof that does not verify under the published model. A damaged bundle is exit 2.

mod common;

use std::path::Path;
use std::process::Output;

use common::{chain_at, deploy_and_register_on, example, ok, zkinfer_env as zkinfer, TERMS};
use sha2::{Digest, Sha256};

/// Compiles `onnx` (with the MLP's calibration set) for `backend` into `dir`, sets it up and
/// writes its verifier to `dir/verifier`.
fn build(onnx: &str, backend: &str, dir: &str) {
    let calibration = example("calibration.json");
    let args = [
        "--backend",
        backend,
        "compile",
        onnx,
        "--calibration",
        &calibration,
        "-o",
        dir,
        "--json",
    ];
    ok(&zkinfer(&args, &[]));
    let dev = if backend == "halo2" {
        vec!["--dev-srs"]
    } else {
        vec![]
    };
    let mut setup = vec!["setup", dir, "--json"];
    setup.extend(dev);
    ok(&zkinfer(&setup, &[]));
    ok(&zkinfer(
        &["verifier", dir, "-o", &format!("{dir}/verifier"), "--json"],
        &[],
    ));
}

/// Opens a request for the example input on `model_id` (as dev 3), proves it with the model in
/// `dir` and settles it (as dev 2); `chain(ARGS, DEV)` runs `zkinfer chain ARGS --json`.
fn serve_one(chain: &dyn Fn(&[&str], &str) -> Output, settlement: &str, model_id: &str, dir: &str) {
    let input = example("input.json");
    let req = ok(&chain(
        &[
            "request",
            "--settlement",
            settlement,
            "--model-id",
            model_id,
            "--model",
            dir,
            "--input",
            &input,
            "--salt",
            "0x1234",
            "--max-in",
            "5",
            "--max-out",
            "5",
        ],
        "3",
    ));
    let id = req["request_id"].as_str().unwrap();
    let proofs = format!("{dir}/proofs-{model_id}");
    ok(&zkinfer(
        &[
            "prove",
            dir,
            "--input",
            &input,
            "--request-id",
            id,
            "--salt",
            "0x1234",
            "-o",
            &proofs,
            "--json",
        ],
        &[],
    ));
    ok(&chain(
        &[
            "settle",
            "--settlement",
            settlement,
            &format!("{proofs}/proof-0.json"),
        ],
        "2",
    ));
}

/// `zkinfer publish DIR -o OUT` with [`TERMS`].
fn publish(dir: &str, out: &str) -> serde_json::Value {
    let mut args = vec!["publish", dir, "-o", out, "--json"];
    args.extend(TERMS);
    ok(&zkinfer(&args, &[]))
}

/// `zkinfer audit BUNDLE ARGS --json`: (exit code, report or null, stderr).
fn audit(bundle: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, serde_json::Value, String) {
    let mut a = vec!["audit", bundle, "--json"];
    a.extend_from_slice(args);
    let out = zkinfer(&a, env);
    let report = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (
        out.status.code().unwrap(),
        report,
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// The artifacts of a report's rows that did not match.
fn mismatches(report: &serde_json::Value) -> Vec<String> {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "mismatch")
        .map(|r| r["artifact"].as_str().unwrap().to_string())
        .collect()
}

/// The example MLP with its first weight moved by 0.5: the same shapes, another model.
fn other_weights(dst: &Path) {
    use prost::Message;
    let bytes = std::fs::read(example("mlp.onnx")).unwrap();
    let mut model = tract_onnx::pb::ModelProto::decode(&bytes[..]).unwrap();
    let graph = model.graph.as_mut().unwrap();
    let w = graph
        .initializer
        .iter_mut()
        .find(|t| t.dims.len() == 2)
        .unwrap();
    if w.raw_data.is_empty() {
        w.float_data[0] += 0.5;
    } else {
        let v = f32::from_le_bytes(w.raw_data[..4].try_into().unwrap()) + 0.5;
        w.raw_data[..4].copy_from_slice(&v.to_le_bytes());
    }
    std::fs::write(dst, model.encode_to_vec()).unwrap();
}

/// Deploys, on the embedded chain at `state`, a batch verifier for `requests` requests and
/// `instances` instances that accepts every proof; returns its address.
fn accept_anything(state: &str, requests: usize, instances: usize) -> String {
    use zkinfer_contracts::chain::embedded::Embedded;
    let source = format!(
        "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.20;\ncontract AcceptAnything {{\n\
         function numRequests() external pure returns (uint256) {{ return {requests}; }}\n\
         function numInstances() external pure returns (uint256) {{ return {instances}; }}\n\
         function verify(bytes calldata, uint256[] calldata) external pure returns (bool) {{ return true; }}\n}}\n"
    );
    let solc = zkinfer_contracts::solc::Solc::find().unwrap();
    let compiled = solc
        .compile(&[("AcceptAnything.sol".to_string(), source)].into())
        .unwrap();
    let code = compiled["AcceptAnything"].bytecode.clone();
    let from = zkinfer_contracts::keys::dev(0).address();
    let addr = Embedded::with_locked(Path::new(state), true, |c| {
        zkinfer_contracts::chain::deploy(c, from, &code)
    })
    .unwrap()
    .0;
    addr.to_string()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// A copy of `bundle` at `to` whose file `rel` is `bytes`, listed with its new hash: a bundle
/// that is whole but not what was deployed.
fn relisted(bundle: &Path, to: &Path, rel: &str, bytes: &[u8]) -> String {
    copy_dir(bundle, to);
    std::fs::write(to.join(rel), bytes).unwrap();
    let index_path = to.join("bundle.json");
    let mut index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&index_path).unwrap()).unwrap();
    index["files"][rel] = hex::encode(Sha256::digest(bytes)).into();
    std::fs::write(&index_path, serde_json::to_vec_pretty(&index).unwrap()).unwrap();
    to.display().to_string()
}

#[test]
fn an_honest_deployment_audits_clean_and_every_lie_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |p: &str| tmp.path().join(p).display().to_string();
    let state = t("chain.json");
    let chain = |args: &[&str], dev: &str| chain_at(&state, dev, args);
    build(&example("mlp.onnx"), "halo2", &t("a"));
    let (settlement, model_a) = deploy_and_register_on(&chain, &t("a/verifier"));
    serve_one(&chain, &settlement, &model_a, &t("a"));
    let published = publish(&t("a"), &t("bundle"));
    assert!(published["index"]["files"]["source.onnx"].is_string());
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(t("bundle")).unwrap().permissions().mode();
        assert_eq!(mode & 0o755, 0o755, "a bundle is readable by all: {mode:o}");
    }
    assert!(
        !tmp.path().join("bundle/pk.bin").exists(),
        "no proving key is published"
    );
    let bundle = t("bundle");
    let on_chain = |model_id: &str| -> Vec<String> {
        vec![
            "--state".into(),
            state.clone(),
            "--settlement".into(),
            settlement.clone(),
            "--model-id".into(),
            model_id.into(),
        ]
    };

    // Honest: every artifact rebuilds, the code, terms and the settled proof match; with one
    // rayon thread the rebuild gives the same rows as with two.
    let (code, report, err) = audit(&bundle, &strs(&on_chain(&model_a)), &[]);
    assert_eq!(code, 0, "{report:#}\n{err}");
    let rows = report["rows"].as_array().unwrap();
    for want in [
        "model.json",
        "settings.json",
        "vk.bin",
        "verifier/adapter.bin",
        "terms: price_out",
        "verifier adapter",
        "Settlement ",
        "request ",
    ] {
        assert!(
            rows.iter().any(
                |r| r["artifact"].as_str().unwrap().starts_with(want) && r["status"] == "match"
            ),
            "{want}: {report:#}"
        );
    }
    let (code, one_thread, err) = audit(&bundle, &[], &[("RAYON_NUM_THREADS", "1")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        one_thread["rows"].as_array().unwrap()[..],
        rows[..one_thread["rows"].as_array().unwrap().len()]
    );

    // A registration on other terms: only that term is named.
    let v = ok(&chain(&["deploy", "verifier", &t("a/verifier")], "0"))["verifier"]
        .as_str()
        .unwrap()
        .to_string();
    let mut register = vec!["register", "--settlement", &settlement, "--verifier", &v];
    let mut terms = TERMS.to_vec();
    terms[7] = "200";
    register.extend(terms);
    let model_terms = ok(&chain(&register, "1"))["model_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, report, _) = audit(&bundle, &strs(&on_chain(&model_terms)), &[]);
    assert_eq!(
        (code, mismatches(&report)),
        (1, vec!["terms: price_in".to_string()])
    );
    // Another contract in Settlement's place: named, and nothing is read from its storage.
    let mut elsewhere = on_chain(&model_a);
    elsewhere[3] = v.clone();
    let (code, report, _) = audit(&bundle, &strs(&elsewhere), &[]);
    assert_eq!(
        (code, mismatches(&report)),
        (1, vec![format!("Settlement {v}")])
    );

    // A verifier deployed from another model, and a request settled with that model's proof:
    // the verifier's code and the proof are named.
    let other = tmp.path().join("other.onnx");
    other_weights(&other);
    build(other.to_str().unwrap(), "halo2", &t("b"));
    let vb = ok(&chain(&["deploy", "verifier", &t("b/verifier")], "0"))["verifier"]
        .as_str()
        .unwrap()
        .to_string();
    let mut register = vec!["register", "--settlement", &settlement, "--verifier", &vb];
    register.extend(TERMS);
    let model_b = ok(&chain(&register, "1"))["model_id"]
        .as_str()
        .unwrap()
        .to_string();
    serve_one(&chain, &settlement, &model_b, &t("b"));
    let (code, report, _) = audit(&bundle, &strs(&on_chain(&model_b)), &[]);
    assert_eq!(code, 1);
    let bad = mismatches(&report);
    // the key lives in the parts; an adapter is the same code for every model of one shape
    assert!(
        bad.iter().any(|a| a.starts_with("verifier part 0")),
        "{bad:?}"
    );
    let proof_row = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["artifact"].as_str().unwrap().starts_with("request "))
        .unwrap();
    assert_eq!(
        (proof_row["status"].as_str(), proof_row["found"].as_str()),
        (Some("mismatch"), Some("invalid proof"))
    );
    assert!(bad.iter().all(|a| !a.starts_with("terms")), "{bad:?}");

    // The owner registers a batch verifier that accepts anything: it could release the model's
    // escrows, and the bundle cannot vouch for it, so the audit names it.
    let proof: serde_json::Value = serde_json::from_slice(
        &std::fs::read(t(&format!("a/proofs-{model_a}/proof-0.json"))).unwrap(),
    )
    .unwrap();
    let statement = proof["instances"].as_array().unwrap().len();
    let accepting = accept_anything(&state, 2, 12 + 2 * statement);
    ok(&chain(
        &[
            "register-batch",
            "--settlement",
            &settlement,
            "--model-id",
            &model_a,
            "--verifier",
            &accepting,
        ],
        "1",
    ));
    let (code, report, _) = audit(&bundle, &strs(&on_chain(&model_a)), &[]);
    assert_eq!(code, 1);
    assert_eq!(
        mismatches(&report),
        vec![format!("batch verifier (2 requests) {accepting}")]
    );

    // A whole bundle that lies about its ONNX weights, or its calibration set.
    let lie = relisted(
        Path::new(&bundle),
        &tmp.path().join("lie-onnx"),
        "source.onnx",
        &std::fs::read(&other).unwrap(),
    );
    let (code, report, _) = audit(&lie, &[], &[]);
    let bad = mismatches(&report);
    assert_eq!(code, 1);
    assert!(
        bad.contains(&"model.json".into()) && bad.contains(&"vk.bin".into()),
        "{bad:?}"
    );
    let cal: serde_json::Value =
        serde_json::from_slice(&std::fs::read(example("calibration.json")).unwrap()).unwrap();
    let scaled: Vec<Vec<f64>> = serde_json::from_value::<Vec<Vec<f64>>>(cal["input"].clone())
        .unwrap()
        .into_iter()
        .map(|r| r.into_iter().map(|x| 3.0 * x).collect())
        .collect();
    let cal = serde_json::to_vec(&serde_json::json!({ "input": scaled })).unwrap();
    let lie = relisted(
        Path::new(&bundle),
        &tmp.path().join("lie-cal"),
        "calibration.json",
        &cal,
    );
    let (code, report, _) = audit(&lie, &[], &[]);
    assert_eq!(code, 1);
    assert!(
        mismatches(&report).contains(&"model.json".into()),
        "{report:#}"
    );

    // A damaged bundle is an error naming the file, exit 2.
    let damaged = tmp.path().join("damaged");
    copy_dir(Path::new(&bundle), &damaged);
    let vk = std::fs::read(damaged.join("vk.bin")).unwrap();
    std::fs::write(damaged.join("vk.bin"), &vk[..vk.len() / 2]).unwrap();
    let (code, _, err) = audit(damaged.to_str().unwrap(), &[], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("vk.bin") && err.contains("changed or truncated"),
        "{err}"
    );
    std::fs::write(damaged.join("vk.bin"), &vk).unwrap();
    std::fs::write(damaged.join("notes.txt"), "x").unwrap();
    let (code, _, err) = audit(damaged.to_str().unwrap(), &[], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("notes.txt") && err.contains("not listed"),
        "{err}"
    );
    std::fs::remove_file(damaged.join("notes.txt")).unwrap();
    std::fs::write(damaged.join("bundle.json"), "{").unwrap();
    let (code, _, err) = audit(damaged.to_str().unwrap(), &[], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("bundle.json"), "{err}");

    // Publishing never writes over a bundle.
    let before = std::fs::read(tmp.path().join("bundle/bundle.json")).unwrap();
    let out = zkinfer(&["publish", &t("b"), "-o", &bundle], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    assert_eq!(
        std::fs::read(tmp.path().join("bundle/bundle.json")).unwrap(),
        before
    );
}

#[test]
fn a_groth16_deployment_on_anvil_audits_clean_with_its_key_taken_as_published() {
    let anvil = zkinfer_contracts::chain::anvil::Anvil::start().expect("anvil starts");
    let tmp = tempfile::tempdir().unwrap();
    let t = |p: &str| tmp.path().join(p).display().to_string();
    let node = |args: &[&str], dev: &str| {
        let mut a = vec![
            "chain",
            "--rpc-url",
            &anvil.url,
            "--dev-account",
            dev,
            "--json",
        ];
        a.extend_from_slice(args);
        zkinfer(&a, &[])
    };
    build(&example("mlp.onnx"), "groth16", &t("g"));
    let (settlement, model_id) = deploy_and_register_on(&node, &t("g/verifier"));
    serve_one(&node, &settlement, &model_id, &t("g"));
    publish(&t("g"), &t("bundle"));
    let (code, report, err) = audit(
        &t("bundle"),
        &[
            "--rpc-url",
            &anvil.url,
            "--settlement",
            &settlement,
            "--model-id",
            &model_id,
        ],
        &[],
    );
    assert_eq!(code, 0, "{report:#}\n{err}");
    let rows = report["rows"].as_array().unwrap();
    let vk = rows.iter().find(|r| r["artifact"] == "vk.bin").unwrap();
    assert_eq!(vk["status"], "trusted", "{vk}");
    let settled = rows
        .iter()
        .find(|r| r["artifact"].as_str().unwrap().starts_with("request "))
        .unwrap();
    assert_eq!(settled["found"], "valid proof");
}
