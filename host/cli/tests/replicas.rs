//! Several `docket serve` replicas sharing one PostgreSQL database: any
//! replica serves any request, and what one changes the others see.
//! Needs a test server (`DOCKET_TEST_DATABASE_URL`); without one these
//! tests say so and pass, unless `DOCKET_REQUIRE_POSTGRES` is set (CI).

#[path = "support/http.rs"]
mod http;
#[path = "support/server.rs"]
mod server;

use http::*;

/// A routing document sending every ticket to `group`.
fn routing_to(group: &str) -> Vec<u8> {
    format!("[[routing.rule]]\nwhen = 'true'\ngroup = \"{group}\"\n").into_bytes()
}

fn upload(base: &str, key: &str, rules: &[u8]) -> u64 {
    let (s, b) = call(
        "POST",
        &format!("{base}/v1/tenants/acme/plugins/rules"),
        Some(key),
        Some(rules),
        "application/toml",
    );
    assert!(s == 201 || s == 200, "{s} {b}");
    b["version"]
        .as_u64()
        .unwrap_or_else(|| panic!("a version in {b}"))
}

fn activate(base: &str, key: &str, version: u64) {
    let (s, b) = json(
        "POST",
        &format!("{base}/v1/tenants/acme/plugins/rules/activate"),
        Some(key),
        serde_json::json!({ "version": version }),
    );
    assert_eq!(s, 200, "{b}");
}

/// Creates a ticket through `base`; returns the group it was routed to.
fn routed(base: &str, key: &str, ticket: &str) -> serde_json::Value {
    let (s, b) = json(
        "POST",
        &format!("{base}/v1/tenants/acme/tickets/{ticket}"),
        Some(key),
        new_ticket(),
    );
    assert_eq!(s, 201, "{b}");
    b["ticket"]["group"].clone()
}

#[test]
fn registry_changes_on_one_replica_reach_the_others_at_their_next_request() {
    let Some((_dirs, servers, _)) = replicas("replicas_registry", 2) else {
        return;
    };
    let (a, b) = (&servers[0], &servers[1]);

    // A tenant created on A is known to B at once, key and all.
    let key = create_tenant(&a.base, "acme");
    get_ok(&format!("{}/v1/tenants/acme", b.base), &key);

    // Plugin, activation and pipeline set on A route B's next ticket.
    let v1 = upload(&a.base, &key, &routing_to("first"));
    activate(&a.base, &key, v1);
    pipeline(
        &a.base,
        "acme",
        &key,
        serde_json::json!([{ "plugin": "rules" }]),
    );
    assert_eq!(routed(&b.base, &key, "T-1"), "first");

    // Limits changed on A are B's at its next request.
    let (s, body) = json(
        "PUT",
        &format!("{}/v1/tenants/acme/limits", a.base),
        Some(server::ADMIN),
        serde_json::json!({ "fuel": 2_000_000, "plugins": { "rules": { "fuel": 3_000_000 } } }),
    );
    assert_eq!(s, 200, "{body}");
    let on_b = get_ok(&format!("{}/v1/tenants/acme", b.base), &key);
    assert_eq!(on_b["limits"], body);

    // A new version activated on B routes A's next ticket; a rollback on
    // A routes B's.
    let v2 = upload(&b.base, &key, &routing_to("second"));
    activate(&b.base, &key, v2);
    assert_eq!(routed(&a.base, &key, "T-2"), "second");
    let (s, body) = call(
        "POST",
        &format!("{}/v1/tenants/acme/plugins/rules/rollback", a.base),
        Some(&key),
        Some(b""),
        "application/json",
    );
    assert_eq!(s, 200, "{body}");
    assert_eq!(routed(&b.base, &key, "T-3"), "first");

    // The pipeline emptied on B: A no longer routes.
    pipeline(&b.base, "acme", &key, serde_json::json!([]));
    assert_eq!(routed(&a.base, &key, "T-4"), serde_json::Value::Null);

    // The tenant deleted on A is gone on B.
    let (s, body) = call(
        "DELETE",
        &format!("{}/v1/tenants/acme", a.base),
        Some(server::ADMIN),
        None,
        "",
    );
    assert_eq!(s, 204, "{body}");
    let (s, _) = call(
        "GET",
        &format!("{}/v1/tenants/acme", b.base),
        Some(server::ADMIN),
        None,
        "",
    );
    assert_eq!(s, 404);
}

/// PATCHes a ticket through `base` with an idempotency key until it is
/// acknowledged (a 409 under contention is retried with the same key, as a
/// client would); returns how many tries it took.
fn patch_until_applied(base: &str, key: &str, idem: &str, body: &serde_json::Value) -> u32 {
    for attempt in 1..=50 {
        let r = server::client()
            .patch(&format!("{base}/v1/tenants/acme/tickets/T-1"))
            .header("Authorization", &format!("Bearer {key}"))
            .header("Idempotency-Key", idem)
            .header("content-type", "application/json")
            .send(body.to_string().as_bytes())
            .expect("the replica answers");
        match r.status().as_u16() {
            200 => return attempt,
            409 => std::thread::sleep(std::time::Duration::from_millis(5 * attempt as u64)),
            s => panic!("{idem}: {s}"),
        }
    }
    panic!("{idem}: never applied");
}

#[test]
fn updates_of_one_ticket_through_every_replica_are_each_applied_once() {
    const CLIENTS: usize = 8;
    const UPDATES: usize = 50;
    let Some((_dirs, replicas, _)) = replicas("replicas_one_ticket", 3) else {
        return;
    };
    let key = create_tenant(&replicas[0].base, "acme");
    let (s, b) = json(
        "POST",
        &format!("{}/v1/tenants/acme/tickets/T-1", replicas[0].base),
        Some(&key),
        new_ticket(),
    );
    assert_eq!(s, 201, "{b}");

    // Eight clients, each sending its updates round-robin over the replicas;
    // each update adds a tag of its own, so a lost update shows as a
    // missing tag.
    let bases: Vec<String> = replicas.iter().map(|r| r.base.clone()).collect();
    let tries: u32 = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (bases, key) = (&bases, &key);
                scope.spawn(move || {
                    (0..UPDATES)
                        .map(|i| {
                            let body = serde_json::json!({ "add_tags": [format!("c{c}-{i}")] });
                            let base = &bases[(c + i) % bases.len()];
                            patch_until_applied(base, key, &format!("c{c}-{i}"), &body)
                        })
                        .sum::<u32>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });

    let view = get_ok(&format!("{}/v1/tenants/acme/tickets/T-1", bases[2]), &key);
    let mut tags: Vec<&str> = view["ticket"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    tags.sort_unstable();
    let mut expected: Vec<String> = (0..CLIENTS)
        .flat_map(|c| (0..UPDATES).map(move |i| format!("c{c}-{i}")))
        .collect();
    expected.sort_unstable();
    assert_eq!(tags, expected, "every acknowledged update is in the ticket");
    // One audit entry per acknowledged request (and the creation), none for
    // the attempts that were decided again or refused while in flight.
    let mut entries = 0;
    let mut after = 0;
    loop {
        let (s, page) = call(
            "GET",
            &format!(
                "{}/v1/tenants/acme/audit?ticket=T-1&after={after}&limit=1000",
                bases[1]
            ),
            Some(&key),
            None,
            "",
        );
        assert_eq!(s, 200, "{page}");
        let page = page["entries"].as_array().unwrap().clone();
        let Some(last) = page.last() else { break };
        after = last["seq"].as_i64().unwrap();
        entries += page.len();
    }
    assert_eq!(entries, 1 + CLIENTS * UPDATES);
    eprintln!(
        "{} updates over {} replicas in {tries} requests",
        CLIENTS * UPDATES,
        bases.len()
    );
}

#[test]
fn one_idempotency_key_sent_to_every_replica_at_once_applies_once() {
    const ROUNDS: usize = 20;
    let mut in_progress = 0;
    let Some((_dirs, replicas, _)) = replicas("replicas_same_key", 3) else {
        return;
    };
    let key = create_tenant(&replicas[0].base, "acme");
    for round in 0..ROUNDS {
        let ticket = format!("R-{round}");
        let idem = format!("create-{round}");
        let answers: Vec<(u16, String)> = std::thread::scope(|scope| {
            let handles: Vec<_> = replicas
                .iter()
                .map(|r| {
                    let (base, key, ticket, idem) = (&r.base, &key, &ticket, &idem);
                    scope.spawn(move || {
                        let r = server::client()
                            .post(&format!("{base}/v1/tenants/acme/tickets/{ticket}"))
                            .header("Authorization", &format!("Bearer {key}"))
                            .header("Idempotency-Key", idem)
                            .header("content-type", "application/json")
                            .send(new_ticket().to_string().as_bytes())
                            .expect("the replica answers");
                        let status = r.status().as_u16();
                        (status, r.into_body().read_to_string().unwrap())
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        // Each answer is the one outcome (applied once, answered again) or
        // "still in progress" (409, retry for the outcome); never a
        // second creation (409 `conflict`: the ticket exists).
        let outcomes: Vec<&String> = answers
            .iter()
            .filter(|(s, _)| *s == 201)
            .map(|(_, b)| b)
            .collect();
        assert!(!outcomes.is_empty(), "round {round}: {answers:?}");
        assert!(
            outcomes.windows(2).all(|w| w[0] == w[1]),
            "round {round}: {answers:?}"
        );
        for (s, b) in &answers {
            assert!(
                *s == 201 || (*s == 409 && b.contains("request_in_progress")),
                "round {round}: {s} {b}"
            );
            in_progress += usize::from(*s == 409);
        }
    }
    eprintln!(
        "{ROUNDS} keys sent to {} replicas at once: {in_progress} answers `in progress`, the rest the one outcome",
        replicas.len()
    );
    let page = get_ok(
        &format!("{}/v1/tenants/acme/audit?limit=1000", replicas[1].base),
        &key,
    );
    assert_eq!(
        page["entries"].as_array().unwrap().len(),
        ROUNDS,
        "one event per key"
    );
}

#[test]
fn versions_installed_through_two_replicas_at_once_get_distinct_numbers() {
    const ROUNDS: usize = 10;
    let Some((_dirs, replicas, _)) = replicas("replicas_versions", 2) else {
        return;
    };
    let key = create_tenant(&replicas[0].base, "acme");
    let mut numbers: Vec<u64> = Vec::new();
    for round in 0..ROUNDS {
        std::thread::scope(|scope| {
            let handles: Vec<_> = replicas
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let (base, key) = (&r.base, &key);
                    scope.spawn(move || upload(base, key, &routing_to(&format!("g{round}-{i}"))))
                })
                .collect();
            numbers.extend(handles.into_iter().map(|h| h.join().unwrap()));
        });
    }
    numbers.sort_unstable();
    let expected: Vec<u64> = (1..=(2 * ROUNDS) as u64).collect();
    assert_eq!(numbers, expected, "each upload its own number");
}
