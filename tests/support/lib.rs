//! Helpers shared by the integration tests: an engine, tenants with the
//! example plugins, ticket and event builders.

use docket_contract::bindings::docket::plugin::types::{
    Agent, AuthorKind, Channel, Comment, CustomField, Event, EventKind, FieldValue, Money, Part,
    Priority, Requester, Status, StatusChange, Ticket, TicketBrief, TimeEntry,
};
use docket_engine::Effect;
use docket_engine::config::CalendarConfig;
use docket_engine::config::settings_of;
use docket_engine::{DispatchRequest, Outcome};
use docket_engine::{Docket, EngineConfig, FailurePolicy, Limits, PipelineStep, PluginSource};
use docket_guests as builtin;
use std::sync::OnceLock;

pub mod arb;
pub mod arb_billing;

/// A plugin's context at `now`: tenant `t`, a business-hours calendar,
/// no settings, agents or history.
pub fn context(now: i64) -> docket_engine::types::Context {
    docket_engine::types::Context {
        tenant: "t".into(),
        now,
        settings: vec![],
        agents: vec![],
        history: vec![],
        calendars: vec!["business-hours".into()],
    }
}

/// `2026-11-23T00:00:00Z`, a Monday.
pub const MONDAY: i64 = 1_795_392_000_000;
/// One minute.
pub const MIN: i64 = 60_000;
/// One hour.
pub const HOUR: i64 = 60 * MIN;

/// Parses an RFC 3339 instant to ms.
pub fn at(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>()
        .expect("instant")
        .as_millisecond()
}

/// One engine per test binary: tenants are isolated within it, as in production.
pub fn docket() -> &'static Docket {
    static D: OnceLock<Docket> = OnceLock::new();
    D.get_or_init(|| Docket::new(EngineConfig::default()).expect("engine"))
}

/// Calls one capability of a compiled plugin once, outside any pipeline,
/// on the shared engine: the decision (or why there is none) and its cost.
pub fn call_plugin(
    plugin: &docket_engine::plugin::Plugin,
    capability: docket_engine::contract::Capability,
    (event, ticket, context): (&Event, &Ticket, &docket_engine::types::Context),
    limits: &Limits,
) -> (
    Result<docket_engine::plugin::Decision, docket_engine::PluginError>,
    docket_engine::plugin::CallStats,
) {
    let input = docket_engine::plugin::CallInput {
        event,
        ticket,
        context,
        position: None,
    };
    docket().call(plugin, capability, &input, limits)
}

/// The Berlin business-hours calendar the examples use.
pub fn business_hours() -> Vec<CalendarConfig> {
    vec![CalendarConfig::weekdays(
        "business-hours",
        "Europe/Berlin",
        "09:00-17:00",
        &["2026-12-25"],
    )]
}

/// The source of a plugin's bytes: wasm (by its header) or rule text.
pub fn source(bytes: &[u8]) -> PluginSource<'_> {
    PluginSource::from_bytes(bytes).expect("wasm or rule text")
}

/// Creates (or replaces) a tenant running the given plugins in order, each
/// as `(name, bytes, settings TOML, failure policy)`.
pub fn tenant_with(id: &str, limits: Limits, plugins: &[(&str, &[u8], &str, FailurePolicy)]) {
    let d = docket();
    d.put_tenant(id, limits).expect("tenant");
    d.set_calendars(id, &business_hours()).expect("calendars");
    let mut steps = Vec::new();
    for (name, bytes, settings, on_failure) in plugins {
        let v = d
            .install(id, name, source(bytes))
            .unwrap_or_else(|e| panic!("install {name}: {e}"));
        d.activate(id, name, &v.version.to_string())
            .expect("activate");
        let table: toml::Table = toml::from_str(settings).expect("settings toml");
        steps.push(PipelineStep {
            plugin: name.to_string(),
            settings: settings_of(&table).expect("settings"),
            on_failure: *on_failure,
            events: vec![],
        });
    }
    d.set_pipeline(id, steps).expect("pipeline");
}

/// A tenant with one example plugin.
pub fn example_tenant(id: &str, example: &str, settings: &str) {
    let bytes = builtin::plugin(example).expect("example");
    tenant_with(
        id,
        Limits::default(),
        &[(example, bytes, settings, FailurePolicy::Skip)],
    );
}

/// A standard requester in EMEA.
pub fn requester(id: &str, tier: &str) -> Requester {
    Requester {
        id: id.into(),
        name: format!("Customer {id}"),
        email: format!("{id}@example.com"),
        tier: tier.into(),
        organization: None,
        region: Some("emea".into()),
        tags: vec![],
    }
}

/// A new ticket created at `created`.
pub fn ticket(id: &str, category: &str, created: i64) -> Ticket {
    Ticket {
        id: id.into(),
        tenant: "t".into(),
        subject: "Something broke".into(),
        description: String::new(),
        status: Status::New,
        priority: Priority::Normal,
        category: Some(category.into()),
        channel: Channel::Email,
        requester: requester("c-1", "standard"),
        assignee: None,
        group: None,
        tags: vec![],
        created_at: created,
        updated_at: created,
        fields: vec![],
        time_entries: vec![],
        parts: vec![],
    }
}

/// Sets a custom field on a ticket.
pub fn with_field(mut t: Ticket, key: &str, value: FieldValue) -> Ticket {
    t.fields.retain(|f| f.key != key);
    t.fields.push(CustomField {
        key: key.into(),
        value,
    });
    t
}

/// A text-like dropdown value.
pub fn choice(s: &str) -> FieldValue {
    FieldValue::Choice(s.into())
}

/// Money in EUR.
pub fn eur(minor: i64) -> Money {
    Money {
        amount_minor: minor,
        currency: "EUR".into(),
    }
}

/// An event of the kind at the instant.
pub fn event(kind: EventKind, at: i64) -> Event {
    Event {
        id: format!("ev-{at}"),
        at,
        actor: None,
        kind,
    }
}

/// A public agent comment.
pub fn agent_reply(at: i64) -> Event {
    event(
        EventKind::Commented(Comment {
            author_id: "ana".into(),
            author_kind: AuthorKind::Agent,
            body: "on it".into(),
            public: true,
        }),
        at,
    )
}

/// A status change.
pub fn status_change(previous: Status, current: Status, at: i64) -> Event {
    event(
        EventKind::StatusChanged(StatusChange { previous, current }),
        at,
    )
}

/// A time entry.
pub fn time_entry(id: &str, agent: &str, work_type: &str, started: i64, minutes: u32) -> TimeEntry {
    TimeEntry {
        id: id.into(),
        agent_id: agent.into(),
        work_type: work_type.into(),
        started_at: started,
        minutes,
        billable: true,
    }
}

/// A part.
pub fn part(sku: &str, qty: u32, unit_minor: i64) -> Part {
    Part {
        sku: sku.into(),
        description: format!("part {sku}"),
        quantity: qty,
        unit_price: eur(unit_minor),
    }
}

/// An agent.
pub fn agent(id: &str, group: &str, level: u8, open: u32, available: bool) -> Agent {
    Agent {
        id: id.into(),
        name: id.into(),
        group: group.into(),
        skills: vec![],
        level,
        open_tickets: open,
        available,
    }
}

/// Dispatches with the given agents and history; `now` is the event's instant.
pub fn dispatch_full(
    tenant: &str,
    ev: Event,
    t: Ticket,
    agents: Vec<Agent>,
    history: Vec<TicketBrief>,
) -> Outcome {
    let now = ev.at;
    docket()
        .dispatch(
            tenant,
            DispatchRequest {
                event: ev,
                ticket: t,
                agents,
                history,
                now,
                position: None,
            },
        )
        .expect("dispatch")
}

/// Dispatches with no agents and no history.
pub fn dispatch(tenant: &str, ev: Event, t: Ticket) -> Outcome {
    dispatch_full(tenant, ev, t, vec![], vec![])
}

/// The effects of an outcome, without the plugin names.
pub fn effects(o: &Outcome) -> Vec<Effect> {
    o.effects.iter().map(|e| e.effect.clone()).collect()
}

/// The timers an outcome sets, as (key, due).
pub fn timers(o: &Outcome) -> Vec<(String, i64)> {
    effects(o)
        .into_iter()
        .filter_map(|e| match e {
            Effect::SetTimer { key, due_at } => Some((key, due_at)),
            _ => None,
        })
        .collect()
}

/// A hand-written core module that implements `routing.route` (returning
/// `none`) with the canonical ABI: a bump allocator, a memory, and the export
/// named for `contract_version`. `extra_import` adds an import `(module, name)`
/// of type `(i32, i32) -> i32` that the route function calls.
pub fn wat_route_module(contract_version: &str, extra_import: Option<(&str, &str)>) -> Vec<u8> {
    wat_plugin_module(
        &[&format!("docket:plugin/routing@{contract_version}#route")],
        extra_import,
    )
}

/// A hand-written core module whose `exports` (canonical ABI names of
/// capability functions taking their arguments by pointer) all answer
/// `none`; see [`wat_route_module`].
pub fn wat_plugin_module(exports: &[&str], extra_import: Option<(&str, &str)>) -> Vec<u8> {
    let import = extra_import
        .map(|(m, n)| {
            format!("(import \"{m}\" \"{n}\" (func $extra (param i32 i32) (result i32)))")
        })
        .unwrap_or_default();
    let call = if extra_import.is_some() {
        "(drop (call $extra (i32.const 0) (i32.const 0)))"
    } else {
        ""
    };
    // Offset 16 holds zeroes: option tag 0 = none.
    let funcs: String = exports
        .iter()
        .map(|name| {
            format!("(func (export \"{name}\") (param i32) (result i32) {call} (i32.const 16))\n")
        })
        .collect();
    let text = format!(
        r#"(module
            {import}
            (memory (export "memory") 2)
            (global $heap (mut i32) (i32.const 1024))
            (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
                (local $ptr i32)
                ;; ptr = align_up(heap, align); heap = ptr + size
                (local.set $ptr
                    (i32.and
                        (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
                        (i32.xor (i32.sub (local.get 2) (i32.const 1)) (i32.const -1))))
                (global.set $heap (i32.add (local.get $ptr) (local.get 3)))
                (local.get $ptr))
            {funcs}
        )"#
    );
    wat::parse_str(text).expect("wat")
}

/// Componentizes a core module against the contract's WIT, after applying
/// `edit` to the WIT text (to make a wrong version) and adding `extra_wit`
/// packages (to import something the host does not offer).
/// An edit of the contract's WIT (for [`component_of`]) that makes it the
/// package at an earlier `version`: as a plugin built against that version
/// saw it (the items added since carry `@since` and are left out of the
/// worlds the tests include).
pub fn contract_at(version: &str) -> impl Fn(&str) -> String + '_ {
    move |wit| {
        wit.replace(
            &format!("docket:plugin@{}", docket_contract::CONTRACT_VERSION),
            &format!("docket:plugin@{version}"),
        )
        .replace(
            &format!("@since(version = {})", docket_contract::CONTRACT_VERSION),
            "",
        )
    }
}

pub fn component_of(
    module: &[u8],
    edit: impl Fn(&str) -> String,
    extra_wit: Option<&str>,
    world_includes: &str,
) -> Vec<u8> {
    let mut map = wit_parser::SourceMap::new();
    for (name, text) in docket_contract::WIT_SOURCES {
        map.push_str(name, edit(text));
    }
    let mut resolve = wit_parser::Resolve::default();
    resolve
        .push_group(map.parse().map_err(|(_, e)| e).expect("parse contract"))
        .expect("contract");
    if let Some(extra) = extra_wit {
        resolve.push_source("extra.wit", extra).expect("extra wit");
    }
    let world_text = format!("package test:composed;\nworld w {{\n{world_includes}\n}}\n");
    let pkg = resolve
        .push_source("world.wit", &world_text)
        .expect("world");
    let world = resolve
        .select_world(&[pkg], Some("w"))
        .expect("select world");
    let mut module = module.to_vec();
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .expect("embed");
    wit_component::ComponentEncoder::default()
        .module(&module)
        .expect("module")
        .encode()
        .expect("encode")
}
