//! A worker: claims a job under a lease, proves it, and settles it.
//!
//! Settling reads the request's status on-chain right before sending, under the embedded chain's
//! lock, so a job whose worker died after its transaction landed is recorded as settled instead
//! of being sent again; and a `settle` that reverts because the request is no longer open is
//! judged by that same status. A chain that cannot be reached gives the job back with a backoff,
//! in the state it was in: nothing is lost, nothing proved twice.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, U256};
use serde_json::json;
use zkinfer_circuits::field::fr_parse;
use zkinfer_contracts::claim::from_proof_file;
use zkinfer_contracts::settlement::{ISettlement::RequestSettled, RequestStatus, Settlement};
use zkinfer_contracts::ContractsError;
use zkinfer_prover::prove::ProofFile;

use crate::chain::{is_transient, ChainAccess};
use crate::job::{Job, JobState};
use crate::metrics::Metrics;
use crate::models::ServedModel;
use crate::store::JobStore;
use crate::ServeError;

/// Sleeps `d`, waking early when `stop` is set.
pub fn sleep_unless(stop: &AtomicBool, d: Duration) {
    let step = Duration::from_millis(25);
    let mut left = d;
    while !stop.load(Ordering::Relaxed) && !left.is_zero() {
        let s = left.min(step);
        std::thread::sleep(s);
        left -= s;
    }
}

/// Why a step stopped short.
enum Halt {
    /// Try again later (the chain is unreachable).
    Retry(String),
    /// The job ends in this state, for this reason.
    End(JobState, String),
    /// Another worker took the job over (this one's lease ran out).
    Lost,
    /// The store failed.
    Store(ServeError),
}

impl From<ServeError> for Halt {
    fn from(e: ServeError) -> Self {
        Halt::Store(e)
    }
}

/// What the chain said when a job was settled.
enum Settle {
    Sent {
        event: RequestSettled,
        gas: u64,
        block: Option<u64>,
        tx: Option<String>,
    },
    Earlier(Option<RequestSettled>),
    Refunded,
    Late(u64),
    Reverted(String),
}

/// One worker thread's state.
pub struct Worker {
    /// Its name in the store's leases (unique per process and thread).
    pub name: String,
    /// Its store connection.
    pub store: Box<dyn JobStore>,
    /// Its way to the chain.
    pub chain: ChainAccess,
    /// The Settlement contract.
    pub settlement: Address,
    /// The served models by id.
    pub models: Arc<BTreeMap<u64, ServedModel>>,
    /// Lease length, seconds.
    pub lease: u64,
    /// Proving time assumed before a model's first proof, seconds.
    pub prove_estimate: f64,
    /// How long to wait when there is nothing to do.
    pub poll: Duration,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
}

impl Worker {
    /// Works until `stop` is set.
    pub fn run(mut self, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            match self.store.claim(&self.name, self.lease) {
                Ok(Some(job)) => self.process(job),
                Ok(None) => sleep_unless(stop, self.poll),
                Err(e) => {
                    tracing::warn!("claiming a job: {e}");
                    sleep_unless(stop, self.poll);
                }
            }
        }
    }

    /// Takes one claimed job as far as it goes.
    pub fn process(&mut self, job: Job) {
        let id = job.request_id.clone();
        match self.step(job) {
            Ok(()) => {}
            Err(Halt::Retry(msg)) => {
                self.metrics.failure("chain");
                let after = 1u64 << self.attempts(&id).min(5);
                tracing::warn!(request = %id, "{msg}; retrying in {after} s");
                if let Err(e) = self.store.release(&id, &self.name, after) {
                    tracing::warn!(request = %id, "giving the job back: {e}");
                }
            }
            Err(Halt::End(state, reason)) => {
                self.metrics.failure(state.as_str());
                tracing::warn!(request = %id, "{}: {reason}", state.as_str());
                if let Err(e) = self.store.end(&id, &self.name, state, &reason) {
                    tracing::warn!(request = %id, "ending the job: {e}");
                }
            }
            Err(Halt::Lost) => tracing::warn!(request = %id, "lease lost to another worker"),
            Err(Halt::Store(e)) => {
                self.metrics.failure("store");
                tracing::warn!(request = %id, "job store: {e}");
            }
        }
    }

    fn attempts(&mut self, id: &str) -> u32 {
        self.store
            .get(id)
            .ok()
            .flatten()
            .map(|j| j.attempts)
            .unwrap_or(1)
    }

    fn step(&mut self, job: Job) -> Result<(), Halt> {
        let proof = match job.state {
            JobState::Received | JobState::Proving => self.prove(&job)?,
            JobState::Proved | JobState::Settling => job
                .proof
                .clone()
                .ok_or_else(|| Halt::End(JobState::Refused, "proved without a proof".into()))?,
            final_state => {
                return Err(Halt::Store(ServeError::Store(format!(
                    "claimed a {} job",
                    final_state.as_str()
                ))))
            }
        };
        self.settle(&job, proof)
    }

    fn prove(&mut self, job: &Job) -> Result<serde_json::Value, Halt> {
        let model = self.models.get(&job.model_id).ok_or_else(|| {
            Halt::End(
                JobState::Refused,
                format!("model {} is no longer served", job.model_id),
            )
        })?;
        let estimate = self
            .store
            .mean_prove_seconds(job.model_id)?
            .unwrap_or(self.prove_estimate);
        if let Some(now) = self.store.meta("chain_time")? {
            if now as f64 + estimate >= job.deadline as f64 {
                return Err(Halt::End(
                    JobState::Expired,
                    format!(
                        "the deadline {} would pass before the proof is ready (chain time {now}, \
                         proving takes about {estimate:.0} s)",
                        job.deadline
                    ),
                ));
            }
        }
        let id = fr_parse(&job.request_id)
            .map_err(|e| Halt::End(JobState::Refused, format!("request id: {e}")))?;
        // Proving may outlast the lease; hold the job for the whole of it.
        let expected = (estimate * 4.0) as u64;
        self.store
            .renew(&job.request_id, &self.name, self.lease.max(expected))?;
        tracing::info!(request = %job.request_id, model = job.model_id, "proving");
        let proved = model
            .prove(&job.opening, id)
            .map_err(|e| Halt::End(JobState::Refused, format!("proving failed: {e}")))?;
        self.metrics.proved(proved.seconds);
        if !self.store.proved(
            &job.request_id,
            &self.name,
            &proved.proof,
            &proved.result,
            proved.seconds,
        )? {
            return Err(Halt::Lost);
        }
        tracing::info!(request = %job.request_id, seconds = proved.seconds, "proved");
        Ok(proved.proof)
    }

    fn settle(&mut self, job: &Job, proof: serde_json::Value) -> Result<(), Halt> {
        let file: ProofFile = serde_json::from_value(proof)
            .map_err(|e| Halt::End(JobState::Refused, format!("stored proof: {e}")))?;
        let claim = from_proof_file(&file)
            .map_err(|e| Halt::End(JobState::Refused, format!("stored proof: {e}")))?;
        if !self.store.settling(&job.request_id, &self.name)? {
            return Err(Halt::Lost);
        }
        self.store.renew(&job.request_id, &self.name, self.lease)?;
        let (settlement, from) = (self.settlement, self.chain.sender());
        let request_id = claim.request_id;
        let said = self
            .chain
            .with(true, |c| {
                let mut s = Settlement {
                    chain: c,
                    address: settlement,
                };
                let info = s.request(request_id)?;
                match info.status {
                    RequestStatus::Settled => return Ok(Settle::Earlier(s.settled(request_id)?)),
                    RequestStatus::Refunded => return Ok(Settle::Refunded),
                    RequestStatus::None => {
                        return Ok(Settle::Reverted("the request is not on this chain".into()))
                    }
                    RequestStatus::Open => {}
                }
                if s.chain.timestamp()? > info.deadline {
                    return Ok(Settle::Late(info.deadline));
                }
                match s.settle(from, &claim) {
                    Ok(r) => Ok(Settle::Sent {
                        gas: r.gas_used,
                        block: r.outcome.block,
                        tx: r.outcome.tx_hash.map(|h| h.to_string()),
                        event: r.value,
                    }),
                    Err(ContractsError::Reverted(reason)) => Ok(Settle::Reverted(reason)),
                    Err(e) => Err(e),
                }
            })
            .map_err(|e| {
                if is_transient(&e) {
                    Halt::Retry(format!("settling: {e}"))
                } else {
                    Halt::End(JobState::Refused, format!("settling: {e}"))
                }
            })?;
        let record = match said {
            Settle::Sent {
                event,
                gas,
                block,
                tx,
            } => {
                self.metrics.settled(gas);
                json!({ "gas": gas, "block": block, "tx": tx, "worker": self.name,
                        "payments": payments(&event) })
            }
            Settle::Earlier(event) => {
                json!({ "earlier": true, "worker": self.name,
                        "payments": event.as_ref().map(payments) })
            }
            Settle::Refunded => {
                return Err(Halt::End(
                    JobState::Expired,
                    "the client took a refund first".into(),
                ))
            }
            Settle::Late(deadline) => {
                return Err(Halt::End(
                    JobState::Expired,
                    format!("the deadline {deadline} passed before settlement"),
                ))
            }
            Settle::Reverted(reason) => {
                return Err(Halt::End(
                    JobState::Refused,
                    format!("settle reverted: {reason}"),
                ))
            }
        };
        if !self.store.settled(&job.request_id, &self.name, &record)? {
            return Err(Halt::Lost);
        }
        tracing::info!(request = %job.request_id, "settled");
        Ok(())
    }
}

fn payments(e: &RequestSettled) -> serde_json::Value {
    let s = |v: &U256| v.to_string();
    json!({
        "n_in": e.nIn, "n_out": e.nOut,
        "provider_paid": s(&e.providerAmount), "owner_paid": s(&e.royalty), "refunded": s(&e.refund),
    })
}
