//! A snarkjs powers-of-tau ceremony file as the KZG SRS: made by the real snarkjs, loaded,
//! used to prove and verify; an inconsistent or corrupt file, or one too small, is refused.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use zkinfer_circuits::halo2::{ModelCircuit, Plan, Witness};
use zkinfer_circuits::Fr;
use zkinfer_prover::artifacts::Halo2Plan;
use zkinfer_prover::{keys::keygen, prove::create, srs, verify::check};

mod common;
use common::small_model;

fn snarkjs(dir: &Path, args: &[&str]) {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../verifier-contracts/node_modules/.bin/snarkjs");
    assert!(
        bin.exists(),
        "snarkjs is not installed: run `npm ci --prefix verifier-contracts` (scripts/test.sh does)"
    );
    let out = Command::new(bin)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "snarkjs {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn snarkjs_ceremony_file_is_a_usable_and_checked_srs() {
    let tmp = tempfile::tempdir().unwrap();
    snarkjs(
        tmp.path(),
        &["powersoftau", "new", "bn128", "13", "p0.ptau"],
    );
    snarkjs(
        tmp.path(),
        &[
            "powersoftau",
            "contribute",
            "p0.ptau",
            "p1.ptau",
            "--name=test",
            "-e=zkinfer test entropy",
        ],
    );
    let path = tmp.path().join("p1.ptau");

    // a circuit smaller than the ceremony takes the first 2^k powers
    let plan = Arc::new(Plan::new(small_model(4, 2), 1).unwrap());
    assert!(plan.k < 13, "k = {}", plan.k);
    let params = srs::load(&path, plan.k).unwrap();
    let pk = keygen(&params, &Halo2Plan::Model(plan.clone())).unwrap();
    let w = Witness {
        rows: vec![vec![1, -2, 3, 127]],
        request_id: Fr::from(5),
        salt: Fr::from(6),
    };
    let (circuit, run) = ModelCircuit::prepare(plan, w).unwrap();
    let inst = run.statement.instances();
    let proof = create(&params, &pk, circuit, &inst, Default::default()).unwrap();
    assert!(check(&params, pk.get_vk(), &inst, &proof));

    // the ceremony's whole size loads too, and nothing larger
    assert_eq!(
        halo2_proofs::poly::commitment::Params::k(&srs::load(&path, 13).unwrap()),
        13
    );
    let e = srs::load(&path, 14).expect_err("2^14 refused").to_string();
    assert!(e.contains("2^13") && e.contains("p1.ptau"), "{e}");

    // tauG1 starts after: magic, version, section count, then section 1 (type, size, body), then
    // section 2's type and size
    let bytes = std::fs::read(&path).unwrap();
    let header_size = u64::from_le_bytes(bytes[16..24].try_into().unwrap()) as usize;
    let tau_g1 = 24 + header_size + 12;
    let write = |name: &str, b: &[u8]| {
        let p = tmp.path().join(name);
        std::fs::write(&p, b).unwrap();
        p
    };
    // two powers swapped: every point is valid, the powers are not consistent
    let mut swapped = bytes.clone();
    let (a, b) = (tau_g1 + 2 * 64, tau_g1 + 3 * 64);
    let pa = bytes[a..a + 64].to_vec();
    swapped.copy_within(b..b + 64, a);
    swapped[b..b + 64].copy_from_slice(&pa);
    let e = srs::load(&write("swapped.ptau", &swapped), 13)
        .expect_err("inconsistent file refused")
        .to_string();
    assert!(e.contains("inconsistent"), "{e}");
    // a corrupted coordinate
    let mut flipped = bytes.clone();
    flipped[tau_g1 + 5 * 64 + 3] ^= 0x40;
    assert!(srs::load(&write("flipped.ptau", &flipped), 13).is_err());
    // a truncated file
    assert!(srs::load(&write("short.ptau", &bytes[..bytes.len() / 2]), 13).is_err());
}
