#!/usr/bin/env bash
# Issue 14: the README's "A server in C" example works exactly as printed. The C block is cut
# out of README.md, compiled with -Wall -Wextra -Werror against the build's headers and
# libmcp.a, started on a free port, and driven with mcp-client: tools/list shows echo and
# tools/call echo answers. Then the variant the README warns about (a tool that names a
# permission, no authentication): the start-up warning is printed, the tool is hidden and its
# call is refused with 403 (mcp-client exit 4).
set -euo pipefail
SRC_ROOT=${MCP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=$(cd "$MCP_BIN/.." && pwd)
TMP=$(mktemp -d)
PID=""
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill "$PID"; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# the first ```c block after "## A server in C"
awk '/^## A server in C/ {s=1} s && /^```c$/ {c=1; next} c && /^```$/ {exit} c {print}' \
  "$SRC_ROOT/README.md" >"$TMP/echo-server.c"
[ "$(grep -c 'mcp_server_listen_http' "$TMP/echo-server.c")" = 1 ] || { echo "FAIL: no example in README.md"; exit 1; }

san=""
if nm "$BUILD/lib/libmcp.a" 2>/dev/null | grep '__asan_report' >/dev/null; then san="-fsanitize=address,undefined"; fi
PCS=$(pkg-config --cflags --libs libmicrohttpd gnutls jansson openssl libcurl sqlite3 libpq)
build() { cc -std=c11 -Wall -Wextra -Werror $san -I"$SRC_ROOT/include" "$1" -o "$2" \
            "$BUILD/lib/libmcp.a" $PCS -lpthread -lm; }
build "$TMP/echo-server.c" "$TMP/echo-server"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
start() {  # start BINARY: sets PID, PORT; waits for "listening on"
  PORT=$(free_port)
  "$1" "$PORT" 2>"$TMP/server.err" &
  PID=$!
  for _ in $(seq 100); do grep -q "listening on" "$TMP/server.err" && return 0; sleep 0.05; done
  cat "$TMP/server.err"; echo "FAIL: $1 did not start"; exit 1
}
stop() { kill "$PID"; if wait "$PID"; then :; fi; PID=""; }
run() { set +e; "$@" >"$TMP/out" 2>"$TMP/err"; RC=$?; set -e; OUT=$(cat "$TMP/out"); ERR=$(cat "$TMP/err"); }

start "$TMP/echo-server"
URL="http://127.0.0.1:$PORT/mcp"
run "$MCP_BIN/mcp-client" --url "$URL" tools list
[ "$RC" = 0 ] || bad "tools list: exit $RC: $ERR"
case $OUT in *echo*) ;; *) bad "tools list does not show echo: $OUT";; esac
run "$MCP_BIN/mcp-client" --url "$URL" tools call echo text=hello
[ "$RC" = 0 ] || bad "tools call echo: exit $RC: $ERR"
[ "$OUT" = "echo: hello" ] || bad "tools call echo said: $OUT"
if grep -q "no authentication" "$TMP/server.err"; then bad "warning printed although nothing is gated"; fi
stop
grep -q "listening on http://127.0.0.1:$PORT/mcp" "$TMP/server.err" || bad "no listening line"

# the README's warning: a tool that names a permission, and nothing that authenticates
sed 's|\.access = { \.any_authenticated = true },|.access = { .any_of_perms = (const char *const[]){ "User.Read", NULL } },|' \
  "$TMP/echo-server.c" >"$TMP/gated.c"
if cmp -s "$TMP/echo-server.c" "$TMP/gated.c"; then echo "FAIL: could not make the gated variant"; exit 1; fi
build "$TMP/gated.c" "$TMP/gated"
start "$TMP/gated"
URL="http://127.0.0.1:$PORT/mcp"
grep -q "warn auth: no authentication: callers have no identity, so the 1 tool(s)/resource(s)/prompt(s) that require a permission are denied to every caller" "$TMP/server.err" ||
  bad "no start-up warning: $(cat "$TMP/server.err")"
run "$MCP_BIN/mcp-client" --url "$URL" tools list
[ "$RC" = 0 ] || bad "gated tools list: exit $RC"
case $OUT in *echo*) bad "gated echo listed to an anonymous caller";; esac
run "$MCP_BIN/mcp-client" --url "$URL" tools call echo text=hello
[ "$RC" = 4 ] || bad "gated tools call: exit $RC (want 4, forbidden): $ERR"
stop

[ "$fail" = 0 ] && echo "ok: the README example builds, lists and answers echo; the no-authentication warning is printed"
exit $fail
