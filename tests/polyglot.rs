//! Plugins written in other languages, through the host: each example's
//! decisions equal the Rust plugin's on generated inputs (the differential
//! approach of the no-code twins), and a misbehaving plugin in each language
//! fails the way a Rust one does, with its own words in the trace.
//!
//! The components are built from their package registries by
//! `example-rules/js/build.sh` (StarlingMonkey into `js/`, QuickJS into
//! `js-qjs/`) and `example-rules/python/build.sh` into
//! `target/polyglot` (or `$DOCKET_POLYGLOT_DIR`); the README's test command
//! builds them first.

use docket_engine::contract::Capability;
use docket_engine::plugin::{CallStats, Decision, Plugin};
use docket_engine::types::{Context, Event, EventKind, Ticket};
use docket_engine::{Limits, PluginError};
use docket_guests as builtin;
use docket_tests::*;
use proptest::prelude::*;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

/// The limits a component of these runtimes needs: a 12 MB (JavaScript,
/// StarlingMonkey) or 18 MB (Python, CPython) module and its interpreter's
/// memory (QuickJS's 1.8 MB fits the defaults); fuel and time as for any
/// plugin.
fn runtime_limits() -> Limits {
    Limits {
        module_bytes: 24 << 20,
        memory_bytes: 32 << 20,
        fuel: 50_000_000,
        timeout_ms: 1_000,
        ..Limits::default()
    }
}

fn polyglot_dir() -> PathBuf {
    std::env::var_os("DOCKET_POLYGLOT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/polyglot"))
}

/// The example directory whose build script builds a language's components
/// (`js-qjs` is the JavaScript examples' QuickJS build).
fn build_dir(language: &str) -> &str {
    language.split('-').next().unwrap_or(language)
}

/// A built component, compiled once per test run.
fn plugin(language: &str, name: &str) -> Plugin {
    static CACHE: OnceLock<Mutex<HashMap<String, Plugin>>> = OnceLock::new();
    let key = format!("{language}/{name}");
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap();
    cache
        .entry(key)
        .or_insert_with(|| {
            let path = polyglot_dir().join(language).join(format!("{name}.wasm"));
            let bytes = std::fs::read(&path).unwrap_or_else(|e| {
                panic!(
                    "{}: {e}; build it with example-rules/{}/build.sh",
                    path.display(),
                    build_dir(language)
                )
            });
            docket()
                .compile(source(&bytes), &runtime_limits())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                .0
        })
        .clone()
}

fn rust_plugin(name: &str) -> Plugin {
    static CACHE: OnceLock<Mutex<HashMap<String, Plugin>>> = OnceLock::new();
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap();
    cache
        .entry(name.to_string())
        .or_insert_with(|| {
            let bytes = builtin::plugin(name).expect("builtin");
            docket()
                .compile(source(bytes), &Limits::default())
                .unwrap()
                .0
        })
        .clone()
}

/// The Rust example and the other language's on one input: the same
/// decision, or failures of the same kind.
fn same(language: &str, name: &str, cap: Capability, ev: &Event, t: &Ticket, ctx: &Context) {
    let expected = call_plugin(&rust_plugin(name), cap, (ev, t, ctx), &Limits::default()).0;
    let actual = call_plugin(
        &plugin(language, name),
        cap,
        (ev, t, ctx),
        &runtime_limits(),
    )
    .0;
    match (&expected, &actual) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{language} {name} differs on\n{ev:?}\n{t:?}\n{ctx:?}"),
        (Err(a), Err(b)) if a.kind() == b.kind() => {}
        _ => panic!("{language} {name}: rust {expected:?} vs {language} {actual:?}"),
    }
}

/// The hostile plugin of a language on a ticket whose subject says how to
/// misbehave.
fn hostile(
    language: &str,
    subject: &str,
    limits: &Limits,
) -> (Result<Decision, PluginError>, CallStats) {
    let mut t = ticket("T-1", "hardware", MONDAY);
    t.subject = subject.into();
    let ev = event(EventKind::Created, MONDAY);
    call_plugin(
        &plugin(language, "hostile"),
        Capability::Routing,
        (&ev, &t, &context(MONDAY)),
        limits,
    )
}

fn guest_message(r: &Result<Decision, PluginError>) -> &str {
    match r {
        Err(PluginError::Trap {
            guest_message: Some(m),
            ..
        }) => m,
        other => panic!("expected a trap with the guest's message: {other:?}"),
    }
}

/// Enough fuel and time to reach an interpreter's own recursion limit.
fn deep() -> Limits {
    Limits {
        fuel: 2_000_000_000,
        timeout_ms: 20_000,
        ..runtime_limits()
    }
}

/// An endless loop runs out of fuel, or of time when fuel is unbounded.
fn endless_loop_is_stopped(language: &str) {
    let (r, stats) = hostile(language, "loop", &runtime_limits());
    assert!(matches!(r, Err(PluginError::FuelExhausted { .. })), "{r:?}");
    assert!(stats.fuel_used >= runtime_limits().fuel, "{stats:?}");
    let unmetered = Limits {
        fuel: Limits::CEILINGS[5].1,
        timeout_ms: 50,
        ..runtime_limits()
    };
    let (r, _) = hostile(language, "loop", &unmetered);
    assert!(
        matches!(r, Err(PluginError::DeadlineExceeded { .. })),
        "{r:?}"
    );
}

/// Allocation without end stops at the memory cap, and the next call on
/// the same plugin starts afresh.
fn endless_allocation_hits_the_memory_cap(language: &str) {
    let small = Limits {
        memory_bytes: 24 << 20,
        ..deep()
    };
    let (r, _) = hostile(language, "grow", &small);
    assert!(
        matches!(r, Err(PluginError::MemoryLimit { limit_bytes }) if limit_bytes == 24 << 20),
        "{r:?}"
    );
    let (r, _) = hostile(language, "log", &runtime_limits());
    assert!(r.is_ok(), "{r:?}");
}

/// The log lines of the hostile plugin's `log` case, with its decision.
fn logged(language: &str) -> Vec<(String, String)> {
    let (r, stats) = hostile(language, "log", &runtime_limits());
    let Ok(Decision::Routing(Some(d))) = r else {
        panic!("{r:?}")
    };
    assert_eq!(d.group, "logged");
    stats
        .logs
        .iter()
        .map(|l| (l.level.clone(), l.message.clone()))
        .collect()
}

/// The tests every language passes alike: its examples decide as the Rust
/// ones on generated inputs (`cases` of each: every call runs an
/// interpreter), and its hostile plugin is stopped by fuel, time and the
/// memory cap.
macro_rules! language_tests {
    ($language:literal, $cases:expr) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases($cases))]

            #[test]
            fn routing_matches_the_rust_plugin((ev, t, ctx) in arb::routing_input()) {
                same($language, "routing", Capability::Routing, &ev, &t, &ctx);
            }

            #[test]
            fn billing_matches_the_rust_plugin((ev, t, ctx) in arb_billing::input()) {
                same($language, "billing", Capability::Billing, &ev, &t, &ctx);
            }
        }

        #[test]
        fn an_endless_loop_runs_out_of_fuel_or_time() {
            endless_loop_is_stopped($language);
        }

        #[test]
        fn endless_allocation_hits_the_memory_cap() {
            super::endless_allocation_hits_the_memory_cap($language);
        }
    };
}

mod javascript {
    use super::*;

    language_tests!("js", 96);

    #[test]
    fn an_exception_reaches_the_trace_with_its_message_and_stack() {
        let (r, _) = hostile("js", "throw", &runtime_limits());
        let message = guest_message(&r);
        assert!(
            message.starts_with("Error: no route for subject `throw`"),
            "{message}"
        );
        // The stack names the functions it unwound.
        assert!(message.contains("unroutable"), "{message}");
        let (r, _) = hostile("js", "throw-string", &runtime_limits());
        assert_eq!(guest_message(&r), "uncaught string: a bare string");
    }

    #[test]
    fn endless_recursion_ends_in_the_engines_own_error() {
        // SpiderMonkey's stack limit is deep: ~200 M fuel to reach it.
        let (r, _) = hostile("js", "recurse", &deep());
        let message = guest_message(&r);
        assert!(
            message.starts_with("InternalError: too much recursion\nrecurse@"),
            "{message}"
        );
    }

    #[test]
    fn console_output_reaches_the_log_at_its_level() {
        let lines = logged("js");
        let lines: Vec<(&str, &str)> = lines
            .iter()
            .map(|(l, m)| (l.as_str(), m.as_str()))
            .collect();
        assert_eq!(lines[0], ("debug", "debug line"));
        // Values are printed as JSON, 64-bit integers as digits.
        assert_eq!(
            lines[1],
            ("info", &*format!("routing T-1 {{\"at\":\"{MONDAY}\"}}"))
        );
        assert_eq!(lines[2], ("warn", "warn line"));
        assert_eq!(lines[3].0, "error");
        assert!(
            lines[3].1.starts_with("Error: an error object"),
            "{lines:?}"
        );
        assert_eq!(lines.len(), 4, "{lines:?}");
    }
}

/// The same TypeScript built with QuickJS (`jco componentize --backend
/// qjs`): 64-bit integers cross as numbers there, which the guest SDK
/// bridges.
mod quickjs {
    use super::*;

    language_tests!("js-qjs", 96);

    #[test]
    fn an_exception_reaches_the_trace_with_its_message_and_stack() {
        let (r, _) = hostile("js-qjs", "throw", &runtime_limits());
        let message = guest_message(&r);
        assert!(
            message.starts_with("Error: no route for subject `throw`\nat unroutable ("),
            "{message}"
        );
        let (r, _) = hostile("js-qjs", "throw-string", &runtime_limits());
        assert_eq!(guest_message(&r), "uncaught string: a bare string");
    }

    #[test]
    fn endless_recursion_exhausts_the_wasm_stack() {
        // QuickJS's own limit is deeper than the host's wasm stack.
        let (r, _) = hostile("js-qjs", "recurse", &deep());
        assert!(
            matches!(&r, Err(PluginError::Trap { message, .. }) if message.contains("call stack exhausted")),
            "{r:?}"
        );
    }

    #[test]
    fn console_output_reaches_the_log_at_its_level() {
        let lines = logged("js-qjs");
        let levels: Vec<&str> = lines.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(levels, ["debug", "info", "warn", "error"]);
        // 64-bit integers are numbers on QuickJS.
        assert_eq!(lines[1].1, format!("routing T-1 {{\"at\":{MONDAY}}}"));
        assert!(
            lines[3].1.starts_with("Error: an error object\nat route ("),
            "{lines:?}"
        );
    }
}

mod python {
    use super::*;

    language_tests!("python", 64);

    #[test]
    fn an_exception_reaches_the_trace_with_its_traceback() {
        let (r, _) = hostile("python", "throw", &runtime_limits());
        let message = guest_message(&r);
        assert!(
            message.starts_with(
                "LookupError: no route for subject `throw`\nTraceback (most recent call last):\n"
            ),
            "{message}"
        );
        // The traceback names the functions it unwound, innermost last.
        assert!(
            message.ends_with("hostile_plugin.py\", line 15, in unroutable"),
            "{message}"
        );
    }

    #[test]
    fn endless_recursion_ends_in_the_interpreters_own_error() {
        let (r, _) = hostile("python", "recurse", &deep());
        let message = guest_message(&r);
        assert!(
            message.starts_with("RecursionError: maximum recursion depth exceeded"),
            "{message}"
        );
    }

    #[test]
    fn print_reaches_the_log_line_by_line() {
        let lines = logged("python");
        let lines: Vec<(&str, &str)> = lines
            .iter()
            .map(|(l, m)| (l.as_str(), m.as_str()))
            .collect();
        assert_eq!(
            lines,
            [
                ("info", &*format!("routing T-1 {{'at': {MONDAY}}}")),
                ("info", "partial line"),
                ("error", "error line"),
            ]
        );
    }
}

/// A tenant's limits name the plugin that needs more: only it gets them.
#[test]
fn only_the_plugin_named_in_the_limits_gets_its_larger_caps() {
    let path = polyglot_dir().join("js/routing.wasm");
    let routing = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let limits = Limits {
        fuel: 2_000_000,
        plugins: [(
            "routing".to_string(),
            docket_engine::config::LimitOverrides {
                module_bytes: Some(16 << 20),
                memory_bytes: Some(32 << 20),
                fuel: Some(50_000_000),
                timeout_ms: Some(1_000),
                ..Default::default()
            },
        )]
        .into(),
        ..Limits::default()
    };
    tenant_with(
        "polyglot-limits",
        limits,
        &[(
            "routing",
            &routing,
            "",
            docket_engine::FailurePolicy::FailEvent,
        )],
    );
    // The same 12 MB component under another name keeps the tenant's caps.
    let refused = docket()
        .install("polyglot-limits", "router-two", source(&routing))
        .unwrap_err()
        .to_string();
    assert!(refused.contains("over the 8388608-byte limit"), "{refused}");
    // Its calls run on its own fuel (millions), not the tenant's 2 M.
    let outcome = dispatch(
        "polyglot-limits",
        event(EventKind::Created, MONDAY),
        ticket("T-1", "network", MONDAY),
    );
    assert!(outcome.is_applied(), "{outcome:?}");
    assert!(
        outcome.trace[0].fuel_used > 2_000_000,
        "{:?}",
        outcome.trace
    );
}
