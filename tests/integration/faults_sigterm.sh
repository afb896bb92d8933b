#!/usr/bin/env bash
# Faults: SIGTERM under load with slow handlers (lib/sigterm_load.py): 8 clients looping over
# ~100 ms tools, two handlers held past the 10 s grace period waiting for a sampling answer.
# Every request is answered (200 with its JSON-RPC response, the held ones with an error once
# the grace period is over) or refused cleanly (connection refused at once), the server exits
# 0 within the grace period plus 5 s. Needs $MCP_BIN (set by CTest) and python3.
set -euo pipefail
command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if python3 "$(dirname "$0")/lib/sigterm_load.py" "$MCP_BIN/mcp-conformance-server" "$log"; then
    exit 0
fi
echo "server log (tail):"
tail -n 20 "$log"
exit 1
