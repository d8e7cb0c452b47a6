//! The timer loop: fires due timers (plugins' and SLA milestones) as
//! `timer-fired` events. Timers that came due while the service was down
//! fire on the first pass after start-up.

use docket_app::Service;
use std::sync::Arc;
use std::time::Duration;

/// Timers fired per pass, at most; the next pass takes the rest.
pub const BATCH: usize = 200;

/// Polls for due timers forever.
pub async fn run(service: Arc<Service>, poll: Duration) {
    loop {
        let s = service.clone();
        let result = tokio::task::spawn_blocking(move || s.fire_due_timers(BATCH)).await;
        match result {
            Ok(Ok(n)) if n >= BATCH => continue,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "timer pass failed"),
            Err(e) => tracing::error!(error = %e, "timer pass panicked"),
        }
        tokio::time::sleep(poll).await;
    }
}
