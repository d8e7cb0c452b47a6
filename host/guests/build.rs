//! Builds the guest plugins (the example rules and the hostile test plugin)
//! and the no-code runtime (to check the compiler's committed copy)
//! for `wasm32-unknown-unknown` with a nested cargo, in a target directory of
//! their own, so `docket demo` can embed the examples and tests can load
//! them. The nested build needs the wasm target's standard library: rustup
//! installs a toolchain file's `targets` only when it installs the toolchain
//! itself, so a machine that already had the toolchain lacks it; this script
//! then asks rustup for it (and says so) before building.

use std::path::{Path, PathBuf};
use std::process::Command;

/// (package, artifact file stem) of each guest.
const GUESTS: &[(&str, &str)] = &[
    ("docket-rules-templates", "docket_rules_templates"),
    ("docket-rules-routing", "docket_rules_routing"),
    ("docket-rules-escalation", "docket_rules_escalation"),
    ("docket-rules-billing", "docket_rules_billing"),
    ("docket-rules-workflow", "docket_rules_workflow"),
    ("docket-hostile-plugin", "docket_hostile_plugin"),
    ("docket-nocode-runtime", "docket_nocode_runtime"),
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .to_path_buf();
    for dir in [
        "guest-sdk",
        "example-rules",
        "tests/plugins",
        "host/nocode/runtime",
        "wit",
        ".cargo/config.toml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    println!("cargo:rerun-if-env-changed=DOCKET_GUEST_TARGET_DIR");
    let target_dir = std::env::var_os("DOCKET_GUEST_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target").join("guests"));

    ensure_guest_target();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args([
            "build",
            "--profile",
            "guest",
            "--target",
            GUEST_TARGET,
            "--target-dir",
        ])
        .arg(&target_dir);
    for (package, _) in GUESTS {
        cmd.args(["-p", package]);
    }
    // The outer build's flags and wrappers (clippy, coverage, host RUSTFLAGS)
    // are not meant for the guests.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .expect("running cargo to build the guest plugins");
    if !status.success() {
        panic!(
            "building the guest plugins for wasm32-unknown-unknown failed; is the target installed? \
             (`rustup target add wasm32-unknown-unknown`)"
        );
    }
    let wasm_dir = target_dir.join(GUEST_TARGET).join("guest");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let mut consts = String::new();
    for (_, stem) in GUESTS {
        let src = wasm_dir.join(format!("{stem}.wasm"));
        let dst = out.join(format!("{stem}.wasm"));
        copy_if_changed(&src, &dst);
        consts.push_str(&format!(
            "/// `{stem}.wasm`, built from the workspace.\npub const {}: &[u8] = include_bytes!({:?});\n",
            stem.to_uppercase(),
            dst.display().to_string()
        ));
    }
    std::fs::write(out.join("guests.rs"), consts).unwrap();
}

const GUEST_TARGET: &str = "wasm32-unknown-unknown";

/// Makes sure the compiler that builds the guests has the wasm target's
/// standard library, installing it with rustup when it is missing.
fn ensure_guest_target() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    if target_installed(&rustc) {
        return;
    }
    println!(
        "cargo:warning=the {GUEST_TARGET} target is not installed for this toolchain; \
         installing it with `rustup target add {GUEST_TARGET}` to build the guest plugins"
    );
    // RUSTUP_TOOLCHAIN (set by rustup's proxies) names the toolchain this
    // build runs on, so the target lands where the nested cargo looks.
    let status = Command::new("rustup")
        .args(["target", "add", GUEST_TARGET])
        .status();
    match status {
        Ok(s) if s.success() && target_installed(&rustc) => {}
        Ok(_) | Err(_) => panic!(
            "the guest plugins need the {GUEST_TARGET} target and it could not be installed \
             (`rustup target add {GUEST_TARGET}` failed or rustup is missing); install the \
             target's standard library for `{rustc}` and build again"
        ),
    }
}

/// Whether `rustc`'s sysroot holds the guest target's standard library.
fn target_installed(rustc: &str) -> bool {
    let Ok(out) = Command::new(rustc).args(["--print", "sysroot"]).output() else {
        return false;
    };
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Path::new(&sysroot)
        .join("lib/rustlib")
        .join(GUEST_TARGET)
        .join("lib")
        .is_dir()
}

fn copy_if_changed(src: &Path, dst: &Path) {
    let bytes = std::fs::read(src).unwrap_or_else(|e| panic!("reading {}: {e}", src.display()));
    if std::fs::read(dst).ok().as_deref() != Some(&bytes[..]) {
        std::fs::write(dst, bytes).unwrap();
    }
}
