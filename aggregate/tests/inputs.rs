//! What the aggregation circuit is fed, checked without running it (that takes minutes; the
//! whole aggregation is tested end to end with the contracts in
//! `verifier-contracts/tests/batch.rs`): the placeholder snark keys are made from has exactly a
//! real proof's shape, every unusable proof file is refused with its reason, and the accumulator
//! check refuses limbs that are not a valid pair.

use std::path::{Path, PathBuf};

use zkinfer_aggregate::keys::model_keys;
use zkinfer_aggregate::snark::{load, placeholder, protocol};
use zkinfer_aggregate::verify::accumulator_holds;
use zkinfer_aggregate::AggregateError;
use zkinfer_circuits::graph::quantize_input;
use zkinfer_circuits::halo2::Witness;
use zkinfer_circuits::Fr;
use zkinfer_prover::artifacts::{write_json, ModelDir};
use zkinfer_prover::compile::{compile_dir, Objective};
use zkinfer_prover::keys::{load_prover, SrsSource};
use zkinfer_prover::prove::{prove_one, ProofFile};
use zkinfer_prover::transcript::TranscriptKind;
use zkinfer_prover::BackendId;

fn example(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/mlp")
        .join(file)
}

fn rows(file: &str) -> Vec<Vec<f64>> {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(example(file)).unwrap()).unwrap();
    serde_json::from_value(v["input"].clone()).unwrap()
}

fn refused(keys: &zkinfer_prover::keys::VerifierKeys, path: &Path, file: &ProofFile, want: &str) {
    write_json(path, file).unwrap();
    match load(keys, path) {
        Err(AggregateError::Proof { path: p, msg }) => {
            assert!(p.ends_with("bad.json") && msg.contains(want), "{msg}")
        }
        other => panic!("expected a refusal naming the file, got {other:?}"),
    }
}

#[test]
fn inner_proofs_are_checked_and_placeholders_have_their_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let md = ModelDir::new(tmp.path().join("mlp"));
    compile_dir(
        &example("mlp.onnx"),
        &rows("calibration.json"),
        (BackendId::Halo2, 1, Objective::Gas),
        &Default::default(),
        &md.dir,
    )
    .unwrap();
    zkinfer_prover::keys::setup(&md, &SrsSource::Dev).unwrap();
    let prover = load_prover(&md).unwrap();
    let keys = model_keys(&md).unwrap();
    let row = quantize_input(&rows("input.json")[0], prover.model()).unwrap();
    let w = Witness {
        request_id: Fr::from(100),
        salt: Fr::from(7),
        rows: vec![row],
    };
    let good = prove_one(prover.as_ref(), w.clone(), TranscriptKind::Poseidon).unwrap();
    let path = tmp.path().join("good.json");
    write_json(&path, &good.file).unwrap();
    let inner = load(&keys, &path).unwrap();

    // Keys are made from a placeholder: it must read exactly like a real proof.
    let protocol = protocol(&keys.srs, &keys.vk, keys.manifest.instances);
    let p = placeholder(&protocol);
    assert_eq!(p.proof.len(), inner.proof.len());
    assert_eq!(p.instances, vec![vec![Fr::zero(); inner.instances.len()]]);

    let bad = tmp.path().join("bad.json");
    let evm = prove_one(prover.as_ref(), w, TranscriptKind::Evm).unwrap();
    refused(&keys, &bad, &evm.file, "--for-aggregation");
    let mut f = good.file.clone();
    f.vk_sha256 = "00".repeat(32);
    refused(&keys, &bad, &f, "verifying key");
    let mut f = good.file.clone();
    f.instances.0.pop();
    refused(&keys, &bad, &f, "instances");
    let mut f = good.file.clone();
    f.instances.0[4] = "0x05".into();
    refused(&keys, &bad, &f, "does not verify");
    let mut f = good.file.clone();
    f.version = 1;
    refused(&keys, &bad, &f, "version");

    // The accumulator: limbs that are no curve points, or points that fail the pairing, are
    // refused (an honest accumulator is checked in the end-to-end test).
    assert!(!accumulator_holds(&keys.srs, &[Fr::zero(); 12]));
    let mut limbs = [Fr::zero(); 12];
    // lhs = rhs = the generator (1, 2): on the curve, but e(G, g2) != e(G, s·g2)
    limbs[0] = Fr::one();
    limbs[3] = Fr::from(2);
    limbs[6] = Fr::one();
    limbs[9] = Fr::from(2);
    assert!(!accumulator_holds(&keys.srs, &limbs));
}
