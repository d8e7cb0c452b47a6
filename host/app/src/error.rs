//! Why an event was not applied.

use crate::store::StoreError;
use docket_engine::dispatch::Outcome;
use docket_engine::error::DocketError;

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
    /// The error behind [`AppError::NotRecorded`], or this one.
    pub fn cause(&self) -> &AppError {
        match self {
            AppError::NotRecorded { error, .. } => error.cause(),
            other => other,
        }
    }
}
