//! Webhooks end to end: `docket serve` delivering to receivers on loopback
//! that verify every request with the `standardwebhooks` package (the
//! specification's Python library, independent of Docket's signing).
//!
//! - Retries through failures and an outage, ids stable, each ticket's
//!   messages in order, the old secret still signing after a rotation.
//! - A service SIGKILLed while delivering loses nothing.
//! - One tenant's hanging endpoint leaves another tenant's latency alone.
//! - Private and metadata addresses are refused, naming the range.

#[path = "support/http.rs"]
mod http;
#[path = "support/server.rs"]
mod server;

use http::*;
use server::Server;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Loopback receivers allowed; short timeouts and retries so a test sees
/// a whole schedule in seconds.
const CONFIG: &str = r#"
[webhooks]
allow_private_addresses = true
timeout_ms = 1500
retry_schedule_ms = [0, 100, 200, 400, 800, 800, 800, 800, 800, 800, 800, 800]
poll_ms = 50
in_flight_per_endpoint = 8
"#;

/// A receiver process (`tests/webhooks/receiver.py`); killed when dropped.
struct Receiver {
    child: Child,
    port: u16,
}

/// What the receiver logged for one request.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    seq: u64,
    ticket: String,
    verified: bool,
    status: u16,
    received_ms: i64,
}

impl Receiver {
    fn start(secret: &str, log: &Path, port: u16, extra: &[&str]) -> Receiver {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/webhooks/receiver.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--secret", secret, "--port", &port.to_string(), "--log"])
            .arg(log)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 for the receiver");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| {
                panic!("the receiver said {line:?} (is the `standardwebhooks` package installed?)")
            })
            .parse()
            .unwrap();
        Receiver { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks", self.port)
    }

    fn stop(mut self) -> u16 {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.port
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn received(log: &Path) -> Vec<Received> {
    let Ok(text) = std::fs::read_to_string(log) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| Received {
            id: v["id"].as_str().unwrap().to_string(),
            seq: v["seq"].as_u64().unwrap(),
            ticket: v["ticket"].as_str().unwrap().to_string(),
            verified: v["verified"].as_bool().unwrap(),
            status: v["status"].as_u64().unwrap() as u16,
            received_ms: v["received_ms"].as_i64().unwrap(),
        })
        .collect()
}

/// A loopback port free now, for a receiver started after its URL is
/// subscribed (it needs the secret the subscription answers).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A scenario's start: a configured server with tenant `acme`, its key,
/// and where the receiver logs.
fn acme(name: &str) -> (ScratchDir, Server, String, std::path::PathBuf) {
    let data = temp_dir(name);
    let srv = Server::start_configured(&data, CONFIG);
    let key = create_tenant(&srv.base, "acme");
    let log = data.join("received.jsonl");
    (data, srv, key, log)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn subscribe(base: &str, tenant: &str, key: &str, url: &str) -> (String, String) {
    let (s, b) = json(
        "POST",
        &format!("{base}/v1/tenants/{tenant}/webhooks"),
        Some(key),
        serde_json::json!({ "url": url, "description": "test receiver" }),
    );
    assert_eq!(s, 201, "{b}");
    let secret = b["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{b}");
    (b["id"].as_str().unwrap().to_string(), secret)
}

fn create(base: &str, tenant: &str, key: &str, ticket: &str) {
    let (s, b) = json(
        "POST",
        &format!("{base}/v1/tenants/{tenant}/tickets/{ticket}"),
        Some(key),
        new_ticket(),
    );
    assert_eq!(s, 201, "{b}");
}

fn tag(base: &str, tenant: &str, key: &str, ticket: &str, tag: &str) {
    let (s, b) = json(
        "PATCH",
        &format!("{base}/v1/tenants/{tenant}/tickets/{ticket}"),
        Some(key),
        serde_json::json!({ "add_tags": [tag] }),
    );
    assert_eq!(s, 200, "{b}");
}

/// The tenant's feed: (seq, id, ticket) of every message.
fn feed(base: &str, tenant: &str, key: &str) -> Vec<(u64, String, String)> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = get_ok(
            &format!("{base}/v1/tenants/{tenant}/events?after={after}&limit=1000"),
            key,
        );
        let messages = page["messages"].as_array().unwrap();
        if messages.is_empty() {
            return out;
        }
        for m in messages {
            out.push((
                m["seq"].as_u64().unwrap(),
                m["id"].as_str().unwrap().to_string(),
                m["ticket"].as_str().unwrap().to_string(),
            ));
        }
        after = page["next"].as_u64().unwrap();
    }
}

/// Waits until every message of the feed was answered 2xx at least once.
fn await_all_delivered(log: &Path, expected: &[(u64, String, String)], within: Duration) {
    let want: HashSet<&str> = expected.iter().map(|(_, id, _)| id.as_str()).collect();
    let deadline = Instant::now() + within;
    loop {
        let got: HashSet<String> = received(log)
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .map(|r| r.id)
            .collect();
        let missing: Vec<_> = want.iter().filter(|id| !got.contains(**id)).collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} messages never delivered, e.g. {:?}",
            missing.len(),
            want.len(),
            &missing[..missing.len().min(3)]
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the service has recorded `n` deliveries of the webhook as
/// delivered (and none pending or waiting).
fn await_recorded(base: &str, tenant: &str, key: &str, webhook: &str, n: usize, within: Duration) {
    let deadline = Instant::now() + within;
    let list = format!("{base}/v1/tenants/{tenant}/webhooks/{webhook}/deliveries?limit=1000");
    loop {
        let page = get_ok(&list, key);
        let states: Vec<&str> = page["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["state"].as_str().unwrap())
            .collect();
        if states.len() == n && states.iter().all(|s| *s == "delivered") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not all recorded delivered: {states:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Checks what a receiver got against the feed: every request verified,
/// ids stable (one id per position, the feed's), and each ticket's
/// requests in order: a later message of a ticket only after the earlier
/// one was answered 2xx.
fn check_received(log: &Path, expected: &[(u64, String, String)]) -> usize {
    let ids: HashMap<u64, &str> = expected
        .iter()
        .map(|(s, id, _)| (*s, id.as_str()))
        .collect();
    let all = received(log);
    let mut last_delivered: BTreeMap<String, u64> = BTreeMap::new();
    for r in &all {
        assert!(r.verified, "a signature did not verify: {r:?}");
        assert_eq!(ids.get(&r.seq).copied(), Some(r.id.as_str()), "{r:?}");
        let before = last_delivered.get(&r.ticket).copied().unwrap_or(0);
        assert!(
            r.seq >= before,
            "{}: message {} arrived after {} was delivered",
            r.ticket,
            r.seq,
            before
        );
        if (200..300).contains(&r.status) {
            last_delivered.insert(r.ticket.clone(), r.seq);
        }
    }
    // A message only goes out after its ticket's previous one was
    // delivered: the requests of a ticket never interleave.
    let mut open: HashMap<&str, u64> = HashMap::new();
    for r in &all {
        if let Some(pending) = open.get(r.ticket.as_str()) {
            assert_eq!(
                *pending, r.seq,
                "{}: {} went before {pending} was delivered",
                r.ticket, r.seq
            );
        }
        if (200..300).contains(&r.status) {
            open.remove(r.ticket.as_str());
        } else {
            open.insert(&r.ticket, r.seq);
        }
    }
    all.len()
}

#[test]
fn deliveries_survive_failures_and_an_outage_in_order_and_verified() {
    let (_data, srv, key, log) = acme("webhooks");
    let base = srv.base.clone();

    // The receiver is told the secret after the subscription, so it
    // starts on a port taken first and the URL is subscribed then.
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hooks");
    let (webhook, secret) = subscribe(&base, "acme", &key, &url);
    let (s, listed) = call(
        "GET",
        &format!("{base}/v1/tenants/acme/webhooks"),
        Some(&key),
        None,
        "",
    );
    assert_eq!(s, 200, "{listed}");
    assert_eq!(listed["webhooks"][0]["id"], webhook.as_str());
    assert_eq!(listed["webhooks"][0]["state"], "enabled");
    assert!(
        listed["webhooks"][0].get("secret").is_none(),
        "never listed: {listed}"
    );

    // Allowing private networks never opens link-local (metadata).
    let (s, b) = json(
        "POST",
        &format!("{base}/v1/tenants/acme/webhooks"),
        Some(&key),
        serde_json::json!({ "url": "http://169.254.169.254/latest/meta-data/" }),
    );
    assert_eq!(s, 422, "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("link-local"),
        "{b}"
    );

    // The first 6 requests fail with 500.
    let receiver = Receiver::start(&secret, &log, port, &["--fail-first", "6"]);
    assert_eq!(receiver.url(), url);
    for t in 1..=8 {
        create(&base, "acme", &key, &format!("T-{t}"));
    }
    for t in 1..=8 {
        tag(&base, "acme", &key, &format!("T-{t}"), "first");
    }
    // Down for a while, in the middle of the stream.
    let deadline = Instant::now() + Duration::from_secs(30);
    while received(&log).iter().filter(|r| r.status == 204).count() < 6 {
        assert!(Instant::now() < deadline, "nothing delivered");
        std::thread::sleep(Duration::from_millis(20));
    }
    let port = receiver.stop();
    for t in 1..=8 {
        tag(&base, "acme", &key, &format!("T-{t}"), "second");
    }
    std::thread::sleep(Duration::from_millis(1500));
    let receiver = Receiver::start(&secret, &log, port, &[]);

    let expected = feed(&base, "acme", &key);
    assert_eq!(expected.len(), 24, "one ticket.changed per event");
    await_all_delivered(&log, &expected, Duration::from_secs(60));
    await_recorded(&base, "acme", &key, &webhook, 24, Duration::from_secs(10));
    let requests = check_received(&log, &expected);
    assert!(requests > 24, "failures were retried: {requests} requests");

    // A message that failed first lists its attempts.
    let failed_first = received(&log)
        .into_iter()
        .find(|r| r.status == 500)
        .unwrap();
    let detail = get_ok(
        &format!(
            "{base}/v1/tenants/acme/webhooks/{webhook}/deliveries/{}",
            failed_first.id
        ),
        &key,
    );
    assert_eq!(detail["state"], "delivered", "{detail}");
    let attempts = detail["attempts_made"].as_array().unwrap();
    assert_eq!(attempts[0]["status_code"], 500, "{detail}");
    assert_eq!(attempts[0]["outcome"], "failed", "{detail}");
    assert_eq!(attempts.last().unwrap()["outcome"], "succeeded", "{detail}");
    let page = get_ok(
        &format!("{base}/v1/tenants/acme/webhooks/{webhook}/deliveries?state=delivered&limit=1000"),
        &key,
    );
    assert_eq!(page["deliveries"].as_array().unwrap().len(), 24, "{page}");

    // After a rotation the old secret keeps signing (a second signature)
    // and the new one signs too.
    let (s, rotated) = call(
        "POST",
        &format!("{base}/v1/tenants/acme/webhooks/{webhook}/rotate"),
        Some(&key),
        None,
        "",
    );
    assert_eq!(s, 201, "{rotated}");
    let new_secret = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, secret);
    create(&base, "acme", &key, "T-9");
    let expected = feed(&base, "acme", &key);
    await_all_delivered(&log, &expected, Duration::from_secs(30));
    let port = receiver.stop();
    let _receiver = Receiver::start(&new_secret, &log, port, &[]);
    create(&base, "acme", &key, "T-10");
    let expected = feed(&base, "acme", &key);
    await_all_delivered(&log, &expected, Duration::from_secs(30));
    check_received(&log, &expected);
}

#[test]
fn a_killed_service_loses_no_delivery() {
    let (data, srv, key, log) = acme("webhooks-kill");
    let base = srv.base.clone();
    let port = free_port();
    let (webhook, secret) = subscribe(
        &base,
        "acme",
        &key,
        &format!("http://127.0.0.1:{port}/hooks"),
    );
    // Slow answers keep attempts in flight when the service dies.
    let _receiver = Receiver::start(&secret, &log, port, &["--delay-ms", "100"]);
    for t in 1..=40 {
        create(&base, "acme", &key, &format!("T-{t}"));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while received(&log).len() < 8 {
        assert!(Instant::now() < deadline, "nothing delivered");
        std::thread::sleep(Duration::from_millis(5));
    }
    srv.kill();
    let srv = Server::start_configured(&data, CONFIG);
    let expected = feed(&srv.base, "acme", &key);
    assert_eq!(expected.len(), 40);
    // The attempts in flight when it died were answered but never
    // recorded: their claims expire and they go again, with their ids.
    await_recorded(
        &srv.base,
        "acme",
        &key,
        &webhook,
        40,
        Duration::from_secs(90),
    );
    await_all_delivered(&log, &expected, Duration::from_secs(1));
    let requests = check_received(&log, &expected);
    let distinct: HashSet<String> = received(&log).into_iter().map(|r| r.id).collect();
    assert_eq!(distinct.len(), 40, "only the feed's ids");
    assert!(requests > 40, "nothing was in flight at the crash");
    eprintln!("{requests} requests for 40 messages across the crash");
}

#[test]
fn a_hanging_endpoint_delays_only_its_own_tenant() {
    let data = temp_dir("webhooks-hang");
    let srv = Server::start_configured(&data, CONFIG);
    let base = srv.base.clone();
    let slow_key = create_tenant(&base, "slow");
    let fast_key = create_tenant(&base, "fast");
    let (slow_log, fast_log) = (data.join("slow.jsonl"), data.join("fast.jsonl"));
    let (slow_port, fast_port) = (free_port(), free_port());
    let (_, slow_secret) = subscribe(
        &base,
        "slow",
        &slow_key,
        &format!("http://127.0.0.1:{slow_port}/hooks"),
    );
    let (_, fast_secret) = subscribe(
        &base,
        "fast",
        &fast_key,
        &format!("http://127.0.0.1:{fast_port}/hooks"),
    );
    let _slow = Receiver::start(&slow_secret, &slow_log, slow_port, &["--hang"]);
    let _fast = Receiver::start(&fast_secret, &fast_log, fast_port, &[]);

    // The hanging endpoint gets more messages than it may have in flight.
    for t in 1..=30 {
        create(&base, "slow", &slow_key, &format!("S-{t}"));
    }
    let mut acknowledged = HashMap::new();
    for t in 1..=40 {
        let ticket = format!("F-{t}");
        create(&base, "fast", &fast_key, &ticket);
        acknowledged.insert(ticket, now_ms());
        std::thread::sleep(Duration::from_millis(25));
    }
    let expected = feed(&base, "fast", &fast_key);
    await_all_delivered(&fast_log, &expected, Duration::from_secs(30));
    let mut delays: Vec<i64> = received(&fast_log)
        .iter()
        .map(|r| r.received_ms - acknowledged[&r.ticket])
        .collect();
    delays.sort();
    let p99 = delays[(delays.len() * 99).div_ceil(100) - 1];
    eprintln!(
        "fast tenant beside a hanging one: p50 {} ms, p99 {} ms over {} deliveries",
        delays[delays.len() / 2],
        p99,
        delays.len()
    );
    // Each hanging attempt takes the 1.5 s timeout; a fast delivery that
    // queued behind one would wait at least that long.
    assert!(
        p99 < 750,
        "p99 {p99} ms: the hanging endpoint held others back"
    );
}

#[test]
fn private_and_metadata_addresses_and_unknown_types_are_refused() {
    let data = temp_dir("webhooks-ssrf");
    let srv = Server::start(&data);
    let base = srv.base.clone();
    let key = create_tenant(&base, "acme");
    let other = create_tenant(&base, "other");
    let hooks = format!("{base}/v1/tenants/acme/webhooks");
    for (url, range) in [
        ("http://127.0.0.1:9000/hooks", "loopback"),
        ("http://localhost:9000/hooks", "loopback"),
        ("http://10.0.0.8/hooks", "private"),
        ("http://192.168.1.20/hooks", "private"),
        (
            "http://169.254.169.254/latest/meta-data/",
            "link-local (metadata services)",
        ),
        ("http://[::1]/hooks", "loopback"),
        ("http://[fd00::1]/hooks", "private (unique local)"),
    ] {
        let (s, b) = json(
            "POST",
            &hooks,
            Some(&key),
            serde_json::json!({ "url": url }),
        );
        assert_eq!(s, 422, "{url}: {b}");
        assert_eq!(b["error"]["code"], "invalid_webhook_url", "{b}");
        let message = b["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("a {range} address")),
            "{url}: {message}"
        );
    }
    for (body, says) in [
        (
            serde_json::json!({ "url": "ftp://93.184.215.14/" }),
            "only http and https",
        ),
        (
            serde_json::json!({ "url": "https://u:p@93.184.215.14/" }),
            "credentials",
        ),
        (
            serde_json::json!({ "url": "https://93.184.215.14/", "types": ["ticket.changed", "tickets"] }),
            "types[1]: `tickets` is not a message type",
        ),
        (
            serde_json::json!({ "url": "https://93.184.215.14/", "types": ["invoice", "invoice"] }),
            "types[1]: `invoice` is listed twice",
        ),
    ] {
        let (s, b) = json("POST", &hooks, Some(&key), body.clone());
        assert_eq!(s, 422, "{body}: {b}");
        let message = b["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {message}");
    }
    let (s, b) = json(
        "POST",
        &hooks,
        Some(&key),
        serde_json::json!({ "url": "https://93.184.215.14/hooks", "types": ["sla.breached"] }),
    );
    assert_eq!(s, 201, "{b}");
    let id = b["id"].as_str().unwrap();
    assert_eq!(b["types"], serde_json::json!(["sla.breached"]));
    // A change is checked as a creation is.
    let (s, b) = json(
        "PATCH",
        &format!("{hooks}/{id}"),
        Some(&key),
        serde_json::json!({ "url": "http://169.254.169.254/" }),
    );
    assert_eq!(s, 422, "{b}");
    let (s, b) = json(
        "PATCH",
        &format!("{hooks}/{id}"),
        Some(&key),
        serde_json::json!({ "enabled": false }),
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["state"], "disabled");
    assert_eq!(b["disabled_reason"], "disabled by the tenant");
    assert_eq!(
        b["url"], "https://93.184.215.14/hooks",
        "unchanged by the refused change"
    );
    // Another tenant's webhook does not exist for this one.
    let (s, _) = call(
        "GET",
        &format!("{base}/v1/tenants/other/webhooks/{id}"),
        Some(&other),
        None,
        "",
    );
    assert_eq!(s, 404);
    let (s, _) = call("GET", &format!("{hooks}/{id}"), Some(&other), None, "");
    assert!(s == 403 || s == 404, "{s}");
    let (s, b) = call(
        "POST",
        &format!("{hooks}/{id}/deliveries/msg_nope/replay"),
        Some(&key),
        None,
        "",
    );
    assert_eq!(s, 404, "{b}");
    let (s, _) = call("DELETE", &format!("{hooks}/{id}"), Some(&key), None, "");
    assert_eq!(s, 204);
    let (s, _) = call("DELETE", &format!("{hooks}/{id}"), Some(&key), None, "");
    assert_eq!(s, 404);
}
