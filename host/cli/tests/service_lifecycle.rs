//! `docket serve` as a process: idempotency keys bound to their request,
//! keys and tenants with a lifecycle, calendars that cannot be pulled from
//! under running SLA clocks, bounds on amounts, and errors that are JSON
//! everywhere.

#[path = "support/http.rs"]
mod http;
#[path = "support/server.rs"]
mod server;

use docket_guests as builtin;
use http::*;
use server::{ADMIN, Server};
use std::io::{Read, Write};
use std::sync::{Arc, Barrier};

fn tickets(base: &str, tenant: &str) -> String {
    format!("{base}/v1/tenants/{tenant}/tickets")
}

/// POSTs a JSON body with an idempotency key.
fn post_keyed(
    url: &str,
    key: &str,
    idempotency: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let mut resp = server::client()
        .post(url)
        .header("Authorization", &format!("Bearer {key}"))
        .header("Idempotency-Key", idempotency)
        .header("content-type", "application/json")
        .send(body.to_string().as_bytes())
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

fn code(b: &serde_json::Value) -> &str {
    b["error"]["code"].as_str().unwrap_or("")
}

#[test]
fn an_idempotency_key_answers_only_its_own_request() {
    let data = temp_dir("idempotency");
    let srv = Server::start(&data);
    let base = srv.base.clone();
    let key = routed_tenant(&base, "acme");
    let t = tickets(&base, "acme");

    let (s, first) = post_keyed(&format!("{t}/T-1"), &key, "k-1", &new_ticket());
    assert_eq!(s, 201, "{first}");
    // A retry of the same request: the stored outcome, byte for byte.
    let (s, again) = post_keyed(&format!("{t}/T-1"), &key, "k-1", &new_ticket());
    assert_eq!((s, &again), (201, &first));
    // The same key on another ticket, another body, another endpoint.
    let mut other_body = new_ticket();
    other_body["subject"] = "Something else".into();
    for (url, body) in [
        (format!("{t}/T-2"), new_ticket()),
        (format!("{t}/T-1"), other_body),
        (
            format!("{t}/T-1/comments"),
            serde_json::json!({ "author": "a", "author_kind": "agent", "body": "hi" }),
        ),
    ] {
        let (s, b) = post_keyed(&url, &key, "k-1", &body);
        assert_eq!((s, code(&b)), (422, "idempotency_key_reused"), "{url}: {b}");
        assert!(
            b["error"]["message"].as_str().unwrap().contains("`k-1`"),
            "{b}"
        );
    }
    let (s, _) = call("GET", &format!("{t}/T-2"), Some(&key), None, "");
    assert_eq!(
        s, 404,
        "the second ticket was not created under the reused key"
    );
}

#[test]
fn concurrent_requests_with_one_new_key_apply_once_and_never_500() {
    let data = temp_dir("idempotency-race");
    let srv = Server::start(&data);
    let base = srv.base.clone();
    // Each dispatch runs into its 100 ms deadline: a wide window for the race.
    let key = tenant_running(
        &base,
        "acme",
        "slow",
        builtin::hostile_plugin(),
        serde_json::json!({ "mode": "loop" }),
    );
    let t = tickets(&base, "acme");
    const N: usize = 6;
    // Different tickets (the case that used to hit the UNIQUE constraint),
    // then the same ticket from every thread.
    for same_ticket in [false, true] {
        let barrier = Arc::new(Barrier::new(N));
        let idem = format!("race-{same_ticket}");
        let threads: Vec<_> = (0..N)
            .map(|i| {
                let (barrier, url, key, idem) = (
                    barrier.clone(),
                    format!("{t}/R-{same_ticket}-{}", if same_ticket { 0 } else { i }),
                    key.clone(),
                    idem.clone(),
                );
                std::thread::spawn(move || {
                    barrier.wait();
                    post_keyed(&url, &key, &idem, &new_ticket())
                })
            })
            .collect();
        let answers: Vec<(u16, serde_json::Value)> =
            threads.into_iter().map(|h| h.join().unwrap()).collect();
        let applied = answers.iter().filter(|(s, _)| *s == 201).count();
        for (s, b) in &answers {
            assert!(
                *s == 201
                    || (*s == 409 && code(b) == "request_in_progress")
                    || (*s == 422 && code(b) == "idempotency_key_reused" && !same_ticket),
                "{s} {b}"
            );
        }
        assert!(applied >= 1, "{answers:?}");
        if !same_ticket {
            assert_eq!(applied, 1, "{answers:?}");
        }
        // Whatever answered, the event exists once.
        let (_, audit) = call(
            "GET",
            &format!("{base}/v1/tenants/acme/audit"),
            Some(&key),
            None,
            "",
        );
        let events = audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event_id"] == idem.as_str())
            .count();
        assert_eq!(events, 1, "{audit}");
    }
}

#[test]
fn keys_can_be_listed_revoked_and_rotated_and_tenants_deleted() {
    let data = temp_dir("keys");
    let srv = Server::start(&data);
    let base = srv.base.clone();
    let first = create_tenant(&base, "acme");
    let keys_url = format!("{base}/v1/tenants/acme/keys");
    let (s, b) = call(
        "POST",
        &keys_url,
        Some(&first),
        Some(b""),
        "application/json",
    );
    assert_eq!(s, 201, "{b}");
    let second = b["api_key"].as_str().unwrap().to_string();
    let second_id = b["id"].as_str().unwrap().to_string();

    let (s, list) = call("GET", &keys_url, Some(&first), None, "");
    assert_eq!(s, 200, "{list}");
    let listed = list["keys"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{list}");
    assert!(!list.to_string().contains(&first) && !list.to_string().contains(&second));
    assert!(listed.iter().any(|k| k["id"] == second_id.as_str()));
    let first_id = listed
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .find(|id| *id != second_id)
        .unwrap()
        .to_string();

    // Revoked: 401 at once, on every endpoint.
    let (s, _) = call(
        "DELETE",
        &format!("{keys_url}/{first_id}"),
        Some(&second),
        None,
        "",
    );
    assert_eq!(s, 204);
    for (method, path) in [
        ("GET", "/v1/tenants/acme"),
        ("GET", "/v1/tenants/acme/plugins"),
        ("GET", "/v1/tenants/acme/keys"),
        ("GET", "/v1/tenants/acme/audit"),
        ("POST", "/v1/tenants/acme/tickets/T-1"),
    ] {
        let body = new_ticket().to_string();
        let (s, b) = call(
            method,
            &format!("{base}{path}"),
            Some(&first),
            Some(body.as_bytes()),
            "application/json",
        );
        assert_eq!((s, code(&b)), (401, "unauthorized"), "{method} {path}: {b}");
    }
    let (s, _) = call(
        "DELETE",
        &format!("{keys_url}/{first_id}"),
        Some(&second),
        None,
        "",
    );
    assert_eq!(s, 404, "already revoked");

    // Rotated: the new secret works under the same id, the old one is refused.
    let (s, b) = call(
        "POST",
        &format!("{keys_url}/{second_id}/rotate"),
        Some(&second),
        Some(b""),
        "application/json",
    );
    assert_eq!(s, 201, "{b}");
    let third = b["api_key"].as_str().unwrap().to_string();
    assert_eq!(b["id"], second_id.as_str());
    let (s, _) = call(
        "GET",
        &format!("{base}/v1/tenants/acme"),
        Some(&second),
        None,
        "",
    );
    assert_eq!(s, 401);
    let (s, _) = call(
        "GET",
        &format!("{base}/v1/tenants/acme"),
        Some(&third),
        None,
        "",
    );
    assert_eq!(s, 200);

    // A tenant cannot delete itself; the admin can, and everything goes.
    install(
        &base,
        "acme",
        &third,
        "routing",
        builtin::plugin("routing").unwrap(),
    );
    pipeline(
        &base,
        "acme",
        &third,
        serde_json::json!([{ "plugin": "routing" }]),
    );
    let (s, _) = json(
        "POST",
        &format!("{}/T-1", tickets(&base, "acme")),
        Some(&third),
        new_ticket(),
    );
    assert_eq!(s, 201);
    let (s, _) = call(
        "DELETE",
        &format!("{base}/v1/tenants/acme"),
        Some(&third),
        None,
        "",
    );
    assert_eq!(s, 403);
    let (s, _) = call(
        "DELETE",
        &format!("{base}/v1/tenants/acme"),
        Some(ADMIN),
        None,
        "",
    );
    assert_eq!(s, 204);
    let (s, _) = call(
        "GET",
        &format!("{base}/v1/tenants/acme"),
        Some(&third),
        None,
        "",
    );
    assert_eq!(s, 401, "its keys went with it");
    let (s, _) = call(
        "GET",
        &format!("{base}/v1/tenants/acme"),
        Some(ADMIN),
        None,
        "",
    );
    assert_eq!(s, 404);
    // A tenant created again under the same id starts empty.
    let fresh = create_tenant(&base, "acme");
    let (s, _) = call(
        "GET",
        &format!("{}/T-1", tickets(&base, "acme")),
        Some(&fresh),
        None,
        "",
    );
    assert_eq!(s, 404);
    let (_, b) = call(
        "GET",
        &format!("{base}/v1/tenants/acme"),
        Some(&fresh),
        None,
        "",
    );
    assert_eq!(b["plugins"], serde_json::json!([]), "{b}");
    let (_, b) = call(
        "GET",
        &format!("{base}/v1/tenants/acme/audit"),
        Some(&fresh),
        None,
        "",
    );
    assert_eq!(b["entries"], serde_json::json!([]), "{b}");
    // And it survives a restart that way.
    drop(srv);
    let srv = Server::start(&data);
    let (s, b) = call(
        "GET",
        &format!("{}/v1/tenants/acme", srv.base),
        Some(&fresh),
        None,
        "",
    );
    assert_eq!((s, &b["plugins"]), (200, &serde_json::json!([])), "{b}");
}

fn calendar(name: &str, hours: &str) -> serde_json::Value {
    serde_json::json!({ "name": name, "timezone": "Europe/Berlin",
        "hours": { "mon": hours, "tue": hours, "wed": hours, "thu": hours, "fri": hours } })
}

#[test]
fn calendars_that_sla_clocks_run_on_cannot_be_removed() {
    let data = temp_dir("calendars");
    let srv = Server::start(&data);
    let base = srv.base.clone();
    let key = create_tenant(&base, "acme");
    let cal_url = format!("{base}/v1/tenants/acme/calendars");
    let put = |body: serde_json::Value| json("PUT", &cal_url, Some(&key), body);
    let (s, _) = put(serde_json::json!([
        calendar("business-hours", "09:00-17:00"),
        calendar("spare", "08:00-12:00")
    ]));
    assert_eq!(s, 204);
    install(
        &base,
        "acme",
        &key,
        "escalation",
        builtin::plugin("escalation").unwrap(),
    );
    pipeline(
        &base,
        "acme",
        &key,
        serde_json::json!([{ "plugin": "escalation", "settings": { "calendar": "business-hours" } }]),
    );
    let (s, b) = json(
        "POST",
        &format!("{}/T-1", tickets(&base, "acme")),
        Some(&key),
        new_ticket(),
    );
    assert_eq!(s, 201, "{b}");

    let (s, b) = put(serde_json::json!([calendar("spare", "08:00-12:00")]));
    assert_eq!((s, code(&b)), (409, "calendar_in_use"), "{b}");
    let message = b["error"]["message"].as_str().unwrap();
    assert!(message.contains("calendar `business-hours`"), "{message}");
    assert!(
        message.contains("SLA clock(s) on 1 ticket(s), e.g. `T-1`"),
        "{message}"
    );
    assert!(message.contains("pipeline step `escalation`"), "{message}");
    let (_, tenant) = call(
        "GET",
        &format!("{base}/v1/tenants/acme"),
        Some(&key),
        None,
        "",
    );
    assert_eq!(
        tenant["calendars"].as_array().unwrap().len(),
        2,
        "nothing changed: {tenant}"
    );

    // New hours under the same name, and an unused calendar removed: fine.
    let (s, b) = put(serde_json::json!([calendar(
        "business-hours",
        "08:00-18:00"
    )]));
    assert_eq!(s, 204, "{b}");
    let (s, b) = json(
        "PATCH",
        &format!("{}/T-1", tickets(&base, "acme")),
        Some(&key),
        serde_json::json!({ "priority": "high" }),
    );
    assert_eq!(s, 200, "existing tickets keep working: {b}");
}

#[test]
fn amounts_and_durations_out_of_range_are_refused() {
    let data = temp_dir("bounds");
    let srv = Server::start(&data);
    let base = srv.base.clone();
    let key = create_tenant(&base, "acme");
    let t = tickets(&base, "acme");
    let (s, _) = json("POST", &format!("{t}/T-1"), Some(&key), new_ticket());
    assert_eq!(s, 201);
    let part = |quantity: u64, price: i64| serde_json::json!({ "sku": "X", "description": "x", "quantity": quantity, "unit_price_minor": price, "currency": "EUR" });
    for (body, needle) in [
        (
            part(2, i64::MAX),
            "unit_price_minor: 9223372036854775807 is out of range",
        ),
        (part(0, 100), "quantity: 0 is out of range"),
        (part(1_000_001, 100), "quantity: 1000001 is out of range"),
    ] {
        let (s, b) = json("POST", &format!("{t}/T-1/parts"), Some(&key), body);
        assert_eq!((s, code(&b)), (422, "invalid_event"), "{b}");
        assert!(
            b["error"]["message"].as_str().unwrap().contains(needle),
            "{b}"
        );
    }
    let time = |minutes: u64| serde_json::json!({ "agent": "ana", "work_type": "onsite", "started_at": "2026-11-23T09:00:00Z", "minutes": minutes });
    for minutes in [0, 1_441] {
        let (s, b) = json("POST", &format!("{t}/T-1/time"), Some(&key), time(minutes));
        assert_eq!((s, code(&b)), (422, "invalid_event"), "{b}");
    }
    let (s, b) = json(
        "POST",
        &format!("{t}/T-1/parts"),
        Some(&key),
        part(3, 1_000_000_000_000),
    );
    assert_eq!(s, 200, "{b}");
    let (s, b) = json("POST", &format!("{t}/T-1/time"), Some(&key), time(1_440));
    assert_eq!(s, 200, "{b}");
}

/// Sends raw HTTP/1.1 and returns (status, content type, body).
fn raw(base: &str, request: &str) -> (u16, String, String) {
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).unwrap();
    let status = out[9..12].parse().unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type:")
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default();
    (status, content_type, body.to_string())
}

#[test]
fn errors_are_json_and_the_bearer_scheme_is_case_insensitive() {
    let data = temp_dir("errors");
    let srv = Server::start(&data);
    let base = srv.base.clone();
    let key = create_tenant(&base, "acme");
    let addr = base.trim_start_matches("http://");

    // A path that is not UTF-8 once decoded, and a method not allowed.
    for request in [
        format!(
            "GET /v1/tenants/%FF%FE HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n"
        ),
        format!(
            "DELETE /v1/tenants HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {ADMIN}\r\nConnection: close\r\n\r\n"
        ),
    ] {
        let (status, content_type, body) = raw(&base, &request);
        assert!(status >= 400, "{status}");
        assert!(
            content_type.starts_with("application/json"),
            "{status} {content_type}: {body}"
        );
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(
            v["error"]["code"].is_string() && v["error"]["message"].is_string(),
            "{v}"
        );
    }
    // A ticket event that is not JSON.
    let (s, b) = call(
        "POST",
        &format!("{}/T-1", tickets(&base, "acme")),
        Some(&key),
        Some(new_ticket().to_string().as_bytes()),
        "text/plain",
    );
    assert_eq!((s, code(&b)), (415, "unsupported_media_type"), "{b}");
    // A very long id: refused with the JSON error shape.
    let long = "x".repeat(60_000);
    let (status, content_type, body) = raw(
        &base,
        &format!(
            "GET /v1/tenants/acme/tickets/{long} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert!(
        (400..500).contains(&status) && content_type.starts_with("application/json"),
        "{status} {content_type}: {body}"
    );

    let url = format!("{base}/v1/tenants/acme");
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let (s, b) = get_authorized(&url, &format!("{scheme} {key}"));
        assert_eq!(s, 200, "{scheme}: {b}");
    }
    let (s, b) = get_authorized(&url, &format!("Basic {key}"));
    assert_eq!(s, 401, "{b}");
}

#[test]
fn a_damaged_database_refuses_to_start() {
    let data = temp_dir("damaged");
    {
        let store = docket_app::SqliteStore::open(&data).unwrap();
        let limits = docket_engine::Limits::default();
        store
            .write(|tx| {
                for i in 0..400 {
                    docket_app::sqlite::insert_tenant(
                        tx,
                        &format!("t{i:04}"),
                        &limits,
                        &docket_app::service::key_hash(&format!("key-{i}")),
                        0,
                    )?;
                }
                Ok(())
            })
            .unwrap();
    } // closed: the WAL is checkpointed into docket.db
    let db = data.join("docket.db");
    let mut bytes = std::fs::read(&db).unwrap();
    assert!(bytes.len() > 8 * 4096, "{} bytes", bytes.len());
    // Scribble over the middle of the file (b-tree pages), not the header.
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 4096] {
        *b = 0xA5;
    }
    std::fs::write(&db, &bytes).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_docket"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env("DOCKET_ADMIN_KEY", ADMIN)
        .output()
        .unwrap();
    assert!(!out.status.success(), "started on a damaged database");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is damaged") && stderr.contains("restore it from a backup"),
        "{stderr}"
    );
}
