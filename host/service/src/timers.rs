//! The timer loop: fires due timers (plugins' and SLA milestones) as
//! `timer-fired` events. Timers that came due while the service was down
//! fire on the first pass after start-up.

use super::state::Service;
use docket_app::Store;
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

/// How long a timer whose event could not be stored waits before it is
/// tried again: it stays durable, but never spins the poll loop.
pub const RETRY_DELAY_MS: i64 = 60_000;

/// Fires every timer due now; returns how many were due. A timer whose
/// event fails is postponed by [`RETRY_DELAY_MS`] (and logged), so a
/// permanently failing timer neither blocks the others nor keeps the loop
/// busy.
pub fn fire_due(service: &Service) -> Result<usize, super::error::ApiError> {
    let now = service.now();
    let due = service.store().due_timers(now, BATCH)?;
    for timer in &due {
        if let Err(e) = service.fire_timer(timer) {
            tracing::error!(tenant = %timer.tenant, ticket = %timer.ticket, key = %timer.key, error = %e.message, "timer failed; retrying in a minute");
            service
                .store()
                .postpone_timer(timer, now + RETRY_DELAY_MS)?;
        }
    }
    Ok(due.len())
}
