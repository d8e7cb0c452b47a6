//! `docket run`: replay an event stream through tenant pipelines.

use super::render::{self, Summary};
use crate::Format;
use anyhow::Context as _;
use docket_app::replay::{Replay, Replayed, StreamRecord, parse_stream};
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
    let tenants = read_configs(configs)?;
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

/// Tenant configs read from files, each with the directory its relative
/// plugin paths start from.
pub fn read_configs(paths: &[PathBuf]) -> anyhow::Result<Vec<(TenantConfig, PathBuf)>> {
    paths
        .iter()
        .map(|path| {
            let config = TenantConfig::from_file(path)?;
            let base = path.parent().unwrap_or(Path::new("."));
            Ok((config, base.to_path_buf()))
        })
        .collect()
}

/// The tenants loaded into `docket`, over a memory store with their agents.
pub fn lifecycle(
    docket: Docket,
    tenants: &[(TenantConfig, PathBuf)],
) -> anyhow::Result<Lifecycle<MemoryStore>> {
    let store = MemoryStore::new();
    for (config, base) in tenants {
        load_tenant(&docket, config, base, &builtin::plugin)
            .with_context(|| format!("tenant `{}`", config.tenant))?;
        store.set_agents(&config.tenant, config.agents.clone());
    }
    Ok(Lifecycle::new(docket, store))
}

/// A parsed stream: its records with their line numbers.
pub type Records = Vec<(usize, StreamRecord)>;

/// The tenants of `configs` over a memory store, and the stream in
/// `events` parsed (not yet replayed).
pub fn load_stream(
    configs: &[PathBuf],
    events: &Path,
) -> anyhow::Result<(Lifecycle<MemoryStore>, Records)> {
    let lifecycle = lifecycle(
        Docket::new(EngineConfig::default())?,
        &read_configs(configs)?,
    )?;
    let text =
        std::fs::read_to_string(events).with_context(|| format!("reading {}", events.display()))?;
    let records = parse_stream(&text, &events.display().to_string()).map_err(anyhow::Error::msg)?;
    Ok((lifecycle, records))
}

/// Replays `records` (from `source`) through `lifecycle` on the stream's
/// clock, then fires the timers due by `until`; `emit` gets what each
/// step dispatched. A refused record stops the replay, named.
pub fn feed_all(
    lifecycle: &Lifecycle<MemoryStore>,
    records: Records,
    source: &str,
    until: Option<jiff::Timestamp>,
    mut emit: impl FnMut(Vec<Replayed>),
) -> anyhow::Result<()> {
    let mut replay = Replay::new(lifecycle);
    for (line, record) in records {
        let items = replay
            .feed(line, record)
            .map_err(|e| anyhow::anyhow!("{source}: {e}"))?;
        emit(items);
    }
    if let Some(until) = until {
        emit(replay.fire_due(until.as_millisecond())?);
    }
    Ok(())
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
    let records = parse_stream(stream, source).map_err(anyhow::Error::msg)?;
    let lifecycle = lifecycle(docket, tenants)?;
    let mut summary = Summary::default();
    let mut emit = |items: Vec<Replayed>| {
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
    feed_all(&lifecycle, records, source, until, &mut emit)?;
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
