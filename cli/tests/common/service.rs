//! The service's test harness: a compiled and set-up MLP on a fresh chain, `zkinfer serve` as a
//! child process on 127.0.0.1 on a free port (stopped by its pid), clients through the real CLI,
//! and the checks that every request was paid exactly once.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use alloy::sol_types::SolEvent;
use serde_json::{json, Value};
use zkinfer_contracts::chain::embedded::Embedded;
use zkinfer_contracts::chain::Chain;
use zkinfer_contracts::settlement::ISettlement::RequestSettled;
use zkinfer_contracts::settlement::Settlement;

use super::{chain_at, deploy_and_register, example, ok, zkinfer_env};

pub const PROVIDER: &str = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
pub const OWNER: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
/// deploy_and_register's prices and royalty.
pub const PRICE_IN: u64 = 100;
pub const PRICE_OUT: u64 = 1000;
pub const ROYALTY_BPS: u64 = 1000;
pub const MAX_IN: &str = "3";
pub const MAX_OUT: &str = "20";

/// A compiled and set-up MLP with its verifier deployed and registered on a fresh state file.
pub struct Market {
    pub tmp: tempfile::TempDir,
    pub state: String,
    pub settlement: String,
    pub model_id: String,
}

impl Market {
    pub fn new() -> Self {
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

    pub fn path(&self, p: &str) -> PathBuf {
        self.tmp.path().join(p)
    }

    /// Writes a service configuration serving this model (and `extra` fields) and returns its path.
    pub fn config(&self, name: &str, extra: Value) -> PathBuf {
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
    pub fn submit(&self, server: &str, dev: &str, name: &str) -> Value {
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

    pub fn client(&self, dev: &str, args: &[&str]) -> std::process::Output {
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
    pub fn settlements(&self) -> BTreeMap<U256, Vec<RequestSettled>> {
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

    pub fn credits(&self, who: &str) -> U256 {
        let address: Address = self.settlement.parse().unwrap();
        Embedded::with_locked(Path::new(&self.state), false, |c| {
            Settlement { chain: c, address }.credits(Address::ZERO, who.parse().unwrap())
        })
        .unwrap()
    }
}

/// A running `zkinfer serve`, killed when dropped.
pub struct Server {
    child: Child,
    pub url: String,
}

/// Starts `zkinfer serve --config CONFIG ARGS`, logging to `LOG.log` beside the config; returns
/// the child and the JSON line it prints once started.
fn spawn_serve(config: &Path, args: &[&str], log: &str) -> (Child, Value) {
    let log = config.with_file_name(format!("{log}.log"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_zkinfer"))
        .args(["serve", "--config"])
        .arg(config)
        .args(args)
        .env("RUST_LOG", "zkinfer_serve=info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("zkinfer serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let started = serde_json::from_str(&line).unwrap_or_else(|e| {
        panic!(
            "serve printed {line:?} ({e}); log: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    });
    (child, started)
}

impl Server {
    pub fn start(config: &Path) -> Self {
        let name = config.file_stem().unwrap().to_string_lossy().into_owned();
        let (child, started) = spawn_serve(config, &["--listen", "127.0.0.1:0"], &name);
        Server {
            child,
            url: started["listening"].as_str().unwrap().to_string(),
        }
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        let r = reqwest::blocking::get(format!("{}{path}", self.url)).unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    }

    pub fn post(&self, body: impl Into<reqwest::blocking::Body>) -> (u16, Value) {
        let r = reqwest::blocking::Client::new()
            .post(format!("{}/v1/requests", self.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .unwrap();
        (r.status().as_u16(), r.json().unwrap_or(Value::Null))
    }

    /// Polls a request until it is in one of `states`.
    pub fn wait_for(&self, id: &str, states: &[&str], timeout: Duration) -> Value {
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

    pub fn kill(mut self) {
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
pub fn cost(e: &RequestSettled) -> u64 {
    e.nIn * PRICE_IN + e.nOut * PRICE_OUT
}

/// Each request settled exactly once, paid exactly its usage, the rest refunded; the provider's
/// and owner's credits are the sums.
pub fn assert_paid_once(m: &Market, ids: &[U256]) {
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

pub fn id_of(v: &Value) -> U256 {
    v["request_id"].as_str().unwrap().parse().unwrap()
}

impl Market {
    /// Opens a request for the example input with `chain request`, without posting it; returns
    /// its id (decimal, as the CLI prints it).
    pub fn open(&self, model_id: &str, salt: &str, max_in: &str, deadline_in: &str) -> String {
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
pub fn input_rows() -> Value {
    let v: Value = serde_json::from_slice(&std::fs::read(example("input.json")).unwrap()).unwrap();
    v["input"].clone()
}

pub fn error_of(v: &Value) -> &str {
    v["error"].as_str().unwrap_or_default()
}

/// `zkinfer serve --workers-only` on a shared store, killed when dropped.
pub fn workers_only(config: &Path, name: &str) -> Child {
    let (child, started) = spawn_serve(config, &["--workers-only"], name);
    assert!(started["listening"].is_null(), "workers only: {started}");
    child
}

/// `clients` clients at once, `per_client` requests each, through `zkinfer client submit` (on
/// dev accounts 3 and 0, apart from the payees); waits until the server has ended every request
/// and returns their ids and jobs as `GET` shows them. `client wait` (which verifies the proof and
/// decrypts the output from the chain) runs on the first and the last ticket.
pub fn load(m: &Market, server: &Server, clients: usize, per_client: usize) -> Vec<(U256, Value)> {
    let tickets: Vec<(String, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                s.spawn(move || {
                    (0..per_client)
                        .map(|i| {
                            let name = format!("ticket-{c}-{i}.json");
                            let dev = if c % 2 == 0 { "3" } else { "0" };
                            let v = m.submit(&server.url, dev, &name);
                            (name, v["request_id"].as_str().unwrap().to_string())
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
    assert_eq!(tickets.len(), clients * per_client);
    let jobs: Vec<(U256, Value)> = tickets
        .iter()
        .map(|(_, id)| {
            let job = server.wait_for(
                id,
                &["settled", "refused", "expired"],
                Duration::from_secs(900),
            );
            assert_eq!(job["state"], "settled", "{job}");
            (id.parse().unwrap(), job)
        })
        .collect();
    for (ticket, _) in [&tickets[0], &tickets[tickets.len() - 1]] {
        let v = ok(&m.client(
            "3",
            &[
                "wait",
                &m.path(ticket).display().to_string(),
                "--server",
                &server.url,
            ],
        ));
        assert_eq!(v["checked"], true, "{v}");
        assert_eq!(v["output_matches_chain"], true);
        assert_eq!(v["proof_valid"], true);
    }
    jobs
}
