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
        .join("..")
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
    let (code, out, _) = run(&["check", &repo("Cargo.toml")]);
    assert_eq!(code, 1);
    assert!(out.contains("REJECTED (invalid_wasm)"), "{out}");
    let (code, _, err) = run(&["check", "/no/such/file.wasm"]);
    assert_eq!(code, 2);
    assert!(err.contains("reading /no/such/file.wasm"), "{err}");
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
    let config = repo("host/demo/shopco.toml");
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
