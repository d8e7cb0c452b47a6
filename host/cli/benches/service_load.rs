//! Load test of `docket serve` on loopback, bounded in count and time:
//! well-behaved tenants create and update tickets concurrently, first alone,
//! then while another tenant's plugin loops forever on every event (each of
//! its calls runs until its fuel or deadline stops it, burning a core), then
//! alone again over tenants that already hold 10,000 and 100,000 tickets
//! each (per-request cost must not grow with them).
//! A second table scales out: 4 and 16 client connections on SQLite (one
//! server) and, with `DOCKET_TEST_DATABASE_URL` set, on PostgreSQL with 1, 2
//! and 3 replicas sharing one database, with how many writes each commit
//! (log sync) carried.
//! `cargo bench -p docket --bench service_load` prints both tables.

#[path = "../tests/support/server.rs"]
mod server;

use docket_guests as builtin;
use server::{ADMIN, Server, client as agent, cpu_ms, process_tree_cpu_ms};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const GOOD_TENANTS: usize = 3;
const CLIENTS: usize = 4;
/// Client connections in the scale-out table.
const SCALE_CLIENTS: [usize; 2] = [4, 16];
/// PostgreSQL replicas in the scale-out table.
const REPLICAS: [usize; 3] = [1, 2, 3];
const REQUESTS_PER_CLIENT: usize = 400;

/// Requests each client sends in a phase: `DOCKET_BENCH_REQUESTS_PER_CLIENT`
/// lengthens the phases, e.g. to profile the server under steady load.
fn requests_per_client() -> usize {
    std::env::var("DOCKET_BENCH_REQUESTS_PER_CLIENT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(REQUESTS_PER_CLIENT)
}
const PHASE_TIME_LIMIT: Duration = Duration::from_secs(60);

fn post(a: &ureq::Agent, url: &str, key: &str, ct: &str, body: &[u8]) -> u16 {
    a.post(url)
        .header("Authorization", &format!("Bearer {key}"))
        .header("content-type", ct)
        .send(body)
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

fn setup_tenant(
    base: &str,
    id: &str,
    plugins: &[(&str, &[u8])],
    pipeline: serde_json::Value,
) -> String {
    let a = agent();
    let mut r = a
        .post(&format!("{base}/v1/tenants"))
        .header("Authorization", &format!("Bearer {ADMIN}"))
        .send_json(serde_json::json!({ "id": id }))
        .unwrap();
    let key = r.body_mut().read_json::<serde_json::Value>().unwrap()["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    for (name, bytes) in plugins {
        assert!(matches!(
            post(
                &a,
                &format!("{base}/v1/tenants/{id}/plugins/{name}"),
                &key,
                "application/wasm",
                bytes
            ),
            200 | 201
        ));
        assert_eq!(
            post(
                &a,
                &format!("{base}/v1/tenants/{id}/plugins/{name}/activate"),
                &key,
                "application/json",
                b"{\"version\":1}"
            ),
            200
        );
    }
    let cal = serde_json::json!([{ "name": "business-hours", "timezone": "Europe/Berlin",
        "hours": { "mon": "09:00-17:00", "tue": "09:00-17:00", "wed": "09:00-17:00", "thu": "09:00-17:00", "fri": "09:00-17:00" } }]);
    let put = |path: &str, body: serde_json::Value| {
        a.put(&format!("{base}/v1/tenants/{id}/{path}"))
            .header("Authorization", &format!("Bearer {key}"))
            .send_json(body)
            .unwrap()
    };
    put("calendars", cal);
    put("pipeline", pipeline);
    key
}

struct Phase {
    requests: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    /// Latencies of creations and of updates, each sorted.
    creations: Vec<Duration>,
    updates: Vec<Duration>,
    hostile_requests: usize,
}

/// The `q` quantile of sorted latencies, in ms.
fn quantile(sorted: &[Duration], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3
}

/// `clients` threads alternate creating a ticket and updating it, client
/// `c` on server `bases[c % bases.len()]`.
fn run_phase(
    bases: &[String],
    keys: &[String],
    hostile: Option<&str>,
    round: usize,
    clients: usize,
) -> Phase {
    let base = &bases[0];
    let stop = Arc::new(AtomicBool::new(false));
    let hostile_count = Arc::new(AtomicUsize::new(0));
    let hostile_threads: Vec<_> = hostile
        .map(|key| {
            (0..2)
                .map(|h| {
                    let (stop, count, base, key) = (stop.clone(), hostile_count.clone(), base.to_string(), key.to_string());
                    std::thread::spawn(move || {
                        let a = agent();
                        let mut i = 0;
                        while !stop.load(Ordering::Relaxed) {
                            let body = serde_json::json!({ "subject": "x", "requester": { "id": "evil" } }).to_string();
                            post(&a, &format!("{base}/v1/tenants/hostile/tickets/H-{round}-{h}-{i}"), &key, "application/json", body.as_bytes());
                            count.fetch_add(1, Ordering::Relaxed);
                            i += 1;
                        }
                    })
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let per_client = requests_per_client();
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let (base, keys) = (bases[c % bases.len()].clone(), keys.to_vec());
            std::thread::spawn(move || {
                let a = agent();
                let mut lat = Vec::new();
                for i in 0..per_client {
                    if started.elapsed() > PHASE_TIME_LIMIT {
                        break;
                    }
                    let t = (c + i) % GOOD_TENANTS;
                    let ticket = format!("T-{round}-{c}-{}", i / 2);
                    let url = format!("{base}/v1/tenants/good{t}/tickets/{ticket}");
                    let begin = Instant::now();
                    let status = if i % 2 == 0 {
                        let body = serde_json::json!({ "subject": "Laptop", "category": "hardware", "requester": { "id": format!("c-{c}"), "region": "emea" } });
                        post(&a, &url, &keys[t], "application/json", body.to_string().as_bytes())
                    } else {
                        // The update goes to the ticket the previous request created (same tenant index i-1).
                        let prev = (c + i - 1) % GOOD_TENANTS;
                        let url = format!("{base}/v1/tenants/good{prev}/tickets/{ticket}");
                        a.patch(&url).header("Authorization", &format!("Bearer {}", keys[prev])).send_json(serde_json::json!({ "priority": "high" })).map(|r| r.status().as_u16()).unwrap_or(0)
                    };
                    lat.push((i % 2 == 0, begin.elapsed()));
                    assert!(status == 200 || status == 201, "status {status}");
                }
                lat
            })
        })
        .collect();
    let timed: Vec<(bool, Duration)> = threads
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    let elapsed = started.elapsed();
    let sorted = |keep: &dyn Fn(bool) -> bool| {
        let mut v: Vec<Duration> = timed
            .iter()
            .filter(|(c, _)| keep(*c))
            .map(|(_, d)| *d)
            .collect();
        v.sort_unstable();
        v
    };
    let (latencies, creations, updates) = (sorted(&|_| true), sorted(&|c| c), sorted(&|c| !c));
    stop.store(true, Ordering::Relaxed);
    for h in hostile_threads {
        h.join().unwrap();
    }
    Phase {
        requests: latencies.len(),
        elapsed,
        latencies,
        creations,
        updates,
        hostile_requests: hostile_count.load(Ordering::Relaxed),
    }
}

/// Tickets already in each well-behaved tenant, one row per size.
const EXISTING: [usize; 3] = [0, 10_000, 100_000];
/// Agents the existing tickets are assigned to.
const AGENTS: usize = 20;

fn setup_good_tenants(base: &str) -> Vec<String> {
    let agents: Vec<serde_json::Value> = (0..AGENTS)
        .map(|i| serde_json::json!({ "id": format!("agent-{i}"), "group": "hardware", "level": 2 }))
        .collect();
    (0..GOOD_TENANTS)
        .map(|t| {
            let id = format!("good{t}");
            let key = setup_tenant(
                base,
                &id,
                &[("routing", builtin::plugin("routing").unwrap()), ("escalation", builtin::plugin("escalation").unwrap())],
                serde_json::json!([{ "plugin": "routing", "settings": { "max_open": 5 } }, { "plugin": "escalation" }]),
            );
            let r = agent()
                .put(&format!("{base}/v1/tenants/{id}/agents"))
                .header("Authorization", &format!("Bearer {key}"))
                .send_json(serde_json::Value::Array(agents.clone()))
                .unwrap();
            assert_eq!(r.status().as_u16(), 204);
            key
        })
        .collect()
}

/// Writes `n` tickets into each well-behaved tenant straight into the
/// store (the server is stopped): a third open and assigned, the rest
/// solved, all from the requesters the load clients use, so both the
/// agents' load and the requester history have `n` tickets behind them.
fn seed_tickets(data: &std::path::Path, n: usize) {
    use docket_app::sqlite as store;
    use docket_engine::types::Status;
    let s = store::SqliteStore::open(data).unwrap();
    let base_instant = 1_795_392_000_000i64; // 2026-11-23
    for t in 0..GOOD_TENANTS {
        let tenant = format!("good{t}");
        s.write(|tx| {
            for i in 0..n {
                let new: docket_app::ticket_input::NewTicket =
                    serde_json::from_value(serde_json::json!({
                        "subject": "Existing", "category": "hardware",
                        "requester": { "id": format!("c-{}", i % CLIENTS), "region": "emea" }
                    }))
                    .unwrap();
                let mut ticket = docket_app::ticket_input::new_ticket(
                    &tenant,
                    &format!("S-{i}"),
                    base_instant - (n - i) as i64 * 60_000,
                    &new,
                )
                .unwrap();
                ticket.assignee = Some(format!("agent-{}", i % AGENTS));
                ticket.status = if i % 3 == 0 {
                    Status::Open
                } else {
                    Status::Solved
                };
                store::put_ticket(tx, &ticket, None)?.expect("a new ticket");
            }
            Ok(())
        })
        .unwrap();
    }
}

fn main() {
    // `cargo bench -p docket --bench service_load -- store` runs one
    // table (`isolation`, `scale` or `store`); no name runs all three.
    let chosen: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let run = |name: &str| chosen.is_empty() || chosen.iter().any(|c| c == name);
    if run("isolation") {
        isolation_table();
    }
    if run("scale") {
        scale_out_table();
    }
    if run("store") {
        store_table();
    }
}

/// Well-behaved tenants alone, beside a hostile one, and over seeded
/// tickets: SQLite, one server, 4 clients.
fn isolation_table() {
    let mut rows: Vec<(String, Phase)> = Vec::new();
    for (round, &existing) in EXISTING.iter().enumerate() {
        let data =
            std::env::temp_dir().join(format!("docket-load-{}-{existing}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        let mut server = Server::start_on(&data, None);
        let good = setup_good_tenants(&server.base);
        if existing > 0 {
            drop(server);
            let seeding = Instant::now();
            seed_tickets(&data, existing);
            eprintln!(
                "seeded {existing} tickets per tenant in {:.1} s",
                seeding.elapsed().as_secs_f64()
            );
            server = Server::start_on(&data, None);
        }
        let base = server.base.clone();
        let label = if existing == 0 {
            "well-behaved tenants alone".to_string()
        } else {
            format!("same, {existing} tickets per tenant")
        };
        rows.push((
            label,
            run_phase(std::slice::from_ref(&base), &good, None, round * 2, CLIENTS),
        ));
        if existing == 0 {
            let hostile = setup_tenant(
                &base,
                "hostile",
                &[("loop", builtin::hostile_plugin())],
                serde_json::json!([{ "plugin": "loop", "settings": { "mode": "loop" } }]),
            );
            let noisy = run_phase(
                std::slice::from_ref(&base),
                &good,
                Some(&hostile),
                round * 2 + 1,
                CLIENTS,
            );
            rows.push(("same, one tenant looping forever".to_string(), noisy));
        }
        drop(server);
        let _ = std::fs::remove_dir_all(&data);
    }

    println!(
        "docket serve load test — loopback, {CLIENTS} client threads over {GOOD_TENANTS} tenants (create + update, routing + escalation plugins, SQLite WAL, fsync on commit), one run"
    );
    println!(
        "{:<36} {:>9} {:>10} {:>9} {:>9} {:>9} {:>16}",
        "phase", "requests", "req/s", "p50 ms", "p99 ms", "max ms", "hostile requests"
    );
    for (name, p) in &rows {
        let pct = |q: f64| quantile(&p.latencies, q);
        println!(
            "{:<36} {:>9} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>16}",
            name,
            p.requests,
            p.requests as f64 / p.elapsed.as_secs_f64(),
            pct(0.5),
            pct(0.99),
            pct(1.0),
            p.hostile_requests
        );
    }
    let throughput = |p: &Phase| p.requests as f64 / p.elapsed.as_secs_f64();
    let p50 = |p: &Phase| p.latencies[p.latencies.len() / 2].as_secs_f64();
    let p99 = |p: &Phase| p.latencies[(p.latencies.len() - 1) * 99 / 100].as_secs_f64();
    let empty = &rows[0].1;
    for (name, p) in &rows[1..] {
        println!(
            "{name}, against the empty tenants: throughput ×{:.2}, p50 ×{:.2}, p99 ×{:.2}",
            throughput(p) / throughput(empty),
            p50(p) / p50(empty),
            p99(p) / p99(empty),
        );
    }
}

/// CPU time the PostgreSQL server at `url` has used, in ms: its
/// postmaster (named by `postmaster.pid` in its data directory, on this
/// machine) and every process it started.
fn database_cpu_ms(url: &str) -> f64 {
    let mut c = postgres::Client::connect(url, postgres::NoTls).expect("connect");
    let dir: String = c
        .query_one("SELECT current_setting('data_directory')", &[])
        .expect("the data directory (a superuser's setting)")
        .get(0);
    let pid_file = std::fs::read_to_string(format!("{dir}/postmaster.pid"))
        .expect("postmaster.pid: the bench runs beside its PostgreSQL server");
    let postmaster: u32 = pid_file.lines().next().unwrap().trim().parse().unwrap();
    process_tree_cpu_ms(postmaster)
}

/// Writes and the commits (log syncs) that carried them: SQLite's group
/// commit counts both in `/metrics`; PostgreSQL counts its WAL syncs in
/// `pg_stat_wal` (cluster-wide: run the bench on an otherwise idle server),
/// and every request there is one write transaction.
fn commit_counters(bases: &[String], postgres: Option<&str>) -> (u64, u64) {
    if let Some(url) = postgres {
        let mut c = postgres::Client::connect(url, postgres::NoTls).expect("connect");
        let syncs: i64 = c
            .query_one("SELECT wal_sync FROM pg_stat_wal", &[])
            .expect("pg_stat_wal")
            .get(0);
        return (0, syncs as u64);
    }
    let mut total = (0, 0);
    for base in bases {
        total.0 += server::counter(base, "docket_store_writes_total");
        total.1 += server::counter(base, "docket_store_synced_commits_total");
    }
    total
}

/// 4 and 16 clients on SQLite (one server) and on PostgreSQL with 1, 2 and
/// 3 replicas sharing a database.
fn scale_out_table() {
    let postgres = std::env::var("DOCKET_TEST_DATABASE_URL").ok();
    let mut setups: Vec<(&str, usize)> = vec![("SQLite", 1)];
    if postgres.is_some() {
        setups.extend(REPLICAS.iter().map(|&n| ("PostgreSQL", n)));
    } else {
        eprintln!("DOCKET_TEST_DATABASE_URL is unset: the PostgreSQL rows are left out");
    }
    println!();
    println!(
        "scale-out — loopback, create + update alternating, {GOOD_TENANTS} tenants, one run; the clients, servers and database share the machine's cores"
    );
    println!(
        "{:<11} {:>8} {:>7} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>14} {:>14} {:>14} {:>14}",
        "database",
        "replicas",
        "clients",
        "requests",
        "req/s",
        "p50 ms",
        "p99 ms",
        "create p99",
        "update p99",
        "writes/commit",
        "server µs/req",
        "database µs/req",
        "client µs/req"
    );
    for (round, &(database, replicas)) in setups.iter().enumerate() {
        let data =
            std::env::temp_dir().join(format!("docket-scale-{}-{round}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        let url = match database {
            "PostgreSQL" => {
                docket_app::test_database(&format!("scale_{}_{round}", std::process::id()), true)
            }
            _ => None,
        };
        let servers: Vec<Server> = (0..replicas)
            .map(|r| Server::start_on(&data.join(format!("replica-{r}")), url.as_deref()))
            .collect();
        let bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
        let keys = setup_good_tenants(&bases[0]);
        for (i, &clients) in SCALE_CLIENTS.iter().enumerate() {
            let stats_url = postgres.as_deref().filter(|_| url.is_some());
            let before = commit_counters(&bases, stats_url);
            let database_cpu = || stats_url.map_or(0.0, database_cpu_ms);
            let cpu_before = (servers_cpu_ms(&servers), cpu_ms("self"), database_cpu());
            let p = run_phase(&bases, &keys, None, 100 + round * 10 + i, clients);
            let cpu_after = (servers_cpu_ms(&servers), cpu_ms("self"), database_cpu());
            let after = commit_counters(&bases, stats_url);
            // CPU time per request, in µs: the replicas', the database
            // server's (SQLite's work is the replica's own) and the clients'.
            let per_request = |before: f64, after: f64| (after - before) * 1e3 / p.requests as f64;
            let (mut writes, commits) = (after.0 - before.0, after.1 - before.1);
            if stats_url.is_some() {
                writes = p.requests as u64;
            }
            println!(
                "{:<11} {:>8} {:>7} {:>8} {:>8.0} {:>8.2} {:>9.2} {:>9.2} {:>9.2} {:>14.2} {:>14.0} {:>14} {:>14.0}",
                database,
                replicas,
                clients,
                p.requests,
                p.requests as f64 / p.elapsed.as_secs_f64(),
                quantile(&p.latencies, 0.5),
                quantile(&p.latencies, 0.99),
                quantile(&p.creations, 0.99),
                quantile(&p.updates, 0.99),
                writes as f64 / commits.max(1) as f64,
                per_request(cpu_before.0, cpu_after.0),
                match stats_url {
                    Some(_) => format!("{:.0}", per_request(cpu_before.2, cpu_after.2)),
                    None => "—".to_owned(),
                },
                per_request(cpu_before.1, cpu_after.1),
            );
        }
        drop(servers);
        let _ = std::fs::remove_dir_all(&data);
    }
}

/// CPU time the servers' processes have used, in ms.
fn servers_cpu_ms(servers: &[Server]) -> f64 {
    servers.iter().map(|s| cpu_ms(&s.pid().to_string())).sum()
}

/// The durable write path alone (no HTTP, no plugins): threads writing a
/// new ticket each, every write acknowledged only once its commit is
/// synced; through `SqliteStore::write` (group commit) and, for contrast,
/// through one connection behind a mutex with a transaction per write (the
/// store before group commit).
fn store_table() {
    use docket_app::sqlite as store;
    println!();
    println!("SQLite store alone — threads each writing new tickets, synchronous = FULL");
    println!(
        "{:>8} {:>8} {:>16} {:>14} {:>22}",
        "threads", "writes", "grouped writes/s", "writes/commit", "one commit each, /s"
    );
    let ticket = |t: usize, i: usize| {
        let new: docket_app::ticket_input::NewTicket = serde_json::from_value(
            serde_json::json!({ "subject": "Laptop", "requester": { "id": format!("c-{t}") } }),
        )
        .unwrap();
        docket_app::ticket_input::new_ticket("t", &format!("W-{t}-{i}"), 0, &new).unwrap()
    };
    for threads in [1, 4, 16, 64] {
        let per_thread = 4000 / threads;
        let writes = threads * per_thread;
        let timed = |write: &(dyn Fn(usize, usize) + Sync)| {
            let started = Instant::now();
            std::thread::scope(|scope| {
                for t in 0..threads {
                    scope.spawn(move || (0..per_thread).for_each(|i| write(t, i)));
                }
            });
            writes as f64 / started.elapsed().as_secs_f64()
        };
        let data =
            std::env::temp_dir().join(format!("docket-store-{}-{threads}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        let s = store::SqliteStore::open(&data).unwrap();
        let grouped = timed(&|t, i| {
            s.write(|tx| store::put_ticket(tx, &ticket(t, i), None))
                .unwrap()
                .expect("a new ticket");
        });
        let stats = docket_app::catalog::Catalog::commit_stats(&s).unwrap();
        drop(s);
        let _ = std::fs::remove_dir_all(&data);
        // The same schema and statements, one transaction per write.
        let s = store::SqliteStore::open(&data).unwrap();
        drop(s);
        let conn = std::sync::Mutex::new(rusqlite_connection(&data));
        let single = timed(&|t, i| {
            let mut c = conn.lock().unwrap();
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .unwrap();
            store::put_ticket(&tx, &ticket(t, i), None)
                .unwrap()
                .expect("a new ticket");
            tx.commit().unwrap();
        });
        let _ = std::fs::remove_dir_all(&data);
        println!(
            "{:>8} {:>8} {:>16.0} {:>14.2} {:>22.0}",
            threads,
            writes,
            grouped,
            stats.writes as f64 / stats.commits.max(1) as f64,
            single
        );
    }
}

/// A connection to a store's database with the store's durability settings.
fn rusqlite_connection(data: &std::path::Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(data.join("docket.db")).unwrap();
    c.pragma_update(None, "journal_mode", "WAL").unwrap();
    c.pragma_update(None, "synchronous", "FULL").unwrap();
    c
}
