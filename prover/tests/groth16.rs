//! Groth16 proofs of the example MLP: valid proofs verify here and in snarkjs (an independent
//! verifier nobody here wrote); every flipped byte and every changed instance is rejected.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use zkinfer_circuits::graph::quantize_input;
use zkinfer_circuits::groth16::circuit::Shape;
use zkinfer_circuits::halo2::Witness;
use zkinfer_circuits::import::compile;
use zkinfer_circuits::Fr;
use zkinfer_prover::groth16::{check, prove, setup, snarkjs_proof, snarkjs_public, snarkjs_vk};

mod common;
use common::{example, example_rows};

fn snarkjs() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../verifier-contracts/node_modules/.bin/snarkjs");
    assert!(
        p.exists(),
        "snarkjs is not installed: run `npm ci --prefix verifier-contracts` (scripts/test.sh does)"
    );
    p
}

fn snarkjs_verify(
    dir: &Path,
    vk: &serde_json::Value,
    public: &serde_json::Value,
    proof: &serde_json::Value,
) -> bool {
    for (name, v) in [
        ("vk.json", vk),
        ("public.json", public),
        ("proof.json", proof),
    ] {
        std::fs::write(dir.join(name), serde_json::to_vec(v).unwrap()).unwrap();
    }
    let out = Command::new(snarkjs())
        .args(["groth16", "verify", "vk.json", "public.json", "proof.json"])
        .current_dir(dir)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    out.status.success() && text.contains("OK")
}

#[test]
fn groth16_proofs_verify_here_and_in_snarkjs_and_only_untampered() {
    let onnx = example("mlp.onnx");
    let model = compile(
        &onnx,
        &example_rows("calibration.json"),
        &Default::default(),
    )
    .unwrap()
    .model;
    let shape = Arc::new(Shape::new(model, 1).unwrap());
    let (pk, constraints) = setup(shape.clone()).unwrap();
    assert!(constraints > 10_000, "{constraints}");
    let row = quantize_input(&example_rows("input.json")[0], &shape.model).unwrap();
    let w = Witness {
        rows: vec![row],
        request_id: Fr::from(42),
        salt: Fr::from(7),
    };
    let (proof, run) = prove(&pk, shape, w).unwrap();
    let inst = run.statement.instances();
    assert!(check(&pk.vk, &inst, &proof));

    for i in 0..proof.len() {
        for bit in [0, 7] {
            let mut p = proof.clone();
            p[i] ^= 1 << bit;
            assert!(
                !check(&pk.vk, &inst, &p),
                "flipped bit {bit} of byte {i} accepted"
            );
        }
    }
    assert!(!check(&pk.vk, &inst, &proof[..proof.len() - 1]));
    let mut longer = proof.clone();
    longer.push(0);
    assert!(!check(&pk.vk, &inst, &longer));
    for i in 0..inst.len() {
        let mut bad = inst.clone();
        bad[i] += Fr::from(1);
        assert!(!check(&pk.vk, &bad, &proof), "instance {i} + 1 accepted");
    }

    // the independent verifier
    let tmp = tempfile::tempdir().unwrap();
    let vk = snarkjs_vk(&pk.vk);
    let proof_json = snarkjs_proof(&proof).unwrap();
    assert!(
        snarkjs_verify(tmp.path(), &vk, &snarkjs_public(&inst), &proof_json),
        "snarkjs rejected a valid proof"
    );
    let mut bad = inst.clone();
    bad[4] += Fr::from(1);
    assert!(
        !snarkjs_verify(tmp.path(), &vk, &snarkjs_public(&bad), &proof_json),
        "snarkjs accepted a wrong n_out"
    );
    let mut tampered = proof_json.clone();
    tampered["pi_c"] = proof_json["pi_a"].clone();
    assert!(
        !snarkjs_verify(tmp.path(), &vk, &snarkjs_public(&inst), &tampered),
        "snarkjs accepted a tampered proof"
    );
}
