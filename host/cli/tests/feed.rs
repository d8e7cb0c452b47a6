//! The pull feed (`GET /v1/tenants/{t}/events`): every applied event's
//! messages once, in commit order, resumable from any cursor, long-polled,
//! with stable ids; bad queries are 400s.

#[path = "support/http.rs"]
mod http;
#[path = "support/server.rs"]
mod server;

use http::*;
use server::Server;
use std::time::{Duration, Instant};

/// Notifies the duty manager of every new ticket, and tags it 300 ms
/// later from a timer.
const RULES: &str = r#"
[plugin]
name = "feed"

[escalation]
[[escalation.on]]
when = 'event.timer == "ping"'
actions = [{ add_tag = "pinged" }]

[[escalation.on]]
when = { event = "created" }
actions = [{ notify = { role = "duty-manager" }, topic = "new-ticket", message = "ticket {ticket.id} opened" }]
timers = [{ set = "ping", after = "300ms" }]
"#;

fn page(base: &str, key: &str, query: &str) -> (u16, serde_json::Value) {
    call(
        "GET",
        &format!("{base}/v1/tenants/acme/events?{query}"),
        Some(key),
        None,
        "",
    )
}

/// Creates T-1 with its idempotency key; the status.
fn create_t1(base: &str, key: &str) -> u16 {
    server::client()
        .post(&format!("{base}/v1/tenants/acme/tickets/T-1"))
        .header("Authorization", &format!("Bearer {key}"))
        .header("Idempotency-Key", "create-T-1")
        .header("content-type", "application/json")
        .send(new_ticket().to_string().as_bytes())
        .unwrap()
        .status()
        .as_u16()
}

fn kinds(page: &serde_json::Value) -> Vec<(u64, String, String)> {
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["seq"].as_u64().unwrap(),
                m["type"].as_str().unwrap().to_string(),
                m["event_id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn applied_events_reach_the_feed_once_in_order_and_a_waiting_reader_wakes() {
    let data = temp_dir("feed");
    let srv = Server::start(&data);
    let base = srv.base.clone();
    let key = create_tenant(&base, "acme");
    install_rules(&base, "acme", &key, "rules", RULES);
    pipeline(
        &base,
        "acme",
        &key,
        serde_json::json!([{ "plugin": "rules" }]),
    );

    // Nothing yet: an empty page, the cursor unchanged.
    let (s, empty) = page(&base, &key, "after=0");
    assert_eq!(s, 200, "{empty}");
    assert_eq!(empty, serde_json::json!({ "messages": [], "next": 0 }));

    // A reader waits on the empty feed; the creation wakes it.
    let waiting = {
        let (base, key) = (base.clone(), key.clone());
        std::thread::spawn(move || {
            let started = Instant::now();
            let (s, p) = page(&base, &key, "after=0&wait=20");
            (s, p, started.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(create_t1(&base, &key), 201);
    let (s, woken, waited) = waiting.join().unwrap();
    assert_eq!(s, 200, "{woken}");
    assert!(
        waited < Duration::from_secs(10),
        "the reader waited {waited:?}"
    );
    assert_eq!(
        kinds(&woken),
        [
            (1, "ticket.changed".into(), "create-T-1".into()),
            (2, "notification".into(), "create-T-1".into()),
        ]
    );
    let note = &woken["messages"][1];
    assert_eq!(
        note["data"]["notification"]["topic"], "new-ticket",
        "{note}"
    );
    assert_eq!(note["data"]["plugin"], "rules", "{note}");
    assert_eq!(woken["messages"][0]["data"]["ticket"]["id"], "T-1");
    assert_eq!(woken["next"], 2);

    // The retried creation is answered from the store and adds nothing;
    // the timer's event adds its own change, after the cursor.
    assert_eq!(create_t1(&base, &key), 201);
    let (s, later) = page(&base, &key, "after=2&wait=20");
    assert_eq!(s, 200, "{later}");
    let later = kinds(&later);
    assert_eq!(later.len(), 1, "{later:?}");
    assert_eq!((later[0].0, later[0].1.as_str()), (3, "ticket.changed"));
    assert!(later[0].2.starts_with("timer:T-1:rules:ping:"), "{later:?}");

    // Resumable from any cursor, with the same ids every time.
    let (_, all) = page(&base, &key, "after=0");
    let (_, from_one) = page(&base, &key, "after=1&limit=1");
    assert_eq!(all["messages"].as_array().unwrap().len(), 3);
    assert_eq!(from_one["messages"][0], all["messages"][1]);
    assert_eq!(from_one["next"], 2);
    assert_eq!(all["messages"][0], woken["messages"][0], "stable");
    let ids: std::collections::HashSet<&str> = all["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "distinct ids");

    // Bad queries and other tenants' keys.
    for (query, what) in [
        ("wait=31", "wait"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("after=-1", "after"),
        ("after=abc", "after"),
        ("after=9223372036854775808", "after"),
        ("cursor=1", "cursor"),
    ] {
        let (s, b) = page(&base, &key, query);
        assert_eq!(s, 400, "{query}: {b}");
        assert!(
            b["error"]["message"].as_str().unwrap().contains(what),
            "{query}: {b}"
        );
    }
    let other = create_tenant(&base, "other");
    assert_eq!(page(&base, &other, "after=0").0, 404);
    assert_eq!(page(&base, "not-a-key", "after=0").0, 401);
}
