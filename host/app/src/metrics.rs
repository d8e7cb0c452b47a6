//! Counters exposed at `/metrics` in the Prometheus text format.

use crate::catalog::CommitStats;
use docket_engine::Outcome;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Service counters.
#[derive(Default)]
pub struct Metrics {
    events: Mutex<BTreeMap<(String, &'static str), u64>>,
    plugin_errors: Mutex<BTreeMap<(String, String, &'static str), u64>>,
    dispatch_us_total: AtomicU64,
    dispatch_count: AtomicU64,
    timers_fired: AtomicU64,
    idempotent_replays: AtomicU64,
    webhook_succeeded: AtomicU64,
    webhook_failed: AtomicU64,
}

impl Metrics {
    /// Counts a dispatched event by what became of it: `applied`,
    /// `rejected` or `failed` once stored, `error` when it could not be.
    pub fn count_outcome(&self, tenant: &str, status: &'static str, o: &Outcome) {
        *self
            .events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((tenant.to_string(), status))
            .or_default() += 1;
        let mut errors = self.plugin_errors.lock().unwrap_or_else(|p| p.into_inner());
        for r in &o.trace {
            if let Some(e) = &r.error {
                *errors
                    .entry((o.tenant.clone(), r.plugin.clone(), e.kind()))
                    .or_default() += 1;
            }
        }
        self.dispatch_us_total
            .fetch_add(o.elapsed_us, Ordering::Relaxed);
        self.dispatch_count.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a fired timer.
    pub fn count_timer(&self) {
        self.timers_fired.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a retried request answered from the store.
    pub fn count_replay(&self) {
        self.idempotent_replays.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a webhook attempt by its outcome.
    pub fn count_webhook_attempt(&self, succeeded: bool) {
        let counter = if succeeded {
            &self.webhook_succeeded
        } else {
            &self.webhook_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition, with the store's commit counters
    /// when it keeps them.
    pub fn render(&self, commits: Option<CommitStats>) -> String {
        let mut out = String::new();
        out.push_str("# TYPE docket_events_total counter\n");
        for ((tenant, status), n) in self.events.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            out.push_str(&format!(
                "docket_events_total{{tenant=\"{tenant}\",status=\"{status}\"}} {n}\n"
            ));
        }
        out.push_str("# TYPE docket_plugin_errors_total counter\n");
        for ((tenant, plugin, kind), n) in self
            .plugin_errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            out.push_str(&format!("docket_plugin_errors_total{{tenant=\"{tenant}\",plugin=\"{plugin}\",kind=\"{kind}\"}} {n}\n"));
        }
        let gauge = |name: &str, kind: &str, v: u64| format!("# TYPE {name} {kind}\n{name} {v}\n");
        out.push_str(&gauge(
            "docket_dispatch_microseconds_total",
            "counter",
            self.dispatch_us_total.load(Ordering::Relaxed),
        ));
        out.push_str(&gauge(
            "docket_dispatch_total",
            "counter",
            self.dispatch_count.load(Ordering::Relaxed),
        ));
        out.push_str(&gauge(
            "docket_timers_fired_total",
            "counter",
            self.timers_fired.load(Ordering::Relaxed),
        ));
        out.push_str(&gauge(
            "docket_idempotent_replays_total",
            "counter",
            self.idempotent_replays.load(Ordering::Relaxed),
        ));
        out.push_str("# TYPE docket_webhook_attempts_total counter\n");
        for (outcome, n) in [
            ("succeeded", &self.webhook_succeeded),
            ("failed", &self.webhook_failed),
        ] {
            let n = n.load(Ordering::Relaxed);
            out.push_str(&format!(
                "docket_webhook_attempts_total{{outcome=\"{outcome}\"}} {n}\n"
            ));
        }
        if let Some(c) = commits {
            out.push_str(&gauge("docket_store_writes_total", "counter", c.writes));
            out.push_str(&gauge("docket_store_commits_total", "counter", c.commits));
            out.push_str(&gauge(
                "docket_store_synced_commits_total",
                "counter",
                c.synced_commits,
            ));
        }
        out
    }
}
