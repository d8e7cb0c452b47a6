//! Bearer-key authentication. Keys are stored hashed; a tenant key opens
//! only its own tenant's endpoints (anything else is a 404, so a tenant
//! cannot even learn whether another tenant exists); the admin key opens
//! tenant management and every tenant.

use super::error::ApiError;
use axum::http::{HeaderMap, StatusCode};
use docket_app::Service;
use docket_app::service::KeyOwner;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The admin key.
    Admin,
    /// A tenant's key.
    Tenant(String),
}

/// Resolves the caller from the `Authorization: Bearer <key>` header.
pub fn principal(service: &Service, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", m);
    let value = headers
        .get("authorization")
        .ok_or_else(|| unauthorized("missing Authorization: Bearer <key>"))?;
    // The scheme is case-insensitive (RFC 9110 §11.1): `bearer` is `Bearer`.
    let key = value
        .to_str()
        .ok()
        .and_then(|v| v.trim_start().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key.trim())
        .filter(|k| !k.is_empty())
        .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <key>`"))?;
    match service.key_owner(key)? {
        Some(KeyOwner::Admin) => Ok(Principal::Admin),
        Some(KeyOwner::Tenant(tenant)) => Ok(Principal::Tenant(tenant)),
        None => Err(unauthorized("unknown API key")),
    }
}

/// Requires the admin key.
pub fn require_admin(service: &Service, headers: &HeaderMap) -> Result<(), ApiError> {
    match principal(service, headers)? {
        Principal::Admin => Ok(()),
        Principal::Tenant(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this endpoint needs the admin key",
        )),
    }
}

/// Requires the tenant's own key (or the admin key) for `tenant`.
pub fn require_tenant(
    service: &Service,
    headers: &HeaderMap,
    tenant: &str,
) -> Result<(), ApiError> {
    match principal(service, headers)? {
        Principal::Admin => {
            service.tenant(tenant)?;
            Ok(())
        }
        Principal::Tenant(t) if t == tenant => Ok(()),
        Principal::Tenant(_) => Err(ApiError::not_found(format!("tenant `{tenant}`"))),
    }
}
