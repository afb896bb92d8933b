#!/usr/bin/env bash
# Run the official client conformance suites against mcp-client's conformance mode.
#   scripts/conformance-client.sh [MCP_CLIENT_BINARY] [SHARED_DIR]
# Suites required to pass: core, auth, metadata, sep-835, backcompat, extensions ("all" holds
# every one of their scenarios); draft is run and reported but not required.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/build/bin/mcp-client}
SHARED=${2:-$ROOT/../shared}
run() {
  local suite=$1 out
  out=$(mktemp)
  RESULTS_DIR=$(mktemp -d) "$SHARED/conformance/run-client.sh" "$BIN conformance" --suite "$suite" \
    2>&1 | tee "$out" | tail -32 >&2 || true
  tail -1 "$out"
  rm -f "$out"
}
fail=0
for suite in core auth metadata sep-835 backcompat extensions all; do
  last=$(run "$suite")
  echo "client conformance [$suite]: $last"
  case "$last" in *" passed, 0 failed") ;; *) fail=1 ;; esac
done
echo "client conformance [draft, informational]: $(run draft)"
exit $fail
