# Helpers for tests/integration/products_*.sh (sourced, not run). mcp-products over real HTTP on
# 127.0.0.1; every process started here is stopped by the EXIT trap; every wait is bounded.
#
# Provides: TMP, DB, CATALOG, AUDIT, SECRET (HS256 key file), ISS;
#   start_products NAME ARGS...   start mcp-products (sets SRV_PID SRV_PORT SRV_URL SRV_PRM)
#   stop_products                 SIGTERM + wait
#   mint SUB [mcp-token mint args]  an HS256 JWT for SRV_URL's audience
#   rpc TOKEN SID JSON            POST; prints the HTTP status; headers in $TMP/hdrs, body in
#                                 $TMP/body (SSE answers are reduced to their JSON data line)
#   open_session TOKEN            initialize + notifications/initialized; prints the session id
#   hdr NAME                      a header of the last answer
#   tool_names                    sorted, comma-joined names of a tools/list answer in $TMP/body
#   audit_lines JQ-FILTER         audit lines matching a jq filter (after a flush wait)
#   wait_for DESC CMD..., status_is WANT TOKEN SID JSON
#   check DESC CMD..., eq DESC GOT WANT, summary

set -u

: "${MCP_BIN:?MCP_BIN must point at the build bin/ directory}"
for tool in mcp-products mcp-token mcp-admin; do
    [ -x "$MCP_BIN/$tool" ] || { echo "not built: $MCP_BIN/$tool" >&2; exit 1; }
done
for cmd in curl jq; do
    command -v "$cmd" >/dev/null || { echo "$cmd is required" >&2; exit 1; }
done

TMP=$(mktemp -d /tmp/mcp-products-it-XXXXXX)
DB="$TMP/mcp.db"
CATALOG="$TMP/products.db"
AUDIT="$TMP/audit.log"
SECRET="$TMP/hs.key"
ISS="https://issuer.products.test"
SRV_PID=""
pass=0
fails=0

cleanup() {
    [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null
    [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { pass=$((pass + 1)); }
bad() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}
check() {
    local what=$1
    shift
    if "$@"; then ok; else bad "$what"; fi
}
# eq DESCRIPTION GOT WANT
eq() {
    if [ "$2" == "$3" ]; then ok; else bad "$1: got [$2], want [$3]"; fi
}
has() { case "$1" in *"$2"*) return 0 ;; *) return 1 ;; esac; }
summary() {
    echo "$pass checks passed, $fails failed"
    [ "$fails" -eq 0 ]
}

A() { "$MCP_BIN/mcp-admin" --db "$DB" "$@"; }

"$MCP_BIN/mcp-token" keygen --alg HS256 --out "$TMP/hs" >/dev/null || exit 1

# start_products NAME ARGS...: on 127.0.0.1:0 (with the test's HS256 key and issuer when the
# arguments mention jwt); waits for the listening line.
start_products() {
    local name=$1 i port=""
    shift
    local jwt=()
    case " $* " in *jwt*) jwt=(--jwt-secret-file "$SECRET" --issuer "$ISS") ;; esac
    "$MCP_BIN/mcp-products" --listen 127.0.0.1:0 --db "$DB" --catalog "$CATALOG" \
        "${jwt[@]}" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    SRV_PID=$!
    for i in $(seq 1 100); do
        port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/mcp.*|\1|p' \
            "$TMP/$name.err" | head -n 1)
        [ -n "$port" ] && break
        if ! kill -0 "$SRV_PID" 2>/dev/null; then
            echo "mcp-products ($name) exited: $(cat "$TMP/$name.err")" >&2
            SRV_PID=""
            return 1
        fi
        sleep 0.1
    done
    [ -n "$port" ] || { echo "mcp-products ($name) did not start" >&2; return 1; }
    SRV_PORT=$port
    SRV_URL="http://127.0.0.1:$port/mcp"
    SRV_PRM="http://127.0.0.1:$port/.well-known/oauth-protected-resource/mcp"
    SRV_LOG="$TMP/$name.err"
}

stop_products() {
    if [ -n "$SRV_PID" ]; then
        kill "$SRV_PID" 2>/dev/null
        wait "$SRV_PID" 2>/dev/null
    fi
    SRV_PID=""
    return 0
}

# mint SUB [extra mcp-token mint args]: a 10-minute HS256 token for this server.
mint() {
    local sub=$1
    shift
    "$MCP_BIN/mcp-token" mint --secret-file "$SECRET" --sub "$sub" --iss "$ISS" \
        --aud "$SRV_URL" --ttl 600 "$@"
}

# rpc TOKEN SID JSON: TOKEN "" = no Authorization header, SID "" = no session header.
rpc() {
    local token=$1 sid=$2 body=$3 code
    local args=(-s -o "$TMP/raw" -D "$TMP/hdrs" -w '%{http_code}' --max-time 10
        -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
    [ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
    [ -n "$sid" ] && args+=(-H "Mcp-Session-Id: $sid")
    code=$(curl "${args[@]}" --data-binary "$body" "$SRV_URL")
    if grep -qi '^content-type: text/event-stream' "$TMP/hdrs"; then
        sed -n 's/^data: \(.*\)$/\1/p' "$TMP/raw" | grep -F '"id"' | tail -n 1 >"$TMP/body"
    else
        cp "$TMP/raw" "$TMP/body"
    fi
    echo "$code"
}

hdr() {
    grep -i "^$1:" "$TMP/hdrs" | head -n 1 | sed 's/^[^:]*: //' | tr -d '\r'
}

INIT='{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"products-it","version":"1"}}}'

# open_session TOKEN: prints the session id (empty on failure; the status is in $TMP/init.code).
open_session() {
    local code sid
    code=$(rpc "$1" "" "$INIT")
    echo "$code" >"$TMP/init.code"
    [ "$code" = 200 ] || return 0
    sid=$(hdr Mcp-Session-Id)
    rpc "$1" "$sid" '{"jsonrpc":"2.0","method":"notifications/initialized"}' >/dev/null
    echo "$sid"
}

tool_names() {
    jq -r '[.result.tools[].name] | sort | join(",")' "$TMP/body"
}

body() { cat "$TMP/body"; }

# call_json ID TOOL ARGS-JSON
call_json() {
    printf '{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":"%s","arguments":%s}}' \
        "$1" "$2" "$3"
}

# audit_lines JQ-FILTER: the matching lines of the audit log (compact JSON, one per line).
# The writer thread is asynchronous: wait (bounded) until at least one line matches.
audit_lines() {
    local i out=""
    for i in $(seq 1 50); do
        out=$(jq -c "select($1)" "$AUDIT" 2>/dev/null)
        [ -n "$out" ] && break
        sleep 0.1
    done
    printf '%s' "$out"
}

# wait_for DESC CMD...: retry CMD (a command or function, run anew each time) for up to 5 s.
wait_for() {
    local what=$1 i
    shift
    for i in $(seq 1 50); do
        if "$@"; then ok; return 0; fi
        sleep 0.1
    done
    bad "$what (timed out)"
    return 1
}

# status_is WANT TOKEN SID JSON: does a fresh POST answer WANT? (for wait_for)
status_is() {
    [ "$(rpc "$2" "$3" "$4")" = "$1" ]
}
