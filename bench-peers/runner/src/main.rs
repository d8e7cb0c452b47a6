//! Docket beside Extism on the same rules and inputs, in one run.
//!
//! The Extism plugin (`extism-rules`) runs the very rule code of the Docket
//! example plugins behind Extism's usual JSON-in/JSON-out functions. Each
//! Extism row includes what its caller must do: serialize the input to JSON
//! and parse the output. Docket rows use typed values end to end.

#[path = "../../../host/cli/benches/support/inputs.rs"]
mod inputs;
mod zen;

use docket::config::load_tenant;
use docket::sandbox::{self, CallInput};
use docket::{Capability, Docket, EngineConfig, Limits, builtin};
use extism::{CompiledPlugin, Manifest, Plugin, PluginBuilder, Wasm};
use inputs::{Fixture, time_it};
use std::path::Path;
use std::time::Duration;

const ITERATIONS: usize = 3_000;

fn measure(f: impl FnMut()) -> (Duration, Duration) {
    time_it(ITERATIONS, f)
}

fn main() {
    let wasm_path = std::env::args()
        .nth(1)
        .expect("usage: peer-bench <extism_rules.wasm>");
    let extism_wasm = std::fs::read(&wasm_path).expect("the Extism plugin; build it with run.sh");

    let fx = Fixture::new();
    let docket = Docket::new(EngineConfig::default()).unwrap();
    load_tenant(&docket, &fx.config, Path::new("."), &builtin::plugin).unwrap();
    let state = docket.tenant("acme-repair").unwrap();
    let (t, created, logged) = (&fx.ticket, &fx.created, &fx.logged);
    let ctx_of = |plugin: &str| fx.context(&state, plugin);
    let limits = Limits::default();
    let tick = docket.runtime().epoch_tick();

    let manifest = Manifest::new([Wasm::data(extism_wasm)]);
    let compiled =
        CompiledPlugin::new(PluginBuilder::new(manifest).with_wasi(false)).expect("extism compile");
    let mut warm = Plugin::new_from_compiled(&compiled).expect("extism plugin");

    let cases = [
        ("templates", Capability::Template, "validate", created),
        ("routing", Capability::Routing, "route", created),
        ("escalation", Capability::Escalation, "evaluate", created),
        ("billing", Capability::Billing, "bill", logged),
    ];
    let mut rows: Vec<(String, Duration, Duration, String)> = Vec::new();
    let mut sums = [Duration::ZERO; 3];
    for (name, capability, function, event) in cases {
        let ctx = ctx_of(name);
        let plugin = &state.plugins[name].active().unwrap().plugin;
        let (d_med, d_p99) = measure(|| {
            let input = CallInput {
                event,
                ticket: t,
                context: &ctx,
            };
            sandbox::call(
                docket.runtime().engine(),
                plugin,
                capability,
                &input,
                &limits,
                tick,
            )
            .0
            .expect("docket");
        });
        let json_input =
            || serde_json::json!({ "event": event, "ticket": t, "context": &ctx }).to_string();
        // Same answer from both, or the comparison means nothing.
        let out: String = warm.call(function, json_input()).expect("extism call");
        let _: serde_json::Value = serde_json::from_str(&out).expect("extism output is JSON");
        let (w_med, w_p99) = measure(|| {
            let out: &[u8] = warm.call(function, json_input()).expect("extism call");
            std::hint::black_box(serde_json::from_slice::<serde_json::Value>(out).unwrap());
        });
        let (f_med, f_p99) = measure(|| {
            let mut fresh = Plugin::new_from_compiled(&compiled).expect("extism plugin");
            let out: &[u8] = fresh.call(function, json_input()).expect("extism call");
            std::hint::black_box(serde_json::from_slice::<serde_json::Value>(out).unwrap());
        });
        sums[0] += d_med;
        sums[1] += w_med;
        sums[2] += f_med;
        rows.push((
            format!("docket {name} (fresh instance)"),
            d_med,
            d_p99,
            String::new(),
        ));
        rows.push((
            format!("extism {name} (reused instance)"),
            w_med,
            w_p99,
            format!("×{:.1} docket", w_med.as_secs_f64() / d_med.as_secs_f64()),
        ));
        rows.push((
            format!("extism {name} (fresh instance)"),
            f_med,
            f_p99,
            format!("×{:.1} docket", f_med.as_secs_f64() / d_med.as_secs_f64()),
        ));
    }
    let (p_med, p_p99) = measure(|| {
        let req = fx.request(created);
        assert!(docket.dispatch("acme-repair", req).unwrap().is_applied());
    });
    let (e_med, e_p99) = measure(|| {
        for (name, _, function, _) in cases {
            let json =
                serde_json::json!({ "event": created, "ticket": t, "context": ctx_of(name) })
                    .to_string();
            let mut fresh = Plugin::new_from_compiled(&compiled).expect("extism plugin");
            let out: &[u8] = fresh.call(function, json).expect("extism call");
            std::hint::black_box(serde_json::from_slice::<serde_json::Value>(out).unwrap());
        }
    });
    rows.push((
        "docket 4-plugin pipeline, created event".into(),
        p_med,
        p_p99,
        String::new(),
    ));
    rows.push((
        "extism 4 calls, fresh instance each, created event".into(),
        e_med,
        e_p99,
        format!("×{:.1} docket", e_med.as_secs_f64() / p_med.as_secs_f64()),
    ));

    // Peer: a rules engine. The routing rules' group decision as a zen-engine
    // decision table, the ticket passed as JSON (as its callers must).
    let phone = serde_json::to_string(&docket::types::Channel::Phone).unwrap();
    let content: zen_engine::model::DecisionContent =
        serde_json::from_value(zen::routing_jdm(&phone)).expect("JDM");
    let engine = zen_engine::DecisionEngine::default();
    let decision = engine
        .create_decision(content.into())
        .expect("decision table");
    let zen_group = || -> String {
        let input = serde_json::json!({ "ticket": t });
        let response = futures::executor::block_on(decision.evaluate(input.into())).expect("zen");
        let result: serde_json::Value = response.result.into();
        result["group"].as_str().expect("group").to_string()
    };
    let routing_ctx = ctx_of("routing");
    let route = |plugin: &docket::plugin::CompiledPlugin| {
        let input = CallInput {
            event: created,
            ticket: t,
            context: &routing_ctx,
        };
        match sandbox::call(
            docket.runtime().engine(),
            plugin,
            Capability::Routing,
            &input,
            &limits,
            tick,
        )
        .0
        {
            Ok(sandbox::Decision::Routing(Some(d))) => d.group,
            other => panic!("{other:?}"),
        }
    };
    let rust_routing = state.plugins["routing"].active().unwrap().plugin.clone();
    let (nocode_routing, _) = docket
        .runtime()
        .compile(builtin::plugin("nocode/routing").unwrap(), &limits)
        .expect("no-code routing");
    assert_eq!(zen_group(), route(&rust_routing), "zen and docket disagree");
    assert_eq!(route(&nocode_routing), route(&rust_routing));
    let (r_med, r_p99) = measure(|| {
        std::hint::black_box(route(&rust_routing));
    });
    let (n_med, n_p99) = measure(|| {
        std::hint::black_box(route(&nocode_routing));
    });
    let (z_med, z_p99) = measure(|| {
        std::hint::black_box(zen_group());
    });
    rows.push((
        "docket routing, Rust plugin (group + agent)".into(),
        r_med,
        r_p99,
        String::new(),
    ));
    rows.push((
        "docket routing, no-code plugin (group + agent)".into(),
        n_med,
        n_p99,
        format!(
            "×{:.2} Rust plugin",
            n_med.as_secs_f64() / r_med.as_secs_f64()
        ),
    ));
    rows.push((
        "zen-engine decision table (group only, JSON input)".into(),
        z_med,
        z_p99,
        format!(
            "×{:.2} Rust plugin",
            z_med.as_secs_f64() / r_med.as_secs_f64()
        ),
    ));

    println!(
        "Docket vs Extism 1.30.0 and zen-engine, same rules and inputs, one run, {ITERATIONS} iterations per row"
    );
    println!("{:<52} {:>11} {:>11}  note", "row", "median µs", "p99 µs");
    for (name, med, p99, note) in &rows {
        println!(
            "{:<52} {:>11.1} {:>11.1}  {note}",
            name,
            med.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6
        );
    }
    println!(
        "sum of the four single calls: docket {:.1} µs, extism reused {:.1} µs, extism fresh {:.1} µs",
        sums[0].as_secs_f64() * 1e6,
        sums[1].as_secs_f64() * 1e6,
        sums[2].as_secs_f64() * 1e6
    );
}
