//! Plugins by language: one table, every row measured in the same run.
//!
//! `cargo bench -p docket --bench polyglot` measures the routing and billing
//! examples as Rust plugins, as their no-code twins (TOML compiled to wasm),
//! and as the JavaScript (StarlingMonkey, and QuickJS as `js-qjs`) and
//! Python (CPython) components built by `example-rules/{js,python}/build.sh`
//! (into `target/polyglot`, or
//! `$DOCKET_POLYGLOT_DIR`), on the same inputs: component size, compile time
//! (uncached, once per install), the smallest memory cap the call runs
//! under, and per call (a fresh isolated instance each) median and p99 time
//! and fuel.

// Shared with the suite, which uses all of it.
#[allow(dead_code)]
#[path = "support/inputs.rs"]
mod inputs;

use docket_engine::config::load_tenant;
use docket_engine::contract::Capability;
use docket_engine::plugin::{CallInput, Plugin};
use docket_engine::types::{Context, Event};
use docket_engine::{Docket, EngineConfig, Limits, PluginError, PluginSource};
use docket_guests as builtin;
use inputs::{Fixture, engine_config, time_it};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const ITERATIONS: usize = 1_000;

/// Caps these runtimes' components need (the Python one is 18 MB).
fn runtime_limits() -> Limits {
    Limits {
        module_bytes: 24 << 20,
        memory_bytes: 64 << 20,
        fuel: 1_000_000_000,
        timeout_ms: 10_000,
        ..Limits::default()
    }
}

fn polyglot_dir() -> PathBuf {
    std::env::var_os("DOCKET_POLYGLOT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/polyglot"))
}

/// The bytes of one plugin in one language, or why there are none.
fn bytes_of(language: &str, name: &str) -> Result<Vec<u8>, String> {
    match language {
        "rust" => Ok(builtin::plugin(name).ok_or("no builtin")?.to_vec()),
        "no-code" => {
            let text = builtin::plugin(&format!("nocode/{name}")).ok_or("no builtin twin")?;
            let text = std::str::from_utf8(text).map_err(|e| e.to_string())?;
            docket_nocode::compile(text, &format!("{name}.toml"))
                .map(|compiled| compiled.component)
                .map_err(|e| e.to_string())
        }
        _ => {
            let path = polyglot_dir().join(language).join(format!("{name}.wasm"));
            std::fs::read(&path).map_err(|e| {
                format!(
                    "{}: {e} (run example-rules/{}/build.sh)",
                    path.display(),
                    language.split('-').next().unwrap_or(language)
                )
            })
        }
    }
}

/// The smallest power-of-two memory cap (from 1 MiB) the call runs under.
fn memory_needed(docket: &Docket, plugin: &Plugin, call: &Call<'_>) -> u64 {
    let mut cap: u64 = 1 << 20;
    loop {
        let limits = Limits {
            memory_bytes: cap,
            ..runtime_limits()
        };
        match run(docket, plugin, call, &limits).0 {
            Err(PluginError::MemoryLimit { .. }) if cap < 64 << 20 => cap *= 2,
            _ => return cap,
        }
    }
}

/// One capability called with one event and context.
struct Call<'a> {
    capability: Capability,
    event: &'a Event,
    ticket: &'a docket_engine::types::Ticket,
    context: &'a Context,
}

fn run(
    docket: &Docket,
    plugin: &Plugin,
    call: &Call<'_>,
    limits: &Limits,
) -> (
    Result<docket_engine::plugin::Decision, PluginError>,
    docket_engine::plugin::CallStats,
) {
    let input = CallInput {
        event: call.event,
        ticket: call.ticket,
        context: call.context,
        position: None,
    };
    docket.call(plugin, call.capability, &input, limits)
}

struct Row {
    name: String,
    size: usize,
    compile: Duration,
    memory: u64,
    median: Duration,
    p99: Duration,
    fuel: u64,
}

fn main() {
    let fx = Fixture::new();
    // The tenant gives the plugins' settings; the plugins run on an engine
    // of their own, so each compile below is a first one.
    let tenant_engine = Docket::new(EngineConfig::default()).expect("engine");
    load_tenant(&tenant_engine, &fx.config, Path::new("."), &builtin::plugin).expect("tenant");
    let tenant = tenant_engine.tenant("acme-repair").unwrap();
    let docket = Docket::new(engine_config()).expect("engine");
    let (route_ctx, bill_ctx) = (
        fx.context(&tenant, "routing"),
        fx.context(&tenant, "billing"),
    );
    let calls = [
        (
            "routing",
            Call {
                capability: Capability::Routing,
                event: &fx.created,
                ticket: &fx.ticket,
                context: &route_ctx,
            },
        ),
        (
            "billing",
            Call {
                capability: Capability::Billing,
                event: &fx.logged,
                ticket: &fx.ticket,
                context: &bill_ctx,
            },
        ),
    ];

    // DOCKET_BENCH_ONLY=js:routing measures one row (for profiling it).
    let only = std::env::var("DOCKET_BENCH_ONLY").ok();
    let mut rows = Vec::new();
    let mut missing = Vec::new();
    for (name, call) in &calls {
        let mut expected = None;
        for language in ["rust", "no-code", "js", "js-qjs", "python"] {
            if only
                .as_ref()
                .is_some_and(|o| *o != format!("{language}:{name}"))
            {
                continue;
            }
            let bytes = match bytes_of(language, name) {
                Ok(b) => b,
                Err(why) => {
                    missing.push(format!("{language} {name}: {why}"));
                    continue;
                }
            };
            let started = Instant::now();
            let (plugin, _) = docket
                .compile(PluginSource::wasm(&bytes).unwrap(), &runtime_limits())
                .unwrap_or_else(|e| panic!("{language} {name}: {e}"));
            let compile = started.elapsed();
            let (decision, stats) = run(&docket, &plugin, call, &runtime_limits());
            let decision = decision.unwrap_or_else(|e| panic!("{language} {name}: {e}"));
            // Every language decides the same on the bench's inputs.
            match &expected {
                None => expected = Some(decision),
                Some(d) => assert_eq!(d, &decision, "{language} {name} decides differently"),
            }
            let memory = memory_needed(&docket, &plugin, call);
            let (median, p99) = time_it(ITERATIONS, || {
                run(&docket, &plugin, call, &runtime_limits())
                    .0
                    .expect("call");
            });
            rows.push(Row {
                name: format!("{language}: {name}"),
                size: bytes.len(),
                compile,
                memory,
                median,
                p99,
                fuel: stats.fuel_used,
            });
        }
    }

    println!(
        "| plugin | component | compile (once) | memory cap needed | per call median | p99 | fuel per call | vs Rust |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for row in &rows {
        let plugin = row.name.split(": ").nth(1).unwrap_or_default();
        let rust = rows
            .iter()
            .find(|r| r.name == format!("rust: {plugin}"))
            .unwrap_or(row);
        println!(
            "| {} | {:.2} MB | {:.2} s | {} MiB | {:.1} µs | {:.1} µs | {} | ×{:.0} |",
            row.name,
            row.size as f64 / 1e6,
            row.compile.as_secs_f64(),
            row.memory >> 20,
            row.median.as_secs_f64() * 1e6,
            row.p99.as_secs_f64() * 1e6,
            row.fuel,
            row.median.as_secs_f64() / rust.median.as_secs_f64(),
        );
    }
    for m in &missing {
        println!("not measured: {m}");
    }
}
