//! # docket-engine
//!
//! A sandboxed WebAssembly rules engine for helpdesk and ticketing backends.
//! Tenants ship their workflow (templates, routing, escalation, billing) as
//! WASM plugins of the `docket:plugin` WIT contract; the host runs them
//! against ticket events in fresh, resource-limited instances and applies
//! the effects they return.
//!
//! ```no_run
//! use docket_engine::{Docket, EngineConfig, Limits};
//! # fn main() -> anyhow::Result<()> {
//! let docket = Docket::new(EngineConfig::default())?;
//! docket.ensure_tenant("acme", Limits::default())?;
//! let bytes = std::fs::read("routing.wasm")?;
//! let v = docket.install("acme", "routing", &bytes)?;
//! docket.activate("acme", "routing", &v.version.to_string())?;
//! # Ok(()) }
//! ```

pub mod cache;
pub mod calendar;
pub mod config;
pub mod dispatch;
pub mod effects;
pub mod error;
pub mod limits;
pub mod plugin;
pub mod registry;
pub mod resident;
pub mod runtime;
pub mod sandbox;

pub use dispatch::{DispatchRequest, Outcome, OutcomeStatus};
pub use docket_contract::types;
pub use docket_contract::{Capability, EventKindName};
pub use error::{DocketError, PluginError};
pub use limits::{EngineConfig, Limits};
pub use registry::{Docket, FailurePolicy, PipelineStep};
