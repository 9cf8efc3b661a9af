//! The job store: one SQLite file (WAL mode) that every thread of the service opens on its own
//! connection. Each state change is one statement guarded by the state it leaves (and, for leased
//! states, the worker holding the lease), so two workers can never both move a job, and a killed
//! process leaves the file at the last committed step.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Row};

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

/// A connection to the job store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
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

    /// Another connection to the same file, for another thread.
    pub fn reopen(&self) -> Result<Self, ServeError> {
        Self::open(&self.path)
    }

    /// Queues a job in state `received`, unless one exists for the request or `max_queue`
    /// unfinished jobs are waiting.
    pub fn insert(
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
            "SELECT COUNT(*) FROM jobs WHERE state IN ('received','proving','proved','settling')",
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
    pub fn claim(&mut self, worker: &str, lease: u64) -> Result<Option<Job>, ServeError> {
        let now = crate::now_secs() as i64;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let id: Option<String> = tx
            .query_row(
                "SELECT request_id FROM jobs
                 WHERE state IN ('received','proving','proved','settling') AND lease_until < ?1
                 ORDER BY received_at, request_id LIMIT 1",
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

    /// Moves a job on from `from` to `to`, setting `fields` too, if `worker` still holds it.
    /// Returns whether it moved (a lease taken over by another worker makes it false).
    fn advance(
        &mut self,
        id: &str,
        worker: &str,
        from: &[JobState],
        to: JobState,
        fields: &[(&str, rusqlite::types::Value)],
    ) -> Result<bool, ServeError> {
        let states: Vec<String> = from.iter().map(|s| format!("'{}'", s.as_str())).collect();
        let mut sets = vec!["state = ?3".to_string()];
        let mut values: Vec<rusqlite::types::Value> = vec![
            id.to_string().into(),
            worker.to_string().into(),
            to.as_str().to_string().into(),
        ];
        for (name, v) in fields {
            values.push(v.clone());
            sets.push(format!("{name} = ?{}", values.len()));
        }
        if to.is_final() {
            sets.push("lease_until = 0".into());
        }
        let sql = format!(
            "UPDATE jobs SET {} WHERE request_id = ?1 AND worker = ?2 AND state IN ({})",
            sets.join(", "),
            states.join(",")
        );
        let n = self
            .conn
            .execute(&sql, rusqlite::params_from_iter(values))?;
        Ok(n == 1)
    }

    /// `proving → proved`, with the proof and what the run produced.
    pub fn proved(
        &mut self,
        id: &str,
        worker: &str,
        proof: &serde_json::Value,
        result: &serde_json::Value,
        seconds: f64,
    ) -> Result<bool, ServeError> {
        self.advance(
            id,
            worker,
            &[JobState::Proving],
            JobState::Proved,
            &[
                ("proof", proof.to_string().into()),
                ("result", result.to_string().into()),
                ("prove_seconds", seconds.into()),
            ],
        )
    }

    /// `proved → settling`: from here a transaction may be sent.
    pub fn settling(&mut self, id: &str, worker: &str) -> Result<bool, ServeError> {
        self.advance(
            id,
            worker,
            &[JobState::Proved, JobState::Settling],
            JobState::Settling,
            &[],
        )
    }

    /// `settling → settled`, with the transaction, its gas and the payments.
    pub fn settled(
        &mut self,
        id: &str,
        worker: &str,
        settlement: &serde_json::Value,
    ) -> Result<bool, ServeError> {
        self.advance(
            id,
            worker,
            &[JobState::Settling],
            JobState::Settled,
            &[("settlement", settlement.to_string().into())],
        )
    }

    /// Ends a job the worker holds as `refused` or `expired`, with the reason.
    pub fn end(
        &mut self,
        id: &str,
        worker: &str,
        to: JobState,
        reason: &str,
    ) -> Result<bool, ServeError> {
        debug_assert!(matches!(to, JobState::Refused | JobState::Expired));
        self.advance(
            id,
            worker,
            &[
                JobState::Proving,
                JobState::Proved,
                JobState::Settling,
                JobState::Received,
            ],
            to,
            &[("reason", reason.to_string().into())],
        )
    }

    /// Gives a held job back to be claimed again after `after` seconds (the chain is
    /// unreachable, say), in the state it is in.
    pub fn release(&mut self, id: &str, worker: &str, after: u64) -> Result<(), ServeError> {
        self.conn.execute(
            "UPDATE jobs SET lease_until = ?3, worker = NULL WHERE request_id = ?1 AND worker = ?2",
            params![id, worker, (crate::now_secs() + after) as i64],
        )?;
        Ok(())
    }

    /// Holds a job `lease` seconds more (before a step that may take long).
    pub fn renew(&mut self, id: &str, worker: &str, lease: u64) -> Result<bool, ServeError> {
        let n = self.conn.execute(
            "UPDATE jobs SET lease_until = ?3 WHERE request_id = ?1 AND worker = ?2",
            params![id, worker, (crate::now_secs() + lease) as i64],
        )?;
        Ok(n == 1)
    }

    /// Frees every lease: a store file belongs to one server, so at its start no lease held by
    /// an earlier run of it is alive.
    pub fn free_leases(&mut self) -> Result<usize, ServeError> {
        Ok(self.conn.execute(
            "UPDATE jobs SET lease_until = 0, worker = NULL WHERE lease_until != 0",
            [],
        )?)
    }

    /// The job of `request_id`.
    pub fn get(&self, request_id: &str) -> Result<Option<Job>, ServeError> {
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
    pub fn counts(&self) -> Result<BTreeMap<&'static str, u64>, ServeError> {
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
    pub fn mean_prove_seconds(&self, model_id: u64) -> Result<Option<f64>, ServeError> {
        Ok(self.conn.query_row(
            "SELECT AVG(prove_seconds) FROM jobs WHERE model_id = ?1 AND prove_seconds IS NOT NULL",
            [model_id as i64],
            |r| r.get(0),
        )?)
    }

    /// A number kept under `key` (the follower's cursor, the chain's clock).
    pub fn meta(&self, key: &str) -> Result<Option<u64>, ServeError> {
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
    pub fn record_opened(
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
    pub fn opened(&self, request_id: &str) -> Result<Option<OpenedRequest>, ServeError> {
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

fn parse_state(s: &str) -> Result<JobState, ServeError> {
    JobState::parse(s).ok_or_else(|| ServeError::Store(format!("unknown job state {s:?}")))
}

fn json_column(r: &Row, name: &str) -> rusqlite::Result<Option<serde_json::Value>> {
    let text: Option<String> = r.get(name)?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// A `jobs` row; the outer error is SQLite's, the inner one a row this code did not write.
fn job_row(r: &Row) -> rusqlite::Result<Result<Job, ServeError>> {
    let request_id: String = r.get("request_id")?;
    let state: String = r.get("state")?;
    let opening: String = r.get("opening")?;
    let job = Job {
        request_id: request_id.clone(),
        model_id: r.get::<_, i64>("model_id")? as u64,
        state: JobState::Received,
        opening: Opening::default(),
        deadline: r.get::<_, i64>("deadline")? as u64,
        attempts: r.get::<_, i64>("attempts")? as u32,
        proof: json_column(r, "proof")?,
        result: json_column(r, "result")?,
        prove_seconds: r.get("prove_seconds")?,
        settlement: json_column(r, "settlement")?,
        reason: r.get("reason")?,
    };
    Ok((|| {
        Ok(Job {
            state: parse_state(&state)?,
            opening: serde_json::from_str(&opening)
                .map_err(|e| ServeError::Store(format!("job {request_id}: bad opening: {e}")))?,
            ..job
        })
    })())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opening(id: &str) -> Opening {
        Opening {
            request_id: id.into(),
            salt: "0x1".into(),
            input: Some(vec![vec![0.5]]),
            input_data: None,
            prompt: None,
            prompt_tokens: None,
            max_tokens: None,
        }
    }

    #[test]
    fn a_job_moves_forward_only_under_its_lease() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("jobs.sqlite")).unwrap();
        assert_eq!(
            s.insert("a", 1, &opening("a"), 100, 8).unwrap(),
            Inserted::New
        );
        assert_eq!(
            s.insert("a", 1, &opening("a"), 100, 8).unwrap(),
            Inserted::Exists(JobState::Received)
        );
        let job = s.claim("w1", 60).unwrap().expect("a job to claim");
        assert_eq!((job.state, job.attempts), (JobState::Proving, 1));
        // held: nobody else gets it, and another worker cannot move it
        assert!(s.claim("w2", 60).unwrap().is_none());
        let v = serde_json::json!({});
        assert!(!s.proved("a", "w2", &v, &v, 1.0).unwrap());
        // no skipping: proving cannot become settled
        assert!(!s.settled("a", "w1", &v).unwrap());
        assert!(s.proved("a", "w1", &v, &v, 1.0).unwrap());
        assert!(s.settling("a", "w1").unwrap());
        assert!(s.settled("a", "w1", &v).unwrap());
        assert_eq!(s.get("a").unwrap().unwrap().state, JobState::Settled);
        // a final job is never claimed again, even with its lease gone
        s.free_leases().unwrap();
        assert!(s.claim("w2", 60).unwrap().is_none());
        assert!(!s.end("a", "w1", JobState::Expired, "late").unwrap());
        assert_eq!(s.mean_prove_seconds(1).unwrap(), Some(1.0));
    }

    #[test]
    fn a_dead_workers_job_is_claimed_again_in_its_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.sqlite");
        let mut s = Store::open(&path).unwrap();
        s.insert("a", 1, &opening("a"), 100, 8).unwrap();
        s.claim("w1", 600).unwrap().unwrap();
        // "restart": a new connection frees the old run's leases
        let mut s2 = Store::open(&path).unwrap();
        assert!(s2.claim("w2", 60).unwrap().is_none());
        s2.free_leases().unwrap();
        let job = s2.claim("w2", 60).unwrap().unwrap();
        assert_eq!((job.state, job.attempts), (JobState::Proving, 2));
        // the dead worker's late write is refused
        let v = serde_json::json!({});
        assert!(!s.proved("a", "w1", &v, &v, 1.0).unwrap());
    }

    #[test]
    fn the_queue_refuses_work_beyond_its_depth() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("jobs.sqlite")).unwrap();
        assert_eq!(
            s.insert("a", 1, &opening("a"), 100, 1).unwrap(),
            Inserted::New
        );
        assert_eq!(
            s.insert("b", 1, &opening("b"), 100, 1).unwrap(),
            Inserted::QueueFull
        );
        let counts = s.counts().unwrap();
        assert_eq!((counts["received"], counts["settled"]), (1, 0));
    }

    #[test]
    fn the_cursor_moves_with_the_requests_it_saw() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("jobs.sqlite")).unwrap();
        assert_eq!(s.meta("next_block").unwrap(), None);
        let o = OpenedRequest {
            request_id: "a".into(),
            model_id: 1,
            client: "0x01".into(),
            input_commitment: "0x02".into(),
            max_in: 3,
            max_out: 4,
            deadline: 5,
            escrow: "6".into(),
            block: 7,
        };
        s.record_opened(std::slice::from_ref(&o), 8, 99).unwrap();
        assert_eq!(s.meta("next_block").unwrap(), Some(8));
        assert_eq!(s.meta("chain_time").unwrap(), Some(99));
        assert_eq!(s.opened("a").unwrap(), Some(o));
    }
}
