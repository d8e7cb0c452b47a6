//! # docket-contract
//!
//! The `docket:plugin` WIT contract as the Docket host knows it:
//!
//! - [`bindings`]: the host bindings generated from `wit/` (wasmtime
//!   `bindgen!`), with [`types`] as the shared record types;
//! - the contract's names: version, [`Capability`], [`EventKindName`], and
//!   the WIT sources (embedded, so componentizing needs no files);
//! - [`componentize`]: conformance of plugin binaries (imports, exports)
//!   and the wrapping of core modules into components;
//! - [`wire`]: the one JSON shape of the contract's types outside the engine.
//!
//! The engine, the no-code compiler and the service all speak these types;
//! this crate depends on none of them.

pub mod bindings;
pub mod componentize;
mod error;
pub mod wire;

pub use bindings::docket::plugin::types;
pub use error::{PluginError, RuleDiagnostic};

use serde::{Deserialize, Serialize};

/// The WIT package this host implements.
pub const PACKAGE: &str = "docket:plugin";
/// The contract version this host implements.
pub const CONTRACT_VERSION: &str = "0.1.1";

/// The earlier versions this host runs unchanged: each adds to the one
/// before and changes nothing of it (a component of 0.1.0 exports names the
/// component model resolves to 0.1.1's, and a core module's names are
/// upgraded when it is componentized).
pub const COMPATIBLE_VERSIONS: &[&str] = &["0.1.0"];

/// Whether a plugin built against contract `version` runs on this host.
pub fn is_compatible_version(version: &str) -> bool {
    version == CONTRACT_VERSION || COMPATIBLE_VERSIONS.contains(&version)
}

/// The WIT files of the contract, as `(file name, contents)`.
pub const WIT_SOURCES: &[(&str, &str)] = &[
    ("types.wit", include_str!("../wit/types.wit")),
    ("capabilities.wit", include_str!("../wit/capabilities.wit")),
    ("worlds.wit", include_str!("../wit/worlds.wit")),
];

/// The interface names a plugin may import.
pub const ALLOWED_IMPORTS: &[&str] = &["log", "types"];

/// A capability a plugin may export. The order is the pipeline's phase order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Ticket templates and validation.
    Template,
    /// Assignment.
    Routing,
    /// SLA targets, escalation actions and timers.
    Escalation,
    /// Invoices, approvals and commissions.
    Billing,
    /// Stages, transitions and what happens on the way (contract 0.1.1).
    Workflow,
}

impl Capability {
    /// Every capability, in phase order.
    pub const ALL: [Capability; 5] = [
        Capability::Template,
        Capability::Routing,
        Capability::Escalation,
        Capability::Billing,
        Capability::Workflow,
    ];

    /// The WIT interface name.
    pub fn interface(self) -> &'static str {
        match self {
            Capability::Template => "template",
            Capability::Routing => "routing",
            Capability::Escalation => "escalation",
            Capability::Billing => "billing",
            Capability::Workflow => "workflow",
        }
    }

    /// The function of the interface a dispatch calls.
    pub fn entry_point(self) -> &'static str {
        match self {
            Capability::Template => "validate",
            Capability::Routing => "route",
            Capability::Escalation => "evaluate",
            Capability::Billing => "bill",
            Capability::Workflow => "react",
        }
    }

    /// The capability exported under a WIT interface name.
    pub fn from_interface(name: &str) -> Option<Capability> {
        Capability::ALL.into_iter().find(|c| c.interface() == name)
    }

    /// The fully qualified export name, e.g. `docket:plugin/routing@0.1.0`.
    pub fn export_name(self) -> String {
        qualified(self.interface())
    }
}

impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.interface())
    }
}

/// The kind of a ticket event, by name: what a pipeline step may subscribe
/// to and what no-code rules compare `event.kind` with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventKindName {
    /// `created`.
    Created,
    /// `updated`.
    Updated,
    /// `commented`.
    Commented,
    /// `status-changed`.
    StatusChanged,
    /// `assigned`.
    Assigned,
    /// `timer-fired`.
    TimerFired,
    /// `time-logged`.
    TimeLogged,
    /// `part-used`.
    PartUsed,
}

/// The names of [`EventKindName`], in the contract's order.
pub const EVENT_KIND_NAMES: [&str; 8] = [
    "created",
    "updated",
    "commented",
    "status_changed",
    "assigned",
    "timer_fired",
    "time_logged",
    "part_used",
];

impl EventKindName {
    /// The kind of an event.
    pub fn of(kind: &crate::types::EventKind) -> EventKindName {
        use crate::types::EventKind as K;
        match kind {
            K::Created => EventKindName::Created,
            K::Updated(_) => EventKindName::Updated,
            K::Commented(_) => EventKindName::Commented,
            K::StatusChanged(_) => EventKindName::StatusChanged,
            K::Assigned(_) => EventKindName::Assigned,
            K::TimerFired(_) => EventKindName::TimerFired,
            K::TimeLogged(_) => EventKindName::TimeLogged,
            K::PartUsed(_) => EventKindName::PartUsed,
        }
    }

    /// The name, as configs and no-code rules write it.
    pub fn name(self) -> &'static str {
        EVENT_KIND_NAMES[self as usize]
    }

    /// Every kind, in the contract's order.
    pub const ALL: [EventKindName; 8] = [
        EventKindName::Created,
        EventKindName::Updated,
        EventKindName::Commented,
        EventKindName::StatusChanged,
        EventKindName::Assigned,
        EventKindName::TimerFired,
        EventKindName::TimeLogged,
        EventKindName::PartUsed,
    ];

    /// The kind of this name (`status_changed`), if it is one.
    pub fn from_name(name: &str) -> Option<EventKindName> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// `docket:plugin/<interface>@<version>`.
pub fn qualified(interface: &str) -> String {
    format!("{PACKAGE}/{interface}@{CONTRACT_VERSION}")
}

/// A name of the form `docket:plugin/<interface>@<version>`, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractName<'a> {
    /// The interface, e.g. `routing`.
    pub interface: &'a str,
    /// The version, e.g. `0.1.0` (empty when unversioned).
    pub version: &'a str,
}

/// Parses `docket:plugin/<interface>[@<version>]`; `None` for other packages.
pub fn parse_contract_name(name: &str) -> Option<ContractName<'_>> {
    let rest = name.strip_prefix(PACKAGE)?.strip_prefix('/')?;
    let (interface, version) = rest.split_once('@').unwrap_or((rest, ""));
    Some(ContractName { interface, version })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            Capability::Routing.export_name(),
            "docket:plugin/routing@0.1.1"
        );
        assert!(is_compatible_version("0.1.0") && is_compatible_version("0.1.1"));
        assert!(!is_compatible_version("0.1.2") && !is_compatible_version("0.2.0"));
        let n = parse_contract_name("docket:plugin/billing@0.0.9").unwrap();
        assert_eq!((n.interface, n.version), ("billing", "0.0.9"));
        assert!(parse_contract_name("wasi:io/streams@0.2.0").is_none());
    }

    #[test]
    fn event_kind_names_are_their_serde_names() {
        for name in EVENT_KIND_NAMES {
            let kind: EventKindName = serde_json::from_value(name.into()).unwrap();
            assert_eq!(kind.name(), name);
        }
    }

    #[test]
    fn a_capability_indexes_its_place_in_phase_order() {
        // `sandbox::call` indexes per-capability tables with `c as usize`.
        for (i, c) in Capability::ALL.into_iter().enumerate() {
            assert_eq!(c as usize, i, "{c}");
        }
    }
}
