//! Typed errors. Every way a plugin can fail has its own variant (the
//! contract's [`PluginError`]), so callers (and the trace) can tell a
//! runaway loop from a bad module; the registry's own are [`DocketError`].

pub use docket_contract::PluginError;

/// Errors of the registry and the dispatcher (not of one plugin run).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocketError {
    /// No such tenant.
    #[error("unknown tenant `{0}`")]
    UnknownTenant(String),
    /// No such plugin for the tenant.
    #[error("tenant `{tenant}` has no plugin named `{plugin}`")]
    UnknownPlugin {
        /// The tenant.
        tenant: String,
        /// The plugin name.
        plugin: String,
    },
    /// No such version of the plugin.
    #[error("plugin `{plugin}` of tenant `{tenant}` has no version {version}")]
    UnknownVersion {
        /// The tenant.
        tenant: String,
        /// The plugin name.
        plugin: String,
        /// The version asked for (hash prefix or number).
        version: String,
    },
    /// Nothing to roll back to.
    #[error("plugin `{plugin}` of tenant `{tenant}` has no earlier version to roll back to")]
    NothingToRollBack {
        /// The tenant.
        tenant: String,
        /// The plugin name.
        plugin: String,
    },
    /// Installing a plugin failed.
    #[error("installing plugin `{plugin}` for tenant `{tenant}` failed: {error}")]
    Install {
        /// The tenant.
        tenant: String,
        /// The plugin name.
        plugin: String,
        /// Why (part of the message already, so not also its source: a
        /// chain printed whole would say it twice).
        error: PluginError,
    },
    /// A configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
}
