#!/usr/bin/env bash
# Builds the Python examples into components of the docket:plugin contract,
# from the PyPI packages pinned in requirements.txt, in a virtualenv of
# their own (target/polyglot/python-venv):
#   1. the bindings from wit/ (componentize-py bindings) into bindings/,
#   2. a strict type check of the sources and the guest SDK (mypy),
#   3. one component per plugin (componentize-py, WASI stubbed: Docket
#      offers none; the guest SDK routes print() to the log).
# Output: $DOCKET_POLYGLOT_OUT/python/{routing,billing,hostile}.wasm (default
# target/polyglot); hostile.wasm is tests/plugins/hostile-python, for the
# host's tests. Needs Python 3.10+ with venv.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${DOCKET_POLYGLOT_OUT:-$root/target/polyglot}/python"
venv="$root/target/polyglot/python-venv"
cd "$here"
mkdir -p "$out"
if [ ! -x "$venv/bin/componentize-py" ] || [ requirements.txt -nt "$venv/.installed" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r requirements.txt
  touch "$venv/.installed"
fi
# Not activated: componentize-py would add the venv's site-packages (the
# build tools) to the plugin's path.
rm -rf bindings
"$venv/bin/componentize-py" -d "$root/wit" -w plugin bindings bindings >/dev/null
MYPYPATH="$here/bindings:$root/guest-sdk/python" "$venv/bin/mypy" --strict --no-error-summary \
  --cache-dir "$root/target/polyglot/mypy-cache" \
  src "$root/guest-sdk/python" "$root/tests/plugins/hostile-python"
# module, source directory, world, output name.
while read -r module dir world name; do
  "$venv/bin/componentize-py" -d "$root/wit" -w "$world" componentize "$module" \
    -p "$dir" -p "$root/guest-sdk/python" --stub-wasi -o "$out/$name.wasm" >/dev/null
  echo "built $out/$name.wasm ($(stat -c %s "$out/$name.wasm") bytes)"
done <<LIST
routing_plugin src routing-plugin routing
billing_plugin src billing-plugin billing
hostile_plugin $root/tests/plugins/hostile-python routing-plugin hostile
LIST
