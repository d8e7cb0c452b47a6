#!/usr/bin/env bash
# The console's browser test: starts `docket serve` on loopback with a
# fresh data directory, seeds the acme-repair tenant with the no-code
# example rules, then drives headless Chromium (Debian's `chromium` and
# `chromium-driver`) through the console with Selenium. Screenshots go to
# target/console-screenshots. Needs the docket binary (target/debug) and
# Python 3; installs the pinned Selenium. Exit status: the test's.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="$root/target/debug/docket"

python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r "$here/requirements.txt"

data="$(mktemp -d)"
out="$(mktemp)"
admin="console-admin-key"
DOCKET_ADMIN_KEY="$admin" "$bin" serve --listen 127.0.0.1:0 --data-dir "$data" >"$out" 2>"$data/serve.err" &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$data" "$out"' EXIT
for _ in $(seq 100); do
  grep -q "listening on" "$out" && break
  sleep 0.1
done
base="$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$out")"
[ -n "$base" ] || { cat "$data/serve.err"; exit 1; }

shots="$root/target/console-screenshots"
mkdir -p "$shots"
python3 "$here/console_test.py" "$base" "$admin" "$root/example-rules/nocode" "$shots"
