//! The no-code compiler: the TOML twins of the example plugins against the
//! Rust SDK plugins on generated events (differential), every error path of
//! the compiler, and generated documents that must compile to valid modules.

use docket::Capability;
use docket::builtin;
use docket::nocode;
use docket::runtime::Runtime;
use docket::sandbox::{self, CallInput, Decision};
use docket::types::{Context, Event, Ticket};
use docket::{EngineConfig, Limits, PluginError};
use docket_tests::*;
use std::sync::{Arc, OnceLock};

fn runtime() -> &'static Runtime {
    static R: OnceLock<Runtime> = OnceLock::new();
    R.get_or_init(|| Runtime::new(EngineConfig::default()).expect("runtime"))
}

fn example_toml(name: &str) -> String {
    let path = format!(
        "{}/../example-rules/nocode/{name}.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn compiled(bytes: &[u8]) -> Arc<docket::plugin::CompiledPlugin> {
    runtime()
        .compile(bytes, &Limits::default())
        .unwrap_or_else(|e| panic!("compile: {e}"))
        .0
}

/// The compiled TOML twin of an example.
fn twin(name: &str) -> Arc<docket::plugin::CompiledPlugin> {
    static CACHE: OnceLock<std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>> =
        OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let bytes = cache
        .lock()
        .unwrap()
        .entry(name.to_string())
        .or_insert_with(|| {
            nocode::compile(&example_toml(name), &format!("{name}.toml"))
                .unwrap_or_else(|e| panic!("{e}"))
                .component
        })
        .clone();
    compiled(&bytes)
}

fn call(
    plugin: &docket::plugin::CompiledPlugin,
    cap: Capability,
    ev: &Event,
    t: &Ticket,
    ctx: &Context,
) -> Result<Decision, PluginError> {
    let input = CallInput {
        event: ev,
        ticket: t,
        context: ctx,
    };
    sandbox::call(
        runtime().engine(),
        plugin,
        cap,
        &input,
        &Limits::default(),
        runtime().epoch_tick(),
    )
    .0
}

fn context(now: i64) -> Context {
    Context {
        tenant: "t".into(),
        now,
        settings: vec![],
        agents: vec![],
        history: vec![],
        calendars: vec!["business-hours".into()],
    }
}

/// Both plugins on one input: the same decision or the same failure kind.
fn same(name: &str, cap: Capability, ev: &Event, t: &Ticket, ctx: &Context) -> Decision {
    let rust = compiled(builtin::plugin(name).expect("builtin"));
    let toml = twin(name);
    let expected = call(&rust, cap, ev, t, ctx);
    let actual = call(&toml, cap, ev, t, ctx);
    match (&expected, &actual) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b, "{name} differs on\n{ev:?}\n{t:?}\n{ctx:?}");
            b.clone()
        }
        _ => panic!("{name}: rust {expected:?} vs toml {actual:?}"),
    }
}

mod routing {
    use super::*;
    use docket::types::{Channel, EventKind, Priority};

    #[test]
    fn hand_picked_cases_match_the_rust_plugin() {
        let mut ctx = context(MONDAY);
        ctx.agents = vec![
            agent("ana", "field-service-emea", 2, 3, true),
            agent("bo", "field-service-emea", 1, 1, true),
            agent("cy", "senior-support", 4, 0, true),
            agent("di", "voice", 1, 9, true),
        ];
        let created = event(EventKind::Created, MONDAY);
        let t = ticket("T-1", "hardware", MONDAY);
        let d = same("routing", Capability::Routing, &created, &t, &ctx);
        let Decision::Routing(Some(r)) = d else {
            panic!("{d:?}")
        };
        assert_eq!(
            (r.group.as_str(), r.agent.as_deref()),
            ("field-service-emea", Some("bo"))
        );

        let mut vip = t.clone();
        vip.requester.tier = "vip".into();
        same("routing", Capability::Routing, &created, &vip, &ctx);
        vip.priority = Priority::Urgent;
        same("routing", Capability::Routing, &created, &vip, &ctx);

        let mut phone = t.clone();
        phone.channel = Channel::Phone;
        let d = same("routing", Capability::Routing, &created, &phone, &ctx);
        let Decision::Routing(Some(r)) = d else {
            panic!()
        };
        assert!(r.tags.contains(&"overflow".to_string()), "{r:?}");

        let mut none = t.clone();
        none.category = None;
        none.requester.region = None;
        same("routing", Capability::Routing, &created, &none, &ctx);
        let comment = agent_reply(MONDAY);
        let d = same("routing", Capability::Routing, &comment, &t, &ctx);
        assert_eq!(d, Decision::Routing(None));
        let update = event(EventKind::Updated(vec!["tier".into()]), MONDAY);
        same("routing", Capability::Routing, &update, &t, &ctx);
    }
}
