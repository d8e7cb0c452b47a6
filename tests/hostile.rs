//! The hostile-plugin suite: each misbehaviour gets its typed error, the host
//! keeps serving, and a well-behaved tenant dispatched in between is not
//! affected.

use docket_engine::Effect;
use docket_engine::PluginError;
use docket_engine::outcome::OutcomeStatus;
use docket_engine::types::EventKind;
use docket_engine::{DocketError, FailurePolicy, Limits, PluginSource};
use docket_guests as builtin;
use docket_tests::*;
use std::sync::Once;

fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| example_tenant("good", "routing", "max_open = 5"));
}

/// The well-behaved tenant: always the same decision, whatever happened before.
fn assert_good_tenant_unaffected() {
    let o = dispatch(
        "good",
        event(EventKind::Created, MONDAY),
        ticket("G-1", "software", MONDAY),
    );
    assert!(o.is_applied(), "{:?}", o.status);
    assert!(o.trace.iter().all(|r| r.error.is_none()));
    assert!(matches!(&effects(&o)[0], Effect::Assign { group, .. } if group == "it-support"));
}

/// Runs the hostile plugin in `mode` for a fresh tenant and returns the
/// error it got (policy: skip, so the event itself still applies).
fn hostile_error(tenant: &str, mode: &str, limits: Limits) -> PluginError {
    setup();
    let settings = format!("mode = \"{mode}\"");
    tenant_with(
        tenant,
        limits,
        &[(
            "hostile",
            builtin::hostile_plugin(),
            &settings,
            FailurePolicy::Skip,
        )],
    );
    let o = dispatch(
        tenant,
        event(EventKind::Created, MONDAY),
        ticket("H-1", "software", MONDAY),
    );
    assert!(
        o.is_applied(),
        "skip policy: the event goes on without the plugin"
    );
    assert!(o.effects.is_empty());
    let run = &o.trace[0];
    assert_eq!(run.policy, Some(FailurePolicy::Skip));
    let error = run.error.clone().expect("the hostile plugin fails");
    assert_good_tenant_unaffected();
    error
}

#[test]
fn infinite_loop_runs_out_of_fuel() {
    let limits = Limits {
        fuel: 2_000_000,
        timeout_ms: 10_000,
        ..Limits::default()
    };
    assert_eq!(
        hostile_error("h-fuel", "loop", limits),
        PluginError::FuelExhausted { limit: 2_000_000 }
    );
}

#[test]
fn infinite_loop_hits_the_wall_clock_deadline() {
    let limits = Limits {
        fuel: u64::MAX / 2,
        timeout_ms: 30,
        ..Limits::default()
    };
    assert_eq!(
        hostile_error("h-deadline", "loop", limits),
        PluginError::DeadlineExceeded { limit_ms: 30 }
    );
}

#[test]
fn deep_recursion_traps_with_stack_exhaustion() {
    match hostile_error("h-stack", "recursion", Limits::default()) {
        PluginError::Trap {
            message, backtrace, ..
        } => {
            // Rust keeps its frames on a shadow stack in linear memory that
            // grows down from 1 MiB: running off its bottom is an
            // out-of-bounds access; wasm's own call stack is capped by the
            // engine (`max_wasm_stack`) and reports "call stack exhausted".
            assert!(
                message.contains("out of bounds") || message.contains("stack"),
                "{message}"
            );
            assert!(
                backtrace.is_some_and(|b| b.contains("recurse")),
                "the backtrace names the guest function"
            );
        }
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn memory_growth_stops_at_the_cap() {
    let limits = Limits {
        memory_bytes: 8 << 20,
        ..Limits::default()
    };
    assert_eq!(
        hostile_error("h-memory", "memory", limits),
        PluginError::MemoryLimit {
            limit_bytes: 8 << 20
        }
    );
}

#[test]
fn huge_output_is_refused() {
    match hostile_error("h-output", "huge-output", Limits::default()) {
        PluginError::OutputTooLarge { size, limit } => {
            assert_eq!(limit, 256 << 10);
            assert!(size > 4 << 20, "{size}");
        }
        other => panic!("expected output too large, got {other:?}"),
    }
}

#[test]
fn panic_is_a_trap_carrying_the_guest_message() {
    match hostile_error("h-panic", "panic", Limits::default()) {
        PluginError::Trap { guest_message, .. } => {
            let msg = guest_message.expect("the SDK's panic hook reports the message");
            assert!(
                msg.contains("hostile plugin panicked on purpose (ticket H-1)"),
                "{msg}"
            );
        }
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn nonsense_decisions_are_invalid_output() {
    assert_eq!(
        hostile_error("h-nonsense", "bad-decision", Limits::default()),
        PluginError::InvalidOutput {
            reason: "routing decision: group is empty".into()
        }
    );
}

#[test]
fn log_flood_is_bounded() {
    setup();
    // What is measured is the log bound, not the deadline: 20,000 host
    // calls in a debug build on a loaded machine can pass 100 ms.
    tenant_with(
        "h-logs",
        Limits {
            timeout_ms: 5_000,
            ..Limits::default()
        },
        &[(
            "hostile",
            builtin::hostile_plugin(),
            "mode = \"log-flood\"",
            FailurePolicy::Skip,
        )],
    );
    let o = dispatch(
        "h-logs",
        event(EventKind::Created, MONDAY),
        ticket("H-2", "software", MONDAY),
    );
    assert!(o.is_applied());
    assert_eq!(o.trace[0].error, None);
    assert_eq!(o.trace[0].logs.len(), 100);
    assert_eq!(o.trace[0].logs_dropped, 19_900);
    assert_eq!(o.trace[0].logs[0].message, "line 0");
}

#[test]
fn every_event_gets_a_fresh_instance() {
    setup();
    tenant_with(
        "h-state",
        Limits::default(),
        &[(
            "hostile",
            builtin::hostile_plugin(),
            "",
            FailurePolicy::Skip,
        )],
    );
    for i in 0..3 {
        let o = dispatch(
            "h-state",
            event(EventKind::Created, MONDAY + i),
            ticket("H-3", "software", MONDAY),
        );
        let reason = match &effects(&o)[0] {
            Effect::Assign { reason, .. } => reason.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            reason, "call 1 of this instance",
            "no state survives between events"
        );
    }
}

#[test]
fn fail_event_policy_applies_nothing() {
    setup();
    let routing = builtin::plugin("routing").unwrap();
    tenant_with(
        "h-fail",
        Limits::default(),
        &[
            ("routing", routing, "", FailurePolicy::Skip),
            (
                "hostile",
                builtin::hostile_plugin(),
                "mode = \"panic\"",
                FailurePolicy::FailEvent,
            ),
        ],
    );
    let t = ticket("H-4", "software", MONDAY);
    let o = dispatch("h-fail", event(EventKind::Created, MONDAY), t.clone());
    match &o.status {
        OutcomeStatus::Failed { plugin, error } => {
            assert_eq!(plugin, "hostile");
            assert_eq!(error.kind(), "trap");
        }
        other => panic!("expected failure, got {other:?}"),
    }
    assert!(
        o.effects.is_empty(),
        "the routing plugin's effects are dropped too"
    );
    assert_eq!(o.ticket, t);
    assert_eq!(o.trace.len(), 2, "both calls are in the trace");
    assert!(o.trace[0].error.is_none());
}

fn install_error(tenant: &str, bytes: &[u8], limits: Limits) -> PluginError {
    setup();
    docket().put_tenant(tenant, limits).unwrap();
    // Bytes that are not even a source are refused before the install.
    let error = match PluginSource::from_bytes(bytes) {
        Ok(source) => match docket().install(tenant, "p", source) {
            Err(DocketError::Install { error, .. }) => error,
            other => panic!("expected an install error, got {other:?}"),
        },
        Err(error) => error,
    };
    assert!(
        docket().versions(tenant, "p").is_err(),
        "nothing is half-installed"
    );
    assert_good_tenant_unaffected();
    error
}

#[test]
fn malformed_bytes_are_invalid_wasm() {
    assert!(matches!(
        install_error(
            "i-garbage",
            b"\xff\xfe definitely not wasm",
            Limits::default()
        ),
        PluginError::InvalidWasm { .. }
    ));
    // Text is read as a no-code rule document, and this one is not.
    let text = install_error("i-text", b"definitely not wasm", Limits::default());
    assert!(
        matches!(&text, PluginError::InvalidRules { report, .. } if report.contains("invalid TOML")),
        "{text}"
    );
    let truncated = &builtin::plugin("routing").unwrap()[..5000];
    assert!(matches!(
        install_error("i-truncated", truncated, Limits::default()),
        PluginError::InvalidWasm { .. }
    ));
}

#[test]
fn core_module_without_the_contract_is_not_a_plugin() {
    let module =
        wat::parse_str(r#"(module (func (export "hello") (result i32) i32.const 42))"#).unwrap();
    match install_error("i-nocontract", &module, Limits::default()) {
        PluginError::NotAPlugin { reason } => assert!(
            reason.contains("exports none of docket:plugin/template@0.1.1"),
            "{reason}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn forbidden_imports_are_refused_in_modules_and_components() {
    let wasi = wat_route_module("0.1.0", Some(("wasi_snapshot_preview1", "fd_write")));
    assert_eq!(
        install_error("i-wasi", &wasi, Limits::default()),
        PluginError::ForbiddenImport {
            imports: vec!["wasi_snapshot_preview1::fd_write".into()]
        }
    );
    // Every forbidden import is named at once, with how to build without WASI.
    let many = wat::parse_str(
        r#"(module
            (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
            (import "docket:plugin/log@0.1.0" "log" (func (param i32 i32 i32)))
            (import "wasi_snapshot_preview1" "random_get" (func (param i32 i32) (result i32)))
            (import "env" "now" (func (result i64)))
            (memory (export "memory") 1)
            (func (export "docket:plugin/routing@0.1.0#route") (param i32) (result i32) (i32.const 16)))"#,
    )
    .unwrap();
    let error = install_error("i-many", &many, Limits::default());
    assert_eq!(
        error,
        PluginError::ForbiddenImport {
            imports: vec![
                "wasi_snapshot_preview1::fd_write".into(),
                "wasi_snapshot_preview1::random_get".into(),
                "env::now".into(),
            ]
        }
    );
    let message = error.to_string();
    assert!(
        message.starts_with("3 forbidden imports: `wasi_snapshot_preview1::fd_write`, ")
            && message.contains("Docket offers no WASI")
            && message.contains("--stub-wasi"),
        "{message}"
    );
    let socket_wit =
        "package evil:net@0.1.0;\ninterface socket { connect: func(host: string) -> u32; }\n";
    let module = wat_route_module("0.1.1", Some(("evil:net/socket@0.1.0", "connect")));
    let component = component_of(
        &module,
        str::to_string,
        Some(socket_wit),
        "import evil:net/socket@0.1.0;\ninclude docket:plugin/routing-plugin@0.1.1;",
    );
    assert_eq!(
        install_error("i-socket", &component, Limits::default()),
        PluginError::ForbiddenImport {
            imports: vec!["evil:net/socket@0.1.0".into()]
        }
    );
}

#[test]
fn wrong_contract_version_is_named() {
    let old = component_of(
        &wat_route_module("0.0.9", None),
        contract_at("0.0.9"),
        None,
        "include docket:plugin/routing-plugin@0.0.9;",
    );
    match install_error("i-version", &old, Limits::default()) {
        PluginError::WrongContractVersion { found, expected } => {
            assert!(found.contains("@0.0.9"), "{found}");
            assert_eq!(expected, "0.1.1");
        }
        other => panic!("{other:?}"),
    }
    let old_module = wat_route_module("0.0.9", None);
    assert!(matches!(
        install_error("i-version-core", &old_module, Limits::default()),
        PluginError::WrongContractVersion { .. }
    ));
}

#[test]
fn oversized_modules_are_refused_before_compiling() {
    let limits = Limits {
        module_bytes: 10_000,
        ..Limits::default()
    };
    let bytes = builtin::plugin("routing").unwrap();
    assert_eq!(
        install_error("i-size", bytes, limits),
        PluginError::ModuleTooLarge {
            size: bytes.len() as u64,
            limit: 10_000
        }
    );
}

#[test]
fn a_hand_written_component_works() {
    setup();
    // Built against contract 0.1.0: a 0.1.1 host runs it unchanged.
    let component = component_of(
        &wat_route_module("0.1.0", None),
        contract_at("0.1.0"),
        None,
        "include docket:plugin/routing-plugin@0.1.0;",
    );
    tenant_with(
        "i-handmade",
        Limits::default(),
        &[("handmade", &component, "", FailurePolicy::FailEvent)],
    );
    let v = docket().versions("i-handmade", "handmade").unwrap();
    assert!(!v[0].info.componentized, "installed as a component");
    let o = dispatch(
        "i-handmade",
        event(EventKind::Created, MONDAY),
        ticket("C-1", "software", MONDAY),
    );
    assert!(
        o.is_applied() && o.effects.is_empty(),
        "route returned none"
    );
}

#[test]
fn hostile_tenant_running_concurrently_does_not_disturb_others() {
    setup();
    let limits = Limits {
        fuel: u64::MAX / 2,
        timeout_ms: 200,
        ..Limits::default()
    };
    tenant_with(
        "h-concurrent",
        limits,
        &[(
            "hostile",
            builtin::hostile_plugin(),
            "mode = \"loop\"",
            FailurePolicy::Skip,
        )],
    );
    let hostile = std::thread::spawn(|| {
        for _ in 0..3 {
            let o = dispatch(
                "h-concurrent",
                event(EventKind::Created, MONDAY),
                ticket("H-9", "software", MONDAY),
            );
            assert_eq!(
                o.trace[0].error,
                Some(PluginError::DeadlineExceeded { limit_ms: 200 })
            );
        }
    });
    for _ in 0..50 {
        assert_good_tenant_unaffected();
    }
    hostile.join().unwrap();
}
