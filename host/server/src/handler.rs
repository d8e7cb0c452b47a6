//! What every handler shares: the state and result types, running
//! blocking work off the async runtime, a JSON answer, the tenant path.

use crate::error::ApiError;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use docket_app::Service;
use serde::Deserialize;
use std::sync::Arc;
use utoipa::IntoParams;

/// The service, as handlers receive it.
pub(crate) type Shared = State<Arc<Service>>;
/// A handler's answer: a response, or an error in the service's JSON shape.
pub(crate) type ApiResult = Result<Response, ApiError>;

/// Runs blocking work (the store, the engine) off the async runtime.
pub(crate) async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, ApiError> + Send + 'static,
) -> Result<R, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

/// `v` as JSON with `status`.
pub(crate) fn ok(status: StatusCode, v: impl serde::Serialize) -> ApiResult {
    Ok((status, Json(v)).into_response())
}

/// Path parameters naming a tenant.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct TenantPath {
    /// Tenant id.
    #[param(pattern = "^[a-z0-9_-]{1,64}$")]
    pub(crate) tenant: String,
}
