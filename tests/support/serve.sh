# Sourced by the test scripts (tests/schemathesis, tests/console) that need a served instance: starts the
# debug `docket serve` on a free loopback port with a fresh data directory
# and admin key "$1", sets `base` to its address, and stops it (and removes
# its data) when the calling script exits.
start_docket_serve() {
  local admin="$1" root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  serve_data="$(mktemp -d)"
  serve_out="$(mktemp)"
  DOCKET_ADMIN_KEY="$admin" "$root/target/debug/docket" serve --listen 127.0.0.1:0 \
    --data-dir "$serve_data" >"$serve_out" 2>"$serve_data/serve.err" &
  serve_pid=$!
  trap 'kill $serve_pid 2>/dev/null || true; wait $serve_pid 2>/dev/null || true; rm -rf "$serve_data" "$serve_out"' EXIT
  for _ in $(seq 100); do
    grep -q "listening on" "$serve_out" && break
    sleep 0.1
  done
  base="$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$serve_out")"
  [ -n "$base" ] || { cat "$serve_data/serve.err"; return 1; }
}
