//! The SQLite store: one file in WAL mode, which every thread of one server opens on its own
//! connection. A file belongs to one server at a time (the service locks it), so at start every
//! lease it finds was held by a dead run of that server.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{
    job_from, parse_state, state_list, Fields, Inserted, JobStore, OpenedRequest, UNFINISHED,
};
use crate::job::{Job, JobState, Opening};
use crate::ServeError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs (
    request_id    TEXT PRIMARY KEY,
    model_id      INTEGER NOT NULL,
    state         TEXT NOT NULL,
    opening       TEXT NOT NULL,
    deadline      INTEGER NOT NULL,
    received_at   INTEGER NOT NULL,
    worker        TEXT,
    lease_until   INTEGER NOT NULL DEFAULT 0,
    attempts      INTEGER NOT NULL DEFAULT 0,
    proof         TEXT,
    result        TEXT,
    prove_seconds REAL,
    settlement    TEXT,
    reason        TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, received_at);
CREATE TABLE IF NOT EXISTS opened (
    request_id       TEXT PRIMARY KEY,
    model_id         INTEGER NOT NULL,
    client           TEXT NOT NULL,
    input_commitment TEXT NOT NULL,
    max_in           INTEGER NOT NULL,
    max_out          INTEGER NOT NULL,
    deadline         INTEGER NOT NULL,
    escrow           TEXT NOT NULL,
    block            INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
";

/// A connection to a SQLite store.
pub struct Sqlite {
    conn: Connection,
    path: PathBuf,
}

impl Sqlite {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, ServeError> {
        let conn = Connection::open(path)
            .map_err(|e| ServeError::Store(format!("{}: {e}", path.display())))?;
        conn.busy_timeout(Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // WAL with NORMAL sync survives a killed process (only a power cut may lose the last step).
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(SCHEMA)
            .map_err(|e| ServeError::Store(format!("{}: {e}", path.display())))?;
        Ok(Self {
            conn,
            path: path.to_path_buf(),
        })
    }
}

impl JobStore for Sqlite {
    fn reopen(&self) -> Result<Box<dyn JobStore>, ServeError> {
        Ok(Box::new(Self::open(&self.path)?))
    }

    /// Queues a job in state `received`, unless one exists for the request or `max_queue`
    /// unfinished jobs are waiting.
    fn insert(
        &mut self,
        request_id: &str,
        model_id: u64,
        opening: &Opening,
        deadline: u64,
        max_queue: u64,
    ) -> Result<Inserted, ServeError> {
        let opening = serde_json::to_string(opening).expect("openings serialize");
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let existing: Option<String> = tx
            .query_row(
                "SELECT state FROM jobs WHERE request_id = ?1",
                [request_id],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(state) = existing {
            return Ok(Inserted::Exists(parse_state(&state)?));
        }
        let waiting: u64 = tx.query_row(
            &format!(
                "SELECT COUNT(*) FROM jobs WHERE state IN ({})",
                state_list(&UNFINISHED)
            ),
            [],
            |r| r.get(0),
        )?;
        if waiting >= max_queue {
            return Ok(Inserted::QueueFull);
        }
        tx.execute(
            "INSERT INTO jobs (request_id, model_id, state, opening, deadline, received_at)
             VALUES (?1, ?2, 'received', ?3, ?4, ?5)",
            params![
                request_id,
                model_id as i64,
                opening,
                deadline as i64,
                crate::now_secs() as i64
            ],
        )?;
        tx.commit()?;
        Ok(Inserted::New)
    }

    /// Claims the oldest job a worker can move: one `received` or `proved`, or one in `proving`
    /// or `settling` whose lease ran out. The claim moves `received` to `proving` and holds the
    /// job for `lease` seconds.
    fn claim(&mut self, worker: &str, lease: u64) -> Result<Option<Job>, ServeError> {
        let now = crate::now_secs() as i64;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let id: Option<String> = tx
            .query_row(
                &format!(
                    "SELECT request_id FROM jobs WHERE state IN ({}) AND lease_until < ?1
                     ORDER BY received_at, request_id LIMIT 1",
                    state_list(&UNFINISHED)
                ),
                [now],
                |r| r.get(0),
            )
            .optional()?;
        let Some(id) = id else { return Ok(None) };
        tx.execute(
            "UPDATE jobs SET worker = ?2, lease_until = ?3, attempts = attempts + 1,
                 state = CASE state WHEN 'received' THEN 'proving' ELSE state END
             WHERE request_id = ?1",
            params![id, worker, now + lease as i64],
        )?;
        let job = tx.query_row("SELECT * FROM jobs WHERE request_id = ?1", [&id], job_row)?;
        tx.commit()?;
        Ok(Some(job?))
    }

    fn advance(
        &mut self,
        id: &str,
        worker: &str,
        from: &[JobState],
        to: JobState,
        f: Fields,
    ) -> Result<bool, ServeError> {
        let sql = format!(
            "UPDATE jobs SET state = ?3,
                 proof = COALESCE(?4, proof), result = COALESCE(?5, result),
                 prove_seconds = COALESCE(?6, prove_seconds),
                 settlement = COALESCE(?7, settlement), reason = COALESCE(?8, reason),
                 lease_until = CASE WHEN ?9 THEN 0 ELSE lease_until END
             WHERE request_id = ?1 AND worker = ?2 AND state IN ({})",
            state_list(from)
        );
        let n = self.conn.execute(
            &sql,
            params![
                id,
                worker,
                to.as_str(),
                f.proof,
                f.result,
                f.prove_seconds,
                f.settlement,
                f.reason,
                to.is_final()
            ],
        )?;
        Ok(n == 1)
    }

    /// Gives a held job back to be claimed again after `after` seconds (the chain is
    /// unreachable, say), in the state it is in.
    fn release(&mut self, id: &str, worker: &str, after: u64) -> Result<(), ServeError> {
        self.conn.execute(
            "UPDATE jobs SET lease_until = ?3, worker = NULL WHERE request_id = ?1 AND worker = ?2",
            params![id, worker, (crate::now_secs() + after) as i64],
        )?;
        Ok(())
    }

    /// Holds a job `lease` seconds more (before a step that may take long).
    fn renew(&mut self, id: &str, worker: &str, lease: u64) -> Result<bool, ServeError> {
        let n = self.conn.execute(
            "UPDATE jobs SET lease_until = ?3 WHERE request_id = ?1 AND worker = ?2",
            params![id, worker, (crate::now_secs() + lease) as i64],
        )?;
        Ok(n == 1)
    }

    /// Frees every lease: a store file belongs to one server, so at its start no lease held by
    /// an earlier run of it is alive.
    fn free_leases(&mut self) -> Result<usize, ServeError> {
        Ok(self.conn.execute(
            "UPDATE jobs SET lease_until = 0, worker = NULL WHERE lease_until != 0",
            [],
        )?)
    }

    /// The job of `request_id`.
    fn get(&mut self, request_id: &str) -> Result<Option<Job>, ServeError> {
        self.conn
            .query_row(
                "SELECT * FROM jobs WHERE request_id = ?1",
                [request_id],
                job_row,
            )
            .optional()?
            .transpose()
    }

    /// How many jobs are in each state.
    fn counts(&mut self) -> Result<BTreeMap<&'static str, u64>, ServeError> {
        let mut out: BTreeMap<&'static str, u64> =
            JobState::ALL.iter().map(|s| (s.as_str(), 0)).collect();
        let mut stmt = self
            .conn
            .prepare("SELECT state, COUNT(*) FROM jobs GROUP BY state")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))?;
        for row in rows {
            let (state, n) = row?;
            out.insert(parse_state(&state)?.as_str(), n);
        }
        Ok(out)
    }

    /// The mean proving time of `model_id`'s jobs so far, if any was proved.
    fn mean_prove_seconds(&mut self, model_id: u64) -> Result<Option<f64>, ServeError> {
        Ok(self.conn.query_row(
            "SELECT AVG(prove_seconds) FROM jobs WHERE model_id = ?1 AND prove_seconds IS NOT NULL",
            [model_id as i64],
            |r| r.get(0),
        )?)
    }

    /// A number kept under `key` (the follower's cursor, the chain's clock).
    fn meta(&mut self, key: &str) -> Result<Option<u64>, ServeError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| {
                r.get::<_, i64>(0)
            })
            .optional()?
            .map(|v| v as u64))
    }

    /// Records requests the follower saw, the next block to read and the chain's clock, in one
    /// transaction, so the cursor never moves past a request that was not stored.
    fn record_opened(
        &mut self,
        opened: &[OpenedRequest],
        next_block: u64,
        chain_time: u64,
    ) -> Result<(), ServeError> {
        let tx = self.conn.transaction()?;
        for o in opened {
            tx.execute(
                "INSERT OR IGNORE INTO opened VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    o.request_id,
                    o.model_id as i64,
                    o.client,
                    o.input_commitment,
                    o.max_in as i64,
                    o.max_out as i64,
                    o.deadline as i64,
                    o.escrow,
                    o.block as i64
                ],
            )?;
        }
        for (key, value) in [("next_block", next_block), ("chain_time", chain_time)] {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value as i64],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// A request the follower saw opened.
    fn opened(&mut self, request_id: &str) -> Result<Option<OpenedRequest>, ServeError> {
        Ok(self
            .conn
            .query_row(
                "SELECT * FROM opened WHERE request_id = ?1",
                [request_id],
                |r| {
                    Ok(OpenedRequest {
                        request_id: r.get(0)?,
                        model_id: r.get::<_, i64>(1)? as u64,
                        client: r.get(2)?,
                        input_commitment: r.get(3)?,
                        max_in: r.get::<_, i64>(4)? as u64,
                        max_out: r.get::<_, i64>(5)? as u64,
                        deadline: r.get::<_, i64>(6)? as u64,
                        escrow: r.get(7)?,
                        block: r.get::<_, i64>(8)? as u64,
                    })
                },
            )
            .optional()?)
    }
}

/// A `jobs` row; the outer error is SQLite's, the inner one a row this code did not write.
fn job_row(r: &Row) -> rusqlite::Result<Result<Job, ServeError>> {
    Ok(job_from(
        r.get("request_id")?,
        r.get("model_id")?,
        &r.get::<_, String>("state")?,
        &r.get::<_, String>("opening")?,
        r.get("deadline")?,
        r.get("attempts")?,
        r.get("proof")?,
        r.get("result")?,
        r.get("prove_seconds")?,
        r.get("settlement")?,
        r.get("reason")?,
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn passes_the_store_suite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.sqlite");
        super::super::suite::run(&|| Box::new(super::Sqlite::open(&path).unwrap()));
    }
}
