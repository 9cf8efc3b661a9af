//! Fixtures shared by the on-chain tests: the example MLP compiled, set up and proved for a few
//! request ids per backend (built once per test binary), compiled contracts, and a real anvil.
// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use alloy::primitives::U256;
use zkinfer_circuits::field::fr_parse;
use zkinfer_circuits::model::quantize_input;
use zkinfer_circuits::witness::{run, Witness};
use zkinfer_circuits::Fr;
use zkinfer_contracts::artifact::{build, VerifierArtifact};
use zkinfer_contracts::claim::{from_proof_file, to_u256, Claim};
use zkinfer_contracts::solc::{CompiledContract, Solc};
use zkinfer_prover::artifacts::ModelDir;
use zkinfer_prover::keys::{load_prover, setup, SrsSource};
use zkinfer_prover::prove::prove_one;

pub fn example(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/mlp")
        .join(file)
}

fn rows(file: &str) -> Vec<Vec<f64>> {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(example(file)).unwrap()).unwrap();
    serde_json::from_value(v["input"].clone()).unwrap()
}

pub const SALT: u64 = 0x5a17;
/// Requests the scenarios open, in order; those in `PROVED` get a real proof.
pub const REQUESTS: [u64; 5] = [1, 2, 3, 4, 5];
pub const PROVED: [u64; 4] = [1, 3, 4, 5];

pub struct Fixture {
    pub _tmp: tempfile::TempDir,
    pub dir: ModelDir,
    pub backend: &'static str,
    pub verifier: VerifierArtifact,
    /// Input commitment of the example input for each request id.
    pub input_commitments: BTreeMap<u64, U256>,
    pub claims: BTreeMap<u64, Claim>,
}

pub fn solc() -> &'static Solc {
    static SOLC: OnceLock<Solc> = OnceLock::new();
    SOLC.get_or_init(|| Solc::find().expect("run `npm ci --prefix verifier-contracts`"))
}

fn make_fixture(backend: &'static str) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("model");
    zkinfer_prover::compile::compile_dir(
        &example("mlp.onnx"),
        &rows("calibration.json"),
        backend,
        1,
        &out,
    )
    .unwrap();
    let dir = ModelDir::new(&out);
    setup(&dir, &SrsSource::Dev).unwrap();
    let verifier = build(&dir, solc()).unwrap();
    let keys = load_prover(&dir).unwrap();
    let input = quantize_input(&rows("input.json")[0], &keys.model().input).unwrap();
    let witness = |id: u64| Witness {
        rows: vec![input.clone()],
        request_id: Fr::from(id),
        salt: Fr::from(SALT),
    };
    let input_commitments = REQUESTS
        .iter()
        .map(|&id| {
            let r = run(keys.model(), keys.batch(), &witness(id)).unwrap();
            (id, to_u256(&r.statement.input_commitment))
        })
        .collect();
    let claims = PROVED
        .iter()
        .map(|&id| {
            let proved = prove_one(keys.as_ref(), witness(id)).unwrap();
            (id, from_proof_file(&proved.file).unwrap())
        })
        .collect();
    Fixture {
        _tmp: tmp,
        dir,
        backend,
        verifier,
        input_commitments,
        claims,
    }
}

pub fn halo2() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| make_fixture(zkinfer_prover::BACKEND))
}

pub fn groth16() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| make_fixture(zkinfer_prover::groth16::BACKEND))
}

pub fn settlement() -> &'static CompiledContract {
    static C: OnceLock<CompiledContract> = OnceLock::new();
    C.get_or_init(|| zkinfer_contracts::settlement::compile_settlement(solc()).unwrap())
}

pub fn tokens() -> &'static (CompiledContract, CompiledContract) {
    static C: OnceLock<(CompiledContract, CompiledContract)> = OnceLock::new();
    C.get_or_init(|| zkinfer_contracts::settlement::compile_test_tokens(solc()).unwrap())
}

/// The BN254 scalar modulus as a U256.
pub fn r() -> U256 {
    zkinfer_circuits::field::MODULUS_HEX.parse().unwrap()
}

#[allow(dead_code)]
pub fn fr(s: &str) -> Fr {
    fr_parse(s).unwrap()
}
