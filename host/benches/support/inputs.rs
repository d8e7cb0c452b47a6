//! The inputs every benchmark row uses: a realistic field-service ticket
//! and the demo tenant's configuration (shared with `bench-peers`).

use docket::bindings::docket::plugin::types::{
    Channel, CustomField, FieldValue, Money, Part, Priority, Requester, Status, Ticket, TimeEntry,
};
use docket::config::TenantConfig;

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
    TenantConfig::parse(include_str!("../../demo/acme-repair.toml")).expect("config")
}
