# Helpers for tests/integration/client_*.sh (sourced, not run; CTest only runs
# tests/integration/*.sh). Every process a test adds to PIDS is stopped by the EXIT trap.
#
# Set before sourcing: CLIENT_IT_TMP (mktemp template for the scratch directory),
# CLIENT_IT_TOOLS (the programs in $MCP_BIN the test needs), CLIENT_IT_TIMEOUT (seconds one
# mcp-client run may take).
# Provides: TMP, PIDS, ok, bad, eq DESC GOT WANT, has DESC TEXT PART (each counts a check),
# run ARGS... (mcp-client; stdout -> $OUT, stderr -> $ERR, status -> $RC), listen_port FILE,
# summary.

set -u
: "${MCP_BIN:?MCP_BIN must point at the build bin/ directory}"
for t in $CLIENT_IT_TOOLS; do
    [ -x "$MCP_BIN/$t" ] || { echo "not built: $MCP_BIN/$t" >&2; exit 1; }
done

TMP=$(mktemp -d "$CLIENT_IT_TMP")
PIDS=()
pass=0
fails=0
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
eq() { if [ "$2" == "$3" ]; then ok; else bad "$1: got [$2], want [$3]"; fi; }
has() { case "$2" in *"$3"*) ok ;; *) bad "$1: [$2] lacks [$3]" ;; esac; }

run() {
    timeout "$CLIENT_IT_TIMEOUT" "$MCP_BIN/mcp-client" "$@" >"$TMP/out" 2>"$TMP/err"
    RC=$?
    OUT=$(cat "$TMP/out")
    ERR=$(cat "$TMP/err")
}

# listen_port FILE: the port a server announced in FILE ("listening on http://127.0.0.1:N/mcp"),
# waiting up to 10 s; prints nothing when it did not.
listen_port() {
    local i port=""
    for i in $(seq 1 100); do
        port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/mcp.*|\1|p' "$1" |
            head -n 1)
        [ -n "$port" ] && break
        sleep 0.1
    done
    echo "$port"
}

summary() {
    echo "$pass checks passed, $fails failed"
    [ "$fails" -eq 0 ]
}
