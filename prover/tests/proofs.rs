//! Real proofs of the example MLP: a proof verifies; every flipped byte, every changed instance
//! (also by adding the field modulus) is rejected; setup is deterministic and cached (keys are
//! reused only for the same model, settings, SRS and circuit code).

use std::path::Path;
use std::sync::Arc;

use rayon::prelude::*;
use zkinfer_circuits::field::{fr_parse, fr_to_hex, MODULUS_HEX};
use zkinfer_circuits::graph::quantize_input;
use zkinfer_circuits::halo2::{Plan, Witness};
use zkinfer_circuits::import::compile;
use zkinfer_circuits::Fr;
use zkinfer_prover::artifacts::*;
use zkinfer_prover::keys::{load_prover, load_verifier, setup, SrsSource};
use zkinfer_prover::prove::prove_one;
use zkinfer_prover::transcript::TranscriptKind;
use zkinfer_prover::verify::{check, verify_file, Rejection};

mod common;
use common::{example, example_rows, small_model};

/// Compiles the example MLP into `dir` the way `zkinfer compile` does.
fn compile_example(dir: &Path) -> ModelDir {
    let onnx = example("mlp.onnx");
    let imported = compile(
        &onnx,
        &example_rows("calibration.json"),
        &Default::default(),
    )
    .unwrap();
    let plan = Plan::new(imported.model.clone(), 1).unwrap();
    let md = ModelDir::new(dir);
    write_json(&md.path(MODEL_FILE), &imported.model).unwrap();
    let settings = Settings {
        version: ARTIFACT_VERSION,
        backend: zkinfer_prover::BackendId::Halo2,
        batch: 1,
        k: Some(plan.k),
        main_rows: Some(plan.main_rows),
        range_rows: Some(plan.range_rows),
        shape: Some(plan.shape),
        constraints: None,
        source_sha256: sha256_hex(&std::fs::read(&onnx).unwrap()),
        slots: None,
        graph_decoder: None,
    };
    write_json(&md.path(SETTINGS_FILE), &settings).unwrap();
    md
}

fn bytes(md: &ModelDir, f: &str) -> Vec<u8> {
    std::fs::read(md.path(f)).unwrap()
}

#[test]
fn proofs_verify_only_untampered_and_setup_is_reproducible() {
    let tmp = tempfile::tempdir().unwrap();
    let md = compile_example(&tmp.path().join("a"));
    let first = setup(&md, &SrsSource::Dev).unwrap();
    assert!(!first.cached && first.manifest.insecure_dev_srs);

    // determinism: another directory, same model and SRS → byte-identical keys and manifest
    let md2 = compile_example(&tmp.path().join("b"));
    setup(&md2, &SrsSource::Dev).unwrap();
    for f in [
        MODEL_FILE,
        SETTINGS_FILE,
        SRS_FILE,
        VK_FILE,
        PK_FILE,
        MANIFEST_FILE,
    ] {
        assert!(
            bytes(&md, f) == bytes(&md2, f),
            "{f} differs between identical setups"
        );
    }
    // cache: a second setup reuses the keys; a corrupt key is regenerated
    assert!(setup(&md, &SrsSource::Dev).unwrap().cached);
    // keys that other circuit code made (a manifest of another build) are made again
    let mut m: serde_json::Value = serde_json::from_slice(&bytes(&md, MANIFEST_FILE)).unwrap();
    assert_eq!(m["circuit_code"], zkinfer_circuits::CIRCUIT_CODE);
    m["circuit_code"] = "0".repeat(64).into();
    std::fs::write(
        md.path(MANIFEST_FILE),
        serde_json::to_vec_pretty(&m).unwrap(),
    )
    .unwrap();
    let err = load_prover(&md)
        .err()
        .expect("stale keys refused")
        .to_string();
    assert!(
        err.contains("another version") && err.contains("setup"),
        "{err}"
    );
    assert!(!setup(&md, &SrsSource::Dev).unwrap().cached);
    assert!(bytes(&md, MANIFEST_FILE) == bytes(&md2, MANIFEST_FILE));

    let keys = load_prover(&md).unwrap();
    let row = quantize_input(&example_rows("input.json")[0], keys.model()).unwrap();
    let w = Witness {
        rows: vec![row],
        request_id: Fr::from(42),
        salt: Fr::from(7),
    };
    let proved = prove_one(keys.as_ref(), w, Default::default()).unwrap();
    let vkeys = load_verifier(&md).unwrap();
    verify_file(vkeys.as_ref(), &proved.file).unwrap();
    assert_eq!(proved.opening.n_in, 1);

    let instances = proved.file.instances.parse().unwrap();
    let proof = hex::decode(proved.file.proof.trim_start_matches("0x")).unwrap();
    rejects_tampering(vkeys.as_ref(), &instances, &proof, TranscriptKind::Evm);

    // The same statement proven for aggregation (Poseidon transcript): verifies as such, under
    // the same strict rules, and never as the other transcript.
    let w = Witness {
        rows: proved.opening.input.clone(),
        request_id: Fr::from(42),
        salt: Fr::from(7),
    };
    let poseidon = prove_one(keys.as_ref(), w, TranscriptKind::Poseidon).unwrap();
    assert_eq!(poseidon.file.transcript, TranscriptKind::Poseidon.label());
    assert_eq!(poseidon.file.instances, proved.file.instances);
    verify_file(vkeys.as_ref(), &poseidon.file).unwrap();
    let p_bytes = hex::decode(poseidon.file.proof.trim_start_matches("0x")).unwrap();
    rejects_tampering(
        vkeys.as_ref(),
        &instances,
        &p_bytes,
        TranscriptKind::Poseidon,
    );
    assert!(!vkeys.check(&instances, &p_bytes, TranscriptKind::Evm));
    assert!(!vkeys.check(&instances, &proof, TranscriptKind::Poseidon));
    let mut relabeled = poseidon.file.clone();
    relabeled.transcript = proved.file.transcript.clone();
    assert!(matches!(
        verify_file(vkeys.as_ref(), &relabeled),
        Err(Rejection::Invalid)
    ));
    relabeled.transcript = "blake2b".into();
    assert!(matches!(
        verify_file(vkeys.as_ref(), &relabeled),
        Err(Rejection::Format(_))
    ));

    // x + r in the proof file is refused, never reduced
    let r = num_add(MODULUS_HEX, &proved.file.instances.0[3]);
    let mut file = proved.file.clone();
    file.instances.0[3] = r;
    assert!(matches!(
        verify_file(vkeys.as_ref(), &file),
        Err(Rejection::Malformed(_))
    ));
    // a proof file for another key is refused
    let mut file = proved.file.clone();
    file.vk_sha256 = "00".repeat(32);
    assert!(matches!(
        verify_file(vkeys.as_ref(), &file),
        Err(Rejection::WrongKey(_))
    ));
    // the same proof under another request id is rejected
    let mut file = proved.file.clone();
    file.instances.0[0] = fr_to_hex(&Fr::from(43));
    assert!(matches!(
        verify_file(vkeys.as_ref(), &file),
        Err(Rejection::Invalid)
    ));

    // a corrupt proving key is refused by hash before it is parsed
    let mut pk = bytes(&md, PK_FILE);
    pk[1000] ^= 0xff;
    std::fs::write(md.path(PK_FILE), &pk).unwrap();
    let err = load_prover(&md)
        .err()
        .expect("corrupt pk refused")
        .to_string();
    assert!(err.contains("pk.bin") && err.contains("SHA-256"), "{err}");
    // and setup regenerates it
    assert!(!setup(&md, &SrsSource::Dev).unwrap().cached);
    assert!(bytes(&md, PK_FILE) == bytes(&md2, PK_FILE));
}

/// `a + b` for 0x-hex numbers, as 0x-hex (no reduction).
fn num_add(a: &str, b: &str) -> String {
    let parse = |s: &str| -> Vec<u8> {
        let mut v = hex::decode(format!("{:0>64}", s.trim_start_matches("0x"))).unwrap();
        v.reverse();
        v
    };
    let (x, y) = (parse(a), parse(b));
    let mut out = vec![0u8; 33];
    let mut carry = 0u16;
    for i in 0..32 {
        let s = x[i] as u16 + y[i] as u16 + carry;
        out[i] = s as u8;
        carry = s >> 8;
    }
    out[32] = carry as u8;
    out.reverse();
    let s = format!("0x{}", hex::encode(out));
    assert!(fr_parse(&s).is_err());
    s
}

#[test]
fn batch_proofs_meter_real_rows() {
    let plan = Arc::new(Plan::new(small_model(6, 3), 4).unwrap());
    let srs = zkinfer_prover::srs::dev(plan.k);
    let pk = zkinfer_prover::keys::keygen(
        &srs,
        &zkinfer_prover::artifacts::Halo2Plan::Model(plan.clone()),
    )
    .unwrap();
    let rows = vec![vec![3, -4, 5, 100, -128, 127]; 3];
    let w = Witness {
        rows,
        request_id: Fr::from(9),
        salt: Fr::from(1),
    };
    let (circuit, run) = zkinfer_circuits::halo2::ModelCircuit::prepare(plan.clone(), w).unwrap();
    assert_eq!((run.statement.n_in, run.statement.n_out), (3, 3));
    let inst = run.statement.instances();
    let proof =
        zkinfer_prover::prove::create(&srs, &pk, circuit, &inst, TranscriptKind::Evm).unwrap();
    assert!(check(&srs, pk.get_vk(), &inst, &proof));
    // claiming four metered rows with the same proof fails
    let mut more = inst.clone();
    more[3] = Fr::from(4);
    more[4] = Fr::from(4);
    assert!(!check(&srs, pk.get_vk(), &more, &proof));
}

/// Every flipped byte, flag bit, truncation, extension and changed instance is rejected.
fn rejects_tampering(
    vkeys: &dyn zkinfer_prover::keys::VerifyingBackend,
    instances: &[Fr],
    proof: &[u8],
    t: TranscriptKind,
) {
    assert!(vkeys.check(instances, proof, t));
    let accepted: Vec<usize> = (0..proof.len())
        .into_par_iter()
        .filter(|&i| {
            let mut p = proof.to_vec();
            p[i] ^= 0x01 << (i % 8);
            vkeys.check(instances, &p, t)
        })
        .collect();
    assert!(
        accepted.is_empty(),
        "{t:?}: flipped bytes accepted at {accepted:?}"
    );
    // every flag bit of every 32-byte word, too (halo2curves ignores the infinity flag)
    for i in (31..proof.len()).step_by(32) {
        for bit in 6..8 {
            let mut p = proof.to_vec();
            p[i] ^= 1 << bit;
            assert!(
                !vkeys.check(instances, &p, t),
                "{t:?}: flag bit {bit} of byte {i} accepted"
            );
        }
    }
    assert!(!vkeys.check(instances, &proof[..proof.len() - 1], t));
    let mut longer = proof.to_vec();
    longer.push(0);
    assert!(!vkeys.check(instances, &longer, t));
    for i in 0..instances.len() {
        let mut inst = instances.to_vec();
        inst[i] += Fr::from(1);
        assert!(
            !vkeys.check(&inst, proof, t),
            "{t:?}: instance {i} + 1 accepted"
        );
    }
}
