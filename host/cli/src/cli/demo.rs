//! `docket demo`: two tenants, the four example plugins (embedded in the
//! binary), and a realistic day of events, with no files needed.

use crate::Format;
use docket_engine::config::TenantConfig;
use docket_engine::{Docket, EngineConfig};
use std::path::PathBuf;
use std::process::ExitCode;

const TENANTS: &[(&str, &str)] = &[
    (
        "demo/acme-repair.toml",
        include_str!("../../../../example-rules/demo/acme-repair.toml"),
    ),
    (
        "demo/shopco.toml",
        include_str!("../../../../example-rules/demo/shopco.toml"),
    ),
];
const EVENTS: &str = include_str!("../../../../example-rules/demo/events.jsonl");

/// Runs the demo.
pub fn run(format: Format) -> anyhow::Result<ExitCode> {
    let docket = Docket::new(EngineConfig::default())?;
    let mut tenants = Vec::new();
    for (name, text) in TENANTS {
        let config = TenantConfig::parse(text).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        tenants.push((config, PathBuf::from(".")));
    }
    let until = "2026-11-27T18:00:00Z".parse().ok();
    super::run::replay(docket, &tenants, EVENTS, "demo/events.jsonl", format, until)
}
