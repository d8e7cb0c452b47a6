//! Why an event was not applied.

use crate::store::StoreError;
use docket_engine::DocketError;
use docket_engine::Outcome;

/// Why the lifecycle refused or could not record an event. Callers map
/// these to their own answers (the server to HTTP statuses, the CLI to a
/// line number).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// The engine refused (e.g. an unknown tenant).
    #[error(transparent)]
    Engine(#[from] DocketError),
    /// `created` for a ticket that exists.
    #[error("ticket `{ticket}` exists")]
    TicketExists {
        /// The ticket id.
        ticket: String,
    },
    /// Another action for a ticket that does not exist.
    #[error("ticket `{ticket}` does not exist (create it first)")]
    NoSuchTicket {
        /// The ticket id.
        ticket: String,
    },
    /// The action does not fit the ticket (e.g. an out-of-range value).
    #[error("ticket `{ticket}`: {reason}")]
    InvalidEvent {
        /// The ticket id.
        ticket: String,
        /// What was wrong, naming the field.
        reason: String,
    },
    /// The event id was processed before for a different request.
    #[error(
        "event id `{id}` was already used for a different request (another endpoint, ticket or body); use a new one"
    )]
    EventIdReused {
        /// The id.
        id: String,
    },
    /// Another request with this event id is being processed (here or,
    /// when it commits first, anywhere sharing the store).
    #[error(
        "a request with event id `{id}` is being (or was just) processed; retry it later to get its outcome"
    )]
    EventInProgress {
        /// The id.
        id: String,
    },
    /// The pipeline's SLA policy cannot run (e.g. on an unknown calendar).
    #[error("{reason}")]
    InvalidSla {
        /// What was wrong.
        reason: String,
    },
    /// A malformed request (e.g. an id with characters ids may not have).
    #[error("{0}")]
    BadRequest(String),
    /// What was asked for does not exist (also what a tenant is told of
    /// another tenant's resources).
    #[error("not found: {0}")]
    NotFound(String),
    /// The change conflicts with the current state (e.g. removing a
    /// calendar SLA clocks run on).
    #[error("{message}")]
    Conflict {
        /// Machine-readable code, e.g. `calendar_in_use`.
        code: &'static str,
        /// What conflicts, for people.
        message: String,
    },
    /// Well-formed but unacceptable (e.g. limits over the ceilings).
    #[error("{message}")]
    Unprocessable {
        /// Machine-readable code, e.g. `invalid_limits`.
        code: &'static str,
        /// What was wrong and where, for people.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The pipeline ran but its outcome could not be recorded: nothing was
    /// applied. Carries the outcome (for metrics and diagnostics).
    #[error("{error}")]
    NotRecorded {
        /// What the pipeline decided.
        outcome: Box<Outcome>,
        /// Why it was not recorded.
        error: Box<AppError>,
    },
}

impl AppError {
    /// A refusal with a machine-readable code.
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::Unprocessable {
            code,
            message: message.into(),
        }
    }

    /// A conflict with a machine-readable code.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::Conflict {
            code,
            message: message.into(),
        }
    }

    /// The machine-readable code callers answer with, e.g. `not_found`,
    /// `invalid_event`, `idempotency_key_reused`.
    pub fn code(&self) -> &'static str {
        use DocketError as D;
        match self.cause() {
            AppError::Engine(e) => match e {
                D::UnknownTenant(_) | D::UnknownPlugin { .. } | D::UnknownVersion { .. } => {
                    "not_found"
                }
                D::NothingToRollBack { .. } => "conflict",
                D::Install { .. } => "invalid_plugin",
                D::Config(_) => "invalid_config",
                _ => "internal",
            },
            AppError::TicketExists { .. } => "conflict",
            AppError::NoSuchTicket { .. } | AppError::NotFound(_) => "not_found",
            AppError::InvalidEvent { .. } => "invalid_event",
            AppError::EventIdReused { .. } => "idempotency_key_reused",
            AppError::EventInProgress { .. } => "request_in_progress",
            AppError::InvalidSla { .. } => "invalid_sla",
            AppError::BadRequest(_) => "bad_request",
            AppError::Conflict { code, .. } | AppError::Unprocessable { code, .. } => code,
            AppError::Store(StoreError::Conflict(_)) => "conflict",
            AppError::Store(_) | AppError::NotRecorded { .. } => "internal",
        }
    }

    /// The error behind [`AppError::NotRecorded`], or this one.
    pub fn cause(&self) -> &AppError {
        match self {
            AppError::NotRecorded { error, .. } => error.cause(),
            other => other,
        }
    }
}
