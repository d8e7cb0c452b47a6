//! Several `docket serve` replicas sharing one PostgreSQL database: any
//! replica serves any request, and what one changes the others see.
//! Needs a test server (`DOCKET_TEST_DATABASE_URL`); without one these
//! tests say so and pass, unless `DOCKET_REQUIRE_POSTGRES` is set (CI).

#[path = "support/http.rs"]
mod http;
#[path = "support/server.rs"]
mod server;

use http::*;
use server::Server;

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
    let name = format!("replicas_registry_{}", std::process::id());
    let Some(url) = docket_app::test_database(&name, true) else {
        return;
    };
    let (dir_a, dir_b) = (temp_dir("replica-a"), temp_dir("replica-b"));
    let a = Server::start_on(&dir_a, Some(&url));
    let b = Server::start_on(&dir_b, Some(&url));

    // A tenant created on A is known to B at once, key and all.
    let key = create_tenant(&a.base, "acme");
    let (s, body) = call(
        "GET",
        &format!("{}/v1/tenants/acme", b.base),
        Some(&key),
        None,
        "",
    );
    assert_eq!(s, 200, "{body}");

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
