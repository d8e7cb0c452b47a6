//! Turns plugin bytes into a component of the Docket world.
//!
//! A plugin arrives either as a component, or as a core module built by a
//! guest toolchain (e.g. `wasm32-unknown-unknown`) whose exports follow the
//! canonical ABI names of the contract. For a core module the host checks its
//! imports and exports, drops whatever component-type metadata the guest
//! embedded (the SDK describes every capability, while a module may export a
//! subset), embeds metadata for exactly the capabilities it exports, and
//! wraps it as a component with `wit-component`.

use crate::{Capability, PluginError, parse_contract_name};
use std::collections::BTreeSet;
use wasmparser::{Parser, Payload};
use wit_parser::{Resolve, SourceMap};

/// What kind of binary the bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryKind {
    /// A core wasm module.
    Module,
    /// A component.
    Component,
}

/// Tells a core module from a component (or neither).
pub fn binary_kind(bytes: &[u8]) -> Result<BinaryKind, PluginError> {
    match Parser::new(0).parse_all(bytes).next() {
        Some(Ok(Payload::Version { encoding, .. })) => Ok(match encoding {
            wasmparser::Encoding::Module => BinaryKind::Module,
            wasmparser::Encoding::Component => BinaryKind::Component,
        }),
        Some(Err(e)) => Err(PluginError::invalid_wasm(e)),
        _ => Err(PluginError::invalid_wasm("empty input")),
    }
}

/// Checks import names (component imports, or core imports as
/// `module::name`) against what the host offers: a contract import of
/// another version is named at once; otherwise every forbidden import is
/// named in one error.
pub fn check_imports<I: AsRef<str>>(names: impl IntoIterator<Item = I>) -> Result<(), PluginError> {
    let mut forbidden = Vec::new();
    for name in names {
        let name = name.as_ref();
        let interface = name.split_once("::").map_or(name, |(module, _)| module);
        match parse_contract_name(interface) {
            Some(n) if !crate::is_compatible_version(n.version) => {
                return Err(PluginError::WrongContractVersion {
                    found: interface.to_string(),
                    expected: crate::CONTRACT_VERSION.to_string(),
                });
            }
            Some(n) if crate::ALLOWED_IMPORTS.contains(&n.interface) => {}
            _ => forbidden.push(name.to_string()),
        }
    }
    if forbidden.is_empty() {
        Ok(())
    } else {
        Err(PluginError::ForbiddenImport { imports: forbidden })
    }
}

/// The capability an export name (`docket:plugin/routing@0.1.0`, or a core
/// ABI name such as `docket:plugin/routing@0.1.0#route`) belongs to.
/// `Ok(None)` for names outside the contract (`memory`, `cabi_realloc`).
pub fn export_capability(name: &str) -> Result<Option<Capability>, PluginError> {
    let name = name.strip_prefix("cabi_post_").unwrap_or(name);
    let interface_name = name.split_once('#').map_or(name, |(i, _)| i);
    let Some(n) = parse_contract_name(interface_name) else {
        return Ok(None);
    };
    if !crate::is_compatible_version(n.version) {
        return Err(PluginError::WrongContractVersion {
            found: interface_name.to_string(),
            expected: crate::CONTRACT_VERSION.to_string(),
        });
    }
    Capability::from_interface(n.interface)
        .map(Some)
        .ok_or_else(|| PluginError::NotAPlugin {
            reason: format!("unknown export `{interface_name}`"),
        })
}

/// The reason given when a binary exports no capability.
pub fn no_capability_reason() -> String {
    let names: Vec<String> = Capability::ALL.iter().map(|c| c.export_name()).collect();
    format!("it exports none of {}", names.join(", "))
}

/// A contract name of a compatible earlier version (`docket:plugin/log@0.1.0`,
/// `docket:plugin/routing@0.1.0#route`) with this host's version, so that a
/// core module built against it componentizes with this host's world (whose
/// earlier interfaces are unchanged); other names as they are.
fn upgraded(name: &str) -> std::borrow::Cow<'_, str> {
    let (interface, rest) = name
        .split_once('#')
        .map_or((name, None), |(i, r)| (i, Some(r)));
    match parse_contract_name(interface) {
        Some(n)
            if n.version != crate::CONTRACT_VERSION && crate::is_compatible_version(n.version) =>
        {
            let mut out = crate::qualified(n.interface);
            if let Some(rest) = rest {
                out.push('#');
                out.push_str(rest);
            }
            out.into()
        }
        _ => name.into(),
    }
}

/// The import section with contract names upgraded ([`upgraded`]).
fn upgraded_imports(
    reader: &wasmparser::ImportSectionReader<'_>,
) -> Result<wasm_encoder::ImportSection, PluginError> {
    use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
    let mut section = wasm_encoder::ImportSection::new();
    for import in reader.clone().into_imports() {
        let import = import.map_err(PluginError::invalid_wasm)?;
        let ty = RoundtripReencoder
            .entity_type(import.ty)
            .map_err(|e| PluginError::invalid_wasm(format!("{e:?}")))?;
        section.import(&upgraded(import.module), import.name, ty);
    }
    Ok(section)
}

/// The export section with contract names upgraded ([`upgraded`]).
fn upgraded_exports(
    reader: &wasmparser::ExportSectionReader<'_>,
) -> Result<wasm_encoder::ExportSection, PluginError> {
    use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
    let mut section = wasm_encoder::ExportSection::new();
    for export in reader.clone() {
        let export = export.map_err(PluginError::invalid_wasm)?;
        let kind = RoundtripReencoder
            .export_kind(export.kind)
            .map_err(|e| PluginError::invalid_wasm(format!("{e:?}")))?;
        section.export(&upgraded(export.name), kind, export.index);
    }
    Ok(section)
}

/// Componentizes a core module; returns the component and its capabilities.
pub fn componentize(module: &[u8]) -> Result<(Vec<u8>, BTreeSet<Capability>), PluginError> {
    wasmparser::Validator::new()
        .validate_all(module)
        .map_err(PluginError::invalid_wasm)?;
    let mut capabilities = BTreeSet::new();
    let mut stripped = wasm_encoder::Module::new();
    for payload in Parser::new(0).parse_all(module) {
        let payload = payload.map_err(PluginError::invalid_wasm)?;
        match &payload {
            Payload::ImportSection(reader) => {
                let mut names = Vec::new();
                for import in reader.clone().into_imports() {
                    let import = import.map_err(PluginError::invalid_wasm)?;
                    names.push(format!("{}::{}", import.module, import.name));
                }
                check_imports(&names)?;
                stripped.section(&upgraded_imports(reader)?);
                continue;
            }
            Payload::ExportSection(reader) => {
                for export in reader.clone() {
                    let export = export.map_err(PluginError::invalid_wasm)?;
                    capabilities.extend(export_capability(export.name)?);
                }
                stripped.section(&upgraded_exports(reader)?);
                continue;
            }
            Payload::CustomSection(c) if c.name().starts_with("component-type") => continue,
            _ => {}
        }
        if let Some((id, range)) = payload.as_section() {
            stripped.section(&wasm_encoder::RawSection {
                id,
                data: &module[range],
            });
        }
    }
    if capabilities.is_empty() {
        return Err(PluginError::NotAPlugin {
            reason: format!("core module: {}", no_capability_reason()),
        });
    }
    let mut module = stripped.finish();
    let (resolve, world) = world_for(&capabilities).map_err(PluginError::host)?;
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .map_err(PluginError::host)?;
    let component = wit_component::ComponentEncoder::default()
        .validate(true)
        .module(&module)
        .and_then(|mut e| e.encode())
        .map_err(|e| PluginError::NotAPlugin {
            reason: format!("{e:#}"),
        })?;
    Ok((component, capabilities))
}

/// Loads the contract's WIT into a fresh [`Resolve`].
pub fn contract_resolve() -> anyhow::Result<Resolve> {
    let mut map = SourceMap::new();
    for (name, text) in crate::WIT_SOURCES {
        map.push_str(name, *text);
    }
    let group = map.parse().map_err(|(_, e)| anyhow::anyhow!("{e}"))?;
    let mut resolve = Resolve::default();
    resolve.push_group(group)?;
    Ok(resolve)
}

/// A world that imports what plugins may import and exports exactly the
/// given capabilities.
fn world_for(
    capabilities: &BTreeSet<Capability>,
) -> anyhow::Result<(Resolve, wit_parser::WorldId)> {
    let mut resolve = contract_resolve()?;
    let includes: String = capabilities
        .iter()
        .map(|c| {
            format!(
                "    include {}/{}-plugin@{};\n",
                crate::PACKAGE,
                c.interface(),
                crate::CONTRACT_VERSION
            )
        })
        .collect();
    let text = format!("package docket:componentized;\nworld plugin {{\n{includes}}}\n");
    let pkg = resolve.push_source("componentized.wit", &text)?;
    let world = resolve.select_world(&[pkg], Some("plugin"))?;
    Ok((resolve, world))
}
