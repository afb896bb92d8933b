#!/usr/bin/env bash
# A throw-away PostgreSQL 15 cluster for the store tests (run, not sourced):
#
#   pg_cluster.sh start DIR PORT   initdb in DIR/data, start it on 127.0.0.1:PORT (0: a free port;
#                                  unix socket in DIR), print the connection URI (with a password
#                                  and the port) on stdout
#   pg_cluster.sh stop DIR         stop it (fast shutdown), leave DIR for the caller to remove
#   pg_cluster.sh resume DIR PORT  start a stopped cluster again (same socket dir; PORT 0: the port
#                                  it was started on)
#
# PostgreSQL refuses to run as root, and CI runs as root: then the cluster runs as the
# `postgres` user (created by the Debian package) through runuser, and DIR is handed to it.
# Exit 1 with one line on stderr when PostgreSQL 15 is not installed or does not start; the
# caller decides whether that is a skip or (MCP_CI=1) a failure. Loopback only; bounded waits.
set -u

PG_BIN=${MCP_PG_BIN:-/usr/lib/postgresql/15/bin}
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: pg_cluster.sh start|resume DIR PORT | stop DIR" >&2; exit 2; }

as=()
if [ "$(id -u)" = 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
        echo "pg_cluster: running as root and there is no postgres user" >&2
        exit 1
    fi
    as=(runuser -u postgres --)
fi

case $cmd in
start)
    port=${3:?port}
    for b in initdb pg_ctl; do
        [ -x "$PG_BIN/$b" ] || { echo "pg_cluster: PostgreSQL 15 not installed ($PG_BIN/$b)" >&2; exit 1; }
    done
    [ "${#as[@]}" -eq 0 ] || chown postgres "$dir"
    pw=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
    printf '%s\n' "$pw" >"$dir/pwfile"
    [ "${#as[@]}" -eq 0 ] || chown postgres "$dir/pwfile"
    if ! "${as[@]}" "$PG_BIN/initdb" -D "$dir/data" -U mcp --pwfile="$dir/pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C --no-sync \
        >"$dir/initdb.log" 2>&1; then
        echo "pg_cluster: initdb failed: $(tail -n 3 "$dir/initdb.log")" >&2
        exit 1
    fi
    rm -f "$dir/pwfile"
    # PORT 0: a port the kernel says is free now; if another process takes it before the
    # postmaster binds it, try another (several test runs may start clusters at once)
    want=$port started=0
    for _ in 1 2 3 4 5; do
        [ "$want" != 0 ] ||
            port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        if "${as[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=60" \
            start >"$dir/pg_ctl.log" 2>&1; then
            started=1
            break
        fi
        [ "$want" = 0 ] && grep -q 'could not create' "$dir/server.log" 2>/dev/null || break
    done
    if [ "$started" != 1 ]; then
        echo "pg_cluster: start failed: $(tail -n 3 "$dir/server.log" 2>/dev/null)" >&2
        exit 1
    fi
    printf '%s\n' "$port" >"$dir/port"
    printf 'postgresql://mcp:%s@127.0.0.1:%s/postgres\n' "$pw" "$port"
    ;;
resume)
    port=${3:?port}
    [ "$port" != 0 ] || port=$(cat "$dir/port")   # the port it was started on
    if ! "${as[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=60" \
        start >"$dir/pg_ctl.log" 2>&1; then
        echo "pg_cluster: start failed: $(tail -n 3 "$dir/server.log" 2>/dev/null)" >&2
        exit 1
    fi
    ;;
stop)
    [ -d "$dir/data" ] || exit 0
    "${as[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1
    ;;
*)
    echo "usage: pg_cluster.sh start|resume DIR PORT | stop DIR" >&2
    exit 2
    ;;
esac
