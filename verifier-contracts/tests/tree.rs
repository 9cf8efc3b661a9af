//! A tree of aggregations end to end: two real request proofs of the example MLP aggregated in
//! two leaves of one, the leaves aggregated by a root, the root's generated verifier registered
//! for the model and `settleBatch` on the embedded chain (revm). The root proof must settle
//! exactly as a single aggregation of the same requests does, and every attack of the batch test
//! must revert it; a root over a leaf that carries another leaf's accumulator must fail.
//!
//! The keys (the leaves' and the root's) take minutes to make, so they are kept under the target
//! directory beside the batch test's and reused while they hash to their manifests. Made afresh
//! they take ~15 minutes and the test ~25 in all (9 GB at most), more than the suite's budget on
//! a 2-core machine, so it is ignored there and run with
//! `./scripts/test.sh --test tree -- --ignored` (or `-- --include-ignored` for everything).

mod common;

use zkinfer_aggregate::keys::load;
use zkinfer_aggregate::tree::{prove_leaves, prove_root};
use zkinfer_aggregate::{verify_file, ACCUMULATOR_LIMBS};
use zkinfer_contracts::chain::embedded::Embedded;

use common::batch::{deploy_and_open, fixture, scenarios};

#[test]
#[ignore = "~25 minutes of key generation and proving: ./scripts/test.sh --test tree -- --ignored"]
fn a_tree_of_two_leaves_settles_like_one_aggregation_and_folds_every_leaf() {
    let fx = fixture(2);
    let root = load(&fx.agg, false).unwrap().manifest;
    let leaf = load(&fx.agg.leaf().unwrap(), false).unwrap().manifest;
    assert_eq!((root.requests, root.leaves, leaf.requests), (2, 2, 1));
    assert_eq!(
        root.leaf_vk_sha256.as_deref(),
        Some(leaf.vk_sha256.as_str())
    );
    assert_eq!(root.instances, leaf.instances + leaf.instances_per_request);
    eprintln!(
        "tree keys: leaf k = {} ({} advice), root k = {} ({} advice)",
        leaf.shape.k, leaf.shape.advice, root.shape.k, root.shape.advice
    );

    let work = tempfile::tempdir().unwrap();
    let mut revm = Embedded::new();
    let env = deploy_and_open(&mut revm, &fx);
    let proofs = fx.proofs(&env.ids[..2], work.path());
    let mut leaves = prove_leaves(&fx.agg, &proofs).unwrap();
    let honest = prove_root(&fx.agg, &leaves).unwrap();
    eprintln!("tree of 2 leaves aggregated in {:.0} s", honest.seconds);
    assert_eq!(honest.file.leaves, 2);
    let batch = fx.checked(&honest.file);
    let single = fx.claim(env.ids[2]);
    let (batch_gas, single_gas) = scenarios(&mut revm, &env, &batch, &single);
    eprintln!(
        "revm: settleBatch of 2 through a tree {batch_gas} gas ({} a request), settle {single_gas} gas",
        batch_gas / 2
    );

    // A file that claims another tree shape is refused before any check.
    let keys = load(&fx.agg, false).unwrap();
    let mut flat = honest.file.clone();
    flat.leaves = 1;
    assert!(
        verify_file(&keys, &flat).is_err(),
        "a tree proof read as flat"
    );

    // The root must fold each leaf's own accumulator: leaf 0 carrying leaf 1's (a valid pair of
    // points, for another proof) gives a root proof whose accumulator fails its pairing.
    let theirs = leaves.leaves[1].instances[..ACCUMULATOR_LIMBS].to_vec();
    leaves.leaves[0].instances[..ACCUMULATOR_LIMBS].copy_from_slice(&theirs);
    let forged = prove_root(&fx.agg, &leaves).unwrap();
    assert!(
        verify_file(&keys, &forged.file).is_err(),
        "a root over a leaf with another leaf's accumulator"
    );
}
