//! Backtest throughput over recorded history, on SQLite as `docket serve`
//! keeps it.
//!
//! `cargo bench -p docket --bench backtest` records a generated stream
//! through the demo tenant `acme-repair` (its four plugins, one event
//! lifecycle over a memory store), then writes a history of 1,000,000
//! recorded events to a SQLite data directory by repeating those
//! recordings one after another (new event ids and instants, the same
//! inputs),
//! and backtests a candidate — the no-code routing twin with one table row
//! changed — over windows of 100,000, 300,000 and 1,000,000 events. Each
//! row is one run: events per second, and the peak resident memory of the
//! run (the kernel's high-water mark, reset before it). A last row runs
//! with another routing version active than the one recorded, so the
//! baseline runs again too. `-- quick` uses 100,000 events.

#[path = "../../app/tests/support/generated.rs"]
mod generated;

use docket_app::backtest::{self, Budget, Progress};
use docket_app::replay::{Replay, parse_stream};
use docket_app::simulate::{Candidate, CandidateSource};
use docket_app::{Lifecycle, MemoryStore, RecordedRow, RecordingQuery, SqliteStore, Store};
use docket_engine::config::{TenantConfig, load_tenant};
use docket_engine::{Docket, EngineConfig, PluginSource};
use std::path::Path;
use std::time::Instant;

const TENANT: &str = "acme-repair";
const CONFIG: &str = include_str!("../../../example-rules/demo/acme-repair.toml");
const ROUTING: &str = include_str!("../../../example-rules/nocode/routing.toml");
/// Recorded by replaying the generated stream; repeated to make the history.
const RECORDED: usize = 20_000;

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let history: u64 = if quick { 100_000 } else { 1_000_000 };
    let docket = Docket::new(EngineConfig::default()).unwrap();
    let config = TenantConfig::parse(CONFIG).unwrap();
    load_tenant(&docket, &config, Path::new("."), &docket_guests::plugin).unwrap();
    let memory = MemoryStore::new();
    memory.set_agents(TENANT, config.agents.clone());
    let lifecycle = Lifecycle::new(docket, memory);
    let docket = lifecycle.docket();

    let started = Instant::now();
    let rows = record(&lifecycle);
    eprintln!(
        "recorded {} events in {:.1} s",
        rows.rows.len(),
        started.elapsed().as_secs_f64()
    );

    let dir = std::env::temp_dir().join(format!("docket-bench-backtest-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let started = Instant::now();
    let windows = write_history(&dir, &rows.rows, &rows.blobs, history);
    eprintln!(
        "wrote {history} recorded events in {:.1} s ({} MiB)",
        started.elapsed().as_secs_f64(),
        std::fs::metadata(dir.join("docket.db")).map_or(0, |m| m.len() >> 20)
    );
    let store = SqliteStore::open(&dir).unwrap();

    let changed = ROUTING.replace(
        r#"["software", "it-support"],"#,
        r#"["software", "app-support"],"#,
    );
    let candidate = Candidate::new(
        docket,
        TENANT,
        "routing",
        CandidateSource::Draft(PluginSource::Rules(&changed)),
    )
    .unwrap();

    println!("| history (events) | baseline | events/s | changed | peak RSS MiB | elapsed s |");
    println!("|---:|---|---:|---:|---:|---:|");
    for &(events, until) in &windows {
        run_row(docket, &store, &candidate, events, until, "recorded");
    }
    // Another routing version active than the recorded one: every
    // baseline runs again.
    let twin = docket
        .install(TENANT, "routing", PluginSource::Rules(ROUTING))
        .unwrap();
    docket
        .activate(TENANT, "routing", &twin.version.to_string())
        .unwrap();
    let (events, until) = windows[0];
    run_row(docket, &store, &candidate, events, until, "run again");
    let _ = std::fs::remove_dir_all(&dir);
}

/// What the recording run produced.
struct Recorded {
    rows: Vec<RecordedRow>,
    blobs: Vec<(String, String)>,
}

/// Replays a generated stream through the demo tenant, keeping every
/// recorded event and blob.
fn record(lifecycle: &Lifecycle<MemoryStore>) -> Recorded {
    let mut replay = Replay::new(lifecycle);
    let start = "2026-11-30T07:00:00Z"
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_millisecond();
    let text = generated::stream(RECORDED, start, 0xbe7c4, "B");
    for (line, record) in parse_stream(&text, "generated").unwrap() {
        if record.tenant != TENANT {
            continue;
        }
        // Acting on a ticket whose creation was rejected is refused
        // before dispatch (nothing recorded); timers fire as the clock
        // passes them.
        let _ = replay.feed(line, record);
    }
    let all = RecordingQuery {
        from: i64::MIN,
        until: i64::MAX,
        after: None,
        limit: usize::MAX,
    };
    let rows = lifecycle.store().recordings(TENANT, &all).unwrap();
    let mut hashes = std::collections::BTreeSet::new();
    for row in &rows {
        let input: serde_json::Value = serde_json::from_str(&row.input).unwrap();
        for key in ["pipeline", "agents", "history"] {
            hashes.insert(input[key].as_str().unwrap().to_string());
        }
    }
    let blobs = hashes
        .into_iter()
        .map(|h| {
            let body = lifecycle
                .store()
                .recording_blob(TENANT, &h)
                .unwrap()
                .unwrap();
            (h, body)
        })
        .collect();
    Recorded { rows, blobs }
}

/// Where the written history starts: 2030-01-01.
const FIRST_DAY: i64 = 1_893_456_000_000;

/// Writes `n` recorded events (the recorded rows again and again, each
/// repetition after the last) and their blobs; returns the (events,
/// window end) of each measured window.
fn write_history(
    dir: &Path,
    rows: &[RecordedRow],
    blobs: &[(String, String)],
    n: u64,
) -> Vec<(u64, i64)> {
    drop(SqliteStore::open(dir).unwrap()); // the schema
    let first = rows[0].at;
    let period = rows[rows.len() - 1].at - first + 1;
    let per_rep = rows.len() as u64;
    let mut conn = rusqlite::Connection::open(dir.join("docket.db")).unwrap();
    conn.pragma_update(None, "synchronous", "OFF").unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut blob = tx
            .prepare("INSERT INTO recording_blobs (tenant, hash, body) VALUES (?1, ?2, ?3)")
            .unwrap();
        for (hash, body) in blobs {
            blob.execute(rusqlite::params![TENANT, hash, body]).unwrap();
        }
        let mut audit = tx
            .prepare(
                "INSERT INTO audit (tenant, ticket, event_id, kind, at, status, entry, input)
                 VALUES (?1, ?2, ?3, 'recorded', ?4, 'applied', ?5, ?6)",
            )
            .unwrap();
        // Whole repetitions, so each window ends between two.
        for i in 0..n.div_ceil(per_rep) * per_rep {
            let rep = (i / per_rep) as i64;
            let row = &rows[(i % per_rep) as usize];
            let at = FIRST_DAY + rep * period + (row.at - first);
            audit
                .execute(rusqlite::params![
                    TENANT,
                    row.ticket,
                    format!("{}#{rep}", row.event_id),
                    at,
                    row.entry,
                    row.input
                ])
                .unwrap();
        }
    }
    tx.commit().unwrap();
    [100_000u64, 300_000, 1_000_000]
        .into_iter()
        .filter(|w| *w <= n)
        .map(|w| {
            let reps = w.div_ceil(per_rep);
            (reps * per_rep, FIRST_DAY + reps as i64 * period)
        })
        .collect()
}

fn run_row(
    docket: &Docket,
    store: &SqliteStore,
    candidate: &Candidate,
    events: u64,
    until: i64,
    baseline: &str,
) {
    reset_peak_rss();
    let progress = Progress::default();
    let budget = Budget {
        max_events: u64::MAX,
        max_seconds: 3_600,
    };
    let started = Instant::now();
    let report = backtest::backtest(
        docket,
        store,
        TENANT,
        candidate,
        (FIRST_DAY, until),
        budget,
        &progress,
    )
    .unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(report.not_replayed, 0, "{:?}", report.not_replayed_reasons);
    assert_eq!(report.events, events);
    println!(
        "| {} | {baseline} | {:.0} | {} | {} | {elapsed:.1} |",
        report.events,
        report.events as f64 / elapsed,
        report.changed,
        peak_rss_mib(),
    );
}

/// Resets the kernel's peak-RSS mark of this process.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The peak resident set since the last reset, in MiB.
fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb >> 10)
}
