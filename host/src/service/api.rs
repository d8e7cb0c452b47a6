//! The HTTP API (JSON). Handlers authenticate, parse, and hand the work to
//! [`Service`] on the blocking pool (plugins and SQLite are synchronous).

use super::auth::{require_admin, require_tenant};
use super::error::ApiError;
use super::state::{Idempotency, PipelineStepDoc, Service};
use super::store;
use crate::Limits;
use crate::calendar::CalendarConfig;
use crate::config::AgentConfig;
use crate::ticket_input::{
    Action, AssignIn, CommentIn, NewTicket, PartIn, StatusIn, TicketPatch, TimeIn,
};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;

type Shared = State<Arc<Service>>;
type ApiResult = Result<Response, ApiError>;

/// The router.
pub fn router(service: Arc<Service>, max_body_bytes: usize) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({ "status": "ok" })) }),
        )
        .route("/metrics", get(metrics))
        .route(
            "/openapi.json",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    super::openapi::SPEC,
                )
            }),
        )
        .route("/v1/tenants", post(create_tenant).get(list_tenants))
        .route(
            "/v1/tenants/{tenant}",
            get(get_tenant).delete(delete_tenant),
        )
        .route("/v1/tenants/{tenant}/keys", post(add_key).get(list_keys))
        .route("/v1/tenants/{tenant}/keys/{key_id}", delete(revoke_key))
        .route(
            "/v1/tenants/{tenant}/keys/{key_id}/rotate",
            post(rotate_key),
        )
        .route(
            "/v1/tenants/{tenant}/calendars",
            axum::routing::put(|s: Shared, h: HeaderMap, p: Path<String>, b: Body| {
                put_list::<CalendarConfig>(Service::set_calendars, s, h, p, b)
            }),
        )
        .route(
            "/v1/tenants/{tenant}/agents",
            axum::routing::put(|s: Shared, h: HeaderMap, p: Path<String>, b: Body| {
                put_list::<AgentConfig>(Service::set_agents, s, h, p, b)
            }),
        )
        .route(
            "/v1/tenants/{tenant}/pipeline",
            axum::routing::put(|s: Shared, h: HeaderMap, p: Path<String>, b: Body| {
                put_list::<PipelineStepDoc>(Service::set_pipeline, s, h, p, b)
            }),
        )
        .route("/v1/tenants/{tenant}/plugins", get(list_plugins))
        .route(
            "/v1/tenants/{tenant}/plugins/{name}",
            post(upload_plugin).get(get_plugin).delete(delete_plugin),
        )
        .route(
            "/v1/tenants/{tenant}/plugins/{name}/activate",
            post(activate),
        )
        .route(
            "/v1/tenants/{tenant}/plugins/{name}/rollback",
            post(rollback),
        )
        .route(
            "/v1/tenants/{tenant}/tickets/{id}",
            post(|s: Shared, h: HeaderMap, p: TicketPath, b: Body| {
                on_event::<NewTicket>(Action::Created, s, h, p, b)
            })
            .patch(|s: Shared, h: HeaderMap, p: TicketPath, b: Body| {
                on_event::<TicketPatch>(Action::Updated, s, h, p, b)
            })
            .get(get_ticket),
        )
        .route(
            "/v1/tenants/{tenant}/tickets/{id}/comments",
            post(|s: Shared, h: HeaderMap, p: TicketPath, b: Body| {
                on_event::<CommentIn>(Action::Commented, s, h, p, b)
            }),
        )
        .route(
            "/v1/tenants/{tenant}/tickets/{id}/status",
            post(|s: Shared, h: HeaderMap, p: TicketPath, b: Body| {
                on_event::<StatusIn>(Action::StatusChanged, s, h, p, b)
            }),
        )
        .route(
            "/v1/tenants/{tenant}/tickets/{id}/assign",
            post(|s: Shared, h: HeaderMap, p: TicketPath, b: Body| {
                on_event::<AssignIn>(Action::Assigned, s, h, p, b)
            }),
        )
        .route(
            "/v1/tenants/{tenant}/tickets/{id}/time",
            post(|s: Shared, h: HeaderMap, p: TicketPath, b: Body| {
                on_event::<TimeIn>(Action::TimeLogged, s, h, p, b)
            }),
        )
        .route(
            "/v1/tenants/{tenant}/tickets/{id}/parts",
            post(|s: Shared, h: HeaderMap, p: TicketPath, b: Body| {
                on_event::<PartIn>(Action::PartUsed, s, h, p, b)
            }),
        )
        .route("/v1/tenants/{tenant}/audit", get(audit))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .layer(axum::middleware::map_response(json_errors))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(service)
}

/// Gives the errors axum answers by itself (a path that is not valid UTF-8,
/// a method not allowed, a query it cannot parse) the service's JSON error
/// shape, so every error a client sees reads the same way.
async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let text = match axum::body::to_bytes(resp.into_body(), 64 << 10).await {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(_) => String::new(),
    };
    let code = match status {
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    };
    let message = if text.trim().is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        text.trim().to_string()
    };
    ApiError::new(status, code, message).into_response()
}

/// Refuses a body that does not say it is JSON (415), so a client sending
/// a form or plain text learns so instead of a confusing parse error.
fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media == "application/json"
        || (media.starts_with("application/") && media.ends_with("+json"))
    {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "this endpoint takes application/json, not `{}`",
                if content_type.is_empty() {
                    "(no Content-Type)"
                } else {
                    content_type
                }
            ),
        ))
    }
}

/// Runs blocking work off the async runtime.
async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, ApiError> + Send + 'static,
) -> Result<R, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

/// The body, or a JSON error for an oversized or unreadable one.
fn body(b: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    b.map_err(|e| {
        let status = e.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "body_too_large"
        } else {
            "bad_body"
        };
        ApiError::new(status, code, e.body_text())
    })
}

/// Parses a JSON body: malformed JSON is a 400, a well-formed body of the
/// wrong shape (unknown or missing fields, wrong types) a 422.
fn json<T: DeserializeOwned>(b: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    parse_json(&body(b)?)
}

/// Parses JSON bytes as in [`json`].
fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            ApiError::unprocessable("invalid_body", format!("invalid request body: {e}"))
        }
        _ => ApiError::bad_request(format!("malformed JSON: {e}")),
    })
}

fn ok(status: StatusCode, v: impl serde::Serialize) -> ApiResult {
    Ok((status, Json(v)).into_response())
}

async fn metrics(State(s): Shared) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTenant {
    id: String,
    #[serde(default)]
    limits: Limits,
}

async fn create_tenant(
    State(s): Shared,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let req: Result<NewTenant, ApiError> = json(b);
    let key = blocking(move || {
        require_admin(&s, &headers)?;
        require_json(&headers)?;
        let req = req?;
        s.create_tenant(&req.id, req.limits)
    })
    .await?;
    ok(StatusCode::CREATED, serde_json::json!({ "api_key": key }))
}

async fn list_tenants(State(s): Shared, headers: HeaderMap) -> ApiResult {
    let ids = blocking(move || {
        require_admin(&s, &headers)?;
        Ok(s.docket.tenant_ids())
    })
    .await?;
    ok(StatusCode::OK, serde_json::json!({ "tenants": ids }))
}

fn tenant_doc(s: &Service, tenant: &str) -> Result<serde_json::Value, ApiError> {
    let state = s.docket.tenant(tenant)?;
    let conn = s.store.conn();
    let pipeline: Vec<PipelineStepDoc> = store::tenant_doc(&conn, "pipelines", tenant)?;
    let calendars: Vec<CalendarConfig> = store::tenant_doc(&conn, "calendars", tenant)?;
    let agents: Vec<AgentConfig> = store::tenant_doc(&conn, "agents", tenant)?;
    let plugins: Vec<&String> = state.plugins.keys().collect();
    Ok(serde_json::json!({
        "id": tenant, "limits": state.limits, "plugins": plugins, "pipeline": pipeline,
        "calendars": calendars, "agents": agents,
    }))
}

async fn get_tenant(State(s): Shared, headers: HeaderMap, Path(tenant): Path<String>) -> ApiResult {
    let doc = blocking(move || {
        require_tenant(&s, &headers, &tenant)?;
        tenant_doc(&s, &tenant)
    })
    .await?;
    ok(StatusCode::OK, doc)
}

async fn delete_tenant(
    State(s): Shared,
    headers: HeaderMap,
    Path(tenant): Path<String>,
) -> ApiResult {
    blocking(move || {
        require_admin(&s, &headers)?;
        s.delete_tenant(&tenant)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A new key as answered once: the secret and its public id.
fn new_key_body(key: &str) -> serde_json::Value {
    let id = store::key_id(&super::state::key_hash(key));
    serde_json::json!({ "api_key": key, "id": id })
}

async fn add_key(State(s): Shared, headers: HeaderMap, Path(tenant): Path<String>) -> ApiResult {
    let key = blocking(move || {
        require_tenant(&s, &headers, &tenant)?;
        s.add_key(&tenant)
    })
    .await?;
    ok(StatusCode::CREATED, new_key_body(&key))
}

async fn list_keys(State(s): Shared, headers: HeaderMap, Path(tenant): Path<String>) -> ApiResult {
    let keys = blocking(move || {
        require_tenant(&s, &headers, &tenant)?;
        s.keys(&tenant)
    })
    .await?;
    ok(StatusCode::OK, serde_json::json!({ "keys": keys }))
}

async fn revoke_key(
    State(s): Shared,
    headers: HeaderMap,
    Path((tenant, key_id)): Path<(String, String)>,
) -> ApiResult {
    blocking(move || {
        require_tenant(&s, &headers, &tenant)?;
        s.revoke_key(&tenant, &key_id)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn rotate_key(
    State(s): Shared,
    headers: HeaderMap,
    Path((tenant, key_id)): Path<(String, String)>,
) -> ApiResult {
    let key = blocking(move || {
        require_tenant(&s, &headers, &tenant)?;
        s.rotate_key(&tenant, &key_id)
    })
    .await?;
    ok(StatusCode::CREATED, new_key_body(&key))
}

/// A setter of one of the tenant's lists (calendars, agents, pipeline).
type ListSetter<T> = fn(&Service, &str, Vec<T>) -> Result<(), ApiError>;

/// The handler that replaces one of the tenant's lists with a JSON array.
async fn put_list<T: DeserializeOwned + Send + 'static>(
    set: ListSetter<T>,
    State(s): Shared,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    b: Body,
) -> ApiResult {
    let parsed: Result<Vec<T>, ApiError> = json(b);
    blocking(move || {
        require_tenant(&s, &headers, &tenant)?;
        require_json(&headers)?;
        set(&s, &tenant, parsed?)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_plugins(
    State(s): Shared,
    headers: HeaderMap,
    Path(tenant): Path<String>,
) -> ApiResult {
    let list = blocking(move || {
        require_tenant(&s, &headers, &tenant)?;
        let state = s.docket.tenant(&tenant)?;
        let mut out = serde_json::Map::new();
        for name in state.plugins.keys() {
            out.insert(
                name.clone(),
                serde_json::to_value(s.docket.versions(&tenant, name)?)
                    .map_err(ApiError::internal)?,
            );
        }
        Ok(out)
    })
    .await?;
    ok(StatusCode::OK, serde_json::json!({ "plugins": list }))
}

async fn upload_plugin(
    State(s): Shared,
    headers: HeaderMap,
    Path((tenant, name)): Path<(String, String)>,
    b: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = body(b);
    let (status, info) = blocking(move || {
        require_tenant(&s, &headers, &tenant)?;
        let bytes = bytes?;
        if bytes.is_empty() {
            return Err(ApiError::bad_request(
                "empty body: send the plugin's .wasm bytes or its TOML rules",
            ));
        }
        let is_rules = crate::nocode::is_rule_document(&bytes);
        if content_type.contains("toml") != is_rules {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "content_type_mismatch",
                "send TOML rules as application/toml and wasm as application/wasm",
            ));
        }
        s.install_plugin(&tenant, &name, &bytes)
    })
    .await?;
    ok(status, info)
}

async fn get_plugin(
    State(s): Shared,
    headers: HeaderMap,
    Path((tenant, name)): Path<(String, String)>,
) -> ApiResult {
    let versions = blocking(move || {
        require_tenant(&s, &headers, &tenant)?;
        Ok(s.docket.versions(&tenant, &name)?)
    })
    .await?;
    ok(StatusCode::OK, serde_json::json!({ "versions": versions }))
}

async fn delete_plugin(
    State(s): Shared,
    headers: HeaderMap,
    Path((tenant, name)): Path<(String, String)>,
) -> ApiResult {
    blocking(move || {
        require_tenant(&s, &headers, &tenant)?;
        s.delete_plugin(&tenant, &name)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivateReq {
    /// A version number or a hash prefix (8+ characters).
    version: serde_json::Value,
}

async fn activate(
    State(s): Shared,
    headers: HeaderMap,
    Path((tenant, name)): Path<(String, String)>,
    b: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let req: Result<ActivateReq, ApiError> = json(b);
    let v = blocking(move || {
        require_tenant(&s, &headers, &tenant)?;
        require_json(&headers)?;
        let version = match req?.version {
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::String(h) => h,
            other => {
                return Err(ApiError::unprocessable(
                    "invalid_body",
                    format!("version must be a number or a hash prefix, not {other}"),
                ));
            }
        };
        s.activate(&tenant, &name, &version)
    })
    .await?;
    ok(StatusCode::OK, v)
}

async fn rollback(
    State(s): Shared,
    headers: HeaderMap,
    Path((tenant, name)): Path<(String, String)>,
) -> ApiResult {
    let v = blocking(move || {
        require_tenant(&s, &headers, &tenant)?;
        s.rollback(&tenant, &name)
    })
    .await?;
    ok(StatusCode::OK, v)
}

type TicketPath = Path<(String, String)>;
type Body = Result<Bytes, BytesRejection>;

/// The handler of one kind of ticket event: parses a `T` and wraps it.
async fn on_event<T: DeserializeOwned>(
    wrap: fn(T) -> Action,
    State(s): Shared,
    headers: HeaderMap,
    Path((tenant, id)): TicketPath,
    b: Body,
) -> ApiResult {
    let bytes = body(b);
    let action = bytes
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|b| parse_json::<T>(b))
        .map(wrap);
    let key = headers
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_string));
    let r = blocking(move || {
        require_tenant(&s, &headers, &tenant)?;
        require_json(&headers)?;
        let action = action?;
        let idempotency = key
            .transpose()
            .map_err(|_| ApiError::bad_request("Idempotency-Key must be visible ASCII"))?
            .map(|k| {
                // The action names the endpoint (method and path suffix).
                let path = format!("/v1/tenants/{tenant}/tickets/{id}");
                Idempotency::new(&k, action.name(), &path, bytes.as_deref().unwrap_or(b""))
            })
            .transpose()?;
        s.ticket_event(&tenant, &id, &action, idempotency.as_ref())
    })
    .await?;
    Ok((r.status, Json(r.body)).into_response())
}

async fn get_ticket(
    State(s): Shared,
    headers: HeaderMap,
    Path((tenant, id)): Path<(String, String)>,
) -> ApiResult {
    let view = blocking(move || {
        require_tenant(&s, &headers, &tenant)?;
        s.ticket_view(&tenant, &id)
    })
    .await?;
    ok(StatusCode::OK, view)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    ticket: Option<String>,
    #[serde(default)]
    after: i64,
    limit: Option<usize>,
}

async fn audit(
    State(s): Shared,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let q = q.map_err(|e| ApiError::bad_request(e.body_text()))?.0;
    let entries = blocking(move || {
        require_tenant(&s, &headers, &tenant)?;
        let limit = q.limit.unwrap_or(100).clamp(1, 1000);
        Ok(store::audit(
            &s.store.conn(),
            &tenant,
            q.ticket.as_deref(),
            q.after,
            limit,
        )?)
    })
    .await?;
    ok(StatusCode::OK, serde_json::json!({ "entries": entries }))
}
