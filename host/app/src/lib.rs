//! # docket-app
//!
//! The one event lifecycle of Docket, shared by `docket run`, `docket
//! serve` and embedders: an action on a ticket (`created`, `commented`,
//! ...) becomes a ticket and an event, the tenant's pipeline decides, and
//! the outcome is committed with the ticket, the plugins' timers, the SLA
//! clocks and their milestone timers, and an audit record — in one commit
//! to a [`Store`].
//!
//! - [`Lifecycle`]: apply events and fire timers over an engine and a store.
//! - [`Store`], with [`MemoryStore`] (replays, tests, embedders),
//!   [`SqliteStore`] (durable, one process; `docket serve`'s default) and
//!   [`PostgresStore`] (durable, shared by `docket serve` replicas).
//! - [`Service`]: what `docket serve` answers with — tenants, API keys,
//!   plugins and configuration persisted around the lifecycle, over any
//!   [`ServiceStore`] (a [`Store`] and a [`catalog::Catalog`]).
//! - [`ticket_input`]: actions as callers write them, and the tickets they
//!   make; [`sla`]: the SLA clocks; [`replay`]: JSON-lines streams on their
//!   own clock.
//!
//! ```
//! use docket_app::{Lifecycle, MemoryStore, TicketEvent, EventResult};
//! use docket_app::ticket_input::Action;
//! use docket_engine::{Docket, EngineConfig, Limits};
//! # fn main() -> anyhow::Result<()> {
//! let docket = Docket::new(EngineConfig::default())?;
//! docket.put_tenant("acme", Limits::default())?;
//! let lifecycle = Lifecycle::new(docket, MemoryStore::new());
//! let created: Action = serde_json::from_value(serde_json::json!({
//!     "event": "created",
//!     "data": { "subject": "Printer on fire", "requester": { "id": "r-1" } }
//! }))?;
//! let event = TicketEvent {
//!     tenant: "acme", ticket: "T-1", action: &created, id: "ev-1",
//!     at: 1_764_000_000_000, actor: None, fingerprint: None,
//! };
//! let EventResult::Recorded(r) = lifecycle.apply(&event)? else { unreachable!() };
//! assert_eq!(r.status(), "applied");
//! // The same id again is answered from the store, not dispatched twice.
//! assert!(matches!(lifecycle.apply(&event)?, EventResult::Repeated(_)));
//! # Ok(()) }
//! ```

pub mod authoring;
pub mod backtest;
pub mod catalog;
mod error;
mod lifecycle;
mod memory;
pub mod metrics;
mod pg;
pub mod recording;
pub mod replay;
pub mod service;
pub mod simulate;
pub mod sla;
pub mod sql;
pub mod sqlite;
mod store;
pub mod ticket_input;
pub mod webhook;

pub use catalog::{CommitStats, ServiceStore};
pub use error::AppError;
pub use lifecycle::{EventResult, Lifecycle, Recorded, TicketEvent, status_of};
pub use memory::MemoryStore;
#[doc(hidden)]
pub use pg::test_database;
pub use pg::{PostgresStore, TIMER_LEASE_MS};
pub use service::{Database, Service};
pub use sqlite::SqliteStore;
pub use store::{
    Applied, EventCommit, RecordedRow, RecordingQuery, Store, StoreError, StoredEvent,
    StoredMessage, TimerChange, TimerRow,
};
