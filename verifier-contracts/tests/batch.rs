//! Batch settlement end to end: two real request proofs of the example MLP aggregated into one
//! proof, its generated verifier registered for the model, and `settleBatch` on the embedded
//! chain (revm) and on a real node (anvil). The batch pays each request exactly what its own
//! settlement would; every attack reverts the whole batch and pays nothing; the aggregation proof
//! is rejected off-chain and on-chain when any instance, limb or sampled byte changes.
//!
//! The aggregation keys take minutes to make, so the model directory and its keys are kept
//! under the target directory and reused while they hash to their manifests.

mod common;

use zkinfer_aggregate::ACCUMULATOR_LIMBS;
use zkinfer_contracts::chain::anvil::Anvil;
use zkinfer_contracts::chain::embedded::Embedded;
use zkinfer_contracts::chain::rpc::Rpc;
use zkinfer_contracts::keys::dev;

use common::batch::{deploy_and_open, fixture, scenarios};

#[test]
fn two_requests_settle_with_one_aggregation_proof_on_revm_and_anvil() {
    let fx = fixture(1);
    let work = tempfile::tempdir().unwrap();
    let mut revm = Embedded::new();
    let env = deploy_and_open(&mut revm, &fx);
    let batch = fx.aggregate(&env.ids[..2], work.path());
    let single = fx.claim(env.ids[2]);
    assert_eq!(batch.claims.len(), 2);
    assert_eq!(batch.accumulator.len(), ACCUMULATOR_LIMBS);
    let (batch_gas, single_gas) = scenarios(&mut revm, &env, &batch, &single);
    eprintln!(
        "revm: settleBatch of 2 {batch_gas} gas ({} a request), settle {single_gas} gas",
        batch_gas / 2
    );

    let anvil = Anvil::start().expect("anvil starts");
    let keys: Vec<_> = (0..4).map(dev).collect();
    let mut node = Rpc::connect(&anvil.url, &keys).unwrap();
    let on_node = deploy_and_open(&mut node, &fx);
    assert_eq!(
        (on_node.settlement, on_node.ids),
        (env.settlement, env.ids),
        "the same deployment gives the same request ids"
    );
    let (batch_gas, single_gas) = scenarios(&mut node, &on_node, &batch, &single);
    eprintln!(
        "anvil: settleBatch of 2 {batch_gas} gas ({} a request), settle {single_gas} gas",
        batch_gas / 2
    );
}
