//! The PostgreSQL store, shared by servers on several machines: a job is claimed with
//! `FOR UPDATE SKIP LOCKED` (two workers never claim the same row, and neither waits on the
//! other), and held under a lease timed by the database's clock, so the machines' clocks need
//! not agree. A worker that dies stops renewing; when its lease runs out any other claims the job
//! in the state it was in.

use std::collections::BTreeMap;

use postgres::{Client, NoTls, Row};

use super::{
    job_from, parse_state, state_list, Fields, Inserted, JobStore, OpenedRequest, UNFINISHED,
};
use crate::job::{Job, JobState, Opening};
use crate::ServeError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs (
    request_id    TEXT PRIMARY KEY,
    model_id      BIGINT NOT NULL,
    state         TEXT NOT NULL,
    opening       TEXT NOT NULL,
    deadline      BIGINT NOT NULL,
    received_at   BIGINT NOT NULL,
    worker        TEXT,
    lease_until   BIGINT NOT NULL DEFAULT 0,
    attempts      BIGINT NOT NULL DEFAULT 0,
    proof         TEXT,
    result        TEXT,
    prove_seconds DOUBLE PRECISION,
    settlement    TEXT,
    reason        TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, received_at);
CREATE TABLE IF NOT EXISTS opened (
    request_id       TEXT PRIMARY KEY,
    model_id         BIGINT NOT NULL,
    client           TEXT NOT NULL,
    input_commitment TEXT NOT NULL,
    max_in           BIGINT NOT NULL,
    max_out          BIGINT NOT NULL,
    deadline         BIGINT NOT NULL,
    escrow           TEXT NOT NULL,
    block            BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
";

/// The database's clock in whole seconds.
const NOW: &str = "extract(epoch from now())::bigint";

/// A connection to a PostgreSQL store.
pub struct Postgres {
    client: Client,
    url: String,
}

fn err(e: postgres::Error) -> ServeError {
    ServeError::Store(e.to_string())
}

impl Postgres {
    /// Connects to `url` and creates the tables if they are missing.
    pub fn connect(url: &str) -> Result<Self, ServeError> {
        let mut client = Client::connect(url, NoTls).map_err(|e| {
            ServeError::Store(format!(
                "{}: {e}",
                super::StoreConfig::Postgres(url.into()).describe()
            ))
        })?;
        // Servers starting together would race on CREATE; one at a time, under a lock.
        let mut tx = client.transaction().map_err(err)?;
        tx.execute("SELECT pg_advisory_xact_lock(7210863)", &[])
            .map_err(err)?;
        tx.batch_execute(SCHEMA).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(Self {
            client,
            url: url.to_string(),
        })
    }
}

impl JobStore for Postgres {
    fn reopen(&self) -> Result<Box<dyn JobStore>, ServeError> {
        Ok(Box::new(Self::connect(&self.url)?))
    }

    fn insert(
        &mut self,
        request_id: &str,
        model_id: u64,
        opening: &Opening,
        deadline: u64,
        max_queue: u64,
    ) -> Result<Inserted, ServeError> {
        let opening = serde_json::to_string(opening).expect("openings serialize");
        let mut tx = self.client.transaction().map_err(err)?;
        let waiting: i64 = tx
            .query_one(
                &format!(
                    "SELECT COUNT(*) FROM jobs WHERE state IN ({})",
                    state_list(&UNFINISHED)
                ),
                &[],
            )
            .map_err(err)?
            .get(0);
        let existing = tx
            .query_opt(
                "SELECT state FROM jobs WHERE request_id = $1",
                &[&request_id],
            )
            .map_err(err)?;
        if let Some(row) = existing {
            return Ok(Inserted::Exists(parse_state(row.get(0))?));
        }
        if waiting as u64 >= max_queue {
            return Ok(Inserted::QueueFull);
        }
        let n = tx
            .execute(
                &format!(
                    "INSERT INTO jobs (request_id, model_id, state, opening, deadline, received_at)
                     VALUES ($1, $2, 'received', $3, $4, {NOW}) ON CONFLICT DO NOTHING"
                ),
                &[
                    &request_id,
                    &(model_id as i64),
                    &opening,
                    &(deadline as i64),
                ],
            )
            .map_err(err)?;
        tx.commit().map_err(err)?;
        if n == 0 {
            // another server inserted it between our read and our write
            return Ok(Inserted::Exists(JobState::Received));
        }
        Ok(Inserted::New)
    }

    fn claim(&mut self, worker: &str, lease: u64) -> Result<Option<Job>, ServeError> {
        let row = self
            .client
            .query_opt(
                &format!(
                    "WITH next AS (
                         SELECT request_id FROM jobs
                         WHERE state IN ({}) AND lease_until < {NOW}
                         ORDER BY received_at, request_id LIMIT 1
                         FOR UPDATE SKIP LOCKED)
                     UPDATE jobs SET worker = $1, lease_until = {NOW} + $2,
                         attempts = attempts + 1,
                         state = CASE state WHEN 'received' THEN 'proving' ELSE state END
                     FROM next WHERE jobs.request_id = next.request_id
                     RETURNING jobs.*",
                    state_list(&UNFINISHED)
                ),
                &[&worker, &(lease as i64)],
            )
            .map_err(err)?;
        row.map(|r| job_row(&r)).transpose()
    }

    fn advance(
        &mut self,
        id: &str,
        worker: &str,
        from: &[JobState],
        to: JobState,
        f: Fields,
    ) -> Result<bool, ServeError> {
        let n = self
            .client
            .execute(
                &format!(
                    "UPDATE jobs SET state = $3,
                         proof = COALESCE($4, proof), result = COALESCE($5, result),
                         prove_seconds = COALESCE($6, prove_seconds),
                         settlement = COALESCE($7, settlement), reason = COALESCE($8, reason),
                         lease_until = CASE WHEN $9 THEN 0 ELSE lease_until END
                     WHERE request_id = $1 AND worker = $2 AND state IN ({})",
                    state_list(from)
                ),
                &[
                    &id,
                    &worker,
                    &to.as_str(),
                    &f.proof,
                    &f.result,
                    &f.prove_seconds,
                    &f.settlement,
                    &f.reason,
                    &to.is_final(),
                ],
            )
            .map_err(err)?;
        Ok(n == 1)
    }

    fn release(&mut self, id: &str, worker: &str, after: u64) -> Result<(), ServeError> {
        self.client
            .execute(
                &format!(
                    "UPDATE jobs SET lease_until = {NOW} + $3, worker = NULL
                     WHERE request_id = $1 AND worker = $2"
                ),
                &[&id, &worker, &(after as i64)],
            )
            .map_err(err)?;
        Ok(())
    }

    fn renew(&mut self, id: &str, worker: &str, lease: u64) -> Result<bool, ServeError> {
        let n = self
            .client
            .execute(
                &format!(
                    "UPDATE jobs SET lease_until = {NOW} + $3 WHERE request_id = $1 AND worker = $2"
                ),
                &[&id, &worker, &(lease as i64)],
            )
            .map_err(err)?;
        Ok(n == 1)
    }

    fn free_leases(&mut self) -> Result<usize, ServeError> {
        let n = self
            .client
            .execute(
                "UPDATE jobs SET lease_until = 0, worker = NULL WHERE lease_until != 0",
                &[],
            )
            .map_err(err)?;
        Ok(n as usize)
    }

    fn get(&mut self, request_id: &str) -> Result<Option<Job>, ServeError> {
        self.client
            .query_opt("SELECT * FROM jobs WHERE request_id = $1", &[&request_id])
            .map_err(err)?
            .map(|r| job_row(&r))
            .transpose()
    }

    fn counts(&mut self) -> Result<BTreeMap<&'static str, u64>, ServeError> {
        let mut out: BTreeMap<&'static str, u64> =
            JobState::ALL.iter().map(|s| (s.as_str(), 0)).collect();
        for row in self
            .client
            .query("SELECT state, COUNT(*) FROM jobs GROUP BY state", &[])
            .map_err(err)?
        {
            let n: i64 = row.get(1);
            out.insert(parse_state(row.get(0))?.as_str(), n as u64);
        }
        Ok(out)
    }

    fn mean_prove_seconds(&mut self, model_id: u64) -> Result<Option<f64>, ServeError> {
        Ok(self
            .client
            .query_one(
                "SELECT AVG(prove_seconds) FROM jobs WHERE model_id = $1 AND prove_seconds IS NOT NULL",
                &[&(model_id as i64)],
            )
            .map_err(err)?
            .get(0))
    }

    fn meta(&mut self, key: &str) -> Result<Option<u64>, ServeError> {
        Ok(self
            .client
            .query_opt("SELECT value FROM meta WHERE key = $1", &[&key])
            .map_err(err)?
            .map(|r| r.get::<_, i64>(0) as u64))
    }

    fn record_opened(
        &mut self,
        opened: &[OpenedRequest],
        next_block: u64,
        chain_time: u64,
    ) -> Result<(), ServeError> {
        let mut tx = self.client.transaction().map_err(err)?;
        for o in opened {
            tx.execute(
                "INSERT INTO opened VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT DO NOTHING",
                &[
                    &o.request_id,
                    &(o.model_id as i64),
                    &o.client,
                    &o.input_commitment,
                    &(o.max_in as i64),
                    &(o.max_out as i64),
                    &(o.deadline as i64),
                    &o.escrow,
                    &(o.block as i64),
                ],
            )
            .map_err(err)?;
        }
        for (key, value) in [("next_block", next_block), ("chain_time", chain_time)] {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&key, &(value as i64)],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    fn opened(&mut self, request_id: &str) -> Result<Option<OpenedRequest>, ServeError> {
        Ok(self
            .client
            .query_opt("SELECT * FROM opened WHERE request_id = $1", &[&request_id])
            .map_err(err)?
            .map(|r| OpenedRequest {
                request_id: r.get(0),
                model_id: r.get::<_, i64>(1) as u64,
                client: r.get(2),
                input_commitment: r.get(3),
                max_in: r.get::<_, i64>(4) as u64,
                max_out: r.get::<_, i64>(5) as u64,
                deadline: r.get::<_, i64>(6) as u64,
                escrow: r.get(7),
                block: r.get::<_, i64>(8) as u64,
            }))
    }
}

fn job_row(r: &Row) -> Result<Job, ServeError> {
    job_from(
        r.get("request_id"),
        r.get("model_id"),
        r.get("state"),
        r.get("opening"),
        r.get("deadline"),
        r.get("attempts"),
        r.get("proof"),
        r.get("result"),
        r.get("prove_seconds"),
        r.get("settlement"),
        r.get("reason"),
    )
}
