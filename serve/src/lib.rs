//! The provider's service behind `zkinfer serve`: it follows paid requests on the chain, takes
//! each client's opening over HTTP, proves the run, settles it, and keeps doing so across restarts.
//!
//! Data flows one way, through the job store:
//! - [`follower`] reads `RequestOpened` events of the served models from a stored block cursor,
//!   and the chain's clock;
//! - [`api`] accepts an opening only when it opens the commitment stored on-chain for an open
//!   request of a served model, and queues a job;
//! - [`worker`]s claim jobs under a lease, prove ([`models`]), and settle, checking the chain's
//!   status first, so a request is settled at most once whatever crashed when;
//! - [`store`] holds the jobs' state machine, in SQLite for one server or in PostgreSQL for
//!   workers on several machines, each step one guarded statement.
//!
//! Nothing here is trusted by the chain: the contract checks every proof. What the service must
//! get right is liveness and the provider's money: no job lost, none settled twice (the contract
//! refuses a second settlement anyway), none proved past its deadline.

#![warn(missing_docs)]

pub mod api;
pub mod chain;
pub mod config;
pub mod follower;
pub mod job;
pub mod metrics;
pub mod models;
pub mod service;
pub mod store;
pub mod worker;

pub use config::Config;
pub use service::{Options, Service};

/// What can go wrong in the service.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration file is missing, malformed or inconsistent.
    #[error("{0}")]
    Config(String),
    /// The job store failed.
    #[error("job store: {0}")]
    Store(String),
    /// A served model's artifacts could not be loaded or run.
    #[error(transparent)]
    Prover(#[from] zkinfer_prover::ProverError),
    /// The chain or a contract call failed.
    #[error(transparent)]
    Chain(#[from] zkinfer_contracts::ContractsError),
    /// An opening a client posted is not acceptable; the text says why.
    #[error("{0}")]
    Opening(String),
    /// Listening or serving HTTP failed.
    #[error("http: {0}")]
    Http(String),
}

impl From<rusqlite::Error> for ServeError {
    fn from(e: rusqlite::Error) -> Self {
        ServeError::Store(e.to_string())
    }
}

/// Seconds since the Unix epoch by the local clock (leases and the store's bookkeeping only;
/// deadlines are judged by the chain's clock).
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
