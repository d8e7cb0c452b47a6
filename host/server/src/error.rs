//! API errors: a status code and a JSON body `{"error": {"code", "message"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use docket_app::AppError;

/// An error answered to an API caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine-readable code, e.g. `not_found`.
    pub code: &'static str,
    /// Message for people.
    pub message: String,
    /// For a no-code document that does not compile: each error located.
    pub diagnostics: Vec<docket_contract::RuleDiagnostic>,
}

impl ApiError {
    /// An error with the given status and code.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            diagnostics: Vec::new(),
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

impl From<docket_engine::DocketError> for ApiError {
    fn from(e: docket_engine::DocketError) -> ApiError {
        AppError::Engine(e).into()
    }
}

impl From<docket_app::StoreError> for ApiError {
    fn from(e: docket_app::StoreError) -> ApiError {
        match e {
            // Decided again several times and still overtaken by other
            // writers: nothing was written, and a retry is safe.
            docket_app::StoreError::Conflict(what) => ApiError::conflict(format!(
                "{what}; the request was not applied, retry it (with its Idempotency-Key)"
            )),
            other => ApiError::internal(other),
        }
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> ApiError {
        use docket_engine::DocketError as D;
        let code = e.code();
        match e {
            AppError::Engine(e) => {
                let status = match &e {
                    D::UnknownTenant(_) | D::UnknownPlugin { .. } | D::UnknownVersion { .. } => {
                        StatusCode::NOT_FOUND
                    }
                    D::NothingToRollBack { .. } => StatusCode::CONFLICT,
                    _ => StatusCode::UNPROCESSABLE_ENTITY,
                };
                let message = match &e {
                    D::Install { error, .. } => format!("{e} ({})", error.kind()),
                    _ => e.to_string(),
                };
                let mut answer = ApiError::new(status, code, message);
                if let D::Install {
                    error: docket_engine::PluginError::InvalidRules { diagnostics, .. },
                    ..
                } = e
                {
                    answer.diagnostics = diagnostics;
                }
                answer
            }
            AppError::TicketExists { ticket } => {
                ApiError::conflict(format!("ticket `{ticket}` exists"))
            }
            AppError::NoSuchTicket { ticket } => ApiError::not_found(format!("ticket `{ticket}`")),
            AppError::NotFound(what) => ApiError::not_found(what),
            AppError::BadRequest(message) => ApiError::bad_request(message),
            AppError::InvalidEvent { reason, .. } => ApiError::unprocessable(code, reason),
            AppError::InvalidSla { reason } => ApiError::unprocessable(code, reason),
            AppError::Unprocessable { message, .. } => ApiError::unprocessable(code, message),
            AppError::Conflict { message, .. } => {
                ApiError::new(StatusCode::CONFLICT, code, message)
            }
            // Over HTTP, event ids are idempotency keys.
            AppError::EventIdReused { id } => ApiError::unprocessable(
                code,
                format!(
                    "Idempotency-Key `{id}` was already used for a different request \
                     (another endpoint, ticket or body); use a new key"
                ),
            ),
            AppError::EventInProgress { id } => ApiError::new(
                StatusCode::CONFLICT,
                code,
                format!(
                    "a request with Idempotency-Key (event id) `{id}` is still being processed; \
                     retry it later to get its outcome"
                ),
            ),
            AppError::NotRecorded { error, .. } => (*error).into(),
            AppError::Store(e) => e.into(),
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = serde_json::json!({ "code": self.code, "message": self.message });
        if !self.diagnostics.is_empty() {
            error["diagnostics"] = serde_json::json!(self.diagnostics);
        }
        let body = serde_json::json!({ "error": error });
        (self.status, axum::Json(body)).into_response()
    }
}
