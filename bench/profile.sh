#!/usr/bin/env bash
# Where does a request's time go? Profile one config of our server under the bench load.
#
#   bench/profile.sh [callgrind|perf|stat]      (default: callgrind)
#
#   callgrind  valgrind --tool=callgrind; counters zeroed once the server is ready, then
#              wrk -t1 -c1 for DURATION; prints instructions (Ir) per request, Ir per shared
#              object, and the inclusive Ir per request of the server's own functions.
#              Deterministic, so it can compare two builds on a noisy machine. Caveat: valgrind
#              counts every iteration of a `rep stosb/movsb` as one instruction, so large
#              memset/memcpy (libmicrohttpd zeroing its per-connection pool) look far more
#              expensive than they are in time.
#   perf       perf record (cpu-clock, DWARF call graphs) during wrk -t$THREADS -c$CONNS; prints
#              time per shared object and the inclusive share of the server's own functions.
#   stat       perf stat (task-clock, context switches, migrations, faults) of the server during
#              the load, plus server CPU microseconds per request.
#
# Env knobs (defaults): SERVER_ARGS='--stateless --no-access-log'  DURATION=10s THREADS=2 CONNS=50
#   PORT=18580  PROF_BUILD_DIR=<repo>/build-bench-prof (Release + -g -fno-omit-frame-pointer)
#   SERVER_BIN=mcp-conformance-server (another binary of PROF_BUILD_DIR/bin, e.g. mcp-products)
#   PROTOCOL, TOKEN, TOOL, ARGS, EXPECT, METHOD...: passed to the wrk script as they are
#   BUILD=1  SESSION=1 when SERVER_ARGS has no --stateless (initialize first; automatic)
#   LUA=<the TS peer's tools_call.lua, as bench/run.sh uses>  TOP=25 (rows per listing)
# Output goes to stdout; raw data in /tmp/mcp-profile.* (removed on exit unless KEEP=1).
set -euo pipefail

MODE=${1:-callgrind}
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
SERVER_ARGS=${SERVER_ARGS:-'--stateless --no-access-log'}
DURATION=${DURATION:-10s}; THREADS=${THREADS:-2}; CONNS=${CONNS:-50}; PORT=${PORT:-18580}
PROF_BUILD_DIR=${PROF_BUILD_DIR:-$REPO/build-bench-prof}; BUILD=${BUILD:-1}; TOP=${TOP:-25}
PEER_HOME=${PEER_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-peer-ts-sdk}
LUA=${LUA:-$PEER_HOME/ts-sdk/tools_call.lua}
SERVER_BIN=${SERVER_BIN:-mcp-conformance-server}
SRV=$PROF_BUILD_DIR/bin/$SERVER_BIN
URL=http://127.0.0.1:$PORT/mcp

case $MODE in callgrind|perf|stat) ;; *) echo "usage: profile.sh [callgrind|perf|stat]" >&2; exit 2 ;; esac
[[ -f $LUA ]] || { echo "no $LUA: run bench/run.sh once (it sets up the TS peer copy)" >&2; exit 1; }
for t in wrk curl; do command -v $t >/dev/null || { echo "$t missing (bench/run.sh installs it)" >&2; exit 1; }; done
if [[ $MODE == callgrind ]]; then
  command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
else
  command -v perf >/dev/null || { echo "perf missing: apt-get install linux-perf" >&2; exit 1; }
fi

if [[ $BUILD == 1 ]]; then
  cmake -S "$REPO" -B "$PROF_BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DMCP_WERROR=OFF \
    -DCMAKE_C_FLAGS='-g -fno-omit-frame-pointer' >"$PROF_BUILD_DIR.log" 2>&1 ||
    { echo "cmake failed: $PROF_BUILD_DIR.log" >&2; exit 1; }
  cmake --build "$PROF_BUILD_DIR" -j2 --target "$SERVER_BIN" >>"$PROF_BUILD_DIR.log" 2>&1 ||
    { echo "build failed: $PROF_BUILD_DIR.log" >&2; exit 1; }
fi

TMP=$(mktemp -d /tmp/mcp-profile.XXXXXX)
PID=""
cleanup() {
  [[ -n $PID ]] && { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
  [[ ${KEEP:-0} == 1 ]] && echo "raw data kept in $TMP" >&2 || rm -rf "$TMP"
}
trap cleanup EXIT

HDRS=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream'
      -H 'MCP-Protocol-Version: 2025-06-18')
wait_ready() {
  local i
  for ((i = 0; i < 200; i++)); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' -X POST "${HDRS[@]}" -d '{}' "$URL" || true) != 000 ]] && return 0
    sleep 0.1
  done
  echo "server did not start" >&2; return 1
}
session() { # stateful servers: initialize, export SESSION for the wrk script
  export SESSION=""
  [[ " $SERVER_ARGS " == *" --stateless "* ]] && return 0
  SESSION=$(curl -s -D - -o /dev/null "${HDRS[@]}" -d '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"profile","version":"1"}}}' "$URL" |
    tr -d '\r' | awk -F': ' 'tolower($1) == "mcp-session-id" { print $2 }')
  curl -s -o /dev/null "${HDRS[@]}" -H "Mcp-Session-Id: $SESSION" -d '{"jsonrpc":"2.0","method":"notifications/initialized"}' "$URL"
}
requests_of() { sed -n 's/^RESULT.* requests=\([0-9]*\).*/\1/p' "$1"; }

echo "# profile.sh $MODE: $SRV $SERVER_ARGS ($(git -C "$REPO" rev-parse --short HEAD 2>/dev/null))"
case $MODE in
  callgrind)
    # shellcheck disable=SC2086
    valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.out" "$SRV" --listen "127.0.0.1:$PORT" $SERVER_ARGS 2>"$TMP/server.log" &
    PID=$!
    wait_ready; session
    callgrind_control -z "$PID" >/dev/null
    wrk -t1 -c1 -d"$DURATION" -s "$LUA" "$URL" >"$TMP/wrk.txt"
    callgrind_control -d "$PID" >/dev/null
    kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
    n=$(requests_of "$TMP/wrk.txt"); f=$(ls "$TMP"/cg.out.* | head -1)
    callgrind_annotate --auto=no --inclusive=yes --threshold=100 "$f" >"$TMP/incl.txt" 2>/dev/null
    callgrind_annotate --auto=no --threshold=100 "$f" >"$TMP/self.txt" 2>/dev/null
    total=$(awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }' "$TMP/incl.txt")
    echo "requests under callgrind: $n   total Ir: $total   Ir per request: $((total / n))"
    echo
    # rows look like "  12,345 ( 1.23%)  file:function [object]"; the thread entry points
    # (clone, start_thread) carry everything inclusively even in the self listing: skip them
    body() { grep -E '^ *[0-9,]+ ' "$1" | grep -v 'PROGRAM TOTALS\|clone.S\|pthread_create.c'; }
    echo "## self Ir per request, by shared object"
    body "$TMP/self.txt" | awk -v n="$n" -v t="$total" '{
        ir = $1; gsub(",", "", ir); o = $NF; gsub(/[][]/, "", o); sub(/.*\//, "", o)
        if ($NF !~ /^\[/) o = "libc.so.6"      # glibc-internal inlined frames carry no object
        s[o] += ir }
      END { for (o in s) printf "%10.0f  %5.1f%%  %s\n", s[o] / n, 100 * s[o] / t, o }' | sort -rn | head -8 || true
    echo
    echo "## top self Ir per request (functions)"
    body "$TMP/self.txt" | awk -v n="$n" '{ ir = $1; gsub(",", "", ir); sub(/^ *[0-9,]+ +\( *[0-9.]+%\) +/, "");
        printf "%10.0f  %s\n", ir / n, $0 }' | head -"$TOP" || true
    echo
    echo "## inclusive Ir per request, the server's own functions"
    body "$TMP/incl.txt" | awk -v n="$n" -v b="/$(basename "$SRV")]" 'index($0, b) {
        ir = $1; gsub(",", "", ir); sub(/^ *[0-9,]+ +\( *[0-9.]+%\) +/, ""); sub(/ \[.*\]$/, "");
        printf "%10.0f  %s\n", ir / n, $0 }' | head -"$TOP" || true
    ;;
  perf)
    # shellcheck disable=SC2086
    "$SRV" --listen "127.0.0.1:$PORT" $SERVER_ARGS 2>"$TMP/server.log" &
    PID=$!
    wait_ready; session
    wrk -t"$THREADS" -c"$CONNS" -d2s -s "$LUA" "$URL" >/dev/null
    secs=${DURATION%s}
    perf record -q -e cpu-clock -F 999 --call-graph dwarf,16384 -p "$PID" -o "$TMP/perf.data" -- sleep "$secs" >/dev/null 2>&1 &
    rec=$!
    wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s "$LUA" "$URL" >"$TMP/wrk.txt"
    wait "$rec" || true
    grep '^RESULT' "$TMP/wrk.txt"
    echo
    echo "## server CPU time by shared object"
    perf report -i "$TMP/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null | grep '%' | head -8 || true
    echo
    echo "## top symbols (self)"
    perf report -i "$TMP/perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null | grep '%' | head -"$TOP" || true
    echo
    echo "## the server's own functions (inclusive, children)"
    perf report -i "$TMP/perf.data" --children --sort sym --stdio -g none --dsos "$(basename "$SRV")" 2>/dev/null |
      grep '%' | head -"$TOP" || true
    ;;
  stat)
    # shellcheck disable=SC2086
    "$SRV" --listen "127.0.0.1:$PORT" $SERVER_ARGS 2>"$TMP/server.log" &
    PID=$!
    wait_ready; session
    wrk -t"$THREADS" -c"$CONNS" -d2s -s "$LUA" "$URL" >/dev/null
    j0=$(awk '{ print $14 + $15 }' "/proc/$PID/stat")
    secs=${DURATION%s}
    perf stat -e task-clock,context-switches,cpu-migrations,page-faults -p "$PID" -- sleep "$secs" 2>"$TMP/stat.txt" &
    st=$!
    wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s "$LUA" "$URL" >"$TMP/wrk.txt"
    wait "$st" || true
    j1=$(awk '{ print $14 + $15 }' "/proc/$PID/stat")
    grep '^RESULT' "$TMP/wrk.txt"
    grep -E 'task-clock|context-switches|cpu-migrations|page-faults' "$TMP/stat.txt"
    n=$(requests_of "$TMP/wrk.txt")
    awk -v j=$((j1 - j0)) -v n="$n" -v hz="$(getconf CLK_TCK)" \
      'BEGIN { printf "server CPU per request: %.1f us (utime+stime over %d requests)\n", j / hz * 1e6 / n, n }'
    ;;
esac
