#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests and benches, from Debian's
# packages: `cluster.sh start DIR PORT` creates (if needed) and starts a
# cluster in DIR listening on 127.0.0.1:PORT with trust authentication,
# and prints its URL; `cluster.sh stop DIR` stops it. As root, the server
# runs as the `postgres` user the package creates (PostgreSQL refuses root).
set -euo pipefail
cmd=${1:?usage: cluster.sh start DIR PORT | stop DIR}
dir=${2:?cluster directory}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/pg_ctl" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$cmd" in
start)
    port=${3:?port}
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log"
    fi
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200 -c fsync=on" start >/dev/null
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
stop)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
*)
    echo "unknown command $cmd" >&2; exit 2
    ;;
esac
