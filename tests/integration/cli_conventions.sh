#!/usr/bin/env bash
# Issue 14: every libmcp program follows the same Unix conventions (docs/cli/exit-status.md):
# --help/-h and --version/-V on stdout with status 0; one wording for usage errors (status 2,
# program name first); a missing file is status 1 with the program name and the file named; a
# busy port is refused (status 1, naming the address) unless --reuse-port; a mistyped --db
# creates nothing.
set -euo pipefail
B=$MCP_BIN
SRC_ROOT=${MCP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
want=$(sed -n 's/^project(libmcp VERSION \([0-9.]*\).*/\1/p' "$SRC_ROOT/CMakeLists.txt")
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do if kill -0 "$p" 2>/dev/null; then kill "$p"; fi; done
  rm -rf "$TMP"
}
trap cleanup EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
# run PROG ARGS...: sets RC, OUT, ERR
run() { set +e; "$@" >"$TMP/out" 2>"$TMP/err"; RC=$?; set -e; OUT=$(cat "$TMP/out"); ERR=$(cat "$TMP/err"); }

PROGRAMS=(mcp-client mcp-admin mcp-token mcp-products mcp-conformance-server)
for p in "${PROGRAMS[@]}"; do
  [ -x "$B/$p" ] || { bad "$p not built"; continue; }
  for v in --version -V; do
    run "$B/$p" $v
    [ "$RC" = 0 ] || bad "$p $v: status $RC"
    [ "$OUT" = "$p $want" ] || bad "$p $v printed '$OUT', want '$p $want'"
    [ -z "$ERR" ] || bad "$p $v wrote to stderr: $ERR"
  done
  for h in --help -h; do
    run "$B/$p" $h
    [ "$RC" = 0 ] || bad "$p $h: status $RC"
    case $OUT in *usage:*) ;; *) bad "$p $h: no usage on stdout";; esac
    [ -z "$ERR" ] || bad "$p $h wrote to stderr"
  done
  run "$B/$p" --no-such-flag
  [ "$RC" = 2 ] || bad "$p --no-such-flag: status $RC, want 2"
  first=$(printf '%s\n' "$ERR" | head -1)
  [ "$first" = "$p: unknown option --no-such-flag (see $p --help)" ] || bad "$p unknown option said: $first"
  [ -z "$OUT" ] || bad "$p unknown option wrote to stdout"
done

# an option without its value: same wording
run "$B/mcp-client" --url;          e1=$ERR; r1=$RC
run "$B/mcp-token" mint --sub;      e2=$ERR; r2=$RC
run "$B/mcp-products" --listen;     e3=$ERR; r3=$RC
run "$B/mcp-admin" --db;            e4=$(printf '%s\n' "$ERR" | head -1); r4=$RC
[ "$r1$r2$r3$r4" = 2222 ] || bad "missing value statuses $r1 $r2 $r3 $r4"
[ "$e1" = "mcp-client: --url needs a value (see mcp-client --help)" ] || bad "mcp-client: $e1"
[ "$e2" = "mcp-token: --sub needs a value (see mcp-token --help)" ] || bad "mcp-token: $e2"
[ "$e3" = "mcp-products: --listen needs a value (see mcp-products --help)" ] || bad "mcp-products: $e3"
[ "$e4" = "mcp-admin: --db needs a value (see mcp-admin --help)" ] || bad "mcp-admin: $e4"

# a missing file: status 1, the program and the file named
NOPE=$TMP/no-such-dir/mcp.dbb
run "$B/mcp-products" --db "$NOPE" --auth apikey --listen 127.0.0.1:0
[ "$RC" = 1 ] || bad "mcp-products missing --db: status $RC"
case $ERR in "mcp-products: --db $NOPE: no such file"*) ;; *) bad "mcp-products missing --db said: $ERR";; esac
run "$B/mcp-conformance-server" --db "$TMP/typo.db" --stdio </dev/null
[ "$RC" = 1 ] || bad "mcp-conformance-server missing --db: status $RC"
case $ERR in *"mcp-conformance-server: --db $TMP/typo.db: no such file"*) ;; *) bad "conformance missing --db said: $ERR";; esac
[ ! -e "$TMP/typo.db" ] || bad "a mistyped --db created $TMP/typo.db"
run "$B/mcp-admin" --db "$TMP/typo.db" user list
[ "$RC" = 1 ] || bad "mcp-admin missing store: status $RC"
case $ERR in "mcp-admin: $TMP/typo.db: no such file"*) ;; *) bad "mcp-admin missing store said: $ERR";; esac
[ ! -e "$TMP/typo.db" ] || bad "mcp-admin user list created the store"
run "$B/mcp-client" --url http://127.0.0.1:9/mcp --token-file "$TMP/none" ping
[ "$RC" = 1 ] || bad "mcp-client missing token file: status $RC"
case $ERR in "mcp-client: "*"$TMP/none"*) ;; *) bad "mcp-client missing token file said: $ERR";; esac
run "$B/mcp-token" mint --secret-file "$TMP/none" --sub a --iss i --aud a
[ "$RC" = 1 ] || bad "mcp-token missing secret file: status $RC"
case $ERR in "mcp-token: "*"$TMP/none"*) ;; *) bad "mcp-token missing file said: $ERR";; esac

# no --auth off loopback: refused unless --insecure-no-auth; the development mode is announced
run "$B/mcp-conformance-server" --listen 0.0.0.0:0
[ "$RC" = 2 ] || bad "no --auth on 0.0.0.0: exit $RC"
case $ERR in "mcp-conformance-server: no --auth on a non-loopback address"*) ;; *) bad "0.0.0.0 said: $ERR";; esac
run "$B/mcp-conformance-server" --stdio --insecure-no-auth
[ "$RC" = 2 ] || bad "--insecure-no-auth with --stdio: exit $RC"

# explicit creation: mcp-admin init (says what it did), or --db-create
# the schema version is the store's newest migration: the highest version in its schema_migrations table
run "$B/mcp-admin" --db "$TMP/a.db" init
SCHEMA=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT max(version) FROM schema_migrations").fetchone()[0])' "$TMP/a.db")
[ "$RC" = 0 ] && [ "$OUT" = "created store $TMP/a.db (schema $SCHEMA)" ] && [ "$SCHEMA" -ge 2 ] ||
  bad "init: $RC $OUT $ERR (schema $SCHEMA)"
[ "$(stat -c %a "$TMP/a.db")" = 600 ] || bad "init: store mode $(stat -c %a "$TMP/a.db")"
run "$B/mcp-admin" --db "$TMP/a.db" init
[ "$RC" = 0 ] && [ "$OUT" = "kept the existing store $TMP/a.db (schema $SCHEMA)" ] ||
  bad "init again: $RC $OUT"
run "$B/mcp-admin" --db "$TMP/a.db" user add alice --role user
[ "$RC" = 0 ] && [ -z "$OUT" ] && [ "$ERR" = "mcp-admin: done: user add alice --role user ($TMP/a.db)" ] ||
  bad "user add does not confirm on stderr: $RC '$OUT' '$ERR'"
run "$B/mcp-admin" --db "$TMP/a.db" role grant alice nosuchrole
[ "$RC" = 1 ] && [ "$(printf '%s\n' "$ERR" | grep -c 'done:')" = 0 ] || bad "a failed grant said done: $ERR"
# every changing command confirms through the one shared path, and says nothing when it fails
for cmd in "role set ops Ops.Read" "role grant alice ops" "role revoke alice ops" "user disable alice" \
           "user enable alice" "client add c1 --redirect-uri http://127.0.0.1:9/cb"; do
  read -r -a words <<<"$cmd"
  run "$B/mcp-admin" --db "$TMP/a.db" "${words[@]}"
  [ "$RC" = 0 ] && [ "$ERR" = "mcp-admin: done: $cmd ($TMP/a.db)" ] || bad "$cmd: $RC '$ERR'"
done
printf 'pw-123456789\n' >"$TMP/pw"
run "$B/mcp-admin" --db "$TMP/a.db" user passwd alice <"$TMP/pw"
[ "$RC" = 0 ] && [ "$ERR" = "mcp-admin: done: user passwd alice ($TMP/a.db)" ] || bad "user passwd does not confirm: $RC '$ERR'"
run "$B/mcp-admin" --db "$TMP/a.db" user passwd alice </dev/null
[ "$RC" = 1 ] && [ "$ERR" = "mcp-admin: no password on standard input" ] || bad "user passwd without input: $RC '$ERR'"
run "$B/mcp-admin" --db "$TMP/a.db" user passwd nobody-here <"$TMP/pw"
[ "$RC" = 1 ] && [ "$(printf '%s\n' "$ERR" | grep -c 'done:')" = 0 ] || bad "a failed passwd said done: $ERR"
run "$B/mcp-admin" --db "$TMP/a.db" key list --owner alice
[ "$RC" = 0 ] || bad "key list --owner: $RC $ERR"
run "$B/mcp-admin" --db "$TMP/a.db" --json role list
[ "$RC" = 0 ] && [ "$(printf '%s' "$OUT" | jq -r '.[] | select(.name == "ops") | .permissions[0]')" = Ops.Read ] ||
  bad "role list --json: $RC $OUT"
run "$B/mcp-admin" --db "$TMP/a.db" init extra
[ "$RC" = 2 ] || bad "init with an argument: status $RC"
run "$B/mcp-conformance-server" --db "$TMP/c.db" --db-create --stdio </dev/null
[ "$RC" = 0 ] && [ -f "$TMP/c.db" ] || bad "--db-create: status $RC, $(ls "$TMP")"
run "$B/mcp-conformance-server" --db-create --stdio </dev/null
[ "$RC" = 2 ] || bad "--db-create without --db: status $RC"

# a busy port: refused with the address and the reason, the first server keeps it
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
"$B/mcp-conformance-server" --listen "127.0.0.1:$PORT" --no-access-log --log-format json \
  2>"$TMP/first.err" &
PIDS+=($!)
for _ in $(seq 50); do grep -q "listening on" "$TMP/first.err" && break; sleep 0.1; done
grep -q "listening on" "$TMP/first.err" || bad "first server did not start: $(cat "$TMP/first.err")"
# --log-format json: every line is one JSON object; the development-mode warning is one of them
if jq -e . "$TMP/first.err" >/dev/null 2>&1; then :; else bad "--log-format json: not JSON: $(cat "$TMP/first.err")"; fi
w=$(jq -r 'select(.level=="warn" and .component=="auth") | .message' "$TMP/first.err")
[ "$w" = "no --auth: serving HTTP WITHOUT authentication (development mode: loopback only)" ] ||
  bad "no development-mode warning: $(cat "$TMP/first.err")"
run "$B/mcp-conformance-server" --log-level loud
[ "$RC" = 2 ] || bad "--log-level loud: exit $RC"
run "$B/mcp-conformance-server" --stdio --log-level error </dev/null
[ "$RC" = 0 ] && [ -z "$ERR" ] || bad "--log-level error still logged: $ERR"
run timeout 10 "$B/mcp-conformance-server" --listen "127.0.0.1:$PORT" --no-access-log
[ "$RC" = 1 ] || bad "second server on a busy port: status $RC (want 1)"
case $ERR in *"mcp-conformance-server: cannot listen on 127.0.0.1:$PORT: address already in use"*) ;;
  *) bad "busy port said: $ERR";; esac
# --reuse-port on both: the second one may share it
RP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
"$B/mcp-conformance-server" --listen "127.0.0.1:$RP" --reuse-port --no-access-log 2>"$TMP/r1.err" &
PIDS+=($!)
"$B/mcp-conformance-server" --listen "127.0.0.1:$RP" --reuse-port --no-access-log 2>"$TMP/r2.err" &
PIDS+=($!)
for _ in $(seq 50); do grep -q "listening on" "$TMP/r2.err" && grep -q "listening on" "$TMP/r1.err" && break; sleep 0.1; done
grep -q "listening on" "$TMP/r2.err" || bad "--reuse-port: second server did not start: $(cat "$TMP/r2.err")"

# the server's own run-time errors carry its name, not a bare "error:"
if grep -rn '"error: %s' "$SRC_ROOT/src/app" >/dev/null; then bad "src/app still prints a bare 'error:'"; fi

[ "$fail" = 0 ] && echo "ok: --help/--version, usage wording, exit statuses, missing files, busy port"
exit $fail
