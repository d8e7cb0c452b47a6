//! The inputs every benchmark row uses: a realistic field-service ticket
//! and the demo tenant's configuration (shared with `bench-peers`).

use docket_contract::bindings::docket::plugin::types::{
    Channel, CustomField, FieldValue, Money, Part, Priority, Requester, Status, Ticket, TimeEntry,
};
use docket_engine::config::TenantConfig;

/// Monday 2026-11-23 09:00 UTC.
pub const MONDAY_9Z: i64 = 1_795_424_400_000;

/// A hardware ticket with four time entries and a part.
pub fn ticket() -> Ticket {
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

/// The demo's `acme-repair` tenant: all four example plugins.
pub fn config() -> TenantConfig {
    TenantConfig::parse(include_str!(
        "../../../../example-rules/demo/acme-repair.toml"
    ))
    .expect("config")
}

/// The demo tenant's inputs, ready for any benchmark row.
pub struct Fixture {
    /// The tenant config.
    pub config: TenantConfig,
    /// Its agents.
    pub agents: Vec<docket_engine::types::Agent>,
    /// The ticket.
    pub ticket: Ticket,
    /// A `created` event.
    pub created: docket_engine::types::Event,
    /// A `time-logged` event for the ticket's last time entry.
    pub logged: docket_engine::types::Event,
}

impl Fixture {
    /// Builds the inputs.
    pub fn new() -> Fixture {
        use docket_engine::types::{Event, EventKind};
        let config = config();
        let agents = config.agents.iter().map(|a| a.to_agent()).collect();
        let ticket = ticket();
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
            kind: EventKind::TimeLogged(ticket.time_entries[3].clone()),
        };
        Fixture {
            config,
            agents,
            ticket,
            created,
            logged,
        }
    }

    /// A dispatch request for the event.
    pub fn request(&self, event: &docket_engine::types::Event) -> docket_engine::DispatchRequest {
        docket_engine::DispatchRequest {
            event: event.clone(),
            ticket: self.ticket.clone(),
            agents: self.agents.clone(),
            history: vec![],
            now: MONDAY_9Z,
            position: None,
        }
    }

    /// The context the pipeline gives `plugin` of the tenant.
    pub fn context(
        &self,
        tenant: &docket_engine::Tenant,
        plugin: &str,
    ) -> docket_engine::types::Context {
        let step = tenant
            .pipeline()
            .iter()
            .find(|s| s.plugin == plugin)
            .expect("plugin in the pipeline");
        docket_engine::types::Context {
            tenant: tenant.id().to_string(),
            now: MONDAY_9Z,
            settings: step.settings.clone(),
            agents: self.agents.clone(),
            history: vec![],
            calendars: vec!["business-hours".into()],
        }
    }
}

/// Median and 99th percentile of `iterations` timed calls, after a warm-up.
pub fn time_it(
    iterations: usize,
    mut f: impl FnMut(),
) -> (std::time::Duration, std::time::Duration) {
    for _ in 0..200 {
        f();
    }
    let mut samples: Vec<std::time::Duration> = (0..iterations)
        .map(|_| {
            let t = std::time::Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    samples.sort_unstable();
    (
        samples[samples.len() / 2],
        samples[samples.len() * 99 / 100],
    )
}

/// The engine under test; `DOCKET_BENCH_KEEP_RESIDENT` (bytes) and
/// `DOCKET_BENCH_COW` (0/1) try other settings without editing code.
pub fn engine_config() -> docket_engine::EngineConfig {
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<usize>().ok());
    let defaults = docket_engine::EngineConfig::default();
    docket_engine::EngineConfig {
        max_instances: 256,
        memory_init_cow: env("DOCKET_BENCH_COW").map_or(defaults.memory_init_cow, |v| v != 0),
        keep_resident_bytes: env("DOCKET_BENCH_KEEP_RESIDENT")
            .unwrap_or(defaults.keep_resident_bytes),
        ..defaults
    }
}
