#!/usr/bin/env bash
# Builds the JavaScript examples into components of the docket:plugin
# contract, from the npm packages pinned in package-lock.json:
#   1. the guest typings from wit/ (jco guest-types) into types/,
#   2. a type check of the sources and the guest SDK (tsc, strict),
#   3. two components per plugin from the same sources (jco componentize,
#      no WASI): StarlingMonkey (SpiderMonkey) into js/, QuickJS into js-qjs/.
# Output: $DOCKET_POLYGLOT_OUT/{js,js-qjs}/{routing,billing,hostile}.wasm
# (default target/polyglot); hostile.wasm is tests/plugins/hostile-js, for
# the host's tests. Needs Node.js 20+ and npm.
#
# package.json pins @bytecodealliance/preview2-shim to 0.25.0: with 0.26
# jco's own WASI shim gives its tools no preopened directory, and every jco
# command that reads the WIT fails with "No such file or directory".
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${DOCKET_POLYGLOT_OUT:-$root/target/polyglot}/js"
cd "$here"
mkdir -p "$out" "$out-qjs"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
rm -rf types
npx jco guest-types "$root/wit" --world-name plugin --out-dir types --quiet
npx tsc -p tsconfig.json
# source, world, output name; the last is the host tests' misbehaving plugin.
while read -r source world name; do
  # --disable all: no WASI at all; the guest SDK routes console to the log.
  npx jco componentize "$source" --wit "$root/wit" --world-name "$world" \
    --bundle-config bundle.config.js --disable all --out "$out/$name.wasm" >/dev/null
  echo "built $out/$name.wasm ($(stat -c %s "$out/$name.wasm") bytes)"
  # QuickJS: the synchronous runtime (the host has no component-model
  # async), WASI stubbed out; the source path absolute (jco 1.35 resolves
  # a relative one against its own directory twice on this backend).
  npx jco componentize "$(realpath "$source")" --wit "$root/wit" --world-name "$world" \
    --bundle-config bundle.config.js --backend qjs --backend-qjs-disable-async \
    --backend-qjs-stub-wasi --out "$out-qjs/$name.wasm" >/dev/null
  echo "built $out-qjs/$name.wasm ($(stat -c %s "$out-qjs/$name.wasm") bytes)"
done <<LIST
src/routing.ts routing-plugin routing
src/billing.ts billing-plugin billing
$root/tests/plugins/hostile-js/hostile.ts routing-plugin hostile
LIST
