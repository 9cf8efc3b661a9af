//! Helpers shared by the CLI test binaries: run the real binary, read its JSON, find the examples.

// Each test binary uses a subset of these helpers.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

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
