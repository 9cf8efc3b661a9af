//! A job: one request's way through the service, and the opening its client posted.
//!
//! States move forward only: `received → proving → proved → settling → settled`, or to one of
//! the ends `refused` (the proof or the settlement cannot succeed) and `expired` (the deadline
//! passes first, or the client took a refund). `proving` and `settling` are held under a lease;
//! a job whose lease ran out (its worker died) is claimed again from the state it was in.

use serde::{Deserialize, Serialize};

/// Where a job stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// The opening was accepted; no worker has it yet.
    Received,
    /// A worker is proving it.
    Proving,
    /// Proved; waiting to be settled.
    Proved,
    /// A worker is settling it (a transaction may be on its way).
    Settling,
    /// Settled on-chain: the provider was paid.
    Settled,
    /// Cannot be proved or settled; `reason` says why.
    Refused,
    /// The deadline passed (or would before the proof is ready), or the request was refunded.
    Expired,
}

impl JobState {
    /// Every state, in order.
    pub const ALL: [JobState; 7] = [
        JobState::Received,
        JobState::Proving,
        JobState::Proved,
        JobState::Settling,
        JobState::Settled,
        JobState::Refused,
        JobState::Expired,
    ];

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Received => "received",
            JobState::Proving => "proving",
            JobState::Proved => "proved",
            JobState::Settling => "settling",
            JobState::Settled => "settled",
            JobState::Refused => "refused",
            JobState::Expired => "expired",
        }
    }

    /// The state named `s`.
    pub fn parse(s: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|j| j.as_str() == s)
    }

    /// Whether nothing more will happen to the job.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Settled | JobState::Refused | JobState::Expired
        )
    }
}

/// What a client posts to have its request served: the request id and the secrets that open its
/// input commitment.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Opening {
    /// The request id, as a 0x-hex field element or decimal.
    pub request_id: String,
    /// The client's salt (0x-hex field element).
    pub salt: String,
    /// Graph models: one array of floats per sample, every model input concatenated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Vec<Vec<f64>>>,
    /// Graph models, EZKL's layout: one array per model input, samples concatenated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_data: Option<Vec<Vec<f64>>>,
    /// Decoders: the prompt, its bytes being the tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Decoders: the prompt as token ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<Vec<u64>>,
    /// Decoders: the most tokens to generate, as bound into the commitment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
}

impl Opening {
    /// The prompt's tokens, if this opening carries a prompt.
    pub fn prompt(&self) -> Option<Vec<u64>> {
        match (&self.prompt, &self.prompt_tokens) {
            (Some(text), _) => Some(text.bytes().map(u64::from).collect()),
            (None, Some(tokens)) => Some(tokens.clone()),
            (None, None) => None,
        }
    }
}

/// A job as stored.
#[derive(Clone, Debug)]
pub struct Job {
    /// The request id, `0x` and 64 lowercase hex digits.
    pub request_id: String,
    /// The Settlement model id.
    pub model_id: u64,
    /// Where it stands.
    pub state: JobState,
    /// What the client posted.
    pub opening: Opening,
    /// The request's deadline (chain time).
    pub deadline: u64,
    /// Workers that have claimed it so far.
    pub attempts: u32,
    /// The proof file (JSON), once proved.
    pub proof: Option<serde_json::Value>,
    /// What the run produced for the client (output or completion, usage), once proved.
    pub result: Option<serde_json::Value>,
    /// How long proving took.
    pub prove_seconds: Option<f64>,
    /// The settlement: transaction, gas and payments, once settled.
    pub settlement: Option<serde_json::Value>,
    /// Why it was refused or expired.
    pub reason: Option<String>,
}

/// A request id in the one spelling the store keys by.
pub fn request_key(id: &alloy::primitives::U256) -> String {
    format!("{id:#066x}")
}
