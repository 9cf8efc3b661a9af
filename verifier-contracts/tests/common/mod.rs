//! Fixtures shared by the on-chain tests: the example MLP compiled and set up per backend (built
//! once per test binary) and proved for the request ids a test asks for, compiled contracts.
// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

pub mod batch;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use alloy::primitives::U256;
use zkinfer_circuits::field::fr_parse;
use zkinfer_circuits::graph::quantize_input;
use zkinfer_circuits::witness::{run, Witness};
use zkinfer_circuits::Fr;
use zkinfer_contracts::artifact::{build, VerifierArtifact};
use zkinfer_contracts::claim::{from_proof_file, to_u256, Claim};
use zkinfer_contracts::solc::{CompiledContract, Solc};
use zkinfer_prover::artifacts::ModelDir;
use zkinfer_prover::keys::{load_prover, setup, ProvingBackend, SrsSource};
use zkinfer_prover::prove::prove_one;
use zkinfer_prover::transcript::TranscriptKind;

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

/// The on-chain tests' model terms: 0.001 ETH per input unit, 0.002 per output unit, a 15%
/// royalty; and the client's maximum units per request.
pub const PRICE_IN: u64 = 1_000_000_000_000_000;
pub const PRICE_OUT: u64 = 2_000_000_000_000_000;
pub const ROYALTY_BPS: u16 = 1_500;
pub const MAX_IN: u64 = 4;
pub const MAX_OUT: u64 = 3;

/// The model registered with `verifier` at those prices, paid in ETH, owned and served by the
/// dev roles.
pub fn eth_terms(
    verifier: alloy::primitives::Address,
) -> zkinfer_contracts::settlement::ModelTerms {
    let who = roles();
    zkinfer_contracts::settlement::ModelTerms {
        verifier,
        owner: who.owner,
        provider: who.provider,
        royalty_bps: ROYALTY_BPS,
        price_in: U256::from(PRICE_IN),
        price_out: U256::from(PRICE_OUT),
        token: alloy::primitives::Address::ZERO,
    }
}

pub struct Fixture {
    pub _tmp: tempfile::TempDir,
    pub dir: ModelDir,
    pub backend: zkinfer_prover::BackendId,
    pub verifier: VerifierArtifact,
    keys: Box<dyn ProvingBackend>,
    input: Vec<i64>,
    /// Proofs made so far, by request id: ids depend on the chain and the client's nonce.
    claims: Mutex<BTreeMap<U256, Claim>>,
}

impl Fixture {
    fn witness(&self, id: U256) -> Witness {
        Witness {
            rows: vec![self.input.clone()],
            request_id: fr_parse(&format!("{id:#x}")).expect("request ids are field elements"),
            salt: Fr::from(SALT),
        }
    }

    /// The input commitment of the example input for request `id`.
    pub fn input_commitment(&self, id: U256) -> U256 {
        let r = run(self.keys.model(), self.keys.batch(), &self.witness(id)).unwrap();
        to_u256(&r.statement.input_commitment)
    }

    /// A real proof of the example input for request `id` (made once per id).
    pub fn claim(&self, id: U256) -> Claim {
        let mut claims = self.claims.lock().unwrap();
        claims
            .entry(id)
            .or_insert_with(|| {
                let proved =
                    prove_one(self.keys.as_ref(), self.witness(id), TranscriptKind::Evm).unwrap();
                from_proof_file(&proved.file).unwrap()
            })
            .clone()
    }
}

pub fn solc() -> &'static Solc {
    static SOLC: OnceLock<Solc> = OnceLock::new();
    SOLC.get_or_init(|| Solc::find().expect("run `npm ci --prefix verifier-contracts`"))
}

fn make_fixture(backend: zkinfer_prover::BackendId) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("model");
    zkinfer_prover::compile::compile_dir(
        &example("mlp.onnx"),
        &rows("calibration.json"),
        (backend, 1, zkinfer_prover::compile::Objective::Gas),
        &Default::default(),
        &out,
    )
    .unwrap();
    let dir = ModelDir::new(&out);
    setup(&dir, &SrsSource::Dev).unwrap();
    let verifier = build(&dir, solc()).unwrap();
    let keys = load_prover(&dir).unwrap();
    let input = quantize_input(&rows("input.json")[0], keys.model()).unwrap();
    Fixture {
        _tmp: tmp,
        dir,
        backend,
        verifier,
        keys,
        input,
        claims: Mutex::new(BTreeMap::new()),
    }
}

pub fn halo2() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| make_fixture(zkinfer_prover::BackendId::Halo2))
}

pub fn groth16() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| make_fixture(zkinfer_prover::BackendId::Groth16))
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

/// The dev accounts the on-chain tests play.
pub struct Roles {
    pub deployer: alloy::primitives::Address,
    pub owner: alloy::primitives::Address,
    pub provider: alloy::primitives::Address,
    pub client: alloy::primitives::Address,
}

pub fn roles() -> Roles {
    use zkinfer_contracts::keys::dev;
    Roles {
        deployer: dev(0).address(),
        owner: dev(1).address(),
        provider: dev(2).address(),
        client: dev(3).address(),
    }
}

/// The reason of a revert (panics on any other error).
pub fn reason(e: zkinfer_contracts::ContractsError) -> String {
    match e {
        zkinfer_contracts::ContractsError::Reverted(r) => r,
        other => panic!("expected a revert, got {other}"),
    }
}
