//! The on-chain verbs as a user runs them: `zkinfer demo` on both backends, and the manual flow
//! `verifier` → `chain deploy/register/request` → `prove` → `chain settle/withdraw` on a
//! persistent embedded chain, with a tampered proof refused and a missing compiler explained;
//! and the same verbs against a real anvil with keys from a file and from the environment.

mod common;

use common::{chain_at, chain_output, example, ok, zkinfer_env as zkinfer};

fn wei(v: &serde_json::Value) -> u128 {
    v.as_str()
        .expect("amounts are decimal strings")
        .parse()
        .unwrap()
}

#[test]
fn demo_pays_exact_amounts_on_both_backends() {
    for backend in ["halo2", "groth16"] {
        let v = ok(&zkinfer(&["demo", "--backend", backend, "--json"], &[]));
        assert_eq!(v["n_in"], 1);
        assert_eq!(v["n_out"], 1);
        // The client reads from the settlement event exactly what the model produced.
        assert_eq!(v["output"].as_array().unwrap().len(), 10, "{backend}");
        assert_eq!(v["output"], v["output_from_chain"], "{backend}");
        let (escrow, provider, owner, refunded) = (
            wei(&v["escrow"]),
            wei(&v["provider_paid"]),
            wei(&v["owner_paid"]),
            wei(&v["refunded"]),
        );
        assert_eq!(provider + owner + refunded, escrow, "{backend}");
        assert_eq!(owner * 9, provider, "10% royalty");
        assert!(v["verify_gas"].as_u64().unwrap() > 100_000);
        assert!(v["settle_gas"].as_u64().unwrap() > v["verify_gas"].as_u64().unwrap() - 21_000);
        assert!(v["backend"]
            .as_str()
            .unwrap()
            .starts_with(if backend == "halo2" {
                "halo2"
            } else {
                "groth16"
            }));
    }
}

#[test]
fn manual_flow_on_a_persistent_embedded_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |p: &str| tmp.path().join(p).display().to_string();
    let state = t("chain.json");
    let chain = |args: &[&str], dev: &str| chain_at(&state, dev, args);
    ok(&zkinfer(
        &["compile", &example("mlp.onnx"), "-o", &t("model"), "--json"],
        &[],
    ));
    ok(&zkinfer(
        &["setup", &t("model"), "--dev-srs", "--json"],
        &[],
    ));
    let manifest = ok(&zkinfer(
        &["verifier", &t("model"), "-o", &t("verifier"), "--json"],
        &[],
    ));
    assert!(manifest["manifest"]["parts"].as_array().unwrap().len() >= 2);
    for f in [
        "Halo2UsageVerifier.sol",
        "IUsageVerifier.sol",
        "adapter.bin",
        "adapter.abi.json",
        "part0.bin",
        "verifier.json",
    ] {
        assert!(tmp.path().join("verifier").join(f).is_file(), "{f}");
    }

    let verifier = ok(&chain(&["deploy", "verifier", &t("verifier")], "0"))["verifier"]
        .as_str()
        .unwrap()
        .to_string();
    let settlement = ok(&chain(&["deploy", "settlement"], "0"))["settlement"]
        .as_str()
        .unwrap()
        .to_string();
    let owner = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
    let provider = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
    let model_id = ok(&chain(
        &[
            "register",
            "--settlement",
            &settlement,
            "--verifier",
            &verifier,
            "--owner",
            owner,
            "--provider",
            provider,
            "--royalty-bps",
            "2500",
            "--price-in",
            "1000",
            "--price-out",
            "3000",
        ],
        "1",
    ))["model_id"]
        .as_str()
        .unwrap()
        .to_string();
    let salt = "0x1234";
    let req = ok(&chain(
        &[
            "request",
            "--settlement",
            &settlement,
            "--model-id",
            &model_id,
            "--model",
            &t("model"),
            "--input",
            &example("input.json"),
            "--salt",
            salt,
            "--max-in",
            "5",
            "--max-out",
            "5",
        ],
        "3",
    ));
    assert_eq!(req["escrow"], "20000");
    let id = req["request_id"].as_str().unwrap().to_string();

    ok(&zkinfer(
        &[
            "prove",
            &t("model"),
            "--input",
            &example("input.json"),
            "--request-id",
            &id,
            "--salt",
            salt,
            "-o",
            &t("proofs"),
            "--json",
        ],
        &[],
    ));
    let proof = t("proofs/proof-0.json");

    // A tampered proof file is refused on-chain with the contract's reason; nothing is paid.
    let mut file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&proof).unwrap()).unwrap();
    let hex = file["proof"].as_str().unwrap().to_string();
    let flipped = if &hex[10..11] == "0" { "1" } else { "0" };
    file["proof"] = format!("{}{}{}", &hex[..10], flipped, &hex[11..]).into();
    std::fs::write(t("tampered.json"), serde_json::to_vec(&file).unwrap()).unwrap();
    let out = chain(
        &["settle", "--settlement", &settlement, &t("tampered.json")],
        "2",
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("InvalidProof"), "{err}");

    // Checked on-chain without settling: the real proof passes (exit 0), the tampered one not (exit 1).
    let checked = ok(&chain(&["verify", "--verifier", &verifier, &proof], "0"));
    assert_eq!(checked["valid"], true);
    assert!(checked["gas"].as_u64().unwrap() > 100_000);
    let refused = chain(
        &["verify", "--verifier", &verifier, &t("tampered.json")],
        "0",
    );
    assert_eq!(refused.status.code(), Some(1));

    let settled = ok(&chain(
        &["settle", "--settlement", &settlement, &proof],
        "2",
    ));
    assert_eq!(settled["provider_paid"], "3000"); // 1·1000 + 1·3000 = 4000, 25% royalty
    assert_eq!(settled["owner_paid"], "1000");
    assert_eq!(settled["refunded"], "16000");
    let again = chain(&["settle", "--settlement", &settlement, &proof], "2");
    assert!(String::from_utf8_lossy(&again.stderr).contains("NotOpen"));

    // The client decrypts its output from the settlement event with its salt: the opening's.
    let opening: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t("proofs/opening-0.json")).unwrap()).unwrap();
    let output = |salt: &str| chain_output(&state, &settlement, &id, salt, &t("model"));
    let read = ok(&output(salt));
    assert_eq!(read["output"], opening["output"]);
    assert_eq!(read["output_real"], opening["output_real"]);
    // Under another salt the words are noise, refused by the output commitment.
    let wrong = output("0x1235");
    assert_eq!(wrong.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("does not open"));
    assert_eq!(
        ok(&chain(&["withdraw", "--settlement", &settlement], "2"))["amount"],
        "3000"
    );
    assert_eq!(
        ok(&chain(&["withdraw", "--settlement", &settlement], "3"))["amount"],
        "16000"
    );
    // A request by commitment alone, under a chosen nonce (or a random one).
    let request = |nonce: Option<&str>, max: &str| {
        let mut args = vec![
            "request",
            "--settlement",
            &settlement,
            "--model-id",
            &model_id,
            "--input-commitment",
            "0x1",
            "--max-in",
            max,
            "--max-out",
            max,
        ];
        args.extend(nonce.iter().flat_map(|n| ["--nonce", *n]));
        chain(&args, "3")
    };
    // Refund before the deadline is refused; after `warp`, a fresh request is refunded.
    let req2 = ok(&request(None, "1"));
    let id2 = req2["request_id"].as_str().unwrap().to_string();
    // A nonce names one request per client: reusing it, or asking for nothing, is refused.
    let nonce = req2["nonce"].to_string();
    let refused = |out: std::process::Output, why: &str| {
        assert!(String::from_utf8_lossy(&out.stderr).contains(why), "{why}");
    };
    refused(request(Some(&nonce), "1"), "RequestExists");
    refused(request(Some("77"), "0"), "ZeroCostRequest");
    let early = chain(
        &["refund", "--settlement", &settlement, "--request-id", &id2],
        "0",
    );
    assert!(String::from_utf8_lossy(&early.stderr).contains("DeadlineNotReached"));
    ok(&chain(&["warp", "7200"], "0"));
    assert_eq!(
        ok(&chain(
            &["refund", "--settlement", &settlement, "--request-id", &id2],
            "0"
        ))["refunded"],
        "4000"
    );
}

#[test]
fn a_missing_compiler_names_the_command_that_installs_it() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model").display().to_string();
    ok(&zkinfer(
        &[
            "compile",
            &example("mlp.onnx"),
            "--backend",
            "groth16",
            "-o",
            &model,
            "--json",
        ],
        &[],
    ));
    ok(&zkinfer(&["setup", &model, "--json"], &[]));
    let out_dir = tmp.path().join("verifier");
    let out = zkinfer(
        &["verifier", &model, "-o", &out_dir.display().to_string()],
        &[
            ("ZKINFER_JS_TOOLS", "/nonexistent"),
            ("PATH", "/nonexistent"),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("npm ci --prefix verifier-contracts"), "{err}");
    assert!(!out_dir.exists(), "nothing written");
}

#[test]
fn a_node_takes_keys_from_a_file_or_the_environment() {
    let anvil = zkinfer_contracts::chain::anvil::Anvil::start().expect("anvil starts");
    let tmp = tempfile::tempdir().unwrap();
    let t = |p: &str| tmp.path().join(p).display().to_string();
    ok(&zkinfer(
        &[
            "compile",
            &example("mlp.onnx"),
            "--backend",
            "groth16",
            "-o",
            &t("model"),
            "--json",
        ],
        &[],
    ));
    ok(&zkinfer(&["setup", &t("model"), "--json"], &[]));
    ok(&zkinfer(
        &["verifier", &t("model"), "-o", &t("verifier"), "--json"],
        &[],
    ));
    let deployer_key = zkinfer_contracts::chain::DEV_KEYS[0];
    std::fs::write(t("deployer.key"), format!("{deployer_key}\n")).unwrap();
    let node = |args: &[&str], env: &[(&str, &str)]| {
        let mut a = vec!["chain", "--rpc-url", &anvil.url, "--json"];
        a.extend_from_slice(args);
        zkinfer(&a, env)
    };
    let keyfile = t("deployer.key");
    let settlement = ok(&node(
        &["--key-file", &keyfile, "deploy", "settlement"],
        &[],
    ));
    assert_eq!(settlement["chain"], anvil.url.as_str());
    let settlement = settlement["settlement"].as_str().unwrap().to_string();
    let env = [("ZKINFER_PRIVATE_KEY", zkinfer_contracts::chain::DEV_KEYS[1])];
    let verifier = ok(&node(&["deploy", "verifier", &t("verifier")], &env))["verifier"]
        .as_str()
        .unwrap()
        .to_string();
    let owner = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
    let registered = ok(&node(
        &[
            "register",
            "--settlement",
            &settlement,
            "--verifier",
            &verifier,
            "--owner",
            owner,
            "--provider",
            owner,
            "--royalty-bps",
            "100",
            "--price-in",
            "1",
            "--price-out",
            "1",
        ],
        &env,
    ));
    assert_eq!(registered["model_id"], "1");
    // No key at all: a clear error that says where keys come from.
    let out = node(&["deploy", "settlement"], &[("ZKINFER_PRIVATE_KEY", "")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("ZKINFER_PRIVATE_KEY") || err.contains("private key"),
        "{err}"
    );
    // A bad key file names the file.
    std::fs::write(t("bad.key"), "not a key").unwrap();
    let bad = t("bad.key");
    let out = node(&["--key-file", &bad, "deploy", "settlement"], &[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.key"));
}
