//! The example plugins, built from `example-rules/` and embedded in the
//! binary, so `docket demo` runs with no files and no toolchain.

mod guests {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}

/// Names of the embedded example plugins.
pub const NAMES: &[&str] = &["templates", "routing", "escalation", "billing"];

/// The bytes of an embedded example plugin (a core module; the host
/// componentizes it on install).
pub fn plugin(name: &str) -> Option<&'static [u8]> {
    Some(match name {
        "templates" => guests::DOCKET_RULES_TEMPLATES,
        "routing" => guests::DOCKET_RULES_ROUTING,
        "escalation" => guests::DOCKET_RULES_ESCALATION,
        "billing" => guests::DOCKET_RULES_BILLING,
        _ => return None,
    })
}

/// The hostile test plugin (see `tests/plugins/hostile`). Not a product
/// feature: exposed for the test suite and benchmarks.
#[doc(hidden)]
pub fn hostile_plugin() -> &'static [u8] {
    guests::DOCKET_HOSTILE_PLUGIN
}
