//! Webhook endpoints: subscribe, list, change, rotate the secret, delete;
//! an endpoint's deliveries, one message's attempts, and replays.

use crate::auth::require_tenant;
use crate::error::ApiError;
use crate::handler::{ApiResult, Shared, TenantPath, blocking, ok};
use crate::request::{Body, json, require_json};
use crate::schema::{ReadErrors, Unprocessable, WriteErrors};
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use docket_app::webhook::{
    Delivery, DeliveryDetail, NewWebhook, Webhook, WebhookChange, WebhookWithSecret,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Path parameters naming a tenant's webhook.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct WebhookPath {
    /// Tenant id.
    #[param(pattern = "^[a-z0-9_-]{1,64}$")]
    tenant: String,
    /// Webhook id.
    #[param(pattern = "^wh_[0-9a-f]{16}$")]
    webhook: String,
}

/// Path parameters naming a message's delivery to a webhook.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct DeliveryPath {
    /// Tenant id.
    #[param(pattern = "^[a-z0-9_-]{1,64}$")]
    tenant: String,
    /// Webhook id.
    #[param(pattern = "^wh_[0-9a-f]{16}$")]
    webhook: String,
    /// Message id (`webhook-id`).
    #[param(pattern = "^msg_[0-9a-f]{26}$")]
    message: String,
}

/// `GET /v1/tenants/{tenant}/webhooks`.
#[derive(Serialize, ToSchema)]
pub(crate) struct WebhookList {
    /// Subscriptions, oldest first (secrets are never listed).
    webhooks: Vec<Webhook>,
}

/// `GET .../deliveries`.
#[derive(Serialize, ToSchema)]
pub(crate) struct DeliveryList {
    /// Deliveries in outbox order.
    deliveries: Vec<Delivery>,
    /// The cursor to ask after next.
    next: u64,
}

/// How many deliveries a replay sent again.
#[derive(Serialize, ToSchema)]
pub(crate) struct Replayed {
    /// Failed deliveries made pending (or waiting behind their ticket's).
    replayed: usize,
}

/// Deliveries query.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeliveryQuery {
    /// Only deliveries in this state: `waiting`, `pending`, `delivered`
    /// or `failed`.
    state: Option<String>,
    /// Deliveries after this outbox position (default 0).
    #[serde(default)]
    #[param(minimum = 0, maximum = 9_223_372_036_854_775_807_i64)]
    after: u64,
    /// At most this many (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// Subscribes an endpoint to the tenant's messages (from now on). The
/// answer holds the signing secret, shown this once.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/webhooks", tag = "delivery", security(("bearer" = [])),
    params(TenantPath), request_body = NewWebhook,
    responses((status = 201, description = "Subscribed", body = WebhookWithSecret), ReadErrors, WriteErrors, Unprocessable))]
pub(crate) async fn create_webhook(
    axum::extract::State(s): Shared,
    headers: HeaderMap,
    Path(p): Path<TenantPath>,
    b: Body,
) -> ApiResult {
    let req: Result<NewWebhook, ApiError> = json(b);
    let made = blocking(move || {
        require_tenant(&s, &headers, &p.tenant)?;
        require_json(&headers)?;
        Ok(s.create_webhook(&p.tenant, &req?)?)
    })
    .await?;
    ok(StatusCode::CREATED, made)
}

/// Lists the tenant's webhooks, with their state (a disabled one says
/// when and why).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/webhooks", tag = "delivery", security(("bearer" = [])),
    params(TenantPath),
    responses((status = 200, description = "Webhooks", body = WebhookList), ReadErrors))]
pub(crate) async fn list_webhooks(
    axum::extract::State(s): Shared,
    headers: HeaderMap,
    Path(p): Path<TenantPath>,
) -> ApiResult {
    let webhooks = blocking(move || {
        require_tenant(&s, &headers, &p.tenant)?;
        Ok(s.webhooks(&p.tenant)?)
    })
    .await?;
    ok(StatusCode::OK, WebhookList { webhooks })
}

/// One webhook.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/webhooks/{webhook}", tag = "delivery", security(("bearer" = [])),
    params(WebhookPath),
    responses((status = 200, description = "The webhook", body = Webhook), ReadErrors))]
pub(crate) async fn get_webhook(
    axum::extract::State(s): Shared,
    headers: HeaderMap,
    Path(p): Path<WebhookPath>,
) -> ApiResult {
    let webhook = blocking(move || {
        require_tenant(&s, &headers, &p.tenant)?;
        Ok(s.webhook(&p.tenant, &p.webhook)?)
    })
    .await?;
    ok(StatusCode::OK, webhook)
}

/// Changes a webhook's URL, types or description, or disables it, or
/// enables it again (clearing its failure record; deliveries resume where
/// they stopped).
#[utoipa::path(patch, path = "/v1/tenants/{tenant}/webhooks/{webhook}", tag = "delivery", security(("bearer" = [])),
    params(WebhookPath), request_body = WebhookChange,
    responses((status = 200, description = "Changed", body = Webhook), ReadErrors, WriteErrors, Unprocessable))]
pub(crate) async fn update_webhook(
    axum::extract::State(s): Shared,
    headers: HeaderMap,
    Path(p): Path<WebhookPath>,
    b: Body,
) -> ApiResult {
    let req: Result<WebhookChange, ApiError> = json(b);
    let webhook = blocking(move || {
        require_tenant(&s, &headers, &p.tenant)?;
        require_json(&headers)?;
        Ok(s.update_webhook(&p.tenant, &p.webhook, &req?)?)
    })
    .await?;
    ok(StatusCode::OK, webhook)
}

/// Deletes a webhook and its deliveries.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/webhooks/{webhook}", tag = "delivery", security(("bearer" = [])),
    params(WebhookPath),
    responses((status = 204, description = "Deleted"), ReadErrors))]
pub(crate) async fn delete_webhook(
    axum::extract::State(s): Shared,
    headers: HeaderMap,
    Path(p): Path<WebhookPath>,
) -> ApiResult {
    blocking(move || {
        require_tenant(&s, &headers, &p.tenant)?;
        Ok(s.delete_webhook(&p.tenant, &p.webhook)?)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Gives a webhook a new secret, shown this once. The old secret keeps
/// signing beside it (a second `v1,` signature) for 24 hours, so the
/// receiver can switch without refusing a message.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/webhooks/{webhook}/rotate", tag = "delivery", security(("bearer" = [])),
    params(WebhookPath),
    responses((status = 201, description = "The new secret", body = WebhookWithSecret), ReadErrors))]
pub(crate) async fn rotate_webhook(
    axum::extract::State(s): Shared,
    headers: HeaderMap,
    Path(p): Path<WebhookPath>,
) -> ApiResult {
    let rotated = blocking(move || {
        require_tenant(&s, &headers, &p.tenant)?;
        Ok(s.rotate_webhook_secret(&p.tenant, &p.webhook)?)
    })
    .await?;
    ok(StatusCode::CREATED, rotated)
}

/// A webhook's deliveries in outbox order, in one state if asked.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/webhooks/{webhook}/deliveries", tag = "delivery", security(("bearer" = [])),
    params(WebhookPath, DeliveryQuery),
    responses((status = 200, description = "Deliveries", body = DeliveryList), ReadErrors))]
pub(crate) async fn list_deliveries(
    axum::extract::State(s): Shared,
    headers: HeaderMap,
    Path(p): Path<WebhookPath>,
    q: Result<Query<DeliveryQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let q = q.map_err(|e| ApiError::bad_request(e.body_text()))?.0;
    let after = q.after;
    let deliveries = blocking(move || {
        require_tenant(&s, &headers, &p.tenant)?;
        Ok(s.webhook_deliveries(
            &p.tenant,
            &p.webhook,
            q.state.as_deref(),
            q.after,
            q.limit.unwrap_or(100),
        )?)
    })
    .await?;
    let next = deliveries.last().map_or(after, |d| d.seq);
    ok(StatusCode::OK, DeliveryList { deliveries, next })
}

/// One message's delivery to a webhook, with every attempt (when, the
/// status answered, how long it took, the error if there was no answer).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/webhooks/{webhook}/deliveries/{message}", tag = "delivery", security(("bearer" = [])),
    params(DeliveryPath),
    responses((status = 200, description = "The delivery", body = DeliveryDetail), ReadErrors))]
pub(crate) async fn get_delivery(
    axum::extract::State(s): Shared,
    headers: HeaderMap,
    Path(p): Path<DeliveryPath>,
) -> ApiResult {
    let detail = blocking(move || {
        require_tenant(&s, &headers, &p.tenant)?;
        Ok(s.delivery(&p.tenant, &p.webhook, &p.message)?)
    })
    .await?;
    ok(StatusCode::OK, detail)
}

/// Sends a failed message again, with a fresh round of attempts.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/webhooks/{webhook}/deliveries/{message}/replay", tag = "delivery", security(("bearer" = [])),
    params(DeliveryPath),
    responses((status = 200, description = "Replayed", body = Replayed), ReadErrors, WriteErrors))]
pub(crate) async fn replay_delivery(
    axum::extract::State(s): Shared,
    headers: HeaderMap,
    Path(p): Path<DeliveryPath>,
) -> ApiResult {
    let replayed = blocking(move || {
        require_tenant(&s, &headers, &p.tenant)?;
        Ok(s.replay_deliveries(&p.tenant, &p.webhook, Some(&p.message))?)
    })
    .await?;
    ok(StatusCode::OK, Replayed { replayed })
}

/// Sends every failed message of a webhook again.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/webhooks/{webhook}/replay", tag = "delivery", security(("bearer" = [])),
    params(WebhookPath),
    responses((status = 200, description = "Replayed", body = Replayed), ReadErrors))]
pub(crate) async fn replay_failed(
    axum::extract::State(s): Shared,
    headers: HeaderMap,
    Path(p): Path<WebhookPath>,
) -> ApiResult {
    let replayed = blocking(move || {
        require_tenant(&s, &headers, &p.tenant)?;
        Ok(s.replay_deliveries(&p.tenant, &p.webhook, None)?)
    })
    .await?;
    ok(StatusCode::OK, Replayed { replayed })
}
