//! Webhook delivery under load, `docket serve` on SQLite with a fast
//! receiver on loopback (in this process: HTTP/1.1 keep-alive, a thread
//! per connection, answers 204):
//!
//! - the event path's throughput (4 clients creating tickets) without a
//!   webhook and with one delivering every message meanwhile, in
//!   alternating rounds; the CPU time and synced commits per event; the
//!   delay from each creation's acknowledgement to its delivery;
//! - the drain rate: a backlog of messages staged at once (an endpoint
//!   enabled again) delivered as fast as the sender goes, with the default
//!   16 attempts in flight per endpoint and with 64.
//!
//! `cargo bench -p docket --bench webhook_delivery` prints the table.

#[path = "../tests/support/server.rs"]
mod server;

use server::{ADMIN, Server, client as agent, cpu_ms};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CLIENTS: usize = 4;
const ROUNDS: usize = 3;
const CREATIONS_PER_CLIENT: usize = 250;
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

/// One run of ticket creations: how long it took, the server's and this
/// process's CPU time and the server's synced commits, per event.
struct Run {
    elapsed: Duration,
    server_cpu_ms: f64,
    bench_cpu_ms: f64,
    syncs: f64,
}

fn measured(srv: &Server, run: impl FnOnce() -> Duration) -> Run {
    let pid = srv.pid().to_string();
    let syncs = || srv.counter("docket_store_synced_commits_total") as f64;
    let (s0, b0, c0) = (cpu_ms(&pid), cpu_ms("self"), syncs());
    let elapsed = run();
    let per_event = (CLIENTS * CREATIONS_PER_CLIENT) as f64;
    Run {
        elapsed,
        server_cpu_ms: (cpu_ms(&pid) - s0) / per_event,
        bench_cpu_ms: (cpu_ms("self") - b0) / per_event,
        syncs: (syncs() - c0) / per_event,
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
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

    // Rounds of the event path alone, then with every event's message
    // delivered meanwhile (each round's deliveries finish before the next
    // round): on a shared machine whose disk flushes vary, the ratio of
    // neighbouring runs is steadier than one long pair.
    let mut rounds: Vec<(Run, Run)> = Vec::new();
    let mut delays: Vec<Duration> = Vec::new();
    let mut delivery_rates = Vec::new();
    for round in 0..ROUNDS {
        let alone = measured(&srv, || {
            create_tickets(
                &base,
                "plain",
                &plain_key,
                &format!("a{round}"),
                CREATIONS_PER_CLIENT,
            )
            .0
        });
        let mut acks = HashMap::new();
        let mut last = Instant::now();
        let hooked = measured(&srv, || {
            let (elapsed, a) = create_tickets(
                &base,
                "hooked",
                &hooked_key,
                &format!("h{round}"),
                CREATIONS_PER_CLIENT,
            );
            acks = a;
            last = await_arrivals(&arrivals, &acks);
            elapsed
        });
        let seen = arrivals.lock().unwrap().clone();
        delays.extend(
            acks.iter()
                .map(|(t, ack)| seen[t].saturating_duration_since(*ack)),
        );
        let first_ack = acks.values().min().copied().unwrap();
        delivery_rates.push(requests / last.duration_since(first_ack).as_secs_f64());
        rounds.push((alone, hooked));
    }
    delays.sort_unstable();

    drop(srv);
    let _ = std::fs::remove_dir_all(&data);
    let drains: Vec<(usize, f64)> = [16, 64]
        .into_iter()
        .map(|allowance| (allowance, drain(allowance)))
        .collect();

    let rate = |r: &Run| requests / r.elapsed.as_secs_f64();
    let alone_rates: Vec<f64> = rounds.iter().map(|(a, _)| rate(a)).collect();
    let hooked_rates: Vec<f64> = rounds.iter().map(|(_, h)| rate(h)).collect();
    let ratios: Vec<f64> = rounds.iter().map(|(a, h)| rate(h) / rate(a)).collect();
    let fmt = |xs: &[f64], digits: usize| {
        xs.iter()
            .map(|x| format!("{x:.digits$}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "webhook delivery, SQLite, one server, {CLIENTS} clients creating tickets, receiver on loopback; \
         {ROUNDS} rounds of {} creations without a webhook then with one",
        CLIENTS * CREATIONS_PER_CLIENT
    );
    println!();
    println!("| run | events/s (median; rounds) | deliveries/s | delay p50 ms | delay p99 ms |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| no webhook | {:.0} ({}) | — | — | — |",
        median(alone_rates.clone()),
        fmt(&alone_rates, 0)
    );
    println!(
        "| every event delivered meanwhile | {:.0} ({}) | {:.0} | {:.2} | {:.2} |",
        median(hooked_rates.clone()),
        fmt(&hooked_rates, 0),
        median(delivery_rates),
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
        "event path with a webhook / without, per round: x{} (median x{:.2})",
        fmt(&ratios, 2),
        median(ratios.clone())
    );
    let per_event = |pick: fn(&(Run, Run)) -> &Run, field: fn(&Run) -> f64| {
        median(rounds.iter().map(|r| field(pick(r))).collect())
    };
    println!(
        "per event (medians), without / with a webhook: server CPU ms {:.2} / {:.2}; \
         this process's CPU ms (clients, receiver) {:.2} / {:.2}; synced commits {:.2} / {:.2}",
        per_event(|r| &r.0, |r| r.server_cpu_ms),
        per_event(|r| &r.1, |r| r.server_cpu_ms),
        per_event(|r| &r.0, |r| r.bench_cpu_ms),
        per_event(|r| &r.1, |r| r.bench_cpu_ms),
        per_event(|r| &r.0, |r| r.syncs),
        per_event(|r| &r.1, |r| r.syncs),
    );
}
