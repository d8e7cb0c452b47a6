//! The four example plugins, driven through the host as a tenant would run
//! them: compiled from `example-rules/`, componentized on install, sandboxed.

use docket_contract::bindings::exports::docket::plugin::escalation::{Recipient, SlaMetric};
use docket_contract::bindings::exports::docket::plugin::template::ErrorCode;
use docket_engine::Effect;
use docket_engine::outcome::OutcomeStatus;
use docket_engine::types::{EventKind, FieldValue, Priority, Status, TicketBrief};
use docket_engine::{FailurePolicy, Limits};
use docket_guests as builtin;
use docket_tests::*;
use std::sync::Once;

fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        example_tenant("ex-templates", "templates", "");
        example_tenant("ex-routing", "routing", "max_open = 5\nsenior_level = 3");
        example_tenant(
            "ex-escalation",
            "escalation",
            "calendar = \"business-hours\"",
        );
        example_tenant(
            "ex-billing",
            "billing",
            "currency = \"EUR\"\nutc_offset_minutes = 60\nmanager.emea = \"maria\"\n",
        );
    });
}

fn created() -> docket_engine::types::Event {
    event(EventKind::Created, MONDAY + 8 * HOUR)
}

fn repair_ticket() -> docket_engine::types::Ticket {
    let t = ticket("R-1", "hardware", MONDAY + 8 * HOUR);
    let t = with_field(t, "device_model", choice("laptop"));
    let t = with_field(t, "device_variant", choice("x1-carbon"));
    with_field(t, "serial_number", FieldValue::Text("AB123456".into()))
}

fn rejected_codes(o: &docket_engine::Outcome) -> Vec<(String, ErrorCode)> {
    match &o.status {
        OutcomeStatus::Rejected { errors } => errors
            .iter()
            .map(|e| (e.error.field.clone(), e.error.code))
            .collect(),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

// ---- templates -------------------------------------------------------------

#[test]
fn valid_repair_ticket_is_accepted_and_gets_defaults() {
    setup();
    let o = dispatch("ex-templates", created(), repair_ticket());
    assert!(o.is_applied(), "{:?}", o.status);
    assert_eq!(
        effects(&o),
        vec![Effect::SetField {
            key: "urgency".into(),
            value: choice("normal")
        }]
    );
    assert_eq!(
        o.ticket
            .fields
            .iter()
            .find(|f| f.key == "urgency")
            .unwrap()
            .value,
        choice("normal")
    );
}

#[test]
fn missing_and_malformed_fields_reject_the_event_without_changes() {
    setup();
    let mut t = repair_ticket();
    t.fields.retain(|f| f.key != "serial_number");
    let o = dispatch("ex-templates", created(), t.clone());
    assert_eq!(
        rejected_codes(&o),
        vec![("serial_number".into(), ErrorCode::Required)]
    );
    assert!(o.effects.is_empty(), "a rejected event applies nothing");
    assert_eq!(o.ticket, t, "a rejected event leaves the ticket as it was");

    let t = with_field(
        repair_ticket(),
        "serial_number",
        FieldValue::Text("ab12345".into()),
    );
    assert_eq!(
        rejected_codes(&dispatch("ex-templates", created(), t)),
        vec![("serial_number".into(), ErrorCode::InvalidFormat)]
    );

    let t = with_field(repair_ticket(), "photos_count", FieldValue::Integer(11));
    assert_eq!(
        rejected_codes(&dispatch("ex-templates", created(), t)),
        vec![("photos_count".into(), ErrorCode::OutOfRange)]
    );

    let t = with_field(
        repair_ticket(),
        "photos_count",
        FieldValue::Text("three".into()),
    );
    assert_eq!(
        rejected_codes(&dispatch("ex-templates", created(), t)),
        vec![("photos_count".into(), ErrorCode::WrongType)]
    );

    let t = with_field(repair_ticket(), "colour", FieldValue::Text("red".into()));
    assert_eq!(
        rejected_codes(&dispatch("ex-templates", created(), t)),
        vec![("colour".into(), ErrorCode::UnknownField)]
    );
}

#[test]
fn dependent_dropdown_options_follow_the_parent() {
    setup();
    let t = with_field(repair_ticket(), "device_model", choice("printer"));
    let o = dispatch("ex-templates", created(), t);
    assert_eq!(
        rejected_codes(&o),
        vec![("device_variant".into(), ErrorCode::InvalidOption)]
    );
    let t = with_field(
        with_field(repair_ticket(), "device_model", choice("printer")),
        "device_variant",
        choice("laserjet-m404"),
    );
    assert!(dispatch("ex-templates", created(), t).is_applied());
}

#[test]
fn conditional_field_is_required_only_when_visible() {
    setup();
    let t = with_field(
        repair_ticket(),
        "under_warranty",
        FieldValue::Checkbox(true),
    );
    assert_eq!(
        rejected_codes(&dispatch("ex-templates", created(), t.clone())),
        vec![("purchase_date".into(), ErrorCode::Required)]
    );
    let t2 = with_field(t, "purchase_date", FieldValue::Date("2025-02-30".into()));
    assert_eq!(
        rejected_codes(&dispatch("ex-templates", created(), t2.clone())),
        vec![("purchase_date".into(), ErrorCode::InvalidFormat)]
    );
    let t3 = with_field(t2, "purchase_date", FieldValue::Date("2025-02-28".into()));
    assert!(dispatch("ex-templates", created(), t3).is_applied());
    let t4 = with_field(
        repair_ticket(),
        "under_warranty",
        FieldValue::Checkbox(false),
    );
    assert!(
        dispatch("ex-templates", created(), t4).is_applied(),
        "hidden fields are not required"
    );
}

#[test]
fn solving_requires_the_resolution_code() {
    setup();
    let mut t = with_field(repair_ticket(), "urgency", choice("high"));
    t.status = Status::Solved;
    let solve = status_change(Status::Open, Status::Solved, MONDAY + 12 * HOUR);
    assert_eq!(
        rejected_codes(&dispatch("ex-templates", solve.clone(), t.clone())),
        vec![("resolution_code".into(), ErrorCode::Required)]
    );
    let t = with_field(t, "resolution_code", choice("repaired"));
    assert!(dispatch("ex-templates", solve, t).is_applied());
}

#[test]
fn returns_form_checks_money_and_refund_limit() {
    setup();
    let base = ticket("S-1", "returns", MONDAY);
    let base = with_field(
        base,
        "order_number",
        FieldValue::Text("ORD-12345678".into()),
    );
    let base = with_field(base, "order_value", FieldValue::Money(eur(8999)));
    let base = with_field(base, "return_reason", choice("wrong-item"));
    assert!(dispatch("ex-templates", created(), base.clone()).is_applied());

    let usd = with_field(
        base.clone(),
        "order_value",
        FieldValue::Money(docket_engine::types::Money {
            amount_minor: 8999,
            currency: "USD".into(),
        }),
    );
    assert_eq!(
        rejected_codes(&dispatch("ex-templates", created(), usd)),
        vec![("order_value".into(), ErrorCode::WrongType)]
    );

    let damaged = with_field(base.clone(), "return_reason", choice("damaged"));
    assert_eq!(
        rejected_codes(&dispatch("ex-templates", created(), damaged)),
        vec![("damage_photos".into(), ErrorCode::Required)]
    );

    let too_much = with_field(base.clone(), "refund_amount", FieldValue::Money(eur(9000)));
    let o = dispatch(
        "ex-templates",
        event(
            EventKind::Updated(vec!["refund_amount".into()]),
            MONDAY + HOUR,
        ),
        too_much,
    );
    assert_eq!(
        rejected_codes(&o),
        vec![("refund_amount".into(), ErrorCode::OutOfRange)]
    );

    let mut solved = with_field(base, "refund_amount", FieldValue::Money(eur(8999)));
    solved.status = Status::Solved;
    let o = dispatch(
        "ex-templates",
        status_change(Status::Open, Status::Solved, MONDAY + HOUR),
        solved.clone(),
    );
    assert_eq!(
        rejected_codes(&o),
        vec![("refund_method".into(), ErrorCode::Required)]
    );
    let solved = with_field(solved, "refund_method", choice("store-credit"));
    assert!(
        dispatch(
            "ex-templates",
            status_change(Status::Open, Status::Solved, MONDAY + HOUR),
            solved
        )
        .is_applied()
    );
}

// ---- routing ---------------------------------------------------------------

fn assignment(o: &docket_engine::Outcome) -> (String, Option<String>, String) {
    effects(o)
        .into_iter()
        .find_map(|e| match e {
            Effect::Assign {
                group,
                agent,
                reason,
            } => Some((group, agent, reason)),
            _ => None,
        })
        .expect("an assignment")
}

#[test]
fn category_goes_to_its_department() {
    setup();
    let o = dispatch("ex-routing", created(), ticket("T-1", "software", MONDAY));
    assert_eq!(assignment(&o).0, "it-support");
    let o = dispatch("ex-routing", created(), ticket("T-2", "astrology", MONDAY));
    let (group, _, reason) = assignment(&o);
    assert_eq!(group, "general");
    assert!(
        reason.contains("no rule for category `astrology`"),
        "{reason}"
    );
}

#[test]
fn region_matrix_and_least_loaded_agent() {
    setup();
    let agents = vec![
        agent("ana", "field-service-emea", 2, 3, true),
        agent("ben", "field-service-emea", 1, 1, true),
        agent("cat", "field-service-emea", 1, 0, false),
        agent("dan", "field-service-amer", 1, 0, true),
    ];
    let o = dispatch_full(
        "ex-routing",
        created(),
        ticket("T-3", "hardware", MONDAY),
        agents,
        vec![],
    );
    let (group, agent, _) = assignment(&o);
    assert_eq!(
        (group.as_str(), agent.as_deref()),
        ("field-service-emea", Some("ben")),
        "cat is away, ben has the least load"
    );
    assert_eq!(o.ticket.assignee.as_deref(), Some("ben"));
}

#[test]
fn vip_goes_to_a_senior_agent_at_high_priority() {
    setup();
    let mut t = ticket("T-4", "software", MONDAY);
    t.requester = requester("c-9", "vip");
    let agents = vec![
        agent("jun", "senior-support", 2, 0, true),
        agent("sen", "senior-support", 3, 4, true),
        agent("old", "senior-support", 5, 2, true),
    ];
    let o = dispatch_full("ex-routing", created(), t, agents, vec![]);
    let (group, agent, _) = assignment(&o);
    assert_eq!(
        (group.as_str(), agent.as_deref()),
        ("senior-support", Some("old"))
    );
    assert_eq!(o.ticket.priority, Priority::High);
    assert!(o.ticket.tags.contains(&"vip".to_string()));
}

#[test]
fn phone_goes_to_voice_and_overflow_queues() {
    setup();
    let mut t = ticket("T-5", "hardware", MONDAY);
    t.channel = docket_engine::types::Channel::Phone;
    let agents = vec![
        agent("v1", "voice", 1, 5, true),
        agent("v2", "voice", 1, 7, true),
    ];
    let o = dispatch_full("ex-routing", created(), t, agents, vec![]);
    let (group, agent, reason) = assignment(&o);
    assert_eq!(
        (group.as_str(), agent),
        ("voice", None),
        "everyone is at the limit of 5"
    );
    assert!(o.ticket.tags.contains(&"overflow".to_string()));
    assert!(reason.contains("5+ open tickets"), "{reason}");
}

#[test]
fn routing_ignores_events_that_do_not_move_tickets() {
    setup();
    let o = dispatch(
        "ex-routing",
        agent_reply(MONDAY),
        ticket("T-6", "software", MONDAY),
    );
    assert!(o.is_applied() && o.effects.is_empty());
    let o = dispatch(
        "ex-routing",
        event(EventKind::Updated(vec!["category".into()]), MONDAY),
        ticket("T-6", "billing", MONDAY),
    );
    assert_eq!(assignment(&o).0, "finance");
}

// ---- escalation ------------------------------------------------------------

fn sla_due(o: &docket_engine::Outcome) -> Vec<(SlaMetric, i64)> {
    effects(o)
        .into_iter()
        .find_map(|e| match e {
            Effect::ApplySla { due, .. } => {
                Some(due.into_iter().map(|d| (d.metric, d.due_at)).collect())
            }
            _ => None,
        })
        .expect("an SLA")
}

#[test]
fn vip_first_response_is_one_business_hour_with_75_and_100_percent_timers() {
    setup();
    // Monday 08:00Z = 09:00 in Berlin, opening time.
    let mut t = ticket("E-1", "hardware", MONDAY + 8 * HOUR);
    t.requester = requester("c-1", "vip");
    let o = dispatch("ex-escalation", created(), t);
    let due = sla_due(&o);
    assert_eq!(due[0], (SlaMetric::FirstResponse, MONDAY + 9 * HOUR));
    let timers = timers(&o);
    assert!(
        timers.contains(&("sla:first_response:75".into(), MONDAY + 8 * HOUR + 45 * MIN)),
        "{timers:?}"
    );
    assert!(timers.contains(&("sla:first_response:100".into(), MONDAY + 9 * HOUR)));
    assert!(timers.contains(&("idle-24h".into(), MONDAY + 32 * HOUR)));
}

#[test]
fn normal_first_response_is_24_business_hours_across_days() {
    setup();
    let o = dispatch(
        "ex-escalation",
        created(),
        ticket("E-2", "hardware", MONDAY + 8 * HOUR),
    );
    // 24 business hours of 8 per day from Monday's opening: Wednesday's close,
    // 17:00 Berlin = 16:00Z.
    assert_eq!(
        sla_due(&o)[0],
        (SlaMetric::FirstResponse, at("2026-11-25T16:00:00Z"))
    );
    // One minute later in the day spills into Thursday's opening minute.
    let o = dispatch(
        "ex-escalation",
        created(),
        ticket("E-2b", "hardware", MONDAY + 8 * HOUR + MIN),
    );
    assert_eq!(
        sla_due(&o)[0],
        (SlaMetric::FirstResponse, at("2026-11-26T08:01:00Z"))
    );
}

#[test]
fn breach_raises_priority_and_warning_notifies_the_lead() {
    setup();
    let mut t = ticket("E-3", "hardware", MONDAY);
    t.group = Some("field-service-emea".into());
    let warn = dispatch(
        "ex-escalation",
        event(
            EventKind::TimerFired("sla:first_response:75".into()),
            MONDAY + HOUR,
        ),
        t.clone(),
    );
    assert!(
        matches!(&effects(&warn)[..], [Effect::Notify { notification }] if notification.to == Recipient::GroupLead("field-service-emea".into()))
    );
    let breach = dispatch(
        "ex-escalation",
        event(
            EventKind::TimerFired("sla:first_response:100".into()),
            MONDAY + HOUR,
        ),
        t.clone(),
    );
    assert_eq!(breach.ticket.priority, Priority::High);
    assert!(breach.ticket.tags.contains(&"sla-breached".to_string()));
    assert!(effects(&breach).iter().any(|e| matches!(e, Effect::Notify { notification } if notification.to == Recipient::Role("duty-manager".into()))));
    t.status = Status::Solved;
    let late = dispatch(
        "ex-escalation",
        event(
            EventKind::TimerFired("sla:resolution:100".into()),
            MONDAY + HOUR,
        ),
        t,
    );
    assert!(late.effects.is_empty(), "a solved ticket does not escalate");
}

#[test]
fn reply_and_solve_cancel_their_timers() {
    setup();
    let t = ticket("E-4", "hardware", MONDAY);
    let o = dispatch("ex-escalation", agent_reply(MONDAY + HOUR), t.clone());
    let cancelled: Vec<Effect> = effects(&o)
        .into_iter()
        .filter(|e| matches!(e, Effect::CancelTimer { .. }))
        .collect();
    assert_eq!(
        cancelled,
        vec![
            Effect::CancelTimer {
                key: "sla:first_response:75".into()
            },
            Effect::CancelTimer {
                key: "sla:first_response:100".into()
            }
        ]
    );
    let o = dispatch(
        "ex-escalation",
        status_change(Status::Open, Status::Solved, MONDAY + 2 * HOUR),
        t,
    );
    assert!(effects(&o).contains(&Effect::CancelTimer {
        key: "sla:resolution:100".into()
    }));
    assert!(effects(&o).contains(&Effect::CancelTimer {
        key: "idle-24h".into()
    }));
}

#[test]
fn untouched_for_a_day_notifies_the_group_lead() {
    setup();
    let mut t = ticket("E-5", "hardware", MONDAY);
    t.group = Some("it-support".into());
    let o = dispatch(
        "ex-escalation",
        event(EventKind::TimerFired("idle-24h".into()), MONDAY + 24 * HOUR),
        t,
    );
    assert!(
        matches!(&effects(&o)[..], [Effect::Notify { notification }] if notification.topic == "ticket-idle")
    );
}

#[test]
fn three_contacts_in_a_week_mark_high_risk() {
    setup();
    let brief = |id: &str, days_ago: i64| TicketBrief {
        id: id.into(),
        category: Some("hardware".into()),
        subject: "again".into(),
        status: Status::Open,
        created_at: MONDAY + 8 * HOUR - days_ago * 24 * HOUR,
    };
    let t = ticket("E-6", "hardware", MONDAY + 8 * HOUR);
    let o = dispatch_full(
        "ex-escalation",
        created(),
        t.clone(),
        vec![],
        vec![brief("a", 1), brief("b", 6)],
    );
    assert!(o.ticket.tags.contains(&"high-risk".to_string()));
    assert_eq!(o.ticket.priority, Priority::High);
    let o = dispatch_full(
        "ex-escalation",
        created(),
        t,
        vec![],
        vec![brief("a", 1), brief("b", 8)],
    );
    assert!(
        !o.ticket.tags.contains(&"high-risk".to_string()),
        "a contact 8 days ago does not count"
    );
}

// ---- billing ---------------------------------------------------------------

fn invoice(
    o: &docket_engine::Outcome,
) -> docket_contract::bindings::exports::docket::plugin::billing::BillingDecision {
    effects(o)
        .into_iter()
        .find_map(|e| match e {
            Effect::Invoice { invoice } => Some(invoice),
            _ => None,
        })
        .expect("an invoice")
}

#[test]
fn labor_rounds_up_to_quarter_hours_with_a_minimum_and_after_hours_surcharge() {
    setup();
    let mut t = ticket("B-1", "hardware", MONDAY);
    // 09:00Z = 10:00 Berlin: office hours. 50 min → 60 min at 120.00/h.
    t.time_entries
        .push(time_entry("te1", "ana", "onsite", MONDAY + 9 * HOUR, 50));
    // 10 min → 30 min minimum at 90.00/h = 45.00.
    t.time_entries
        .push(time_entry("te2", "ana", "remote", MONDAY + 10 * HOUR, 10));
    // 17:30Z = 18:30 Berlin: after hours. 95 min → 105 min at 100.00/h × 1.5 = 262.50.
    t.time_entries.push(time_entry(
        "te3",
        "ben",
        "workshop",
        MONDAY + 17 * HOUR + 30 * MIN,
        95,
    ));
    t.parts.push(part("SSD", 2, 1290));
    let ev = event(
        EventKind::TimeLogged(t.time_entries[2].clone()),
        MONDAY + 20 * HOUR,
    );
    let inv = invoice(&dispatch("ex-billing", ev, t));
    let amounts: Vec<i64> = inv.lines.iter().map(|l| l.amount.amount_minor).collect();
    assert_eq!(amounts, vec![12_000, 4_500, 26_250, 2_580]);
    assert_eq!(inv.total.as_ref().unwrap().amount_minor, 45_330);
    assert!(
        inv.approvals.is_empty(),
        "453.30 is under the 500.00 threshold"
    );
    let shares: Vec<(String, String, i64)> = inv
        .commissions
        .iter()
        .map(|c| (c.beneficiary.clone(), c.role.clone(), c.amount.amount_minor))
        .collect();
    assert_eq!(
        shares,
        vec![
            ("ana".into(), "technician".into(), 1_650),
            ("ben".into(), "technician".into(), 2_625),
            ("maria".into(), "regional-manager".into(), 907),
        ]
    );
}

#[test]
fn invoices_over_500_need_approval() {
    setup();
    let mut t = ticket("B-2", "hardware", MONDAY);
    t.parts.push(part("MB", 1, 50_001));
    let inv = invoice(&dispatch(
        "ex-billing",
        event(EventKind::PartUsed(t.parts[0].clone()), MONDAY),
        t,
    ));
    assert_eq!(inv.approvals.len(), 1);
    assert_eq!(inv.approvals[0].approver_role, "finance-manager");
}

#[test]
fn billing_waits_for_billable_events_and_rates_are_settings() {
    setup();
    let mut t = ticket("B-3", "hardware", MONDAY);
    t.time_entries
        .push(time_entry("te1", "ana", "onsite", MONDAY + 9 * HOUR, 60));
    assert!(
        dispatch("ex-billing", agent_reply(MONDAY), t.clone())
            .effects
            .is_empty()
    );
    example_tenant(
        "ex-billing-rates",
        "billing",
        "[rate]\nonsite = { amount_minor = 20000, currency = \"EUR\" }\n",
    );
    let ev = event(
        EventKind::TimeLogged(t.time_entries[0].clone()),
        MONDAY + 10 * HOUR,
    );
    let inv = invoice(&dispatch("ex-billing-rates", ev, t));
    assert_eq!(inv.lines[0].amount.amount_minor, 20_000);
}

/// The billing example's no-code twin, compiled.
fn billing_twin() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../example-rules/nocode/billing.toml"
    );
    let doc = std::fs::read_to_string(path).expect("billing twin");
    docket_nocode::compile(&doc, "billing.toml")
        .unwrap_or_else(|e| panic!("{e}"))
        .component
}

/// The error of a failed outcome, as text (its kind first).
fn failure(o: &docket_engine::Outcome) -> String {
    match &o.status {
        OutcomeStatus::Failed { error, .. } => format!("{}: {error}", error.kind()),
        other => panic!("expected a failed event, got {other:?}"),
    }
}

#[test]
fn money_that_overflows_fails_the_event_in_every_path() {
    let settings = "currency = \"EUR\"\nutc_offset_minutes = 60\n";
    let rust = builtin::plugin("billing").unwrap();
    let twin = billing_twin();
    for (tenant, bytes) in [("overflow-rust", rust), ("overflow-twin", &twin[..])] {
        tenant_with(
            tenant,
            Limits::default(),
            &[("billing", bytes, settings, FailurePolicy::FailEvent)],
        );
    }
    // 2 × i64::MAX wraps to -2 in unchecked arithmetic: an invoice of -0.02.
    let mut t = ticket("B-OVF", "hardware", MONDAY);
    t.parts.push(part("GOLD", 2, i64::MAX));
    let ev = event(EventKind::PartUsed(t.parts[0].clone()), MONDAY + HOUR);

    let rust = failure(&dispatch("overflow-rust", ev.clone(), t.clone()));
    assert!(rust.starts_with("trap: "), "{rust}");
    assert!(
        rust.contains("money overflow: 92233720368547758.07 EUR × 2"),
        "{rust}"
    );

    let twin = failure(&dispatch("overflow-twin", ev.clone(), t.clone()));
    assert!(twin.starts_with("trap: "), "{twin}");
    assert!(
        twin.contains(
            "integer overflow: `part.unit_price * part.quantity` (line 59, column 11) does not fit in 64 bits"
        ),
        "{twin}"
    );

    // Lines that fit but whose total does not: the sum is checked too.
    let mut t = ticket("B-SUM", "hardware", MONDAY);
    t.parts.push(part("HALF", 1, i64::MAX / 2 + 1));
    t.parts.push(part("HALF", 1, i64::MAX / 2 + 1));
    let ev = event(EventKind::PartUsed(t.parts[1].clone()), MONDAY + HOUR);
    let rust = failure(&dispatch("overflow-rust", ev.clone(), t.clone()));
    assert!(
        rust.contains("money overflow: the invoice total of 2 lines"),
        "{rust}"
    );
    let twin = failure(&dispatch("overflow-twin", ev, t));
    assert!(
        twin.contains("integer overflow: the invoice total does not fit in 64 bits"),
        "{twin}"
    );
}

#[test]
fn the_host_refuses_invoice_lines_that_are_not_quantity_times_price() {
    // A rule that forgets the quantity: 3 parts at 10.00 billed as 10.00.
    let doc = r#"
[billing]
when = "true"
currency = '"EUR"'

[[billing.lines]]
for_each = "part in ticket.parts"
kind = "part"
description = "{part.sku}"
quantity = "quantity(part.quantity)"
unit_price = "part.unit_price"
amount = "part.unit_price"
"#;
    let component = docket_nocode::compile(doc, "forgetful.toml")
        .unwrap_or_else(|e| panic!("{e}"))
        .component;
    tenant_with(
        "forgetful-billing",
        Limits::default(),
        &[("billing", &component, "", FailurePolicy::FailEvent)],
    );
    let mut t = ticket("B-QTY", "hardware", MONDAY);
    t.parts.push(part("BOLT", 3, 1_000));
    let ev = event(EventKind::PartUsed(t.parts[0].clone()), MONDAY + HOUR);
    let error = failure(&dispatch("forgetful-billing", ev.clone(), t.clone()));
    assert!(error.starts_with("invalid_output: "), "{error}");
    assert!(
        error.contains(
            "invoice line 0 (`BOLT`): amount 1000 is not quantity × unit price (3 × 1000 ≈ 3000)"
        ),
        "{error}"
    );
    // One part: the same rule is right, and the host accepts it.
    t.parts[0].quantity = 1;
    let o = dispatch("forgetful-billing", ev, t);
    assert!(o.is_applied(), "{:?}", o.status);
}
