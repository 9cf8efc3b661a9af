//! A tree of aggregations: N request proofs split into M leaves of N/M, each leaf aggregated with
//! the Poseidon transcript (a leaf proof is only ever verified inside the root circuit, which
//! recomputes that transcript cheaply), then one root over the M leaf proofs, proved with the
//! Keccak EVM transcript like a single aggregation.
//!
//! Why this is sound: a leaf proof alone proves nothing until its accumulator's pairing holds.
//! The root reads each leaf's accumulator from the leaf's first [`ACCUMULATOR_LIMBS`] instances
//! and folds it, with the accumulator of the leaf proof's own verification, into the root's one
//! accumulator, by a random combination whose challenge the root derives from every leaf by
//! Fiat-Shamir. The root's single pairing check therefore stands for every leaf's and so for
//! every request's. The root exposes only the requests' statements after its accumulator, the
//! instances a single aggregation of the N requests would have, so the file format, the verifier
//! interface and `settleBatch` are the same.

use std::path::PathBuf;
use std::time::Instant;

use snark_verifier::verifier::plonk::PlonkProtocol;
use zkinfer_circuits::Fr;
use zkinfer_prover::transcript::TranscriptKind;
use zkinfer_prover::verify::check_with;
use zkinfer_prover::G1Affine;

use crate::circuit::ACCUMULATOR_LIMBS;
use crate::keys::{load as load_keys, AggregateDir};
use crate::prove::{aggregate, load_all, proof_file, prove_layer, Aggregated};
use crate::snark::{leaf_protocol, protocol, snark, Inner};
use crate::verify::accumulator_holds;
use crate::AggregateError;

/// A tree's leaf proofs, ready for its root.
pub struct Leaves {
    /// The requests' proofs, in order.
    pub requests: Vec<Inner>,
    /// Each leaf's instances (its accumulator, then its requests' statements) and proof.
    pub leaves: Vec<Inner>,
    /// The leaf key's verifier, as the root runs it.
    pub protocol: PlonkProtocol<G1Affine>,
    /// Wall time of the leaves.
    pub seconds: f64,
}

/// Aggregates the proof files, in the order given, with the keys of `dir`: a tree's root over
/// its leaves, or (one leaf) a single aggregation.
pub fn aggregate_tree(
    dir: &AggregateDir,
    proofs: &[PathBuf],
) -> Result<Aggregated, AggregateError> {
    if dir.leaf().is_none() {
        return aggregate(&load_keys(dir, true)?, proofs);
    }
    let leaves = prove_leaves(dir, proofs)?;
    prove_root(dir, &leaves)
}

/// Proves the leaves of `dir`'s tree over the proof files, each leaf checked natively (proof and
/// accumulator) so that a leaf the root would reject is named in seconds, not after its minutes.
pub fn prove_leaves(dir: &AggregateDir, proofs: &[PathBuf]) -> Result<Leaves, AggregateError> {
    let start = Instant::now();
    let leaf_dir = dir
        .leaf()
        .ok_or_else(|| AggregateError::Request("a single aggregation has no leaves".into()))?;
    let root = dir.manifest()?;
    let leaf = load_keys(&leaf_dir, true)?;
    if root.leaf_vk_sha256.as_deref() != Some(leaf.manifest.vk_sha256.as_str()) {
        return Err(AggregateError::Request(format!(
            "{}: the root keys were made for other leaf keys; `zkinfer aggregate` remakes them",
            dir.dir().display()
        )));
    }
    let requests = load_all(&leaf.model, proofs, dir.requests)?;
    let m = &leaf.manifest;
    let inner = protocol(&leaf.model.srs, &leaf.model.vk, m.instances_per_request);
    let mut leaves = Vec::with_capacity(dir.leaves);
    for (i, group) in requests.chunks(m.requests).enumerate() {
        let snarks = group.iter().map(|g| snark(&inner, g)).collect();
        let statements: Vec<Fr> = group.iter().flat_map(|g| g.instances.clone()).collect();
        let (public, proof) =
            prove_layer(&leaf, snarks, &statements, false, TranscriptKind::Poseidon)?;
        let holds = check_with(
            &leaf.srs,
            &leaf.vk,
            &public,
            &proof,
            TranscriptKind::Poseidon,
        ) && accumulator_holds(&leaf.srs, &public[..ACCUMULATOR_LIMBS]);
        if !holds {
            return Err(AggregateError::Circuit(format!("leaf {i} does not verify")));
        }
        tracing::info!(leaf = i, of = dir.leaves, "leaf aggregated");
        leaves.push(Inner {
            instances: public,
            proof,
        });
    }
    Ok(Leaves {
        requests,
        protocol: leaf_protocol(&leaf.srs, &leaf.vk, m.instances),
        leaves,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Proves the root of `dir`'s tree over `leaves`. It loads the root's proving key only now, after
/// the leaves' was dropped, so the peak memory is the larger circuit's, not the sum.
pub fn prove_root(dir: &AggregateDir, leaves: &Leaves) -> Result<Aggregated, AggregateError> {
    let start = Instant::now();
    let root = load_keys(dir, true)?;
    if leaves.leaves.len() != dir.leaves {
        return Err(AggregateError::Request(format!(
            "{} leaves given; these root keys take {}",
            leaves.leaves.len(),
            dir.leaves
        )));
    }
    let snarks = leaves
        .leaves
        .iter()
        .map(|l| snark(&leaves.protocol, l))
        .collect();
    let statements: Vec<Fr> = leaves
        .requests
        .iter()
        .flat_map(|i| i.instances.clone())
        .collect();
    let (public, proof) = prove_layer(&root, snarks, &statements, true, TranscriptKind::Evm)?;
    Ok(Aggregated {
        file: proof_file(&root.manifest, &public, &leaves.requests, proof),
        seconds: leaves.seconds + start.elapsed().as_secs_f64(),
    })
}
