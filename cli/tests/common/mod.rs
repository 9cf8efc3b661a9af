//! Helpers shared by the CLI test binaries: run the real binary, read its JSON, find the examples.

// Each test binary uses a subset of these helpers.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

#[path = "../../../serve/tests/common/pg.rs"]
pub mod pg;
pub mod service;

/// Runs `zkinfer` with `args` and extra environment variables.
pub fn zkinfer_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zkinfer"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("zkinfer runs")
}

/// Runs `zkinfer chain ARGS` on the embedded chain saved at `state`, as dev account `dev`.
pub fn chain_at(state: &str, dev: &str, args: &[&str]) -> Output {
    let mut a = vec!["chain", "--state", state, "--dev-account", dev, "--json"];
    a.extend_from_slice(args);
    zkinfer_env(&a, &[])
}

/// `zkinfer chain output` as the client (dev account 3) runs it: request `id`'s output read from
/// its settlement event, decrypted with `salt` for the model in `model`.
pub fn chain_output(state: &str, settlement: &str, id: &str, salt: &str, model: &str) -> Output {
    chain_at(
        state,
        "3",
        &[
            "output",
            "--settlement",
            settlement,
            "--request-id",
            id,
            "--salt",
            salt,
            "--model",
            model,
        ],
    )
}

/// Fails unless the verifying key `setup` wrote into `model_dir` is the one pinned for `name` in
/// `examples/pinned_vks.json` (see prover/tests/pinned_keys.rs).
pub fn assert_pinned_vk(name: &str, model_dir: &str) {
    let read = |p: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    };
    let pins = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/pinned_vks.json"));
    let manifest = read(&Path::new(model_dir).join("manifest.json"));
    assert_eq!(
        manifest["vk_sha256"], pins[name],
        "{name}: the verifying key changed (review the circuit change, then pin it in examples/pinned_vks.json)"
    );
}

/// The JSON a successful `--json` run printed.
pub fn ok(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("--json prints JSON")
}

/// A file of the example MLP.
pub fn example(f: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/mlp")
        .join(f)
        .display()
        .to_string()
}

/// The terms [`deploy_and_register`] registers, as `chain register` takes them: owner dev 1,
/// provider dev 2, a 10% royalty, 100 per unit in and 1000 per unit out.
pub const TERMS: [&str; 10] = [
    "--owner",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "--provider",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "--royalty-bps",
    "1000",
    "--price-in",
    "100",
    "--price-out",
    "1000",
];

/// On the chain at `state`: deploys the verifier built in `verifier_dir` and a Settlement, and
/// registers the model with owner dev account 1's address, provider dev account 2's, a 10%
/// royalty and prices of 100 per unit in and 1000 per unit out. Returns (settlement, model id).
pub fn deploy_and_register(state: &str, verifier_dir: &str) -> (String, String) {
    deploy_and_register_on(&|args, dev| chain_at(state, dev, args), verifier_dir)
}

/// [`deploy_and_register`] on any chain: `chain(ARGS, DEV)` runs `zkinfer chain ARGS --json` as
/// dev account `DEV` (on a node: `--rpc-url`).
pub fn deploy_and_register_on(
    chain: &dyn Fn(&[&str], &str) -> Output,
    verifier_dir: &str,
) -> (String, String) {
    let addr = |v: serde_json::Value, k: &str| v[k].as_str().unwrap().to_string();
    let verifier = addr(
        ok(&chain(&["deploy", "verifier", verifier_dir], "0")),
        "verifier",
    );
    let settlement = addr(ok(&chain(&["deploy", "settlement"], "0")), "settlement");
    let mut register = vec![
        "register",
        "--settlement",
        &settlement,
        "--verifier",
        &verifier,
    ];
    register.extend(TERMS);
    let model_id = addr(ok(&chain(&register, "1")), "model_id");
    (settlement, model_id)
}
