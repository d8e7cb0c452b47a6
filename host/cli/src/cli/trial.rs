//! `docket simulate` and `docket backtest`: a candidate tried against one
//! event, or against recorded history, before it is activated.
//!
//! History comes from a service's database (`--data-dir`, and
//! `--database` for PostgreSQL) or from an event stream replayed here as
//! `docket run` replays it (`--tenant-config` and `--events`), which
//! records every event it dispatches.

use super::run::{feed_all, load_stream};
use crate::Format;
use anyhow::{Context as _, bail};
use docket_app::backtest::{self, BacktestReport, Budget, Progress};
use docket_app::replay::StreamRecord;
use docket_app::simulate::{self, Candidate, CandidateSource, Simulation};
use docket_app::{Database, Lifecycle, MemoryStore, Service, TicketEvent};
use docket_engine::outcome::Change;
use docket_engine::{EngineConfig, PluginSource};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Where recorded history lives.
pub enum History {
    /// A service's data directory (and database).
    Service {
        /// The data directory.
        data_dir: PathBuf,
        /// `sqlite` or a `postgres://` URL.
        database: Option<String>,
    },
    /// Tenant configs and a stream to replay (and record) first.
    Stream {
        /// Tenant configs.
        configs: Vec<PathBuf>,
        /// The stream.
        events: PathBuf,
        /// Fire timers due up to this instant after the stream.
        until: Option<jiff::Timestamp>,
    },
}

/// The candidate as given on the command line.
pub struct CandidateArgs {
    /// The plugin it stands in for.
    pub plugin: String,
    /// A no-code document.
    pub rules: Option<PathBuf>,
    /// A module or component.
    pub module: Option<PathBuf>,
    /// An installed version (number or hash prefix).
    pub version: Option<String>,
}

/// The candidate's bytes, read.
enum Bytes {
    Rules(String),
    Module(Vec<u8>),
    Version(String),
}

impl CandidateArgs {
    fn read(&self) -> anyhow::Result<Bytes> {
        let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
        match (&self.rules, &self.module, &self.version) {
            (Some(p), None, None) => Ok(Bytes::Rules(
                String::from_utf8(read(p)?)
                    .with_context(|| format!("{}: not UTF-8", p.display()))?,
            )),
            (None, Some(p), None) => Ok(Bytes::Module(read(p)?)),
            (None, None, Some(v)) => Ok(Bytes::Version(v.clone())),
            _ => bail!("give the candidate as exactly one of --rules, --module or --version"),
        }
    }
}

impl Bytes {
    fn source(&self) -> anyhow::Result<CandidateSource<'_>> {
        Ok(match self {
            Bytes::Rules(text) => CandidateSource::Draft(PluginSource::Rules(text)),
            Bytes::Module(b) => CandidateSource::Draft(PluginSource::wasm(b)?),
            Bytes::Version(v) => CandidateSource::Installed(v),
        })
    }
}

/// History opened: a service, or a replayed stream's lifecycle.
enum Opened {
    Service(Box<Service>),
    Stream(Box<Lifecycle<MemoryStore>>),
}

impl History {
    fn open(&self) -> anyhow::Result<Opened> {
        match self {
            History::Service { data_dir, database } => {
                let database = Database::parse(database.as_deref().unwrap_or("sqlite"), 4)
                    .map_err(anyhow::Error::msg)?;
                let service = Service::open_database(
                    &database,
                    data_dir.clone(),
                    EngineConfig::default(),
                    Box::new(docket_app::service::now_ms),
                )?;
                Ok(Opened::Service(Box::new(service)))
            }
            History::Stream {
                configs,
                events,
                until,
            } => {
                let (lifecycle, records) = load_stream(configs, events)?;
                let source = events.display().to_string();
                feed_all(&lifecycle, records, &source, *until, |_| {})?;
                Ok(Opened::Stream(Box::new(lifecycle)))
            }
        }
    }
}

/// `docket backtest`.
pub fn backtest(
    history: &History,
    tenant: &str,
    candidate: &CandidateArgs,
    window: (Option<jiff::Timestamp>, Option<jiff::Timestamp>),
    format: Format,
) -> anyhow::Result<ExitCode> {
    let bytes = candidate.read()?;
    let source = bytes.source()?;
    let from = window.0.map_or(i64::MIN, |t| t.as_millisecond());
    let until = window.1.map_or(i64::MAX, |t| t.as_millisecond());
    if from >= until {
        bail!("--from must be before --until");
    }
    let progress = Progress::default();
    let budget = Budget::default();
    let report = match history.open()? {
        Opened::Service(s) => {
            let c = s.candidate(tenant, &candidate.plugin, source)?;
            s.backtest(tenant, &c, (from, until), budget, &progress)?
        }
        Opened::Stream(l) => {
            let c = Candidate::new(l.docket(), tenant, &candidate.plugin, source)?;
            backtest::backtest(
                l.docket(),
                l.store(),
                tenant,
                &c,
                (from, until),
                budget,
                &progress,
            )?
        }
    };
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Table => print!("{}", render_report(tenant, &report)),
    }
    Ok(ExitCode::SUCCESS)
}

/// `docket simulate`: `event` is one stream record (its tenant, ticket,
/// instant and event).
pub fn simulate(
    history: &History,
    candidate: &CandidateArgs,
    event: &str,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let record: StreamRecord = serde_json::from_str(event)
        .context("the event: a stream record (tenant, ticket, at, event, data)")?;
    let bytes = candidate.read()?;
    let source = bytes.source()?;
    let at = record.at.as_millisecond();
    let sim = match history.open()? {
        Opened::Service(s) => {
            let c = s.candidate(&record.tenant, &candidate.plugin, source)?;
            s.simulate(&record.tenant, &c, &record.ticket, &record.action, Some(at))?
        }
        Opened::Stream(l) => {
            let c = Candidate::new(l.docket(), &record.tenant, &candidate.plugin, source)?;
            let e = TicketEvent {
                tenant: &record.tenant,
                ticket: &record.ticket,
                action: &record.action,
                id: record.id.as_deref().unwrap_or("simulation"),
                at,
                actor: record.actor.as_deref(),
                fingerprint: None,
            };
            simulate::simulate(&l, &e, &c)?
        }
    };
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&sim)?),
        Format::Table => print!("{}", render_simulation(&sim)),
    }
    Ok(ExitCode::SUCCESS)
}

fn candidate_text(c: &docket_app::simulate::CandidateInfo) -> String {
    let version = if c.version == 0 {
        "draft".to_string()
    } else {
        format!("version {}", c.version)
    };
    format!(
        "{} ({version} {})",
        c.plugin,
        &c.hash[..12.min(c.hash.len())]
    )
}

/// `group support → billing`.
fn change_text(c: &Change) -> String {
    format!("{} {} → {}", c.kind.name(), c.before, c.after)
}

fn render_simulation(s: &Simulation) -> String {
    let mut out = format!(
        "simulated {} on ticket {}: active {}, candidate {}\n",
        candidate_text(&s.candidate),
        s.active.ticket_id,
        docket_app::status_of(&s.active),
        docket_app::status_of(&s.simulated),
    );
    if s.changes.is_empty() {
        out.push_str("no decision changes\n");
    }
    for c in &s.changes {
        out.push_str(&format!("  {}\n", change_text(c)));
    }
    out
}

/// The report as a person reads it.
pub fn render_report(tenant: &str, r: &BacktestReport) -> String {
    let instant = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| t.to_string())
    };
    let bound = |ms: Option<i64>, open: &str| ms.map_or_else(|| open.to_string(), instant);
    let share = if r.events == 0 {
        0.0
    } else {
        100.0 * r.changed as f64 / r.events as f64
    };
    let mut out = format!(
        "backtest of {} over {} recorded events of {tenant} ({} .. {})\n",
        candidate_text(&r.candidate),
        r.events,
        bound(r.from, "the first"),
        bound(r.until, "the last")
    );
    out.push_str(&format!("changed: {} events ({share:.1}%)\n", r.changed));
    if !r.by_kind.is_empty() {
        let kinds: Vec<String> = r
            .by_kind
            .iter()
            .map(|k| format!("{} {}", k.kind.name(), k.events))
            .collect();
        out.push_str(&format!("by kind: {}\n", kinds.join(", ")));
    }
    if !r.top_changes.is_empty() {
        out.push_str("top changes:\n");
        for t in &r.top_changes {
            let change = Change {
                kind: t.kind,
                before: t.before.clone(),
                after: t.after.clone(),
            };
            out.push_str(&format!(
                "  {}: {} events, {} tickets\n",
                change_text(&change),
                t.events,
                t.tickets
            ));
        }
    }
    if !r.samples.is_empty() {
        out.push_str("samples:\n");
        for s in &r.samples {
            let changes: Vec<String> = s.changes.iter().map(change_text).collect();
            out.push_str(&format!(
                "  {:<10} {:<24} {}\n",
                s.ticket,
                instant(s.at),
                changes.join("; ")
            ));
        }
    }
    for f in &r.candidate_failures {
        out.push_str(&format!(
            "candidate failed ({}) on {} events, e.g. `{}`\n",
            f.kind, f.events, f.example_event
        ));
    }
    if r.not_replayed > 0 {
        out.push_str(&format!("not replayed: {} events\n", r.not_replayed));
        for reason in &r.not_replayed_reasons {
            out.push_str(&format!("  {reason}\n"));
        }
    }
    if let Some(why) = &r.stopped {
        out.push_str(&format!("stopped early: {why}\n"));
    }
    let rate = r.events as f64 / (r.elapsed_ms.max(1) as f64 / 1000.0);
    out.push_str(&format!(
        "{} ms, {rate:.0} events/s\nnote: {}\n",
        r.elapsed_ms,
        backtest::CAVEAT
    ));
    out
}
