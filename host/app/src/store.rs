//! What the event lifecycle needs from storage: a [`Store`] reads tickets,
//! agents, SLA clocks, timers and processed events, and records everything
//! one event produced in one atomic commit.
//!
//! Two implementations ship: [`MemoryStore`](crate::MemoryStore) (for
//! `docket run`, tests and embedders that keep their own records) and
//! [`SqliteStore`](crate::SqliteStore) (durable, for `docket serve`).

use crate::sla::SlaClock;
use docket_contract::types::{Ticket, TicketBrief};
use docket_engine::config::AgentConfig;
use docket_engine::outcome::Message;
use serde::Serialize;

/// A durable timer: a plugin's (or the SLA clocks', owner `@sla`) reminder
/// for one ticket, fired as a `timer-fired` event when due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimerRow {
    /// Tenant.
    pub tenant: String,
    /// Ticket.
    pub ticket: String,
    /// Plugin that set it (`@sla` for the host's SLA milestones).
    pub plugin: String,
    /// Key.
    pub key: String,
    /// Due instant (ms since the epoch; RFC 3339 on the wire).
    #[serde(with = "docket_contract::wire::instant")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub due_at: i64,
}

/// An event already processed: its status, outcome and, when it came with
/// an idempotency key, the fingerprint of the request that carried it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// `applied`, `rejected` or `failed`.
    pub status: String,
    /// The outcome answered then.
    pub outcome: serde_json::Value,
    /// SHA-256 of the request (method, path, body), for idempotency keys.
    pub fingerprint: Option<String>,
}

/// A change to a ticket's timers, in the order the event asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimerChange {
    /// Set (or replace) the timer.
    Set(TimerRow),
    /// Cancel the timer `key` of `owner` on the event's ticket.
    Cancel {
        /// The plugin (or `@sla`) that owns it.
        owner: String,
        /// Its key.
        key: String,
    },
}

/// What an applied event changes besides recording it.
#[derive(Debug, Clone, Copy)]
pub struct Applied<'a> {
    /// The ticket after the event.
    pub ticket: &'a Ticket,
    /// Timer changes: the plugins' and the SLA milestones'.
    pub timers: &'a [TimerChange],
    /// The ticket's SLA clocks after the event (replacing the old ones).
    pub clocks: &'a [SlaClock],
}

/// Everything one event produced, committed atomically by
/// [`Store::commit_event`].
#[derive(Debug, Clone, Copy)]
pub struct EventCommit<'a> {
    /// Tenant.
    pub tenant: &'a str,
    /// Ticket.
    pub ticket: &'a str,
    /// Event id (the idempotency key when one was given); unique per tenant.
    pub event_id: &'a str,
    /// The action's name, e.g. `created`, `timer_fired`.
    pub kind: &'a str,
    /// When, ms since the epoch.
    pub at: i64,
    /// `applied`, `rejected` or `failed`.
    pub status: &'a str,
    /// The request's fingerprint, for events with an idempotency key.
    pub fingerprint: Option<&'a str>,
    /// The outcome as answered (and answered again for a retry).
    pub outcome: &'a serde_json::Value,
    /// The audit entry: event, plugin versions, effects, trace, status.
    pub audit: &'a serde_json::Value,
    /// The version of the ticket the event was decided on (`None`: the
    /// event creates it). An applied event commits only if the stored
    /// ticket still has this version (else [`StoreError::Conflict`]), so
    /// concurrent writers, in this process or another, never lose an
    /// update.
    pub ticket_version: Option<u64>,
    /// The timer this event fires, deleted in the same commit; if it is no
    /// longer there at that due instant (fired, replaced or cancelled
    /// meanwhile), nothing is committed ([`StoreError::Conflict`]).
    pub fired: Option<&'a TimerRow>,
    /// The changes, when the outcome was applied.
    pub applied: Option<Applied<'a>>,
    /// The messages to deliver (empty unless applied): written to the
    /// tenant's outbox in this commit, numbered after the ones before.
    pub messages: &'a [Message],
    /// What the event was decided on, kept with its audit entry (and its
    /// blobs, each stored once per tenant).
    pub recording: Option<&'a Recording>,
}

/// A content-addressed blob of a recording: its SHA-256 (hex) and JSON
/// text (see the `recording` module).
#[derive(Debug, Clone, PartialEq)]
pub struct Blob {
    /// SHA-256 of `body`, lowercase hex.
    pub hash: String,
    /// The JSON text.
    pub body: std::sync::Arc<str>,
}

/// What one event is recorded with, committed with it (made by
/// [`Recording::of`]).
#[derive(Debug, Clone)]
pub struct Recording {
    /// The input record as JSON (`recording::RecordedInput`).
    pub input: String,
    /// The blobs it names: pipeline, roster, history.
    pub blobs: [Blob; 3],
}

/// A recorded event: its audit entry and input record (see
/// the `recording` module).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRow {
    /// Position in the tenant's audit log.
    pub seq: u64,
    /// Ticket.
    pub ticket: String,
    /// Event id.
    pub event_id: String,
    /// The action's name (`created`, `timer_fired`, ...): the event's kind.
    pub kind: String,
    /// When it happened (ms since the epoch).
    pub at: i64,
    /// The audit entry (JSON): event, plugin versions, effects, trace, status.
    pub entry: String,
    /// The input record (JSON, `recording::RecordedInput`).
    pub input: String,
}

/// A page of a tenant's recorded events: those at or after `from` and
/// before `until`, ordered by instant then audit position, after the
/// cursor `after` (the last page's last `(at, seq)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordingQuery {
    /// Start of the window (inclusive), ms since the epoch.
    pub from: i64,
    /// End of the window (exclusive), ms since the epoch.
    pub until: i64,
    /// The cursor: `(at, seq)` of the last row read; `None` to start.
    pub after: Option<(i64, u64)>,
    /// Rows at most.
    pub limit: usize,
}

impl RecordingQuery {
    /// The first `(at, seq)` a row may have: past the cursor, in the window.
    pub fn lower_bound(&self) -> (i64, u64) {
        match self.after {
            Some((at, seq)) if at >= self.from => (at, seq),
            _ => (self.from, 0),
        }
    }
}

/// A message in a tenant's outbox, with its position: the feed's cursor.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoredMessage {
    /// Position in the tenant's outbox: 1, 2, 3, ... in commit order, so
    /// a reader that has seen `n` has seen everything before it.
    pub seq: u64,
    /// The message.
    #[serde(flatten)]
    pub message: Message,
}

/// A store could not read or write.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An event with this id was recorded first by a concurrent request.
    #[error("event `{0}` was already recorded")]
    DuplicateEvent(String),
    /// What the event was decided on changed before it committed: the
    /// ticket has another version, exists already (for a creation), or the
    /// fired timer is gone. Nothing was written; decide the event again.
    #[error("changed concurrently: {0}")]
    Conflict(String),
    /// The backend failed.
    #[error("store: {0}")]
    Backend(String),
}

/// Storage for the event lifecycle. Reads see every commit made before
/// them; [`commit_event`](Store::commit_event) is all or nothing.
pub trait Store: Send + Sync {
    /// A ticket, if it exists, with its version: a counter each applied
    /// event on it increases.
    ///
    /// # Errors
    /// When the backend fails.
    fn versioned_ticket(&self, tenant: &str, id: &str)
    -> Result<Option<(Ticket, u64)>, StoreError>;

    /// A ticket, if it exists.
    ///
    /// # Errors
    /// When the backend fails.
    fn ticket(&self, tenant: &str, id: &str) -> Result<Option<Ticket>, StoreError> {
        Ok(self.versioned_ticket(tenant, id)?.map(|(t, _)| t))
    }

    /// Briefs of the requester's other tickets (not `except`), newest
    /// first (by creation, then id), at most `limit`: read through an
    /// index, never a scan of the tenant's tickets. Plugins see these as
    /// the history; only a brief's fields are decoded.
    ///
    /// # Errors
    /// When the backend fails.
    fn requester_tickets(
        &self,
        tenant: &str,
        requester: &str,
        except: &str,
        limit: usize,
    ) -> Result<Vec<TicketBrief>, StoreError>;

    /// The tenant's configured agents.
    ///
    /// # Errors
    /// When the backend fails.
    fn agents(&self, tenant: &str) -> Result<Vec<AgentConfig>, StoreError>;

    /// Unresolved tickets per assignee (agents with none may be left out),
    /// kept as tickets change rather than counted per request.
    ///
    /// # Errors
    /// When the backend fails.
    fn open_load(&self, tenant: &str) -> Result<Vec<(String, u32)>, StoreError>;

    /// A ticket's SLA clocks, by metric name.
    ///
    /// # Errors
    /// When the backend fails.
    fn sla_clocks(&self, tenant: &str, ticket: &str) -> Result<Vec<SlaClock>, StoreError>;

    /// The processed event with this id, if any.
    ///
    /// # Errors
    /// When the backend fails.
    fn stored_event(&self, tenant: &str, id: &str) -> Result<Option<StoredEvent>, StoreError>;

    /// A timer's current due instant, if it still exists.
    ///
    /// # Errors
    /// When the backend fails.
    fn timer_due(&self, timer: &TimerRow) -> Result<Option<i64>, StoreError>;

    /// Timers due at or before `until`, at most `limit`, ordered by due
    /// instant, tenant, ticket, owner and key.
    ///
    /// # Errors
    /// When the backend fails.
    fn due_timers(&self, until: i64, limit: usize) -> Result<Vec<TimerRow>, StoreError>;

    /// Deletes a timer (e.g. of a ticket that no longer exists).
    ///
    /// # Errors
    /// When the backend fails.
    fn cancel_timer(&self, timer: &TimerRow) -> Result<(), StoreError>;

    /// Moves a timer that could not fire to `due_at`, unless it was
    /// replaced or cancelled meanwhile; returns whether it moved.
    ///
    /// # Errors
    /// When the backend fails.
    fn postpone_timer(&self, timer: &TimerRow, due_at: i64) -> Result<bool, StoreError>;

    /// Records one processed event and, when applied, its ticket, timers
    /// and SLA clocks, atomically.
    ///
    /// # Errors
    /// [`StoreError::DuplicateEvent`] when the event id is taken (nothing
    /// is written); otherwise when the backend fails (nothing is written).
    fn commit_event(&self, commit: &EventCommit<'_>) -> Result<(), StoreError>;

    /// The tenant's outbox after position `after`, in order, at most
    /// `limit` messages.
    ///
    /// # Errors
    /// When the backend fails.
    fn messages_after(
        &self,
        tenant: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError>;

    /// A page of the tenant's recorded events (see [`RecordingQuery`]),
    /// read through an index on (tenant, at, seq). Events recorded before
    /// recordings existed are not listed.
    ///
    /// # Errors
    /// When the backend fails.
    fn recordings(
        &self,
        tenant: &str,
        query: &RecordingQuery,
    ) -> Result<Vec<RecordedRow>, StoreError>;

    /// A recording blob of the tenant by hash.
    ///
    /// # Errors
    /// When the backend fails.
    fn recording_blob(&self, tenant: &str, hash: &str) -> Result<Option<String>, StoreError>;

    /// How many recorded events the tenant has at or after `from` and
    /// before `until` (counted on the index, for progress reports).
    ///
    /// # Errors
    /// When the backend fails.
    fn count_recordings(&self, tenant: &str, from: i64, until: i64) -> Result<u64, StoreError>;
}

/// A shared store is a store: the service holds its backend as one, and
/// lifecycles (in tests, replicas) can share one.
impl<S: Store + ?Sized> Store for std::sync::Arc<S> {
    fn versioned_ticket(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<Option<(Ticket, u64)>, StoreError> {
        (**self).versioned_ticket(tenant, id)
    }
    fn requester_tickets(
        &self,
        tenant: &str,
        requester: &str,
        except: &str,
        limit: usize,
    ) -> Result<Vec<TicketBrief>, StoreError> {
        (**self).requester_tickets(tenant, requester, except, limit)
    }
    fn agents(&self, tenant: &str) -> Result<Vec<AgentConfig>, StoreError> {
        (**self).agents(tenant)
    }
    fn open_load(&self, tenant: &str) -> Result<Vec<(String, u32)>, StoreError> {
        (**self).open_load(tenant)
    }
    fn sla_clocks(&self, tenant: &str, ticket: &str) -> Result<Vec<SlaClock>, StoreError> {
        (**self).sla_clocks(tenant, ticket)
    }
    fn stored_event(&self, tenant: &str, id: &str) -> Result<Option<StoredEvent>, StoreError> {
        (**self).stored_event(tenant, id)
    }
    fn timer_due(&self, timer: &TimerRow) -> Result<Option<i64>, StoreError> {
        (**self).timer_due(timer)
    }
    fn due_timers(&self, until: i64, limit: usize) -> Result<Vec<TimerRow>, StoreError> {
        (**self).due_timers(until, limit)
    }
    fn cancel_timer(&self, timer: &TimerRow) -> Result<(), StoreError> {
        (**self).cancel_timer(timer)
    }
    fn postpone_timer(&self, timer: &TimerRow, due_at: i64) -> Result<bool, StoreError> {
        (**self).postpone_timer(timer, due_at)
    }
    fn commit_event(&self, commit: &EventCommit<'_>) -> Result<(), StoreError> {
        (**self).commit_event(commit)
    }

    fn messages_after(
        &self,
        tenant: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        (**self).messages_after(tenant, after, limit)
    }

    fn recordings(
        &self,
        tenant: &str,
        query: &RecordingQuery,
    ) -> Result<Vec<RecordedRow>, StoreError> {
        (**self).recordings(tenant, query)
    }

    fn recording_blob(&self, tenant: &str, hash: &str) -> Result<Option<String>, StoreError> {
        (**self).recording_blob(tenant, hash)
    }

    fn count_recordings(&self, tenant: &str, from: i64, until: i64) -> Result<u64, StoreError> {
        (**self).count_recordings(tenant, from, until)
    }
}
