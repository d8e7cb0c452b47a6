//! API errors: a status code and a JSON body `{"error": {"code", "message"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An error answered to an API caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine-readable code, e.g. `not_found`.
    pub code: &'static str,
    /// Message for people.
    pub message: String,
}

impl ApiError {
    /// An error with the given status and code.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404: also what a tenant gets for another tenant's resources.
    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", what)
    }

    /// 409.
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 422: well-formed but unacceptable (e.g. an invalid plugin).
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// 500.
    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %e, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("{e}"),
        )
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> ApiError {
        ApiError::internal(format!("store: {e}"))
    }
}

impl From<docket_engine::DocketError> for ApiError {
    fn from(e: docket_engine::DocketError) -> ApiError {
        use docket_engine::DocketError as D;
        match &e {
            D::UnknownTenant(_) | D::UnknownPlugin { .. } | D::UnknownVersion { .. } => {
                ApiError::not_found(e.to_string())
            }
            D::NothingToRollBack { .. } => ApiError::conflict(e.to_string()),
            D::Install { error, .. } => {
                ApiError::unprocessable("invalid_plugin", format!("{e} ({})", error.kind()))
            }
            D::Config(_) => ApiError::unprocessable("invalid_config", e.to_string()),
        }
    }
}

impl From<docket_app::StoreError> for ApiError {
    fn from(e: docket_app::StoreError) -> ApiError {
        ApiError::internal(e)
    }
}

impl From<docket_app::AppError> for ApiError {
    fn from(e: docket_app::AppError) -> ApiError {
        use docket_app::AppError as A;
        match e {
            A::Engine(e) => e.into(),
            A::TicketExists { ticket } => ApiError::conflict(format!("ticket `{ticket}` exists")),
            A::NoSuchTicket { ticket } => ApiError::not_found(format!("ticket `{ticket}`")),
            A::InvalidEvent { reason, .. } => ApiError::unprocessable("invalid_event", reason),
            // Over HTTP, event ids are idempotency keys.
            A::EventIdReused { id } => ApiError::unprocessable(
                "idempotency_key_reused",
                format!(
                    "Idempotency-Key `{id}` was already used for a different request \
                     (another endpoint, ticket or body); use a new key"
                ),
            ),
            A::EventInProgress { id } => ApiError::new(
                StatusCode::CONFLICT,
                "request_in_progress",
                format!(
                    "a request with Idempotency-Key (event id) `{id}` is still being processed; \
                     retry it later to get its outcome"
                ),
            ),
            A::InvalidSla { reason } => ApiError::unprocessable("invalid_sla", reason),
            A::Store(e) => e.into(),
            A::NotRecorded { error, .. } => (*error).into(),
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, axum::Json(body)).into_response()
    }
}
