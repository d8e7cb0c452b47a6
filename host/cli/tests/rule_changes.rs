//! Changing rules safely over HTTP: simulate one event with a candidate in
//! place, backtest a candidate over the recorded events. A candidate that
//! changes one row of a routing table changes exactly the tickets that row
//! routes (computed here from the tickets themselves), and a no-code draft
//! with an error is refused with the error located, never a 500.

#[path = "support/http.rs"]
mod http;
#[path = "support/server.rs"]
mod server;

use http::*;
use server::Server;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const ROUTING: &str = include_str!("../../../example-rules/nocode/routing.toml");
/// The row the candidate changes, and what it becomes.
const ROW: &str = r#"["software", "it-support"],"#;
const CHANGED_ROW: &str = r#"["software", "app-support"],"#;

/// A deterministic mix of tickets: (id, tier, channel, region, category).
fn tickets() -> Vec<(
    String,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
)> {
    let tiers = ["standard", "vip", "standard", "gold"];
    let channels = ["web", "email", "phone", "web", "email"];
    let regions = ["emea", "amer", "apac"];
    let categories = [
        "software", "hardware", "network", "billing", "software", "misc",
    ];
    (0..60)
        .map(|i| {
            (
                format!("T-{i}"),
                tiers[i % tiers.len()],
                channels[i % channels.len()],
                regions[i % regions.len()],
                categories[(i / 2) % categories.len()],
            )
        })
        .collect()
}

/// Whether the changed row decides a ticket's creation: the rules before
/// the department table (VIP, phone, the region table) do not apply, and
/// its category is the row's.
fn routed_by_the_row(tier: &str, channel: &str, region: &str, category: &str) -> bool {
    let regional = matches!(
        (region, category),
        ("emea" | "amer" | "apac", "hardware") | ("emea" | "amer", "network")
    );
    tier != "vip" && channel != "phone" && !regional && category == "software"
}

fn agents() -> serde_json::Value {
    let agent = |id: &str, group: &str, level: u8| {
        serde_json::json!({ "id": id, "name": id, "group": group, "level": level,
            "skills": ["phone", "hardware", "network", "software"] })
    };
    serde_json::json!([
        agent("ana", "it-support", 2),
        agent("ben", "it-support", 2),
        agent("sara", "senior-support", 4),
        agent("tom", "voice", 2),
        agent("vic", "finance", 2),
        agent("gus", "general", 1),
    ])
}

#[test]
fn a_changed_routing_row_changes_exactly_the_tickets_it_routes() {
    let data = temp_dir("rule-changes");
    let srv = Server::start(&data);
    let base = &srv.base;
    let key = create_tenant(base, "acme");
    install_rules(base, "acme", &key, "routing", ROUTING);
    pipeline(
        base,
        "acme",
        &key,
        serde_json::json!([{ "plugin": "routing" }]),
    );
    let (s, b) = json(
        "PUT",
        &format!("{base}/v1/tenants/acme/agents"),
        Some(&key),
        agents(),
    );
    assert_eq!(s, 204, "{b}");

    let mut expected = BTreeSet::new();
    for (id, tier, channel, region, category) in tickets() {
        let body = serde_json::json!({
            "subject": format!("{category} trouble"), "category": category, "channel": channel,
            "requester": { "id": format!("c-{id}"), "name": "C", "tier": tier, "region": region },
        });
        let (s, b) = json(
            "POST",
            &format!("{base}/v1/tenants/acme/tickets/{id}"),
            Some(&key),
            body,
        );
        assert_eq!(s, 201, "{id}: {b}");
        // A comment: recorded too, and routed by nobody.
        let comment =
            serde_json::json!({ "author": "ana", "author_kind": "agent", "body": "on it" });
        let url = format!("{base}/v1/tenants/acme/tickets/{id}/comments");
        assert_eq!(json("POST", &url, Some(&key), comment).0, 200);
        if routed_by_the_row(tier, channel, region, category) {
            expected.insert(id);
        }
    }
    // Few enough that the report's samples list them all.
    assert_eq!(expected.len(), 8, "the mix exercises the row: {expected:?}");
    let audit_before = get_ok(&format!("{base}/v1/tenants/acme/audit?limit=1000"), &key)["entries"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(audit_before, 2 * tickets().len());

    let candidate = ROUTING.replace(ROW, CHANGED_ROW);
    assert_ne!(candidate, ROUTING);

    // Simulate: a new software ticket through both pipelines.
    let sim = serde_json::json!({
        "plugin": "routing",
        "candidate": { "rules": candidate },
        "ticket": "NEW-1",
        "event": { "event": "created", "data": {
            "subject": "App crashes", "category": "software",
            "requester": { "id": "c-new", "region": "apac" } } },
    });
    let (s, b) = json(
        "POST",
        &format!("{base}/v1/tenants/acme/simulate"),
        Some(&key),
        sim,
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["active"]["ticket"]["group"], "it-support", "{b}");
    assert_eq!(b["simulated"]["ticket"]["group"], "app-support", "{b}");
    let group = b["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "group");
    assert_eq!(
        group.map(|c| (c["before"].clone(), c["after"].clone())),
        Some(("it-support".into(), "app-support".into())),
        "{b}"
    );
    assert_eq!(b["candidate"]["version"], 0, "a draft is not installed");
    // Nothing was stored: no ticket, no audit entry.
    let (s, _) = call(
        "GET",
        &format!("{base}/v1/tenants/acme/tickets/NEW-1"),
        Some(&key),
        None,
        "",
    );
    assert_eq!(s, 404);

    // A draft with an error: 422 with the error located, not a 500.
    let broken = candidate.replace(
        r#"group = "{row.department}""#,
        r#"group = "{row.departmnt}""#,
    );
    let sim = serde_json::json!({
        "plugin": "routing", "candidate": { "rules": broken }, "ticket": "T-0",
        "event": { "event": "commented", "data": { "author": "a", "author_kind": "agent", "body": "x" } },
    });
    let (s, b) = json(
        "POST",
        &format!("{base}/v1/tenants/acme/simulate"),
        Some(&key),
        sim,
    );
    assert_eq!(s, 422, "{b}");
    assert_eq!(b["error"]["code"], "invalid_plugin", "{b}");
    let d = &b["error"]["diagnostics"][0];
    let line = broken
        .lines()
        .position(|l| l.contains("row.departmnt"))
        .unwrap()
        + 1;
    assert_eq!(d["line"], line, "{b}");
    assert!(d["column"].as_u64().unwrap() > 1, "{b}");
    assert!(
        d["hint"].as_str().is_some_and(|h| h.contains("department")),
        "the hint names the column meant: {b}"
    );

    // Backtest the changed row over everything recorded.
    let start = serde_json::json!({ "plugin": "routing", "candidate": { "rules": candidate } });
    let (s, b) = json(
        "POST",
        &format!("{base}/v1/tenants/acme/backtests"),
        Some(&key),
        start,
    );
    assert_eq!(s, 202, "{b}");
    let id = b["id"].as_str().unwrap().to_string();
    let url = format!("{base}/v1/tenants/acme/backtests/{id}");
    let deadline = Instant::now() + Duration::from_secs(120);
    let view = loop {
        let v = get_ok(&url, &key);
        if v["state"] != "running" {
            break v;
        }
        assert!(Instant::now() < deadline, "backtest still running: {v}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(view["state"], "done", "{view}");
    let report = &view["report"];
    assert_eq!(view["total"], audit_before, "{view}");
    assert_eq!(view["done"], audit_before, "{view}");
    assert_eq!(report["events"], audit_before, "{report}");
    assert_eq!(report["not_replayed"], 0, "{report}");
    assert_eq!(report["baseline_from_recording"], audit_before, "{report}");
    assert_eq!(report["changed"], expected.len(), "{report}");
    let by_kind = |kind: &str| {
        report["by_kind"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kind"] == kind)
            .map_or(0, |k| k["events"].as_u64().unwrap())
    };
    assert_eq!(by_kind("group"), expected.len() as u64, "{report}");
    assert_eq!(by_kind("priority"), 0, "{report}");
    let top = &report["top_changes"][0];
    assert_eq!(
        (
            top["kind"].as_str(),
            top["before"].as_str(),
            top["after"].as_str()
        ),
        (Some("group"), Some("it-support"), Some("app-support")),
        "{report}"
    );
    assert_eq!(top["events"], expected.len(), "{report}");
    assert_eq!(top["tickets"], expected.len(), "{report}");
    // The samples are the changed events, both outcomes side by side:
    // exactly the tickets the row routes.
    let samples = report["samples"].as_array().unwrap();
    let sampled: BTreeSet<String> = samples
        .iter()
        .map(|s| s["ticket"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(sampled, expected, "{report}");
    let assigned = |side: &serde_json::Value| {
        side["effects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["effect"] == "assign")
            .map(|e| e["group"].clone())
    };
    for sample in samples {
        assert_eq!(sample["active"]["status"], "applied", "{sample}");
        assert_eq!(
            assigned(&sample["active"]),
            Some("it-support".into()),
            "{sample}"
        );
        assert_eq!(
            assigned(&sample["candidate"]),
            Some("app-support".into()),
            "{sample}"
        );
    }

    // Errors are the caller's, named: an empty window, an unknown version,
    // an unknown backtest.
    let bad = serde_json::json!({ "plugin": "routing", "candidate": { "rules": candidate },
        "from": "2030-01-01T00:00:00Z", "until": "2029-01-01T00:00:00Z" });
    let (s, b) = json(
        "POST",
        &format!("{base}/v1/tenants/acme/backtests"),
        Some(&key),
        bad,
    );
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (422, Some("invalid_body")),
        "{b}"
    );
    let bad = serde_json::json!({ "plugin": "routing", "candidate": { "version": 9 } });
    let (s, b) = json(
        "POST",
        &format!("{base}/v1/tenants/acme/backtests"),
        Some(&key),
        bad,
    );
    assert_eq!(s, 404, "{b}");
    let (s, _) = call(
        "GET",
        &format!("{base}/v1/tenants/acme/backtests/bt_0000000000000000"),
        Some(&key),
        None,
        "",
    );
    assert_eq!(s, 404);
}
