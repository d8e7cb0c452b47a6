//! The pull feed: a tenant's outbox from any cursor, with long-polling,
//! for backends that cannot receive webhooks. The same messages as the
//! webhooks, in the same order.

use crate::auth::require_tenant;
use crate::error::ApiError;
use crate::handler::{ApiResult, Shared, TenantPath, blocking, ok};
use crate::schema::ReadErrors;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use docket_app::Service;
use docket_app::StoredMessage;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use utoipa::{IntoParams, ToSchema};

/// The longest a request may wait for a message.
const MAX_WAIT_SECONDS: u64 = 30;
/// How often a waiting request looks for messages other replicas wrote
/// (those this process writes wake it at once).
const REPLICA_POLL: Duration = Duration::from_millis(250);

/// Wakes the waiting feed requests when this process commits messages.
#[derive(Clone)]
pub(crate) struct OutboxSignal(Arc<Notify>);

impl OutboxSignal {
    /// A signal raised by every outbox write of `service`.
    pub(crate) fn listening_to(service: &Service) -> OutboxSignal {
        let notify = Arc::new(Notify::new());
        let raise = notify.clone();
        service.on_outbox_write(move || raise.notify_waiters());
        OutboxSignal(notify)
    }
}

/// Feed query: a cursor, a page size, how long to wait.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct FeedQuery {
    /// Messages after this position (the `next` of the previous page; 0,
    /// the default, is the start).
    #[serde(default)]
    #[param(minimum = 0, maximum = 9_223_372_036_854_775_807_i64)]
    after: u64,
    /// At most this many messages (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// With no message after the cursor, wait up to this many seconds for
    /// one (default 0: answer at once).
    #[serde(default)]
    #[param(minimum = 0, maximum = 30)]
    wait: u64,
}

/// `GET /v1/tenants/{tenant}/events`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FeedPage {
    /// Messages in outbox order.
    messages: Vec<StoredMessage>,
    /// The cursor to ask after next: the last message's position, or the
    /// request's `after` when there was none.
    next: u64,
}

/// The tenant's messages after a cursor: ticket changes, notifications,
/// SLA milestones and breaches, invoices and approvals, each once, in the
/// order their events committed. Resumable from any cursor; with `wait`,
/// an empty page is held until a message arrives or the wait is over.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/events", tag = "delivery", security(("bearer" = [])),
    params(TenantPath, FeedQuery),
    responses((status = 200, description = "A page of messages", body = FeedPage), ReadErrors))]
pub(crate) async fn feed(
    axum::extract::State(s): Shared,
    headers: HeaderMap,
    axum::Extension(signal): axum::Extension<OutboxSignal>,
    Path(p): Path<TenantPath>,
    q: Result<Query<FeedQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let q = q.map_err(|e| ApiError::bad_request(e.body_text()))?.0;
    if q.wait > MAX_WAIT_SECONDS {
        return Err(ApiError::bad_request(format!(
            "wait: {} is out of range (0 to {MAX_WAIT_SECONDS} seconds)",
            q.wait
        )));
    }
    let deadline = Instant::now() + Duration::from_secs(q.wait);
    let limit = q.limit.unwrap_or(100);
    let headers = std::sync::Arc::new(headers);
    loop {
        let seen = s.outbox_writes();
        let (service, headers, tenant) = (s.clone(), headers.clone(), p.tenant.clone());
        let messages = blocking(move || {
            require_tenant(&service, &headers, &tenant)?;
            Ok(service.messages_after(&tenant, q.after, limit)?)
        })
        .await?;
        let now = Instant::now();
        if !messages.is_empty() || now >= deadline {
            let next = messages.last().map_or(q.after, |m| m.seq);
            return ok(StatusCode::OK, FeedPage { messages, next });
        }
        let look_again = deadline.min(now + REPLICA_POLL);
        // Listening before comparing: a write in between is seen either
        // way, by the counter or by the signal.
        let raised = signal.0.notified();
        tokio::pin!(raised);
        raised.as_mut().enable();
        if s.outbox_writes() == seen {
            let until = tokio::time::Instant::from_std(look_again);
            let _ = tokio::time::timeout_at(until, raised).await;
        }
    }
}
