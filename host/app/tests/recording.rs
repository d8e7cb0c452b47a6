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

/// A candidate that never returns is reported per event, under the
/// tenant's limits, and the backtest finishes with everything else
/// counted: the failure policy (skip) leaves those events unrouted.
#[test]
fn a_candidate_that_runs_forever_is_reported_per_event() {
    use docket_app::backtest::{Budget, Progress, backtest};
    use docket_app::simulate::{Candidate, CandidateSource};
    use docket_app::{EventResult, TicketEvent};
    use docket_engine::{FailurePolicy, Limits, PipelineStep};
    let docket = Docket::new(EngineConfig::default()).unwrap();
    let limits = Limits {
        fuel: 2_000_000,
        ..Limits::default()
    };
    docket.put_tenant("acme", limits).unwrap();
    let routing = PluginSource::from_bytes(docket_guests::plugin("routing").unwrap()).unwrap();
    docket.install("acme", "routing", routing).unwrap();
    docket.activate("acme", "routing", "1").unwrap();
    // The routing plugin ignores `mode`; the hostile one loops on it.
    let mode = docket_engine::types::Setting {
        key: "mode".into(),
        value: docket_engine::types::FieldValue::Text("loop".into()),
    };
    let step = PipelineStep {
        plugin: "routing".into(),
        settings: vec![mode],
        on_failure: FailurePolicy::Skip,
        events: vec![],
    };
    docket.set_pipeline("acme", vec![step]).unwrap();
    let lifecycle = Lifecycle::new(docket, MemoryStore::new());
    for i in 0..6 {
        let created: docket_app::ticket_input::Action = serde_json::from_value(serde_json::json!({
            "event": "created",
            "data": { "subject": "s", "category": "software", "requester": { "id": format!("r-{i}") } }
        }))
        .unwrap();
        let (ticket, id) = (format!("T-{i}"), format!("ev-{i}"));
        let event = TicketEvent {
            tenant: "acme",
            ticket: &ticket,
            action: &created,
            id: &id,
            at: 1_000 + i,
            actor: None,
            fingerprint: None,
        };
        let EventResult::Recorded(r) = lifecycle.apply(&event).unwrap() else {
            panic!("recorded")
        };
        assert_eq!(r.outcome.ticket.group.as_deref(), Some("it-support"));
    }
    let docket = lifecycle.docket();
    let hostile = PluginSource::from_bytes(docket_guests::hostile_plugin()).unwrap();
    let candidate =
        Candidate::new(docket, "acme", "routing", CandidateSource::Draft(hostile)).unwrap();
    let progress = Progress::default();
    let run = |budget| {
        let everything = (i64::MIN, i64::MAX);
        backtest(
            docket,
            lifecycle.store(),
            "acme",
            &candidate,
            everything,
            budget,
            &progress,
        )
        .unwrap()
    };
    let report = run(Budget::default());
    assert_eq!(report.events, 6);
    assert_eq!(report.not_replayed, 0);
    assert_eq!(report.candidate_failures.len(), 1, "{report:?}");
    let failure = &report.candidate_failures[0];
    assert_eq!(
        (failure.kind.as_str(), failure.events),
        ("fuel_exhausted", 6)
    );
    assert_eq!(report.changed, 6, "skipped: the tickets stay unrouted");
    assert!(
        report
            .top_changes
            .iter()
            .any(|c| c.before == "it-support" && c.after == "-")
    );

    // A budget stops it early, and says so.
    let small = Budget {
        max_events: 2,
        ..Budget::default()
    };
    let report = run(small);
    assert_eq!(report.events, 2);
    assert!(
        report
            .stopped
            .as_deref()
            .is_some_and(|s| s.contains("2 events")),
        "{report:?}"
    );
}
