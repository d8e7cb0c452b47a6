//! The no-code compiler: the TOML twins of the example plugins against the
//! Rust SDK plugins on generated events (differential), every error path of
//! the compiler, and generated documents that must compile to valid modules.

use docket_engine::contract::Capability;
use docket_engine::plugin::Decision;
use docket_engine::types::{Context, Event, Ticket};
use docket_engine::{Limits, PluginError};
use docket_guests as builtin;
use docket_nocode as nocode;
use docket_tests::*;
use std::sync::OnceLock;

fn example_toml(name: &str) -> String {
    let path = format!(
        "{}/../example-rules/nocode/{name}.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn compiled(bytes: &[u8]) -> docket_engine::plugin::Plugin {
    docket()
        .compile(source(bytes), &Limits::default())
        .unwrap_or_else(|e| panic!("compile: {e}"))
        .0
}

/// The compiled TOML twin of an example.
fn twin(name: &str) -> docket_engine::plugin::Plugin {
    static CACHE: OnceLock<std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>> =
        OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let bytes = cache
        .lock()
        .unwrap()
        .entry(name.to_string())
        .or_insert_with(|| {
            nocode::compile(&example_toml(name), &format!("{name}.toml"))
                .unwrap_or_else(|e| panic!("{e}"))
                .component
        })
        .clone();
    compiled(&bytes)
}

fn call(
    plugin: &docket_engine::plugin::Plugin,
    cap: Capability,
    ev: &Event,
    t: &Ticket,
    ctx: &Context,
) -> Result<Decision, PluginError> {
    call_plugin(plugin, cap, (ev, t, ctx), &Limits::default()).0
}

/// Both plugins on one input: the same decision or the same failure kind.
fn same(name: &str, cap: Capability, ev: &Event, t: &Ticket, ctx: &Context) -> Decision {
    let rust = compiled(builtin::plugin(name).expect("builtin"));
    let toml = twin(name);
    let expected = call(&rust, cap, ev, t, ctx);
    let actual = call(&toml, cap, ev, t, ctx);
    match (&expected, &actual) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b, "{name} differs on\n{ev:?}\n{t:?}\n{ctx:?}");
            b.clone()
        }
        _ => panic!("{name}: rust {expected:?} vs toml {actual:?}"),
    }
}

mod routing {
    use super::*;
    use docket_engine::types::{Channel, EventKind, Priority};

    #[test]
    fn hand_picked_cases_match_the_rust_plugin() {
        let mut ctx = context(MONDAY);
        ctx.agents = vec![
            agent("ana", "field-service-emea", 2, 3, true),
            agent("bo", "field-service-emea", 1, 1, true),
            agent("cy", "senior-support", 4, 0, true),
            agent("di", "voice", 1, 9, true),
        ];
        let created = event(EventKind::Created, MONDAY);
        let t = ticket("T-1", "hardware", MONDAY);
        let d = same("routing", Capability::Routing, &created, &t, &ctx);
        let Decision::Routing(Some(r)) = d else {
            panic!("{d:?}")
        };
        assert_eq!(
            (r.group.as_str(), r.agent.as_deref()),
            ("field-service-emea", Some("bo"))
        );

        let mut vip = t.clone();
        vip.requester.tier = "vip".into();
        same("routing", Capability::Routing, &created, &vip, &ctx);
        vip.priority = Priority::Urgent;
        same("routing", Capability::Routing, &created, &vip, &ctx);

        let mut phone = t.clone();
        phone.channel = Channel::Phone;
        let d = same("routing", Capability::Routing, &created, &phone, &ctx);
        let Decision::Routing(Some(r)) = d else {
            panic!()
        };
        assert!(r.tags.contains(&"overflow".to_string()), "{r:?}");

        let mut none = t.clone();
        none.category = None;
        none.requester.region = None;
        same("routing", Capability::Routing, &created, &none, &ctx);
        let comment = agent_reply(MONDAY);
        let d = same("routing", Capability::Routing, &comment, &t, &ctx);
        assert_eq!(d, Decision::Routing(None));
        let update = event(EventKind::Updated(vec!["tier".into()]), MONDAY);
        same("routing", Capability::Routing, &update, &t, &ctx);
    }
}

/// Tickets carrying custom fields of every kind, valid or not.
mod arb_fields {
    use super::*;
    use docket_engine::types::*;
    use proptest::prelude::*;
    use proptest::sample::select;

    const KEYS: &[&str] = &[
        "device_model",
        "device_variant",
        "serial_number",
        "urgency",
        "photos_count",
        "under_warranty",
        "purchase_date",
        "fault_description",
        "resolution_code",
        "order_number",
        "order_value",
        "return_reason",
        "item_condition",
        "damage_photos",
        "refund_method",
        "refund_amount",
        "bogus",
    ];

    fn value() -> impl Strategy<Value = FieldValue> {
        let text = select(
            &[
                "AB123456",
                "ab123456",
                "AB1234567",
                "ORD-12345678",
                "ORD-1",
                "",
                "  ",
                "\u{a0}",
                "laptop",
                "imac",
                "x1-carbon",
                "pixel-8",
                "normal",
                "critical",
                "damaged",
                "repaired",
                "store-credit",
                "true",
                "3",
                "2024-02-29",
                "2023-02-29",
                "+202-01-01",
                "2024-13-01",
                "é",
                "wrong-item",
            ][..],
        )
        .prop_map(String::from);
        prop_oneof![
            text.clone().prop_map(FieldValue::Text),
            text.clone().prop_map(FieldValue::Choice),
            text.clone().prop_map(FieldValue::Date),
            (-3i64..14).prop_map(FieldValue::Integer),
            any::<bool>().prop_map(FieldValue::Checkbox),
            proptest::collection::vec(text, 0..3).prop_map(FieldValue::Choices),
            (select(&["EUR", "USD"][..]), 0i64..10_000).prop_map(|(c, a)| FieldValue::Money(
                Money {
                    amount_minor: a,
                    currency: c.into()
                }
            )),
            (0i64..1000, 0u8..4).prop_map(|(m, s)| FieldValue::Decimal(Decimal {
                mantissa: m,
                scale: s
            })),
            Just(FieldValue::Datetime(MONDAY)),
        ]
    }

    pub fn ticket() -> impl Strategy<Value = Ticket> {
        (
            arb::ticket(),
            proptest::option::of(select(&["hardware", "returns", "network"][..])),
            proptest::collection::vec((select(KEYS), value()), 0..9),
        )
            .prop_map(|(mut t, category, fields)| {
                t.category = category.map(String::from);
                t.fields = fields
                    .into_iter()
                    .map(|(k, value)| CustomField {
                        key: k.into(),
                        value,
                    })
                    .collect();
                t
            })
    }
}

mod differential {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn routing((ev, t, ctx) in arb::routing_input()) {
            same("routing", Capability::Routing, &ev, &t, &ctx);
        }

        #[test]
        fn escalation(
            ev in arb::event(),
            t in arb::ticket(),
            history in arb::history(),
            calendar in proptest::option::of(proptest::sample::select(&["business-hours", "24x7"][..])),
        ) {
            let mut ctx = context(MONDAY);
            ctx.history = history;
            ctx.settings = calendar
                .map(|c| docket_engine::types::Setting { key: "calendar".into(), value: docket_engine::types::FieldValue::Text(c.into()) })
                .into_iter()
                .collect();
            same("escalation", Capability::Escalation, &ev, &t, &ctx);
        }

        #[test]
        fn templates(ev in arb::event(), t in arb_fields::ticket()) {
            same("templates", Capability::Template, &ev, &t, &context(MONDAY));
        }

        #[test]
        fn billing((ev, t, ctx) in arb_billing::input()) {
            same("billing", Capability::Billing, &ev, &t, &ctx);
        }
    }
}

mod billing {
    use super::*;
    use docket_engine::types::{EventKind, FieldValue, Setting, Status};

    #[test]
    fn hand_picked_cases_match_the_rust_plugin() {
        let mut ctx = context(MONDAY);
        let mut t = ticket("T-1", "hardware", MONDAY);
        // Monday 07:30 UTC = 08:30 CET; 17:30 UTC = after hours; Saturday.
        t.time_entries = vec![
            time_entry("e1", "ana", "onsite", 1_795_419_000_000, 50),
            time_entry("e2", "bo", "remote", 1_795_455_000_000, 10),
            time_entry("e3", "ana", "emergency", 1_795_860_000_000, 61),
            time_entry("e4", "cy", "unknown-kind", 1_795_419_000_000, 200),
        ];
        t.time_entries[3].billable = false;
        t.parts = vec![part("SKU-1", 2, 4_999), part("SKU-2", 1, 120_000)];
        let ev = status_change(Status::Open, Status::Solved, MONDAY);
        let d = same("billing", Capability::Billing, &ev, &t, &ctx);
        let Decision::Billing(Some(b)) = d else {
            panic!("{d:?}")
        };
        assert_eq!(b.lines.len(), 5);
        assert_eq!(b.approvals.len(), 1);
        assert_eq!(b.commissions.len(), 3, "{:?}", b.commissions);

        ctx.settings = vec![
            Setting {
                key: "rate.remote".into(),
                value: FieldValue::Money(eur(10_000)),
            },
            Setting {
                key: "currency".into(),
                value: FieldValue::Text("USD".into()),
            },
            Setting {
                key: "manager.emea".into(),
                value: FieldValue::Text("mia".into()),
            },
        ];
        same("billing", Capability::Billing, &ev, &t, &ctx);
        let logged = event(EventKind::TimeLogged(t.time_entries[0].clone()), MONDAY);
        same(
            "billing",
            Capability::Billing,
            &logged,
            &t,
            &context(MONDAY),
        );
        let created = event(EventKind::Created, MONDAY);
        assert_eq!(
            same("billing", Capability::Billing, &created, &t, &ctx),
            Decision::Billing(None)
        );
    }
}

mod templates {
    use super::*;
    use docket_engine::types::{EventKind, FieldValue, Status};

    fn templates_of(
        plugin: &docket_engine::plugin::Plugin,
    ) -> Vec<docket_contract::bindings::exports::docket::plugin::template::TicketTemplate> {
        docket()
            .templates(plugin, &context(MONDAY), &Limits::default())
            .0
            .expect("templates")
    }

    #[test]
    fn the_forms_are_the_rust_plugins_forms() {
        let rust = compiled(builtin::plugin("templates").unwrap());
        assert_eq!(templates_of(&twin("templates")), templates_of(&rust));
    }

    #[test]
    fn hand_picked_cases_match_the_rust_plugin() {
        let ctx = context(MONDAY);
        let created = event(EventKind::Created, MONDAY);
        let t = ticket("T-1", "hardware", MONDAY);
        let d = same("templates", Capability::Template, &created, &t, &ctx);
        let Decision::Template(v) = d else { panic!() };
        assert!(!v.errors.is_empty() && !v.set_fields.is_empty(), "{v:?}");
        let t = with_field(t, "device_model", choice("laptop"));
        let t = with_field(t, "device_variant", choice("imac"));
        let t = with_field(t, "serial_number", FieldValue::Text("AB12345".into()));
        let t = with_field(t, "under_warranty", FieldValue::Checkbox(true));
        let t = with_field(t, "purchase_date", FieldValue::Date("2023-02-29".into()));
        let t = with_field(t, "photos_count", FieldValue::Integer(11));
        let t = with_field(t, "bogus", FieldValue::Integer(1));
        same("templates", Capability::Template, &created, &t, &ctx);
        let mut r = ticket("T-2", "returns", MONDAY);
        r.status = Status::Solved;
        let r = with_field(r, "order_value", FieldValue::Money(eur(1_000)));
        let r = with_field(r, "refund_amount", FieldValue::Money(eur(5_000)));
        let r = with_field(r, "return_reason", choice("damaged"));
        let d = same(
            "templates",
            Capability::Template,
            &status_change(Status::Open, Status::Solved, MONDAY),
            &r,
            &ctx,
        );
        let Decision::Template(v) = d else { panic!() };
        assert!(
            v.errors.iter().any(|e| e.message.contains("exceeds")),
            "{v:?}"
        );
    }
}

/// Every error the compiler reports: message, position (the marker's first
/// occurrence) and hint.
mod errors {
    use docket_nocode as nocode;

    const RULE: &str = "[[routing.rule]]\ngroup = \"g\"\n";

    #[track_caller]
    fn fails(doc: &str, marker: &str, message: &str, hint: Option<&str>) {
        let report = match nocode::compile(doc, "rules.toml") {
            Ok(_) => panic!("compiled, expected `{message}`:\n{doc}"),
            Err(r) => r,
        };
        let e = &report.errors[0];
        assert!(
            e.message.contains(message),
            "message `{}` lacks `{message}`\n{report}",
            e.message
        );
        if let Some(h) = hint {
            let got = e.hint.as_deref().unwrap_or("");
            assert!(got.contains(h), "hint `{got}` lacks `{h}`\n{report}");
        }
        let at = doc
            .find(marker)
            .unwrap_or_else(|| panic!("marker `{marker}` not in doc"));
        let before = &doc[..at];
        let line = before.matches('\n').count() + 1;
        let col = before[before.rfind('\n').map_or(0, |i| i + 1)..]
            .chars()
            .count()
            + 1;
        assert_eq!(
            report.first_position(),
            Some((line, col)),
            "position of `{marker}`\n{report}"
        );
        let text = report.to_string();
        assert!(text.contains(&format!("rules.toml:{line}:{col}")), "{text}");
    }

    fn when(cond: &str) -> String {
        format!("{RULE}when = '{cond}'\n")
    }

    #[test]
    fn toml_and_document_shape() {
        fails("[routing\n", "\n", "invalid TOML", None);
        fails(
            "[routng]\nx = 1\n",
            "routng",
            "unknown key `routng` in the document",
            Some("did you mean `routing`?"),
        );
        fails("[plugin]\nname = 3\n", "3", "name must be a string", None);
        fails(
            "[plugin]\n",
            "",
            "the document defines no rules",
            Some("add [[templates]]"),
        );
        fails("routing = 3\n", "3", "[routing] must be a table", None);
        fails(
            "[routing]\nwhen = true\n",
            "[routing]",
            "[routing] needs `rule`",
            None,
        );
        fails(
            "[[routing.rule]]\nreason = \"x\"\n",
            "[[routing.rule]]",
            "needs `group`",
            None,
        );
        fails(
            &format!("{RULE}gruop = \"x\"\n"),
            "gruop",
            "unknown key `gruop`",
            Some("did you mean `group`?"),
        );
        fails(
            "[settings]\nx = { integer = 1.5 }\n",
            "1.5",
            "must be a whole number",
            Some("no floats"),
        );
        fails(
            "[settings]\nx = { integer = 1, text = \"a\" }\n",
            "\"a\"",
            "more than one type",
            None,
        );
        fails(
            "[settings]\nx = { min = 1 }\n",
            "x",
            "needs a type and default",
            Some("max_open = { integer = 5 }"),
        );
        fails(
            "[settings]\nx = { text = \"a\", min = 1 }\n",
            "{ text",
            "`min` and `max` apply to integers",
            None,
        );
        fails(
            "[settings]\nx = 5\n",
            "5",
            "setting `x` must be a table",
            None,
        );
    }

    #[test]
    fn expression_syntax() {
        fails(
            &when("ticket.id # 1"),
            "#",
            "unexpected character `#`",
            None,
        );
        fails(
            &when("99999999999999999999 > 1"),
            "99999999999999999999",
            "number too large",
            None,
        );
        fails(
            &when("now - 3w > now"),
            "w > now",
            "unknown unit `w`",
            Some("15m, 24h or 7d"),
        );
        fails(
            &when("ticket.id == \"abc"),
            "\"abc",
            "unterminated string",
            None,
        );
        fails(
            &when("ticket.id == \"a{b\""),
            "{b",
            "unclosed `{`",
            Some("`{{`"),
        );
        fails(
            &when("ticket.id == \"a}b\""),
            "}b",
            "unmatched `}`",
            Some("`}}`"),
        );
        fails(&when(""), "'\n", "empty expression", None);
        fails(
            &when("ticket.id ticket.id"),
            "ticket.id'",
            "unexpected text after the expression",
            Some("`and` / `or`"),
        );
        fails(&when("(ticket.id == \"a\""), "'\n", "expected `)`", None);
        fails(
            &when("ticket.id =="),
            "'\n",
            "expression ends too early",
            None,
        );
        fails(
            &when("ticket. == 1"),
            "==",
            "expected a name after `.`",
            None,
        );
        fails(
            &when("ticket.id matches 3"),
            "3",
            "`matches` needs a regular expression string",
            None,
        );
        fails(
            &when("ticket.id matches \"{x}\""),
            "\"{x}\"",
            "cannot interpolate",
            None,
        );
        fails(
            &when("ticket.id matches \"(\""),
            "\"(\"",
            "invalid regular expression",
            None,
        );
        fails(&when(") == 1"), ")", "unexpected `)`", None);
        fails(&when("min(1, 2"), "'\n", "expected `,` or `)`", None);
    }

    #[test]
    fn names_and_types() {
        // The roster reaches the routing phase only; elsewhere it is an error,
        // never a silently empty list.
        fails(
            "[[escalation.on]]\nwhen = 'count(a in agents where a.available) == 0'\nactions = [{ add_tag = \"understaffed\" }]\n",
            "agents",
            "`agents` is only given to [routing] rules",
            Some("routing phase only"),
        );
        assert!(
            nocode::compile(&when("count(a in agents where a.available) > 0"), "r.toml").is_ok()
        );
        fails(
            &when("ticket.urgncy == 1"),
            "urgncy",
            "ticket has no field `urgncy`",
            None,
        );
        fails(
            &when("ticket.priorty == \"high\""),
            "priorty",
            "ticket has no field",
            Some("did you mean `priority`?"),
        );
        fails(
            &when("tikcet.id == \"x\""),
            "tikcet",
            "unknown name `tikcet`",
            Some("did you mean `ticket`?"),
        );
        fails(
            &when("ticket.priority == \"hihg\""),
            "\"hihg\"",
            "unknown priority `hihg`",
            Some("did you mean `high`?"),
        );
        fails(
            &when("ticket.priority == ticket.subject"),
            "ticket.subject",
            "expected a priority name, found computed text",
            None,
        );
        fails(
            &when("ticket.id == 3"),
            "ticket.id",
            "cannot compare text with a number",
            None,
        );
        fails(
            &when("ticket.subject.x == 1"),
            "x ==",
            "text has no field `x`",
            None,
        );
        fails(&when("event == 1"), "event", "`event` needs a field", None);
        fails(
            &when("event.knd == \"created\""),
            "knd",
            "event has no field `knd`",
            Some("did you mean `kind`?"),
        );
        fails(
            &when("event.comment == 1"),
            "comment",
            "`event.comment` needs a field",
            None,
        );
        fails(
            &when("event.comment.pubic"),
            "pubic",
            "comment has no field `pubic`",
            Some("did you mean `public`?"),
        );
        fails(
            &when("setting == 1"),
            "setting",
            "`setting` needs a name",
            None,
        );
        fails(
            &when("setting.max_opn > 1"),
            "max_opn",
            "unknown setting `max_opn`",
            Some("declare it under [settings]"),
        );
        fails(
            &when("row.team == \"a\""),
            "row",
            "`row` is only defined in a rule that names a `table`",
            None,
        );
        fails(
            &when("field.urgency == \"x\""),
            "urgency",
            "unknown field `urgency`",
            Some("[[templates.fields]]"),
        );
        fails(&when("field == 1"), "field", "`field` needs a key", None);
        fails(
            &when("ticket.subject + 1 == 2"),
            "ticket.subject + 1",
            "cannot apply `+` to text with a number",
            None,
        );
        fails(
            &when("-ticket.subject == 1"),
            "ticket.subject ==",
            "cannot negate text",
            None,
        );
        fails(
            &when("not ticket.subject"),
            "ticket.subject",
            "expected a condition (true/false), found text",
            None,
        );
        fails(
            &when("[1, 2] == 1"),
            "[1",
            "a list is only allowed after `in`",
            None,
        );
        fails(
            &when("ticket.subject in 3"),
            "ticket.subject in 3",
            "cannot look up text with a number",
            Some("`in` takes a list"),
        );
        fails(
            &when("ticket.created_at contains \"a\""),
            "ticket.created_at",
            "`contains` needs text or a list of text",
            None,
        );
        fails(
            &when("ticket.created_at starts_with \"a\""),
            "ticket.created_at",
            "expected text, found an instant",
            None,
        );
        fails(
            &when("(if true then 1 else \"a\") == 1"),
            "\"a\")",
            "both sides must have one type",
            None,
        );
        fails(
            &when("\"{ticket.requester}\" == \"x\""),
            "ticket.requester}",
            "cannot be written into text",
            None,
        );
        fails(
            &when("ticket.id < 3"),
            "ticket.id < 3",
            "cannot order text with a number",
            None,
        );
        fails(
            &when("ticket.category ?? 3 == \"a\""),
            "3",
            "expected text, found a number",
            None,
        );
        fails(
            &when("count(x in ticket.id where true) > 1"),
            "ticket.id where",
            "`count` iterates a list, found text",
            None,
        );
        fails(
            &when("count(ticket in history where true) > 1"),
            "count(",
            "`ticket` is already defined",
            None,
        );
    }

    #[test]
    fn functions_money_and_time() {
        fails(
            &when("min(1) == 1"),
            "min(1)",
            "`min` takes 2 arguments, found 1",
            None,
        );
        fails(
            &when("max(ticket.id, ticket.id) == \"a\""),
            "max(",
            "`max` needs numbers",
            None,
        );
        fails(
            &when("frobnicate(1) == 1"),
            "frobnicate",
            "unknown function `frobnicate`",
            None,
        );
        fails(
            &when("lenn(ticket.tags) == 1"),
            "lenn",
            "unknown function `lenn`",
            Some("did you mean `len`?"),
        );
        fails(
            &when("len(1) == 1"),
            "1)",
            "`len` needs text or a list",
            None,
        );
        fails(
            &when("is_empty(1)"),
            "1)",
            "`is_empty` needs text or a list",
            None,
        );
        fails(
            &when("mul_ratio(money(1, \"EUR\"), 1, 2, \"sideways\").amount > 0"),
            "\"sideways\"",
            "unknown rounding `sideways`",
            None,
        );
        fails(
            &when("mul_ratio(money(1, \"EUR\"), 1, 2, ticket.id).amount > 0"),
            "ticket.id).",
            "the rounding must be written out",
            None,
        );
        fails(
            &when("money(1, \"EUR\") / 2 == money(1, \"EUR\")"),
            "money(1, \"EUR\") / 2",
            "money cannot be divided",
            Some("mul_ratio"),
        );
        fails(
            &when("money(1, \"EUR\") > 1"),
            "money(1, \"EUR\") > 1",
            "cannot compare money with a number",
            Some("`x.amount`"),
        );
        fails(
            &when("lookup(\"nope\", \"x\", 1) == 1"),
            "\"nope\"",
            "unknown table `nope`",
            None,
        );
        fails(
            &when("has(field.a.b)"),
            "field.a.b",
            "has() takes a field",
            None,
        );
    }

    #[test]
    fn conditions() {
        fails(
            &format!("{RULE}when = {{ fild = \"x\" }}\n"),
            "{ fild",
            "a condition table needs",
            None,
        );
        fails(
            &format!("{RULE}when = {{ field = \"ticket.id\" }}\n"),
            "\"ticket.id\"",
            "names a field but no operator",
            Some("equals"),
        );
        fails(
            &format!("{RULE}when = {{ field = \"ticket.id\", equals = \"a\", in = [\"b\"] }}\n"),
            "[\"b\"]",
            "takes one operator",
            None,
        );
        fails(
            &format!("{RULE}when = {{ field = \"ticket.id\", equls = \"a\" }}\n"),
            "equls",
            "unknown key `equls`",
            Some("did you mean `equals`?"),
        );
        fails(
            &format!("{RULE}when = {{ field = \"1\", changed = true }}\n"),
            "\"1\"",
            "`changed` needs a field path",
            None,
        );
        fails(
            &format!("{RULE}when = {{ field = \"ticket.priority\", equals = \"hgh\" }}\n"),
            "\"hgh\"",
            "unknown priority `hgh`",
            Some("did you mean `high`?"),
        );
        fails(
            &format!("{RULE}when = {{ event = \"craeted\" }}\n"),
            "\"craeted\"",
            "unknown event kind `craeted`",
            Some("did you mean `created`?"),
        );
        fails(
            &format!("{RULE}when = {{ all = 3 }}\n"),
            "3",
            "the group must be an array",
            None,
        );
        fails(
            &format!("{RULE}when = 3.5\n"),
            "3.5",
            "a condition must be a table",
            None,
        );
    }

    #[test]
    fn decision_tables() {
        let table = |body: &str| format!("[tables.t]\n{body}\n{RULE}table = \"t\"\n");
        fails(
            &table("inputs = [\"ticket.id\"]\noutputs = [\"o\"]\nrows = [[\"a\"]]"),
            "[\"a\"]]",
            "needs 2 cells",
            None,
        );
        fails(
            &table(
                "hit = \"any\"\ninputs = [\"ticket.id\"]\noutputs = [\"o\"]\nrows = [[\"a\", \"b\"]]",
            ),
            "\"any\"",
            "unknown hit policy `any`",
            None,
        );
        fails(
            &table(
                "hit = \"priority\"\ninputs = [\"ticket.id\"]\noutputs = [\"o\"]\nrows = [[\"a\", \"b\"]]",
            ),
            "\"priority\"",
            "needs an output named `priority`",
            None,
        );
        fails(
            &table(
                "hit = \"unique\"\ninputs = [\"ticket.id\", \"ticket.subject\"]\noutputs = [\"o\"]\nrows = [[\"a\", \"*\", \"x\"], [\"a\", \"s\", \"y\"]]",
            ),
            "\"a\", \"s\"",
            "rows 1 and 2 of table `t` overlap",
            Some("exclusive"),
        );
        fails(
            &table(
                "inputs = [\"ticket.priority\"]\noutputs = [\"o\"]\nrows = [[\"urgnt\", \"x\"]]",
            ),
            "\"urgnt\"",
            "unknown priority `urgnt`",
            Some("did you mean `urgent`?"),
        );
        fails(
            &table("inputs = [\"ticket.id\"]\noutputs = [\"o\"]\nrows = [[3, \"x\"]]"),
            "3,",
            "cannot compare text with a number",
            None,
        );
        fails(
            &table("inputs = [\"ticket.id\"]\noutputs = [\"o\"]\nrows = [[\"a\", 1.5]]"),
            "1.5",
            "must be a whole number",
            None,
        );
        fails(
            &table("inputs = [\"ticket.id\"]\noutputs = [\"o\"]\nrows = []"),
            "\"o\"",
            "output `o` has no rows",
            None,
        );
        fails(
            &format!("{RULE}table = \"missing\"\n"),
            "\"missing\"",
            "unknown table `missing`",
            None,
        );
        fails(
            "[tables.t]\ninputs = [\"ticket.id\"]\noutputs = [\"team\"]\nrows = [[\"a\", \"b\"]]\n[[routing.rule]]\ntable = \"t\"\ngroup = \"{row.tema}\"\n",
            "tema",
            "table `t` has no output `tema`",
            Some("did you mean `team`?"),
        );
        fails(
            &table(
                "inputs = [\"ticket.created_at\"]\noutputs = [\"o\"]\nrows = [[\">= \\\"x\\\"\", \"a\"]]",
            ),
            ">=",
            "cannot order an instant with text",
            None,
        );
    }

    #[test]
    fn sections() {
        let billing = "[billing]\n[[billing.lines]]\n";
        fails(
            &format!(
                "{billing}kind = \"labour\"\nquantity = \"quantity(1)\"\nunit_price = 'money(1, \"EUR\")'\namount = 'money(1, \"EUR\")'\n"
            ),
            "\"labour\"",
            "unknown line kind `labour`",
            Some("did you mean `labor`?"),
        );
        fails(
            &format!("{billing}kind = \"fee\"\n"),
            "[[billing.lines]]",
            "needs `quantity`",
            None,
        );
        fails(
            &format!("{billing}kind = \"fee\"\nfor_each = \"ticket.parts\"\n"),
            "\"ticket.parts\"",
            "`for_each` reads like",
            None,
        );
        fails(
            &format!("{billing}kind = \"fee\"\nfor_each = \"t in ticket.tags\"\n"),
            "ticket.tags",
            "iterates a list of records",
            None,
        );
        fails(
            "[billing]\n[[billing.commissions]]\nper_key_of = \"labor\"\nbeneficiary = '\"x\"'\nrole = \"r\"\nbasis_points = 1\n",
            "\"labor\"",
            "no [[billing.lines]] is named `labor`",
            None,
        );
        fails(
            "[billing]\n[[billing.commissions]]\nbeneficiary = '\"x\"'\nrole = \"r\"\nbasis_points = 1\n",
            "[[billing.commissions]]",
            "needs `of`",
            None,
        );
        fails(
            "[billing]\n[[billing.approvals]]\nreason = \"x\"\n",
            "[[billing.approvals]]",
            "an approval needs `role`",
            None,
        );
        let esc = "[[escalation.on]]\n";
        fails(
            &format!("{esc}actions = [{{ add_tag = \"a\", raise_priority = '\"high\"' }}]\n"),
            "{ add_tag",
            "exactly one of",
            None,
        );
        fails(
            &format!("{esc}actions = [{{ notify = {{ boss = \"x\" }} }}]\n"),
            "boss",
            "unknown recipient `boss`",
            None,
        );
        fails(
            &format!("{esc}timers = [{{ set = \"k\" }}]\n"),
            "{ set",
            "needs one of at, after, after_business",
            None,
        );
        fails(
            &format!("{esc}timers = [{{ set = \"k\", after_business = \"60\" }}]\n"),
            "{ set",
            "`after_business` needs `calendar`",
            None,
        );
        fails(
            &format!("{esc}timers = [{{ set = \"k\", after = \"60\" }}]\n"),
            "60\"",
            "expected a duration, found a number",
            None,
        );
        fails(
            &format!(
                "{esc}sla = {{ calendar = '\"c\"', targets = {{ first_respons = \"60\" }} }}\n"
            ),
            "first_respons",
            "unknown SLA metric",
            Some("did you mean `first_response`?"),
        );
        fails(
            &format!(
                "{esc}sla = {{ calendar = '\"c\"', targets = {{}}, pause_on = [\"paused\"] }}\n"
            ),
            "\"paused\"",
            "unknown status `paused`",
            None,
        );
    }

    #[test]
    fn templates() {
        let form = |field: &str| {
            format!("[[templates]]\nid = \"f\"\n[[templates.fields]]\nkey = \"a\"\n{field}\n")
        };
        fails(
            &form("type = \"dropdwn\""),
            "\"dropdwn\"",
            "unknown field type `dropdwn`",
            Some("did you mean `dropdown`?"),
        );
        fails(
            &form("type = \"integer\"\nmin = 5\nmax = 1"),
            "\"integer\"",
            "`min` (5) is above `max` (1)",
            None,
        );
        fails(
            &form("type = \"text\"\nrequired = \"always\""),
            "\"always\"",
            "unknown requirement `always`",
            None,
        );
        fails(
            &form("type = \"dropdown\"\nchoices = [\"low\", \"critical\"]\ndefault = \"crtical\""),
            "\"crtical\"",
            "default `crtical` is not a choice",
            Some("did you mean `critical`?"),
        );
        fails(
            &form("type = \"text\"\ndepends_on = { parent = \"b\", options = {} }"),
            "{ parent",
            "`depends_on` applies to dropdown",
            None,
        );
        fails(
            &form("type = \"text\"\nvisible_when = { field = \"b\", any_of = [\"x\"] }"),
            "\"a\"",
            "refers to `b`, which is not a field",
            None,
        );
        fails(
            &form("type = \"regex\"\npattern = \"[\""),
            "\"[\"",
            "invalid regular expression",
            None,
        );
        fails(
            &form("type = \"decimal\"\ndefault = 1"),
            "1\n",
            "cannot have a default",
            None,
        );
        fails(
            &format!(
                "{}[[templates.fields]]\nkey = \"a\" # again\ntype = \"text\"\n",
                form("type = \"text\"")
            ),
            "\"a\" # again",
            "appears twice",
            None,
        );
        fails(
            &format!(
                "{}[[templates]]\nid = \"g\"\n[[templates.fields]]\nkey = \"a\"\ntype = \"integer\"\n",
                form("type = \"text\"")
            ),
            "\"a\"\ntype = \"integer\"",
            "is a integer here but a text in another template",
            None,
        );
        fails(
            &format!(
                "{}[[validation.rule]]\nwhen = 'field.b == \"x\"'\nfield = \"a\"\ncode = \"required\"\nmessage = \"m\"\n",
                form("type = \"text\"")
            ),
            "b ==",
            "unknown field `b`",
            None,
        );
        fails(
            &format!(
                "{}[[validation.rule]]\nwhen = 'field.a == \"x\"'\nfield = \"a\"\ncode = \"requird\"\nmessage = \"m\"\n",
                form("type = \"text\"")
            ),
            "\"requird\"",
            "unknown error code `requird`",
            Some("did you mean `required`?"),
        );
        fails(
            &form("type = \"text\"\nchoices = [\"a\"]"),
            "choices",
            "unknown key `choices`",
            None,
        );
        fails(
            &format!(
                "{}[routing]\nwhen = 'field.urgncy == \"x\"'\n[[routing.rule]]\ngroup = \"g\"\n",
                form("type = \"dropdown\"\nchoices = [\"x\"]")
                    .replace("key = \"a\"", "key = \"urgency\"")
            ),
            "urgncy",
            "unknown field `urgncy`",
            Some("did you mean `urgency`?"),
        );
    }
}

/// Generated documents: whatever the compiler accepts must become a module
/// that validates, links and runs (a trap is allowed, a host error is not);
/// whatever it rejects must be a diagnostic inside the document.
mod generated {
    use super::*;
    use docket_engine::types::EventKind;
    use proptest::prelude::*;
    use proptest::sample::select;

    /// A condition; `agents` only where the host gives the roster (routing).
    fn leaf_bool(routing: bool) -> impl Strategy<Value = String> {
        let agents = if routing {
            "count(a in agents where a.available and a.level >= {n}) > 0"
        } else {
            "count(b in history where b.status == \"open\") + {n} > 2"
        };
        prop_oneof![
            select(&["low", "normal", "high", "urgent"][..])
                .prop_map(|p| format!("ticket.priority >= \"{p}\"")),
            select(&["vip", "standard"][..]).prop_map(|t| format!("requester.tier == \"{t}\"")),
            select(&["phone", "email"][..]).prop_map(|c| format!("ticket.channel != \"{c}\"")),
            Just("ticket.tags contains \"x\"".to_string()),
            Just("ticket.subject matches \"(?i)urgent|down\"".to_string()),
            Just("requester.region in [\"emea\", \"amer\"]".to_string()),
            Just("is_empty(ticket.category)".to_string()),
            Just("event.changed contains \"category\"".to_string()),
            Just("event.kind == \"created\"".to_string()),
            (0i64..5).prop_map(move |n| agents.replace("{n}", &n.to_string())),
            (0i64..4).prop_map(|n| format!("len(ticket.tags) + setting.n * {n} < 7")),
            Just("round_up(len(ticket.subject), 5) > setting.n".to_string()),
            Just("ticket.created_at > now - 24h".to_string()),
            Just("strip_prefix(ticket.subject, \"Re: \") starts_with \"S\"".to_string()),
        ]
    }

    fn bool_expr(routing: bool) -> impl Strategy<Value = String> {
        leaf_bool(routing).prop_recursive(3, 12, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) and ({b})")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) or ({b})")),
                inner.prop_map(|a| format!("not ({a})")),
            ]
        })
    }

    fn text_template() -> impl Strategy<Value = String> {
        select(
            &[
                "team-{requester.region ?? \"global\"}",
                "{ticket.category ?? \"none\"} for {requester.name}",
                "n={setting.n} p={ticket.priority}",
                "plain",
                "{max(len(ticket.tags), setting.n)} tags",
            ][..],
        )
        .prop_map(String::from)
    }

    fn document() -> impl Strategy<Value = String> {
        let rule = (
            bool_expr(true),
            text_template(),
            proptest::option::of(select(
                &[
                    "\"high\"",
                    "max(ticket.priority, \"normal\")",
                    "raise(ticket.priority)",
                ][..],
            )),
        );
        (
            proptest::collection::vec(rule, 1..4),
            bool_expr(false),
            0i64..9,
            any::<bool>(),
        )
            .prop_map(|(rules, esc, n, with_billing)| {
                let mut doc = format!("[settings]\nn = {{ integer = {n} }}\n\n[routing]\n");
                for (when, group, priority) in rules {
                    doc += &format!("[[routing.rule]]\nwhen = '{when}'\ngroup = \"{}\"\n", group.replace('"', "\\\""));
                    if let Some(p) = priority {
                        doc += &format!("priority = '{p}'\n");
                    }
                }
                doc += &format!("\n[[escalation.on]]\nwhen = '{esc}'\nactions = [{{ add_tag = \"t{n}\" }}, {{ when = 'setting.n > 3', raise_priority = '\"high\"' }}]\ntimers = [{{ set = \"k\", after = \"{n}h\" }}]\n");
                if with_billing {
                    doc += "\n[billing]\n[[billing.lines]]\nfor_each = \"p in ticket.parts\"\nkind = \"part\"\nquantity = \"quantity(p.quantity)\"\nunit_price = \"p.unit_price\"\namount = 'mul_ratio(p.unit_price, p.quantity * setting.n, 3, \"half_even\")'\n";
                }
                doc
            })
    }

    fn run_all(bytes: &[u8], doc: &str) {
        let plugin = docket()
            .compile(source(bytes), &Limits::default())
            .unwrap_or_else(|e| panic!("accepted document does not link: {e}\n{doc}"))
            .0;
        let mut t = ticket("T-1", "hardware", MONDAY);
        t.parts = vec![part("P-1", 2, 1_000)];
        let mut ctx = context(MONDAY);
        ctx.agents = vec![agent("a", "g", 2, 1, true)];
        for kind in [
            EventKind::Created,
            EventKind::Updated(vec!["category".into()]),
        ] {
            let ev = event(kind, MONDAY);
            for cap in plugin.info().capabilities.clone() {
                match call(&plugin, cap, &ev, &t, &ctx) {
                    Ok(_) | Err(PluginError::Trap { .. }) => {}
                    Err(e) => panic!("{cap}: {e}\n{doc}"),
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(150))]

        #[test]
        fn accepted_documents_compile_to_valid_modules(doc in document()) {
            let compiled = nocode::compile(&doc, "gen.toml").unwrap_or_else(|e| panic!("{e}\n{doc}"));
            wasmparser_validates(&compiled.module);
            run_all(&compiled.component, &doc);
        }

        #[test]
        fn damaged_documents_compile_or_explain(doc in document(), cut in any::<proptest::sample::Index>(), len in 1usize..4) {
            let at = cut.index(doc.len());
            let end = (at + len).min(doc.len());
            if !doc.is_char_boundary(at) || !doc.is_char_boundary(end) {
                return Ok(());
            }
            let damaged = format!("{}{}", &doc[..at], &doc[end..]);
            match nocode::compile(&damaged, "gen.toml") {
                Ok(compiled) => {
                    wasmparser_validates(&compiled.module);
                    run_all(&compiled.component, &damaged);
                }
                Err(report) => {
                    let e = &report.errors[0];
                    prop_assert!(!e.message.starts_with("internal compiler error"), "{report}");
                    prop_assert!(e.span.end <= damaged.len(), "{report}");
                    prop_assert!(report.to_string().contains("gen.toml:"), "{report}");
                }
            }
        }
    }

    fn wasmparser_validates(module: &[u8]) {
        wasmparser::Validator::new()
            .validate_all(module)
            .expect("emitted module validates");
    }
}

/// Features the example twins do not use, checked on their outputs.
mod features {
    use super::*;
    use docket_engine::types::{EventKind, FieldValue, Priority};

    fn plugin(doc: &str) -> docket_engine::plugin::Plugin {
        let c = nocode::compile(doc, "features.toml").unwrap_or_else(|e| panic!("{e}"));
        compiled(&c.component)
    }

    #[test]
    fn collect_tables_and_test_cells() {
        let p = plugin(
            r#"
[tables.keywords]
hit = "collect"
inputs = ["ticket.subject", "ticket.priority"]
outputs = ["tag"]
rows = [
  ['contains "refund"', "*", "money"],
  ['matches "(?i)^urgent"', "*", "rush"],
  ["*", ">= \"high\"", "hot"],
  ['starts_with "Re:"', "*", "reply"],
]

[tables.levels]
hit = "priority"
inputs = ["len(ticket.tags)"]
outputs = ["level", "priority"]
rows = [["*", "base", 1], [">= 2", "busy", 5], [">= 1", "some", 3]]

[[routing.rule]]
group = "g-{lookup(\"levels\", \"level\", \"none\")}"
tags = 'collect("keywords", "tag")'
skills = ["one", "two"]
reason = "{percent(money(1999, \"EUR\"), 15)}"
"#,
        );
        let mut t = ticket("T-1", "x", MONDAY);
        t.subject = "URGENT: refund please".into();
        t.priority = Priority::Urgent;
        t.tags = vec!["a".into(), "b".into()];
        let ev = event(EventKind::Created, MONDAY);
        let Decision::Routing(Some(r)) =
            call(&p, Capability::Routing, &ev, &t, &context(MONDAY)).unwrap()
        else {
            panic!()
        };
        assert_eq!(r.tags, ["money", "rush", "hot"]);
        assert_eq!(r.skills, ["one", "two"]);
        assert_eq!(r.group, "g-busy");
        assert_eq!(r.reason, "3.00 EUR");
        t.subject = "Re: hello".into();
        t.priority = Priority::Low;
        t.tags = vec!["a".into()];
        let Decision::Routing(Some(r)) =
            call(&p, Capability::Routing, &ev, &t, &context(MONDAY)).unwrap()
        else {
            panic!()
        };
        assert_eq!(r.tags, ["reply"]);
        assert_eq!(r.group, "g-some");
    }

    #[test]
    fn validation_sets_fields_when_conditions_hold() {
        let p = plugin(
            r#"
[[templates]]
id = "f"
[[templates.fields]]
key = "urgency"
type = "dropdown"
choices = ["normal", "critical"]
[[templates.fields]]
key = "escalated"
type = "checkbox"
[[templates.fields]]
key = "note"
type = "text"

[[validation.set]]
when = 'requester.tier == "vip"'
field = "urgency"
value = "critical"
[[validation.set]]
when = 'field.urgency == "critical"'
field = "escalated"
value = "true"
[[validation.set]]
field = "note"
value = "seen by rules for {requester.name}"
"#,
        );
        let mut t = ticket("T-1", "x", MONDAY);
        t.requester.tier = "vip".into();
        let t = with_field(t, "urgency", choice("critical"));
        let ev = event(EventKind::Created, MONDAY);
        let Decision::Template(v) =
            call(&p, Capability::Template, &ev, &t, &context(MONDAY)).unwrap()
        else {
            panic!()
        };
        assert!(v.errors.is_empty(), "{v:?}");
        let set: Vec<(String, FieldValue)> =
            v.set_fields.into_iter().map(|f| (f.key, f.value)).collect();
        assert_eq!(
            set,
            [
                ("urgency".into(), FieldValue::Choice("critical".into())),
                ("escalated".into(), FieldValue::Checkbox(true)),
                (
                    "note".into(),
                    FieldValue::Text("seen by rules for Customer c-1".into())
                ),
            ]
        );
    }
}

/// Loops nested in loops start over on every outer element.
#[test]
fn inner_loops_restart_for_every_element() {
    use docket_engine::types::Status;
    let doc = r#"
[billing]
[[billing.lines]]
for_each = "p in ticket.parts"
kind = "part"
description = '{count(t in ticket.tags where true)} tags, {if any(t in ticket.tags where t == "b") then "with b" else "no b"}'
quantity = "quantity(p.quantity)"
unit_price = "p.unit_price"
amount = "p.unit_price * p.quantity"
"#;
    let c = nocode::compile(doc, "loops.toml").unwrap_or_else(|e| panic!("{e}"));
    let p = compiled(&c.component);
    let mut t = ticket("T-1", "x", MONDAY);
    t.tags = vec!["a".into(), "b".into()];
    t.parts = vec![part("P-1", 1, 100), part("P-2", 2, 100), part("P-3", 1, 5)];
    let ev = status_change(Status::Open, Status::Solved, MONDAY);
    let Decision::Billing(Some(b)) =
        call(&p, Capability::Billing, &ev, &t, &context(MONDAY)).unwrap()
    else {
        panic!()
    };
    let descriptions: Vec<&str> = b.lines.iter().map(|l| l.description.as_str()).collect();
    assert_eq!(descriptions, ["2 tags, with b"; 3]);
}
