#!/usr/bin/env bash
# Run the official client conformance suites against mcp-client's conformance mode.
#   scripts/conformance-client.sh [MCP_CLIENT_BINARY] [SHARED_DIR]
# Suites required to pass: core, auth, metadata, sep-835, backcompat, extensions ("all" holds
# every one of their scenarios); draft is run and reported but not required.
# A required suite passes only when the harness exits 0 AND its last line is exactly
# "N passed, 0 failed" with N the scenario count pinned below: "0 passed, 0 failed" (nothing
# ran), a run cut short by its timeout, or a suite that lost or gained scenarios all fail.
# When the pinned suite changes, update the counts here together with the harness.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/build/bin/mcp-client}
SHARED=${2:-$ROOT/../shared}
[ -x "$BIN" ] || { echo "client conformance: $BIN is not an executable" >&2; exit 1; }
declare -A WANT=([core]=18 [auth]=14 [metadata]=4 [sep-835]=5 [backcompat]=2 [extensions]=3
                 [all]=26)
# run SUITE: the suite's output goes to stderr (its tail), then prints "RC<TAB>LAST LINE"
run() {
  local suite=$1 out rc=0
  out=$(mktemp)
  RESULTS_DIR=$(mktemp -d) "$SHARED/conformance/run-client.sh" "$BIN conformance" --suite "$suite" \
    >"$out" 2>&1 || rc=$?
  tail -32 "$out" >&2
  printf '%s\t%s\n' "$rc" "$(tail -1 "$out")"
  rm -f "$out"
}
fail=0
for suite in core auth metadata sep-835 backcompat extensions all; do
  res=$(run "$suite")
  rc=${res%%$'\t'*}; last=${res#*$'\t'}
  want="${WANT[$suite]} passed, 0 failed"
  if [ "$rc" = 0 ] && [ "$last" = "$want" ]; then
    echo "client conformance [$suite]: $last"
  else
    echo "client conformance [$suite]: FAILED: exit $rc, last line \"$last\", want exit 0 and \"$want\"" >&2
    fail=1
  fi
done
res=$(run draft)
echo "client conformance [draft, informational]: exit ${res%%$'\t'*}, ${res#*$'\t'}"
exit $fail
