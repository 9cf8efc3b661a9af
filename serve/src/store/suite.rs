//! The checks every [`JobStore`] must pass, run by the tests on SQLite and on a real PostgreSQL:
//! jobs move forward only and only by the worker holding them, a final job is never claimed
//! again, a lease that runs out hands the job to another worker in the state it was in, the
//! queue has a depth, and the follower's cursor moves with the requests it recorded.

use super::{Inserted, JobStore, OpenedRequest};
use crate::job::{JobState, Opening};

fn opening(id: &str) -> Opening {
    Opening {
        request_id: id.into(),
        salt: "0x1".into(),
        input: Some(vec![vec![0.5]]),
        ..Default::default()
    }
}

/// Runs every check on an empty store; `make` opens a connection to it.
pub fn run(make: &dyn Fn() -> Box<dyn JobStore>) {
    moves_forward_only_under_its_lease(make);
    a_run_out_lease_is_claimed_again_in_its_state(make);
    the_queue_has_a_depth(make);
    the_cursor_moves_with_the_requests(make);
}

fn moves_forward_only_under_its_lease(make: &dyn Fn() -> Box<dyn JobStore>) {
    let mut s = make();
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
    assert_eq!(job.opening, opening("a"));
    // held: nobody else gets it, and another worker cannot move it
    let mut other = make();
    assert!(other.claim("w2", 60).unwrap().is_none());
    let v = serde_json::json!({"k": 1});
    assert!(!other.proved("a", "w2", &v, &v, 1.0).unwrap());
    // no skipping: proving cannot become settled
    assert!(!s.settled("a", "w1", &v).unwrap());
    assert!(s.proved("a", "w1", &v, &v, 1.5).unwrap());
    let job = s.get("a").unwrap().unwrap();
    assert_eq!(
        (job.state, job.proof, job.prove_seconds),
        (JobState::Proved, Some(v.clone()), Some(1.5))
    );
    assert!(s.settling("a", "w1").unwrap());
    assert!(s.settled("a", "w1", &v).unwrap());
    let job = s.get("a").unwrap().unwrap();
    assert_eq!(job.state, JobState::Settled);
    assert_eq!(
        job.result,
        Some(v.clone()),
        "earlier steps' fields are kept"
    );
    // a final job is never claimed or ended again, even with every lease freed
    s.free_leases().unwrap();
    assert!(s.claim("w2", 60).unwrap().is_none());
    assert!(!s.end("a", "w1", JobState::Expired, "late").unwrap());
    assert_eq!(s.mean_prove_seconds(1).unwrap(), Some(1.5));
    assert_eq!(s.mean_prove_seconds(2).unwrap(), None);
    // ending records the reason
    s.insert("b", 1, &opening("b"), 100, 8).unwrap();
    s.claim("w1", 60).unwrap().unwrap();
    assert!(s.end("b", "w1", JobState::Refused, "no").unwrap());
    let b = s.get("b").unwrap().unwrap();
    assert_eq!(
        (b.state, b.reason.as_deref()),
        (JobState::Refused, Some("no"))
    );
    assert!(s.get("zz").unwrap().is_none());
}

fn a_run_out_lease_is_claimed_again_in_its_state(make: &dyn Fn() -> Box<dyn JobStore>) {
    let mut s = make();
    s.insert("c", 1, &opening("c"), 100, 8).unwrap();
    let first = s.claim("w1", 1).unwrap().unwrap();
    assert_eq!(first.request_id, "c");
    let v = serde_json::json!({});
    assert!(s.proved("c", "w1", &v, &v, 1.0).unwrap());
    // the worker dies: once its lease has run out, another takes the job where it was
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let mut other = make();
    let job = other.claim("w2", 60).unwrap().expect("the lease ran out");
    assert_eq!((job.state, job.attempts), (JobState::Proved, 2));
    // the dead worker's late writes are refused
    assert!(!s.settling("c", "w1").unwrap());
    assert!(!s.renew("c", "w1", 60).unwrap());
    // giving a job back makes it claimable after the delay, not before
    other.release("c", "w2", 60).unwrap();
    assert!(s.claim("w3", 60).unwrap().is_none());
    assert!(other.settling("c", "w2").is_ok_and(|moved| !moved));
}

fn the_queue_has_a_depth(make: &dyn Fn() -> Box<dyn JobStore>) {
    let mut s = make();
    let waiting = s.counts().unwrap();
    let unfinished: u64 = ["received", "proving", "proved", "settling"]
        .iter()
        .map(|k| waiting[k])
        .sum();
    assert_eq!(
        s.insert("d", 1, &opening("d"), 100, unfinished + 1)
            .unwrap(),
        Inserted::New
    );
    assert_eq!(
        s.insert("e", 1, &opening("e"), 100, unfinished + 1)
            .unwrap(),
        Inserted::QueueFull
    );
    let counts = s.counts().unwrap();
    assert_eq!(counts.len(), JobState::ALL.len());
    assert_eq!(counts["received"], waiting["received"] + 1);
}

fn the_cursor_moves_with_the_requests(make: &dyn Fn() -> Box<dyn JobStore>) {
    let mut s = make();
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
    // seen twice (two followers, or a re-read): kept once
    s.record_opened(std::slice::from_ref(&o), 9, 100).unwrap();
    assert_eq!(s.meta("next_block").unwrap(), Some(9));
    assert_eq!(s.meta("chain_time").unwrap(), Some(100));
    assert_eq!(s.opened("a").unwrap(), Some(o));
    assert_eq!(s.opened("b").unwrap(), None);
}
