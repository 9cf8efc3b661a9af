//! `zkinfer demo --requests N`: batch settlement on embedded defaults. The example MLP is
//! compiled and set up; a client opens N requests; the provider proves them in parallel for
//! aggregation, folds them into one aggregation proof and settles all N in one transaction
//! through the model's batch verifier. For comparison N more requests are proven and settled one
//! by one. Prints the gas per request of both ways, the payments (sums over the batch) and the
//! aggregation's time.

use std::path::Path;
use std::process::ExitCode;

use alloy::primitives::U256;
use anyhow::{ensure, Result};
use serde_json::json;
use zkinfer_aggregate::keys::{load, setup, AggregateDir};
use zkinfer_aggregate::{aggregate_tree, verify_file};
use zkinfer_circuits::field::{fr_parse, random_fr};
use zkinfer_circuits::halo2::Witness;
use zkinfer_circuits::Fr;
use zkinfer_contracts::artifact::{build, build_aggregation, deploy};
use zkinfer_contracts::chain::embedded::Embedded;
use zkinfer_contracts::claim::{from_aggregate_file, from_proof_file, to_u256};
use zkinfer_contracts::settlement::{compile_settlement, RequestTerms, Settlement};
use zkinfer_contracts::solc::Solc;
use zkinfer_prover::artifacts::write_json;
use zkinfer_prover::keys::{ProvingBackend, SrsSource};
use zkinfer_prover::prove::prove_many;
use zkinfer_prover::transcript::TranscriptKind;

use super::demo::{prepare_mlp, roles, step, Job, Workspace};

/// One opened request: its id and the client's salt.
struct Opened {
    id: U256,
    salt: Fr,
}

/// `leaves`: aggregate as a tree of that many leaves (1: one aggregation of all requests).
pub fn run(
    requests: usize,
    leaves: usize,
    workdir: Option<&Path>,
    json_out: bool,
) -> Result<ExitCode> {
    ensure!(requests >= 1, "--requests must be at least 1");
    zkinfer_aggregate::keys::check_tree(requests, leaves)?;
    let ws = Workspace::new(workdir)?;
    let (dir, work) = (&ws.dir, &ws.work);
    let (job, t) = prepare_mlp(super::Backend::Halo2, &ws.example, dir, json_out)?;
    let Job::Mlp { keys, row } = job else {
        unreachable!("prepare_mlp prepares the MLP")
    };
    step(
        json_out,
        &format!("set up aggregation keys for {requests} requests (minutes the first time)"),
    );
    let agg_dir = AggregateDir::tree(dir.clone(), requests, leaves);
    let agg_setup = setup(&agg_dir, &SrsSource::Dev, None)?;

    step(
        json_out,
        "generate the verifiers; deploy them and Settlement",
    );
    let solc = Solc::find()?;
    let single = build(dir, &solc)?;
    let batch = build_aggregation(&agg_dir, &solc)?;
    let (deployer, owner, provider, client) = roles();
    let mut chain = Embedded::new();
    let (adapter, _) = deploy(
        &mut chain,
        deployer,
        &single.part_codes(),
        &single.adapter.bytecode,
    )?;
    let (batch_verifier, _) = deploy(
        &mut chain,
        deployer,
        &batch.part_codes(),
        &batch.adapter.bytecode,
    )?;
    let code = compile_settlement(&solc)?;
    let (address, _) = zkinfer_contracts::chain::deploy(&mut chain, deployer, &code.bytecode)?;
    let mut s = Settlement {
        chain: &mut chain,
        address,
    };
    let model = s
        .register_model(owner, &t.registration(adapter, owner, provider))?
        .value;
    s.register_batch_verifier(owner, model, batch_verifier)?;

    step(json_out, &format!("client opens {} requests", 2 * requests));
    let escrow = s.max_cost(model, t.max_in, t.max_out)?;
    let mut opened = Vec::new();
    for nonce in 1..=2 * requests as u64 {
        let id = s.request_id_for(client, nonce)?;
        let salt = random_fr();
        let w = witness(&row, id, salt)?;
        let commitment = zkinfer_circuits::witness::run(keys.model(), keys.batch(), &w)?
            .statement
            .input_commitment;
        let deadline = s.chain.timestamp()? + 3600;
        let r = RequestTerms {
            model_id: model,
            nonce,
            input_commitment: to_u256(&commitment),
            max_in: t.max_in,
            max_out: t.max_out,
            deadline,
        };
        s.open_request(client, &r, escrow)?;
        opened.push(Opened { id, salt });
    }
    let (batched, singles) = opened.split_at(requests);

    step(
        json_out,
        &format!("provider proves {requests} requests in parallel, for aggregation"),
    );
    let proofs = prove(keys.as_ref(), &row, batched, TranscriptKind::Poseidon)?;
    let paths = proofs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let path = work.join(format!("request-{i}.json"));
            write_json(&path, p)?;
            Ok(path)
        })
        .collect::<Result<Vec<_>>>()?;
    step(json_out, "aggregate them into one proof");
    let agg = aggregate_tree(&agg_dir, &paths)?;
    verify_file(&load(&agg_dir, false)?, &agg.file)?;
    write_json(&work.join("aggregate.json"), &agg.file)?;

    step(json_out, "settle all of them in one transaction");
    let settled = s.settle_batch(provider, model, &from_aggregate_file(&agg.file)?)?;
    ensure!(settled.value.len() == requests, "one event per request");
    let sum = |f: &dyn Fn(&zkinfer_contracts::settlement::ISettlement::RequestSettled) -> U256| {
        settled.value.iter().map(f).fold(U256::ZERO, |a, b| a + b)
    };
    let (provider_paid, owner_paid, refunded) = (
        sum(&|e| e.providerAmount),
        sum(&|e| e.royalty),
        sum(&|e| e.refund),
    );
    let batch_escrow = escrow * U256::from(requests);
    ensure!(
        provider_paid + owner_paid + refunded == batch_escrow,
        "the batch's payments do not add up to its escrow"
    );
    // Each client decrypts its own output from its event; `open` checks it against the proven
    // output commitment.
    for o in batched {
        let event = super::chain::settled_output(&mut s, o.id)?;
        zkinfer_prover::deliver::open(dir, &event, o.salt)?;
    }

    step(
        json_out,
        &format!("for comparison: {requests} single settlements"),
    );
    let single_proofs = prove(keys.as_ref(), &row, singles, TranscriptKind::Evm)?;
    let mut single_gas = 0;
    for p in &single_proofs {
        single_gas += s.settle(provider, &from_proof_file(p)?)?.gas_used;
    }
    let single_gas = single_gas / requests as u64;
    let per_request = settled.gas_used / requests as u64;

    let eth = |x: U256| format!("{:.6}", x.to::<u128>() as f64 / 1e18);
    if json_out {
        super::print_json(&json!({
            "model": t.label,
            "requests": requests,
            "leaves": leaves,
            "batch_settle_gas": settled.gas_used,
            "gas_per_request": per_request,
            "single_settle_gas": single_gas,
            "aggregate_seconds": agg.seconds,
            "aggregation_k": agg_setup.manifest.shape.k,
            "aggregation_keys_cached": agg_setup.cached,
            "escrow": batch_escrow.to_string(),
            "provider_paid": provider_paid.to_string(),
            "owner_paid": owner_paid.to_string(),
            "refunded": refunded.to_string(),
            "aggregation_proof_bytes": agg.file.proof.len() / 2 - 1,
            "batch_verifier_parts": batch.manifest().parts.iter().map(|p| p.runtime_size).collect::<Vec<_>>(),
        }));
    } else {
        println!("model              {}", t.label);
        let tree = match leaves {
            1 => String::new(),
            l => format!(", a tree of {l} leaves"),
        };
        println!(
            "requests           {requests}, aggregated in {:.1} s (k = {}{tree})",
            agg.seconds, agg_setup.manifest.shape.k
        );
        println!(
            "settleBatch gas    {} ({per_request} a request)",
            settled.gas_used
        );
        println!("settle gas         {single_gas} a request, one by one");
        println!("escrow             {} ETH", eth(batch_escrow));
        println!("provider paid      {} ETH", eth(provider_paid));
        println!("owner paid         {} ETH", eth(owner_paid));
        println!("refunded           {} ETH", eth(refunded));
    }
    Ok(ExitCode::SUCCESS)
}

fn witness(row: &[i64], id: U256, salt: Fr) -> Result<Witness> {
    Ok(Witness {
        rows: vec![row.to_vec()],
        request_id: fr_parse(&format!("{id:#x}"))?,
        salt,
    })
}

/// Proves the example row for each request, in parallel.
fn prove(
    keys: &dyn ProvingBackend,
    row: &[i64],
    requests: &[Opened],
    transcript: TranscriptKind,
) -> Result<Vec<zkinfer_prover::prove::ProofFile>> {
    let witnesses = requests
        .iter()
        .map(|o| witness(row, o.id, o.salt))
        .collect::<Result<Vec<_>>>()?;
    prove_many(keys, witnesses, transcript)
        .into_iter()
        .map(|r| Ok(r?.file))
        .collect()
}
