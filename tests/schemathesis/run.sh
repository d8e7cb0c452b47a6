#!/usr/bin/env bash
# Runs Schemathesis (every check) against a `docket serve` started here on
# loopback, then stops it. Needs the docket binary built (target/debug) and
# Python 3; installs the pinned fuzzer. Exit status: the fuzzer's.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="$root/target/debug/docket"
wasm="$(ls "$root"/target/guests/wasm32-unknown-unknown/guest/docket_rules_routing.wasm)"

python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r "$here/requirements.txt"

data="$(mktemp -d)"
out="$(mktemp)"
admin="fuzz-admin-key"
DOCKET_ADMIN_KEY="$admin" "$bin" serve --listen 127.0.0.1:0 --data-dir "$data" >"$out" 2>"$data/serve.err" &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$data" "$out"' EXIT
for _ in $(seq 100); do
  grep -q "listening on" "$out" && break
  sleep 0.1
done
base="$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$out")"
[ -n "$base" ] || { cat "$data/serve.err"; exit 1; }

read -r DOCKET_FUZZ_TENANT DOCKET_FUZZ_WEBHOOK < <(python3 "$here/seed.py" "$base" "$admin" "$wasm")
export DOCKET_FUZZ_TENANT DOCKET_FUZZ_WEBHOOK

cd "$here"
SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$here" python3 -m schemathesis.cli \
  --config-file "$here/schemathesis.toml" --no-color run \
  -H "Authorization: Bearer $admin" \
  "$base/openapi.json"
