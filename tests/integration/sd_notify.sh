#!/usr/bin/env bash
# Issue 14: systemd readiness. With $NOTIFY_SOCKET set (a path, or "@name" in the abstract
# namespace) a server program sends READY=1 (with its address and MAINPID) once HTTP listens,
# and STOPPING=1 when SIGTERM stops it; without the variable nothing is sent and it still runs.
# The example unit (examples/systemd/mcp-products.service) passes systemd-analyze verify.
set -euo pipefail
SRC_ROOT=${MCP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
B=$MCP_BIN
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do if kill -0 "$p" 2>/dev/null; then kill "$p"; fi; done
  rm -rf "$TMP"
}
trap cleanup EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# listen ADDR OUT: a datagram socket at ADDR ("@x" = abstract); each message becomes a line of
# OUT (newlines shown as "|"); prints "bound" when ready, stops after 2 messages or 20 s
listen() {
  python3 - "$1" "$2" <<'PY' &
import socket, sys
addr, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
s.settimeout(20)
open(out + ".bound", "w").close()
with open(out, "a") as f:
    for _ in range(2):
        try:
            m = s.recv(4096).decode()
        except socket.timeout:
            break
        f.write(m.replace("\n", "|") + "\n")
        f.flush()
PY
  PIDS+=($!)
  for _ in $(seq 100); do [ -e "$2.bound" ] && return 0; sleep 0.05; done
  echo "FAIL: notify listener did not start"; exit 1
}

check_addr() {  # check_addr NOTIFY_SOCKET-VALUE LABEL
  local out="$TMP/$2.msgs"
  listen "$1" "$out"
  NOTIFY_SOCKET=$1 "$B/mcp-conformance-server" --listen 127.0.0.1:0 --no-access-log 2>"$TMP/$2.err" &
  local pid=$!
  PIDS+=($pid)
  for _ in $(seq 100); do [ -s "$out" ] && break; sleep 0.05; done
  grep -q "listening on" "$TMP/$2.err" || bad "$2: server not listening: $(cat "$TMP/$2.err")"
  local port
  port=$(sed -n 's#.*listening on http://127.0.0.1:\([0-9]*\)/mcp.*#\1#p' "$TMP/$2.err")
  [ "$(head -1 "$out")" = "READY=1|STATUS=serving on 127.0.0.1:$port|MAINPID=$pid" ] ||
    bad "$2: first message: $(head -1 "$out")"
  kill -TERM "$pid"
  if wait "$pid"; then :; else bad "$2: exit status $? after SIGTERM"; fi
  for _ in $(seq 100); do [ "$(wc -l <"$out")" -ge 2 ] && break; sleep 0.05; done
  [ "$(sed -n 2p "$out")" = "STOPPING=1" ] || bad "$2: second message: $(sed -n 2p "$out")"
}
check_addr "$TMP/notify.sock" path
check_addr "@libmcp-test-$$" abstract

# no variable: runs, sends nothing (the listener sees no message)
listen "$TMP/quiet.sock" "$TMP/quiet.msgs"
env -u NOTIFY_SOCKET "$B/mcp-conformance-server" --listen 127.0.0.1:0 --no-access-log 2>"$TMP/q.err" &
pid=$!
PIDS+=($pid)
for _ in $(seq 100); do grep -q "listening on" "$TMP/q.err" && break; sleep 0.05; done
sleep 0.3
kill -TERM "$pid"
if wait "$pid"; then :; else bad "quiet server exit status"; fi
[ ! -s "$TMP/quiet.msgs" ] || bad "a message without NOTIFY_SOCKET: $(cat "$TMP/quiet.msgs")"

# the example unit
if command -v systemd-analyze >/dev/null; then
  sed "s|/usr/bin/mcp-products|$B/mcp-products|" "$SRC_ROOT/examples/systemd/mcp-products.service" \
    >"$TMP/mcp-products.service"
  if systemd-analyze verify "$TMP/mcp-products.service" >"$TMP/verify.log" 2>&1; then :; else
    bad "systemd-analyze verify: $(cat "$TMP/verify.log")"
  fi
  if grep -i "mcp-products.service" "$TMP/verify.log" >/dev/null; then bad "verify warnings: $(cat "$TMP/verify.log")"; fi
elif [ "${MCP_CI:-0}" = 1 ]; then
  bad "systemd-analyze missing (scripts/deps.sh installs systemd)"
else
  echo "note: systemd-analyze not installed; unit file not verified"
fi

[ "$fail" = 0 ] && echo "ok: READY=1 and STOPPING=1 to \$NOTIFY_SOCKET (path and abstract), nothing without it; unit verifies"
exit $fail
