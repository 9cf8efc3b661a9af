//! `zkinfer demo`: the whole product in one command on embedded defaults. The example MLP (built
//! into the binary) is compiled and set up, its verifier is generated and deployed with Settlement
//! on the embedded chain, a client opens a request, the provider proves the run and settles, and
//! everyone withdraws. Prints balances and gas.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use alloy::primitives::{Address, U256};
use anyhow::{ensure, Context, Result};
use serde_json::json;
use zkinfer_circuits::field::random_fr;
use zkinfer_circuits::halo2::Witness;
use zkinfer_circuits::model::quantize_input;
use zkinfer_contracts::artifact::build;
use zkinfer_contracts::chain::embedded::Embedded;
use zkinfer_contracts::claim::{from_proof_file, to_u256};
use zkinfer_contracts::keys::dev;
use zkinfer_contracts::settlement::{compile_settlement, verify_call, ModelTerms, Settlement};
use zkinfer_contracts::solc::Solc;
use zkinfer_prover::artifacts::{write_json, ModelDir};
use zkinfer_prover::keys::{load_prover, setup, SrsSource};
use zkinfer_prover::prove::prove_one;
use zkinfer_prover::verify::verify_file;

const MLP_ONNX: &[u8] = include_bytes!("../../../examples/mlp/mlp.onnx");
const CALIBRATION: &[u8] = include_bytes!("../../../examples/mlp/calibration.json");
const INPUT: &[u8] = include_bytes!("../../../examples/mlp/input.json");

/// Prices of the demo model: 0.001 ETH per input sample, 0.002 ETH per output.
const PRICE_IN: u64 = 1_000_000_000_000_000;
const PRICE_OUT: u64 = 2_000_000_000_000_000;
const ROYALTY_BPS: u16 = 1_000;
/// The client reserves more than one run uses, so part of the escrow comes back.
const MAX_IN: u64 = 2;
const MAX_OUT: u64 = 2;

fn step(json_out: bool, msg: &str) {
    if !json_out {
        eprintln!("==> {msg}");
    }
}

pub fn run(backend: super::Backend, workdir: Option<&Path>, json_out: bool) -> Result<ExitCode> {
    let tmp;
    let work = match workdir {
        Some(d) => d.to_path_buf(),
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let example = work.join("example");
    std::fs::create_dir_all(&example)
        .with_context(|| format!("{}: cannot create", example.display()))?;
    for (name, bytes) in [
        ("mlp.onnx", MLP_ONNX),
        ("calibration.json", CALIBRATION),
        ("input.json", INPUT),
    ] {
        zkinfer_prover::artifacts::write_atomic(&example.join(name), bytes)?;
    }

    step(
        json_out,
        &format!("compile the example MLP (784-64-10) for {}", backend.id()),
    );
    let model_dir = work.join("model");
    let samples = crate::input::read_rows(&example.join("calibration.json"))?;
    zkinfer_prover::compile::compile_dir(
        &example.join("mlp.onnx"),
        &samples,
        backend.id(),
        1,
        &model_dir,
    )?;
    let dir = ModelDir::new(&model_dir);
    step(json_out, "set up keys (INSECURE dev setup)");
    setup(&dir, &SrsSource::Dev)?;

    step(json_out, "generate and compile the Solidity verifier");
    let solc = Solc::find()?;
    let verifier = build(&dir, &solc)?;
    let manifest = verifier.write(&work.join("verifier"))?;

    step(
        json_out,
        "deploy verifier and Settlement on the embedded chain",
    );
    let (deployer, owner, provider, client) = (
        dev(0).address(),
        dev(1).address(),
        dev(2).address(),
        dev(3).address(),
    );
    let mut chain = Embedded::new();
    let (adapter, _) = zkinfer_contracts::artifact::deploy(
        &mut chain,
        deployer,
        &verifier.part_codes(),
        &verifier.adapter.bytecode,
    )?;
    let settlement_code = compile_settlement(&solc)?;
    let (settlement_addr, _) =
        zkinfer_contracts::chain::deploy(&mut chain, deployer, &settlement_code.bytecode)?;
    let mut s = Settlement {
        chain: &mut chain,
        address: settlement_addr,
    };
    let terms = ModelTerms {
        verifier: adapter,
        owner,
        provider,
        royalty_bps: ROYALTY_BPS,
        price_in: U256::from(PRICE_IN),
        price_out: U256::from(PRICE_OUT),
        token: Address::ZERO,
    };
    let model_id = s.register_model(owner, &terms)?.value;

    step(
        json_out,
        "client opens a request and escrows its maximum cost",
    );
    let keys = load_prover(&dir)?;
    let row = quantize_input(
        &crate::input::read_rows(&example.join("input.json"))?[0],
        &keys.model().input,
    )?;
    let request_id = s.next_request_id()?;
    let witness = Witness {
        rows: vec![row],
        request_id: zkinfer_circuits::field::fr_parse(&format!("{request_id:#x}"))?,
        salt: random_fr(),
    };
    let statement = zkinfer_circuits::witness::run(keys.model(), keys.batch(), &witness)?.statement;
    let escrow = s.max_cost(model_id, MAX_IN, MAX_OUT)?;
    let deadline = s.chain.timestamp()? + 3600;
    let opened = s.open_request(
        client,
        model_id,
        to_u256(&statement.input_commitment),
        MAX_IN,
        MAX_OUT,
        deadline,
        escrow,
    )?;
    ensure!(
        opened.value.requestId == request_id,
        "request id changed while opening"
    );

    step(json_out, "provider proves the run");
    let start = Instant::now();
    let proved = prove_one(keys.as_ref(), witness)?;
    let prove_seconds = start.elapsed().as_secs_f64();
    write_json(&work.join("proof.json"), &proved.file)?;
    write_json(&work.join("opening.json"), &proved.opening)?;
    let off_chain = zkinfer_prover::keys::load_verifier(&dir)?;
    verify_file(off_chain.as_ref(), &proved.file)
        .context("the fresh proof does not verify off-chain")?;
    let claim = from_proof_file(&proved.file)?;
    ensure!(
        claim.input_commitment == to_u256(&statement.input_commitment),
        "input commitment changed"
    );

    step(json_out, "verify on-chain and settle");
    let (accepted, verify_gas) =
        verify_call(s.chain, adapter, claim.proof.clone(), claim.instances())?;
    ensure!(accepted, "the on-chain verifier rejected the proof");
    let settled = s.settle(provider, &claim)?;
    let mut paid = Vec::new();
    for who in [provider, owner, client] {
        let before = s.chain.balance(who)?;
        let w = s.withdraw(who, Address::ZERO)?;
        ensure!(
            s.chain.balance(who)? - before == w.value,
            "withdrawal did not pay its amount"
        );
        paid.push(w.value);
    }
    let (provider_paid, owner_paid, refunded) = (paid[0], paid[1], paid[2]);
    ensure!(
        provider_paid + owner_paid + refunded == escrow,
        "payments do not add up to the escrow"
    );

    let eth = |x: U256| format!("{:.6}", x.to::<u128>() as f64 / 1e18);
    if json_out {
        super::print_json(&json!({
            "backend": backend.id(),
            "chain": s.chain.describe(),
            "request_id": request_id.to_string(),
            "n_in": claim.n_in,
            "n_out": claim.n_out,
            "escrow": escrow.to_string(),
            "provider_paid": provider_paid.to_string(),
            "owner_paid": owner_paid.to_string(),
            "refunded": refunded.to_string(),
            "verify_gas": verify_gas,
            "settle_gas": settled.gas_used,
            "prove_seconds": prove_seconds,
            "proof_bytes": claim.proof.len(),
            "verifier_parts": manifest.parts.iter().map(|p| p.runtime_size).collect::<Vec<_>>(),
            "workdir": workdir.map(|_| work.clone()),
        }));
    } else {
        println!("backend        {}", backend.id());
        println!(
            "request        #{request_id}: n_in {}, n_out {}",
            claim.n_in, claim.n_out
        );
        println!(
            "proof          {} bytes, proved in {prove_seconds:.2} s",
            claim.proof.len()
        );
        println!(
            "verifier       {} part(s) of {} bytes + adapter",
            manifest.parts.len(),
            manifest
                .parts
                .iter()
                .map(|p| p.runtime_size.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!("escrow         {} ETH", eth(escrow));
        println!("provider paid  {} ETH", eth(provider_paid));
        println!(
            "owner paid     {} ETH (royalty {}%)",
            eth(owner_paid),
            ROYALTY_BPS / 100
        );
        println!("refunded       {} ETH", eth(refunded));
        println!("verify gas     {verify_gas}");
        println!("settle gas     {}", settled.gas_used);
        if workdir.is_some() {
            println!("artifacts in   {}", work.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
