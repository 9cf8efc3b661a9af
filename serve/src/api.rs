//! The client API (HTTP, JSON):
//! - `POST /v1/requests`: the opening of a request the client opened on-chain. Accepted (202) only
//!   if the request is open, of a served model, and the opening recomputes its on-chain input
//!   commitment within its maxima; otherwise a 4xx naming the problem, and nothing is queued.
//! - `GET /v1/requests/{id}`: the job's state and, once there, its output, usage, proof and
//!   settlement; a request seen on-chain without an opening yet is `awaiting_opening`.
//! - `GET /health`, `GET /metrics` (Prometheus).
//!
//! Handlers run their store and chain work on blocking threads: both are synchronous.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use alloy::primitives::{Address, U256};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use zkinfer_circuits::field::fr_parse;
use zkinfer_contracts::claim::to_u256;
use zkinfer_contracts::settlement::{RequestStatus, Settlement};

use crate::chain::{is_transient, ChainAccess};
use crate::config::Limits;
use crate::job::{request_key, Job, Opening};
use crate::metrics::Metrics;
use crate::models::ServedModel;
use crate::store::{Inserted, JobStore};
use crate::ServeError;

/// What the handlers share.
pub struct Api {
    /// The served models by Settlement id.
    pub models: Arc<BTreeMap<u64, ServedModel>>,
    /// The API's store connection.
    pub store: Mutex<Box<dyn JobStore>>,
    /// The API's way to the chain (reads only).
    pub chain: Mutex<ChainAccess>,
    /// The Settlement contract.
    pub settlement: Address,
    /// Request limits.
    pub limits: Limits,
    /// Counters.
    pub metrics: Arc<Metrics>,
}

/// An error answer: a status and a message naming the problem.
#[derive(Debug)]
pub struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<ServeError> for Refusal {
    fn from(e: ServeError) -> Self {
        match e {
            ServeError::Opening(m) => Refusal(StatusCode::BAD_REQUEST, m),
            ServeError::Chain(c) if is_transient(&c) => Refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the chain cannot be read now: {c}"),
            ),
            other => Refusal(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
        }
    }
}

/// The router over `api`.
pub fn router(api: Arc<Api>) -> Router {
    let limit = api.limits.max_body_bytes;
    Router::new()
        .route("/v1/requests", post(post_request))
        .route("/v1/requests/{id}", get(get_request))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(api)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Refusal> + Send + 'static,
) -> Result<T, Refusal> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        Refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("handler failed: {e}"),
        )
    })?
}

async fn post_request(
    State(api): State<Arc<Api>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Refusal> {
    let body = body.map_err(|r| Refusal(r.status(), format!("request body: {}", r.body_text())))?;
    let answer = blocking(move || api.accept(&body)).await?;
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}

async fn get_request(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, Refusal> {
    Ok(Json(blocking(move || api.status(&id)).await?))
}

async fn health(State(api): State<Arc<Api>>) -> Result<Json<Value>, Refusal> {
    Ok(Json(
        blocking(move || {
            let mut store = api.store.lock().expect("store lock");
            let counts = store.counts()?;
            Ok(json!({
                "status": "ok",
                "models": api.models.keys().collect::<Vec<_>>(),
                "jobs": counts,
                "next_block": store.meta("next_block")?,
                "chain_time": store.meta("chain_time")?,
            }))
        })
        .await?,
    ))
}

async fn metrics(State(api): State<Arc<Api>>) -> Result<Response, Refusal> {
    let text = blocking(move || {
        let counts = api.store.lock().expect("store lock").counts()?;
        Ok(api.metrics.render(&counts))
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

fn refuse(status: StatusCode, msg: String) -> Refusal {
    Refusal(status, msg)
}

fn parse_id(text: &str) -> Result<U256, Refusal> {
    fr_parse(text)
        .map(|f| to_u256(&f))
        .map_err(|e| refuse(StatusCode::BAD_REQUEST, format!("request id {text:?}: {e}")))
}

impl Api {
    /// Checks an opening against the chain and queues its job.
    fn accept(&self, body: &[u8]) -> Result<Value, Refusal> {
        let o: Opening = serde_json::from_slice(body)
            .map_err(|e| refuse(StatusCode::BAD_REQUEST, format!("malformed opening: {e}")))?;
        let id = parse_id(&o.request_id)?;
        let key = request_key(&id);
        if let Some(job) = self.store.lock().expect("store lock").get(&key)? {
            return Err(refuse(
                StatusCode::CONFLICT,
                format!(
                    "request {key} was already received (state {})",
                    job.state.as_str()
                ),
            ));
        }
        let settlement = self.settlement;
        let info = self
            .chain
            .lock()
            .expect("chain lock")
            .with(false, |c| {
                Settlement {
                    chain: c,
                    address: settlement,
                }
                .request(id)
            })
            .map_err(ServeError::from)?;
        match info.status {
            RequestStatus::Open => {}
            RequestStatus::None => {
                return Err(refuse(
                    StatusCode::NOT_FOUND,
                    format!("request {key} was never opened on Settlement {settlement}"),
                ))
            }
            s => {
                return Err(refuse(
                    StatusCode::CONFLICT,
                    format!("request {key} is no longer open ({s:?})"),
                ))
            }
        }
        let model = self.models.get(&info.model_id).ok_or_else(|| {
            refuse(
                StatusCode::BAD_REQUEST,
                format!(
                    "request {key} is for model {}, which this server does not serve (it serves {:?})",
                    info.model_id,
                    self.models.keys().collect::<Vec<_>>()
                ),
            )
        })?;
        let fr = fr_parse(&key).expect("a request key is a field element");
        let opened = model.open(&o, fr)?;
        let computed = to_u256(&opened.input_commitment);
        if computed != info.input_commitment {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                format!(
                    "the opening does not open request {key}'s input commitment: it gives \
                     {computed:#x}, the chain holds {:#x}",
                    info.input_commitment
                ),
            ));
        }
        if opened.n_in > info.max_in || opened.max_out > info.max_out {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                format!(
                    "request {key} pays for at most {} input and {} output units; this opening \
                     needs {} and up to {}",
                    info.max_in, info.max_out, opened.n_in, opened.max_out
                ),
            ));
        }
        let inserted = self.store.lock().expect("store lock").insert(
            &key,
            info.model_id,
            &o,
            info.deadline,
            self.limits.max_queue,
        )?;
        match inserted {
            Inserted::New => {
                tracing::info!(request = %key, model = info.model_id, "opening accepted");
                Ok(json!({ "request_id": key, "state": "received", "model_id": info.model_id }))
            }
            Inserted::Exists(state) => Err(refuse(
                StatusCode::CONFLICT,
                format!(
                    "request {key} was already received (state {})",
                    state.as_str()
                ),
            )),
            Inserted::QueueFull => Err(refuse(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "the queue is full ({} unfinished jobs); try again later",
                    self.limits.max_queue
                ),
            )),
        }
    }

    /// A request's state as `GET` shows it.
    fn status(&self, text: &str) -> Result<Value, Refusal> {
        let key = request_key(&parse_id(text)?);
        let mut store = self.store.lock().expect("store lock");
        if let Some(job) = store.get(&key)? {
            return Ok(job_json(&job));
        }
        if let Some(o) = store.opened(&key)? {
            return Ok(json!({
                "request_id": key, "model_id": o.model_id, "state": "awaiting_opening",
                "deadline": o.deadline, "max_in": o.max_in, "max_out": o.max_out,
            }));
        }
        Err(refuse(
            StatusCode::NOT_FOUND,
            format!("request {key} is unknown to this server"),
        ))
    }
}

/// A job as the API shows it (the opening's secrets stay out).
pub fn job_json(job: &Job) -> Value {
    json!({
        "request_id": job.request_id,
        "model_id": job.model_id,
        "state": job.state.as_str(),
        "deadline": job.deadline,
        "attempts": job.attempts,
        "reason": job.reason,
        "result": job.result,
        "prove_seconds": job.prove_seconds,
        "proof": job.proof,
        "settlement": job.settlement,
    })
}
