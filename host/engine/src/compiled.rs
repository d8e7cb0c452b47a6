//! A compiled plugin: its component, content hash, capabilities and the
//! pre-instantiated form every call starts from.

use crate::error::PluginError;
use crate::host_state::HostState;
use crate::source::{PluginSource, SourceKind};
use docket_contract::Capability;
use docket_contract::bindings::exports::docket::plugin::{
    billing, escalation, routing, template, workflow,
};
use docket_contract::componentize::{self, check_imports, export_capability};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use wasmtime::component::{Component, ComponentExportIndex, InstancePre, Linker};
use wasmtime::{Engine, component::types::ComponentItem};

/// The lowercase hex SHA-256 of the bytes: a plugin's content address.
pub fn content_hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Pre-resolved export indices of each capability the plugin has.
#[derive(Clone, Default)]
pub(crate) struct CapabilityIndices {
    pub template: Option<template::GuestIndices>,
    pub routing: Option<routing::GuestIndices>,
    pub escalation: Option<escalation::GuestIndices>,
    pub billing: Option<billing::GuestIndices>,
    pub workflow: Option<workflow::GuestIndices>,
}

/// What a plugin is, as `docket check` describes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PluginInfo {
    /// SHA-256 of the installed bytes.
    pub hash: String,
    /// Size of the installed bytes.
    pub size: u64,
    /// Whether it arrived as a core module (componentized by the host).
    pub componentized: bool,
    /// Exported capabilities, in phase order.
    pub capabilities: Vec<Capability>,
    /// Component imports.
    pub imports: Vec<String>,
}

/// The linked form of a plugin: what each call instantiates.
pub(crate) struct Linked {
    pub pre: InstancePre<HostState>,
    /// Typed export handles: loading them type-checks the exports (once,
    /// at install; see `sandbox::type_check`).
    pub indices: CapabilityIndices,
    /// The raw export index of each entry point, by capability, and of
    /// `template.templates` and `workflow.workflows`: calls look functions
    /// up by these without type-checking them again.
    pub entry_points: [Option<ComponentExportIndex>; Capability::ALL.len()],
    pub templates_fn: Option<ComponentExportIndex>,
    pub workflows_fn: Option<ComponentExportIndex>,
    pub capabilities: BTreeSet<Capability>,
    pub imports: Vec<String>,
}

/// A plugin compiled for this engine: a cheap handle (clone it freely) to
/// what it is and to its linked form. The linked form stays in memory while
/// the plugin is among the most recently used (the runtime's resident set
/// decides) and is loaded again on demand after an eviction.
#[derive(Clone)]
pub struct Plugin {
    pub(crate) inner: Arc<Compiled>,
}

/// A compiled plugin's state: what it is, its source (to compile it again
/// after an eviction when the disk cache lacks it) and its slot for the
/// linked form. It knows nothing of the resident set that fills the slot.
pub(crate) struct Compiled {
    pub info: PluginInfo,
    pub source: Arc<[u8]>,
    pub kind: SourceKind,
    /// The linked form while resident.
    pub slot: Mutex<Option<Arc<Linked>>>,
    /// Installed deferred and never loaded yet.
    pub deferred: AtomicBool,
    /// The resident set's logical time of the last call.
    pub last_used: AtomicU64,
}

impl Compiled {
    pub(crate) fn new(
        info: PluginInfo,
        source: &PluginSource<'_>,
        linked: Option<Linked>,
    ) -> Compiled {
        Compiled {
            info,
            source: source.bytes().into(),
            kind: source.kind(),
            deferred: AtomicBool::new(linked.is_none()),
            slot: Mutex::new(linked.map(Arc::new)),
            last_used: AtomicU64::new(0),
        }
    }

    /// The source as installed.
    pub(crate) fn source(&self) -> PluginSource<'_> {
        PluginSource::of_kind(self.kind, &self.source)
    }

    pub(crate) fn resident(&self) -> Option<Arc<Linked>> {
        self.slot.lock().expect("slot").clone()
    }

    pub(crate) fn is_resident(&self) -> bool {
        self.slot.lock().expect("slot").is_some()
    }

    /// Drops the linked form (running calls keep theirs); false if it was
    /// not resident.
    pub(crate) fn evict(&self) -> bool {
        self.slot.lock().expect("slot").take().is_some()
    }
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("info", &self.inner.info)
            .finish()
    }
}

impl Plugin {
    /// What the plugin is.
    pub fn info(&self) -> &PluginInfo {
        &self.inner.info
    }

    /// Whether the plugin exports the capability.
    pub fn has(&self, c: Capability) -> bool {
        self.inner.info.capabilities.contains(&c)
    }

    /// The no-code rule document it was compiled from, if it was one.
    pub fn rule_document(&self) -> Option<&str> {
        match self.inner.kind {
            SourceKind::Rules => std::str::from_utf8(&self.inner.source).ok(),
            SourceKind::Component | SourceKind::CoreModule => None,
        }
    }
}

/// Checks a compiled component's imports and exports against the contract,
/// then pre-instantiates it and resolves each capability's exports.
pub(crate) fn link(
    engine: &Engine,
    linker: &Linker<HostState>,
    component: &Component,
) -> Result<Linked, PluginError> {
    let ty = component.component_type();
    let imports: Vec<String> = ty
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    check_imports(&imports)?;
    let mut capabilities = BTreeSet::new();
    for (name, item) in ty.exports(engine) {
        if let Some(c) = export_capability(name)? {
            if !matches!(item.ty, ComponentItem::ComponentInstance(_)) {
                return Err(PluginError::NotAPlugin {
                    reason: format!("export `{name}` is not an instance"),
                });
            }
            capabilities.insert(c);
        }
    }
    if capabilities.is_empty() {
        return Err(PluginError::NotAPlugin {
            reason: format!("component: {}", componentize::no_capability_reason()),
        });
    }
    let not_ours = |e: wasmtime::Error| PluginError::NotAPlugin {
        reason: format!("{e:#}"),
    };
    let pre = linker.instantiate_pre(component).map_err(not_ours)?;
    let mut indices = CapabilityIndices::default();
    for c in &capabilities {
        match c {
            Capability::Template => {
                indices.template = Some(template::GuestIndices::new(&pre).map_err(not_ours)?)
            }
            Capability::Routing => {
                indices.routing = Some(routing::GuestIndices::new(&pre).map_err(not_ours)?)
            }
            Capability::Escalation => {
                indices.escalation = Some(escalation::GuestIndices::new(&pre).map_err(not_ours)?)
            }
            Capability::Billing => {
                indices.billing = Some(billing::GuestIndices::new(&pre).map_err(not_ours)?)
            }
            Capability::Workflow => {
                indices.workflow = Some(workflow::GuestIndices::new(&pre).map_err(not_ours)?)
            }
        }
    }
    let export_fn = |c: Capability, name: &str| {
        let (_, interface) = component
            .get_export(None, c.export_name())
            .ok_or_else(|| not_ours(wasmtime::format_err!("no export `{}`", c.export_name())))?;
        component
            .get_export_index(Some(&interface), name)
            .ok_or_else(|| {
                not_ours(wasmtime::format_err!(
                    "`{}` has no function `{name}`",
                    c.export_name()
                ))
            })
    };
    let mut entry_points = [None; Capability::ALL.len()];
    for (slot, c) in entry_points.iter_mut().zip(Capability::ALL) {
        if capabilities.contains(&c) {
            *slot = Some(export_fn(c, c.entry_point())?);
        }
    }
    let templates_fn = if capabilities.contains(&Capability::Template) {
        Some(export_fn(Capability::Template, "templates")?)
    } else {
        None
    };
    let workflows_fn = if capabilities.contains(&Capability::Workflow) {
        Some(export_fn(Capability::Workflow, "workflows")?)
    } else {
        None
    };
    Ok(Linked {
        pre,
        indices,
        entry_points,
        templates_fn,
        workflows_fn,
        capabilities,
        imports,
    })
}
