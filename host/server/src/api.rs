//! The HTTP API (JSON). Handlers authenticate, parse, and hand the work to
//! [`Service`] on the blocking pool (plugins and SQLite are synchronous).
//! Each handler carries its OpenAPI description, and the router is built
//! from the same annotated handlers (`utoipa-axum`), so the document served
//! at `/openapi.json` is generated from the code and cannot drift from it.

use super::auth::{require_admin, require_tenant};
use super::error::ApiError;
use super::handler::{ApiResult, Shared, TenantPath, blocking, ok};
use super::schema::*;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use docket_app::Service;
use docket_app::service::{EventAnswer, Idempotency, PipelineStepDoc};
use docket_app::ticket_input::{
    Action, AssignIn, CommentIn, NewTicket, PartIn, StatusIn, TicketPatch, TimeIn,
};
use docket_engine::Outcome;
use docket_engine::config::AgentConfig;
use docket_engine::config::CalendarConfig;
use docket_engine::{Limits, PluginSource};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::request::{Body, body, json, parse_json, require_json};

/// The document's frame: title, version, the bearer scheme.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Docket",
        description = "A sandboxed WebAssembly rules engine for helpdesk and ticketing backends, as a service. Every error is `{\"error\": {\"code\", \"message\"}}`; instants are RFC 3339; names are snake_case."
    ),
    modifiers(&BearerScheme)
)]
struct ApiDoc;

/// Adds the `bearer` security scheme (API keys).
struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A tenant's API key, or the admin key: `Authorization: Bearer <key>`",
                    ))
                    .build(),
            ),
        );
    }
}

/// The routes with their generated OpenAPI document.
fn routes() -> OpenApiRouter<Arc<Service>> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(metrics))
        .routes(routes!(create_tenant, list_tenants))
        .routes(routes!(get_tenant, delete_tenant))
        .routes(routes!(set_limits))
        .routes(routes!(add_key, list_keys))
        .routes(routes!(revoke_key))
        .routes(routes!(rotate_key))
        .routes(routes!(set_calendars))
        .routes(routes!(set_agents))
        .routes(routes!(set_pipeline))
        .routes(routes!(list_plugins))
        .routes(routes!(upload_plugin, get_plugin, delete_plugin))
        .routes(routes!(activate))
        .routes(routes!(rollback))
        .routes(routes!(create_ticket, update_ticket, get_ticket))
        .routes(routes!(add_comment))
        .routes(routes!(change_status))
        .routes(routes!(assign_ticket))
        .routes(routes!(log_time))
        .routes(routes!(use_part))
        .routes(routes!(audit))
        .routes(routes!(crate::authoring::get_version))
        .routes(routes!(crate::authoring::check_rules))
        .routes(routes!(crate::authoring::vocabulary))
        .routes(routes!(crate::rule_changes::simulate))
        .routes(routes!(crate::rule_changes::start_backtest))
        .routes(routes!(
            crate::rule_changes::get_backtest,
            crate::rule_changes::cancel_backtest
        ))
        .routes(routes!(crate::feed::feed))
        .routes(routes!(
            crate::webhooks::create_webhook,
            crate::webhooks::list_webhooks
        ))
        .routes(routes!(
            crate::webhooks::get_webhook,
            crate::webhooks::update_webhook,
            crate::webhooks::delete_webhook
        ))
        .routes(routes!(crate::webhooks::rotate_webhook))
        .routes(routes!(crate::webhooks::list_deliveries))
        .routes(routes!(crate::webhooks::get_delivery))
        .routes(routes!(crate::webhooks::replay_delivery))
        .routes(routes!(crate::webhooks::replay_failed))
}

/// The OpenAPI document of the API, as served at `/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().split_for_parts().1
}

/// The router.
pub fn router(service: Arc<Service>, max_body_bytes: usize) -> Router {
    let outbox = crate::feed::OutboxSignal::listening_to(&service);
    let (router, api) = routes().split_for_parts();
    let document = api.to_json().expect("the OpenAPI document serializes");
    router
        .route(
            "/openapi.json",
            axum::routing::get(move || async move {
                ([(header::CONTENT_TYPE, "application/json")], document)
            }),
        )
        .merge(crate::console::routes())
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .layer(axum::middleware::map_response(json_errors))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::Extension(outbox))
        .layer(axum::Extension(crate::rule_changes::Backtests::default()))
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
    let (parts, body) = resp.into_parts();
    let text = match axum::body::to_bytes(body, 64 << 10).await {
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
    let mut out = ApiError::new(status, code, message).into_response();
    // Keep what the layer said besides the body, e.g. `Allow` on a 405.
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

/// Path parameters naming a tenant's plugin.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct PluginPath {
    /// Tenant id.
    #[param(pattern = "^[a-z0-9_-]{1,64}$")]
    tenant: String,
    /// Plugin name.
    #[param(pattern = "^[a-z0-9_-]{1,64}$")]
    name: String,
}

/// Path parameters naming a tenant's key.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct KeyPath {
    /// Tenant id.
    #[param(pattern = "^[a-z0-9_-]{1,64}$")]
    tenant: String,
    /// The key's public id.
    #[param(pattern = "^key_[0-9a-f]{16}$")]
    key_id: String,
}

/// Path parameters naming a ticket.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct TicketPath {
    /// Tenant id.
    #[param(pattern = "^[a-z0-9_-]{1,64}$")]
    tenant: String,
    /// Ticket id.
    #[param(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    id: String,
}

/// Whether the service is up and its database answers.
#[utoipa::path(get, path = "/healthz", tag = "service",
    responses(
        (status = 200, description = "Up", body = Health),
        (status = 503, description = "The database does not answer", body = Health)))]
async fn healthz(State(s): Shared) -> Response {
    let database = s.store().backend().to_string();
    let answered = blocking(move || Ok(s.store().ping())).await;
    match answered {
        Ok(Ok(())) => Json(Health {
            status: "ok".into(),
            database,
        })
        .into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health check: the database does not answer");
            unavailable(database)
        }
        Err(_) => unavailable(database),
    }
}

fn unavailable(database: String) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(Health {
            status: "unavailable".into(),
            database,
        }),
    )
        .into_response()
}

/// Counters in the Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "service",
    responses((status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain")))]
async fn metrics(State(s): Shared) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(s.store().commit_stats()),
    )
        .into_response()
}

/// Creates a tenant (admin key); answers its first API key, shown once.
#[utoipa::path(post, path = "/v1/tenants", tag = "tenants", security(("bearer" = [])),
    request_body = NewTenant,
    responses((status = 201, description = "Created", body = NewKey), ReadErrors, WriteErrors, Unprocessable))]
async fn create_tenant(State(s): Shared, headers: HeaderMap, b: Body) -> ApiResult {
    let req: Result<NewTenant, ApiError> = json(b);
    let key = blocking(move || {
        require_admin(&s, &headers)?;
        require_json(&headers)?;
        let req = req?;
        Ok(s.create_tenant(&req.id, req.limits)?)
    })
    .await?;
    ok(StatusCode::CREATED, key)
}

/// Lists the tenants (admin key).
#[utoipa::path(get, path = "/v1/tenants", tag = "tenants", security(("bearer" = [])),
    responses((status = 200, description = "Tenant ids", body = TenantList), ReadErrors))]
async fn list_tenants(State(s): Shared, headers: HeaderMap) -> ApiResult {
    let tenants = blocking(move || {
        require_admin(&s, &headers)?;
        Ok(s.tenant_ids()?)
    })
    .await?;
    ok(StatusCode::OK, TenantList { tenants })
}

/// A tenant: limits, plugins, pipeline, calendars, agents.
#[utoipa::path(get, path = "/v1/tenants/{tenant}", tag = "tenants", security(("bearer" = [])),
    params(TenantPath),
    responses((status = 200, description = "The tenant", body = TenantDoc), ReadErrors))]
async fn get_tenant(State(s): Shared, headers: HeaderMap, Path(p): Path<TenantPath>) -> ApiResult {
    let doc = blocking(move || {
        require_tenant(&s, &headers, &p.tenant)?;
        Ok(s.tenant_doc(&p.tenant)?)
    })
    .await?;
    ok(StatusCode::OK, doc)
}

/// Replaces a tenant's limits, per-plugin ones included (admin key; a
/// tenant cannot change its own). Fields left out take their defaults.
/// Every plugin version the tenant has stored must still install under
/// them, or nothing changes (409 `plugin_over_limits` naming the plugin).
/// Answers the limits now in force; events already running finish under
/// the old ones, and every replica applies the new ones from its next
/// request for the tenant.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/limits", tag = "tenants", security(("bearer" = [])),
    params(TenantPath), request_body = Limits,
    responses((status = 200, description = "The limits now in force", body = Limits), ReadErrors, WriteErrors, Unprocessable))]
async fn set_limits(
    State(s): Shared,
    headers: HeaderMap,
    Path(p): Path<TenantPath>,
    b: Body,
) -> ApiResult {
    let req: Result<Limits, ApiError> = json(b);
    let limits = blocking(move || {
        require_admin(&s, &headers)?;
        require_json(&headers)?;
        Ok(s.set_limits(&p.tenant, req?)?)
    })
    .await?;
    ok(StatusCode::OK, limits)
}

/// Deletes a tenant and everything it owns (admin key): keys, plugins,
/// pipeline, calendars, agents, tickets, events, audit, timers, SLA clocks.
/// Nothing is retained.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}", tag = "tenants", security(("bearer" = [])),
    params(TenantPath),
    responses((status = 204, description = "Deleted"), ReadErrors))]
async fn delete_tenant(
    State(s): Shared,
    headers: HeaderMap,
    Path(p): Path<TenantPath>,
) -> ApiResult {
    blocking(move || {
        require_admin(&s, &headers)?;
        Ok(s.delete_tenant(&p.tenant)?)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Adds an API key for the tenant (shown once).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/keys", tag = "keys", security(("bearer" = [])),
    params(TenantPath),
    responses((status = 201, description = "The new key", body = NewKey), ReadErrors))]
async fn add_key(State(s): Shared, headers: HeaderMap, Path(p): Path<TenantPath>) -> ApiResult {
    let key = blocking(move || {
        require_tenant(&s, &headers, &p.tenant)?;
        Ok(s.add_key(&p.tenant)?)
    })
    .await?;
    ok(StatusCode::CREATED, key)
}

/// Lists the tenant's keys by public id (never the secrets).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/keys", tag = "keys", security(("bearer" = [])),
    params(TenantPath),
    responses((status = 200, description = "The keys", body = KeyList), ReadErrors))]
async fn list_keys(State(s): Shared, headers: HeaderMap, Path(p): Path<TenantPath>) -> ApiResult {
    let keys = blocking(move || {
        require_tenant(&s, &headers, &p.tenant)?;
        Ok(s.keys(&p.tenant)?)
    })
    .await?;
    ok(StatusCode::OK, KeyList { keys })
}

/// Revokes a key: from then on it gets 401 on every endpoint.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/keys/{key_id}", tag = "keys", security(("bearer" = [])),
    params(KeyPath),
    responses((status = 204, description = "Revoked"), ReadErrors))]
async fn revoke_key(State(s): Shared, headers: HeaderMap, Path(p): Path<KeyPath>) -> ApiResult {
    blocking(move || {
        require_tenant(&s, &headers, &p.tenant)?;
        Ok(s.revoke_key(&p.tenant, &p.key_id)?)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Rotates a key: it gets a new secret and keeps its id; the old secret
/// gets 401 from then on.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/keys/{key_id}/rotate", tag = "keys", security(("bearer" = [])),
    params(KeyPath),
    responses((status = 201, description = "The new key", body = NewKey), ReadErrors))]
async fn rotate_key(State(s): Shared, headers: HeaderMap, Path(p): Path<KeyPath>) -> ApiResult {
    let key = blocking(move || {
        require_tenant(&s, &headers, &p.tenant)?;
        Ok(s.rotate_key(&p.tenant, &p.key_id)?)
    })
    .await?;
    ok(StatusCode::CREATED, key)
}

/// A setter of one of the tenant's lists (calendars, agents, pipeline).
type ListSetter<T> = fn(&Service, &str, Vec<T>) -> Result<(), docket_app::AppError>;

/// Replaces one of the tenant's lists with a JSON array.
async fn put_list<T: DeserializeOwned + Send + 'static>(
    set: ListSetter<T>,
    s: Arc<Service>,
    headers: HeaderMap,
    tenant: String,
    b: Body,
) -> ApiResult {
    let parsed: Result<Vec<T>, ApiError> = json(b);
    blocking(move || {
        require_tenant(&s, &headers, &tenant)?;
        require_json(&headers)?;
        Ok(set(&s, &tenant, parsed?)?)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Replaces the tenant's business calendars. A calendar that SLA clocks
/// run on, or that a pipeline step's settings name, cannot be removed
/// (409 `calendar_in_use`).
#[utoipa::path(put, path = "/v1/tenants/{tenant}/calendars", tag = "tenants", security(("bearer" = [])),
    params(TenantPath), request_body = Vec<CalendarConfig>,
    responses((status = 204, description = "Replaced"), ReadErrors, WriteErrors, Unprocessable))]
async fn set_calendars(
    State(s): Shared,
    h: HeaderMap,
    Path(p): Path<TenantPath>,
    b: Body,
) -> ApiResult {
    put_list::<CalendarConfig>(Service::set_calendars, s, h, p.tenant, b).await
}

/// Replaces the tenant's agents.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/agents", tag = "tenants", security(("bearer" = [])),
    params(TenantPath), request_body = Vec<AgentConfig>,
    responses((status = 204, description = "Replaced"), ReadErrors, WriteErrors, Unprocessable))]
async fn set_agents(
    State(s): Shared,
    h: HeaderMap,
    Path(p): Path<TenantPath>,
    b: Body,
) -> ApiResult {
    put_list::<AgentConfig>(Service::set_agents, s, h, p.tenant, b).await
}

/// Replaces the tenant's pipeline (checked against the installed plugins).
#[utoipa::path(put, path = "/v1/tenants/{tenant}/pipeline", tag = "tenants", security(("bearer" = [])),
    params(TenantPath), request_body = Vec<PipelineStepDoc>,
    responses((status = 204, description = "Replaced"), ReadErrors, WriteErrors, Unprocessable))]
async fn set_pipeline(
    State(s): Shared,
    h: HeaderMap,
    Path(p): Path<TenantPath>,
    b: Body,
) -> ApiResult {
    put_list::<PipelineStepDoc>(Service::set_pipeline, s, h, p.tenant, b).await
}

/// Every version of every plugin of the tenant.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/plugins", tag = "plugins", security(("bearer" = [])),
    params(TenantPath),
    responses((status = 200, description = "Plugins", body = PluginList), ReadErrors))]
async fn list_plugins(
    State(s): Shared,
    headers: HeaderMap,
    Path(p): Path<TenantPath>,
) -> ApiResult {
    let plugins = blocking(move || {
        require_tenant(&s, &headers, &p.tenant)?;
        let state = s.tenant(&p.tenant)?;
        let mut out = std::collections::BTreeMap::new();
        for name in state.plugins() {
            out.insert(name.to_string(), s.docket().versions(&p.tenant, name)?);
        }
        Ok(out)
    })
    .await?;
    ok(StatusCode::OK, PluginList { plugins })
}

/// Installs a plugin version: a WebAssembly component or core module
/// (`application/wasm`), or a no-code rule document (`application/toml`),
/// compiled and checked before anything is stored. Installing bytes already
/// installed answers their version (200).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/plugins/{name}", tag = "plugins", security(("bearer" = [])),
    params(PluginPath),
    request_body(content((Vec<u8> = "application/wasm"), (String = "application/toml")), description = "The plugin: a component or core module, or a no-code rule document"),
    responses(
        (status = 201, description = "A new version", body = docket_engine::VersionInfo),
        (status = 200, description = "These bytes were installed already: their version", body = docket_engine::VersionInfo),
        ReadErrors, WriteErrors, Unprocessable))]
async fn upload_plugin(
    State(s): Shared,
    headers: HeaderMap,
    Path(p): Path<PluginPath>,
    b: Body,
) -> ApiResult {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = body(b);
    let (created, info) = blocking(move || {
        require_tenant(&s, &headers, &p.tenant)?;
        let bytes = bytes?;
        if bytes.is_empty() {
            return Err(ApiError::bad_request(
                "empty body: send the plugin's .wasm bytes or its TOML rules",
            ));
        }
        let is_rules = docket_nocode::is_rule_document(&bytes);
        if content_type.contains("toml") != is_rules {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "content_type_mismatch",
                "send TOML rules as application/toml and wasm as application/wasm",
            ));
        }
        // The content type (checked against the bytes above) says which
        // kind of source this is.
        let refused = |error| docket_engine::DocketError::Install {
            tenant: p.tenant.clone(),
            plugin: p.name.clone(),
            error,
        };
        let source = if is_rules {
            std::str::from_utf8(&bytes)
                .map(PluginSource::Rules)
                .map_err(|e| {
                    refused(docket_engine::PluginError::InvalidRules {
                        report: format!("not UTF-8: {e}"),
                        diagnostics: Vec::new(),
                    })
                })?
        } else {
            PluginSource::wasm(&bytes).map_err(refused)?
        };
        Ok(s.install_plugin(&p.tenant, &p.name, source)?)
    })
    .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    ok(status, info)
}

/// The versions of a plugin.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/plugins/{name}", tag = "plugins", security(("bearer" = [])),
    params(PluginPath),
    responses((status = 200, description = "Versions", body = VersionList), ReadErrors))]
async fn get_plugin(State(s): Shared, headers: HeaderMap, Path(p): Path<PluginPath>) -> ApiResult {
    let versions = blocking(move || {
        require_tenant(&s, &headers, &p.tenant)?;
        Ok(s.docket().versions(&p.tenant, &p.name)?)
    })
    .await?;
    ok(StatusCode::OK, VersionList { versions })
}

/// Deletes a plugin and its versions (not while the pipeline uses it: 409).
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/plugins/{name}", tag = "plugins", security(("bearer" = [])),
    params(PluginPath),
    responses((status = 204, description = "Deleted"), ReadErrors, WriteErrors))]
async fn delete_plugin(
    State(s): Shared,
    headers: HeaderMap,
    Path(p): Path<PluginPath>,
) -> ApiResult {
    blocking(move || {
        require_tenant(&s, &headers, &p.tenant)?;
        Ok(s.delete_plugin(&p.tenant, &p.name)?)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Activates a version, by number or hash prefix.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/plugins/{name}/activate", tag = "plugins", security(("bearer" = [])),
    params(PluginPath), request_body = ActivateReq,
    responses((status = 200, description = "The active version", body = docket_engine::VersionInfo),
        ReadErrors, WriteErrors, Unprocessable))]
async fn activate(
    State(s): Shared,
    headers: HeaderMap,
    Path(p): Path<PluginPath>,
    b: Body,
) -> ApiResult {
    let req: Result<ActivateReq, ApiError> = json(b);
    let v = blocking(move || {
        require_tenant(&s, &headers, &p.tenant)?;
        require_json(&headers)?;
        let version = match req?.version {
            VersionRef::Number(n) => n.to_string(),
            VersionRef::Hash(h) => h,
        };
        Ok(s.activate(&p.tenant, &p.name, &version)?)
    })
    .await?;
    ok(StatusCode::OK, v)
}

/// Rolls back to the previously active version (409 when there is none).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/plugins/{name}/rollback", tag = "plugins", security(("bearer" = [])),
    params(PluginPath),
    responses((status = 200, description = "The active version", body = docket_engine::VersionInfo),
        ReadErrors, WriteErrors))]
async fn rollback(State(s): Shared, headers: HeaderMap, Path(p): Path<PluginPath>) -> ApiResult {
    let v = blocking(move || {
        require_tenant(&s, &headers, &p.tenant)?;
        Ok(s.rollback(&p.tenant, &p.name)?)
    })
    .await?;
    ok(StatusCode::OK, v)
}

/// Runs one kind of ticket event: parses a `T`, wraps it, authenticates,
/// and answers the outcome.
async fn on_event<T: DeserializeOwned>(
    wrap: fn(T) -> Action,
    s: Arc<Service>,
    headers: HeaderMap,
    p: TicketPath,
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
    let TicketPath { tenant, id } = p;
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
        Ok(s.ticket_event(&tenant, &id, &action, idempotency.as_ref())?)
    })
    .await?;
    let status = match r.answer {
        EventAnswer::Created => StatusCode::CREATED,
        EventAnswer::Applied => StatusCode::OK,
        EventAnswer::Rejected => StatusCode::UNPROCESSABLE_ENTITY,
        EventAnswer::Failed => StatusCode::FAILED_DEPENDENCY,
    };
    Ok((status, Json(r.body)).into_response())
}

/// Documents a ticket event endpoint: its path parameters, the
/// idempotency key, the body, and the outcome it answers.
macro_rules! ticket_event {
    ($(#[$doc:meta])* $method:ident $path:literal, $name:ident, $body:ty, $wrap:expr, $ok:literal) => {
        $(#[$doc])*
        #[utoipa::path($method, path = $path, tag = "tickets", security(("bearer" = [])),
            params(TicketPath,
                ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 128,
                 description = "A retry with the same key and the same request (endpoint, ticket, body) returns the stored outcome instead of applying the event twice; the same key on another request is refused (422 `idempotency_key_reused`); while the first request runs, another gets 409 `request_in_progress`.")),
            request_body = $body,
            responses(
                (status = $ok, description = "Applied: the outcome (effects, the ticket after them, the trace)", body = Outcome),
                (status = 422, description = "Rejected by a template (an outcome with field errors), or an invalid request (`invalid_body`, `invalid_event`, `idempotency_key_reused`)", body = RejectedOrInvalid),
                (status = 424, description = "A plugin with the fail-event policy failed; nothing applied", body = Outcome),
                ReadErrors, WriteErrors))]
        async fn $name(State(s): Shared, h: HeaderMap, Path(p): Path<TicketPath>, b: Body) -> ApiResult {
            on_event::<$body>($wrap, s, h, p, b).await
        }
    };
}

ticket_event!(
    /// Creates a ticket: the `created` event through the pipeline (409 if it exists).
    post "/v1/tenants/{tenant}/tickets/{id}", create_ticket, NewTicket, Action::Created, 201
);
ticket_event!(
    /// Changes a ticket's attributes or custom fields (`updated`).
    patch "/v1/tenants/{tenant}/tickets/{id}", update_ticket, TicketPatch, Action::Updated, 200
);
ticket_event!(
    /// Adds a comment (`commented`).
    post "/v1/tenants/{tenant}/tickets/{id}/comments", add_comment, CommentIn, Action::Commented, 200
);
ticket_event!(
    /// Changes the status (`status_changed`).
    post "/v1/tenants/{tenant}/tickets/{id}/status", change_status, StatusIn, Action::StatusChanged, 200
);
ticket_event!(
    /// Assigns a group and/or agent by hand (`assigned`).
    post "/v1/tenants/{tenant}/tickets/{id}/assign", assign_ticket, AssignIn, Action::Assigned, 200
);
ticket_event!(
    /// Logs time (`time_logged`).
    post "/v1/tenants/{tenant}/tickets/{id}/time", log_time, TimeIn, Action::TimeLogged, 200
);
ticket_event!(
    /// Records a part used (`part_used`).
    post "/v1/tenants/{tenant}/tickets/{id}/parts", use_part, PartIn, Action::PartUsed, 200
);

/// A ticket with its timers, SLA clocks and decision history.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/tickets/{id}", tag = "tickets", security(("bearer" = [])),
    params(TicketPath),
    responses((status = 200, description = "The ticket", body = TicketView), ReadErrors))]
async fn get_ticket(State(s): Shared, headers: HeaderMap, Path(p): Path<TicketPath>) -> ApiResult {
    let view = blocking(move || {
        require_tenant(&s, &headers, &p.tenant)?;
        Ok(s.ticket_view(&p.tenant, &p.id)?)
    })
    .await?;
    ok(StatusCode::OK, view)
}

/// Audit query: one ticket or all, after a sequence number, a page size.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    /// Only this ticket's entries.
    #[param(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    ticket: Option<String>,
    /// Entries after this sequence number (default 0: from the start).
    #[serde(default)]
    #[param(minimum = 0)]
    after: i64,
    /// At most this many entries (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// The tenant's audit log: every dispatched event with the plugin versions
/// (hashes) that ran, effects, fuel, time and errors, oldest first.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/audit", tag = "tickets", security(("bearer" = [])),
    params(TenantPath, AuditQuery),
    responses((status = 200, description = "Entries", body = AuditList), ReadErrors))]
async fn audit(
    State(s): Shared,
    headers: HeaderMap,
    Path(p): Path<TenantPath>,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let entries = blocking(move || {
        require_tenant(&s, &headers, &p.tenant)?;
        let q = q.map_err(|e| ApiError::bad_request(e.body_text()))?.0;
        Ok(s.audit(
            &p.tenant,
            q.ticket.as_deref(),
            q.after,
            q.limit.unwrap_or(100),
        )?)
    })
    .await?;
    ok(StatusCode::OK, AuditList { entries })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bounds the document states for bodies are the ones the service
    /// enforces (the schema attributes take literals; this holds them to
    /// the constants the checks use).
    #[test]
    fn body_bounds_are_the_enforced_ones() {
        use docket_app::ticket_input::{
            MAX_ENTRY_MINUTES, MAX_PART_QUANTITY, MAX_UNIT_PRICE_MINOR,
        };
        let doc = serde_json::to_value(openapi()).unwrap();
        let schemas = &doc["components"]["schemas"];
        let max = |schema: &str, field: &str| {
            schemas[schema]["properties"][field]["maximum"]
                .as_u64()
                .unwrap_or_else(|| panic!("{schema}.{field} has no maximum"))
        };
        for (field, ceiling) in docket_engine::Limits::CEILINGS {
            assert_eq!(max("Limits", field), ceiling, "Limits.{field}");
            assert_eq!(
                max("LimitOverrides", field),
                ceiling,
                "LimitOverrides.{field}"
            );
        }
        assert_eq!(max("TimeIn", "minutes"), u64::from(MAX_ENTRY_MINUTES));
        assert_eq!(max("PartIn", "quantity"), u64::from(MAX_PART_QUANTITY));
        assert_eq!(max("PartIn", "unit_price_minor"), MAX_UNIT_PRICE_MINOR);
        assert_eq!(
            schemas["PartIn"]["properties"]["unit_price_minor"]["minimum"].as_i64(),
            Some(-(MAX_UNIT_PRICE_MINOR as i64))
        );
        assert_eq!(
            max("AgentConfig", "open_tickets"),
            u64::from(docket_app::service::MAX_OPEN_TICKETS)
        );
    }

    /// The patterns the document states for path parameters are the ones
    /// the service enforces, so a fuzzer's "valid" id is valid here too.
    #[test]
    fn path_parameter_patterns_are_the_enforced_ones() {
        let doc = serde_json::to_value(openapi()).unwrap();
        let mut seen = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for p in op["parameters"].as_array().into_iter().flatten() {
                    if p["in"] != "path" {
                        continue;
                    }
                    let expected = match p["name"].as_str().unwrap() {
                        "tenant" | "name" => ID_PATTERN,
                        "id" => TICKET_ID_PATTERN,
                        "key_id" => KEY_ID_PATTERN,
                        "webhook" => WEBHOOK_ID_PATTERN,
                        "message" => MESSAGE_ID_PATTERN,
                        "backtest" => BACKTEST_ID_PATTERN,
                        "version" => VERSION_PATTERN,
                        other => panic!("{method} {path}: unexpected path parameter {other}"),
                    };
                    assert_eq!(p["schema"]["pattern"], expected, "{method} {path} {p}");
                    seen += 1;
                }
            }
        }
        assert!(seen > 30, "{seen}");
        let id = regex_automata::meta::Regex::new(ID_PATTERN).unwrap();
        for sample in [
            "acme",
            "a-b_c9",
            "",
            "Acme",
            "a b",
            &"x".repeat(64),
            &"x".repeat(65),
        ] {
            assert_eq!(
                id.is_match(sample),
                docket_app::service::check_id("id", sample).is_ok(),
                "{sample:?}"
            );
        }
    }
}
