#!/usr/bin/env bash
# The teaching examples (issue 14), built by CMake and run here against local servers:
#  - examples/example-sampling: ask_model asks the client's model (sampling), delete_item asks
#    the user to confirm (elicitation); a client without those capabilities is refused.
#  - examples/example-client: lists tools and calls one, answering sampling and elicitation;
#    against mcp-conformance-server with an API key from $MCP_TOKEN, and refused without it.
# Needs $MCP_BIN (set by CTest). Loopback only, bounded waits.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/auth_common.sh
. "$HERE/lib/auth_common.sh"
for t in example-client example-sampling; do
    [ -x "$MCP_BIN/$t" ] || { echo "not built: $MCP_BIN/$t" >&2; exit 1; }
done
EC=$MCP_BIN/example-client
run() { OUT=$("$@" 2>"$TMP/stderr"); RC=$?; ERR=$(cat "$TMP/stderr"); }

# --- example-sampling driven by example-client --------------------------------------------------
"$MCP_BIN/example-sampling" --listen 127.0.0.1:0 >"$TMP/samp.out" 2>"$TMP/samp.err" &
SPID=$!
PIDS+=("$SPID")
SU=""
for _ in $(seq 1 100); do
    SU=$(sed -n 's|.*listening on \(http://127\.0\.0\.1:[0-9]*/mcp\).*|\1|p' "$TMP/samp.err" | head -n 1)
    [ -n "$SU" ] && break
    sleep 0.1
done
check "example-sampling starts ($(tail -2 "$TMP/samp.err"))" test -n "$SU"
run "$EC" "$SU" ask_model '{"question":"why is the sky blue?"}'
check "ask_model: exit 0 ($RC: $ERR)" test "$RC" = 0
check "ask_model: the tools are listed" has "$OUT" $'tool: ask_model\ntool: delete_item'
check "ask_model: the model's answer came back through sampling ($OUT)" \
    has "$OUT" "model says: (example model) you asked: why is the sky blue?"
run "$EC" "$SU" delete_item '{"item":"report-7"}'
check "delete_item: confirmed through elicitation ($OUT)" has "$OUT" "deleted report-7 (reason: cleanup)"
run "$MCP_BIN/mcp-client" --url "$SU" tools call ask_model question=hi
check "a client without the sampling capability is refused (exit $RC)" test "$RC" = 1
check "... and told why ($ERR)" has "$ERR" "Missing required client capability for sampling/createMessage"
run "$MCP_BIN/mcp-client" --protocol 2025-11-25 --url "$SU" tools call delete_item item=x
check "2025 session without elicitation: refused (exit $RC: $ERR)" test "$RC" = 1
check "... and told why ($ERR)" has "$ERR" "did not declare the capability elicitation/create needs"
run "$EC" "$SU" delete_item '{"wrong":1}'
check "bad arguments: exit 1 ($RC)" test "$RC" = 1
stop_server "$SPID"

# --- example-client against an authenticated server ---------------------------------------------
"$MCP_BIN/mcp-admin" --db "$TMP/s.db" init >/dev/null || exit 1
"$MCP_BIN/mcp-admin" --db "$TMP/s.db" user add alice >/dev/null || exit 1
KEY=$("$MCP_BIN/mcp-admin" --db "$TMP/s.db" --json key create --owner alice | sed -n 's/.*"key":"\(mcp_[^"]*\)".*/\1/p')
check "an API key" test -n "$KEY"
start_server conf --auth apikey --db "$TMP/s.db" || exit 1
OUT=$(MCP_TOKEN=$KEY "$EC" "$SRV_URL" echo '{"text":"hello from C"}' 2>"$TMP/stderr")
RC=$?
check "echo with \$MCP_TOKEN: exit 0 ($RC: $(cat "$TMP/stderr"))" test "$RC" = 0
check "echo answered ($OUT)" has "$OUT" "hello from C"
check "server name printed" has "$OUT" "server: mcp-conformance-server"
run env -u MCP_TOKEN "$EC" "$SRV_URL"
check "no token: exit 1 ($RC)" test "$RC" = 1
check "no token: the reason ($ERR)" has "$ERR" "example-client: "
stop_server "$SRV_PID"
log_has_no_secret "$TMP/conf.err" "$KEY"

run "$EC"
check "no URL: usage (exit $RC)" test "$RC" = 2
run "$EC" http://127.0.0.1:1/mcp echo '{not json'
check "bad JSON-ARGS: usage (exit $RC)" test "$RC" = 2
summary
