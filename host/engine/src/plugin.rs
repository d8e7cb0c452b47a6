//! A compiled plugin: its component, content hash, capabilities and the
//! pre-instantiated form every call starts from.

use crate::error::PluginError;
use crate::resident::Loader;
use crate::sandbox::HostState;
use docket_contract::Capability;
use docket_contract::bindings::exports::docket::plugin::{billing, escalation, routing, template};
use docket_contract::componentize::{self, BinaryKind, check_import, export_capability};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// `template.templates`: calls look functions up by these without
    /// type-checking them again.
    pub entry_points: [Option<ComponentExportIndex>; 4],
    pub templates_fn: Option<ComponentExportIndex>,
    pub capabilities: BTreeSet<Capability>,
    pub imports: Vec<String>,
}

/// A plugin compiled for this engine. Its linked form stays in memory while
/// it is among the most recently used (see [`crate::resident`]) and is
/// reloaded on demand after an eviction.
pub struct CompiledPlugin {
    pub(crate) info: PluginInfo,
    /// The installed bytes, to compile again if the disk cache lacks them.
    pub(crate) source: Arc<[u8]>,
    pub(crate) module_limit: u64,
    slot: Mutex<Option<Arc<Linked>>>,
    /// Installed deferred and never loaded yet.
    deferred: AtomicBool,
    last_used: AtomicU64,
    loader: Arc<Loader>,
}

impl Drop for CompiledPlugin {
    fn drop(&mut self) {
        if self.is_resident() {
            self.loader.released();
        }
    }
}

impl std::fmt::Debug for CompiledPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledPlugin")
            .field("info", &self.info)
            .finish()
    }
}

impl CompiledPlugin {
    /// A plugin checked before (its description and artifact are in the
    /// disk cache) whose compiled form loads at its first call.
    pub(crate) fn unloaded(
        info: PluginInfo,
        source: Arc<[u8]>,
        module_limit: u64,
        loader: Arc<Loader>,
    ) -> CompiledPlugin {
        CompiledPlugin {
            info,
            source,
            module_limit,
            slot: Mutex::new(None),
            deferred: AtomicBool::new(true),
            last_used: AtomicU64::new(loader.tick()),
            loader,
        }
    }

    pub(crate) fn new(
        info: PluginInfo,
        linked: Linked,
        source: Arc<[u8]>,
        module_limit: u64,
        loader: Arc<Loader>,
    ) -> CompiledPlugin {
        let now = loader.tick();
        CompiledPlugin {
            info,
            source,
            module_limit,
            slot: Mutex::new(Some(Arc::new(linked))),
            deferred: AtomicBool::new(false),
            last_used: AtomicU64::new(now),
            loader,
        }
    }

    /// The linked form, reloaded if it was evicted.
    pub(crate) fn linked(&self) -> Result<Arc<Linked>, PluginError> {
        self.last_used.store(self.loader.tick(), Ordering::Relaxed);
        if let Some(l) = self.slot.lock().expect("slot").as_ref() {
            return Ok(l.clone());
        }
        let first = self.deferred.load(Ordering::Relaxed);
        let linked = Arc::new(self.loader.load(self, first)?);
        self.deferred.store(false, Ordering::Relaxed);
        let mut slot = self.slot.lock().expect("slot");
        if let Some(l) = slot.as_ref() {
            // Another call reloaded it meanwhile.
            return Ok(l.clone());
        }
        *slot = Some(linked.clone());
        drop(slot);
        self.loader.admitted(self);
        Ok(linked)
    }

    pub(crate) fn is_resident(&self) -> bool {
        self.slot.lock().expect("slot").is_some()
    }

    pub(crate) fn last_used(&self) -> u64 {
        self.last_used.load(Ordering::Relaxed)
    }

    /// Drops the linked form (running calls keep theirs); false if it was
    /// not resident.
    pub(crate) fn evict(&self) -> bool {
        self.slot.lock().expect("slot").take().is_some()
    }

    /// What the plugin is.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// Whether the plugin exports the capability.
    pub fn has(&self, c: Capability) -> bool {
        self.info.capabilities.contains(&c)
    }
}

/// Validates the bytes and componentizes a core module; returns component bytes.
pub(crate) fn prepare(bytes: &[u8], module_limit: u64) -> Result<Vec<u8>, PluginError> {
    if bytes.len() as u64 > module_limit {
        return Err(PluginError::ModuleTooLarge {
            size: bytes.len() as u64,
            limit: module_limit,
        });
    }
    if docket_nocode::is_rule_document(bytes) {
        let text = std::str::from_utf8(bytes).expect("checked UTF-8");
        return docket_nocode::compile(text, "rules.toml")
            .map(|c| c.component)
            .map_err(|d| PluginError::InvalidRules {
                report: d.to_string(),
            });
    }
    match componentize::binary_kind(bytes)? {
        BinaryKind::Component => {
            wasmparser::Validator::new()
                .validate_all(bytes)
                .map_err(|e| PluginError::InvalidWasm {
                    reason: e.to_string(),
                })?;
            Ok(bytes.to_vec())
        }
        BinaryKind::Module => {
            let (component_bytes, _) = componentize::componentize(bytes)?;
            Ok(component_bytes)
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
    let mut imports = Vec::new();
    for (name, _) in ty.imports(engine) {
        check_import(name)?;
        imports.push(name.to_string());
    }
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
    let mut entry_points = [None; 4];
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
    Ok(Linked {
        pre,
        indices,
        entry_points,
        templates_fn,
        capabilities,
        imports,
    })
}
