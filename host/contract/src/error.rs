//! Why a binary does not conform to the contract.

/// A binary that is not a plugin of this contract, or that the componentizer
/// could not wrap. The engine reports each as the plugin error of the same
/// name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContractError {
    /// The bytes are not valid WebAssembly.
    #[error("invalid wasm: {reason}")]
    InvalidWasm {
        /// What the validator said.
        reason: String,
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
    #[error("forbidden import `{import}`: plugins may import only docket:plugin/log")]
    ForbiddenImport {
        /// The import.
        import: String,
    },
    /// The contract's own WIT could not be assembled (a host defect).
    #[error("host error: {reason}")]
    Host {
        /// What failed.
        reason: String,
    },
}

impl ContractError {
    pub(crate) fn invalid_wasm(e: impl std::fmt::Display) -> ContractError {
        ContractError::InvalidWasm {
            reason: e.to_string(),
        }
    }

    pub(crate) fn host(e: impl std::fmt::Display) -> ContractError {
        ContractError::Host {
            reason: format!("{e:#}"),
        }
    }
}
