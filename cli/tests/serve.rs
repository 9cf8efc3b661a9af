//! `zkinfer serve` on one machine, as a provider runs it, and `zkinfer client` as clients do: the
//! real binary on an embedded chain state file it shares with the clients, a SQLite store.
//! Every payment is checked against the chain's events and credits.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::service::*;
use common::{chain_at, ok, zkinfer_env};
use serde_json::json;
use zkinfer_contracts::chain::embedded::Embedded;

#[test]
fn many_clients_at_once_each_request_settled_once() {
    let m = Market::new();
    let server = Server::start(&m.config("serve", json!({ "workers": 1 })));
    let jobs = load(&m, &server, 4, 16);
    let ids: Vec<_> = jobs.iter().map(|(id, _)| *id).collect();
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

#[test]
fn a_served_decoder_refuses_prompts_its_circuit_cannot_take() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |p: &str| tmp.path().join(p).display().to_string();
    let decoder = |f: &str| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/decoder")
            .join(f)
            .display()
            .to_string()
    };
    let z = |args: &[&str]| ok(&zkinfer_env(args, &[]));
    z(&[
        "compile",
        &decoder("decoder.onnx"),
        "--calibration",
        &decoder("decoder.calibration.json"),
        "--prompt-slots",
        "8",
        "--gen-slots",
        "8",
        "--stop-token",
        "none",
        "-o",
        &t("model"),
        "--json",
    ]);
    z(&["setup", &t("model"), "--dev-srs", "--json"]);
    z(&["verifier", &t("model"), "-o", &t("verifier"), "--json"]);
    let state = t("chain.json");
    let (settlement, model_id) = common::deploy_and_register(&state, &t("verifier"));
    let config = tmp.path().join("serve.json");
    let c = json!({
        "store": "jobs.sqlite", "chain": { "state": "chain.json" }, "settlement": settlement,
        "models": [{ "dir": "model", "model_id": model_id.parse::<u64>().unwrap() }],
        "dev_account": 2, "poll_ms": 50,
    });
    std::fs::write(&config, c.to_string()).unwrap();
    let server = Server::start(&config);
    let id = ok(&chain_at(
        &state,
        "3",
        &[
            "request",
            "--settlement",
            &settlement,
            "--model-id",
            &model_id,
            "--input-commitment",
            "0x1234",
            "--max-in",
            "4",
            "--max-out",
            "2",
        ],
    ))["request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let cases = [
        (
            json!({ "prompt_tokens": [33, 35, 36, 37, 38, 39, 40, 41, 42], "max_tokens": 2 }),
            "1 to 8 prompt tokens",
        ),
        (
            json!({ "prompt_tokens": [33, 35], "max_tokens": 9 }),
            "circuit's 8 generated tokens",
        ),
        (
            json!({ "prompt_tokens": [99], "max_tokens": 2 }),
            "outside the vocabulary",
        ),
        (json!({ "prompt_tokens": [33], }), "needs \"max_tokens\""),
        (json!({ "input": [[1.0]] }), "not \"input\""),
        (
            json!({ "prompt_tokens": [33, 35], "max_tokens": 2 }),
            "does not open",
        ),
    ];
    for (fields, says) in cases {
        let mut body = json!({ "request_id": id, "salt": "0x5" });
        body.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        let (status, v) = server.post(body.to_string());
        assert_eq!(status, 400, "{body}: {v}");
        assert!(v["error"].as_str().unwrap().contains(says), "{body}: {v}");
    }
    let (_, health) = server.get("/health");
    for s in ["received", "proving", "proved", "settling", "settled"] {
        assert_eq!(health["jobs"][s], 0, "nothing was queued ({s})");
    }
}
