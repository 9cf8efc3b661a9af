//! The follower: reads `RequestOpened` events of the served models block by block from the
//! cursor in the store, and the chain's clock, which workers judge deadlines by. Requests and
//! cursor are written in one transaction, so a restart neither skips nor loses a request.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use alloy::primitives::Address;
use alloy::sol_types::SolEvent;
use zkinfer_contracts::settlement::ISettlement::RequestOpened;

use crate::chain::ChainAccess;
use crate::job::request_key;
use crate::store::{JobStore, OpenedRequest};
use crate::ServeError;

/// Reads the chain from the stored cursor to its latest block; returns the requests of served
/// models it found.
pub fn poll_once(
    store: &mut dyn JobStore,
    chain: &mut ChainAccess,
    follow: &Follow,
) -> Result<Vec<OpenedRequest>, ServeError> {
    let (settlement, models) = (follow.settlement, &follow.models);
    let from = store.meta("next_block")?.unwrap_or(follow.start_block);
    let (latest, time, logs) = chain.with(false, |c| {
        let latest = c.block_number()?;
        let time = c.timestamp()?;
        let logs = if from > latest {
            Vec::new()
        } else {
            c.logs_in(settlement, &[RequestOpened::SIGNATURE_HASH], from, latest)?
        };
        Ok((latest, time, logs))
    })?;
    let mut opened = Vec::new();
    for (block, log) in logs {
        // A log that does not decode is not Settlement's event of that name: skip it.
        let Ok(e) = RequestOpened::decode_log(&log) else {
            continue;
        };
        let Ok(model_id) = u64::try_from(e.modelId) else {
            continue;
        };
        if !models.contains(&model_id) {
            continue;
        }
        opened.push(OpenedRequest {
            request_id: request_key(&e.requestId),
            model_id,
            client: e.client.to_string(),
            input_commitment: format!("{:#x}", e.inputCommitment),
            max_in: e.maxIn,
            max_out: e.maxOut,
            deadline: e.deadline,
            escrow: e.escrow.to_string(),
            block,
        });
    }
    store.record_opened(&opened, latest.max(from.saturating_sub(1)) + 1, time)?;
    Ok(opened)
}

/// What the follower follows.
pub struct Follow {
    /// The Settlement contract.
    pub settlement: Address,
    /// The served model ids.
    pub models: BTreeSet<u64>,
    /// Where to start on a store without a cursor.
    pub start_block: u64,
}

/// Polls every `poll` until `stop` is set; an unreachable chain is retried with backoff.
pub fn run(
    mut store: Box<dyn JobStore>,
    mut chain: ChainAccess,
    follow: Follow,
    poll: Duration,
    stop: &AtomicBool,
) {
    let mut backoff = poll;
    while !stop.load(Ordering::Relaxed) {
        match poll_once(store.as_mut(), &mut chain, &follow) {
            Ok(found) => {
                for o in &found {
                    tracing::info!(request = %o.request_id, model = o.model_id, "request opened");
                }
                backoff = poll;
            }
            Err(e) => {
                tracing::warn!("following the chain: {e} (retrying in {backoff:?})");
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
        crate::worker::sleep_unless(stop, backoff);
    }
}
