//! What a plugin is installed from. The caller says which kind of source it
//! has; the engine never guesses from the bytes (the CLI and the server do,
//! from a file name or a content type).

use crate::error::PluginError;
use docket_contract::componentize::{self, BinaryKind};

/// A plugin's source, as given to [`Docket::install`](crate::Docket::install)
/// or [`Docket::compile`](crate::Docket::compile).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PluginSource<'a> {
    /// A WebAssembly component of the `docket:plugin` world.
    Component(&'a [u8]),
    /// A core module whose exports follow the contract's canonical ABI
    /// names (e.g. a `wasm32-unknown-unknown` build of the Rust SDK); the
    /// host componentizes it.
    CoreModule(&'a [u8]),
    /// A no-code rule document (TOML), compiled by the host. Needs the
    /// `nocode` feature.
    Rules(&'a str),
}

/// The kind of a source, kept with a compiled plugin to compile it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SourceKind {
    Component,
    CoreModule,
    Rules,
}

impl<'a> PluginSource<'a> {
    /// WebAssembly bytes: a component or a core module, as the binary's
    /// header says.
    ///
    /// # Errors
    /// [`PluginError::InvalidWasm`] when the bytes are not WebAssembly.
    pub fn wasm(bytes: &'a [u8]) -> Result<PluginSource<'a>, PluginError> {
        Ok(match componentize::binary_kind(bytes)? {
            BinaryKind::Component => PluginSource::Component(bytes),
            BinaryKind::Module => PluginSource::CoreModule(bytes),
        })
    }

    /// Stored or shipped bytes of a known origin: WebAssembly when they
    /// begin with the wasm magic number (then as [`wasm`](Self::wasm)),
    /// else a rule document. Exact, not a guess: no TOML document begins
    /// with a NUL byte.
    ///
    /// # Errors
    /// [`PluginError::InvalidWasm`] for a broken wasm header, or bytes
    /// that are neither wasm nor UTF-8 text.
    pub fn from_bytes(bytes: &'a [u8]) -> Result<PluginSource<'a>, PluginError> {
        if bytes.starts_with(b"\0asm") {
            return PluginSource::wasm(bytes);
        }
        std::str::from_utf8(bytes)
            .map(PluginSource::Rules)
            .map_err(|e| PluginError::InvalidWasm {
                reason: format!(
                    "neither WebAssembly (no magic number) nor a rule document (not UTF-8: {e})"
                ),
            })
    }

    /// The bytes as given (the rule text's UTF-8 for rules): what the
    /// content hash is taken of.
    pub fn bytes(&self) -> &'a [u8] {
        match self {
            PluginSource::Component(b) | PluginSource::CoreModule(b) => b,
            PluginSource::Rules(text) => text.as_bytes(),
        }
    }

    pub(crate) fn kind(&self) -> SourceKind {
        match self {
            PluginSource::Component(_) => SourceKind::Component,
            PluginSource::CoreModule(_) => SourceKind::CoreModule,
            PluginSource::Rules(_) => SourceKind::Rules,
        }
    }

    /// The source of `bytes` of a known kind (for recompiling what was
    /// installed).
    pub(crate) fn of_kind(kind: SourceKind, bytes: &'a [u8]) -> PluginSource<'a> {
        match kind {
            SourceKind::Component => PluginSource::Component(bytes),
            SourceKind::CoreModule => PluginSource::CoreModule(bytes),
            // Rules were UTF-8 when installed.
            SourceKind::Rules => PluginSource::Rules(std::str::from_utf8(bytes).unwrap_or("")),
        }
    }

    /// The component bytes: validated, componentized, or compiled from
    /// rules.
    pub(crate) fn to_component(self) -> Result<Vec<u8>, PluginError> {
        match self {
            PluginSource::Component(bytes) => {
                if componentize::binary_kind(bytes)? != BinaryKind::Component {
                    return Err(PluginError::NotAPlugin {
                        reason: "a core module given as a component".into(),
                    });
                }
                wasmparser::Validator::new()
                    .validate_all(bytes)
                    .map_err(|e| PluginError::InvalidWasm {
                        reason: e.to_string(),
                    })?;
                Ok(bytes.to_vec())
            }
            PluginSource::CoreModule(bytes) => {
                if componentize::binary_kind(bytes)? != BinaryKind::Module {
                    return Err(PluginError::NotAPlugin {
                        reason: "a component given as a core module".into(),
                    });
                }
                Ok(componentize::componentize(bytes)?.0)
            }
            PluginSource::Rules(text) => compile_rules(text),
        }
    }
}

#[cfg(feature = "nocode")]
fn compile_rules(text: &str) -> Result<Vec<u8>, PluginError> {
    docket_nocode::compile(text, "rules.toml")
        .map(|c| c.component)
        .map_err(|d| PluginError::InvalidRules {
            report: d.to_string(),
            diagnostics: d
                .errors
                .iter()
                .map(|e| {
                    let (line, column) = d.line_col(e.span.start);
                    let (end_line, end_column) = d.line_col(e.span.end);
                    let n = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
                    docket_contract::RuleDiagnostic {
                        line: n(line),
                        column: n(column),
                        end_line: n(end_line),
                        end_column: n(end_column),
                        message: e.message.clone(),
                        hint: e.hint.clone(),
                    }
                })
                .collect(),
        })
}

#[cfg(not(feature = "nocode"))]
fn compile_rules(_text: &str) -> Result<Vec<u8>, PluginError> {
    Err(PluginError::InvalidRules {
        report: "this engine was built without no-code support (the `nocode` feature)".into(),
        diagnostics: Vec::new(),
    })
}
