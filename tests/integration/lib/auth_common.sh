# Helpers for the authentication integration tests (sourced, not run; CTest only runs
# tests/integration/*.sh). Everything listens on 127.0.0.1; every process started here is
# stopped by the EXIT trap; every wait is bounded.
#
# Provides: TMP (scratch dir), start_server NAME ARGS... (sets SRV_PID SRV_PORT SRV_URL SRV_PRM),
# stop_server PID, post URL JSON CURL-ARGS... (prints the HTTP status; headers in $TMP/hdrs,
# body in $TMP/body), www (the WWW-Authenticate value of the last answer), expect_ok,
# expect_401, expect_status, check, summary.

set -u

: "${MCP_BIN:?MCP_BIN must point at the build bin/ directory}"
for tool in mcp-conformance-server mcp-token mcp-admin; do
    [ -x "$MCP_BIN/$tool" ] || { echo "not built: $MCP_BIN/$tool" >&2; exit 1; }
done
command -v curl >/dev/null || { echo "curl is required" >&2; exit 1; }

TMP=$(mktemp -d /tmp/mcp-auth-it-XXXXXX)
PIDS=()
pass=0
fails=0

cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

LIST='{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
CALL='{"jsonrpc":"2.0","id":2,"method":"tools/call",'
CALL+='"params":{"name":"echo","arguments":{"text":"hi"}}}'

ok() { pass=$((pass + 1)); }
bad() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}
# check DESCRIPTION COMMAND...: passes when COMMAND succeeds.
check() {
    local what=$1
    shift
    if "$@"; then ok; else bad "$what"; fi
}
has() { case "$1" in *"$2"*) return 0 ;; *) return 1 ;; esac; }

# start_server NAME ARGS...: mcp-conformance-server on 127.0.0.1:0; waits for its listening line.
start_server() {
    local name=$1 i port=""
    shift
    "$MCP_BIN/mcp-conformance-server" --listen 127.0.0.1:0 "$@" \
        >"$TMP/$name.out" 2>"$TMP/$name.err" &
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    for i in $(seq 1 100); do
        port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/mcp.*|\1|p' \
            "$TMP/$name.err" | head -n 1)
        [ -n "$port" ] && break
        if ! kill -0 "$SRV_PID" 2>/dev/null; then
            echo "server $name exited: $(cat "$TMP/$name.err")" >&2
            return 1
        fi
        sleep 0.1
    done
    [ -n "$port" ] || { echo "server $name did not start" >&2; return 1; }
    SRV_PORT=$port
    SRV_URL="http://127.0.0.1:$port/mcp"
    SRV_PRM="http://127.0.0.1:$port/.well-known/oauth-protected-resource/mcp"
}

stop_server() {
    kill "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    return 0
}

# post URL JSON CURL-ARGS...: prints the status code.
post() {
    local url=$1 body=$2
    shift 2
    : >"$TMP/hdrs"
    : >"$TMP/body"
    curl -s --max-time 15 -o "$TMP/body" -D "$TMP/hdrs" -w '%{http_code}' -X POST \
        -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
        -H 'MCP-Protocol-Version: 2025-11-25' "$@" --data "$body" "$url"
}

www() { sed -n 's/^[Ww][Ww][Ww]-[Aa]uthenticate: \(.*\)\r$/\1/p' "$TMP/hdrs"; }
header() { sed -n "s/^$1: \\(.*\\)\\r\$/\\1/Ip" "$TMP/hdrs" | head -n 1; }

# The credential must never come back, in headers or body.
no_echo() {
    local cred=$1 what=$2
    [ -n "$cred" ] || return 0
    if grep -qF -- "$cred" "$TMP/hdrs" "$TMP/body"; then
        bad "$what: the answer echoes the credential"
    else
        ok
    fi
}

# expect_ok WHAT URL CRED CURL-ARGS...: tools/list answers 200 with a result.
expect_ok() {
    local what=$1 url=$2 cred=$3 code
    shift 3
    code=$(post "$url" "$LIST" "$@")
    if [ "$code" = 200 ] && grep -q '"result"' "$TMP/body"; then
        ok
    else
        bad "$what: want 200, got $code [$(www)] $(head -c 300 "$TMP/body")"
    fi
    no_echo "$cred" "$what"
}

# expect_401 WHAT URL ERROR DESCRIPTION CRED CURL-ARGS...: 401 with exactly this challenge
# (PRM is the resource_metadata URL of that server, in $SRV_PRM_FOR or $SRV_PRM).
expect_401() {
    local what=$1 url=$2 error=$3 desc=$4 cred=$5 code got want
    shift 5
    local prm=${PRM_FOR:-${url%/mcp}/.well-known/oauth-protected-resource/mcp}
    code=$(post "$url" "$LIST" "$@")
    got=$(www)
    want="Bearer error=\"$error\", error_description=\"$desc\", resource_metadata=\"$prm\""
    # no credentials at all: no error information in the challenge (RFC 6750 section 3.1); the
    # check's name is in the JSON-RPC error only
    [ -z "$error" ] && want="Bearer resource_metadata=\"$prm\""
    if [ "$code" = 401 ] && [ "$got" = "$want" ] && grep -q '"code":-32001' "$TMP/body" &&
        grep -qF "\"message\":\"$desc\"" "$TMP/body"; then
        ok
    else
        bad "$what: want 401 [$want], got $code [$got] $(head -c 300 "$TMP/body")"
    fi
    no_echo "$cred" "$what"
}

# expect_status WHAT URL CODE CRED CURL-ARGS...
expect_status() {
    local what=$1 url=$2 want=$3 cred=$4 code
    shift 4
    code=$(post "$url" "$LIST" "$@")
    if [ "$code" = "$want" ]; then ok; else bad "$what: want $want, got $code [$(www)]"; fi
    no_echo "$cred" "$what"
}

# A server log must not contain any credential it was shown.
log_has_no_secret() {
    local log=$1 cred
    shift
    for cred in "$@"; do
        [ -n "$cred" ] || continue
        if grep -qF -- "$cred" "$log"; then
            bad "$(basename "$log") contains a credential"
        else
            ok
        fi
    done
}

summary() {
    echo "$pass passed, $fails failed"
    [ "$fails" -eq 0 ]
}
