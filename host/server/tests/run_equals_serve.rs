//! `docket run` and `docket serve` share one event lifecycle: the demo
//! stream replayed as `docket run` replays it (a `Replay` over a
//! `MemoryStore`) and sent to the service (its `ticket_event` and timer
//! loop over SQLite, on a clock that follows the stream) gives the same
//! outcomes, timers and SLA clocks, event by event.

use docket_app::Service;
use docket_app::replay::{Replay, Replayed, parse_stream};
use docket_app::service::{Idempotency, PipelineStepDoc};
use docket_app::{Lifecycle, MemoryStore, Store};
use docket_engine::config::{TenantConfig, load_tenant};
use docket_engine::{Docket, EngineConfig};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

const TENANTS: [&str; 2] = [
    include_str!("../../../example-rules/demo/acme-repair.toml"),
    include_str!("../../../example-rules/demo/shopco.toml"),
];
const EVENTS: &str = include_str!("../../../example-rules/demo/events.jsonl");
/// Where `docket demo` stops the clock.
const DEMO_END: &str = "2026-11-27T18:00:00Z";

/// The tenant as `docket serve` gets it: through the service's own calls.
fn configure(service: &Service, config: &TenantConfig) {
    let t = &config.tenant;
    service.create_tenant(t, config.limits.clone()).unwrap();
    service.set_calendars(t, config.calendars.clone()).unwrap();
    service.set_agents(t, config.agents.clone()).unwrap();
    let mut steps = Vec::new();
    for p in &config.plugins {
        let builtin = p.source.strip_prefix("builtin:").unwrap();
        let bytes = docket_guests::plugin(builtin).unwrap();
        let source = docket_engine::PluginSource::from_bytes(bytes).unwrap();
        service.install_plugin(t, &p.name, source).unwrap();
        service.activate(t, &p.name, "1").unwrap();
        let settings = serde_json::to_value(&p.settings).unwrap();
        steps.push(PipelineStepDoc {
            plugin: p.name.clone(),
            settings: settings.as_object().unwrap().clone(),
            on_failure: p.on_failure,
            events: p.events.clone(),
        });
    }
    service.set_pipeline(t, steps).unwrap();
}

/// An outcome without what is measured (the trace's and the total times).
fn decisions(mut outcome: serde_json::Value) -> serde_json::Value {
    let o = outcome.as_object_mut().unwrap();
    o.remove("trace");
    o.remove("elapsed_us");
    outcome
}

/// The service's timer loop, polling as often as it likes: every timer due
/// by `until` fires at its due instant (or at the clock, when later).
fn fire_timers_until(service: &Service, clock: &AtomicI64, until: i64) {
    while let Some(next) = service.store().due_timers(until, 1).unwrap().pop() {
        clock.fetch_max(next.due_at, Ordering::SeqCst);
        service
            .fire_due_timers(docket_server::timers::BATCH)
            .unwrap();
    }
}

/// What one store holds for a ticket: the ticket, its timers, its clocks.
fn ticket_state(store: &dyn Store, timers: Vec<docket_app::TimerRow>, t: &str, id: &str) -> String {
    serde_json::json!({
        "ticket": store.ticket(t, id).unwrap().map(|t| serde_json::to_value(docket_contract::wire::Wire(&t)).unwrap()),
        "timers": timers,
        "clocks": store.sla_clocks(t, id).unwrap(),
    })
    .to_string()
}

#[test]
fn the_demo_stream_gives_the_same_outcomes_timers_and_sla_clocks_in_run_and_serve() {
    let configs: Vec<TenantConfig> = TENANTS
        .iter()
        .map(|text| TenantConfig::parse(text).unwrap())
        .collect();

    // `docket run`.
    let docket = Docket::new(EngineConfig::default()).unwrap();
    let memory = MemoryStore::new();
    for c in &configs {
        load_tenant(&docket, c, Path::new("."), &docket_guests::plugin).unwrap();
        memory.set_agents(&c.tenant, c.agents.clone());
    }
    let run = Lifecycle::new(docket, memory);
    let mut replay = Replay::new(&run);

    // `docket serve`, on a clock the test moves.
    let dir = std::env::temp_dir().join(format!("docket-run-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let clock = Arc::new(AtomicI64::new(0));
    let now = clock.clone();
    let service = Service::open_with_clock(
        dir.clone(),
        EngineConfig::default(),
        Box::new(move || now.load(Ordering::SeqCst)),
    )
    .unwrap();
    configs.iter().for_each(|c| configure(&service, c));

    let mut compared = 0;
    let mut sla_events = 0;
    let mut check = |replayed: Vec<Replayed>| {
        for r in replayed {
            let o = &r.outcome;
            let served = service
                .store()
                .stored_event(&o.tenant, &o.event_id)
                .unwrap()
                .unwrap_or_else(|| panic!("serve never saw `{}` ({})", o.event_id, r.event));
            assert_eq!(
                decisions(served.outcome),
                decisions(serde_json::to_value(o).unwrap()),
                "event `{}` ({})",
                o.event_id,
                r.event
            );
            let run_state = ticket_state(
                run.store(),
                run.store().ticket_timers(&o.tenant, &o.ticket_id),
                &o.tenant,
                &o.ticket_id,
            );
            let serve_timers = service
                .store()
                .ticket_timers(&o.tenant, &o.ticket_id)
                .unwrap();
            let serve_state = ticket_state(service.store(), serve_timers, &o.tenant, &o.ticket_id);
            assert_eq!(
                run_state, serve_state,
                "after `{}` ({})",
                o.event_id, r.event
            );
            if r.event.starts_with("timer sla-clock") {
                sla_events += 1;
            }
            compared += 1;
        }
    };

    for (line, record) in parse_stream(EVENTS, "events.jsonl").unwrap() {
        let at = record.at.as_millisecond();
        fire_timers_until(&service, &clock, at);
        clock.fetch_max(at, Ordering::SeqCst);
        let id = record
            .id
            .clone()
            .unwrap_or_else(|| format!("{}:{}:{line}", record.tenant, record.ticket));
        let (tenant, ticket, action) = (
            record.tenant.clone(),
            record.ticket.clone(),
            record.action.clone(),
        );
        let replayed = replay.feed(line, record).unwrap();
        if !matches!(action, docket_app::ticket_input::Action::Tick) {
            let key = Idempotency::new(&id, "POST", "/stream", id.as_bytes()).unwrap();
            service
                .ticket_event(&tenant, &ticket, &action, Some(&key))
                .unwrap();
        }
        check(replayed);
    }
    let end = DEMO_END
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_millisecond();
    fire_timers_until(&service, &clock, end);
    check(replay.fire_due(end).unwrap());

    // Nothing either side did that the other did not.
    let mut served_events = 0;
    for c in &configs {
        served_events += service
            .store()
            .audit(&c.tenant, None, 0, 1000)
            .unwrap()
            .len();
    }
    assert_eq!(served_events, compared);
    assert_eq!(
        service.store().due_timers(i64::MAX, 10_000).unwrap(),
        run.store().pending_timers()
    );
    assert!(compared > 40, "{compared} events compared");
    assert!(sla_events > 5, "only {sla_events} SLA milestones fired");
    let _ = std::fs::remove_dir_all(&dir);
}
