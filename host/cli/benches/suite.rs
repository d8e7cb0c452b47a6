//! The benchmark suite: one table, every row measured in the same run.
//!
//! `cargo bench -p docket --bench suite` measures, on the same inputs:
//! the example rules as plain Rust functions (the floor), the same rules as
//! Docket plugins with a fresh isolated instance per call (each plugin and
//! the four-plugin pipeline), the bare sandbox overhead, cold starts (from
//! the on-disk artifact cache, and a fresh install that compiles), and a
//! scale run over 10,000 tenants with a Zipf-skewed event mix on 1 and 2
//! threads; and the no-code twins of the four rule sets (TOML compiled to
//! WebAssembly) on the same inputs. The Extism peer runs from `bench-peers/`
//! (its own workspace), as does the rules-engine peer (zen-engine).

#[path = "support/inputs.rs"]
mod inputs;

use docket_contract::bindings::docket::plugin::types::Context;
use docket_engine::config::load_tenant;
use docket_engine::contract::Capability;
use docket_engine::plugin::CallInput;
use docket_engine::{Docket, EngineConfig, Limits, PluginSource};
use docket_guest_sdk as sdk;
use docket_guests as builtin;
use inputs::{Fixture, MONDAY_9Z, engine_config, time_it};
use serde::de::DeserializeOwned;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const ITERATIONS: usize = 4_000;
const TENANTS: usize = 10_000;
const SCALE_EVENTS: usize = 20_000;

struct Row {
    name: String,
    median: Duration,
    p99: Duration,
    note: String,
}

fn measure(name: &str, f: impl FnMut()) -> Row {
    let (median, p99) = time_it(ITERATIONS, f);
    Row {
        name: name.into(),
        median,
        p99,
        note: String::new(),
    }
}

/// The same value in the guest SDK's types (both sides derive serde from the one WIT).
fn to_sdk<T: serde::Serialize, U: DeserializeOwned>(v: &T) -> U {
    serde_json::from_value(serde_json::to_value(v).unwrap()).expect("host and SDK types agree")
}

fn rss_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0.0);
    pages * 4096.0 / (1024.0 * 1024.0)
}

/// Deterministic Zipf(s = 1.1) sampler over `n` ranks.
struct Zipf {
    cumulative: Vec<f64>,
    state: u64,
}

impl Zipf {
    fn new(n: usize, seed: u64) -> Zipf {
        let mut acc = 0.0;
        let cumulative = (1..=n)
            .map(|k| {
                acc += 1.0 / (k as f64).powf(1.1);
                acc
            })
            .collect();
        Zipf {
            cumulative,
            state: seed,
        }
    }

    fn next(&mut self) -> usize {
        // xorshift64*
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let r = (self.state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
        let target = r * self.cumulative.last().unwrap();
        self.cumulative
            .partition_point(|c| *c < target)
            .min(self.cumulative.len() - 1)
    }
}

/// 7b. Tenants that each have their own plugin (a no-code routing document
/// with their own groups): the resident set bounded by the LRU against an
/// unbounded one, on the same Zipf-skewed events, with the disk cache.
fn distinct_plugins(fx: &Fixture) {
    let tenants: usize = std::env::var("DOCKET_BENCH_DISTINCT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    if tenants == 0 {
        return;
    }
    let cache = std::env::temp_dir().join(format!("docket-suite-lru-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    let doc = std::str::from_utf8(builtin::plugin("nocode/routing").unwrap()).unwrap();
    println!();
    println!(
        "distinct plugins: {tenants} tenants, each its own no-code routing plugin, disk cache, Zipf s=1.1, 1 thread"
    );
    // The bounded run goes first so the unbounded one cannot lend it memory.
    for cap in [256usize, usize::MAX] {
        let d = cached_docket(&cache, cap);
        let rss0 = rss_mib();
        let install = install_own_routing(&d, tenants, doc);
        let rss_installed = rss_mib();
        let mut zipf = Zipf::new(tenants, 0x51_7cc1_b727_220a);
        let mut lat = Vec::with_capacity(SCALE_EVENTS);
        let begin = Instant::now();
        for _ in 0..SCALE_EVENTS {
            let tenant = format!("d{:05}", zipf.next());
            let req = fx.request(&fx.created);
            let s = Instant::now();
            assert!(d.dispatch(&tenant, req).unwrap().is_applied());
            lat.push(s.elapsed());
        }
        let eps = lat.len() as f64 / begin.elapsed().as_secs_f64();
        lat.sort_unstable();
        let stats = d.resident_stats();
        let cap_name = if cap == usize::MAX {
            "unbounded".to_string()
        } else {
            cap.to_string()
        };
        println!(
            "  resident cap {cap_name:>9}: installed in {:.1} s, RSS +{:.0} MiB after install, +{:.0} MiB after {SCALE_EVENTS} events; {eps:.0} events/s, p50 {:.0} µs, p99 {:.0} µs; {} resident, {} loaded at first call, {} reloads, {} evictions",
            install.as_secs_f64(),
            rss_installed - rss0,
            rss_mib() - rss0,
            lat[lat.len() / 2].as_secs_f64() * 1e6,
            lat[lat.len() * 99 / 100].as_secs_f64() * 1e6,
            stats.resident,
            stats.first_loads,
            stats.reloads,
            stats.evictions,
        );
    }
    // A restart over the filled cache: every plugin was checked before, so
    // installing it again defers loading to its first call.
    let d = cached_docket(&cache, 256);
    let rss0 = rss_mib();
    let install = install_own_routing(&d, tenants, doc);
    let rss_installed = rss_mib() - rss0;
    let begin = Instant::now();
    assert!(
        d.dispatch("d00000", fx.request(&fx.created))
            .unwrap()
            .is_applied()
    );
    let first = begin.elapsed();
    println!(
        "  restart over the filled cache: {tenants} plugins installed in {:.2} s ({:.0} µs each; none compiled or loaded, {} resident), RSS +{:.0} MiB; a tenant's first event {:.0} µs (loads its plugin)",
        install.as_secs_f64(),
        install.as_secs_f64() * 1e6 / tenants as f64,
        d.resident_stats().resident,
        rss_installed,
        first.as_secs_f64() * 1e6,
    );
    let _ = std::fs::remove_dir_all(&cache);
}

/// The bench engine with the disk cache in `cache` and a resident cap.
fn cached_docket(cache: &Path, max_resident_plugins: usize) -> Docket {
    Docket::new(EngineConfig {
        cache_dir: Some(cache.to_path_buf()),
        max_resident_plugins,
        ..engine_config()
    })
    .unwrap()
}

/// Gives each of `tenants` tenants its own variant of the no-code routing
/// document as its only plugin; returns how long that took.
fn install_own_routing(d: &Docket, tenants: usize, doc: &str) -> Duration {
    let begin = Instant::now();
    for i in 0..tenants {
        let id = format!("d{i:05}");
        let own = doc.replace("\"general\"", &format!("\"general-{i}\""));
        d.ensure_tenant(&id, Limits::default()).unwrap();
        let v = d
            .install(&id, "routing", PluginSource::Rules(&own))
            .unwrap();
        d.activate(&id, "routing", &v.version.to_string()).unwrap();
        d.set_pipeline(
            &id,
            vec![docket_engine::PipelineStep {
                plugin: "routing".into(),
                settings: vec![],
                on_failure: docket_engine::FailurePolicy::FailEvent,
                events: vec![],
            }],
        )
        .unwrap();
    }
    begin.elapsed()
}

fn main() {
    let fx = Arc::new(Fixture::new());
    let docket = Docket::new(engine_config()).expect("engine");
    load_tenant(&docket, &fx.config, Path::new("."), &builtin::plugin).expect("tenant");
    let (config, agents, t, created, logged) =
        (&fx.config, &fx.agents, &fx.ticket, &fx.created, &fx.logged);
    let state = docket.tenant("acme-repair").unwrap();
    let limits = Limits::default();
    let base_ctx = Context {
        tenant: "acme-repair".into(),
        now: MONDAY_9Z,
        settings: vec![],
        agents: agents.clone(),
        history: vec![],
        calendars: vec!["business-hours".into()],
    };
    let ctx_of = |plugin: &str| fx.context(&state, plugin);

    let mut rows: Vec<Row> = Vec::new();

    // DOCKET_BENCH_SCALE_ONLY=1 runs just the scale rows (for profiling them).
    if std::env::var_os("DOCKET_BENCH_SCALE_ONLY").is_none() {
        // 1. Native baseline: the same rule code, called in-process on the same inputs.
        let (s_t, s_created, s_logged): (sdk::Ticket, sdk::Event, sdk::Event) =
            (to_sdk(&t), to_sdk(&created), to_sdk(&logged));
        let sdk_ctx = |plugin: &str| -> sdk::Context { to_sdk(&ctx_of(plugin)) };
        let (c_tpl, c_route, c_esc, c_bill) = (
            sdk_ctx("templates"),
            sdk_ctx("routing"),
            sdk_ctx("escalation"),
            sdk_ctx("billing"),
        );
        use docket_rules_billing::FieldServiceBilling;
        use docket_rules_escalation::SlaEscalation;
        use docket_rules_routing::HelpdeskRouting;
        use docket_rules_templates::ServiceForms;
        use sdk::{Billing as _, Escalation as _, Routing as _, Template as _};
        let native = [
            measure("native: templates", || {
                std::hint::black_box(ServiceForms::validate(&s_created, &s_t, &c_tpl));
            }),
            measure("native: routing", || {
                std::hint::black_box(HelpdeskRouting::route(&s_created, &s_t, &c_route));
            }),
            measure("native: escalation", || {
                std::hint::black_box(SlaEscalation::evaluate(&s_created, &s_t, &c_esc));
            }),
            measure("native: billing", || {
                std::hint::black_box(FieldServiceBilling::bill(&s_logged, &s_t, &c_bill));
            }),
            measure("native: 4 rule sets, created event", || {
                std::hint::black_box(ServiceForms::validate(&s_created, &s_t, &c_tpl));
                std::hint::black_box(HelpdeskRouting::route(&s_created, &s_t, &c_route));
                std::hint::black_box(SlaEscalation::evaluate(&s_created, &s_t, &c_esc));
                std::hint::black_box(FieldServiceBilling::bill(&s_created, &s_t, &c_bill));
            }),
        ];

        // 2. Docket, fresh isolated instance per call.
        // Each plugin of a tenant, then its whole pipeline, as rows named
        // with a prefix.
        let plugin_rows = |tenant: &str, prefix: &str| -> Vec<Row> {
            let state = docket.tenant(tenant).unwrap();
            let mut out = Vec::new();
            for (name, capability, event) in [
                ("templates", Capability::Template, &created),
                ("routing", Capability::Routing, &created),
                ("escalation", Capability::Escalation, &created),
                ("billing", Capability::Billing, &logged),
            ] {
                let plugin = state.active_plugin(name).unwrap();
                let ctx = fx.context(&state, name);
                out.push(measure(&format!("{prefix}: {name}"), || {
                    let input = CallInput {
                        event,
                        ticket: t,
                        context: &ctx,
                        position: None,
                    };
                    let (r, _) = docket.call(plugin, capability, &input, &limits);
                    r.expect("plugin call");
                }));
            }
            out.push(measure(
                &format!("{prefix}: 4-plugin pipeline, created event"),
                || {
                    let req = fx.request(created);
                    assert!(docket.dispatch(tenant, req).expect("dispatch").is_applied());
                },
            ));
            out
        };
        let docket_rows = plugin_rows("acme-repair", "docket");

        // 3. The no-code twins (TOML compiled to wasm), same inputs, same tenant settings.
        let mut nocode_config = config.clone();
        nocode_config.tenant = "acme-nocode".into();
        for p in &mut nocode_config.plugins {
            p.source = p.source.replace("builtin:", "builtin:nocode/");
        }
        load_tenant(&docket, &nocode_config, Path::new("."), &builtin::plugin)
            .expect("no-code tenant");
        let nocode_rows = plugin_rows("acme-nocode", "no-code");
        for ((n, d), c) in native.into_iter().zip(docket_rows).zip(nocode_rows) {
            let ratio = d.median.as_secs_f64() / n.median.as_secs_f64();
            let twin = c.median.as_secs_f64() / d.median.as_secs_f64();
            let c_native = c.median.as_secs_f64() / n.median.as_secs_f64();
            rows.push(n);
            rows.push(Row {
                note: format!("×{ratio:.0} native"),
                ..d
            });
            rows.push(Row {
                note: format!("×{twin:.2} Rust plugin, ×{c_native:.0} native"),
                ..c
            });
        }

        // The same pipeline with billing subscribed to the events it bills
        // on: a created event then instantiates three plugins, not four.
        let mut subscribed = config.clone();
        subscribed.tenant = "acme-subscribed".into();
        for p in subscribed
            .plugins
            .iter_mut()
            .filter(|p| p.name == "billing")
        {
            use docket_engine::contract::EventKindName as K;
            p.events = vec![K::TimeLogged, K::PartUsed, K::StatusChanged];
        }
        load_tenant(&docket, &subscribed, Path::new("."), &builtin::plugin)
            .expect("subscribed tenant");
        let mut subscribed_row = measure(
            "docket: pipeline, billing subscribed, created event",
            || {
                let req = fx.request(created);
                let outcome = docket.dispatch("acme-subscribed", req).expect("dispatch");
                assert!(outcome.is_applied() && outcome.trace.len() == 3);
            },
        );
        let full = rows
            .iter()
            .find(|r| r.name == "docket: 4-plugin pipeline, created event")
            .expect("pipeline row");
        subscribed_row.note = format!(
            "×{:.2} the 4-plugin pipeline",
            subscribed_row.median.as_secs_f64() / full.median.as_secs_f64()
        );
        rows.push(subscribed_row);

        // The sandbox alone: instantiate + call + teardown of a plugin that does nothing.
        let noop = wat::parse_str(
        r#"(module (memory (export "memory") 1)
            (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) i32.const 1024)
            (func (export "docket:plugin/routing@0.1.0#route") (param i32) (result i32) i32.const 16))"#,
    )
    .unwrap();
        let (noop, _) = docket
            .compile(PluginSource::CoreModule(&noop), &limits)
            .expect("noop plugin");
        let mut overhead = measure("docket: sandbox overhead (no-op plugin)", || {
            let input = CallInput {
                event: created,
                ticket: t,
                context: &base_ctx,
                position: None,
            };
            let (r, _) = docket.call(&noop, Capability::Routing, &input, &limits);
            r.expect("noop");
        });
        overhead.note = "target ≤ 10 µs".into();
        rows.push(overhead);

        // 4-5. Measured elsewhere or not available.
        for (name, note) in [
            (
                "peer: Extism (JSON ABI)",
                "measured by bench-peers/run.sh (own workspace)",
            ),
            (
                "peer: rules engine (zen-engine)",
                "measured by bench-peers/run.sh (own workspace)",
            ),
        ] {
            rows.push(Row {
                name: name.into(),
                median: Duration::ZERO,
                p99: Duration::ZERO,
                note: note.into(),
            });
        }

        // 6. Cold starts.
        let cache = std::env::temp_dir().join(format!("docket-suite-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&cache);
        let cold = |cache_dir: Option<std::path::PathBuf>| -> Duration {
            let d = Docket::new(EngineConfig {
                cache_dir,
                max_instances: 8,
                ..EngineConfig::default()
            })
            .unwrap();
            let begin = Instant::now();
            load_tenant(&d, config, Path::new("."), &builtin::plugin).unwrap();
            let req = fx.request(created);
            assert!(d.dispatch("acme-repair", req).unwrap().is_applied());
            begin.elapsed()
        };
        let fresh: Vec<Duration> = (0..3).map(|_| cold(None)).collect();
        cold(Some(cache.clone())); // fills the cache
        let mut from_disk: Vec<Duration> = (0..9).map(|_| cold(Some(cache.clone()))).collect();
        from_disk.sort_unstable();
        let mut fresh = fresh;
        fresh.sort_unstable();
        rows.push(Row {
            name: "cold start: 4 plugins from the disk cache + first event".into(),
            median: from_disk[4],
            p99: from_disk[8],
            note: "target < 2 ms".into(),
        });
        rows.push(Row {
            name: "cold start: fresh install (compile) + first event".into(),
            median: fresh[1],
            p99: fresh[2],
            note: String::new(),
        });
        let _ = std::fs::remove_dir_all(&cache);
    }

    // 7. Scale: 10,000 tenants, Zipf-skewed events, 1 and 2 threads.
    let rss_before = rss_mib();
    let scale = Arc::new(Docket::new(engine_config()).unwrap());
    load_tenant(&scale, config, Path::new("."), &builtin::plugin).unwrap();
    let setup = Instant::now();
    for i in 0..TENANTS {
        scale
            .copy_tenant("acme-repair", &format!("t{i:05}"))
            .unwrap();
    }
    let setup_time = setup.elapsed();
    let rss_idle = rss_mib();
    let mut scale_rows = Vec::new();
    for threads in [1usize, 2] {
        let per_thread = SCALE_EVENTS / threads;
        let begin = Instant::now();
        let handles: Vec<_> = (0..threads)
            .map(|th| {
                let (scale, fx) = (scale.clone(), fx.clone());
                std::thread::spawn(move || {
                    let mut zipf = Zipf::new(TENANTS, 0x9e37_79b9_7f4a_7c15 ^ th as u64);
                    let mut lat = Vec::with_capacity(per_thread);
                    for _ in 0..per_thread {
                        let tenant = format!("t{:05}", zipf.next());
                        let req = fx.request(&fx.created);
                        let s = Instant::now();
                        assert!(scale.dispatch(&tenant, req).unwrap().is_applied());
                        lat.push(s.elapsed());
                    }
                    lat
                })
            })
            .collect();
        let mut lat: Vec<Duration> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        let elapsed = begin.elapsed();
        lat.sort_unstable();
        let eps = lat.len() as f64 / elapsed.as_secs_f64();
        scale_rows.push((threads, eps, lat[lat.len() / 2], lat[lat.len() * 99 / 100]));
    }
    let rss_after = rss_mib();

    println!(
        "docket benchmark suite — one run, release build, fresh isolated instance per plugin call"
    );
    println!(
        "{:<58} {:>11} {:>11} {:>12}  note",
        "row", "median µs", "p99 µs", "per second"
    );
    for r in &rows {
        if r.median.is_zero() {
            println!(
                "{:<58} {:>11} {:>11} {:>12}  {}",
                r.name, "-", "-", "-", r.note
            );
            continue;
        }
        let m = r.median.as_secs_f64();
        println!(
            "{:<58} {:>11.1} {:>11.1} {:>12.0}  {}",
            r.name,
            m * 1e6,
            r.p99.as_secs_f64() * 1e6,
            1.0 / m,
            r.note
        );
    }
    println!();
    println!(
        "scale: {TENANTS} tenants (each with its own pipeline, sharing the 4 compiled components by content hash) set up in {:.0} ms",
        setup_time.as_secs_f64() * 1e3
    );
    println!(
        "resident memory: {rss_before:.0} MiB before, {rss_idle:.0} MiB with {TENANTS} idle tenants, {rss_after:.0} MiB after the runs"
    );
    for (threads, eps, p50, p99) in &scale_rows {
        println!(
            "  {threads} thread(s): {eps:.0} events/s ({:.0} per core), p50 {:.0} µs, p99 {:.0} µs (4-plugin pipeline, Zipf s=1.1 over tenants)",
            eps / *threads as f64,
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6
        );
    }
    let (_, one, _, _) = scale_rows[0];
    let (_, two, _, _) = scale_rows[1];
    println!("  1 → 2 threads: ×{:.2} events/s", two / one);
    distinct_plugins(&fx);
}
