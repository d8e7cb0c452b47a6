//! `docket serve` end to end, as a separate process on loopback: per-tenant
//! auth on every endpoint, bad input, and a crash (SIGKILL) in the middle of
//! a stream of ticket events and timers.

#[path = "support/http.rs"]
mod http;
#[path = "support/server.rs"]
mod server;

use docket_guests as builtin;
use http::*;
use server::{ADMIN, Server, client as agent};
use std::time::{Duration, Instant};

#[test]
fn tenants_never_reach_each_other() {
    let data = temp_dir("auth");
    let srv = Server::start(&data);
    let base = srv.base.clone();
    let key_a = create_tenant(&base, "alpha");
    let key_b = create_tenant(&base, "beta");
    install(
        &base,
        "alpha",
        &key_a,
        "routing",
        builtin::plugin("routing").unwrap(),
    );
    pipeline(
        &base,
        "alpha",
        &key_a,
        serde_json::json!([{ "plugin": "routing" }]),
    );
    let (s, _) = json(
        "POST",
        &format!("{base}/v1/tenants/alpha/tickets/A-1"),
        Some(&key_a),
        new_ticket(),
    );
    assert_eq!(s, 201);

    let routing = builtin::plugin("routing").unwrap();
    let t = serde_json::json!([]);
    // Every tenant endpoint, with a body that would succeed for the owner.
    let endpoints: Vec<(&str, String, Option<Vec<u8>>)> = vec![
        ("GET", "/v1/tenants/alpha".into(), None),
        ("POST", "/v1/tenants/alpha/keys".into(), Some(b"".to_vec())),
        ("PUT", "/v1/tenants/alpha/calendars".into(), Some(t.to_string().into_bytes())),
        ("PUT", "/v1/tenants/alpha/agents".into(), Some(t.to_string().into_bytes())),
        ("PUT", "/v1/tenants/alpha/pipeline".into(), Some(serde_json::json!([{ "plugin": "routing" }]).to_string().into_bytes())),
        ("GET", "/v1/tenants/alpha/plugins".into(), None),
        ("POST", "/v1/tenants/alpha/plugins/routing".into(), Some(routing.to_vec())),
        ("GET", "/v1/tenants/alpha/plugins/routing".into(), None),
        ("POST", "/v1/tenants/alpha/plugins/routing/activate".into(), Some(b"{\"version\":1}".to_vec())),
        ("POST", "/v1/tenants/alpha/plugins/routing/rollback".into(), Some(b"".to_vec())),
        ("DELETE", "/v1/tenants/alpha/plugins/routing".into(), None),
        ("POST", "/v1/tenants/alpha/tickets/A-2".into(), Some(new_ticket().to_string().into_bytes())),
        ("GET", "/v1/tenants/alpha/tickets/A-1".into(), None),
        ("PATCH", "/v1/tenants/alpha/tickets/A-1".into(), Some(b"{\"priority\":\"high\"}".to_vec())),
        ("POST", "/v1/tenants/alpha/tickets/A-1/comments".into(), Some(b"{\"author\":\"a\",\"author_kind\":\"agent\",\"body\":\"hi\"}".to_vec())),
        ("POST", "/v1/tenants/alpha/tickets/A-1/status".into(), Some(b"{\"status\":\"open\"}".to_vec())),
        ("POST", "/v1/tenants/alpha/tickets/A-1/assign".into(), Some(b"{\"group\":\"g\"}".to_vec())),
        ("POST", "/v1/tenants/alpha/tickets/A-1/time".into(), Some(b"{\"agent\":\"a\",\"work_type\":\"onsite\",\"started_at\":\"2026-11-23T09:00:00Z\",\"minutes\":30}".to_vec())),
        ("POST", "/v1/tenants/alpha/tickets/A-1/parts".into(), Some(b"{\"sku\":\"s\",\"description\":\"d\",\"quantity\":1,\"unit_price_minor\":100,\"currency\":\"EUR\"}".to_vec())),
        ("GET", "/v1/tenants/alpha/audit".into(), None),
    ];
    for (method, path, body) in &endpoints {
        let url = format!("{base}{path}");
        let ct = if path.contains("/plugins/routing")
            && *method == "POST"
            && !path.ends_with("activate")
            && !path.ends_with("rollback")
        {
            "application/wasm"
        } else {
            "application/json"
        };
        let (s, b) = call(method, &url, Some(&key_b), body.as_deref(), ct);
        assert_eq!(s, 404, "{method} {path} with another tenant's key: {b}");
        assert_eq!(b["error"]["code"], "not_found", "{method} {path}");
        let (s, b) = call(method, &url, None, body.as_deref(), ct);
        assert_eq!(s, 401, "{method} {path} without a key: {b}");
        let (s, _) = call(method, &url, Some("dk_alpha_forged"), body.as_deref(), ct);
        assert_eq!(s, 401, "{method} {path} with a forged key");
    }
    // Admin endpoints refuse tenant keys.
    let (s, _) = json(
        "POST",
        &format!("{base}/v1/tenants"),
        Some(&key_a),
        serde_json::json!({ "id": "gamma" }),
    );
    assert_eq!(s, 403);
    let (s, _) = call("GET", &format!("{base}/v1/tenants"), Some(&key_b), None, "");
    assert_eq!(s, 403);
    // The owner still has its ticket, untouched by beta's attempts.
    let (s, b) = call(
        "GET",
        &format!("{base}/v1/tenants/alpha/tickets/A-1"),
        Some(&key_a),
        None,
        "",
    );
    assert_eq!(s, 200);
    assert_eq!(
        b["history"].as_array().unwrap().len(),
        1,
        "only alpha's own event: {b}"
    );
    // Beta's audit log is empty.
    let (_, b) = call(
        "GET",
        &format!("{base}/v1/tenants/beta/audit"),
        Some(&key_b),
        None,
        "",
    );
    assert_eq!(b["entries"].as_array().unwrap().len(), 0);
}

/// An operator changes a tenant's limits after creation: with the admin
/// key only, validated, refused whole when a stored plugin would no longer
/// install, and in force from the next event.
#[test]
fn limits_change_after_creation_through_the_admin_only() {
    let data = temp_dir("limits");
    let srv = Server::start(&data);
    let base = srv.base.clone();
    let key = routed_tenant(&base, "acme");
    let url = format!("{base}/v1/tenants/acme/limits");
    let tenant = format!("{base}/v1/tenants/acme");
    let before = get_ok(&tenant, &key)["limits"].clone();
    let create = |id: &str| {
        let (s, b) = json(
            "POST",
            &format!("{tenant}/tickets/{id}"),
            Some(&key),
            new_ticket(),
        );
        assert_eq!(s, 201, "{b}");
        b
    };
    assert!(create("L-1")["trace"][0]["error"].is_null());

    // A tenant cannot change its own limits.
    let (s, b) = json(
        "PUT",
        &url,
        Some(&key),
        serde_json::json!({ "fuel": 1_000_000_000 }),
    );
    assert_eq!(s, 403, "{b}");
    // Invalid limits are refused, naming the field.
    for (body, names) in [
        (serde_json::json!({ "fuel": 0 }), "limits.fuel"),
        (
            serde_json::json!({ "plugins": { "routing": { "memory_bytes": 1024 } } }),
            "limits.plugins.routing.memory_bytes",
        ),
        (serde_json::json!({ "fuels": 5 }), "fuels"),
    ] {
        let (s, b) = json("PUT", &url, Some(ADMIN), body.clone());
        assert!(s == 422 || s == 400, "{body}: {s} {b}");
        let message = b["error"]["message"].as_str().unwrap();
        assert!(message.contains(names), "{body}: {message}");
    }
    // Limits the installed routing plugin would not fit are refused whole,
    // the plugin named, even alongside an acceptable change.
    let (s, b) = json(
        "PUT",
        &url,
        Some(ADMIN),
        serde_json::json!({ "fuel": 5, "module_bytes": 1_000 }),
    );
    assert_eq!(s, 409, "{b}");
    assert_eq!(b["error"]["code"], "plugin_over_limits");
    let message = b["error"]["message"].as_str().unwrap();
    assert!(message.contains("plugin `routing`"), "{message}");
    assert_eq!(get_ok(&tenant, &key)["limits"], before);
    let (s, _) = json(
        "PUT",
        &format!("{base}/v1/tenants/nobody/limits"),
        Some(ADMIN),
        serde_json::json!({}),
    );
    assert_eq!(s, 404);

    // Too little fuel for routing: the next event runs under it (the step
    // is skipped, its error in the trace); fields left out are defaults.
    let (s, b) = json(
        "PUT",
        &url,
        Some(ADMIN),
        serde_json::json!({ "fuel": 1_000 }),
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["fuel"], 1_000);
    assert_eq!(b["timeout_ms"], before["timeout_ms"]);
    assert_eq!(get_ok(&tenant, &key)["limits"], b);
    let starved = create("L-2");
    assert!(
        starved["trace"][0].to_string().contains("fuel_exhausted"),
        "{starved}"
    );
    // A per-plugin override gives routing its fuel back; the tenant's
    // other limits stay as set.
    let (s, b) = json(
        "PUT",
        &url,
        Some(ADMIN),
        serde_json::json!({ "fuel": 1_000, "plugins": { "routing": { "fuel": 10_000_000 } } }),
    );
    assert_eq!(s, 200, "{b}");
    assert!(create("L-3")["trace"][0]["error"].is_null());
    // A restart keeps them.
    drop(srv);
    let srv = Server::start(&data);
    let again = get_ok(&format!("{}/v1/tenants/acme", srv.base), &key);
    assert_eq!(again["limits"], b);
}

#[test]
fn bad_input_gets_a_clear_4xx_and_writes_nothing() {
    let data = temp_dir("bad-input");
    let srv = Server::start(&data);
    let base = srv.base.clone();
    let key = routed_tenant(&base, "acme");
    let tickets = format!("{base}/v1/tenants/acme/tickets");

    let (s, b) = call(
        "POST",
        &format!("{tickets}/T-1"),
        Some(&key),
        Some(b"{\"subject\": "),
        "application/json",
    );
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("bad_request")),
        "malformed JSON: {b}"
    );
    // An array of the fields in order is not the object the schema names.
    let (s, b) = json(
        "POST",
        &format!("{tickets}/T-1/assign"),
        Some(&key),
        serde_json::json!([null, null]),
    );
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (422, Some("invalid_body")),
        "an array for an object: {b}"
    );
    let mut unknown = new_ticket();
    unknown["colour"] = "red".into();
    let (s, b) = json("POST", &format!("{tickets}/T-1"), Some(&key), unknown);
    assert_eq!(s, 422);
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `colour`"),
        "{b}"
    );
    let (s, b) = json(
        "POST",
        &format!("{tickets}/T-1"),
        Some(&key),
        serde_json::json!({ "subject": "x", "requester": { "id": "r" }, "priority": "soon" }),
    );
    assert_eq!(s, 422);
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown priority `soon`"),
        "{b}"
    );
    // The server may answer 413 and close before a client has written the
    // whole 9 MiB; a raw client stops writing then and still reads the answer.
    let (s, b) = post_oversized(&format!("{tickets}/T-1"), &key, 9 << 20);
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (413, Some("body_too_large"))
    );
    let (s, _) = call("GET", &format!("{tickets}/T-1"), Some(&key), None, "");
    assert_eq!(s, 404, "no half-written ticket");

    let (s, b) = json(
        "POST",
        &format!("{base}/v1/tenants/nobody/tickets/T-1"),
        Some(ADMIN),
        new_ticket(),
    );
    assert_eq!((s, b["error"]["code"].as_str()), (404, Some("not_found")));
    let (s, _) = json(
        "POST",
        &format!("{tickets}/T-1"),
        Some("wrong"),
        new_ticket(),
    );
    assert_eq!(s, 401);
    let (s, b) = json(
        "PATCH",
        &format!("{tickets}/T-404"),
        Some(&key),
        serde_json::json!({ "priority": "high" }),
    );
    assert_eq!(s, 404, "{b}");

    // Invalid plugin bytes: 422 naming the error kind, no version stored.
    let (s, b) = call(
        "POST",
        &format!("{base}/v1/tenants/acme/plugins/junk"),
        Some(&key),
        Some(b"\0asm garbage"),
        "application/wasm",
    );
    assert_eq!(s, 422);
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid_wasm"),
        "{b}"
    );
    let (_, b) = call(
        "GET",
        &format!("{base}/v1/tenants/acme/plugins"),
        Some(&key),
        None,
        "",
    );
    assert!(b["plugins"].get("junk").is_none(), "{b}");
    // No-code rules that do not compile: 422 naming line and column.
    let (s, b) = call(
        "POST",
        &format!("{base}/v1/tenants/acme/plugins/rules"),
        Some(&key),
        Some(b"[[routing.rule]]\ngroup = \"x\"\nwhen = 'ticket.urgncy == 1'\n"),
        "application/toml",
    );
    assert_eq!(s, 422, "{b}");
    let message = b["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("invalid_rules") || message.contains("invalid rules"),
        "{b}"
    );
    assert!(message.contains("rules.toml:3:16"), "{b}");
    // Wasm sent as TOML: 415.
    let (s, b) = call(
        "POST",
        &format!("{base}/v1/tenants/acme/plugins/rules"),
        Some(&key),
        Some(b"\0asm\x01\0\0\0"),
        "application/toml",
    );
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (415, Some("content_type_mismatch"))
    );
    // A valid document is compiled on upload and routes like any plugin.
    let rules = b"[[routing.rule]]\nwhen = 'ticket.category == \"software\"'\ngroup = \"toml-{requester.region ?? \\\"none\\\"}\"\n";
    let (s, b) = call(
        "POST",
        &format!("{base}/v1/tenants/acme/plugins/rules"),
        Some(&key),
        Some(rules),
        "application/toml",
    );
    assert_eq!(s, 201, "{b}");
    let (s, b) = json(
        "POST",
        &format!("{base}/v1/tenants/acme/plugins/rules/activate"),
        Some(&key),
        serde_json::json!({ "version": 1 }),
    );
    assert_eq!(s, 200, "{b}");
    pipeline(
        &base,
        "acme",
        &key,
        serde_json::json!([{ "plugin": "rules" }]),
    );
    let (s, b) = json(
        "POST",
        &format!("{tickets}/T-TOML"),
        Some(&key),
        new_ticket(),
    );
    assert!(s == 200 || s == 201, "{s} {b}");
    let (_, b) = call("GET", &format!("{tickets}/T-TOML"), Some(&key), None, "");
    assert_eq!(b["ticket"]["group"], "toml-emea", "{b}");
    pipeline(
        &base,
        "acme",
        &key,
        serde_json::json!([{ "plugin": "routing" }]),
    );

    // Bad pipeline or settings: refused, the old pipeline stays.
    let (s, _) = json(
        "PUT",
        &format!("{base}/v1/tenants/acme/pipeline"),
        Some(&key),
        serde_json::json!([{ "plugin": "ghost" }]),
    );
    assert_eq!(s, 404);
    let (s, b) = json(
        "PUT",
        &format!("{base}/v1/tenants/acme/pipeline"),
        Some(&key),
        serde_json::json!([{ "plugin": "routing", "settings": { "max_open": 2.5 } }]),
    );
    assert_eq!(s, 422);
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("floats are not allowed"),
        "{b}"
    );
    let (s, b) = json(
        "PUT",
        &format!("{base}/v1/tenants/acme/pipeline"),
        Some(&key),
        serde_json::json!([{ "plugin": "routing", "events": ["create"] }]),
    );
    assert_eq!(s, 422);
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown variant `create`"),
        "{b}"
    );
    let (_, b) = call(
        "GET",
        &format!("{base}/v1/tenants/acme"),
        Some(&key),
        None,
        "",
    );
    assert_eq!(
        b["pipeline"],
        serde_json::json!([{ "plugin": "routing", "settings": {}, "on_failure": "skip" }])
    );
    let (s, b) = json(
        "PUT",
        &format!("{base}/v1/tenants/acme/calendars"),
        Some(&key),
        serde_json::json!([{ "name": "x", "timezone": "Mars/Base", "hours": { "mon": "09:00-17:00" } }]),
    );
    assert_eq!(s, 422);
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown time zone"),
        "{b}"
    );
    let (s, _) = json(
        "POST",
        &format!("{base}/v1/tenants"),
        Some(ADMIN),
        serde_json::json!({ "id": "Bad Name!" }),
    );
    assert_eq!(s, 400);
    let (s, _) = json(
        "POST",
        &format!("{base}/v1/tenants"),
        Some(ADMIN),
        serde_json::json!({ "id": "acme" }),
    );
    assert_eq!(s, 409);
    let (s, b) = call("GET", &format!("{base}/openapi.json"), None, None, "");
    assert_eq!(s, 200);
    assert_eq!(b["openapi"], "3.1.0");
}

/// POSTs a JSON body of `size` bytes over a raw connection, stopping at the
/// first failed write (the server refused the body); (status, JSON body).
fn post_oversized(url: &str, key: &str, size: usize) -> (u16, serde_json::Value) {
    use std::io::{Read, Write};
    let rest = url.trim_start_matches("http://");
    let (addr, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let limit = Some(std::time::Duration::from_secs(10));
    stream.set_write_timeout(limit).unwrap();
    stream.set_read_timeout(limit).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let chunk = vec![b'x'; 64 << 10];
    let mut sent = 0;
    while sent < size && stream.write_all(&chunk).is_ok() {
        sent += chunk.len();
    }
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (
        status,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

/// Ticket ids and idempotency keys of the crash test's stream.
fn crash_ticket(i: usize) -> (String, String) {
    (format!("C-{i}"), format!("create-C-{i}"))
}

/// Creates crash-test ticket `i` with its idempotency key; `None` if the
/// connection failed (the server died).
fn send(base: &str, key: &str, i: usize) -> Option<u16> {
    let (id, idem) = crash_ticket(i);
    let r = agent()
        .post(&format!("{base}/v1/tenants/acme/tickets/{id}"))
        .header("Authorization", &format!("Bearer {key}"))
        .header("Idempotency-Key", &idem)
        .header("content-type", "application/json")
        .send(new_ticket().to_string().as_bytes());
    r.ok().map(|r| r.status().as_u16())
}

#[test]
fn sigkill_mid_stream_loses_nothing_and_applies_nothing_twice() {
    let data = temp_dir("crash");
    let srv = Server::start(&data);
    let base = srv.base.clone();
    let key = tenant_running(
        &base,
        "acme",
        "pinger",
        builtin::hostile_plugin(),
        serde_json::json!({ "mode": "ping", "ping_ms": 400 }),
    );

    const N: usize = 80;
    // Stream in a thread; kill the server while it runs.
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let streamer = {
        let acked = acked.clone();
        let base = base.clone();
        let key = key.clone();
        std::thread::spawn(move || {
            for i in 0..N {
                match send(&base, &key, i) {
                    Some(201) => acked.lock().unwrap().push(i),
                    Some(other) => panic!("ticket {i}: status {other}"),
                    None => break, // the server died under us
                }
            }
        })
    };
    let started = Instant::now();
    while acked.lock().unwrap().len() < N / 2 && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    srv.kill();
    streamer.join().unwrap();
    let acked_before_crash = acked.lock().unwrap().clone();
    assert!(
        acked_before_crash.len() >= N / 2 && acked_before_crash.len() < N,
        "the kill landed mid-stream: {}",
        acked_before_crash.len()
    );

    // Restart; the client retries everything not acknowledged, with the same keys.
    let srv = Server::start(&data);
    let base = srv.base.clone();
    for i in 0..N {
        if !acked_before_crash.contains(&i) {
            assert_eq!(send(&base, &key, i), Some(201), "ticket {i}");
        }
    }
    // A retry of an acknowledged event is answered from the store, not applied again.
    assert_eq!(send(&base, &key, acked_before_crash[0]), Some(201));

    // Every timer (including those due while the server was down) fires once.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pending: usize = (0..N)
            .filter(|i| {
                let (_, b) = call(
                    "GET",
                    &format!("{base}/v1/tenants/acme/tickets/{}", crash_ticket(*i).0),
                    Some(&key),
                    None,
                    "",
                );
                b["timers"].as_array().is_none_or(|t| !t.is_empty())
            })
            .count();
        if pending == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} tickets still have timers"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    for i in 0..N {
        let (id, _) = crash_ticket(i);
        let (s, b) = call(
            "GET",
            &format!("{base}/v1/tenants/acme/tickets/{id}"),
            Some(&key),
            None,
            "",
        );
        assert_eq!(s, 200, "ticket {id} exists");
        let kinds: Vec<&str> = b["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            vec!["created", "timer_fired"],
            "ticket {id}: exactly one creation and one timer"
        );
        let tags: Vec<&str> = b["ticket"]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert_eq!(tags, vec!["pinged"], "ticket {id}");
    }
    let (_, b) = call(
        "GET",
        &format!("{base}/v1/tenants/acme/audit?limit=1000"),
        Some(&key),
        None,
        "",
    );
    assert_eq!(
        b["entries"].as_array().unwrap().len(),
        2 * N,
        "no event recorded twice"
    );
}
