//! Webhook delivery under load, `docket serve` on SQLite with a fast
//! receiver on loopback (in this process: HTTP/1.1 keep-alive, a thread
//! per connection, answers 204):
//!
//! - the event path's throughput (4 clients creating tickets) without a
//!   webhook and with one delivering every message meanwhile, and the
//!   delay from each creation's acknowledgement to its delivery;
//! - the drain rate: a backlog of messages staged at once (an endpoint
//!   enabled again) delivered as fast as the sender goes, with the default
//!   16 attempts in flight per endpoint and with 64.
//!
//! `cargo bench -p docket --bench webhook_delivery` prints the table.

#[path = "../tests/support/server.rs"]
mod server;

use server::{ADMIN, Server, client as agent};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CLIENTS: usize = 4;
const CREATIONS_PER_CLIENT: usize = 500;
const BACKLOG: usize = 5_000;

const CONFIG: &str = r#"
[webhooks]
allow_private_addresses = true
"#;

/// When each ticket's message arrived.
type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

/// A receiver that answers 204 to every request and notes when each
/// ticket's message arrived.
fn receiver() -> (String, Arrivals) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let arrivals: Arrivals = Arc::default();
    let seen = arrivals.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let seen = seen.clone();
            std::thread::spawn(move || serve_connection(stream, &seen));
        }
    });
    (url, arrivals)
}

fn serve_connection(stream: TcpStream, seen: &Arrivals) {
    stream.set_nodelay(true).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut length = 0;
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let arrived = Instant::now();
        let message: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let ticket = message["ticket"].as_str().unwrap().to_string();
        seen.lock().unwrap().entry(ticket).or_insert(arrived);
        writer
            .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
            .unwrap();
    }
}

fn create_tenant(base: &str, id: &str) -> String {
    let resp: serde_json::Value = agent()
        .post(&format!("{base}/v1/tenants"))
        .header("Authorization", &format!("Bearer {ADMIN}"))
        .send_json(serde_json::json!({ "id": id }))
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    resp["api_key"].as_str().unwrap().to_string()
}

fn subscribe(base: &str, tenant: &str, key: &str, url: &str) -> String {
    let resp: serde_json::Value = agent()
        .post(&format!("{base}/v1/tenants/{tenant}/webhooks"))
        .header("Authorization", &format!("Bearer {key}"))
        .send_json(serde_json::json!({ "url": url }))
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    resp["id"].as_str().expect("subscribed").to_string()
}

fn set_enabled(base: &str, tenant: &str, key: &str, webhook: &str, enabled: bool) {
    let status = agent()
        .patch(&format!("{base}/v1/tenants/{tenant}/webhooks/{webhook}"))
        .header("Authorization", &format!("Bearer {key}"))
        .send_json(serde_json::json!({ "enabled": enabled }))
        .unwrap()
        .status();
    assert_eq!(status, 200);
}

/// `CLIENTS` threads create `per_client` tickets each; returns the
/// elapsed time and when each creation was acknowledged.
fn create_tickets(
    base: &str,
    tenant: &str,
    key: &str,
    prefix: &str,
    per_client: usize,
) -> (Duration, HashMap<String, Instant>) {
    let started = Instant::now();
    let threads: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (base, tenant, key, prefix) = (
                base.to_string(),
                tenant.to_string(),
                key.to_string(),
                prefix.to_string(),
            );
            std::thread::spawn(move || {
                let a = agent();
                let body = serde_json::json!({ "subject": "Laptop", "requester": { "id": format!("c-{c}") } });
                (0..per_client)
                    .map(|i| {
                        let ticket = format!("{prefix}-{c}-{i}");
                        let status = a
                            .post(&format!("{base}/v1/tenants/{tenant}/tickets/{ticket}"))
                            .header("Authorization", &format!("Bearer {key}"))
                            .send_json(&body)
                            .unwrap()
                            .status();
                        assert_eq!(status, 201);
                        (ticket, Instant::now())
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let acks = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    (started.elapsed(), acks)
}

/// Waits until every ticket in `acks` has arrived; returns the instant
/// the last one did.
fn await_arrivals(arrivals: &Arrivals, tickets: &HashMap<String, Instant>) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        {
            let seen = arrivals.lock().unwrap();
            if tickets.keys().all(|t| seen.contains_key(t)) {
                return tickets.keys().map(|t| seen[t]).max().unwrap();
            }
        }
        assert!(Instant::now() < deadline, "deliveries stalled");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// CPU time (user + system) a process has used, from `/proc`, in ms.
fn cpu_ms(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command (which may hold spaces): utime is the 12th,
    // stime the 13th; in clock ticks of 10 ms on Linux.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks * 10.0
}

fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3
}

/// Deliveries per second of a backlog: messages committed while the
/// endpoint was disabled, staged at once when it is enabled again, with
/// `allowance` attempts in flight to it.
fn drain(allowance: usize) -> f64 {
    let data = std::env::temp_dir().join(format!(
        "docket-bench-drain-{allowance}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&data);
    let config = format!("{CONFIG}in_flight_per_endpoint = {allowance}\n");
    let srv = Server::start_configured(&data, &config);
    let base = srv.base.clone();
    let (url, arrivals) = receiver();
    let key = create_tenant(&base, "hooked");
    let webhook = subscribe(&base, "hooked", &key, &url);
    set_enabled(&base, "hooked", &key, &webhook, false);
    let (_, backlog) = create_tickets(&base, "hooked", &key, "b", BACKLOG / CLIENTS);
    let enabled = Instant::now();
    set_enabled(&base, "hooked", &key, &webhook, true);
    let drained = await_arrivals(&arrivals, &backlog).duration_since(enabled);
    drop(srv);
    let _ = std::fs::remove_dir_all(&data);
    backlog.len() as f64 / drained.as_secs_f64()
}

fn main() {
    let data = std::env::temp_dir().join(format!("docket-bench-webhooks-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let srv = Server::start_configured(&data, CONFIG);
    let base = srv.base.clone();
    let (url, arrivals) = receiver();
    let plain_key = create_tenant(&base, "plain");
    let hooked_key = create_tenant(&base, "hooked");
    subscribe(&base, "hooked", &hooked_key, &url);
    let requests = (CLIENTS * CREATIONS_PER_CLIENT) as f64;

    // Warm up both tenants (plugins compiled, connections open).
    create_tickets(&base, "plain", &plain_key, "warm", 10);
    let (_, warm) = create_tickets(&base, "hooked", &hooked_key, "warm", 10);
    await_arrivals(&arrivals, &warm);

    // The event path alone, then with every event's message delivered
    // meanwhile, then alone again (the two runs without bracket the one
    // with, so drift on a shared machine shows).
    let server_pid = srv.pid().to_string();
    let cpu = || (cpu_ms(&server_pid), cpu_ms("self"));
    let c0 = cpu();
    let (alone_1, _) = create_tickets(&base, "plain", &plain_key, "a1", CREATIONS_PER_CLIENT);
    let c1 = cpu();
    let (with_hook, acks) = create_tickets(&base, "hooked", &hooked_key, "h", CREATIONS_PER_CLIENT);
    let last = await_arrivals(&arrivals, &acks);
    let c2 = cpu();
    let (alone_2, _) = create_tickets(&base, "plain", &plain_key, "a2", CREATIONS_PER_CLIENT);
    let c3 = cpu();
    let per_event = |a: (f64, f64), b: (f64, f64)| ((b.0 - a.0) / requests, (b.1 - a.1) / requests);
    let (plain_1, hooked, plain_2) = (per_event(c0, c1), per_event(c1, c2), per_event(c2, c3));
    let seen = arrivals.lock().unwrap().clone();
    let mut delays: Vec<Duration> = acks
        .iter()
        .map(|(t, ack)| seen[t].saturating_duration_since(*ack))
        .collect();
    delays.sort_unstable();
    let first_ack = acks.values().min().copied().unwrap();
    let alone = (alone_1 + alone_2) / 2;

    drop(srv);
    let _ = std::fs::remove_dir_all(&data);
    let drains: Vec<(usize, f64)> = [16, 64]
        .into_iter()
        .map(|allowance| (allowance, drain(allowance)))
        .collect();

    println!(
        "webhook delivery, SQLite, one server, {CLIENTS} clients creating tickets, receiver on loopback"
    );
    println!();
    println!("| run | events/s | deliveries/s | delay p50 ms | delay p99 ms |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| no webhook (mean of two runs: {:.0} and {:.0}) | {:.0} | — | — | — |",
        requests / alone_1.as_secs_f64(),
        requests / alone_2.as_secs_f64(),
        requests / alone.as_secs_f64()
    );
    println!(
        "| every event delivered meanwhile | {:.0} | {:.0} | {:.2} | {:.2} |",
        requests / with_hook.as_secs_f64(),
        requests / last.duration_since(first_ack).as_secs_f64(),
        quantile_ms(&delays, 0.5),
        quantile_ms(&delays, 0.99)
    );
    for (allowance, rate) in drains {
        let default = if allowance == 16 { ", the default" } else { "" };
        println!(
            "| backlog of {BACKLOG} drained, {allowance} in flight{default} | — | {rate:.0} | — | — |"
        );
    }
    println!();
    println!(
        "event path with a webhook / without: x{:.2}",
        alone.as_secs_f64() / with_hook.as_secs_f64()
    );
    println!(
        "CPU ms per event, server + this process (clients, receiver): without {:.2} + {:.2} and {:.2} + {:.2}; with every event delivered {:.2} + {:.2}",
        plain_1.0, plain_1.1, plain_2.0, plain_2.1, hooked.0, hooked.1
    );
}
