//! `zkinfer serve` beyond one machine: workers on two "machines" (processes) sharing a real
//! PostgreSQL, a worker killed mid-proof, and a node (anvil) that goes away for a while.

mod common;

use std::time::Duration;

use alloy::sol_types::SolEvent;
use common::pg::Pg;
use common::service::*;
use common::{deploy_and_register_on, example, ok, zkinfer_env};
use serde_json::json;
use zkinfer_contracts::chain::Chain;
use zkinfer_contracts::settlement::ISettlement::RequestSettled;

#[test]
fn two_workers_over_postgresql_settle_every_request_once() {
    let pg = Pg::start();
    let m = Market::new();
    // One server in front (API, follower, one worker) and a second machine's worker behind it.
    let front = Server::start(&m.config("front", json!({ "store": pg.url })));
    let mut second = workers_only(&m.config("back", json!({ "store": pg.url })), "back");
    let jobs = load(&m, &front, 4, 16);
    let ids: Vec<_> = jobs.iter().map(|(id, _)| *id).collect();
    assert_paid_once(&m, &ids);
    let mut workers = std::collections::BTreeMap::new();
    for (_, job) in &jobs {
        *workers
            .entry(job["settlement"]["worker"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    assert_eq!(
        workers.len(),
        2,
        "both machines' workers settled some: {workers:?}"
    );
    second.kill().unwrap();
    second.wait().unwrap();
}

#[test]
fn a_worker_killed_mid_proof_loses_its_job_when_its_lease_runs_out() {
    let pg = Pg::start();
    let m = Market::new();
    let front = Server::start(&m.config("front", json!({ "store": pg.url, "workers": 0 })));
    // Short leases: proving is assumed to take half a second, the lease covers four times that.
    let back = m.config(
        "back",
        json!({ "store": pg.url, "lease_seconds": 2, "prove_seconds_estimate": 0.5 }),
    );
    let mut first = workers_only(&back, "first");
    let id = m.submit(&front.url, "3", "t.json")["request_id"]
        .as_str()
        .unwrap()
        .to_string();
    front.wait_for(&id, &["proving"], Duration::from_secs(120));
    first.kill().unwrap();
    first.wait().unwrap();
    let mut second = workers_only(&back, "second");
    let done = front.wait_for(
        &id,
        &["settled", "refused", "expired"],
        Duration::from_secs(300),
    );
    assert_eq!(done["state"], "settled", "{done}");
    assert_eq!(done["attempts"], 2, "claimed again once the lease ran out");
    assert_paid_once(&m, &[id.parse().unwrap()]);
    second.kill().unwrap();
    second.wait().unwrap();
}

#[test]
fn the_chain_unreachable_for_a_while_is_retried_and_no_job_is_lost() {
    use zkinfer_contracts::chain::anvil::Anvil;
    let m = Market::new();
    let anvil_state = m.path("anvil-state.json");
    let anvil = Anvil::start_with(None, Some(&anvil_state)).unwrap();
    let (url, port) = (anvil.url.clone(), anvil.port());
    let node = |args: &[&str], dev: &str| {
        let mut a = vec!["chain", "--rpc-url", &url, "--dev-account", dev, "--json"];
        a.extend_from_slice(args);
        zkinfer_env(&a, &[])
    };
    let (settlement, model_id) =
        deploy_and_register_on(&node, &m.path("verifier").display().to_string());
    let config = m.config(
        "serve",
        json!({ "chain": { "rpc_url": url }, "settlement": settlement,
                "models": [{ "dir": "model", "model_id": model_id.parse::<u64>().unwrap() }] }),
    );
    let server = Server::start(&config);
    let ticket = m.path("t.json").display().to_string();
    let model = m.path("model").display().to_string();
    let input = example("input.json");
    let submitted = ok(&zkinfer_env(
        &[
            "client",
            "--rpc-url",
            &url,
            "--dev-account",
            "3",
            "--json",
            "submit",
            "--server",
            &server.url,
            "--settlement",
            &settlement,
            "--model-id",
            &model_id,
            "--model",
            &model,
            "--input",
            &input,
            "--max-in",
            MAX_IN,
            "--max-out",
            MAX_OUT,
            "-o",
            &ticket,
        ],
        &[],
    ));
    let id = submitted["request_id"].as_str().unwrap().to_string();
    server.wait_for(&id, &["proving"], Duration::from_secs(120));
    // The node goes away while the job is being proved: settling cannot reach it.
    anvil.stop();
    // The job waits in its state and is claimed again and again, with backoff.
    let start = std::time::Instant::now();
    loop {
        let (_, job) = server.get(&format!("/v1/requests/{id}"));
        assert!(
            job["state"] == "proved" || job["state"] == "settling" || job["state"] == "proving",
            "nothing ends while the chain is away: {job}"
        );
        if job["attempts"].as_u64().unwrap() >= 2 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "never retried: {job}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let metrics = reqwest::blocking::get(format!("{}/metrics", server.url))
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("zkinfer_failures_total{kind=\"chain\"}"),
        "{metrics}"
    );
    // Back on the same port with the same chain: the job settles, once.
    let _anvil = Anvil::start_with(Some(port), Some(&anvil_state)).unwrap();
    let done = server.wait_for(
        &id,
        &["settled", "refused", "expired"],
        Duration::from_secs(120),
    );
    assert_eq!(done["state"], "settled", "{done}");
    let v = ok(&zkinfer_env(
        &[
            "client",
            "--rpc-url",
            &url,
            "--dev-account",
            "3",
            "--json",
            "wait",
            &ticket,
        ],
        &[],
    ));
    assert_eq!(v["checked"], true, "{v}");
    let settled =
        zkinfer_contracts::chain::rpc::Rpc::connect(&url, &[zkinfer_contracts::keys::dev(0)])
            .unwrap()
            .logs(
                settlement.parse().unwrap(),
                &[RequestSettled::SIGNATURE_HASH],
            )
            .unwrap();
    assert_eq!(settled.len(), 1, "settled exactly once");
}
