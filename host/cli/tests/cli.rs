//! The `docket` binary, end to end: demo, check and run, including the
//! failure paths a user meets first.

use std::path::PathBuf;
use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_docket"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn repo(path: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
        .display()
        .to_string()
}

#[test]
fn demo_runs_two_tenants_with_every_outcome_kind() {
    let (code, out, err) = run(&["demo", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary = &lines.last().unwrap()["summary"];
    assert_eq!(summary["events"], lines.len() - 1);
    assert_eq!(summary["failed"], 0);
    assert_eq!(summary["plugin_errors"].as_object().unwrap().len(), 0);
    assert!(summary["rejected"].as_u64().unwrap() >= 3);
    assert!(summary["timers_fired"].as_u64().unwrap() >= 10);
    assert_eq!(summary["by_tenant"].as_object().unwrap().len(), 2);
    let effects: Vec<&str> = lines
        .iter()
        .flat_map(|l| l["effects"].as_array().into_iter().flatten())
        .filter_map(|e| e["effect"].as_str())
        .collect();
    for kind in [
        "assign",
        "apply_sla",
        "set_timer",
        "notify",
        "invoice",
        "set_field",
        "add_tag",
        "set_priority",
    ] {
        assert!(effects.contains(&kind), "the demo shows {kind}");
    }
}

#[test]
fn check_describes_plugins_and_names_what_is_wrong() {
    let (code, out, _) = run(&["check", "builtin:routing"]);
    assert_eq!(code, 0);
    assert!(out.contains("capabilities  routing"), "{out}");
    let (code, out, _) = run(&["check", "--json", "builtin:templates"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["templates"][0]["id"], "equipment-repair");
    // In the wire shape the service answers forms in.
    let device = &v["templates"][0]["fields"][0];
    assert_eq!(device["kind"]["dropdown"][0]["value"], "laptop", "{device}");
    assert_eq!(
        device["required"],
        serde_json::json!({ "on_create": true, "on_solve": false })
    );
    // Text is read as a rule document, unless the file says it is wasm.
    let (code, out, _) = run(&["check", &repo("Cargo.toml")]);
    assert_eq!(code, 1);
    assert!(
        out.contains("error: unknown key") && out.contains("Cargo.toml:"),
        "{out}"
    );
    let fake = std::env::temp_dir().join(format!("docket-fake-{}.wasm", std::process::id()));
    std::fs::write(&fake, "not wasm").unwrap();
    let (code, out, _) = run(&["check", fake.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.contains("REJECTED (invalid_wasm)"), "{out}");
    let _ = std::fs::remove_file(&fake);
    let (code, _, err) = run(&["check", "/no/such/file.wasm"]);
    assert_eq!(code, 2);
    assert!(err.contains("reading /no/such/file.wasm"), "{err}");
}

#[test]
fn check_takes_limits_from_flags_or_a_tenant_config() {
    // The routing plugin fits the defaults, not a 4 KiB module cap...
    let (code, out, _) = run(&["check", "builtin:routing", "--module-bytes", "4096"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("REJECTED (module_too_large)"), "{out}");
    // ...nor a tenant whose config says so, unless a flag raises it again.
    let dir = std::env::temp_dir().join(format!("docket-check-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tenant = dir.join("tenant.toml");
    let config = std::fs::read_to_string(repo("example-rules/demo/acme-repair.toml")).unwrap();
    let config = config.replacen("[limits]\n", "[limits]\nmodule_bytes = 4096\n", 1)
        + "\n[limits.plugins.routing]\nmodule_bytes = 16_000_000\n";
    std::fs::write(&tenant, config).unwrap();
    let tenant = tenant.to_str().unwrap();
    let (code, out, _) = run(&["check", "builtin:routing", "--config", tenant]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("module_too_large"), "{out}");
    let (code, out, err) = run(&[
        "check",
        "builtin:routing",
        "--config",
        tenant,
        "--module-bytes",
        "16000000",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    // Or the limits the config gives that plugin by name.
    let (code, out, err) = run(&[
        "check",
        "builtin:routing",
        "--config",
        tenant,
        "--limits-of",
        "routing",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = run(&[
        "check",
        "builtin:routing",
        "--config",
        tenant,
        "--limits-of",
        "billing",
    ]);
    assert_eq!(code, 1, "{out}");
    // A limit the engine would refuse is named, and nothing is checked.
    let (code, _, err) = run(&["check", "builtin:routing", "--fuel", "0"]);
    assert_eq!(code, 2);
    assert!(err.contains("limits.fuel"), "{err}");
    let (code, _, err) = run(&["check", "builtin:routing", "--memory-bytes", "1"]);
    assert_eq!(code, 2);
    assert!(err.contains("limits.memory_bytes"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn run_replays_a_stream_and_reports_bad_lines() {
    let dir = std::env::temp_dir().join(format!("docket-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.jsonl");
    std::fs::write(
        &good,
        r#"{"tenant":"shopco","ticket":"S-1","at":"2026-11-23T09:00:00Z","event":"created","data":{"subject":"Wrong size","category":"returns","requester":{"id":"u-1"},"fields":{"order_number":{"text":"ORD-12345678"},"order_value":{"money":{"amount_minor":1000,"currency":"EUR"}},"return_reason":{"choice":"changed-mind"}}}}
"#,
    )
    .unwrap();
    let config = repo("example-rules/demo/shopco.toml");
    let (code, out, err) = run(&[
        "run",
        "--tenant-config",
        &config,
        "--events",
        good.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("S-1") && out.contains("→ ecommerce/eva"),
        "{out}"
    );
    assert!(out.contains("summary: 1 events"), "{out}");

    let bad = dir.join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"tenant\":\"shopco\",\"ticket\":\"S-1\",\"at\":\"yesterday\",\"event\":\"tick\"}\n",
    )
    .unwrap();
    let (code, out, err) = run(&[
        "run",
        "--tenant-config",
        &config,
        "--events",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(out.is_empty(), "nothing runs when a line is malformed");
    assert!(err.contains("bad.jsonl:1:"), "{err}");

    let unknown = dir.join("unknown.jsonl");
    std::fs::write(&unknown, "{\"tenant\":\"shopco\",\"ticket\":\"S-9\",\"at\":\"2026-11-23T09:00:00Z\",\"event\":\"commented\",\"data\":{\"author\":\"a\",\"author_kind\":\"agent\",\"body\":\"hi\"}}\n").unwrap();
    let (code, _, err) = run(&[
        "run",
        "--tenant-config",
        &config,
        "--events",
        unknown.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("line 1: tenant `shopco`, ticket `S-9`: no such ticket"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The demo day through the no-code twins of the four plugins decides
/// exactly what the Rust plugins decide.
#[test]
fn no_code_twins_replay_the_demo_day_like_the_rust_plugins() {
    let dir = std::env::temp_dir().join(format!("docket-cli-nocode-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut rust_args = vec!["run".to_string()];
    let mut nocode_args = vec!["run".to_string()];
    for name in ["acme-repair", "shopco"] {
        let path = repo(&format!("example-rules/demo/{name}.toml"));
        let text = std::fs::read_to_string(&path).unwrap();
        let twin = dir.join(format!("{name}.toml"));
        std::fs::write(&twin, text.replace("\"builtin:", "\"builtin:nocode/")).unwrap();
        rust_args.extend(["--tenant-config".into(), path]);
        nocode_args.extend(["--tenant-config".into(), twin.display().to_string()]);
    }
    for args in [&mut rust_args, &mut nocode_args] {
        args.extend(
            [
                "--events",
                &repo("example-rules/demo/events.jsonl"),
                "--until",
                "2026-11-27T18:00:00Z",
            ]
            .map(String::from),
        );
    }
    let (code, rust, err) = run(&as_strs(&rust_args));
    assert_eq!(code, 0, "{err}");
    let (code, nocode, err) = run(&as_strs(&nocode_args));
    assert_eq!(code, 0, "{err}");
    assert!(rust.lines().count() > 30, "{rust}");
    // Everything but the timing line.
    let decisions = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| !l.starts_with("dispatch time"))
            .map(String::from)
            .collect()
    };
    assert_eq!(decisions(&rust), decisions(&nocode));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn compile_and_check_rule_documents() {
    let dir = std::env::temp_dir().join(format!("docket-cli-compile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("routing.wasm");
    let (code, stdout, err) = run(&[
        "compile",
        &repo("example-rules/nocode/routing.toml"),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("exports routing"), "{stdout}");
    let (code, stdout, _) = run(&["check", out.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(stdout.contains("capabilities  routing"), "{stdout}");
    let (code, stdout, _) = run(&["check", "builtin:nocode/templates"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("template      equipment-repair"),
        "{stdout}"
    );

    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[[routing.rule]]\ngroup = \"x\"\nwhen = 'ticket.priority == \"urgnt\"'\n",
    )
    .unwrap();
    let (code, stdout, _) = run(&["check", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("error: unknown priority `urgnt`"),
        "{stdout}"
    );
    assert!(stdout.contains("bad.toml:3:28"), "{stdout}");
    assert!(stdout.contains("hint: did you mean `urgent`?"), "{stdout}");
    let (code, _, stderr) = run(&[
        "compile",
        bad.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(stderr.contains("unknown priority `urgnt`"), "{stderr}");
    let (code, stdout, _) = run(&["check", "--json", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["error"]["kind"], "invalid_rules");
    assert_eq!(
        (v["error"]["line"].as_u64(), v["error"]["column"].as_u64()),
        (Some(3), Some(28))
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn as_strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Every string in a JSON value, with the path to it.
fn strings<'a>(v: &'a serde_json::Value, path: String, out: &mut Vec<(String, &'a str)>) {
    match v {
        serde_json::Value::String(s) => out.push((path, s)),
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                strings(x, format!("{path}[{i}]"), out);
            }
        }
        serde_json::Value::Object(o) => {
            for (k, x) in o {
                strings(x, format!("{path}.{k}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn outcomes_speak_the_input_shape_and_read_back() {
    use docket_app::ticket_input::{FieldValueIn, RequesterIn, parse_priority, parse_status};
    let (code, out, err) = run(&["demo", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let outcomes: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v.get("ticket").is_some())
        .collect();
    assert!(outcomes.len() > 40);
    let mut instants = 0;
    for o in &outcomes {
        let t = &o["ticket"];
        // The ticket reads back through the input types callers send...
        parse_status(t["status"].as_str().unwrap()).unwrap();
        parse_priority(t["priority"].as_str().unwrap()).unwrap();
        serde_json::from_value::<RequesterIn>(t["requester"].clone()).unwrap();
        serde_json::from_value::<std::collections::BTreeMap<String, FieldValueIn>>(
            t["fields"].clone(),
        )
        .unwrap_or_else(|e| panic!("fields {}: {e}", t["fields"]));
        for key in ["created_at", "updated_at"] {
            t[key].as_str().unwrap().parse::<jiff::Timestamp>().unwrap();
        }
        // ...and as a whole, into the same ticket, which writes the same JSON.
        let ticket =
            docket_contract::wire::ticket_from_value(t).unwrap_or_else(|e| panic!("{e}: {t}"));
        assert_eq!(
            &serde_json::to_value(docket_contract::wire::Wire(&ticket)).unwrap(),
            t
        );
        // Every instant anywhere is RFC 3339, every name snake_case.
        let mut all = Vec::new();
        strings(o, String::new(), &mut all);
        for (path, s) in all {
            let leaf = path.rsplit('.').next().unwrap();
            if leaf.ends_with("_at") || leaf == "at" {
                s.parse::<jiff::Timestamp>()
                    .unwrap_or_else(|e| panic!("{path} = {s}: {e}"));
                instants += 1;
            }
            if [
                "status", "priority", "channel", "effect", "metric", "kind", "code", "phase",
                "level",
            ]
            .contains(&leaf)
            {
                assert!(
                    s.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                    "{path} = {s}"
                );
            }
        }
        for e in o["effects"].as_array().unwrap() {
            if let Some(p) = e["policy"].as_object() {
                for s in p["pause_on"].as_array().unwrap() {
                    parse_status(s.as_str().unwrap()).unwrap();
                }
            }
        }
    }
    assert!(instants > 100, "{instants} instants seen");
}
