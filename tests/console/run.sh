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

python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r "$here/requirements.txt"

admin="console-admin-key"
# shellcheck source=../support/serve.sh
source "$root/tests/support/serve.sh"
start_docket_serve "$admin"

shots="$root/target/console-screenshots"
mkdir -p "$shots"
python3 "$here/console_test.py" "$base" "$admin" "$root/example-rules/nocode" "$shots"
