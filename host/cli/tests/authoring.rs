//! What the console's rules editor calls, over HTTP: checking a draft as
//! it is typed (located errors with hints, the outline used for
//! completion, the forms), reading an installed version back, the
//! vocabulary, and the console's own files with their security headers.

#[path = "support/http.rs"]
mod http;
#[path = "support/server.rs"]
mod server;

use http::*;
use server::{ADMIN, Server};

const ROUTING: &str = include_str!("../../../example-rules/nocode/routing.toml");
const TEMPLATES: &str = include_str!("../../../example-rules/nocode/templates.toml");

fn check(base: &str, key: &str, plugin: &str, rules: &str) -> (u16, serde_json::Value) {
    json(
        "POST",
        &format!("{base}/v1/tenants/acme/rules/check"),
        Some(key),
        serde_json::json!({ "plugin": plugin, "rules": rules }),
    )
}

#[test]
fn a_draft_is_checked_with_located_errors_and_what_it_declares() {
    let data = temp_dir("authoring-check");
    let srv = Server::start(&data);
    let base = &srv.base;
    let key = create_tenant(base, "acme");

    // A document that compiles: its capabilities and its outline.
    let (s, ok) = check(base, &key, "routing", ROUTING);
    assert_eq!(s, 200, "{ok}");
    assert_eq!(ok["ok"], true, "{ok}");
    assert_eq!(ok["diagnostics"], serde_json::json!([]));
    assert_eq!(ok["capabilities"], serde_json::json!(["routing"]));
    assert_eq!(
        ok["outline"]["settings"],
        serde_json::json!(["max_open", "senior_level"])
    );
    let tables = ok["outline"]["tables"].as_array().unwrap();
    assert!(
        tables.contains(&serde_json::json!(["region_teams", ["team"]])),
        "{tables:?}"
    );
    assert_eq!(ok["templates"], serde_json::json!([]));

    // A typo: an answer (200, ok false), located at the misspelt name,
    // with the compiler's hint; nothing is installed.
    let typo = ROUTING.replace("ticket.channel ==", "ticket.chanel ==");
    let (s, bad) = check(base, &key, "routing", &typo);
    assert_eq!(s, 200, "{bad}");
    assert_eq!(bad["ok"], false);
    let d = &bad["diagnostics"][0];
    let line = typo
        .lines()
        .position(|l| l.contains("ticket.chanel"))
        .unwrap()
        + 1;
    let column = typo.lines().nth(line - 1).unwrap().find("chanel").unwrap() + 1;
    assert_eq!(d["line"], line, "{d}");
    assert_eq!(d["column"], column, "{d}");
    assert!(d["message"].as_str().unwrap().contains("chanel"), "{d}");
    assert!(d["hint"].as_str().unwrap().contains("channel"), "{d}");
    assert!(bad["report"].as_str().unwrap().contains("chanel"));
    // The outline still reads from the TOML, for completion.
    assert_eq!(bad["outline"]["settings"], ok["outline"]["settings"]);
    let (_, plugins) = call(
        "GET",
        &format!("{base}/v1/tenants/acme/plugins"),
        Some(&key),
        None,
        "",
    );
    assert_eq!(plugins["plugins"], serde_json::json!({}));

    // Not TOML at all: located too, and the outline is empty.
    let (s, broken) = check(base, &key, "routing", "[routing\nname = 1");
    assert_eq!(s, 200, "{broken}");
    assert_eq!(broken["ok"], false);
    assert_eq!(broken["diagnostics"][0]["line"], 1, "{broken}");
    assert_eq!(broken["outline"]["settings"], serde_json::json!([]));

    // The forms a template document declares, in the wire shape.
    let (s, forms) = check(base, &key, "templates", TEMPLATES);
    assert_eq!(s, 200, "{forms}");
    let repair = &forms["templates"][0];
    assert_eq!(repair["id"], "equipment-repair");
    let field = |key: &str| {
        repair["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["key"] == key)
            .unwrap()
            .clone()
    };
    assert_eq!(
        field("device_model")["kind"]["dropdown"][2]["value"],
        "printer"
    );
    assert_eq!(
        field("device_variant")["depends_on"]["options"][2],
        serde_json::json!(["printer", ["laserjet-m404", "pixma-g650"]])
    );
    assert_eq!(
        field("resolution_code")["required"],
        serde_json::json!({ "on_create": false, "on_solve": true })
    );
    assert_eq!(
        field("purchase_date")["visible_when"],
        serde_json::json!({ "field": "under_warranty", "any_of": ["true"] })
    );
    assert_eq!(
        field("photos_count")["kind"],
        serde_json::json!({ "integer": { "min": 0, "max": 10 } })
    );
    assert_eq!(
        field("urgency")["default"],
        serde_json::json!({ "choice": "normal" })
    );

    // Bad requests name what is wrong.
    let (s, b) = check(base, &key, "Not A Name", ROUTING);
    assert_eq!(s, 400, "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("plugin name"),
        "{b}"
    );
    let (s, b) = json(
        "POST",
        &format!("{base}/v1/tenants/acme/rules/check"),
        Some(&key),
        serde_json::json!({ "plugin": "routing" }),
    );
    assert_eq!(s, 422, "{b}");
    assert!(
        b["error"]["message"].as_str().unwrap().contains("rules"),
        "{b}"
    );
    let (s, _) = check(base, "wrong-key", "routing", ROUTING);
    assert_eq!(s, 401);

    // A draft over the tenant's size limit is an answer too, naming it.
    let (s, b) = json(
        "POST",
        &format!("{base}/v1/tenants"),
        Some(ADMIN),
        serde_json::json!({ "id": "tiny", "limits": { "module_bytes": 16 } }),
    );
    assert_eq!(s, 201, "{b}");
    let tiny_key = b["api_key"].as_str().unwrap().to_string();
    let (s, big) = json(
        "POST",
        &format!("{base}/v1/tenants/tiny/rules/check"),
        Some(&tiny_key),
        serde_json::json!({ "plugin": "routing", "rules": ROUTING }),
    );
    assert_eq!(s, 200, "{big}");
    assert_eq!(big["ok"], false, "{big}");
    let report = big["report"].as_str().unwrap();
    assert!(
        report.contains("over the 16-byte limit") && report.contains("module_too_large"),
        "{report}"
    );
    assert_eq!(big["diagnostics"], serde_json::json!([]));
}

#[test]
fn an_installed_version_reads_back_with_its_document_and_forms() {
    let data = temp_dir("authoring-version");
    let srv = Server::start(&data);
    let base = &srv.base;
    let key = create_tenant(base, "acme");
    install_rules(base, "acme", &key, "templates", TEMPLATES);
    let wasm = docket_guests::plugin("templates").unwrap();
    install(base, "acme", &key, "wasm-forms", wasm);

    let url = |plugin: &str, version: &str| {
        format!("{base}/v1/tenants/acme/plugins/{plugin}/versions/{version}")
    };
    let rules = get_ok(&url("templates", "1"), &key);
    assert_eq!(rules["version"], 1);
    assert_eq!(rules["active"], true);
    assert_eq!(rules["rules"], TEMPLATES);
    assert_eq!(rules["templates"][1]["id"], "returns");
    // By hash prefix too.
    let prefix = &rules["hash"].as_str().unwrap()[..10];
    assert_eq!(get_ok(&url("templates", prefix), &key)["version"], 1);

    // A wasm plugin has no document; its forms are its own answer.
    let wasm = get_ok(&url("wasm-forms", "1"), &key);
    assert!(wasm.get("rules").is_none(), "{wasm}");
    assert_eq!(wasm["templates"][0]["id"], "equipment-repair");

    let (s, b) = call("GET", &url("templates", "7"), Some(&key), None, "");
    assert_eq!(s, 404, "{b}");
    let (s, b) = call("GET", &url("nothing", "1"), Some(&key), None, "");
    assert_eq!(s, 404, "{b}");
    let (s, _) = call("GET", &url("templates", "1"), Some("wrong"), None, "");
    assert_eq!(s, 401);
}

#[test]
fn the_vocabulary_and_the_console_are_served() {
    let data = temp_dir("authoring-console");
    let srv = Server::start(&data);
    let base = &srv.base;

    // The vocabulary needs no key: it is the same for everyone.
    let (s, v) = call(
        "GET",
        &format!("{base}/v1/rules/vocabulary"),
        None,
        None,
        "",
    );
    assert_eq!(s, 200, "{v}");
    let roots: Vec<&str> = v["roots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(
        roots.contains(&"ticket") && roots.contains(&"requester"),
        "{roots:?}"
    );
    let functions = v["functions"].as_array().unwrap();
    assert!(
        functions
            .iter()
            .all(|f| !f["doc"].as_str().unwrap().is_empty()),
        "every function says what it does"
    );

    let client = server::client();
    for (path, kind) in [
        ("/console", "text/html"),
        ("/console/", "text/html"),
        ("/console/console.js", "text/javascript"),
        ("/console/console.css", "text/css"),
    ] {
        let r = client.get(&format!("{base}{path}")).call().unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        let header = |name: &str| {
            r.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        assert!(header("content-type").starts_with(kind), "{path}");
        let csp = header("content-security-policy");
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert_eq!(header("x-content-type-options"), "nosniff");
    }
    let (s, b) = call(
        "GET",
        &format!("{base}/console/secrets.txt"),
        None,
        None,
        "",
    );
    assert_eq!(s, 404, "{b}");
    // The console is not part of the API document.
    let (_, doc) = call("GET", &format!("{base}/openapi.json"), None, None, "");
    assert!(doc["paths"].get("/console").is_none());
    assert!(doc["paths"].get("/v1/rules/vocabulary").is_some());
}
