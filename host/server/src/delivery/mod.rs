//! The webhook sender: stages new outbox messages as deliveries, claims
//! the due ones, sends them concurrently and records every attempt.
//!
//! - A pass claims at most [`MAX_IN_FLIGHT`] attempts in all, and per
//!   endpoint at most its allowance minus what is already out there: a
//!   slow or dead endpoint fills only its own allowance, and every other
//!   endpoint's deliveries keep going.
//! - Passes run when this process commits a message (at once), when an
//!   attempt finishes (a slot freed), and every `poll_ms` (other replicas'
//!   messages, retries coming due).
//! - Results are recorded in batches, one transaction each.
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
/// Results recorded in one transaction at most.
const RESULT_BATCH: usize = 256;
/// How often the sender checks for this process's own commits.
const LOCAL_CHECK: Duration = Duration::from_millis(2);
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
    let freed = Arc::new(Notify::new());
    let (results, received) = mpsc::unbounded_channel();
    tokio::spawn(record(service.clone(), received, freed.clone()));
    loop {
        let seen = service.outbox_writes();
        let (snapshot, room) = {
            let f = in_flight.lock().expect("in-flight lock");
            (f.per_endpoint.clone(), MAX_IN_FLIGHT - f.total)
        };
        let claimed = if room == 0 {
            Ok(Vec::new())
        } else {
            let s = service.clone();
            tokio::task::spawn_blocking(move || s.claim_deliveries(&snapshot, room))
                .await
                .unwrap_or_else(|e| Err(docket_app::AppError::BadRequest(e.to_string())))
        };
        let claimed = match claimed {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "webhook pass failed");
                tokio::time::sleep(BACKOFF).await;
                continue;
            }
        };
        let full = claimed.len() == room && room > 0;
        for c in claimed {
            let key = (c.tenant.clone(), c.webhook.clone());
            in_flight.lock().expect("in-flight lock").add(key.clone());
            let (sender, results, in_flight, service) = (
                sender.clone(),
                results.clone(),
                in_flight.clone(),
                service.clone(),
            );
            tokio::spawn(async move {
                let result = sender.attempt(&c, service.now()).await;
                in_flight.lock().expect("in-flight lock").remove(&key);
                let _ = results.send(result);
            });
        }
        if full {
            continue;
        }
        // Wait for a reason to look again: a local commit, recorded
        // results (slots freed, a ticket's next message promoted), or the
        // poll interval.
        let until = Instant::now() + poll;
        loop {
            tokio::select! {
                _ = freed.notified() => break,
                _ = tokio::time::sleep(LOCAL_CHECK) => {}
            }
            if service.outbox_writes() != seen || Instant::now() >= until {
                break;
            }
        }
    }
}

/// Records results as they come, in batches, and wakes the claiming loop
/// after each.
async fn record(
    service: Arc<Service>,
    mut received: mpsc::UnboundedReceiver<AttemptResult>,
    recorded_results: Arc<Notify>,
) {
    let mut batch = Vec::with_capacity(RESULT_BATCH);
    while received.recv_many(&mut batch, RESULT_BATCH).await > 0 {
        for r in &batch {
            service.metrics.count_webhook_attempt(r.succeeded());
        }
        let s = service.clone();
        let done = std::mem::take(&mut batch);
        let recorded = tokio::task::spawn_blocking(move || s.finish_deliveries(&done)).await;
        match recorded {
            Ok(Ok(())) => {}
            // The claims expire and the messages go again (same ids).
            Ok(Err(e)) => tracing::error!(error = %e, "recording webhook attempts failed"),
            Err(e) => tracing::error!(error = %e, "recording webhook attempts panicked"),
        }
        recorded_results.notify_one();
    }
}
