//! `docket run`: replay an event stream through tenant pipelines.

use super::render::{self, Summary};
use crate::Format;
use anyhow::Context as _;
use docket_app::replay::{Replay, parse_stream};
use docket_app::{Lifecycle, MemoryStore};
use docket_engine::config::{TenantConfig, load_tenant};
use docket_engine::{Docket, EngineConfig};
use docket_guests as builtin;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Loads the tenants, replays the stream, prints outcomes and a summary.
pub fn run(
    configs: &[PathBuf],
    events: &Path,
    format: Format,
    until: Option<jiff::Timestamp>,
    cache_dir: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let docket = Docket::new(EngineConfig {
        cache_dir,
        ..EngineConfig::default()
    })?;
    let mut tenants = Vec::new();
    for path in configs {
        let config = TenantConfig::from_file(path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        tenants.push((config, base.to_path_buf()));
    }
    let text =
        std::fs::read_to_string(events).with_context(|| format!("reading {}", events.display()))?;
    replay(
        docket,
        &tenants,
        &text,
        &events.display().to_string(),
        format,
        until,
    )
}

/// Shared by `run` and `demo`: loads tenants, replays, prints.
pub fn replay(
    docket: Docket,
    tenants: &[(TenantConfig, PathBuf)],
    stream: &str,
    source: &str,
    format: Format,
    until: Option<jiff::Timestamp>,
) -> anyhow::Result<ExitCode> {
    let store = MemoryStore::new();
    for (config, base) in tenants {
        load_tenant(&docket, config, base, &builtin::plugin)
            .with_context(|| format!("tenant `{}`", config.tenant))?;
        store.set_agents(&config.tenant, config.agents.clone());
    }
    let records = parse_stream(stream, source).map_err(anyhow::Error::msg)?;
    let lifecycle = Lifecycle::new(docket, store);
    let mut replay = Replay::new(&lifecycle);
    let mut summary = Summary::default();
    let mut emit = |items: Vec<docket_app::replay::Replayed>| {
        for item in items {
            summary.add(&item);
            match format {
                Format::Json => println!(
                    "{}",
                    serde_json::to_string(&item.outcome).expect("outcome serializes")
                ),
                Format::Table => println!("{}", render::line(&item)),
            }
        }
    };
    if format == Format::Table {
        println!("{}", render::header());
    }
    for (line, record) in records {
        let items = replay
            .feed(line, record)
            .map_err(|e| anyhow::anyhow!("{source}: {e}"))?;
        emit(items);
    }
    if let Some(until) = until {
        emit(replay.fire_due(until.as_millisecond())?);
    }
    let pending = lifecycle.store().pending_timers().len();
    match format {
        Format::Json => println!(
            "{}",
            serde_json::json!({ "summary": summary.to_json(pending) })
        ),
        Format::Table => print!("{}", summary.render(pending)),
    }
    Ok(ExitCode::SUCCESS)
}
