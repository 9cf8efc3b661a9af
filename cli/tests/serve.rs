//! `zkinfer serve` as a provider runs it and `zkinfer client` as clients do: the real binary,
//! listening on 127.0.0.1 on a free port, on an embedded chain state file it shares with the
//! clients, stopped by its pid. Every payment is checked against the chain's events and credits.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use alloy::sol_types::SolEvent;
use common::{chain_at, deploy_and_register, example, ok, zkinfer_env};
use serde_json::{json, Value};
use zkinfer_contracts::chain::embedded::Embedded;
use zkinfer_contracts::chain::Chain;
use zkinfer_contracts::settlement::ISettlement::RequestSettled;
use zkinfer_contracts::settlement::Settlement;

const PROVIDER: &str = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
const OWNER: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
/// deploy_and_register's prices and royalty.
const PRICE_IN: u64 = 100;
const PRICE_OUT: u64 = 1000;
const ROYALTY_BPS: u64 = 1000;
const MAX_IN: &str = "3";
const MAX_OUT: &str = "20";

/// A compiled and set-up MLP with its verifier deployed and registered on a fresh state file.
struct Market {
    tmp: tempfile::TempDir,
    state: String,
    settlement: String,
    model_id: String,
}

impl Market {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let t = |p: &str| tmp.path().join(p).display().to_string();
        let z = |args: &[&str]| ok(&zkinfer_env(args, &[]));
        z(&["compile", &example("mlp.onnx"), "-o", &t("model"), "--json"]);
        z(&["setup", &t("model"), "--dev-srs", "--json"]);
        z(&["verifier", &t("model"), "-o", &t("verifier"), "--json"]);
        let state = t("chain.json");
        let (settlement, model_id) = deploy_and_register(&state, &t("verifier"));
        Market {
            state,
            settlement,
            model_id,
            tmp,
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.tmp.path().join(p)
    }

    /// Writes a service configuration serving this model (and `extra` fields) and returns its path.
    fn config(&self, name: &str, extra: Value) -> PathBuf {
        let mut c = json!({
            "store": format!("{name}.sqlite"),
            "chain": { "state": "chain.json" },
            "settlement": self.settlement,
            "models": [{ "dir": "model", "model_id": self.model_id.parse::<u64>().unwrap() }],
            "dev_account": 2,
            "poll_ms": 50,
            "prove_seconds_estimate": 5.0,
        });
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let path = self.path(&format!("{name}.json"));
        std::fs::write(&path, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
        path
    }

    /// `zkinfer client submit` as client `dev`, writing ticket `name`.
    fn submit(&self, server: &str, dev: &str, name: &str) -> Value {
        let ticket = self.path(name).display().to_string();
        ok(&self.client(
            dev,
            &[
                "submit",
                "--server",
                server,
                "--settlement",
                &self.settlement,
                "--model-id",
                &self.model_id,
                "--model",
                &self.path("model").display().to_string(),
                "--input",
                &example("input.json"),
                "--max-in",
                MAX_IN,
                "--max-out",
                MAX_OUT,
                "-o",
                &ticket,
            ],
        ))
    }

    fn client(&self, dev: &str, args: &[&str]) -> std::process::Output {
        let mut a = vec![
            "client",
            "--state",
            &self.state,
            "--dev-account",
            dev,
            "--json",
        ];
        a.extend_from_slice(args);
        zkinfer_env(&a, &[])
    }

    /// Every `RequestSettled` event, by request id.
    fn settlements(&self) -> BTreeMap<U256, Vec<RequestSettled>> {
        let address: Address = self.settlement.parse().unwrap();
        Embedded::with_locked(Path::new(&self.state), false, |c| {
            c.logs(address, &[RequestSettled::SIGNATURE_HASH])
        })
        .unwrap()
        .iter()
        .map(|l| RequestSettled::decode_log(l).unwrap().data)
        .fold(BTreeMap::new(), |mut m, e| {
            m.entry(e.requestId).or_insert_with(Vec::new).push(e);
            m
        })
    }

    fn credits(&self, who: &str) -> U256 {
        let address: Address = self.settlement.parse().unwrap();
        Embedded::with_locked(Path::new(&self.state), false, |c| {
            Settlement { chain: c, address }.credits(Address::ZERO, who.parse().unwrap())
        })
        .unwrap()
    }
}

/// A running `zkinfer serve`, killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(config: &Path) -> Self {
        let log = std::fs::File::create(config.with_extension("log")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_zkinfer"))
            .args(["serve", "--config"])
            .arg(config)
            .args(["--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "zkinfer_serve=info")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("zkinfer serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let started: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
            panic!(
                "serve printed {line:?} ({e}); log: {}",
                std::fs::read_to_string(config.with_extension("log")).unwrap_or_default()
            )
        });
        Server {
            child,
            url: started["listening"].as_str().unwrap().to_string(),
        }
    }

    fn get(&self, path: &str) -> (u16, Value) {
        let r = reqwest::blocking::get(format!("{}{path}", self.url)).unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    }

    fn post(&self, body: impl Into<reqwest::blocking::Body>) -> (u16, Value) {
        let r = reqwest::blocking::Client::new()
            .post(format!("{}/v1/requests", self.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    }

    /// Polls a request until it is in one of `states`.
    fn wait_for(&self, id: &str, states: &[&str], timeout: Duration) -> Value {
        let start = Instant::now();
        loop {
            let (_, v) = self.get(&format!("/v1/requests/{id}"));
            if states.iter().any(|s| v["state"] == *s) {
                return v;
            }
            assert!(
                start.elapsed() < timeout,
                "request {id} stuck in {}",
                v["state"]
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a settled request cost at the registered prices.
fn cost(e: &RequestSettled) -> u64 {
    e.nIn * PRICE_IN + e.nOut * PRICE_OUT
}

/// Each request settled exactly once, paid exactly its usage, the rest refunded; the provider's
/// and owner's credits are the sums.
fn assert_paid_once(m: &Market, ids: &[U256]) {
    let settled = m.settlements();
    let escrow = 3 * PRICE_IN + 20 * PRICE_OUT;
    let (mut provider, mut owner) = (0u64, 0u64);
    for id in ids {
        let events = settled.get(id).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(
            events.len(),
            1,
            "request {id:#x} settled {} times",
            events.len()
        );
        let e = &events[0];
        let royalty = cost(e) * ROYALTY_BPS / 10_000;
        assert_eq!(e.royalty, U256::from(royalty));
        assert_eq!(e.providerAmount, U256::from(cost(e) - royalty));
        assert_eq!(e.refund, U256::from(escrow - cost(e)));
        provider += cost(e) - royalty;
        owner += royalty;
    }
    assert_eq!(settled.len(), ids.len(), "no other request was settled");
    assert_eq!(m.credits(PROVIDER), U256::from(provider));
    assert_eq!(m.credits(OWNER), U256::from(owner));
}

fn id_of(v: &Value) -> U256 {
    v["request_id"].as_str().unwrap().parse().unwrap()
}

#[test]
fn many_clients_at_once_each_request_settled_once() {
    let m = Market::new();
    let server = Server::start(&m.config("serve", json!({ "workers": 1 })));
    let clients = 4;
    let per_client = 16;
    let ids: Vec<(String, U256)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let (m, url) = (&m, &server.url);
                s.spawn(move || {
                    (0..per_client)
                        .map(|i| {
                            let name = format!("ticket-{c}-{i}.json");
                            // clients on the deployer's and the client's accounts, apart from the payees
                            let dev = if c % 2 == 0 { "3" } else { "0" };
                            let v = m.submit(url, dev, &name);
                            (name, id_of(&v))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(ids.len(), clients * per_client);
    for (ticket, _) in &ids {
        let ticket = m.path(ticket).display().to_string();
        let v = ok(&m.client("3", &["wait", &ticket, "--timeout", "900"]));
        assert_eq!(v["checked"], true, "{v}");
        assert_eq!(v["output_matches_chain"], true);
        assert_eq!(v["proof_valid"], true);
    }
    let ids: Vec<U256> = ids.into_iter().map(|(_, id)| id).collect();
    assert_paid_once(&m, &ids);
    let (status, health) = server.get("/health");
    assert_eq!(status, 200);
    assert_eq!(health["jobs"]["settled"], ids.len());
    for s in [
        "received", "proving", "proved", "settling", "refused", "expired",
    ] {
        assert_eq!(health["jobs"][s], 0, "{s}");
    }
    let metrics = reqwest::blocking::get(format!("{}/metrics", server.url))
        .unwrap()
        .text()
        .unwrap();
    assert!(metrics.contains("zkinfer_queue_depth 0"), "{metrics}");
    assert!(metrics.contains(&format!("zkinfer_settlements_total {}", ids.len())));
}

impl Market {
    /// Opens a request for the example input with `chain request`, without posting it; returns
    /// its id (decimal, as the CLI prints it).
    fn open(&self, model_id: &str, salt: &str, max_in: &str, deadline_in: &str) -> String {
        let model = self.path("model").display().to_string();
        let v = ok(&chain_at(
            &self.state,
            "3",
            &[
                "request",
                "--settlement",
                &self.settlement,
                "--model-id",
                model_id,
                "--model",
                &model,
                "--input",
                &example("input.json"),
                "--salt",
                salt,
                "--max-in",
                max_in,
                "--max-out",
                MAX_OUT,
                "--deadline-in",
                deadline_in,
            ],
        ));
        v["request_id"].as_str().unwrap().to_string()
    }
}

/// The example input's rows, as a client posts them.
fn input_rows() -> Value {
    let v: Value = serde_json::from_slice(&std::fs::read(example("input.json")).unwrap()).unwrap();
    v["input"].clone()
}

fn error_of(v: &Value) -> &str {
    v["error"].as_str().unwrap_or_default()
}

#[test]
fn bad_openings_get_a_4xx_naming_the_problem_and_nothing_is_queued() {
    let m = Market::new();
    // A second model (its own verifier deployment) that this server does not serve.
    let verifier2 = ok(&chain_at(
        &m.state,
        "0",
        &[
            "deploy",
            "verifier",
            &m.path("verifier").display().to_string(),
        ],
    ))["verifier"]
        .as_str()
        .unwrap()
        .to_string();
    let other_model = ok(&chain_at(
        &m.state,
        "1",
        &[
            "register",
            "--settlement",
            &m.settlement,
            "--verifier",
            &verifier2,
            "--owner",
            OWNER,
            "--provider",
            PROVIDER,
            "--royalty-bps",
            "0",
            "--price-in",
            "1",
            "--price-out",
            "1",
        ],
    ))["model_id"]
        .as_str()
        .unwrap()
        .to_string();
    let server = Server::start(&m.config(
        "serve",
        json!({ "limits": { "max_body_bytes": 65536, "max_queue": 8 } }),
    ));
    let salt = "0x1234";
    let id = m.open(&m.model_id, salt, MAX_IN, "3600");
    let other = m.open(&other_model, salt, MAX_IN, "3600");
    let tight = m.open(&m.model_id, salt, "0", "3600");
    let rows = input_rows();
    let opening = |id: &str, salt: &str| json!({ "request_id": id, "salt": salt, "input": rows });
    let cases: Vec<(String, u16, &str)> = vec![
        ("{\"request_id\": ".into(), 400, "malformed opening"),
        (
            json!({ "request_id": id, "salt": salt, "inputs": rows }).to_string(),
            400,
            "unknown field",
        ),
        (
            json!({ "request_id": id, "salt": salt, "input": rows, "pad": "x".repeat(70_000) })
                .to_string(),
            413,
            "request body",
        ),
        (opening("0x99", salt).to_string(), 404, "never opened"),
        (opening("not a number", salt).to_string(), 400, "request id"),
        (opening(&id, "0x1235").to_string(), 400, "does not open"),
        (
            json!({ "request_id": id, "salt": salt, "input": [[0.5, 0.25]] }).to_string(),
            400,
            "input",
        ),
        (
            json!({ "request_id": id, "salt": salt, "prompt": "hi", "max_tokens": 2 }).to_string(),
            400,
            "not a prompt",
        ),
        (opening(&other, salt).to_string(), 400, "does not serve"),
        (
            opening(&tight, salt).to_string(),
            400,
            "pays for at most 0 input",
        ),
    ];
    for (body, status, says) in cases {
        let (got, v) = server.post(body.clone());
        assert_eq!(got, status, "{body:.80}: {v}");
        assert!(error_of(&v).contains(says), "{body:.80}: {v}");
        // one problem named once: the body is not echoed back
        assert!(error_of(&v).len() < 400, "{v}");
    }
    let (status, health) = server.get("/health");
    assert_eq!(status, 200);
    for s in ["received", "proving", "proved", "settling", "settled"] {
        assert_eq!(health["jobs"][s], 0, "nothing was queued ({s})");
    }
    assert_eq!(server.get("/v1/requests/0x99").0, 404);
    assert_eq!(server.get("/v1/requests/xyz").0, 400);
    // the follower saw the request opened, before any opening
    assert_eq!(
        server.get(&format!("/v1/requests/{id}")).1["state"],
        "awaiting_opening"
    );

    // still serving: the right opening is taken once, and settled
    let (got, v) = server.post(opening(&id, salt).to_string());
    assert_eq!(got, 202, "{v}");
    let (again, v) = server.post(opening(&id, salt).to_string());
    assert_eq!(again, 409, "{v}");
    assert!(error_of(&v).contains("already received"));
    let done = server.wait_for(&id, &["settled"], Duration::from_secs(300));
    assert_eq!(done["result"]["n_in"], 1);
    assert_eq!(done["result"]["n_out"], 1);
    assert!(done["settlement"]["gas"].as_u64().unwrap() > 100_000);
    let (late, v) = server.post(opening(&id, salt).to_string());
    assert_eq!(late, 409, "{v}");
    assert_paid_once(&m, &[id.parse().unwrap()]);

    // a second server on the same store is refused: the first one owns its leases
    let out = zkinfer_env(
        &[
            "serve",
            "--config",
            &m.path("serve.json").display().to_string(),
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use by another zkinfer serve"));
}

#[test]
fn a_killed_server_resumes_and_settles_each_request_exactly_once() {
    let m = Market::new();
    let config = m.config("serve", json!({}));
    let state = PathBuf::from(&m.state);
    let long = Duration::from_secs(300);

    // Killed while proving: the restarted server proves it again and settles.
    let server = Server::start(&config);
    let a = m.submit(&server.url, "3", "a.json")["request_id"]
        .as_str()
        .unwrap()
        .to_string();
    server.wait_for(&a, &["proving"], long);
    server.kill();
    let server = Server::start(&config);
    let done = server.wait_for(&a, &["settled", "refused", "expired"], long);
    assert_eq!(done["state"], "settled", "{done}");
    assert_eq!(done["attempts"], 2);

    // Killed while settling (the chain held, so the settlement waits on it).
    let b = m.submit(&server.url, "3", "b.json")["request_id"]
        .as_str()
        .unwrap()
        .to_string();
    server.wait_for(&b, &["proving"], long);
    let lock = Embedded::lock(&state).unwrap();
    server.wait_for(&b, &["settling"], long);
    server.kill();
    drop(lock);
    let server = Server::start(&config);
    let done = server.wait_for(&b, &["settled", "refused", "expired"], long);
    assert_eq!(done["state"], "settled", "{done}");

    // Killed while settling, and the settlement landed before it died: the restarted server
    // finds the request settled on-chain and records it without sending again.
    let c = m.submit(&server.url, "3", "c.json")["request_id"]
        .as_str()
        .unwrap()
        .to_string();
    server.wait_for(&c, &["proving"], long);
    let lock = Embedded::lock(&state).unwrap();
    let job = server.wait_for(&c, &["settling"], long);
    server.kill();
    drop(lock);
    let proof = m.path("c-proof.json");
    std::fs::write(&proof, job["proof"].to_string()).unwrap();
    ok(&chain_at(
        &m.state,
        "0",
        &[
            "settle",
            "--settlement",
            &m.settlement,
            &proof.display().to_string(),
        ],
    ));
    let server = Server::start(&config);
    let done = server.wait_for(&c, &["settled", "refused", "expired"], long);
    assert_eq!(done["state"], "settled", "{done}");
    assert_eq!(done["settlement"]["earlier"], true, "{done}");

    assert_paid_once(&m, &[&a, &b, &c].map(|s| s.parse().unwrap()));
    let t = |n: &str| m.path(n).display().to_string();
    for ticket in ["a.json", "b.json", "c.json"] {
        let v = ok(&m.client(
            "3",
            &[
                "wait",
                &t(ticket),
                "--server",
                &server.url,
                "--timeout",
                "60",
            ],
        ));
        assert_eq!(v["checked"], true, "{v}");
    }
}

#[test]
fn a_request_its_proof_cannot_meet_in_time_is_skipped_with_a_reason() {
    let m = Market::new();
    // Proving is assumed to take an hour until timed; the request has ten minutes.
    let server = Server::start(&m.config("serve", json!({ "prove_seconds_estimate": 3600.0 })));
    let salt = "0x77";
    let id = m.open(&m.model_id, salt, MAX_IN, "600");
    server.wait_for(&id, &["awaiting_opening"], Duration::from_secs(60));
    let (got, v) =
        server.post(json!({ "request_id": id, "salt": salt, "input": input_rows() }).to_string());
    assert_eq!(got, 202, "{v}");
    let done = server.wait_for(
        &id,
        &["settled", "refused", "expired"],
        Duration::from_secs(120),
    );
    assert_eq!(done["state"], "expired", "{done}");
    assert!(
        done["reason"]
            .as_str()
            .unwrap()
            .contains("would pass before the proof is ready"),
        "{done}"
    );
    assert!(done["proof"].is_null(), "nothing was proved");
    assert!(m.settlements().is_empty());
}

#[test]
fn demo_serve_settles_every_client_and_accounts_for_every_wei() {
    let v = ok(&zkinfer_env(
        &["demo", "--serve", "--requests", "3", "--json"],
        &[],
    ));
    assert_eq!(v["requests"], 3);
    assert_eq!(v["settled"], 3);
    assert!(v["throughput_per_min"].as_f64().unwrap() > 0.0);
    let wei = |k: &str| v[k].as_str().unwrap().parse::<u128>().unwrap();
    // the demo's terms: 1 sample in at 0.001 ETH, 1 out at 0.002 ETH, 10% royalty, maxima 2 and 2
    assert_eq!(wei("escrow"), 3 * 6_000_000_000_000_000);
    assert_eq!(wei("provider_paid"), 3 * 2_700_000_000_000_000);
    assert_eq!(wei("owner_paid"), 3 * 300_000_000_000_000);
    assert_eq!(wei("refunded"), 3 * 3_000_000_000_000_000);
}

#[path = "../../serve/tests/common/pg.rs"]
mod pg;

/// `zkinfer serve --workers-only` on a shared store, killed when dropped.
fn workers_only(config: &Path, name: &str) -> Child {
    let log = std::fs::File::create(config.with_file_name(format!("{name}.log"))).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_zkinfer"))
        .args(["serve", "--workers-only", "--config"])
        .arg(config)
        .env("RUST_LOG", "zkinfer_serve=info")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("zkinfer serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("\"workers\""), "workers started: {line:?}");
    child
}

#[test]
fn two_workers_over_postgresql_settle_every_request_once() {
    let pg = pg::Pg::start();
    let m = Market::new();
    // One server in front (API, follower, one worker) and a second machine's worker behind it.
    let front = Server::start(&m.config("front", json!({ "store": pg.url })));
    let mut second = workers_only(&m.config("back", json!({ "store": pg.url })), "back");
    let tickets: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|c| {
                let (m, url) = (&m, &front.url);
                s.spawn(move || {
                    (0..8)
                        .map(|i| {
                            let name = format!("t-{c}-{i}.json");
                            m.submit(url, if c == 0 { "3" } else { "0" }, &name);
                            name
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let mut ids = Vec::new();
    let mut workers = BTreeMap::new();
    for t in &tickets {
        let v = ok(&m.client("3", &["wait", &m.path(t).display().to_string()]));
        assert_eq!(v["checked"], true, "{v}");
        *workers
            .entry(v["settlement"]["worker"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
        ids.push(id_of(&v));
    }
    assert_paid_once(&m, &ids);
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
    let pg = pg::Pg::start();
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
    let node = |dev: &str, args: &[&str]| {
        let mut a = vec!["chain", "--rpc-url", &url, "--dev-account", dev, "--json"];
        a.extend_from_slice(args);
        ok(&zkinfer_env(&a, &[]))
    };
    let field = |v: Value, k: &str| v[k].as_str().unwrap().to_string();
    let verifier = field(
        node(
            "0",
            &[
                "deploy",
                "verifier",
                &m.path("verifier").display().to_string(),
            ],
        ),
        "verifier",
    );
    let settlement = field(node("0", &["deploy", "settlement"]), "settlement");
    let model_id = field(
        node(
            "1",
            &[
                "register",
                "--settlement",
                &settlement,
                "--verifier",
                &verifier,
                "--owner",
                OWNER,
                "--provider",
                PROVIDER,
                "--royalty-bps",
                "1000",
                "--price-in",
                "100",
                "--price-out",
                "1000",
            ],
        ),
        "model_id",
    );
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
    std::thread::sleep(Duration::from_secs(4));
    let waiting = server.wait_for(&id, &["proved", "settling"], Duration::from_secs(60));
    assert!(
        waiting["attempts"].as_u64().unwrap() >= 2,
        "retried: {waiting}"
    );
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
