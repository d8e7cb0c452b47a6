//! Backtest throughput over recorded history, on SQLite as `docket serve`
//! keeps it.
//!
//! `cargo bench -p docket --bench backtest` records a generated stream
//! through the demo tenant `acme-repair` (its four plugins, the event
//! lifecycle over a memory store), then writes a history of 1,000,000
//! recorded events to a SQLite data directory by repeating those
//! recordings one after another (new event ids and instants, the same
//! inputs), and backtests a candidate — the no-code routing twin with one
//! table row changed — over windows of 100,000, 300,000 and 1,000,000
//! events. It does so for two set-ups of the tenant: the demo's, whose
//! routing step runs on every event, and one whose routing step subscribes
//! to the events routing acts on (`created`, `updated`). A last row has
//! another routing version active than the one recorded, so every event's
//! baseline runs again too. `-- quick` stops at 100,000 events.
//!
//! Each row is one run: events per second, events whose decisions changed,
//! and the peak anonymous memory of the process during the run (sampled;
//! file pages of the database the kernel maps are not counted: they are
//! cache) above what it held before.

#[path = "../../app/tests/support/generated.rs"]
mod generated;

use docket_app::backtest::{self, Budget, Progress};
use docket_app::replay::{Replay, parse_stream};
use docket_app::simulate::{Candidate, CandidateSource};
use docket_app::{Lifecycle, MemoryStore, RecordedRow, RecordingQuery, SqliteStore, Store};
use docket_contract::EventKindName;
use docket_engine::config::{TenantConfig, load_tenant};
use docket_engine::{Docket, EngineConfig, PluginSource};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const TENANT: &str = "acme-repair";
const CONFIG: &str = include_str!("../../../example-rules/demo/acme-repair.toml");
const ROUTING: &str = include_str!("../../../example-rules/nocode/routing.toml");
/// Records generated (both demo tenants; this tenant's are kept).
const GENERATED: usize = 20_000;
/// Where the written history starts: 2030-01-01.
const FIRST: i64 = 1_893_456_000_000;

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let history: u64 = if quick { 100_000 } else { 1_000_000 };
    println!(
        "| routing step runs on | history (events) | baseline | events/s | changed | peak anon MiB | elapsed s |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|");
    for subscribed in [false, true] {
        let setup = if subscribed {
            "created, updated"
        } else {
            "every event"
        };
        let dir = std::env::temp_dir().join(format!(
            "docket-bench-backtest-{}-{subscribed}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let windows = prepare(&dir, subscribed, history);
        let docket = tenant(subscribed);
        let store = SqliteStore::open(&dir).unwrap();
        let changed = ROUTING.replace(
            r#"["software", "it-support"],"#,
            r#"["software", "app-support"],"#,
        );
        let source = CandidateSource::Draft(PluginSource::Rules(&changed));
        let candidate = Candidate::new(&docket, TENANT, "routing", source).unwrap();
        for &(events, until) in &windows {
            run_row(
                &docket,
                &store,
                &candidate,
                (events, until),
                setup,
                "recorded",
            );
        }
        if subscribed {
            // Another routing version active than the recorded one: every
            // baseline runs again.
            let twin = docket
                .install(TENANT, "routing", PluginSource::Rules(ROUTING))
                .unwrap();
            docket
                .activate(TENANT, "routing", &twin.version.to_string())
                .unwrap();
            let candidate = Candidate::new(&docket, TENANT, "routing", source).unwrap();
            run_row(&docket, &store, &candidate, windows[0], setup, "run again");
        }
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The demo tenant in a fresh engine; its routing step subscribed to
/// `created` and `updated` when `subscribed`.
fn tenant(subscribed: bool) -> Docket {
    let docket = Docket::new(EngineConfig::default()).unwrap();
    let mut config = TenantConfig::parse(CONFIG).unwrap();
    if subscribed {
        let routing = config.plugins.iter_mut().find(|p| p.name == "routing");
        routing.unwrap().events = vec![EventKindName::Created, EventKindName::Updated];
    }
    load_tenant(&docket, &config, Path::new("."), &docket_guests::plugin).unwrap();
    docket
}

/// Records the generated stream and writes `history` recorded events to
/// `dir`; returns the measured windows (events, end).
fn prepare(dir: &Path, subscribed: bool, history: u64) -> Vec<(u64, i64)> {
    let started = Instant::now();
    let memory = MemoryStore::new();
    memory.set_agents(TENANT, TenantConfig::parse(CONFIG).unwrap().agents);
    let lifecycle = Lifecycle::new(tenant(subscribed), memory);
    let (rows, blobs) = record(&lifecycle);
    drop(lifecycle);
    eprintln!(
        "recorded {} events in {:.1} s",
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let windows = write_history(dir, &rows, &blobs, history);
    eprintln!(
        "wrote {history} recorded events in {:.1} s ({} MiB)",
        started.elapsed().as_secs_f64(),
        std::fs::metadata(dir.join("docket.db")).map_or(0, |m| m.len() >> 20)
    );
    windows
}

/// Replays the generated stream through the tenant; every recorded event
/// of it, and every blob they name.
fn record(lifecycle: &Lifecycle<MemoryStore>) -> (Vec<RecordedRow>, Vec<(String, String)>) {
    let mut replay = Replay::new(lifecycle);
    let start = "2026-11-30T07:00:00Z"
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_millisecond();
    let text = generated::stream(GENERATED, start, 0xbe7c4, "B");
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
    let store = lifecycle.store();
    let rows = store.recordings(TENANT, &all).unwrap();
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
            let body = store.recording_blob(TENANT, &h).unwrap().unwrap();
            (h, body)
        })
        .collect();
    (rows, blobs)
}

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
                 VALUES (?1, ?2, ?3, ?4, ?5, 'applied', ?6, ?7)",
            )
            .unwrap();
        // Whole repetitions, so each window ends between two.
        for i in 0..n.div_ceil(per_rep) * per_rep {
            let rep = (i / per_rep) as i64;
            let row = &rows[(i % per_rep) as usize];
            let at = FIRST + rep * period + (row.at - first);
            audit
                .execute(rusqlite::params![
                    TENANT,
                    row.ticket,
                    format!("{}#{rep}", row.event_id),
                    row.kind,
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
            (reps * per_rep, FIRST + reps as i64 * period)
        })
        .collect()
}

fn run_row(
    docket: &Docket,
    store: &SqliteStore,
    candidate: &Candidate,
    (events, until): (u64, i64),
    setup: &str,
    baseline: &str,
) {
    let progress = Progress::default();
    let budget = Budget {
        max_events: u64::MAX,
        max_seconds: 3_600,
    };
    let before = anon_kib();
    let peak = AtomicU64::new(before);
    let done = AtomicBool::new(false);
    let started = Instant::now();
    let report = std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(anon_kib(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let report = backtest::backtest(
            docket,
            store,
            TENANT,
            candidate,
            (FIRST, until),
            budget,
            &progress,
        );
        done.store(true, Ordering::Relaxed);
        report.unwrap()
    });
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(report.not_replayed, 0, "{:?}", report.not_replayed_reasons);
    assert_eq!(report.events, events);
    println!(
        "| {setup} | {} | {baseline} | {:.0} | {} | {} | {elapsed:.1} |",
        report.events,
        report.events as f64 / elapsed,
        report.changed,
        peak.load(Ordering::Relaxed).saturating_sub(before) >> 10,
    );
}

/// The process's anonymous resident memory (heap, stacks), in KiB.
fn anon_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("RssAnon:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
