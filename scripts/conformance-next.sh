#!/usr/bin/env bash
# The next official conformance suite (../shared/conformance-next, pinned 0.2.0-alpha.12) with
# exactly what a protocol revision requires, frozen at its release (--requirements): the server
# (mcp-conformance-server on a free loopback port) at 2025-11-25 and at 2026-07-28 (both eras on
# one endpoint), and the client (mcp-client's conformance mode) at 2025-11-25 and at 2026-07-28.
#   scripts/conformance-next.sh [SERVER_BINARY] [CLIENT_BINARY] [SHARED_DIR]
# Each side passes only when the harness exits 0 and its last line is exactly the pinned count
# (the harness counts a required scenario that did not run as failed; the count pins the set).
# Extension scenarios the suite runs but does not score are shown and not counted.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SRV=${1:-$ROOT/build/bin/mcp-conformance-server}
CLI=${2:-$ROOT/build/bin/mcp-client}
SHARED=${3:-$ROOT/../shared}
REV=2025-11-25
WANT_SERVER="30 passed, 0 failed"
REV_2026=2026-07-28
WANT_SERVER_2026="37 passed, 0 failed"
WANT_CLIENT="18 passed, 0 failed"
WANT_CLIENT_2026="32 passed, 0 failed"
NEXT=$SHARED/conformance-next
for b in "$SRV" "$CLI"; do [ -x "$b" ] || { echo "conformance-next: $b is not an executable" >&2; exit 1; }; done
log=$(mktemp); out=$(mktemp)
pid=""
cleanup() { [ -z "$pid" ] || { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }; rm -f "$log" "$out"; }
trap cleanup EXIT
fail=0
verdict() {   # verdict SIDE RC WANT: checks the harness exit code and the last line of $out
  local last; last=$(tail -1 "$out")
  if [ "$2" = 0 ] && [ "$last" = "$3" ]; then
    echo "conformance-next [$REV, $1]: $last"
  else
    echo "conformance-next [$REV, $1]: FAILED: exit $2, last line \"$last\", want exit 0 and \"$3\"" >&2
    fail=1
  fi
}

server_run() {   # server_run REV WANT: a fresh server, the suite at REV, the pinned count
  REV=$1
  "$SRV" --listen 127.0.0.1:0 2>"$log" &
  pid=$!
  port=""
  for _ in $(seq 1 100); do
    port=$(sed -n 's#.*listening on http://127.0.0.1:\([0-9]*\)/mcp.*#\1#p' "$log" | head -1)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$port" ] || { echo "server did not start" >&2; cat "$log" >&2; exit 1; }
  rc=0
  RESULTS_DIR=$(mktemp -d) "$NEXT/run-server.sh" "http://127.0.0.1:$port/mcp" --requirements "$REV" \
    >"$out" 2>&1 || rc=$?
  tail -45 "$out"
  verdict server "$rc" "$2"
  kill -TERM "$pid"
  src=0; wait "$pid" || src=$?
  pid=""
  [ "$src" = 0 ] || { echo "conformance-next: server exited $src after SIGTERM" >&2; fail=1; }
  if grep -q "ERROR: AddressSanitizer\|runtime error:" "$log"; then cat "$log" >&2; fail=1; fi
}
server_run 2025-11-25 "$WANT_SERVER"
server_run "$REV_2026" "$WANT_SERVER_2026"
REV=2025-11-25

rc=0
RESULTS_DIR=$(mktemp -d) "$NEXT/run-client.sh" "$CLI conformance" --requirements "$REV" \
  >"$out" 2>&1 || rc=$?
tail -25 "$out"
verdict client "$rc" "$WANT_CLIENT"

# The client at 2026-07-28 too (server/discover, per-request _meta, SEP-2243 headers, MRTR).
REV=2026-07-28
rc=0
RESULTS_DIR=$(mktemp -d) "$NEXT/run-client.sh" "$CLI conformance" --requirements "$REV" \
  >"$out" 2>&1 || rc=$?
tail -40 "$out"
verdict client "$rc" "$WANT_CLIENT_2026"
# Extension scenarios (shown, not counted by the harness) the client must pass all the same.
for x in auth/dpop auth/dpop-nonce auth/wif-jwt-bearer auth/client-credentials-jwt \
         auth/client-credentials-basic auth/enterprise-managed-authorization; do
  if ! grep -Eq "^PASS +$x " "$out"; then
    echo "conformance-next [$REV, client]: FAILED: extension scenario $x did not pass" >&2
    fail=1
  fi
done
exit $fail
