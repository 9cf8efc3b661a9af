//! The job store, behind one [`JobStore`] trait: SQLite for one server ([`sqlite`], a file), or
//! PostgreSQL shared by workers on several machines ([`postgres`]).
//!
//! Every state change is one statement guarded by the states it may leave and by the worker
//! holding the job's lease, so two workers can never both move a job, a worker whose lease was
//! taken over cannot write, and a killed process leaves the store at its last committed step.
//! Both stores pass the same checks ([`suite`]).

pub mod postgres;
pub mod sqlite;
pub mod suite;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::job::{Job, JobState, Opening};
use crate::ServeError;

/// Where the jobs are kept: a SQLite file, or a PostgreSQL URL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum StoreConfig {
    /// A SQLite file, for one server.
    Sqlite(PathBuf),
    /// `postgres://…`, shared by several servers.
    Postgres(String),
}

impl From<String> for StoreConfig {
    fn from(s: String) -> Self {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            StoreConfig::Postgres(s)
        } else {
            StoreConfig::Sqlite(PathBuf::from(s))
        }
    }
}

impl From<StoreConfig> for String {
    fn from(s: StoreConfig) -> Self {
        match s {
            StoreConfig::Sqlite(p) => p.display().to_string(),
            StoreConfig::Postgres(url) => url,
        }
    }
}

impl StoreConfig {
    /// Opens a connection.
    pub fn open(&self) -> Result<Box<dyn JobStore>, ServeError> {
        Ok(match self {
            StoreConfig::Sqlite(path) => Box::new(sqlite::Sqlite::open(path)?),
            StoreConfig::Postgres(url) => Box::new(postgres::Postgres::connect(url)?),
        })
    }

    /// What logs may show of it (a URL's password left out).
    pub fn describe(&self) -> String {
        match self {
            StoreConfig::Sqlite(p) => p.display().to_string(),
            StoreConfig::Postgres(url) => match (url.find("://"), url.rfind('@')) {
                (Some(s), Some(at)) if at > s => format!("{}***{}", &url[..s + 3], &url[at..]),
                _ => url.clone(),
            },
        }
    }
}

/// A request the follower saw opened on-chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenedRequest {
    /// The request id (the store's spelling).
    pub request_id: String,
    /// Its model.
    pub model_id: u64,
    /// Who opened it.
    pub client: String,
    /// The commitment its opening must open (0x-hex).
    pub input_commitment: String,
    /// The most input units it pays for.
    pub max_in: u64,
    /// The most output units it pays for.
    pub max_out: u64,
    /// When it can be refunded (chain time).
    pub deadline: u64,
    /// What the client escrowed (decimal).
    pub escrow: String,
    /// The block it was opened in.
    pub block: u64,
}

/// What inserting a job found.
#[derive(Debug, PartialEq, Eq)]
pub enum Inserted {
    /// Queued.
    New,
    /// A job for this request exists already, in this state.
    Exists(JobState),
    /// The queue holds its maximum of unfinished jobs.
    QueueFull,
}

/// The columns a step may set besides the state; `None` leaves a column as it is.
#[derive(Default, Debug, Clone)]
pub struct Fields {
    /// The proof file (JSON text).
    pub proof: Option<String>,
    /// What the run produced for the client (JSON text).
    pub result: Option<String>,
    /// Seconds proving took.
    pub prove_seconds: Option<f64>,
    /// The settlement's record (JSON text).
    pub settlement: Option<String>,
    /// Why the job was refused or expired.
    pub reason: Option<String>,
}

/// The states a job is unfinished in.
pub const UNFINISHED: [JobState; 4] = [
    JobState::Received,
    JobState::Proving,
    JobState::Proved,
    JobState::Settling,
];

/// A connection to a job store.
pub trait JobStore: Send {
    /// Another connection to the same store, for another thread.
    fn reopen(&self) -> Result<Box<dyn JobStore>, ServeError>;

    /// Queues a job in state `received`, unless one exists for the request or `max_queue`
    /// unfinished jobs are waiting.
    fn insert(
        &mut self,
        request_id: &str,
        model_id: u64,
        opening: &Opening,
        deadline: u64,
        max_queue: u64,
    ) -> Result<Inserted, ServeError>;

    /// Claims the oldest unfinished job whose lease is free (never held, given back, or run
    /// out), holding it for `lease` seconds; a `received` job becomes `proving`.
    fn claim(&mut self, worker: &str, lease: u64) -> Result<Option<Job>, ServeError>;

    /// Moves a job `worker` holds from one of `from` to `to`, setting `fields`; whether it moved.
    fn advance(
        &mut self,
        id: &str,
        worker: &str,
        from: &[JobState],
        to: JobState,
        fields: Fields,
    ) -> Result<bool, ServeError>;

    /// Gives a held job back, claimable again after `after` seconds, in the state it is in.
    fn release(&mut self, id: &str, worker: &str, after: u64) -> Result<(), ServeError>;

    /// Holds a job `lease` seconds from now; false if `worker` no longer holds it.
    fn renew(&mut self, id: &str, worker: &str, lease: u64) -> Result<bool, ServeError>;

    /// Frees every lease: right only for a store no other live server uses (a SQLite file at
    /// its server's start).
    fn free_leases(&mut self) -> Result<usize, ServeError>;

    /// The job of `request_id`.
    fn get(&mut self, request_id: &str) -> Result<Option<Job>, ServeError>;

    /// How many jobs are in each state (every state listed).
    fn counts(&mut self) -> Result<BTreeMap<&'static str, u64>, ServeError>;

    /// The mean proving time of `model_id`'s jobs so far, if any was proved.
    fn mean_prove_seconds(&mut self, model_id: u64) -> Result<Option<f64>, ServeError>;

    /// A number kept under `key` (the follower's cursor `next_block`, the chain's clock
    /// `chain_time`).
    fn meta(&mut self, key: &str) -> Result<Option<u64>, ServeError>;

    /// Records requests the follower saw, the next block to read and the chain's clock, in one
    /// transaction, so the cursor never moves past a request that was not stored.
    fn record_opened(
        &mut self,
        opened: &[OpenedRequest],
        next_block: u64,
        chain_time: u64,
    ) -> Result<(), ServeError>;

    /// A request the follower saw opened.
    fn opened(&mut self, request_id: &str) -> Result<Option<OpenedRequest>, ServeError>;
}

impl dyn JobStore {
    /// `proving → proved`, with the proof and what the run produced.
    pub fn proved(
        &mut self,
        id: &str,
        worker: &str,
        proof: &serde_json::Value,
        result: &serde_json::Value,
        seconds: f64,
    ) -> Result<bool, ServeError> {
        let fields = Fields {
            proof: Some(proof.to_string()),
            result: Some(result.to_string()),
            prove_seconds: Some(seconds),
            ..Default::default()
        };
        self.advance(id, worker, &[JobState::Proving], JobState::Proved, fields)
    }

    /// `proved → settling` (or a resumed `settling`): from here a transaction may be sent.
    pub fn settling(&mut self, id: &str, worker: &str) -> Result<bool, ServeError> {
        let from = [JobState::Proved, JobState::Settling];
        self.advance(id, worker, &from, JobState::Settling, Fields::default())
    }

    /// `settling → settled`, with the transaction, its gas and the payments.
    pub fn settled(
        &mut self,
        id: &str,
        worker: &str,
        settlement: &serde_json::Value,
    ) -> Result<bool, ServeError> {
        let fields = Fields {
            settlement: Some(settlement.to_string()),
            ..Default::default()
        };
        self.advance(id, worker, &[JobState::Settling], JobState::Settled, fields)
    }

    /// Ends an unfinished job the worker holds as `refused` or `expired`, with the reason.
    pub fn end(
        &mut self,
        id: &str,
        worker: &str,
        to: JobState,
        reason: &str,
    ) -> Result<bool, ServeError> {
        debug_assert!(matches!(to, JobState::Refused | JobState::Expired));
        let fields = Fields {
            reason: Some(reason.to_string()),
            ..Default::default()
        };
        self.advance(id, worker, &UNFINISHED, to, fields)
    }
}

/// A job from its columns' values, as both stores read them.
#[allow(clippy::too_many_arguments)]
pub(crate) fn job_from(
    request_id: String,
    model_id: i64,
    state: &str,
    opening: &str,
    deadline: i64,
    attempts: i64,
    proof: Option<String>,
    result: Option<String>,
    prove_seconds: Option<f64>,
    settlement: Option<String>,
    reason: Option<String>,
) -> Result<Job, ServeError> {
    let json = |t: Option<String>| t.and_then(|t| serde_json::from_str(&t).ok());
    Ok(Job {
        state: parse_state(state)?,
        opening: serde_json::from_str(opening)
            .map_err(|e| ServeError::Store(format!("job {request_id}: bad opening: {e}")))?,
        request_id,
        model_id: model_id as u64,
        deadline: deadline as u64,
        attempts: attempts as u32,
        proof: json(proof),
        result: json(result),
        prove_seconds,
        settlement: json(settlement),
        reason,
    })
}

pub(crate) fn parse_state(s: &str) -> Result<JobState, ServeError> {
    JobState::parse(s).ok_or_else(|| ServeError::Store(format!("unknown job state {s:?}")))
}

/// `'a','b'` for an SQL `IN` list of states (their names are fixed identifiers, not input).
pub(crate) fn state_list(states: &[JobState]) -> String {
    states
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(",")
}
