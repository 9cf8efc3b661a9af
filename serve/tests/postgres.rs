//! The PostgreSQL store against a real server: the shared store suite, and many workers
//! claiming at once never share a job.

mod common;

use std::collections::BTreeSet;

use common::pg::Pg;
use zkinfer_serve::job::Opening;
use zkinfer_serve::store::{suite, StoreConfig};

#[test]
fn passes_the_store_suite() {
    let pg = Pg::start();
    let store = StoreConfig::Postgres(pg.url.clone());
    suite::run(&|| store.open().unwrap());
}

#[test]
fn workers_claiming_at_once_never_share_a_job() {
    let pg = Pg::start();
    let store = StoreConfig::Postgres(pg.url.clone());
    let jobs = 60;
    let mut s = store.open().unwrap();
    for i in 0..jobs {
        let id = format!("job-{i:03}");
        let o = Opening {
            request_id: id.clone(),
            salt: "0x1".into(),
            input: Some(vec![vec![1.0]]),
            ..Default::default()
        };
        s.insert(&id, 1, &o, 100, 1000).unwrap();
    }
    let claimed: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|w| {
                let store = &store;
                scope.spawn(move || {
                    let mut s = store.open().unwrap();
                    let mut mine = Vec::new();
                    while let Some(job) = s.claim(&format!("w{w}"), 600).unwrap() {
                        mine.push(job.request_id);
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let distinct: BTreeSet<&String> = claimed.iter().collect();
    assert_eq!(claimed.len(), jobs, "every job claimed once");
    assert_eq!(distinct.len(), jobs);
}
