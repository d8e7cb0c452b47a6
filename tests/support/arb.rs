//! Generators of inputs for the differential tests.

use super::*;
use docket_engine::types::*;
use proptest::prelude::*;
use proptest::sample::select;

pub fn opt_text(values: &'static [&'static str]) -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        1 => Just(None),
        6 => select(values).prop_map(|s| Some(s.to_string())),
    ]
}

pub fn priority() -> impl Strategy<Value = Priority> {
    select(
        &[
            Priority::Low,
            Priority::Normal,
            Priority::High,
            Priority::Urgent,
        ][..],
    )
}

pub fn status() -> impl Strategy<Value = Status> {
    select(
        &[
            Status::New,
            Status::Open,
            Status::Pending,
            Status::OnHold,
            Status::Solved,
            Status::Closed,
        ][..],
    )
}

pub fn channel() -> impl Strategy<Value = Channel> {
    select(
        &[
            Channel::Email,
            Channel::Web,
            Channel::Phone,
            Channel::Chat,
            Channel::Api,
        ][..],
    )
}

pub const CATEGORIES: &[&str] = &[
    "hardware", "software", "network", "billing", "returns", "account", "other", "",
];
pub const GROUPS: &[&str] = &[
    "senior-support",
    "voice",
    "field-service-emea",
    "field-service-amer",
    "network-ops-emea",
    "field-service",
    "it-support",
    "finance",
    "general",
];

pub fn ticket() -> impl Strategy<Value = Ticket> {
    (
        opt_text(CATEGORIES),
        opt_text(&["emea", "amer", "apac", "latam"]),
        select(&["standard", "premium", "vip"][..]),
        channel(),
        priority(),
        status(),
        0i64..(14 * 24 * HOUR),
        proptest::collection::vec(select(&["responded", "vip", "x"][..]), 0..3),
    )
        .prop_map(
            |(category, region, tier, channel, priority, status, age, tags)| {
                let mut t = crate::ticket("T-1", "", MONDAY - age);
                t.category = category;
                t.requester.region = region;
                t.requester.tier = tier.into();
                t.channel = channel;
                t.priority = priority;
                t.status = status;
                t.tags = tags.into_iter().map(String::from).collect();
                t
            },
        )
}

pub fn event() -> impl Strategy<Value = Event> {
    let updated = proptest::collection::vec(
        select(&["category", "channel", "tier", "priority", "subject"][..]),
        0..3,
    )
    .prop_map(|keys| EventKind::Updated(keys.into_iter().map(String::from).collect()));
    let comment = (
        any::<bool>(),
        select(&[AuthorKind::Agent, AuthorKind::Requester, AuthorKind::System][..]),
    )
        .prop_map(|(public, author_kind)| {
            EventKind::Commented(Comment {
                author_id: "a".into(),
                author_kind,
                body: "hi".into(),
                public,
            })
        });
    let timer = select(
        &[
            "idle-24h",
            "sla:first_response:75",
            "sla:first_response:100",
            "sla:resolution:75",
            "sla:resolution:100",
            "sla:odd",
            "other",
        ][..],
    )
    .prop_map(|k| EventKind::TimerFired(k.to_string()));
    let status = (status(), status()).prop_map(|(previous, current)| {
        EventKind::StatusChanged(StatusChange { previous, current })
    });
    prop_oneof![
        Just(EventKind::Created),
        updated,
        comment,
        timer,
        status,
        Just(EventKind::Assigned(AssignmentChange {
            group: None,
            agent: None
        })),
        Just(EventKind::TimeLogged(crate::time_entry(
            "e0", "ana", "remote", MONDAY, 30
        ))),
        Just(EventKind::PartUsed(crate::part("SKU-0", 1, 100))),
    ]
    .prop_map(|kind| crate::event(kind, MONDAY))
}

pub fn agents() -> impl Strategy<Value = Vec<Agent>> {
    proptest::collection::vec((select(GROUPS), 0u8..6, 0u32..8, any::<bool>()), 0..8).prop_map(
        |specs| {
            specs
                .into_iter()
                .enumerate()
                .map(|(i, (g, level, open, available))| {
                    crate::agent(&format!("ag-{i}"), g, level, open, available)
                })
                .collect()
        },
    )
}

/// Earlier tickets of the requester, some of them this one.
pub fn history() -> impl Strategy<Value = Vec<TicketBrief>> {
    let brief = (
        select(&["T-0", "T-1", "T-2", "T-3"][..]),
        opt_text(&["hardware", "network", ""]),
        0i64..(10 * 24 * HOUR),
    );
    proptest::collection::vec(brief, 0..5).prop_map(|v| {
        v.into_iter()
            .map(|(id, category, age)| TicketBrief {
                id: id.into(),
                category,
                subject: "s".into(),
                status: Status::Open,
                created_at: MONDAY - age,
            })
            .collect()
    })
}

/// A setting that may be missing, of the right type, or of a wrong type.
pub fn integer_setting(
    key: &'static str,
    range: std::ops::Range<i64>,
) -> impl Strategy<Value = Option<Setting>> {
    prop_oneof![
        2 => Just(None),
        4 => range.prop_map(move |v| Some(Setting { key: key.into(), value: FieldValue::Integer(v) })),
        1 => Just(Some(Setting { key: key.into(), value: FieldValue::Text("7".into()) })),
    ]
}

/// A routing call's inputs: an event, a ticket, and a context with agents
/// and the routing example's settings (in and out of range).
pub fn routing_input() -> impl Strategy<Value = (Event, Ticket, Context)> {
    (
        event(),
        ticket(),
        agents(),
        integer_setting("max_open", -2..9),
        integer_setting("senior_level", -3..300),
    )
        .prop_map(|(ev, t, agents, max_open, senior)| {
            let mut ctx = crate::context(crate::MONDAY);
            ctx.agents = agents;
            ctx.settings = max_open.into_iter().chain(senior).collect();
            (ev, t, ctx)
        })
}
