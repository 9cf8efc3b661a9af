//! `zkinfer prove --for-aggregation` and the input checks of `zkinfer aggregate`: a proof for
//! aggregation verifies like any other; an aggregation asked of proofs it cannot take fails in
//! seconds, names the file and why, and writes nothing. (The aggregation itself, minutes long, is
//! exercised end to end with the contracts in `verifier-contracts/tests/batch.rs`.)

mod common;

use common::{example, ok, zkinfer_env};

fn zkinfer(args: &[&str]) -> std::process::Output {
    zkinfer_env(args, &[])
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn proofs_for_aggregation_verify_and_bad_aggregations_name_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("mlp");
    let d = d.to_str().unwrap();
    ok(&zkinfer(&[
        "compile",
        &example("mlp.onnx"),
        "-o",
        d,
        "--json",
    ]));
    ok(&zkinfer(&["setup", d, "--dev-srs", "--json"]));
    let input = example("input.json");
    let prove = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "prove",
            d,
            "--input",
            &input,
            "--request-id",
            "5",
            "-o",
            out,
            "--json",
        ];
        args.extend_from_slice(extra);
        ok(&zkinfer(&args))
    };
    let agg_dir = tmp.path().join("agg");
    let evm_dir = tmp.path().join("evm");
    prove(agg_dir.to_str().unwrap(), &["--for-aggregation"]);
    prove(evm_dir.to_str().unwrap(), &[]);
    let for_agg = agg_dir.join("proof-0.json");
    let evm = evm_dir.join("proof-0.json");
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&for_agg).unwrap()).unwrap();
    assert_eq!(file["transcript"], "poseidon-snark-verifier");
    let v = ok(&zkinfer(&[
        "verify",
        d,
        for_agg.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(v["valid"], true);

    let out = tmp.path().join("batch.json");
    let o = out.to_str().unwrap();
    let (a, e) = (for_agg.to_str().unwrap(), evm.to_str().unwrap());
    // no SRS chosen
    let r = zkinfer(&["aggregate", d, a, a, "-o", o]);
    assert!(!r.status.success());
    assert!(
        stderr(&r).contains("choose the aggregation SRS"),
        "{}",
        stderr(&r)
    );
    // a proof made for the chain, not for aggregation
    let r = zkinfer(&["aggregate", d, a, e, "-o", o, "--dev-srs"]);
    assert!(!r.status.success());
    let msg = stderr(&r);
    assert!(
        msg.contains(e) && msg.contains("--for-aggregation"),
        "{msg}"
    );
    // a proof that does not verify
    let mut bad = file.clone();
    let hex = bad["proof"].as_str().unwrap().to_string();
    let flipped = if &hex[10..11] == "0" { "1" } else { "0" };
    bad["proof"] = format!("{}{flipped}{}", &hex[..10], &hex[11..]).into();
    let bad_path = tmp.path().join("bad.json");
    std::fs::write(&bad_path, serde_json::to_vec(&bad).unwrap()).unwrap();
    let b = bad_path.to_str().unwrap();
    let r = zkinfer(&["aggregate", d, a, b, "-o", o, "--dev-srs"]);
    assert!(!r.status.success());
    let msg = stderr(&r);
    assert!(msg.contains(b) && msg.contains("does not verify"), "{msg}");
    // leaves that do not split the proofs evenly
    let r = zkinfer(&["aggregate", d, a, a, "-o", o, "--dev-srs", "--leaves", "3"]);
    assert_eq!(r.status.code(), Some(2));
    let msg = stderr(&r);
    assert!(
        msg.contains("2 requests do not split evenly into 3 leaves"),
        "{msg}"
    );
    assert!(!out.exists(), "nothing written");
    for keys in ["mlp/aggregate-2", "mlp/aggregate-1", "mlp/aggregate-1x3"] {
        assert!(
            !tmp.path().join(keys).exists(),
            "no keys made for bad input: {keys}"
        );
    }
}
