//! Billing inputs: time entries, parts and settings.

use super::*;
use docket_engine::types::*;
use proptest::prelude::*;
use proptest::sample::select;

pub fn money() -> impl Strategy<Value = Money> {
    (select(&["EUR", "USD"][..]), -500i64..300_000).prop_map(|(c, a)| Money {
        amount_minor: a,
        currency: c.into(),
    })
}

pub fn ticket() -> impl Strategy<Value = Ticket> {
    let entry = (
        select(&["remote", "onsite", "workshop", "emergency", "travel"][..]),
        select(&["ana", "bo", "cy"][..]),
        0i64..(7 * 24 * 60),
        0u32..400,
        any::<bool>(),
    );
    let part_spec = (0u32..5, money());
    (
        arb::ticket(),
        proptest::collection::vec(entry, 0..6),
        proptest::collection::vec(part_spec, 0..4),
    )
        .prop_map(|(mut t, entries, parts)| {
            t.time_entries = entries
                .into_iter()
                .enumerate()
                .map(|(i, (w, a, start, minutes, billable))| {
                    let mut e = time_entry(&format!("e{i}"), a, w, MONDAY + start * MIN, minutes);
                    e.billable = billable;
                    e
                })
                .collect();
            t.parts = parts
                .into_iter()
                .enumerate()
                .map(|(i, (q, price))| {
                    let mut p = part(&format!("SKU-{i}"), q, 0);
                    p.unit_price = price;
                    p
                })
                .collect();
            t
        })
}

pub fn settings() -> impl Strategy<Value = Vec<Setting>> {
    let setting = prop_oneof![
        select(&["EUR", "USD"][..]).prop_map(|c| ("currency", FieldValue::Text(c.into()))),
        (-1000i64..1000).prop_map(|m| ("utc_offset_minutes", FieldValue::Integer(m))),
        money().prop_map(|m| ("approval_threshold", FieldValue::Money(m))),
        money().prop_map(|m| ("rate.remote", FieldValue::Money(m))),
        money().prop_map(|m| ("rate.travel", FieldValue::Money(m))),
        Just(("manager.emea", FieldValue::Text("mia".into()))),
        Just(("manager.global", FieldValue::Choice("gus".into()))),
        Just(("currency", FieldValue::Integer(3))),
    ];
    proptest::collection::vec(setting, 0..4).prop_map(|v| {
        v.into_iter()
            .map(|(k, value)| Setting {
                key: k.into(),
                value,
            })
            .collect()
    })
}

/// A billing call's inputs: an event, a ticket with time entries and parts,
/// and a context with the billing example's settings.
pub fn input() -> impl Strategy<Value = (Event, Ticket, Context)> {
    (crate::arb::event(), ticket(), settings()).prop_map(|(ev, t, settings)| {
        let mut ctx = crate::context(crate::MONDAY);
        ctx.settings = settings;
        (ev, t, ctx)
    })
}
