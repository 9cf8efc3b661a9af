//! The batch-settlement fixture and scenarios, shared by the single aggregation's test and the
//! tree's: the example MLP and its aggregation keys (cached under the target directory, since
//! they take minutes), the deployment every scenario starts from, and the attacks, each of which
//! must revert the whole batch and move nothing.

use std::path::{Path, PathBuf};

use alloy::primitives::{Address, U256};
use zkinfer_aggregate::keys::{load, setup as agg_setup, AggregateDir};
use zkinfer_aggregate::{aggregate_tree, verify_file, AggregateProofFile};
use zkinfer_circuits::field::fr_parse;
use zkinfer_circuits::graph::quantize_input;
use zkinfer_circuits::witness::{run, Witness};
use zkinfer_circuits::Fr;
use zkinfer_contracts::artifact::{build, build_aggregation, deploy, VerifierArtifact};
use zkinfer_contracts::chain::Chain;
use zkinfer_contracts::claim::{from_aggregate_file, from_proof_file, to_u256, BatchClaim, Claim};
use zkinfer_contracts::settlement::{verify_call, RequestTerms, Settlement};
use zkinfer_prover::artifacts::{write_json, ModelDir};
use zkinfer_prover::keys::{load_prover, ProvingBackend, SrsSource};
use zkinfer_prover::prove::prove_one;
use zkinfer_prover::transcript::TranscriptKind;

use super::{reason, roles, MAX_IN, MAX_OUT, PRICE_IN, PRICE_OUT, ROYALTY_BPS, SALT};

/// The example MLP and its aggregation keys for two requests, cached under the target directory.
pub struct Fixture {
    pub dir: ModelDir,
    pub keys: Box<dyn ProvingBackend>,
    pub input: Vec<i64>,
    pub verifier: VerifierArtifact,
    pub batch_verifier: VerifierArtifact,
    /// The aggregation keys the batches are made with.
    pub agg: AggregateDir,
}

pub fn cached_model() -> ModelDir {
    let out: PathBuf = Path::new(env!("CARGO_TARGET_TMPDIR")).join("zkinfer-batch-mlp");
    let rows = |f: &str| -> Vec<Vec<f64>> {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(super::example(f)).unwrap()).unwrap();
        serde_json::from_value(v["input"].clone()).unwrap()
    };
    // Compiling is deterministic, so the keys below stay valid for what it rewrites.
    zkinfer_prover::compile::compile_dir(
        &super::example("mlp.onnx"),
        &rows("calibration.json"),
        (
            zkinfer_prover::BackendId::Halo2,
            1,
            zkinfer_prover::compile::Objective::Gas,
        ),
        &Default::default(),
        &out,
    )
    .unwrap();
    let dir = ModelDir::new(&out);
    zkinfer_prover::keys::setup(&dir, &SrsSource::Dev).unwrap();
    dir
}

/// The fixture for batches of two, aggregated at once (`leaves` 1) or as a tree of two leaves.
pub fn fixture(leaves: usize) -> Fixture {
    let dir = cached_model();
    let agg = AggregateDir::tree(dir.clone(), 2, leaves);
    let report = agg_setup(&agg, &SrsSource::Dev, None).unwrap();
    eprintln!(
        "aggregation keys: k = {}, {} advice columns, {} ({:.0} s)",
        report.manifest.shape.k,
        report.manifest.shape.advice,
        if report.cached { "cached" } else { "generated" },
        report.seconds
    );
    let keys = load_prover(&dir).unwrap();
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(super::example("input.json")).unwrap()).unwrap();
    let row: Vec<f64> = serde_json::from_value(v["input"][0].clone()).unwrap();
    let input = quantize_input(&row, keys.model()).unwrap();
    Fixture {
        verifier: build(&dir, super::solc()).unwrap(),
        batch_verifier: build_aggregation(&agg, super::solc()).unwrap(),
        agg,
        dir,
        keys,
        input,
    }
}

impl Fixture {
    pub fn witness(&self, id: U256) -> Witness {
        Witness {
            rows: vec![self.input.clone()],
            request_id: fr_parse(&format!("{id:#x}")).unwrap(),
            salt: Fr::from(SALT),
        }
    }

    pub fn input_commitment(&self, id: U256) -> U256 {
        let r = run(self.keys.model(), self.keys.batch(), &self.witness(id)).unwrap();
        to_u256(&r.statement.input_commitment)
    }

    /// A single-settlement claim (EVM transcript).
    pub fn claim(&self, id: U256) -> Claim {
        let p = prove_one(self.keys.as_ref(), self.witness(id), TranscriptKind::Evm).unwrap();
        from_proof_file(&p.file).unwrap()
    }

    /// Proves `ids` for aggregation and aggregates them; see [`Fixture::checked`].
    pub fn aggregate(&self, ids: &[U256], work: &Path) -> BatchClaim {
        let agg = aggregate_tree(&self.agg, &self.proofs(ids, work)).unwrap();
        eprintln!("aggregated {} proofs in {:.0} s", ids.len(), agg.seconds);
        self.checked(&agg.file)
    }

    /// Proves `ids` for aggregation (Poseidon transcript); returns the proof files.
    pub fn proofs(&self, ids: &[U256], work: &Path) -> Vec<PathBuf> {
        ids.iter()
            .enumerate()
            .map(|(i, id)| {
                let p = prove_one(
                    self.keys.as_ref(),
                    self.witness(*id),
                    TranscriptKind::Poseidon,
                )
                .unwrap();
                let path = work.join(format!("proof{i}.json"));
                write_json(&path, &p.file).unwrap();
                path
            })
            .collect()
    }

    /// Checks an aggregation proof off-chain, and that changed instances, limbs, order or bytes
    /// are rejected there; returns its claim for `settleBatch`.
    pub fn checked(&self, file: &AggregateProofFile) -> BatchClaim {
        let keys = load(&self.agg, false).unwrap();
        verify_file(&keys, file).unwrap();
        let mut swapped = file.clone();
        swapped.requests.swap(0, 1);
        assert!(verify_file(&keys, &swapped).is_err(), "reordered requests");
        let instances = file.instances().unwrap();
        let proof = file.proof_bytes().unwrap();
        for i in 0..instances.len() {
            let mut bad = instances.clone();
            bad[i] += Fr::one();
            assert!(
                !zkinfer_aggregate::verify::check(&keys.srs, &keys, &bad, &proof),
                "instance {i} changed"
            );
        }
        for i in (0..proof.len()).step_by(61).chain([proof.len() - 1]) {
            let mut p = proof.clone();
            p[i] ^= 0x10;
            assert!(
                !zkinfer_aggregate::verify::check(&keys.srs, &keys, &instances, &p),
                "byte {i} flipped"
            );
        }
        from_aggregate_file(file).unwrap()
    }
}

/// What one chain holds once deployed and opened; the same on revm and anvil (same chain id,
/// deployer and order), so one aggregation serves both.
pub struct Env {
    pub settlement: Address,
    pub batch_verifier: Address,
    pub model: U256,
    /// Opened after the batch verifier: the two aggregated requests and one settled singly.
    pub ids: [U256; 3],
    /// Opened before the batch verifier was registered.
    pub early: U256,
    /// Of a second model.
    pub foreign: U256,
    /// Refunded after its deadline.
    pub refunded: U256,
    pub escrow: U256,
}

pub fn open(s: &mut Settlement<'_>, fx: &Fixture, model: U256, nonce: u64, deadline: u64) -> U256 {
    let who = roles();
    let id = s.request_id_for(who.client, nonce).unwrap();
    let escrow = s.max_cost(model, MAX_IN, MAX_OUT).unwrap();
    let t = RequestTerms {
        model_id: model,
        nonce,
        input_commitment: fx.input_commitment(id),
        max_in: MAX_IN,
        max_out: MAX_OUT,
        deadline: s.chain.timestamp().unwrap() + deadline,
    };
    s.open_request(who.client, &t, escrow).unwrap();
    id
}

pub fn deploy_and_open(chain: &mut dyn Chain, fx: &Fixture) -> Env {
    let who = roles();
    let (adapter, _) = deploy(
        chain,
        who.deployer,
        &fx.verifier.part_codes(),
        &fx.verifier.adapter.bytecode,
    )
    .unwrap();
    let (batch_verifier, _) = deploy(
        chain,
        who.deployer,
        &fx.batch_verifier.part_codes(),
        &fx.batch_verifier.adapter.bytecode,
    )
    .unwrap();
    let mut s = Settlement::deploy(chain, who.deployer, super::settlement()).unwrap();
    let terms = super::eth_terms(adapter);
    let model = s.register_model(who.owner, &terms).unwrap().value;
    let other = s.register_model(who.owner, &terms).unwrap().value;
    let early = open(&mut s, fx, model, 10, 3_600);
    // Only the owner registers, only a verifier of this model's layout, once per N.
    let bv = |s: &mut Settlement<'_>, from, model, v| s.register_batch_verifier(from, model, v);
    assert_eq!(
        reason(bv(&mut s, who.provider, model, batch_verifier).unwrap_err()),
        "NotModelOwner"
    );
    assert_eq!(
        reason(bv(&mut s, who.owner, model, adapter).unwrap_err()),
        "InvalidModel"
    );
    assert_eq!(
        reason(bv(&mut s, who.owner, model, who.client).unwrap_err()),
        "VerifierHasNoCode"
    );
    let registered = bv(&mut s, who.owner, model, batch_verifier).unwrap().value;
    assert_eq!((registered.requests, registered.index), (U256::from(2), 1));
    assert_eq!(
        reason(bv(&mut s, who.owner, model, batch_verifier).unwrap_err()),
        "BatchVerifierExists"
    );
    bv(&mut s, who.owner, other, batch_verifier).unwrap();
    let ids = [1, 2, 3].map(|n| open(&mut s, fx, model, n, 3_600));
    let foreign = open(&mut s, fx, other, 20, 3_600);
    let refunded = open(&mut s, fx, model, 30, 10);
    s.chain.advance_time(120).unwrap();
    s.refund(who.client, refunded).unwrap();
    Env {
        settlement: s.address,
        batch_verifier,
        model,
        ids,
        early,
        foreign,
        refunded,
        escrow: s.max_cost(model, MAX_IN, MAX_OUT).unwrap(),
    }
}

/// Every batch attack reverts with `want` and moves no credit or balance.
pub fn assert_reverts(
    s: &mut Settlement<'_>,
    env: &Env,
    batch: &BatchClaim,
    want: &str,
    what: &str,
) {
    let who = roles();
    let accounts = [who.owner, who.provider, who.client];
    let before: Vec<U256> = accounts
        .iter()
        .map(|a| s.credits(Address::ZERO, *a).unwrap())
        .collect();
    let held = s.chain.balance(s.address).unwrap();
    let got = reason(
        s.settle_batch(who.provider, env.model, batch)
            .expect_err(what),
    );
    assert_eq!(got, want, "{what}");
    let after: Vec<U256> = accounts
        .iter()
        .map(|a| s.credits(Address::ZERO, *a).unwrap())
        .collect();
    assert_eq!(before, after, "{what}: credits moved");
    assert_eq!(
        held,
        s.chain.balance(s.address).unwrap(),
        "{what}: balance moved"
    );
}

/// The attacks, then the honest batch; returns (batch settle gas, single settle gas).
pub fn scenarios(
    chain: &mut dyn Chain,
    env: &Env,
    batch: &BatchClaim,
    single: &Claim,
) -> (u64, u64) {
    let who = roles();
    let mut s = Settlement {
        chain,
        address: env.settlement,
    };
    let (ok, _) = verify_call(
        s.chain,
        env.batch_verifier,
        batch.proof.clone(),
        batch.instances(),
    )
    .unwrap();
    assert!(ok, "the batch verifier accepts the aggregation proof");
    let with = |f: &dyn Fn(&mut BatchClaim)| {
        let mut b = batch.clone();
        f(&mut b);
        b
    };
    let one = U256::from(1);
    let r = super::r();
    let attacks: Vec<(&str, &str, BatchClaim)> = vec![
        (
            "InvalidProof",
            "requests reordered",
            with(&|b| b.claims.swap(0, 1)),
        ),
        (
            "InvalidProof",
            "accumulator limb changed",
            with(&|b| b.accumulator[0] += one),
        ),
        (
            "InvalidProof",
            "accumulator limb + r",
            with(&|b| b.accumulator[3] += r),
        ),
        (
            "InvalidProof",
            "ciphertext word changed",
            with(&|b| b.claims[1].ciphertext[0] += one),
        ),
        (
            "NotInField",
            "ciphertext word + r",
            with(&|b| b.claims[1].ciphertext[0] += r),
        ),
        (
            "NotInField",
            "output commitment + r",
            with(&|b| b.claims[0].output_commitment += r),
        ),
        (
            "InvalidProof",
            "one fewer output token",
            with(&|b| b.claims[0].n_out -= 1),
        ),
        (
            "UsageExceedsRequest",
            "counts above the maxima",
            with(&|b| b.claims[1].n_in = MAX_IN + 1),
        ),
        (
            "NotOpen",
            "the same request twice",
            with(&|b| b.claims[1] = b.claims[0].clone()),
        ),
        (
            "NotOpen",
            "a refunded request",
            with(&|b| b.claims[1].request_id = env.refunded),
        ),
        (
            "WrongModel",
            "a request of another model",
            with(&|b| b.claims[1].request_id = env.foreign),
        ),
        (
            "BatchVerifierTooNew",
            "a request opened before the batch verifier",
            with(&|b| b.claims[0].request_id = env.early),
        ),
        (
            "WrongCiphertextLength",
            "a missing ciphertext word",
            with(&|b| b.claims[0].ciphertext.clear()),
        ),
        (
            "NoBatchVerifier",
            "three claims",
            with(&|b| b.claims.push(b.claims[0].clone())),
        ),
    ];
    for (want, what, b) in &attacks {
        assert_reverts(&mut s, env, b, want, what);
    }
    for i in (0..batch.proof.len())
        .step_by(97)
        .chain([batch.proof.len() - 1])
    {
        let b = with(&|b| {
            let mut p = b.proof.to_vec();
            p[i] ^= 0x01;
            b.proof = p.into();
        });
        assert_reverts(
            &mut s,
            env,
            &b,
            "InvalidProof",
            &format!("proof byte {i} flipped"),
        );
    }

    let credit = |s: &mut Settlement<'_>, a| s.credits(Address::ZERO, a).unwrap();
    let before = [who.owner, who.provider, who.client].map(|a| credit(&mut s, a));
    let settled = s.settle_batch(who.provider, env.model, batch).unwrap();
    let mut want = [U256::ZERO; 3];
    for (c, e) in batch.claims.iter().zip(&settled.value) {
        // what `settle` pays for this request alone
        let cost = U256::from(c.n_in * PRICE_IN + c.n_out * PRICE_OUT);
        let royalty = cost * U256::from(ROYALTY_BPS) / U256::from(10_000);
        assert_eq!(
            (e.requestId, e.royalty, e.providerAmount),
            (c.request_id, royalty, cost - royalty)
        );
        assert_eq!(e.refund, env.escrow - cost);
        assert_eq!(
            e.ciphertext, c.ciphertext,
            "the event publishes the ciphertext"
        );
        want[0] += royalty;
        want[1] += cost - royalty;
        want[2] += env.escrow - cost;
    }
    assert_eq!(settled.value.len(), 2);
    let after = [who.owner, who.provider, who.client].map(|a| credit(&mut s, a));
    for i in 0..3 {
        assert_eq!(after[i] - before[i], want[i], "credit {i}");
    }
    assert_reverts(&mut s, env, batch, "NotOpen", "the batch again");
    let single_gas = s.settle(who.provider, single).unwrap().gas_used;
    (settled.gas_used, single_gas)
}
