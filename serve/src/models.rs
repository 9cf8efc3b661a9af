//! The served models: each loaded once with its proving keys, able to recompute an opening's input
//! commitment (the check that lets a job in) and to prove the run (the job's work).

use std::path::PathBuf;

use serde_json::json;
use zkinfer_circuits::field::{fr_parse, Fr};
use zkinfer_circuits::halo2::Witness;
use zkinfer_prover::artifacts::ModelDir;
use zkinfer_prover::backend::ModelKind;
use zkinfer_prover::generate::Request;
use zkinfer_prover::keys::{load_generator, load_prover, Generator, ProvingBackend};
use zkinfer_prover::transcript::TranscriptKind;

use crate::config::ModelConfig;
use crate::job::Opening;
use crate::ServeError;

enum Prover {
    Graph(Box<dyn ProvingBackend>),
    Decoder(Generator),
}

/// A model the service proves, loaded from its directory.
pub struct ServedModel {
    /// Its Settlement model id.
    pub model_id: u64,
    /// Its directory.
    pub dir: PathBuf,
    prover: Prover,
}

/// What an opening opens: the request it is for, and the statement's first values.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The recomputed input commitment.
    pub input_commitment: Fr,
    /// Input units metered (known before proving for graph models).
    pub n_in: u64,
    /// The most output units the run can meter (a graph's exact count, a decoder's budget).
    pub max_out: u64,
}

/// A proven job: the proof file and what the client gets.
pub struct ProvedJob {
    /// The proof file (JSON), as `zkinfer prove` writes it.
    pub proof: serde_json::Value,
    /// The output (or completion) and usage, for the client.
    pub result: serde_json::Value,
    /// Seconds proving took.
    pub seconds: f64,
}

impl ServedModel {
    /// Loads `config`'s model and keys (checked against their manifest).
    pub fn load(config: &ModelConfig) -> Result<Self, ServeError> {
        let md = ModelDir::new(&config.dir);
        let prover = match md.settings()?.kind() {
            ModelKind::Graph => Prover::Graph(load_prover(&md)?),
            ModelKind::Decoder => Prover::Decoder(load_generator(&md)?),
        };
        Ok(Self {
            model_id: config.model_id,
            dir: config.dir.clone(),
            prover,
        })
    }

    /// The witness of a graph model's opening.
    fn witness(keys: &dyn ProvingBackend, o: &Opening, id: Fr) -> Result<Witness, ServeError> {
        if o.prompt.is_some() || o.prompt_tokens.is_some() || o.max_tokens.is_some() {
            return Err(bad("this model takes \"input\", not a prompt"));
        }
        let arrays = o
            .input
            .as_ref()
            .or(o.input_data.as_ref())
            .ok_or_else(|| bad("this model takes \"input\" (or \"input_data\"), none given"))?;
        let rows = zkinfer_circuits::import::data::quantized_samples(keys.model(), arrays)
            .map_err(|e| bad(&format!("input: {e}")))?;
        if rows.len() > keys.batch() {
            return Err(bad(&format!(
                "input: {} samples exceed the batch size {}",
                rows.len(),
                keys.batch()
            )));
        }
        Ok(Witness {
            rows,
            request_id: id,
            salt: salt(o)?,
        })
    }

    /// A decoder's request from an opening.
    fn decode_request(g: &Generator, o: &Opening, id: Fr) -> Result<Request, ServeError> {
        if o.input.is_some() || o.input_data.is_some() {
            return Err(bad("this model takes a prompt, not \"input\""));
        }
        let prompt = o
            .prompt()
            .ok_or_else(|| bad("this model takes \"prompt\" or \"prompt_tokens\", none given"))?;
        let max_tokens = o
            .max_tokens
            .ok_or_else(|| bad("a prompt needs \"max_tokens\""))?;
        g.check(&prompt, max_tokens as usize)
            .map_err(|e| bad(&e.to_string()))?;
        Ok(Request {
            request_id: id,
            salt: salt(o)?,
            prompt,
            max_tokens: max_tokens as usize,
        })
    }

    /// Recomputes the input commitment `o` opens for request `id`, checking the opening fits
    /// the model (shape, batch, prompt length, token budget) on the way.
    pub fn open(&self, o: &Opening, id: Fr) -> Result<Opened, ServeError> {
        match &self.prover {
            Prover::Graph(keys) => {
                let w = Self::witness(keys.as_ref(), o, id)?;
                let run = zkinfer_circuits::witness::run(keys.model(), keys.batch(), &w)
                    .map_err(|e| bad(&format!("input: {e}")))?;
                Ok(Opened {
                    input_commitment: run.statement.input_commitment,
                    n_in: run.statement.n_in,
                    max_out: run.statement.n_out,
                })
            }
            Prover::Decoder(g) => {
                let r = Self::decode_request(g, o, id)?;
                Ok(Opened {
                    input_commitment: zkinfer_circuits::usage::prompt_commitment(
                        id,
                        r.salt,
                        &r.prompt,
                        g.slots().prompt,
                        r.max_tokens as u64,
                    ),
                    n_in: r.prompt.len() as u64,
                    max_out: r.max_tokens as u64,
                })
            }
        }
    }

    /// Runs the model on the opening and proves it with the EVM transcript, for `settle`.
    pub fn prove(&self, o: &Opening, id: Fr) -> Result<ProvedJob, ServeError> {
        match &self.prover {
            Prover::Graph(keys) => {
                let w = Self::witness(keys.as_ref(), o, id)?;
                let p = zkinfer_prover::prove::prove_one(keys.as_ref(), w, TranscriptKind::Evm)?;
                Ok(ProvedJob {
                    proof: serde_json::to_value(&p.file).expect("proof files serialize"),
                    result: json!({
                        "n_in": p.opening.n_in, "n_out": p.opening.n_out,
                        "output": p.opening.output, "output_real": p.opening.output_real,
                    }),
                    seconds: p.seconds,
                })
            }
            Prover::Decoder(g) => {
                let r = Self::decode_request(g, o, id)?;
                let p = g.generate(r)?;
                Ok(ProvedJob {
                    proof: serde_json::to_value(&p.file).expect("proof files serialize"),
                    result: json!({
                        "n_in": p.opening.n_in, "n_out": p.opening.n_out,
                        "completion": p.opening.completion,
                        "completion_text": p.opening.completion_text,
                    }),
                    seconds: p.seconds,
                })
            }
        }
    }
}

fn bad(msg: &str) -> ServeError {
    ServeError::Opening(msg.to_string())
}

fn salt(o: &Opening) -> Result<Fr, ServeError> {
    fr_parse(&o.salt).map_err(|e| bad(&format!("salt: {e}")))
}
