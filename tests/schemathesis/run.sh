#!/usr/bin/env bash
# Runs Schemathesis (every check) against a `docket serve` started here on
# loopback, then stops it. Needs the docket binary built (target/debug) and
# Python 3; installs the pinned fuzzer. Exit status: the fuzzer's.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
wasm="$(ls "$root"/target/guests/wasm32-unknown-unknown/guest/docket_rules_routing.wasm)"

python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r "$here/requirements.txt"

admin="fuzz-admin-key"
# shellcheck source=../support/serve.sh
source "$root/tests/support/serve.sh"
start_docket_serve "$admin"

read -r DOCKET_FUZZ_TENANT DOCKET_FUZZ_WEBHOOK < <(python3 "$here/seed.py" "$base" "$admin" "$wasm")
export DOCKET_FUZZ_TENANT DOCKET_FUZZ_WEBHOOK

# A fixed seed by default, so a failure in CI reproduces exactly; set
# DOCKET_FUZZ_SEED to another number to explore, or to `random`.
seed="${DOCKET_FUZZ_SEED:-100303154688974248123395029873924701223}"
seed_flag=()
if [ "$seed" != random ]; then seed_flag=(--seed "$seed"); fi

cd "$here"
SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$here" python3 -m schemathesis.cli \
  --config-file "$here/schemathesis.toml" --no-color run "${seed_flag[@]}" \
  -H "Authorization: Bearer $admin" \
  "$base/openapi.json"
