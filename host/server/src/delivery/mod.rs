//! The webhook sender: stages new outbox messages as deliveries, claims
//! the due ones, sends them concurrently and records every attempt.
//!
//! - A pass claims at most [`MAX_IN_FLIGHT`] attempts in all, and per
//!   endpoint at most its allowance minus what is already out there: a
//!   slow or dead endpoint fills only its own allowance, and every other
//!   endpoint's deliveries keep going.
//! - A pass is one transaction: it records the attempts finished since
//!   the last pass, stages new messages and claims what is due. Passes run
//!   when an attempt finishes, when this process commits a message (at
//!   once), and every `poll_ms` (other replicas' messages, retries coming
//!   due); attempts that finish during a pass are recorded by the next.
//!
//! - Once a minute (more often while there is a backlog), what the
//!   retention has passed is deleted.
//!
//! Delivery is at least once: a process that dies between an attempt and
//! its record leaves the claim to expire, and the message goes again with
//! the same id.

mod client;

pub use client::Sender;

use docket_app::Service;
use docket_app::webhook::AttemptResult;
use docket_app::webhook::store::EndpointKey;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc};

/// Attempts in flight from this process at most.
pub const MAX_IN_FLIGHT: usize = 256;
/// Passes start at least this far apart (the delay a message may wait to
/// join a batch).
const MIN_PASS_INTERVAL: Duration = Duration::from_millis(5);
/// How often expired messages and deliveries are looked for.
const PURGE_INTERVAL: Duration = Duration::from_secs(60);
/// How long a failed pass (the store unavailable) waits before the next.
const BACKOFF: Duration = Duration::from_secs(1);

/// What is in flight, per endpoint.
#[derive(Default)]
struct InFlight {
    per_endpoint: HashMap<EndpointKey, usize>,
    total: usize,
}

impl InFlight {
    fn add(&mut self, key: EndpointKey) {
        *self.per_endpoint.entry(key).or_default() += 1;
        self.total += 1;
    }

    fn remove(&mut self, key: &EndpointKey) {
        if let Some(n) = self.per_endpoint.get_mut(key) {
            *n -= 1;
            if *n == 0 {
                self.per_endpoint.remove(key);
            }
            self.total -= 1;
        }
    }
}

/// Runs the sender forever.
pub async fn run(service: Arc<Service>, sender: Sender) {
    let poll = Duration::from_millis(service.webhook_settings().poll_ms);
    let in_flight = Arc::new(Mutex::new(InFlight::default()));
    // Woken by finished attempts and by this process's commits.
    let wake = Arc::new(Notify::new());
    let on_commit = wake.clone();
    service.on_outbox_write(move || on_commit.notify_one());
    let (results_tx, mut results_rx) = mpsc::unbounded_channel();
    // Results not yet recorded: kept across a failed pass.
    let mut unrecorded: Vec<AttemptResult> = Vec::new();
    let mut next_purge = Instant::now();
    loop {
        if Instant::now() >= next_purge {
            let s = service.clone();
            let purged = tokio::task::spawn_blocking(move || s.purge_expired()).await;
            // Rows removed: more may be due, so look again soon.
            let again = match purged {
                Ok(Ok(0)) => PURGE_INTERVAL,
                Ok(Ok(n)) => {
                    tracing::info!(rows = n, "retention removed expired messages");
                    Duration::from_millis(100)
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "retention pass failed");
                    PURGE_INTERVAL
                }
                Err(e) => {
                    tracing::error!(error = %e, "retention pass panicked");
                    PURGE_INTERVAL
                }
            };
            next_purge = Instant::now() + again;
        }
        while let Ok(r) = results_rx.try_recv() {
            unrecorded.push(r);
        }
        let (snapshot, room) = {
            let f = in_flight.lock().expect("in-flight lock");
            (f.per_endpoint.clone(), MAX_IN_FLIGHT - f.total)
        };
        let results = std::mem::take(&mut unrecorded);
        let pass_started = Instant::now();
        let s = service.clone();
        let pass = tokio::task::spawn_blocking(move || {
            let claimed = s.delivery_pass(&results, &snapshot, room);
            (results, claimed)
        })
        .await;
        let claimed = match pass {
            Ok((_, Ok(claimed))) => claimed,
            Ok((results, Err(e))) => {
                tracing::error!(error = %e, "webhook pass failed");
                unrecorded = results;
                tokio::time::sleep(BACKOFF).await;
                continue;
            }
            Err(e) => {
                // The results are lost with the panicked pass: their
                // claims expire and the messages go again (same ids).
                tracing::error!(error = %e, "webhook pass panicked");
                tokio::time::sleep(BACKOFF).await;
                continue;
            }
        };
        let busy = !claimed.is_empty();
        for c in claimed {
            let key = (c.tenant.clone(), c.webhook.clone());
            in_flight.lock().expect("in-flight lock").add(key.clone());
            let (sender, results_tx, in_flight, wake, service) = (
                sender.clone(),
                results_tx.clone(),
                in_flight.clone(),
                wake.clone(),
                service.clone(),
            );
            tokio::spawn(async move {
                let result = sender.attempt(&c, service.now()).await;
                in_flight.lock().expect("in-flight lock").remove(&key);
                let _ = results_tx.send(result);
                wake.notify_one();
            });
        }
        // Unless results are waiting already, wait for a reason to look
        // again: a finished attempt (a slot freed, a result to record,
        // maybe a ticket's next message to promote), a local commit, or
        // the poll interval.
        if !busy || results_rx.is_empty() {
            let _ = tokio::time::timeout(poll, wake.notified()).await;
        }
        // Passes are spaced so each carries a batch: under load, one
        // transaction records and claims many deliveries instead of one
        // each (the event path shares the writer).
        let next_pass = pass_started + MIN_PASS_INTERVAL;
        if let Some(wait) = next_pass.checked_duration_since(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
    }
}
