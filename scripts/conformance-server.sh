#!/usr/bin/env bash
# Run the official server conformance suite (all 32 scenarios, pending ones included and counted)
# against a freshly started mcp-conformance-server on a free loopback port.
#   scripts/conformance-server.sh [SERVER_BINARY] [SHARED_DIR]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/build/bin/mcp-conformance-server}
SHARED=${2:-$ROOT/../shared}
log=$(mktemp)
"$BIN" --listen 127.0.0.1:0 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's#.*listening on http://127.0.0.1:\([0-9]*\)/mcp.*#\1#p' "$log" | head -1)
  [ -n "$port" ] && break
  kill -0 $pid 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "server did not start" >&2; cat "$log"; exit 1; }
out=$(mktemp)
"$SHARED/conformance/run-server.sh" "http://127.0.0.1:$port/mcp" --suite all 2>&1 | tee "$out" | tail -40
last=$(tail -1 "$out"); rm -f "$out"
kill -TERM $pid; wait $pid || { echo "server exited non-zero after SIGTERM" >&2; exit 1; }
trap - EXIT
if grep -q "ERROR: AddressSanitizer\|runtime error:" "$log"; then cat "$log"; exit 1; fi
rm -f "$log"
[ "$last" = "32 passed, 0 failed" ] || { echo "server conformance: $last" >&2; exit 1; }
echo "server conformance ($BIN): $last"
