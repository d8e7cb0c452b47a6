//! Why a plugin could not be installed or did not produce a decision: the
//! one error type of plugins, shared by the componentizer here and the
//! engine's sandbox, and spoken on the wire (`kind` names the variant).

use serde::{Deserialize, Serialize};

/// One error of a no-code rule document, located: lines and columns are
/// 1-based, columns count characters; the end is exclusive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RuleDiagnostic {
    /// Line of the error's start.
    pub line: u32,
    /// Column of the error's start.
    pub column: u32,
    /// Line of the error's end.
    pub end_line: u32,
    /// Column just past the error's end.
    pub end_column: u32,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when the compiler can tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// Why a plugin could not be installed or did not produce a decision.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum PluginError {
    /// The bytes are not valid WebAssembly.
    #[error("invalid wasm: {reason}")]
    InvalidWasm {
        /// What the validator said.
        reason: String,
    },
    /// A no-code rule document that does not compile; the report names
    /// file, line, column and the offending text.
    #[error("invalid rules:\n{report}")]
    InvalidRules {
        /// The compiler's report.
        report: String,
        /// Each error located in the document, for editors.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        diagnostics: Vec<RuleDiagnostic>,
    },
    /// Valid wasm, but not a component (or core module) of the Docket world.
    #[error("not a Docket plugin: {reason}")]
    NotAPlugin {
        /// What is missing or mistyped.
        reason: String,
    },
    /// Built against another version of the contract.
    #[error("plugin uses `{found}`, but this host implements docket:plugin@{expected}")]
    WrongContractVersion {
        /// The name the plugin used.
        found: String,
        /// The version this host implements.
        expected: String,
    },
    /// Imports something the host does not offer.
    #[error("{}", forbidden_imports_message(imports))]
    ForbiddenImport {
        /// Every import the host does not offer, in the binary's order.
        imports: Vec<String>,
    },
    /// The module is over the size cap.
    #[error("module is {size} bytes, over the {limit}-byte limit")]
    ModuleTooLarge {
        /// Size of the module.
        size: u64,
        /// The cap.
        limit: u64,
    },
    /// Ran out of fuel (instruction budget).
    #[error("fuel exhausted: the {limit}-unit budget ran out")]
    FuelExhausted {
        /// The budget.
        limit: u64,
    },
    /// Ran past the wall-clock deadline.
    #[error("deadline exceeded: still running after {limit_ms} ms")]
    DeadlineExceeded {
        /// The deadline.
        limit_ms: u64,
    },
    /// Tried to grow memory past the cap.
    #[error("memory limit: tried to grow linear memory past {limit_bytes} bytes")]
    MemoryLimit {
        /// The cap.
        limit_bytes: u64,
    },
    /// Trapped (panic, unreachable, stack overflow, ...).
    #[error("trap: {message}{}", guest_message.as_ref().map(|m| format!(" (guest said: {m})")).unwrap_or_default())]
    Trap {
        /// The trap as wasmtime reports it.
        message: String,
        /// The guest's own last words (its panic message), if it sent them.
        guest_message: Option<String>,
        /// The wasm backtrace, innermost frame first.
        backtrace: Option<String>,
    },
    /// The decision is larger than the output cap.
    #[error("output too large: {size} bytes, over the {limit}-byte cap")]
    OutputTooLarge {
        /// Estimated encoded size.
        size: u64,
        /// The cap.
        limit: u64,
    },
    /// The decision is well-typed but makes no sense (unknown calendar,
    /// currency mismatch, empty group, ...).
    #[error("invalid output: {reason}")]
    InvalidOutput {
        /// What is wrong.
        reason: String,
    },
    /// The host could not compile or instantiate the plugin.
    #[error("host error: {reason}")]
    Host {
        /// What failed.
        reason: String,
    },
}

impl PluginError {
    /// A short machine-readable name of the variant.
    pub fn kind(&self) -> &'static str {
        match self {
            PluginError::InvalidWasm { .. } => "invalid_wasm",
            PluginError::InvalidRules { .. } => "invalid_rules",
            PluginError::NotAPlugin { .. } => "not_a_plugin",
            PluginError::WrongContractVersion { .. } => "wrong_contract_version",
            PluginError::ForbiddenImport { .. } => "forbidden_import",
            PluginError::ModuleTooLarge { .. } => "module_too_large",
            PluginError::FuelExhausted { .. } => "fuel_exhausted",
            PluginError::DeadlineExceeded { .. } => "deadline_exceeded",
            PluginError::MemoryLimit { .. } => "memory_limit",
            PluginError::Trap { .. } => "trap",
            PluginError::OutputTooLarge { .. } => "output_too_large",
            PluginError::InvalidOutput { .. } => "invalid_output",
            PluginError::Host { .. } => "host",
        }
    }

    /// Bytes the wasm validator or parser refused.
    pub fn invalid_wasm(e: impl std::fmt::Display) -> PluginError {
        PluginError::InvalidWasm {
            reason: e.to_string(),
        }
    }

    /// A failure of the host itself (never the plugin's doing).
    pub fn host(e: impl std::fmt::Display) -> PluginError {
        PluginError::Host {
            reason: format!("{e:#}"),
        }
    }

    /// A decision the host refuses (e.g. an unknown calendar).
    pub fn invalid_output(reason: impl Into<String>) -> PluginError {
        PluginError::InvalidOutput {
            reason: reason.into(),
        }
    }
}

/// Names every forbidden import (a toolchain's default build may have
/// dozens), and when they are WASI's, how the usual toolchains leave it out.
fn forbidden_imports_message(imports: &[String]) -> String {
    let names: Vec<String> = imports.iter().map(|i| format!("`{i}`")).collect();
    let mut message = match names.len() {
        1 => format!("forbidden import {}", names[0]),
        n => format!("{n} forbidden imports: {}", names.join(", ")),
    };
    message.push_str("; plugins may import only docket:plugin/log and docket:plugin/types");
    if imports.iter().any(|i| i.starts_with("wasi")) {
        message.push_str(
            ". Docket offers no WASI: build with `--stub-wasi` (componentize-py, \
             componentize-qjs) or `--disable all` (jco componentize), and write output \
             through docket:plugin/log",
        );
    }
    message
}
