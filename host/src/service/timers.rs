//! The timer loop: fires due timers (plugins' and SLA milestones) as
//! `timer-fired` events. Timers that came due while the service was down
//! fire on the first pass after start-up.

use super::state::{Service, now_ms};
use super::store;
use std::sync::Arc;
use std::time::Duration;

/// Timers fired per pass, at most; the next pass takes the rest.
const BATCH: usize = 200;

/// Polls for due timers forever.
pub async fn run(service: Arc<Service>, poll: Duration) {
    loop {
        let s = service.clone();
        let result = tokio::task::spawn_blocking(move || fire_due(&s)).await;
        match result {
            Ok(Ok(n)) if n >= BATCH => continue,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e.message, "timer pass failed"),
            Err(e) => tracing::error!(error = %e, "timer pass panicked"),
        }
        tokio::time::sleep(poll).await;
    }
}

/// Fires every timer due now; returns how many were due.
pub fn fire_due(service: &Service) -> Result<usize, super::error::ApiError> {
    let due = store::due_timers(&service.store.conn(), now_ms(), BATCH)?;
    for timer in &due {
        if let Err(e) = service.fire_timer(timer) {
            tracing::error!(tenant = %timer.tenant, ticket = %timer.ticket, key = %timer.key, error = %e.message, "timer failed");
        }
    }
    Ok(due.len())
}
