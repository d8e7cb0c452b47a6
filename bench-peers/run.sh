#!/usr/bin/env bash
# Builds the Extism plugin and runs the Docket vs Extism and zen-engine bench (release).
set -euo pipefail
cd "$(dirname "$0")"
rustup target add wasm32-unknown-unknown
cargo build --profile plugin --target wasm32-unknown-unknown -p extism-rules
cargo run --release -p peer-runner -- target/wasm32-unknown-unknown/plugin/extism_rules.wasm
