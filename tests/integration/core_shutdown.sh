#!/usr/bin/env bash
# Graceful shutdown: SIGTERM lets an in-flight request finish, then the server exits 0;
# new connections are refused while it waits for a handler (lib/shutdown_probe.py); a SIGTERM
# right after the listening line is a graceful stop too (lib/sigterm_at_ready.py).
set -euo pipefail
BIN=$MCP_BIN/mcp-conformance-server
log=$(mktemp); out=$(mktemp)
"$BIN" --listen 127.0.0.1:0 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log" "$out"' EXIT
for _ in $(seq 1 100); do
  port=$(sed -n 's#.*listening on http://127.0.0.1:\([0-9]*\)/mcp.*#\1#p' "$log" | head -1)
  [ -n "${port:-}" ] && break; sleep 0.05
done
url="http://127.0.0.1:$port/mcp"
H=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
sid=$(curl -s -D - -o /dev/null "${H[@]}" -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}' "$url" | tr -d '\r' | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p')
[ -n "$sid" ]
# test_tool_with_logging takes ~100 ms; start it, then SIGTERM while it runs
curl -s -N -m 10 "${H[@]}" -H "Mcp-Session-Id: $sid" -d '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"test_tool_with_logging","arguments":{}}}' "$url" >"$out" &
cpid=$!
# SIGTERM once the handler is known to be running: its first log line has arrived
for _ in $(seq 1 200); do grep -q 'Tool execution started' "$out" && break; sleep 0.01; done
grep -q 'Tool execution started' "$out" || { echo "handler never started"; exit 1; }
kill -TERM $pid
wait $cpid
grep -q 'Tool with logging executed successfully' "$out" || { echo "in-flight request was cut off:"; cat "$out"; exit 1; }
rc=0; wait $pid || rc=$?
[ "$rc" = 0 ] || { echo "server exit status $rc"; cat "$log"; exit 1; }
grep -q 'shutting down' "$log"
echo "ok: graceful shutdown"
# New connections during the grace period: a sampling handler holds the server there (until
# the probe answers it over the session's open connection); a new connection must not be served.
python3 "$(dirname "$0")/lib/shutdown_probe.py" "$BIN"
# SIGTERM the moment the listening line is out: handled (graceful exit 0), not fatal
python3 "$(dirname "$0")/lib/sigterm_at_ready.py" "$BIN" 40
