//! The example plugins, built from `example-rules/` and embedded in the
//! binary, so `docket demo` runs with no files and no toolchain.

mod guests {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}

/// Names of the embedded example plugins.
pub const NAMES: &[&str] = &["templates", "routing", "escalation", "billing"];

/// Names of the embedded no-code twins (`nocode/<name>`), TOML rule
/// documents the host compiles on install.
pub const RULES: &[&str] = &[
    "nocode/templates",
    "nocode/routing",
    "nocode/escalation",
    "nocode/billing",
];

/// The bytes of an embedded example plugin (those of [`NAMES`], and
/// `workflow`, the repair workflow of contract 0.1.1, which the demo
/// tenants do not run yet): `routing` is the Rust SDK build
/// (a core module the host componentizes on install), `nocode/routing` its
/// no-code twin (TOML rules the host compiles on install).
pub fn plugin(name: &str) -> Option<&'static [u8]> {
    Some(match name {
        "nocode/templates" => {
            include_str!("../../../example-rules/nocode/templates.toml").as_bytes()
        }
        "nocode/routing" => include_str!("../../../example-rules/nocode/routing.toml").as_bytes(),
        "nocode/escalation" => {
            include_str!("../../../example-rules/nocode/escalation.toml").as_bytes()
        }
        "nocode/billing" => include_str!("../../../example-rules/nocode/billing.toml").as_bytes(),
        "templates" => guests::DOCKET_RULES_TEMPLATES,
        "routing" => guests::DOCKET_RULES_ROUTING,
        "escalation" => guests::DOCKET_RULES_ESCALATION,
        "billing" => guests::DOCKET_RULES_BILLING,
        "workflow" => guests::DOCKET_RULES_WORKFLOW,
        _ => return None,
    })
}

/// The hostile test plugin (see `tests/plugins/hostile`). Not a product
/// feature: exposed for the test suite and benchmarks.
#[doc(hidden)]
pub fn hostile_plugin() -> &'static [u8] {
    guests::DOCKET_HOSTILE_PLUGIN
}

/// The no-code runtime (`host/nocode/runtime`) as this build compiles it.
/// The compiler merges a committed copy; a test checks that copy is current.
#[doc(hidden)]
pub fn nocode_runtime() -> &'static [u8] {
    guests::DOCKET_NOCODE_RUNTIME
}
