//! Recordings are complete: every recorded event, run again through the
//! pipeline it ran through on its recorded input, decides exactly what it
//! decided then — over the demo day and over a generated stream of at
//! least ten thousand events (creations valid and invalid, updates,
//! comments, status changes, assignments, time, parts and the timers and
//! SLA milestones they set), across configuration changes made midway.

#[path = "support/generated.rs"]
mod generated;

use docket_app::recording::{self, Replayer};
use docket_app::replay::{Replay, StreamRecord, parse_stream};
use docket_app::{Lifecycle, MemoryStore, Store};
use docket_engine::config::{TenantConfig, load_tenant};
use docket_engine::{Docket, EngineConfig, PluginSource};
use std::path::Path;

const TENANTS: [&str; 2] = [
    include_str!("../../../example-rules/demo/acme-repair.toml"),
    include_str!("../../../example-rules/demo/shopco.toml"),
];
const EVENTS: &str = include_str!("../../../example-rules/demo/events.jsonl");
const DEMO_END: &str = "2026-11-27T18:00:00Z";

fn at(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

/// The demo tenants over a memory store, as `docket run` sets them up.
fn demo() -> Lifecycle<MemoryStore> {
    let docket = Docket::new(EngineConfig::default()).unwrap();
    let memory = MemoryStore::new();
    for text in TENANTS {
        let c = TenantConfig::parse(text).unwrap();
        load_tenant(&docket, &c, Path::new("."), &docket_guests::plugin).unwrap();
        memory.set_agents(&c.tenant, c.agents.clone());
    }
    Lifecycle::new(docket, memory)
}

/// Feeds records, counting the events dispatched (timers included). A
/// generated stream acts on tickets whose creation its templates rejected:
/// the lifecycle refuses those before any dispatch, and they are counted
/// apart.
fn feed(replay: &mut Replay<'_, MemoryStore>, records: Vec<(usize, StreamRecord)>) -> usize {
    let (mut dispatched, mut refused) = (0, 0);
    for (line, record) in records {
        // Timers due first, so a refused record does not hide them.
        dispatched += replay.fire_due(record.at.as_millisecond()).unwrap().len();
        match replay.feed(line, record) {
            Ok(out) => dispatched += out.len(),
            Err(e) if e.ends_with("no such ticket (create it first)") => refused += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(
        refused <= dispatched / 2,
        "{refused} refused, {dispatched} dispatched"
    );
    dispatched
}

/// Runs every tenant's recordings again (the tenants in parallel);
/// returns how many events ran.
fn verify_all(lifecycle: &Lifecycle<MemoryStore>) -> u64 {
    let verify = |tenant| {
        let window = (i64::MIN, i64::MAX);
        let v = recording::verify(
            lifecycle.docket(),
            lifecycle.store(),
            tenant,
            window.0,
            window.1,
        );
        (tenant, v.unwrap())
    };
    let reports = std::thread::scope(|s| {
        let acme = s.spawn(|| verify("acme-repair"));
        [verify("shopco"), acme.join().unwrap()]
    });
    let mut events = 0;
    for (tenant, v) in reports {
        assert_eq!(
            v.differing,
            0,
            "{tenant}: {} of {} events decided differently; first: {}",
            v.differing,
            v.events,
            serde_json::to_string_pretty(&v.differences.first()).unwrap()
        );
        events += v.events;
    }
    events
}

#[test]
fn the_demo_day_runs_again_with_the_same_decisions() {
    let lifecycle = demo();
    let mut replay = Replay::new(&lifecycle);
    let mut dispatched = feed(&mut replay, parse_stream(EVENTS, "events.jsonl").unwrap());
    dispatched += replay.fire_due(at(DEMO_END)).unwrap().len();
    assert!(dispatched > 22, "the demo's timers fire too: {dispatched}");
    assert_eq!(verify_all(&lifecycle), dispatched as u64);
}

#[test]
fn a_generated_stream_runs_again_with_the_same_decisions_across_configuration_changes() {
    let lifecycle = demo();
    let mut replay = Replay::new(&lifecycle);
    let start = at("2026-11-30T07:00:00Z");
    let first = generated::stream(2_600, start, 0x5eed_0001, "G");
    let mut dispatched = feed(&mut replay, parse_stream(&first, "first").unwrap());

    // Midway the routing rules change (a no-code version replaces the
    // Rust plugin) and a calendar's hours change: later events record the
    // new pipeline, earlier ones keep theirs.
    let docket = lifecycle.docket();
    let rules = include_str!("../../../example-rules/nocode/routing.toml");
    let v = docket
        .install("acme-repair", "routing", PluginSource::Rules(rules))
        .unwrap();
    docket
        .activate("acme-repair", "routing", &v.version.to_string())
        .unwrap();
    let mut calendars = TenantConfig::parse(TENANTS[0]).unwrap().calendars;
    for hours in calendars[0].hours.values_mut() {
        *hours = "08:00-18:00".into();
    }
    docket.set_calendars("acme-repair", &calendars).unwrap();

    let last = lifecycle
        .store()
        .recordings(
            "acme-repair",
            &docket_app::RecordingQuery {
                from: i64::MIN,
                until: i64::MAX,
                after: None,
                limit: usize::MAX,
            },
        )
        .unwrap()
        .last()
        .unwrap()
        .at;
    let second = generated::stream(2_600, last + 60_000, 0x5eed_0002, "H");
    dispatched += feed(&mut replay, parse_stream(&second, "second").unwrap());
    dispatched += replay.fire_due(last + 40 * 86_400_000).unwrap().len();
    assert!(dispatched >= 10_000, "{dispatched}");
    assert_eq!(verify_all(&lifecycle), dispatched as u64);
}

/// The comparison is not vacuous: the same recordings with one input
/// changed (every requester a VIP, every ticket in another category)
/// decide differently.
#[test]
fn a_changed_input_decides_differently() {
    let lifecycle = demo();
    let mut replay = Replay::new(&lifecycle);
    feed(&mut replay, parse_stream(EVENTS, "events.jsonl").unwrap());
    let (docket, store) = (lifecycle.docket(), lifecycle.store());
    let mut replayer = Replayer::new(docket, "acme-repair");
    let (mut same, mut changed) = (0, 0);
    recording::scan(store, "acme-repair", i64::MIN, i64::MAX, |row| {
        let mut rerun = replayer.decode(store, row).unwrap();
        rerun.request.ticket.requester.tier = "vip".into();
        rerun.request.ticket.category = Some("software".into());
        let entry = serde_json::from_str(&rerun.row.entry).unwrap();
        let outcome = docket.run(&rerun.pipeline, rerun.request);
        if recording::outcome_decisions(&outcome) == recording::recorded_decisions(&entry) {
            same += 1;
        } else {
            changed += 1;
        }
        Ok::<(), docket_app::StoreError>(())
    })
    .unwrap();
    assert!(
        changed > 0 && same + changed > 10,
        "{same} same, {changed} changed"
    );
}
