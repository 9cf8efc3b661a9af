//! `zkinfer client`: the client's side of `zkinfer serve`. `submit` opens a request on-chain and
//! posts its opening to the server, keeping a ticket (request id, salt, opening: the client's
//! secrets); `wait` follows the request until it ends, then checks for itself what it was given:
//! the proof against the model's verifying key and the request's commitment, and the output
//! decrypted from the chain's settlement against what the server returned.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use anyhow::{bail, ensure, Context, Result};
use clap::Subcommand;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use zkinfer_circuits::field::fr_parse;
use zkinfer_contracts::settlement::Settlement;
use zkinfer_prover::artifacts::{read_json, write_json, ModelDir};
use zkinfer_prover::deliver::Delivered;
use zkinfer_prover::keys::load_verifier;
use zkinfer_prover::prove::ProofFile;
use zkinfer_prover::verify::verify_file;
use zkinfer_serve::job::{request_key, Opening};

use super::chain::{open, open_request, settled_output, ChainOpts, RequestArgs};

#[derive(Subcommand)]
pub enum ClientCmd {
    /// Open a request on-chain and post its opening to a zkinfer server. Writes a ticket for
    /// `client wait`; it holds the request's salt, so keep it private.
    Submit {
        /// The server's base URL, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        server: String,
        #[command(flatten)]
        args: RequestArgs,
        /// The ticket file.
        #[arg(short, long)]
        out: PathBuf,
    },
    /// Wait until the server has settled a submitted request; check the proof and the output
    /// read from the chain. Exit 0 if settled and both check out, 1 if not.
    Wait {
        ticket: PathBuf,
        /// Ask this server instead of the one the ticket names (it moved, or restarted elsewhere).
        #[arg(long)]
        server: Option<String>,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
}

/// What `submit` keeps for `wait`.
#[derive(Serialize, Deserialize)]
pub struct Ticket {
    pub server: String,
    pub settlement: Address,
    pub model_id: U256,
    pub model: PathBuf,
    pub request_id: String,
    pub escrow: String,
    pub opening: Opening,
}

pub fn run(opts: &ChainOpts, cmd: ClientCmd, json_out: bool) -> Result<ExitCode> {
    let report = match cmd {
        ClientCmd::Submit { server, args, out } => {
            let ticket = submit(opts, &server, &args)?;
            write_json(&out, &ticket)?;
            json!({ "request_id": ticket.request_id, "escrow": ticket.escrow, "ticket": out, "state": "received" })
        }
        ClientCmd::Wait {
            ticket,
            server,
            timeout,
        } => {
            let mut t: Ticket = read_json(&ticket)
                .with_context(|| format!("{}: not a zkinfer client ticket", ticket.display()))?;
            if let Some(s) = server {
                t.server = s;
            }
            wait(opts, &t, Duration::from_secs(timeout))?
        }
    };
    let ok = report.get("checked").map_or(true, |c| c == true);
    if json_out {
        super::print_json(&report);
    } else {
        for (k, v) in report.as_object().into_iter().flatten() {
            println!("{k}: {v}");
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Opens the request, then posts its opening (the chain is released first: the server reads it).
pub fn submit(opts: &ChainOpts, server: &str, args: &RequestArgs) -> Result<Ticket> {
    let Some(model) = &args.model else {
        bail!("a server needs the opening: give --model with --input, or a prompt");
    };
    let (mut chain, from) = open(opts)?;
    let opened = open_request(chain.chain(), from, args);
    chain.close()?;
    let opened = opened?;
    let request_id = request_key(&opened.request_id);
    let salt = opened.salt.expect("the commitment was computed here");
    let mut opening = Opening {
        request_id: request_id.clone(),
        salt,
        ..Default::default()
    };
    match (&args.input, args.prompt()) {
        (Some(input), _) => opening.input = Some(zkinfer_prover::inputs::read_rows(input)?),
        (None, Some(p)) => {
            opening.prompt_tokens = Some(p.tokens());
            opening.max_tokens = args.max_tokens;
        }
        (None, None) => unreachable!("open_request needs an input or a prompt"),
    }
    post(server, &opening)?;
    Ok(Ticket {
        server: server.trim_end_matches('/').to_string(),
        settlement: args.settlement,
        model_id: args.model_id,
        model: model.clone(),
        request_id,
        escrow: opened.escrow.to_string(),
        opening,
    })
}

/// Posts an opening; the server's refusal becomes an error naming its reason.
pub fn post(server: &str, opening: &Opening) -> Result<Value> {
    let url = format!("{}/v1/requests", server.trim_end_matches('/'));
    let resp = reqwest::blocking::Client::new()
        .post(&url)
        .json(opening)
        .send()
        .with_context(|| format!("cannot reach {url}"))?;
    let status = resp.status();
    let body: Value = resp.json().unwrap_or(Value::Null);
    if !status.is_success() {
        bail!(
            "{url} refused the opening ({status}): {}",
            body["error"].as_str().unwrap_or("no reason given")
        );
    }
    Ok(body)
}

/// The server's view of a request. One `http` client serves every poll: building one loads the
/// system's TLS roots, which costs more CPU than the request.
pub fn status(http: &reqwest::blocking::Client, server: &str, request_id: &str) -> Result<Value> {
    let url = format!("{}/v1/requests/{request_id}", server.trim_end_matches('/'));
    let resp = http
        .get(&url)
        .send()
        .with_context(|| format!("cannot reach {url}"))?;
    let status = resp.status();
    let body: Value = resp.json().with_context(|| format!("{url}: not JSON"))?;
    ensure!(
        status.is_success(),
        "{url}: {status}: {}",
        body["error"].as_str().unwrap_or("no reason given")
    );
    Ok(body)
}

/// Waits for the request to end and checks what the server and the chain delivered.
pub fn wait(opts: &ChainOpts, t: &Ticket, timeout: Duration) -> Result<Value> {
    let start = Instant::now();
    let http = reqwest::blocking::Client::new();
    let job = loop {
        let job = status(&http, &t.server, &t.request_id)?;
        if matches!(
            job["state"].as_str(),
            Some("settled" | "refused" | "expired")
        ) {
            break job;
        }
        ensure!(
            start.elapsed() < timeout,
            "request {} is still {} after {} s",
            t.request_id,
            job["state"],
            timeout.as_secs()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    if job["state"] != "settled" {
        return Ok(json!({
            "request_id": t.request_id, "state": job["state"], "reason": job["reason"], "checked": false,
        }));
    }
    let proof_valid = check_proof(t, &job["proof"])?;
    let id = U256::from_str_radix(t.request_id.trim_start_matches("0x"), 16)?;
    let (mut chain, _) = open(opts)?;
    let settled = settled_output(
        &mut Settlement {
            chain: chain.chain(),
            address: t.settlement,
        },
        id,
    );
    chain.close()?;
    let salt = fr_parse(&t.opening.salt).context("the ticket's salt")?;
    let delivered = zkinfer_prover::deliver::open(&ModelDir::new(&t.model), &settled?, salt)?;
    let server_said = &job["result"];
    let matches = match &delivered {
        Delivered::Tensor { output, .. } => server_said["output"] == json!(output),
        Delivered::Completion { completion, .. } => server_said["completion"] == json!(completion),
    };
    Ok(json!({
        "request_id": t.request_id, "state": "settled",
        "output": delivered, "n_in": server_said["n_in"], "n_out": server_said["n_out"],
        "proof_valid": proof_valid, "output_matches_chain": matches,
        "settlement": job["settlement"], "checked": proof_valid && matches,
    }))
}

/// Whether the server's proof verifies under the model's key and answers this request's
/// input commitment.
fn check_proof(t: &Ticket, proof: &Value) -> Result<bool> {
    let file: ProofFile =
        serde_json::from_value(proof.clone()).context("the server's proof is not a proof file")?;
    let keys = load_verifier(&ModelDir::new(&t.model))?;
    if verify_file(keys.as_ref(), &file).is_err() {
        return Ok(false);
    }
    let instances = file.instances.parse()?;
    Ok(instances[0] == fr_parse(&t.request_id)?)
}
