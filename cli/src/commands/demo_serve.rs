//! `zkinfer demo --serve`: the provider's service end to end on an example model (the MLP, or the
//! tiny GPT generating text paid per token). The model is
//! compiled, set up, its verifier deployed with Settlement on an embedded chain saved to a state
//! file, and `zkinfer serve` started in this process on a free port; N clients then each open a
//! request, post its opening, wait for the settlement and check the proof and the output read
//! from the chain, all at once. Prints throughput and the payments' sums.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use alloy::primitives::U256;
use anyhow::{ensure, Context, Result};
use serde_json::json;
use zkinfer_contracts::artifact::build;
use zkinfer_contracts::solc::Solc;
use zkinfer_serve::config::{ChainConfig, Config, Limits, ModelConfig};
use zkinfer_serve::store::StoreConfig;
use zkinfer_serve::{Options, Service};

use super::chain::{ChainOpts, RequestArgs};
use super::demo::{
    fresh_market, prepare_gpt, prepare_mlp, step, DemoModel, GptOptions, Job, Workspace,
};

/// The clients' dev account (the demo's client).
const CLIENT: usize = 3;
/// The provider's dev account, which the service signs with.
const PROVIDER: usize = 2;

pub fn run(
    model: DemoModel,
    backend: super::Backend,
    gpt: &GptOptions,
    requests: usize,
    workers: usize,
    workdir: Option<&Path>,
    json_out: bool,
) -> Result<ExitCode> {
    ensure!(requests >= 1, "--requests must be at least 1");
    let ws = Workspace::new(workdir)?;
    let (dir, work) = (&ws.dir, &ws.work);
    let (job, t) = match model {
        DemoModel::Mlp => prepare_mlp(backend, &ws.example, dir, json_out)?,
        DemoModel::TinyGpt => prepare_gpt(backend, gpt, &ws.example, dir, json_out)?,
    };

    step(
        json_out,
        "deploy the verifier and Settlement; register the model",
    );
    let solc = Solc::find()?;
    let verifier = build(dir, &solc)?;
    let (chain, _, settlement, model_id) = fresh_market(&solc, &verifier, &t)?;
    let state = work.join("chain.json");
    chain.save(&state)?;

    step(
        json_out,
        &format!("start zkinfer serve with {workers} worker(s)"),
    );
    let config = Config {
        listen: "127.0.0.1:0".into(),
        store: StoreConfig::Sqlite(work.join("jobs.sqlite")),
        chain: ChainConfig::State(state.clone()),
        settlement,
        models: vec![ModelConfig {
            dir: dir.dir.clone(),
            model_id: model_id.to::<u64>(),
        }],
        key_file: None,
        dev_account: Some(PROVIDER),
        workers,
        poll_ms: 100,
        lease_seconds: 600,
        start_block: 0,
        prove_seconds_estimate: 30.0,
        limits: Limits::default(),
    };
    std::fs::write(
        work.join("serve.json"),
        serde_json::to_vec_pretty(&config).expect("configs serialize"),
    )?;
    let service = Service::start(&config, &Options::default())?;
    let server = format!(
        "http://{}",
        service.addr.expect("a service with its API listens")
    );

    step(
        json_out,
        &format!("{requests} clients submit requests at once and wait for their outputs"),
    );
    let start = Instant::now();
    let input = ws.example.join("input.json");
    let results: Vec<Result<serde_json::Value>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..requests)
            .map(|_| {
                let args = request_args(settlement, model_id, &dir.dir, &input, &job, &t);
                let (state, server) = (state.clone(), server.clone());
                s.spawn(move || client(&state, &server, &args))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client threads do not panic"))
            .collect()
    });
    let seconds = start.elapsed().as_secs_f64();
    service.shutdown()?;

    let mut sums = [U256::ZERO; 4];
    let mut settled = 0;
    let mut latencies = Vec::new();
    let mut sample = serde_json::Value::Null;
    for r in results {
        let r = r?;
        latencies.push(r["latency_seconds"].as_f64().unwrap_or(0.0));
        sample = r["output"].clone();
        ensure!(r["checked"] == true, "a client's check failed: {r}");
        settled += 1;
        let paid = &r["settlement"]["payments"];
        let field = |v: &serde_json::Value| -> Result<U256> {
            Ok(v.as_str().context("a payment")?.parse()?)
        };
        sums[0] += field(&r["escrow"])?;
        sums[1] += field(&paid["provider_paid"])?;
        sums[2] += field(&paid["owner_paid"])?;
        sums[3] += field(&paid["refunded"])?;
    }
    ensure!(
        sums[0] == sums[1] + sums[2] + sums[3],
        "escrow {} is not what was paid and refunded",
        sums[0]
    );
    let report = json!({
        "model": t.label, "backend": backend.id(), "workers": workers,
        "requests": requests, "settled": settled, "seconds": seconds,
        "throughput_per_min": requests as f64 / seconds * 60.0,
        "latency_seconds_mean": latencies.iter().sum::<f64>() / latencies.len() as f64,
        "latency_seconds_max": latencies.iter().cloned().fold(0.0, f64::max),
        "output": sample,
        "escrow": sums[0].to_string(), "provider_paid": sums[1].to_string(),
        "owner_paid": sums[2].to_string(), "refunded": sums[3].to_string(),
        "server": server, "workdir": workdir.map(Path::to_path_buf),
    });
    if json_out {
        super::print_json(&report);
    } else {
        println!(
            "{settled} of {requests} requests settled in {seconds:.1} s ({:.1} a minute) by {workers} worker(s)",
            requests as f64 / seconds * 60.0
        );
        println!(
            "escrow {} wei: provider {} + owner {} + refunds {}",
            sums[0], sums[1], sums[2], sums[3]
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn request_args(
    settlement: alloy::primitives::Address,
    model_id: U256,
    model: &Path,
    input: &Path,
    job: &Job,
    t: &super::demo::Terms,
) -> RequestArgs {
    let (input, prompt, max_tokens) = match job {
        Job::Mlp { .. } => (Some(input.to_path_buf()), None, None),
        Job::Gpt {
            prompt, max_tokens, ..
        } => (None, Some(prompt.clone()), Some(*max_tokens as u64)),
    };
    RequestArgs {
        settlement,
        model_id,
        nonce: None,
        input_commitment: None,
        model: Some(model.to_path_buf()),
        input,
        prompt,
        prompt_tokens: Vec::new(),
        max_tokens,
        salt: None,
        max_in: t.max_in,
        max_out: t.max_out,
        deadline_in: 3600,
    }
}

/// One client: submit, wait, check; the report with the escrow added.
fn client(state: &Path, server: &str, args: &RequestArgs) -> Result<serde_json::Value> {
    let start = Instant::now();
    let opts = ChainOpts::embedded(PathBuf::from(state), CLIENT);
    let ticket = super::client::submit(&opts, server, args)?;
    let mut report = super::client::wait(&opts, &ticket, Duration::from_secs(1800))?;
    report["escrow"] = json!(ticket.escrow);
    report["latency_seconds"] = json!(start.elapsed().as_secs_f64());
    Ok(report)
}
