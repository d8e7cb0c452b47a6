//! What a rules editor calls: check a draft as it is typed, read an
//! installed version back (document and forms), and the vocabulary the
//! compiler knows (for completion).

use crate::auth::require_tenant;
use crate::error::ApiError;
use crate::handler::{ApiResult, Shared, TenantPath, blocking, ok};
use crate::request::{Body, json, require_json};
use crate::schema::{ReadErrors, Unprocessable, WriteErrors};
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use docket_app::authoring::{RulesCheck, VersionDetail};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

/// `POST /v1/tenants/{tenant}/rules/check`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckReq {
    /// The plugin the draft is for (its pipeline step's settings are
    /// what its forms are asked with).
    #[schema(pattern = "^[a-z0-9_-]{1,64}$")]
    pub plugin: String,
    /// The no-code rule document (TOML text).
    pub rules: String,
}

/// Checks a no-code draft under the tenant's limits without installing
/// it: whether it compiles (else each error located with its hint), what
/// it declares, and the forms it would show. A draft with errors is a 200
/// with `ok: false`: the check worked.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/rules/check", tag = "rule changes", security(("bearer" = [])),
    params(TenantPath), request_body = CheckReq,
    responses((status = 200, description = "The check", body = RulesCheck),
        ReadErrors, WriteErrors, Unprocessable))]
pub(crate) async fn check_rules(
    axum::extract::State(s): Shared,
    headers: HeaderMap,
    Path(p): Path<TenantPath>,
    b: Body,
) -> ApiResult {
    let req: Result<CheckReq, ApiError> = json(b);
    let out = blocking(move || {
        require_tenant(&s, &headers, &p.tenant)?;
        require_json(&headers)?;
        let req = req?;
        Ok(s.check_rules(&p.tenant, &req.plugin, &req.rules)?)
    })
    .await?;
    ok(StatusCode::OK, out)
}

/// Path parameters naming one version of a tenant's plugin.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct VersionPath {
    /// Tenant id.
    #[param(pattern = "^[a-z0-9_-]{1,64}$")]
    tenant: String,
    /// Plugin name.
    #[param(pattern = "^[a-z0-9_-]{1,64}$")]
    name: String,
    /// Version number, or a hash prefix of at least 8 characters.
    #[param(pattern = "^([0-9]{1,9}|[0-9a-f]{8,64})$")]
    version: String,
}

/// One version of a plugin: what it is, its no-code document (absent for
/// wasm plugins) and the forms it declares.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/plugins/{name}/versions/{version}", tag = "plugins", security(("bearer" = [])),
    params(VersionPath),
    responses((status = 200, description = "The version", body = VersionDetail), ReadErrors, Unprocessable))]
pub(crate) async fn get_version(
    axum::extract::State(s): Shared,
    headers: HeaderMap,
    Path(p): Path<VersionPath>,
) -> ApiResult {
    let out = blocking(move || {
        require_tenant(&s, &headers, &p.tenant)?;
        Ok(s.version_detail(&p.tenant, &p.name, &p.version)?)
    })
    .await?;
    ok(StatusCode::OK, out)
}

/// The names and functions no-code expressions can use, with their types
/// and what each function does: what an editor completes from. The same
/// for every tenant, so no key is needed.
#[utoipa::path(get, path = "/v1/rules/vocabulary", tag = "rule changes",
    responses((status = 200, description = "The vocabulary", body = Object)))]
pub(crate) async fn vocabulary() -> ApiResult {
    ok(StatusCode::OK, docket_nocode::vocabulary::vocabulary())
}
