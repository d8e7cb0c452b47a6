//! A compiled plugin: its component, content hash, capabilities and the
//! pre-instantiated form every call starts from.

use crate::bindings::exports::docket::plugin::{billing, escalation, routing, template};
use crate::componentize::{self, BinaryKind, check_import, export_capability};
use crate::contract::Capability;
use crate::error::PluginError;
use crate::sandbox::HostState;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use wasmtime::component::{Component, InstancePre, Linker};
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
#[derive(Debug, Clone, Serialize)]
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

/// A plugin compiled for this engine, ready to instantiate.
pub struct CompiledPlugin {
    pub(crate) info: PluginInfo,
    pub(crate) pre: InstancePre<HostState>,
    pub(crate) indices: CapabilityIndices,
}

impl std::fmt::Debug for CompiledPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledPlugin")
            .field("info", &self.info)
            .finish()
    }
}

impl CompiledPlugin {
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
    if crate::nocode::is_rule_document(bytes) {
        let text = std::str::from_utf8(bytes).expect("checked UTF-8");
        return crate::nocode::compile(text, "rules.toml")
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
    hash: String,
    size: u64,
    componentized: bool,
) -> Result<CompiledPlugin, PluginError> {
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
    let info = PluginInfo {
        hash,
        size,
        componentized,
        capabilities: capabilities.into_iter().collect(),
        imports,
    };
    Ok(CompiledPlugin { info, pre, indices })
}
