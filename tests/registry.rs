//! The registry: content-addressed installs, versions, atomic activation and
//! rollback, pipelines, tenant isolation, configuration loading and the
//! on-disk artifact cache.

use docket_engine::config::{TenantConfig, load_tenant};
use docket_engine::plugin::CompileSource;
use docket_engine::types::EventKind;
use docket_engine::{
    Docket, DocketError, EngineConfig, FailurePolicy, Limits, Outcome, PipelineStep,
};
use docket_guests as builtin;
use docket_tests::*;
use std::path::Path;

fn route_group(tenant: &str) -> String {
    let o = dispatch(
        tenant,
        event(EventKind::Created, MONDAY),
        ticket("V-1", "software", MONDAY),
    );
    match &effects(&o)[..] {
        [docket_engine::Effect::Assign { group, .. }, ..] => group.clone(),
        other => panic!("{other:?}"),
    }
}

/// A pipeline step running the plugin named `router` for every event.
fn router_step(on_failure: FailurePolicy) -> PipelineStep {
    PipelineStep {
        plugin: "router".into(),
        settings: vec![],
        on_failure,
        events: vec![],
    }
}

#[test]
fn versions_are_content_addressed_and_roll_back_atomically() {
    let d = docket();
    d.ensure_tenant("reg-a", Limits::default()).unwrap();
    let routing = builtin::plugin("routing").unwrap();
    let hostile = builtin::hostile_plugin();
    let v1 = d.install("reg-a", "router", source(routing)).unwrap();
    assert_eq!(v1.version, 1);
    assert!(!v1.active, "install does not activate");
    let again = d.install("reg-a", "router", source(routing)).unwrap();
    assert_eq!(again.version, 1, "the same bytes are the same version");
    let v2 = d.install("reg-a", "router", source(hostile)).unwrap();
    assert_eq!(v2.version, 2);
    assert_ne!(v1.info.hash, v2.info.hash);

    d.activate("reg-a", "router", "1").unwrap();
    d.set_pipeline("reg-a", vec![router_step(FailurePolicy::FailEvent)])
        .unwrap();
    assert_eq!(route_group("reg-a"), "it-support");
    // Activate by hash prefix.
    d.activate("reg-a", "router", &v2.info.hash[..12]).unwrap();
    assert_eq!(route_group("reg-a"), "hostile-ok");
    let back = d.rollback("reg-a", "router").unwrap();
    assert_eq!((back.version, back.active), (1, true));
    assert_eq!(route_group("reg-a"), "it-support");
    assert!(matches!(
        d.rollback("reg-a", "router"),
        Err(DocketError::NothingToRollBack { .. })
    ));

    let versions = d.versions("reg-a", "router").unwrap();
    assert_eq!(
        versions
            .iter()
            .map(|v| (v.version, v.active))
            .collect::<Vec<_>>(),
        vec![(1, true), (2, false)]
    );
    assert!(matches!(
        d.activate("reg-a", "router", "7"),
        Err(DocketError::UnknownVersion { .. })
    ));
    assert!(
        matches!(
            d.activate("reg-a", "router", "abc"),
            Err(DocketError::UnknownVersion { .. })
        ),
        "short prefixes are refused"
    );
    assert!(matches!(
        d.activate("reg-a", "nope", "1"),
        Err(DocketError::UnknownPlugin { .. })
    ));
}

#[test]
fn tenants_do_not_see_each_other() {
    let d = docket();
    d.ensure_tenant("iso-a", Limits::default()).unwrap();
    d.ensure_tenant("iso-b", Limits::default()).unwrap();
    d.install(
        "iso-a",
        "router",
        source(builtin::plugin("routing").unwrap()),
    )
    .unwrap();
    assert!(matches!(
        d.versions("iso-b", "router"),
        Err(DocketError::UnknownPlugin { .. })
    ));
    let step = router_step(FailurePolicy::Skip);
    assert!(matches!(
        d.set_pipeline("iso-b", vec![step.clone()]),
        Err(DocketError::UnknownPlugin { .. })
    ));
    assert!(
        matches!(d.set_pipeline("iso-a", vec![step]), Err(DocketError::Config(m)) if m.contains("no active version"))
    );
    let req = docket_engine::DispatchRequest {
        event: event(EventKind::Created, MONDAY),
        ticket: ticket("X", "software", MONDAY),
        agents: vec![],
        history: vec![],
        now: MONDAY,
        position: None,
    };
    assert!(matches!(
        d.dispatch("iso-nobody", req),
        Err(DocketError::UnknownTenant(_))
    ));
}

#[test]
fn limits_over_the_engine_ceiling_are_refused() {
    let too_big = Limits {
        memory_bytes: 1 << 40,
        ..Limits::default()
    };
    let err = docket().ensure_tenant("lim", too_big).unwrap_err();
    assert!(err.to_string().contains("over the engine ceiling"), "{err}");
}

const CONFIG: &str = r#"
tenant = "cfg"
[[calendars]]
name = "business-hours"
timezone = "Europe/Berlin"
hours = { mon = "09:00-17:00", tue = "09:00-17:00" }
[[plugins]]
name = "routing"
source = "builtin:routing"
[plugins.settings]
max_open = 2
"#;

#[test]
fn config_loads_all_or_nothing() {
    let d = docket();
    let config = TenantConfig::parse(CONFIG).unwrap();
    load_tenant(d, &config, Path::new("."), &builtin::plugin).unwrap();
    assert_eq!(route_group("cfg"), "it-support");

    let broken = CONFIG.replace("max_open = 2", "max_open = 2.5");
    let err = load_tenant(
        d,
        &TenantConfig::parse(&broken).unwrap(),
        Path::new("."),
        &builtin::plugin,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("plugin `routing`: setting `max_open` = 2.5: floats are not allowed"),
        "{err}"
    );
    assert_eq!(route_group("cfg"), "it-support", "the tenant is as it was");

    let missing = CONFIG.replace("builtin:routing", "no/such/plugin.wasm");
    let err = load_tenant(
        d,
        &TenantConfig::parse(&missing).unwrap(),
        Path::new("/tmp"),
        &builtin::plugin,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("reading /tmp/no/such/plugin.wasm"),
        "{err}"
    );

    let bad_tz = CONFIG.replace("Europe/Berlin", "Europe/Atlantis");
    let err = load_tenant(
        d,
        &TenantConfig::parse(&bad_tz).unwrap(),
        Path::new("."),
        &builtin::plugin,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("calendar `business-hours`: unknown time zone `Europe/Atlantis`"),
        "{err}"
    );

    let typo = CONFIG.replace("[[plugins]]", "[[plugin]]");
    let err = TenantConfig::parse(&typo).unwrap_err();
    assert!(err.to_string().contains("unknown field `plugin`"), "{err}");
}

#[test]
fn unknown_calendar_in_a_decision_is_invalid_output() {
    example_tenant("cal-missing", "escalation", "calendar = \"night-shift\"");
    let o = dispatch(
        "cal-missing",
        event(EventKind::Created, MONDAY),
        ticket("K-1", "software", MONDAY),
    );
    let err = o.trace[0].error.clone().expect("error");
    assert!(
        err.to_string()
            .contains("unknown calendar `night-shift` (the tenant defines: business-hours)"),
        "{err}"
    );
}

/// Installs `bytes` as the only plugin of `tenant` in `d` and routes one
/// created ticket through it.
fn route_once(d: &Docket, tenant: &str, bytes: &[u8]) -> Outcome {
    d.ensure_tenant(tenant, Limits::default()).unwrap();
    let v = d.install(tenant, "router", source(bytes)).unwrap();
    d.activate(tenant, "router", &v.version.to_string())
        .unwrap();
    d.set_pipeline(tenant, vec![router_step(FailurePolicy::FailEvent)])
        .unwrap();
    let created = event(EventKind::Created, MONDAY);
    let request = docket_engine::DispatchRequest {
        event: created,
        ticket: ticket("R-1", "software", MONDAY),
        agents: vec![agent("ana", "software", 2, 1, true)],
        history: vec![],
        now: MONDAY,
        position: None,
    };
    d.dispatch(tenant, request).unwrap()
}

#[test]
fn precompiled_artifacts_survive_a_restart_and_load_at_first_use() {
    let dir = std::env::temp_dir().join(format!("docket-cache-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = EngineConfig {
        cache_dir: Some(dir.clone()),
        max_instances: 8,
        ..EngineConfig::default()
    };
    let bytes = builtin::plugin("routing").unwrap();
    let expected = {
        let first = Docket::new(config.clone()).unwrap();
        let (_, origin) = first.compile(source(bytes), &Limits::default()).unwrap();
        assert_eq!(origin, CompileSource::Compiled);
        let (_, origin) = first.compile(source(bytes), &Limits::default()).unwrap();
        assert_eq!(origin, CompileSource::Memory);
        let outcome = route_once(&first, "cache-a", bytes);
        assert!(outcome.is_applied(), "{:?}", outcome.status);
        effects(&outcome)
    };
    {
        let restarted = Docket::new(config.clone()).unwrap();
        let (p, source) = restarted
            .compile(source(bytes), &Limits::default())
            .unwrap();
        assert_eq!(
            source,
            CompileSource::Deferred,
            "a restart neither recompiles nor loads a plugin checked before"
        );
        assert!(p.info().componentized);
        assert_eq!(restarted.resident_stats().resident, 0);
        let outcome = route_once(&restarted, "cache-a", bytes);
        assert_eq!(effects(&outcome), expected, "the first call loads it");
        let stats = restarted.resident_stats();
        assert_eq!(
            (stats.resident, stats.first_loads, stats.reloads),
            (1, 1, 0)
        );
    }
    let engine_dir = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let cached = |ext: &str| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&engine_dir)
            .unwrap()
            .map(|f| f.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .collect()
    };
    // Files are replaced, not rewritten in place: artifacts are mapped into
    // memory, and the cache itself only ever replaces files by renaming.
    let corrupt = |path: &std::path::Path| {
        let tmp = path.with_extension("corrupt");
        std::fs::write(&tmp, b"garbage").unwrap();
        std::fs::rename(&tmp, path).unwrap();
    };
    // A corrupt artifact behind an intact description: the install is still
    // deferred, and the first call drops the artifact and compiles the
    // installed bytes again.
    for artifact in cached("cwasm") {
        corrupt(&artifact);
    }
    {
        let again = Docket::new(config.clone()).unwrap();
        let (_, origin) = again.compile(source(bytes), &Limits::default()).unwrap();
        assert_eq!(origin, CompileSource::Deferred);
        let outcome = route_once(&again, "cache-a", bytes);
        assert_eq!(effects(&outcome), expected);
    }
    // A corrupt description is dropped, never trusted: the plugin is loaded
    // (its artifact was rewritten by the call above) and checked again.
    for info in cached("json") {
        corrupt(&info);
    }
    let again = Docket::new(config).unwrap();
    let (_, origin) = again.compile(source(bytes), &Limits::default()).unwrap();
    assert_eq!(origin, CompileSource::Disk);
    assert_eq!(cached("json").len(), 1, "the description is written again");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn one_module_may_export_several_capabilities() {
    // Routing and billing in one hand-written core module, both answering
    // `none`; the host componentizes it for exactly those two.
    let module = wat_plugin_module(
        &[
            "docket:plugin/routing@0.1.0#route",
            "docket:plugin/billing@0.1.0#bill",
        ],
        None,
    );
    tenant_with(
        "multi",
        Limits::default(),
        &[("both", &module, "", FailurePolicy::FailEvent)],
    );
    let info = &docket().versions("multi", "both").unwrap()[0].info;
    assert_eq!(
        info.capabilities,
        vec![
            docket_engine::contract::Capability::Routing,
            docket_engine::contract::Capability::Billing
        ]
    );
    let o = dispatch(
        "multi",
        event(EventKind::Created, MONDAY),
        ticket("M-1", "software", MONDAY),
    );
    assert!(o.is_applied());
    let phases: Vec<docket_engine::contract::Capability> =
        o.trace.iter().map(|r| r.phase).collect();
    assert_eq!(
        phases,
        vec![
            docket_engine::contract::Capability::Routing,
            docket_engine::contract::Capability::Billing
        ]
    );
}

/// Distinct no-code routing plugins: `[[routing.rule]]` sending to `g<i>`.
fn numbered_router(i: usize) -> Vec<u8> {
    format!("[[routing.rule]]\ngroup = \"g{i}\"\nreason = \"rule {i}\"\n").into_bytes()
}

fn route_with(d: &Docket, plugin: &docket_engine::plugin::Plugin) -> String {
    let ev = event(EventKind::Created, MONDAY);
    let t = ticket("L-1", "software", MONDAY);
    let ctx = docket_engine::types::Context {
        tenant: "lru".into(),
        now: MONDAY,
        settings: vec![],
        agents: vec![],
        history: vec![],
        calendars: vec![],
    };
    let input = docket_engine::plugin::CallInput {
        event: &ev,
        ticket: &t,
        context: &ctx,
        position: None,
    };
    let (r, _) = d.call(
        plugin,
        docket_engine::contract::Capability::Routing,
        &input,
        &Limits::default(),
    );
    match r.expect("route") {
        docket_engine::plugin::Decision::Routing(Some(d)) => d.group,
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_resident_set_is_bounded_and_reloads_on_demand() {
    for cache in [true, false] {
        let dir = std::env::temp_dir().join(format!("docket-lru-{}-{cache}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let d = Docket::new(EngineConfig {
            cache_dir: cache.then(|| dir.clone()),
            max_instances: 8,
            max_resident_plugins: 2,
            ..EngineConfig::default()
        })
        .unwrap();
        let plugins: Vec<_> = (0..5)
            .map(|i| {
                d.compile(source(&numbered_router(i)), &Limits::default())
                    .unwrap()
                    .0
            })
            .collect();
        assert_eq!(d.resident_stats().resident, 2);
        // Every plugin still answers, in any order, each with its own rules.
        for round in 0..3 {
            for (i, p) in plugins.iter().enumerate().rev() {
                assert_eq!(route_with(&d, p), format!("g{i}"), "round {round}");
                assert!(d.resident_stats().resident <= 2);
            }
        }
        let stats = d.resident_stats();
        assert!(stats.reloads >= 10 && stats.evictions >= 13, "{stats:?}");
        // A hot plugin stays resident: calling it between others never reloads it.
        let before = d.resident_stats().reloads;
        for i in 0..4 {
            assert_eq!(route_with(&d, &plugins[0]), "g0");
            assert_eq!(
                route_with(&d, &plugins[1 + i % 2]),
                format!("g{}", 1 + i % 2)
            );
        }
        // 0 stays resident; 1 and 2 take turns evicting each other.
        assert_eq!(d.resident_stats().reloads - before, 3);
        drop(plugins);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn eviction_never_pulls_code_from_under_a_running_call() {
    let d = std::sync::Arc::new(
        Docket::new(EngineConfig {
            max_instances: 16,
            max_resident_plugins: 1,
            ..EngineConfig::default()
        })
        .unwrap(),
    );
    let looping = d
        .compile(source(builtin::hostile_plugin()), &Limits::default())
        .unwrap()
        .0;
    let others: Vec<_> = (0..3)
        .map(|i| {
            d.compile(source(&numbered_router(i)), &Limits::default())
                .unwrap()
                .0
        })
        .collect();
    // A long call (an infinite loop stopped by fuel) while other plugins
    // evict it again and again.
    let d2 = d.clone();
    let runner = std::thread::spawn(move || {
        let ev = event(EventKind::Created, MONDAY);
        let t = ticket("L-2", "software", MONDAY);
        let ctx = docket_engine::types::Context {
            tenant: "lru".into(),
            now: MONDAY,
            settings: vec![docket_engine::types::Setting {
                key: "mode".into(),
                value: docket_engine::types::FieldValue::Text("loop".into()),
            }],
            agents: vec![],
            history: vec![],
            calendars: vec![],
        };
        let input = docket_engine::plugin::CallInput {
            event: &ev,
            ticket: &t,
            context: &ctx,
            position: None,
        };
        let limits = Limits {
            fuel: u64::MAX,
            timeout_ms: 700,
            ..Limits::default()
        };
        (0..3)
            .map(|_| {
                d2.call(
                    &looping,
                    docket_engine::contract::Capability::Routing,
                    &input,
                    &limits,
                )
                .0
            })
            .collect::<Vec<_>>()
    });
    let mut calls = 0;
    while !runner.is_finished() {
        for (i, p) in others.iter().enumerate() {
            assert_eq!(route_with(&d, p), format!("g{i}"));
            calls += 1;
        }
    }
    for r in runner.join().unwrap() {
        assert!(
            matches!(r, Err(docket_engine::PluginError::DeadlineExceeded { .. })),
            "{r:?}"
        );
    }
    assert!(calls > 3);
    assert!(d.resident_stats().evictions > 3);
}

#[test]
fn a_tenant_config_may_name_a_rule_document() {
    let d = docket();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let config = CONFIG
        .replace("tenant = \"cfg\"", "tenant = \"cfg-toml\"")
        .replace("builtin:routing", "example-rules/nocode/routing.toml");
    let config = TenantConfig::parse(&config).unwrap();
    assert_eq!(config.tenant, "cfg-toml");
    load_tenant(d, &config, &repo, &builtin::plugin).unwrap();
    assert_eq!(route_group("cfg-toml"), "it-support");

    // A document that does not compile is refused with its line and column.
    let dir = std::env::temp_dir().join(format!("docket-cfg-toml-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("bad.toml"), "[[routing.rule]]\ngroup = 3\n").unwrap();
    let bad = TenantConfig::parse(&CONFIG.replace("builtin:routing", "bad.toml")).unwrap();
    let err = load_tenant(d, &bad, &dir, &builtin::plugin).unwrap_err();
    assert!(err.to_string().contains("rules.toml:2:9"), "{err}");
    assert!(err.to_string().contains("group must be a string"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn only_the_routing_phase_is_given_the_agent_roster() {
    tenant_with(
        "roster",
        Limits::default(),
        &[(
            "counter",
            builtin::hostile_plugin(),
            "mode = \"roster\"",
            FailurePolicy::FailEvent,
        )],
    );
    let agents = vec![
        agent("ana", "software", 2, 1, true),
        agent("ben", "software", 1, 0, true),
    ];
    let o = dispatch_full(
        "roster",
        event(EventKind::Created, MONDAY),
        ticket("R-1", "software", MONDAY),
        agents,
        vec![],
    );
    assert!(o.is_applied(), "{:?}", o.status);
    let effects = effects(&o);
    assert!(
        matches!(&effects[0], docket_engine::Effect::Assign { group, .. } if group == "roster-2"),
        "routing sees both agents: {effects:?}"
    );
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, docket_engine::Effect::AddTag { tag } if tag == "roster-0")),
        "escalation sees none: {effects:?}"
    );
}

#[test]
fn a_step_runs_only_for_the_events_it_subscribes_to() {
    let d = docket();
    let subscribed = CONFIG
        .replace("tenant = \"cfg\"", "tenant = \"subs\"")
        .replace(
            "source = \"builtin:routing\"",
            "source = \"builtin:routing\"\nevents = [\"created\", \"status_changed\"]",
        );
    let config = TenantConfig::parse(&subscribed).unwrap();
    load_tenant(d, &config, Path::new("."), &builtin::plugin).unwrap();
    let ran = |kind: EventKind| -> bool {
        let o = dispatch(
            "subs",
            event(kind, MONDAY),
            ticket("S-1", "software", MONDAY),
        );
        assert!(o.is_applied(), "{:?}", o.status);
        o.trace.iter().any(|run| run.plugin == "routing")
    };
    assert!(ran(EventKind::Created));
    assert!(
        !ran(EventKind::Updated(vec!["subject".into()])),
        "not subscribed"
    );
    assert!(!ran(EventKind::TimerFired("x".into())), "not subscribed");

    // A misspelt kind is refused with the config's line, naming the kinds.
    let misspelt = subscribed.replace("\"status_changed\"", "\"status_change\"");
    let err = TenantConfig::parse(&misspelt).unwrap_err().to_string();
    assert!(
        err.contains("unknown variant `status_change`") && err.contains("status_changed"),
        "{err}"
    );
    assert!(err.contains("line 10"), "{err}");
}
