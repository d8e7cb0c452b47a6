//! # docket-engine
//!
//! A sandboxed WebAssembly rules engine for helpdesk and ticketing backends.
//! Tenants ship their workflow (templates, routing, escalation, billing) as
//! plugins of the `docket:plugin` WIT contract; the engine runs them against
//! ticket events in fresh, resource-limited instances and returns the
//! effects they decide. It performs none of them: storing tickets, firing
//! timers and sending notifications is the embedder's (or `docket-app`'s).
//!
//! ```
//! use docket_engine::types::{Event, EventKind};
//! use docket_engine::{Docket, DispatchRequest, EngineConfig, Limits, PipelineStep, PluginSource};
//! use docket_engine::{Effect, FailurePolicy, TicketBuilder};
//! # fn main() -> anyhow::Result<()> {
//! let docket = Docket::new(EngineConfig::default())?;
//! docket.ensure_tenant("acme", Limits::default())?;
//! // A no-code rule document; a Rust plugin would be `PluginSource::CoreModule(bytes)`.
//! let rules = r#"
//! [[routing.rule]]
//! when = 'ticket.category == "hardware"'
//! group = "field-service"
//! "#;
//! let v = docket.install("acme", "routing", PluginSource::Rules(rules))?;
//! docket.activate("acme", "routing", &v.version.to_string())?;
//! docket.set_pipeline("acme", vec![PipelineStep {
//!     plugin: "routing".into(),
//!     settings: vec![],
//!     on_failure: FailurePolicy::Skip,
//!     events: vec![],
//! }])?;
//! let now = 1_764_000_000_000;
//! let ticket = TicketBuilder::new("acme", "T-1", "customer-7", now)
//!     .subject("Laptop does not boot")
//!     .category("hardware")
//!     .build();
//! let event = Event { id: "ev-1".into(), at: now, actor: None, kind: EventKind::Created };
//! let outcome = docket.dispatch("acme", DispatchRequest {
//!     event, ticket, agents: vec![], history: vec![], now, position: None,
//! })?;
//! assert!(outcome.is_applied());
//! assert_eq!(outcome.ticket.group.as_deref(), Some("field-service"));
//! assert!(outcome.effects.iter().any(|e| matches!(e.effect, Effect::Assign { .. })));
//! # Ok(()) }
//! ```
//!
//! The root names what an embedder needs; [`plugin`] has single plugin
//! calls (what `docket check` and tests use), [`outcome`] the parts of an
//! outcome, [`config`] tenant configuration documents and calendars, and
//! [`contract`] the WIT contract's names and types.
#![deny(missing_docs)]
#![warn(clippy::missing_errors_doc)]

mod cache;
mod calendar;
mod compiled;
pub mod config;
mod decision;
mod dispatch;
mod effects;
mod error;
mod host_state;
mod limits;
mod message;
pub mod pipeline;
mod registry;
mod rerun;
mod resident;
mod runtime;
mod sandbox;
mod source;
mod ticket;
mod workflow;

/// A compiled plugin, and one call of it outside any pipeline.
pub mod plugin {
    pub use crate::compiled::{Plugin, PluginInfo, content_hash};
    pub use crate::host_state::LogLine;
    pub use crate::resident::ResidentStats;
    pub use crate::runtime::CompileSource;
    pub use crate::sandbox::{CallInput, CallStats, Decision};
}

/// The parts of an [`Outcome`]: its status, the effects as applied, the
/// trace of plugin runs, and the messages it delivers.
pub mod outcome {
    pub use crate::decision::{Change, DecisionKind, Decisions, recipient_text};
    pub use crate::dispatch::{AppliedEffect, OutcomeStatus, PluginRun, Rejection};
    pub use crate::effects::SlaDue;
    pub use crate::message::Message;
    pub use crate::rerun::Rerun;
}

pub use dispatch::{DispatchRequest, Outcome};
pub use docket_contract as contract;
pub use docket_contract::types;
pub use effects::Effect;
pub use error::{DocketError, PluginError};
pub use limits::{EngineConfig, Limits};
pub use pipeline::{FailurePolicy, PipelineStep};
pub use registry::{Docket, Tenant, VersionInfo};
pub use source::PluginSource;
pub use ticket::TicketBuilder;
