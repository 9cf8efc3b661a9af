//! Decoders as graphs and their greedy generation, the spec the decoder circuit is tested against.
//!
//! A decoder is any compiled model with one token input `[1, L]` and one output `[1, L, V]`:
//! zkinfer tells it apart by that graph (token ids feeding an embedding), never by a tensor's
//! name. Generation over `L = P + T` slots runs the graph on the token stream
//! `t_i = m_i·p_i + (1 − m_i)·argmax(logits_{i−1})`, `m` the prompt mask (a prefix of ones), ties
//! going to the lowest id. The completion is the metered part: the tokens after the prompt, up to
//! and including the stop token, at most the client's `max_tokens`. Logits at position `i` are
//! whatever the graph computes from the whole stream; when the graph's own mask makes them depend
//! on `t_0..t_i` only, the stream is the one sequential decoding gives, and each position is
//! final once the previous ones are, so one pass per generated token computes it here.

use std::sync::Arc;

use crate::graph::{execute, GraphError, Model};
use crate::usage::{
    completion_commitment, completion_words, encrypt, prompt_commitment, UsageStatement,
};
use crate::Fr;

/// The slots a generation circuit has: `prompt` tokens of prompt, `gen` generated tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Slots {
    /// Prompt tokens the circuit takes at most.
    pub prompt: usize,
    /// Tokens it generates at most.
    pub gen: usize,
}

/// One greedy generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    /// The tokens of every position the circuit runs: the prompt, then argmax after argmax.
    pub stream: Vec<usize>,
    /// Prompt tokens.
    pub n_in: usize,
    /// Metered output tokens.
    pub n_out: usize,
    /// The metered output: generated tokens up to and including the stop token.
    pub completion: Vec<usize>,
}

/// Why a model is not a decoder for these slots, or a request does not fit it.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The graph is not a decoder of these slots.
    #[error("not a decoder: {0}")]
    Shape(String),
    /// The prompt or budget does not fit.
    #[error("prompt: {0}")]
    Prompt(String),
    /// The model refused to run.
    #[error(transparent)]
    Model(#[from] GraphError),
}

/// A decoder graph laid out for `slots`, with its stop token.
#[derive(Debug, Clone)]
pub struct Decoder {
    /// The model: tokens `[1, P + T]` in, logits `[1, P + T, V]` out.
    pub model: Arc<Model>,
    /// Prompt and generated slots.
    pub slots: Slots,
    /// Logits per position.
    pub vocab: usize,
    /// Generation stops after this token; `None`: only at `max_tokens`.
    pub stop: Option<u64>,
}

/// The index of the largest value, the lowest of ties (as the IR's proven arg and the accuracy
/// report take it).
pub fn argmax<T: PartialOrd>(values: &[T]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

impl Decoder {
    /// Checks that `model` is a decoder over `slots` and `stop` one of its tokens.
    pub fn new(model: Model, slots: Slots, stop: Option<u64>) -> Result<Self, DecodeError> {
        let bad = |msg: String| Err(DecodeError::Shape(msg));
        let total = slots.prompt + slots.gen;
        if slots.prompt == 0 || slots.gen == 0 || slots.gen > 255 {
            return bad(format!(
                "slots {}+{}: at least one prompt and one generated token, at most 255 generated",
                slots.prompt, slots.gen
            ));
        }
        let g = model.graph();
        let [input] = &g.inputs[..] else {
            return bad(format!(
                "{} inputs; a decoder has one, its tokens",
                g.inputs.len()
            ));
        };
        if !input.tokens || input.shape != [1, total] {
            return bad(format!(
                "input `{}` must be token ids of shape [1, {total}] for {} + {} slots, not {}{:?}",
                input.name,
                slots.prompt,
                slots.gen,
                if input.tokens { "" } else { "real values " },
                input.shape
            ));
        }
        let [shape] = &model.output_shapes()[..] else {
            return bad(format!(
                "{} outputs; a decoder has one, its logits",
                g.outputs.len()
            ));
        };
        let vocab = match shape[..] {
            [1, l, v] if l == total && v >= 1 => v,
            _ => return bad(format!("logits of shape {shape:?}, not [1, {total}, V]")),
        };
        if vocab as i64 - 1 > input.max {
            return bad(format!(
                "{vocab} logits per position, but the embedding has only {} rows: an argmax \
                 could name a token it cannot read",
                input.max + 1
            ));
        }
        if let Some(s) = stop.filter(|s| *s >= vocab as u64) {
            return bad(format!(
                "stop token {s} is outside the vocabulary of {vocab}"
            ));
        }
        Ok(Self {
            model: Arc::new(model),
            slots,
            vocab,
            stop,
        })
    }

    /// The prompt and budget against the slots and vocabulary.
    pub fn check_request(&self, prompt: &[u64], max_tokens: usize) -> Result<(), DecodeError> {
        let bad = |msg: String| Err(DecodeError::Prompt(msg));
        if prompt.is_empty() || prompt.len() > self.slots.prompt {
            return bad(format!(
                "{} tokens; this circuit takes 1 to {} prompt tokens",
                prompt.len(),
                self.slots.prompt
            ));
        }
        if let Some(t) = prompt.iter().find(|t| **t >= self.vocab as u64) {
            return bad(format!(
                "token {t} is outside the vocabulary of {}",
                self.vocab
            ));
        }
        if max_tokens > self.slots.gen {
            return bad(format!(
                "max tokens {max_tokens} is more than the circuit's {} generated tokens",
                self.slots.gen
            ));
        }
        Ok(())
    }

    /// Greedy generation over every slot: the prompt, then argmax after argmax; the completion
    /// is metered as the circuit meters it.
    pub fn generate(&self, prompt: &[u64], max_tokens: usize) -> Result<Generation, DecodeError> {
        self.check_request(prompt, max_tokens)?;
        let total = self.slots.prompt + self.slots.gen;
        let v = self.vocab;
        let mut stream: Vec<i64> = prompt.iter().map(|t| *t as i64).collect();
        stream.resize(total, 0);
        for i in prompt.len()..total {
            let logits = execute(&self.model, &stream)?.output();
            stream[i] = argmax(&logits[(i - 1) * v..i * v]) as i64;
        }
        let mut completion = Vec::new();
        for t in &stream[prompt.len()..] {
            let stopped = self
                .stop
                .is_some_and(|s| completion.last() == Some(&(s as usize)));
            if completion.len() == max_tokens || stopped {
                break;
            }
            completion.push(*t as usize);
        }
        Ok(Generation {
            stream: stream.iter().map(|t| *t as usize).collect(),
            n_in: prompt.len(),
            n_out: completion.len(),
            completion,
        })
    }

    /// The usage statement of a generation: prompt and completion committed as tokens.
    pub fn statement(
        &self,
        request_id: Fr,
        salt: Fr,
        prompt: &[u64],
        max_tokens: usize,
        generation: &Generation,
    ) -> UsageStatement {
        let completion: Vec<u64> = generation.completion.iter().map(|t| *t as u64).collect();
        UsageStatement {
            request_id,
            input_commitment: prompt_commitment(
                request_id,
                salt,
                prompt,
                self.slots.prompt,
                max_tokens as u64,
            ),
            output_commitment: completion_commitment(request_id, salt, &completion, self.slots.gen),
            n_in: generation.n_in as u64,
            n_out: generation.n_out as u64,
            ciphertext: encrypt(
                request_id,
                salt,
                &completion_words(&completion, self.slots.gen),
            ),
        }
    }

    /// Public instances of a generation's proofs: the usage instances and one ciphertext word
    /// per word the generated slots pack into.
    pub fn num_instances(&self) -> usize {
        crate::usage::USAGE_INSTANCES + completion_words(&[], self.slots.gen).len()
    }
}
