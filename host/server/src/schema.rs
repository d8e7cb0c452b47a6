//! The shapes of the service's bodies that exist only on the wire (lists,
//! views, errors), and the response sets the handlers document. The OpenAPI
//! document at `/openapi.json` is generated from these and the handlers'
//! annotations (`api.rs`), so it cannot drift from what is served.

use docket_app::catalog::{AuditEntry, KeyInfo};
pub use docket_app::service::{NewKey, PipelineStepDoc, TenantDoc, TicketView};
use docket_engine::Limits;
use docket_engine::Outcome;
use docket_engine::VersionInfo;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoResponses, ToSchema};

/// Ids: tenants, plugins, agents (1-64 of `a-z`, `0-9`, `-`, `_`).
pub const ID_PATTERN: &str = "^[a-z0-9_-]{1,64}$";
/// Ticket ids: like other ids, upper case letters allowed.
pub const TICKET_ID_PATTERN: &str = "^[A-Za-z0-9_-]{1,64}$";
/// A key's public id.
pub const KEY_ID_PATTERN: &str = "^key_[0-9a-f]{16}$";
/// A webhook's id.
pub const WEBHOOK_ID_PATTERN: &str = "^wh_[0-9a-f]{16}$";
/// A message's id (`webhook-id`).
pub const MESSAGE_ID_PATTERN: &str = "^msg_[0-9a-f]{26}$";
/// A backtest's id.
pub const BACKTEST_ID_PATTERN: &str = "^bt_[0-9a-f]{16}$";
/// A plugin version: its number, or a prefix of at least 8 characters of
/// its hash.
pub const VERSION_PATTERN: &str = "^([0-9]{1,9}|[0-9a-f]{8,64})$";

/// An error: `{"error": {"code", "message"}}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The error's code and message.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorDetail {
    /// Machine-readable code, e.g. `not_found`, `invalid_body`,
    /// `idempotency_key_reused`.
    pub code: String,
    /// What was wrong and where, for people.
    pub message: String,
    /// For a no-code document that does not compile (`invalid_plugin`):
    /// each error with its line, column and hint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<docket_contract::RuleDiagnostic>,
}

/// `GET /healthz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when the database does not answer.
    pub status: String,
    /// The database: `sqlite` or `postgresql`.
    pub database: String,
}

/// A new tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// Tenant id.
    #[schema(pattern = "^[a-z0-9_-]{1,64}$")]
    pub id: String,
    /// Limits of each plugin call (defaults for any field left out).
    #[serde(default)]
    pub limits: Limits,
}

/// `GET /v1/tenants`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantList {
    /// Tenant ids, sorted.
    pub tenants: Vec<String>,
}

/// `GET /v1/tenants/{tenant}/keys`.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    /// Keys by public id, never the secrets.
    pub keys: Vec<KeyInfo>,
}

/// `GET /v1/tenants/{tenant}/plugins`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginList {
    /// Every version of every plugin, by plugin name.
    pub plugins: BTreeMap<String, Vec<VersionInfo>>,
}

/// `GET /v1/tenants/{tenant}/plugins/{name}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionList {
    /// Versions, oldest first.
    pub versions: Vec<VersionInfo>,
}

/// Which version to activate.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivateReq {
    /// A version number, or a hash prefix of 8 or more hex digits.
    pub version: VersionRef,
}

/// A version by number or by hash prefix.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum VersionRef {
    /// Version number.
    Number(u32),
    /// Hash prefix (8 to 64 hex digits).
    Hash(String),
}

/// `GET /v1/tenants/{tenant}/audit`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditList {
    /// Entries, oldest first.
    pub entries: Vec<AuditEntry>,
}

/// An outcome that was not applied (422), or a request that was refused.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum RejectedOrInvalid {
    /// A template rejected the ticket: the outcome with its field errors.
    Rejected(Box<Outcome>),
    /// The request itself was invalid (`invalid_body`, `invalid_event`,
    /// `idempotency_key_reused`).
    Invalid(ErrorBody),
}

/// The errors any endpoint that takes a key may answer.
#[derive(IntoResponses)]
pub enum ReadErrors {
    /// Malformed request (query, path).
    #[response(status = 400)]
    BadRequest(#[to_schema] ErrorBody),
    /// Missing, unknown or revoked key.
    #[response(status = 401)]
    Unauthorized(#[to_schema] ErrorBody),
    /// The endpoint needs the admin key.
    #[response(status = 403)]
    Forbidden(#[to_schema] ErrorBody),
    /// Unknown tenant or resource, or another tenant's.
    #[response(status = 404)]
    NotFound(#[to_schema] ErrorBody),
}

/// The errors of endpoints that change something, beyond [`ReadErrors`].
#[derive(IntoResponses)]
pub enum WriteErrors {
    /// In conflict with the current state (see the code).
    #[response(status = 409)]
    Conflict(#[to_schema] ErrorBody),
    /// Body over the size limit.
    #[response(status = 413)]
    TooLarge(#[to_schema] ErrorBody),
    /// The body is not of the media type the endpoint takes.
    #[response(status = 415)]
    UnsupportedMediaType(#[to_schema] ErrorBody),
}

/// 422 for bodies that are well-formed JSON but not acceptable.
#[derive(IntoResponses)]
pub enum Unprocessable {
    /// Well-formed but invalid: unknown fields, values out of range, an
    /// invalid plugin, a calendar that does not parse, ...
    #[response(status = 422)]
    Unprocessable(#[to_schema] ErrorBody),
}
