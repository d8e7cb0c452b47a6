//! Per-event dispatch cost, fresh isolated instance per call.
//!
//! `cargo bench -p docket --bench pipeline` prints one table, every row
//! measured in the same run: the bare sandbox overhead (a hand-written
//! plugin that returns at once), each example plugin alone, and the whole
//! four-plugin pipeline on two kinds of event.

use docket::bindings::docket::plugin::types::{
    Channel, Context, CustomField, Event, EventKind, FieldValue, Money, Part, Priority, Requester,
    Status, Ticket, TimeEntry,
};
use docket::config::{TenantConfig, load_tenant};
use docket::replay::parse_stream;
use docket::sandbox::{self, CallInput};
use docket::{Capability, DispatchRequest, Docket, EngineConfig, Limits, builtin};
use std::path::Path;
use std::time::{Duration, Instant};

const MONDAY_9Z: i64 = 1_795_424_400_000;
const ITERATIONS: usize = 4_000;

fn ticket() -> Ticket {
    let field = |k: &str, v: FieldValue| CustomField {
        key: k.into(),
        value: v,
    };
    Ticket {
        id: "R-1".into(),
        tenant: "acme-repair".into(),
        subject: "Laptop does not boot".into(),
        description: "Black screen after the update".into(),
        status: Status::Open,
        priority: Priority::Normal,
        category: Some("hardware".into()),
        channel: Channel::Email,
        requester: Requester {
            id: "c-17".into(),
            name: "Jonas Keller".into(),
            email: "jonas@keller.example".into(),
            tier: "standard".into(),
            organization: Some("Keller GmbH".into()),
            region: Some("emea".into()),
            tags: vec![],
        },
        assignee: None,
        group: None,
        tags: vec![],
        created_at: MONDAY_9Z,
        updated_at: MONDAY_9Z,
        fields: vec![
            field("device_model", FieldValue::Choice("laptop".into())),
            field("device_variant", FieldValue::Choice("x1-carbon".into())),
            field("serial_number", FieldValue::Text("PF481516".into())),
            field("urgency", FieldValue::Choice("normal".into())),
        ],
        time_entries: (0..4)
            .map(|i| TimeEntry {
                id: format!("te{i}"),
                agent_id: if i % 2 == 0 {
                    "ana".into()
                } else {
                    "ben".into()
                },
                work_type: "onsite".into(),
                started_at: MONDAY_9Z + i * 3_600_000 * 3,
                minutes: 50 + i as u32 * 7,
                billable: true,
            })
            .collect(),
        parts: vec![Part {
            sku: "SSD-1TB".into(),
            description: "1 TB NVMe SSD".into(),
            quantity: 1,
            unit_price: Money {
                amount_minor: 12_900,
                currency: "EUR".into(),
            },
        }],
    }
}

struct Row {
    name: String,
    median: Duration,
    p99: Duration,
}

fn measure(name: &str, mut f: impl FnMut()) -> Row {
    for _ in 0..200 {
        f();
    }
    let mut samples: Vec<Duration> = (0..ITERATIONS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    samples.sort_unstable();
    Row {
        name: name.into(),
        median: samples[samples.len() / 2],
        p99: samples[samples.len() * 99 / 100],
    }
}

fn main() {
    let docket = Docket::new(EngineConfig::default()).expect("engine");
    let config = TenantConfig::parse(include_str!("../demo/acme-repair.toml")).expect("config");
    load_tenant(&docket, &config, Path::new("."), &builtin::plugin).expect("tenant");
    let agents: Vec<_> = config.agents.iter().map(|a| a.to_agent()).collect();
    // Parse once so the stream format stays exercised; the bench builds its own events.
    parse_stream(include_str!("../demo/events.jsonl"), "events.jsonl").expect("demo stream");

    let t = ticket();
    let created = Event {
        id: "e1".into(),
        at: MONDAY_9Z,
        actor: None,
        kind: EventKind::Created,
    };
    let logged = Event {
        id: "e2".into(),
        at: MONDAY_9Z,
        actor: None,
        kind: EventKind::TimeLogged(t.time_entries[3].clone()),
    };
    let state = docket.tenant("acme-repair").unwrap();
    let limits = Limits::default();
    let tick = docket.runtime().epoch_tick();
    let engine = docket.runtime().engine();

    let mut rows = Vec::new();

    // Sandbox overhead: instantiate + call + teardown of a plugin that does nothing.
    let noop = wat::parse_str(
        r#"(module (memory (export "memory") 1)
            (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) i32.const 1024)
            (func (export "docket:plugin/routing@0.1.0#route") (param i32) (result i32) i32.const 16))"#,
    )
    .unwrap();
    let (noop, _) = docket
        .runtime()
        .compile(&noop, &limits)
        .expect("noop plugin");
    let ctx = Context {
        tenant: "acme-repair".into(),
        now: MONDAY_9Z,
        settings: vec![],
        agents: agents.clone(),
        history: vec![],
        calendars: vec![],
    };
    rows.push(measure("sandbox overhead (no-op plugin)", || {
        let input = CallInput {
            event: &created,
            ticket: &t,
            context: &ctx,
        };
        let (r, _) = sandbox::call(engine, &noop, Capability::Routing, &input, &limits, tick);
        r.expect("noop");
    }));

    for (name, capability, event) in [
        ("templates", Capability::Template, &created),
        ("routing", Capability::Routing, &created),
        ("escalation", Capability::Escalation, &created),
        ("billing", Capability::Billing, &logged),
    ] {
        let plugin = &state.plugins[name].active().unwrap().plugin;
        let step = state.pipeline.iter().find(|s| s.plugin == name).unwrap();
        let ctx = Context {
            settings: step.settings.clone(),
            ..ctx.clone()
        };
        rows.push(measure(&format!("{name} plugin alone"), || {
            let input = CallInput {
                event,
                ticket: &t,
                context: &ctx,
            };
            let (r, _) = sandbox::call(engine, plugin, capability, &input, &limits, tick);
            r.expect("plugin call");
        }));
    }

    for (label, event) in [("created", &created), ("time logged", &logged)] {
        rows.push(measure(
            &format!("4-plugin pipeline, {label} event"),
            || {
                let req = DispatchRequest {
                    event: event.clone(),
                    ticket: t.clone(),
                    agents: agents.clone(),
                    history: vec![],
                    now: MONDAY_9Z,
                };
                let o = docket.dispatch("acme-repair", req).expect("dispatch");
                assert!(o.is_applied());
            },
        ));
    }

    let base = rows[0].median.as_secs_f64();
    println!(
        "docket pipeline bench — fresh isolated instance per call, {ITERATIONS} iterations per row, one run"
    );
    println!(
        "{:<40} {:>12} {:>12} {:>14} {:>10}",
        "row", "median µs", "p99 µs", "per second", "× no-op"
    );
    for r in &rows {
        let m = r.median.as_secs_f64();
        println!(
            "{:<40} {:>12.1} {:>12.1} {:>14.0} {:>10.1}",
            r.name,
            m * 1e6,
            r.p99.as_secs_f64() * 1e6,
            1.0 / m,
            m / base
        );
    }
}
