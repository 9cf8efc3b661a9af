//! The chain against the bundle: Settlement's own runtime code (against the Settlement this
//! zkinfer compiles), its registration of the model (its published terms),
//! the runtime code of the registered verifier's adapter and of every part it calls (each compared
//! with what the rebuilt creation code deploys to, constructor arguments and all), and the proof
//! of every request of the model settled with `settle`, read back from the transaction's calldata
//! and verified off-chain with the rebuilt key against the statement Settlement built. A batch
//! verifier registered for the model can also release its escrows; the bundle holds no
//! aggregation keys, so each one is reported as unchecked.

use alloy::primitives::{Address, Bytes, U256};
use alloy::sol;
use alloy::sol_types::{SolCall, SolEvent, SolValue};
use zkinfer_circuits::field::fr_parse;
use zkinfer_contracts::chain::embedded::Embedded;
use zkinfer_contracts::chain::{self, Chain};
use zkinfer_contracts::generate::native_proof;
use zkinfer_contracts::settlement::{compile_settlement, ISettlement, ModelTerms, Settlement};
use zkinfer_contracts::solc::Solc;
use zkinfer_prover::artifacts::sha256_hex;
use zkinfer_prover::transcript::TranscriptKind;

use crate::bundle::{Bundle, Terms};
use crate::rebuild::Rebuilt;
use crate::report::{Row, Status};
use crate::AuditError;

sol! {
    /// What every zkinfer adapter tells auditors.
    interface IVerifierParts {
        function verifierParts() external view returns (address[] memory parts);
    }
}

/// Where on a chain the model is served.
#[derive(Clone, Copy, Debug)]
pub struct Deployment {
    /// The Settlement contract.
    pub settlement: Address,
    /// The model's id there.
    pub model_id: U256,
}

/// Audits `at` on `chain` against the bundle and its rebuild (`solc` compiles Settlement).
pub fn audit_chain(
    chain: &mut dyn Chain,
    at: Deployment,
    bundle: &Bundle,
    rebuilt: &Rebuilt,
    solc: &Solc,
) -> Result<Vec<Row>, AuditError> {
    let mut rows = Vec::new();
    let found = chain.code(at.settlement)?;
    let what = format!("Settlement {}", at.settlement);
    if found.is_empty() {
        rows.push(Row::mismatch(
            what,
            "a contract",
            "no code",
            "nothing is deployed there",
        ));
        return Ok(rows);
    }
    let want = deployed_code_hash(&compile_settlement(solc)?.bytecode)?;
    let settlement = Row::new(what, &want, &code_hash(&found));
    if settlement.status != Status::Match {
        // what another contract's storage says proves nothing: stop here
        rows.push(settlement.with_note("not the Settlement this zkinfer compiles"));
        return Ok(rows);
    }
    rows.push(settlement);
    let registered = Settlement {
        chain: &mut *chain,
        address: at.settlement,
    }
    .model(at.model_id)?;
    let Some(registered) = registered else {
        let what = format!("model {}", at.model_id);
        rows.push(Row::mismatch(
            what,
            "registered",
            "not registered",
            "Settlement has no such model",
        ));
        return Ok(rows);
    };
    rows.extend(terms(bundle.index.terms.as_ref(), &registered));
    rows.extend(verifier_code(chain, registered.verifier, rebuilt)?);
    rows.extend(batch_verifiers(chain, at)?);
    rows.extend(settled_proofs(chain, at, bundle, rebuilt)?);
    Ok(rows)
}

/// A row for each batch verifier registered for the model: it can release the escrows of
/// requests opened after it, and nothing in the bundle checks it.
fn batch_verifiers(chain: &mut dyn Chain, at: Deployment) -> Result<Vec<Row>, AuditError> {
    let latest = chain.block_number()?;
    let topics = [
        ISettlement::BatchVerifierRegistered::SIGNATURE_HASH,
        at.model_id.into(),
    ];
    let mut rows = Vec::new();
    for (_, log) in chain.logs_in(at.settlement, &topics, 0, latest)? {
        let Ok(e) = ISettlement::BatchVerifierRegistered::decode_log(&log) else {
            continue;
        };
        let what = format!("batch verifier ({} requests) {}", e.requests, e.verifier);
        let found = code_hash(&chain.code(e.verifier)?);
        let note = "it can release this model's escrows, and the bundle holds no aggregation \
                    keys to check it against";
        rows.push(Row::mismatch(what, "(not published)", &found, note));
    }
    Ok(rows)
}

/// The registration against the published terms, one row per term.
fn terms(published: Option<&Terms>, found: &ModelTerms) -> Vec<Row> {
    let Some(t) = published else {
        return vec![Row::mismatch(
            "registration terms",
            "(not published)",
            &format!("owner {}, provider {}", found.owner, found.provider),
            "the bundle publishes no terms: publish with --owner, --provider, --royalty-bps, \
             --price-in, --price-out",
        )];
    };
    vec![
        Row::new(
            "terms: owner",
            &t.owner.to_string(),
            &found.owner.to_string(),
        ),
        Row::new(
            "terms: provider",
            &t.provider.to_string(),
            &found.provider.to_string(),
        ),
        Row::new(
            "terms: royalty_bps",
            &t.royalty_bps.to_string(),
            &found.royalty_bps.to_string(),
        ),
        Row::new(
            "terms: price_in",
            &t.price_in.to_string(),
            &found.price_in.to_string(),
        ),
        Row::new(
            "terms: price_out",
            &t.price_out.to_string(),
            &found.price_out.to_string(),
        ),
        Row::new(
            "terms: token",
            &t.token.to_string(),
            &found.token.to_string(),
        ),
    ]
}

/// The registered adapter's and its parts' runtime code against what the rebuilt creation code
/// deploys to.
fn verifier_code(
    chain: &mut dyn Chain,
    adapter: Address,
    rebuilt: &Rebuilt,
) -> Result<Vec<Row>, AuditError> {
    let mut rows = Vec::new();
    let call = IVerifierParts::verifierPartsCall {}.abi_encode();
    let out = chain.call(Address::ZERO, adapter, call.into())?;
    let parts = match IVerifierParts::verifierPartsCall::abi_decode_returns(&out.output) {
        Ok(parts) if out.success => parts,
        _ => {
            let found = code_hash(&chain.code(adapter)?);
            let what = format!("verifier adapter {adapter}");
            let note = "the registered verifier does not list its parts (not a zkinfer adapter)";
            rows.push(Row::mismatch(what, "a zkinfer adapter", &found, note));
            return Ok(rows);
        }
    };
    let ours = rebuilt.artifact.part_codes();
    if parts.len() != ours.len() {
        let (want, got) = (ours.len().to_string(), parts.len().to_string());
        let note = "another split of the verifier";
        rows.push(Row::mismatch("verifier parts", &want, &got, note));
        return Ok(rows);
    }
    for (i, (on_chain, creation)) in parts.iter().zip(&ours).enumerate() {
        let want = deployed_code_hash(creation)?;
        let got = code_hash(&chain.code(*on_chain)?);
        rows.push(Row::new(
            format!("verifier part {i} {on_chain}"),
            &want,
            &got,
        ));
    }
    // the parts' addresses are the adapter's immutables: deployed with the ones found, its code
    // must be the registered adapter's byte for byte
    let mut creation = rebuilt.artifact.adapter.bytecode.clone();
    creation.extend((parts,).abi_encode_params());
    let want = deployed_code_hash(&creation)?;
    let got = code_hash(&chain.code(adapter)?);
    rows.push(Row::new(format!("verifier adapter {adapter}"), &want, &got));
    Ok(rows)
}

/// The hash of the runtime code `creation` deploys to, on a scratch chain (a creation that
/// reverts gives a value no chain's code hashes to).
fn deployed_code_hash(creation: &[u8]) -> Result<String, AuditError> {
    let mut scratch = Embedded::new();
    let from = zkinfer_contracts::keys::dev(0).address();
    Ok(match chain::deploy(&mut scratch, from, creation) {
        Ok((addr, _)) => code_hash(&scratch.code(addr)?),
        Err(e) => format!("(cannot deploy: {e})"),
    })
}

fn code_hash(code: &Bytes) -> String {
    if code.is_empty() {
        "(no code)".into()
    } else {
        sha256_hex(code)
    }
}

/// Every request of the model settled so far: its proof, from the settling transaction's
/// calldata, verified with the rebuilt key for the statement Settlement checked.
fn settled_proofs(
    chain: &mut dyn Chain,
    at: Deployment,
    bundle: &Bundle,
    rebuilt: &Rebuilt,
) -> Result<Vec<Row>, AuditError> {
    let latest = chain.block_number()?;
    let opened_topic = [ISettlement::RequestOpened::SIGNATURE_HASH];
    let mut inputs = std::collections::BTreeMap::new();
    for (_, log) in chain.logs_in(at.settlement, &opened_topic, 0, latest)? {
        let Ok(e) = ISettlement::RequestOpened::decode_log(&log) else {
            continue;
        };
        if e.modelId == at.model_id {
            inputs.insert(e.requestId, e.inputCommitment);
        }
    }
    let settled_topic = [ISettlement::RequestSettled::SIGNATURE_HASH];
    let mut rows = Vec::new();
    for tx in chain.logs_with_tx(at.settlement, &settled_topic, 0, latest)? {
        let Ok(e) = ISettlement::RequestSettled::decode_log(&tx.log) else {
            continue;
        };
        let id = e.requestId;
        let Some(input_commitment) = inputs.get(&id) else {
            continue; // another model's request
        };
        let what = format!("request {id:#x} (block {})", tx.block);
        let call = (tx.to == Some(at.settlement))
            .then(|| ISettlement::settleCall::abi_decode(&tx.input).ok())
            .flatten();
        let Some(call) = call.filter(|c| c.requestId == id) else {
            let batch = tx.to == Some(at.settlement)
                && ISettlement::settleBatchCall::abi_decode(&tx.input).is_ok();
            let note = if batch {
                "settled by an aggregation proof, which this audit does not re-verify"
            } else {
                "the settling transaction is not a direct settle call; its proof cannot be read"
            };
            rows.push(Row::mismatch(what, "valid proof", "(not read)", note));
            continue;
        };
        let mut words = vec![
            id,
            *input_commitment,
            call.outputCommitment,
            U256::from(call.nIn),
            U256::from(call.nOut),
        ];
        words.extend(&call.ciphertext);
        let valid = words
            .iter()
            .map(|w| fr_parse(&format!("{w:#x}")).ok())
            .collect::<Option<Vec<_>>>()
            .zip(native_proof(bundle.index.backend, &call.proof).ok())
            .is_some_and(|(instances, proof)| {
                rebuilt
                    .verifier
                    .check(&instances, &proof, TranscriptKind::Evm)
            });
        let found = if valid {
            "valid proof"
        } else {
            "invalid proof"
        };
        rows.push(Row::new(what, "valid proof", found));
    }
    Ok(rows)
}
