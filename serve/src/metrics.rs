//! Counters for `GET /metrics`, in Prometheus' text format. Queue depths are read from the store
//! at each scrape, so they count every worker sharing it; the counters are this process's.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// This process's counters.
#[derive(Default)]
pub struct Metrics {
    proofs: AtomicU64,
    prove_micros: AtomicU64,
    settlements: AtomicU64,
    settle_gas: AtomicU64,
    failures: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    /// A proof took `seconds`.
    pub fn proved(&self, seconds: f64) {
        self.proofs.fetch_add(1, Ordering::Relaxed);
        self.prove_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    /// A settlement used `gas`.
    pub fn settled(&self, gas: u64) {
        self.settlements.fetch_add(1, Ordering::Relaxed);
        self.settle_gas.fetch_add(gas, Ordering::Relaxed);
    }

    /// Something failed: `kind` is `chain` (retried), `refused`, `expired` or `store`.
    pub fn failure(&self, kind: &'static str) {
        *self
            .failures
            .lock()
            .expect("metrics lock")
            .entry(kind)
            .or_default() += 1;
    }

    /// The text exposition, with the store's job counts by state.
    pub fn render(&self, jobs: &BTreeMap<&'static str, u64>) -> String {
        let mut out = String::new();
        let queued: u64 = ["received", "proving", "proved", "settling"]
            .iter()
            .map(|s| jobs.get(s).copied().unwrap_or(0))
            .sum();
        let _ = writeln!(
            out,
            "# HELP zkinfer_queue_depth Jobs received and not yet settled, refused or expired.\n\
             # TYPE zkinfer_queue_depth gauge\nzkinfer_queue_depth {queued}"
        );
        let _ = writeln!(
            out,
            "# HELP zkinfer_jobs Jobs in the store by state.\n# TYPE zkinfer_jobs gauge"
        );
        for (state, n) in jobs {
            let _ = writeln!(out, "zkinfer_jobs{{state=\"{state}\"}} {n}");
        }
        let proofs = self.proofs.load(Ordering::Relaxed);
        let secs = self.prove_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(
            out,
            "# HELP zkinfer_prove_seconds Time spent proving.\n# TYPE zkinfer_prove_seconds summary\n\
             zkinfer_prove_seconds_sum {secs}\nzkinfer_prove_seconds_count {proofs}"
        );
        let _ = writeln!(
            out,
            "# HELP zkinfer_settle_gas Gas used by this process's settlements.\n\
             # TYPE zkinfer_settle_gas counter\nzkinfer_settle_gas_total {}\n\
             # HELP zkinfer_settlements Settlements this process sent.\n\
             # TYPE zkinfer_settlements counter\nzkinfer_settlements_total {}",
            self.settle_gas.load(Ordering::Relaxed),
            self.settlements.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP zkinfer_failures Failures by kind.\n# TYPE zkinfer_failures counter"
        );
        for (kind, n) in self.failures.lock().expect("metrics lock").iter() {
            let _ = writeln!(out, "zkinfer_failures_total{{kind=\"{kind}\"}} {n}");
        }
        out
    }
}
