//! `zkinfer generate`: greedy generation from a prompt (text as bytes, or token ids) with a
//! compiled decoder graph, proved with its
//! usage statement (prompt tokens in, generated tokens out). Writes the proof file and, beside it,
//! the client's opening (`*.opening.json`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::json;
use zkinfer_circuits::field::{fr_parse, random_fr};
use zkinfer_prover::artifacts::{write_json, ModelDir};
use zkinfer_prover::generate::{Generated, Request};
use zkinfer_prover::keys::load_generator;

/// Bytes are the tokens.
pub fn tokenize(prompt: &str) -> Vec<usize> {
    prompt.bytes().map(usize::from).collect()
}

/// Where the opening of the proof at `proof` goes: `x.json` → `x.opening.json`.
pub fn opening_path(proof: &Path) -> PathBuf {
    let stem = proof
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "proof".into());
    proof.with_file_name(format!("{stem}.opening.json"))
}

/// A prompt: text whose bytes are the tokens, or token ids.
#[derive(Debug, Clone)]
pub enum Prompt {
    Text(String),
    Tokens(Vec<u64>),
}

impl Prompt {
    pub fn tokens(&self) -> Vec<u64> {
        match self {
            Prompt::Text(t) => tokenize(t).into_iter().map(|t| t as u64).collect(),
            Prompt::Tokens(t) => t.clone(),
        }
    }
}

/// Proves one generation for `request_id` and writes its proof and opening.
pub fn prove(
    dir: &Path,
    prompt: &Prompt,
    max_tokens: usize,
    request_id: zkinfer_circuits::Fr,
    salt: zkinfer_circuits::Fr,
    out: &Path,
) -> Result<(Generated, Option<u64>)> {
    let md = ModelDir::new(dir);
    let keys = load_generator(&md)?;
    let tokens = prompt.tokens();
    keys.check(&tokens, max_tokens)
        .context("--prompt / --max-tokens")?;
    let generated = keys.generate(Request {
        request_id,
        salt,
        prompt: tokens,
        max_tokens,
    })?;
    write_json(out, &generated.file)?;
    write_json(&opening_path(out), &generated.opening)?;
    Ok((generated, keys.stop_token()))
}

pub fn run(
    dir: &Path,
    prompt: &Prompt,
    max_tokens: usize,
    request_id: &str,
    salt: Option<&str>,
    out: &Path,
    json_out: bool,
) -> Result<ExitCode> {
    let request_id = fr_parse(request_id).context("--request-id")?;
    let salt = match salt {
        Some(s) => fr_parse(s).context("--salt")?,
        None => random_fr(),
    };
    let (g, stop) = prove(dir, prompt, max_tokens, request_id, salt, out)?;
    let o = &g.opening;
    let stopped = stop.is_some() && o.completion.last().copied() == stop;
    let shown = match prompt {
        Prompt::Text(t) => t.clone(),
        Prompt::Tokens(t) => format!("{t:?}"),
    };
    if json_out {
        super::print_json(&json!({
            "proof": out, "opening": opening_path(out), "prompt": shown,
            "prompt_tokens": o.prompt,
            "completion": o.completion_text, "completion_tokens": o.completion,
            "stopped": stopped,
            "n_in": o.n_in, "n_out": o.n_out, "prove_seconds": g.seconds,
            "instances": g.file.instances,
        }));
    } else {
        match prompt {
            Prompt::Text(t) => println!("{t}\x1b[1m{}\x1b[0m", o.completion_text),
            Prompt::Tokens(t) => println!("{t:?} -> {:?}", o.completion),
        }
        println!(
            "  n_in = {}, n_out = {}{} ({:.1} s) -> {}",
            o.n_in,
            o.n_out,
            if stopped {
                " (ended at the stop token)"
            } else {
                ""
            },
            g.seconds,
            out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
