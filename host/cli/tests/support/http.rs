//! HTTP helpers shared by the service tests: calls that return (status,
//! JSON body), and the few set-up steps every scenario takes.
#![allow(dead_code)] // each test binary uses its own subset

use super::server::{ADMIN, Server, client as agent};
use std::path::{Path, PathBuf};

/// A test's scratch directory, removed when the test ends (pass or fail).
pub struct ScratchDir(PathBuf);

impl std::ops::Deref for ScratchDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for ScratchDir {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh scratch directory for one test.
pub fn temp_dir(name: &str) -> ScratchDir {
    let d = std::env::temp_dir().join(format!("docket-server-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    ScratchDir(d)
}

/// Calls an endpoint: (status, JSON body or Null).
pub fn call(
    method: &str,
    url: &str,
    key: Option<&str>,
    body: Option<&[u8]>,
    content_type: &str,
) -> (u16, serde_json::Value) {
    let a = agent();
    let auth = key.map(|k| format!("Bearer {k}"));
    let mut resp = match (method, body) {
        ("GET" | "DELETE", _) => {
            let mut r = if method == "GET" {
                a.get(url)
            } else {
                a.delete(url)
            };
            if let Some(h) = &auth {
                r = r.header("Authorization", h);
            }
            r.call().unwrap()
        }
        (_, b) => {
            let mut r = match method {
                "POST" => a.post(url),
                "PUT" => a.put(url),
                "PATCH" => a.patch(url),
                other => panic!("{other}"),
            };
            r = r.header("content-type", content_type);
            if let Some(h) = &auth {
                r = r.header("Authorization", h);
            }
            r.send(b.unwrap_or(b"")).unwrap()
        }
    };
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

/// Calls an endpoint with a JSON body.
pub fn json(
    method: &str,
    url: &str,
    key: Option<&str>,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    call(
        method,
        url,
        key,
        Some(body.to_string().as_bytes()),
        "application/json",
    )
}

/// Creates a tenant with the admin key; returns its first key.
pub fn create_tenant(base: &str, id: &str) -> String {
    let (s, b) = json(
        "POST",
        &format!("{base}/v1/tenants"),
        Some(ADMIN),
        serde_json::json!({ "id": id }),
    );
    assert_eq!(s, 201, "{b}");
    b["api_key"].as_str().unwrap().to_string()
}

/// Installs and activates a plugin (version 1).
pub fn install(base: &str, tenant: &str, key: &str, name: &str, bytes: &[u8]) {
    install_as(base, tenant, key, name, bytes, "application/wasm");
}

/// Installs and activates a no-code document (version 1).
pub fn install_rules(base: &str, tenant: &str, key: &str, name: &str, rules: &str) {
    install_as(
        base,
        tenant,
        key,
        name,
        rules.as_bytes(),
        "application/toml",
    );
}

fn install_as(base: &str, tenant: &str, key: &str, name: &str, bytes: &[u8], content_type: &str) {
    let (s, b) = call(
        "POST",
        &format!("{base}/v1/tenants/{tenant}/plugins/{name}"),
        Some(key),
        Some(bytes),
        content_type,
    );
    assert!(s == 201 || s == 200, "{s} {b}");
    let (s, b) = json(
        "POST",
        &format!("{base}/v1/tenants/{tenant}/plugins/{name}/activate"),
        Some(key),
        serde_json::json!({ "version": 1 }),
    );
    assert_eq!(s, 200, "{b}");
}

/// Replaces a tenant's pipeline.
pub fn pipeline(base: &str, tenant: &str, key: &str, steps: serde_json::Value) {
    let (s, b) = json(
        "PUT",
        &format!("{base}/v1/tenants/{tenant}/pipeline"),
        Some(key),
        steps,
    );
    assert_eq!(s, 204, "{b}");
}

/// A valid new-ticket body.
pub fn new_ticket() -> serde_json::Value {
    serde_json::json!({ "subject": "Printer jams", "category": "software", "requester": { "id": "c-1", "region": "emea" } })
}

/// Creates a tenant whose pipeline is one plugin, installed from `bytes`
/// under `name`, with the step's `settings`; returns its key.
pub fn tenant_running(
    base: &str,
    tenant: &str,
    name: &str,
    bytes: &[u8],
    settings: serde_json::Value,
) -> String {
    let key = create_tenant(base, tenant);
    install(base, tenant, &key, name, bytes);
    pipeline(
        base,
        tenant,
        &key,
        serde_json::json!([{ "plugin": name, "settings": settings }]),
    );
    key
}

/// Creates a tenant routing every event with the example routing plugin;
/// returns its key.
pub fn routed_tenant(base: &str, tenant: &str) -> String {
    let routing = docket_guests::plugin("routing").unwrap();
    tenant_running(base, tenant, "routing", routing, serde_json::json!({}))
}

/// GETs with a raw `Authorization` header value: (status, body text).
pub fn get_authorized(url: &str, authorization: &str) -> (u16, String) {
    agent()
        .get(url)
        .header("Authorization", authorization)
        .call()
        .map(|mut r| {
            (
                r.status().as_u16(),
                r.body_mut().read_to_string().unwrap_or_default(),
            )
        })
        .unwrap()
}

/// GETs `url` with `key`, asserting 200; the JSON body.
pub fn get_ok(url: &str, key: &str) -> serde_json::Value {
    let (s, body) = call("GET", url, Some(key), None, "");
    assert_eq!(s, 200, "GET {url}: {body}");
    body
}

/// `n` replicas of `docket serve` on one fresh PostgreSQL database named
/// after `name`, each on its own scratch directory: (directories, servers,
/// the database URL). `None` when the tests run without PostgreSQL.
pub fn replicas(name: &str, n: usize) -> Option<(Vec<ScratchDir>, Vec<Server>, String)> {
    let url = docket_app::test_database(&format!("{name}_{}", std::process::id()), true)?;
    let dirs: Vec<ScratchDir> = (0..n).map(|i| temp_dir(&format!("{name}-{i}"))).collect();
    let servers = dirs
        .iter()
        .map(|d| Server::start_on(d, Some(&url)))
        .collect();
    Some((dirs, servers, url))
}
