#!/usr/bin/env bash
# Faults: the SQLite user/key store becomes unusable under a running server (--auth apikey),
# then comes back. Each fault must answer 503 "credential or user store unavailable" (never
# 200 from a stale cache, never a hang past 15 s), and the server must serve again, without a
# restart, once the store is back:
#   - the file moved away (missing), then moved back;
#   - the file replaced by a copy (another inode: refused), then the original put back;
#   - readers locked out (a stuck process holds every WAL read-mark lock of the -shm file):
#     the lookup that finds it answers 503 within the store's read bound (read_timeout_ms,
#     500 ms; under 2 s here) instead of SQLite's ~10 s read retry, the ones right after it
#     answer 503 at once instead of queuing behind it;
#   - a writer holding the write lock: the server's reads go on (WAL), mcp-admin's write
#     fails with a clear error within its busy timeout instead of waiting for ever.
# Needs $MCP_BIN (set by CTest) and python3 (the lock holders).
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/auth_common.sh
. "$HERE/lib/auth_common.sh"
command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }

ADMIN="$MCP_BIN/mcp-admin"
DB="$TMP/store.db"
"$ADMIN" --db "$DB" role set caller tools:call >/dev/null 2>&1 || exit 1
"$ADMIN" --db "$DB" user add alice --role caller >/dev/null 2>&1 || exit 1
K1=$("$ADMIN" --db "$DB" key create --owner alice 2>/dev/null)
K2=$("$ADMIN" --db "$DB" key create --owner alice 2>/dev/null)
check "two API keys" test -n "$K1" -a -n "$K2"

start_server srv --stateless --auth apikey --db "$DB" --authn-fail-limit 0 || exit 1
U=$SRV_URL
expect_ok "store healthy: key 1 (now cached)" "$U" "$K1" -H "Authorization: Bearer $K1"

# expect_503 WHAT CRED [MAX_MS]: 503 with the store message and Retry-After, within MAX_MS
# (default 15 s)
expect_503() {
    local what=$1 cred=$2 max=${3:-15000} t0 t1 code ms ra
    t0=$(date +%s%N)
    code=$(post "$U" "$LIST" -H "Authorization: Bearer $cred")
    t1=$(date +%s%N)
    ms=$(( (t1 - t0) / 1000000 ))
    ra=$(header Retry-After)
    echo "$what: $code in $ms ms, Retry-After: $ra"
    if [ "$code" = 503 ] && grep -q '"credential or user store unavailable"' "$TMP/body" &&
        [ "$ms" -lt "$max" ] && [ "$ra" = 1 ]; then
        ok
    else
        bad "$what: want 503 with Retry-After: 1 within $max ms, got $code in $ms ms" \
            "(Retry-After: $ra): $(head -c 300 "$TMP/body")"
    fi
    no_echo "$cred" "$what"
}
back() {
    expect_ok "$1: cached key served again" "$U" "$K1" -H "Authorization: Bearer $K1"
    expect_ok "$1: uncached key served again" "$U" "$K2" -H "Authorization: Bearer $K2"
    # K2 is cached from here on; the next fault uses both again
}

# --- missing ---------------------------------------------------------------------------------
mv "$DB" "$DB.away"
sleep 1.1                                  # past the store's change check interval (1 s)
expect_503 "store moved away: cached key" "$K1"
expect_503 "store moved away: uncached key" "$K2"
mv "$DB.away" "$DB"
sleep 1.1
back "store moved back"

# --- replaced by another file (a restored backup is not the store we opened) --------------------
mv "$DB" "$DB.orig"
cp "$DB.orig" "$DB"
sleep 1.1
expect_503 "store replaced by a copy" "$K1"
rm -f "$DB"
mv "$DB.orig" "$DB"
sleep 1.1
back "original store back"

# --- readers locked out ----------------------------------------------------------------------
# SQLite WAL read transactions take a shared lock on one of the read-mark bytes 123..127 of the
# -shm file; a process holding all five exclusively keeps every reader out.
python3 - "$DB-shm" >"$TMP/lock.out" 2>&1 <<'EOF' &
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 5, 123, 0)
print("locked", flush=True)
time.sleep(60)
EOF
LOCK_PID=$!
PIDS+=("$LOCK_PID")
for _ in $(seq 1 50); do grep -q locked "$TMP/lock.out" && break; sleep 0.1; done
check "read-mark locks taken ($(cat "$TMP/lock.out"))" grep -q locked "$TMP/lock.out"
sleep 1.1
# the first lookup that meets the locks gives up after the store's read bound (500 ms), not
# SQLite's read retry (about 10 s); a bound, with room for a loaded machine
expect_503 "readers locked out: cached key" "$K1" 2000
# the store is now known to be failing, so lookups within the next change-check interval
# answer 503 at once instead of queuing
qpids=()
for n in 1 2 3; do
    curl -s -o "$TMP/q$n.body" -w '%{http_code} %{time_total}\n' --max-time 30 -X POST \
        -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
        -H "Authorization: Bearer $K2" --data "$LIST" "$U" >"$TMP/q$n.out" &
    qpids+=($!)
done
for p in "${qpids[@]}"; do wait "$p"; done
for n in 1 2 3; do
    read -r code secs <"$TMP/q$n.out"
    echo "readers locked out, concurrent lookup $n: $code in $secs s"
    check "concurrent lookup $n while failing: 503 at once (got $code in $secs s)" \
        awk -v c="$code" -v t="$secs" 'BEGIN { exit !(c == 503 && t < 1.0) }'
done
# mcp-admin is no request path: it waits its busy timeout (5 s) for the read lock, not the
# server's short bound, then says why
t0=$(date +%s%N)
if "$ADMIN" --db "$DB" user list >"$TMP/admin.out" 2>"$TMP/admin.err"; then
    bad "mcp-admin user list succeeded with readers locked out"
else
    check "mcp-admin says why ($(head -c 200 "$TMP/admin.err"))" test -s "$TMP/admin.err"
fi
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "mcp-admin user list with readers locked out: gave up after $ms ms"
check "mcp-admin waited its busy timeout, then gave up within 15 s ($ms ms)" \
    test "$ms" -ge 4500 -a "$ms" -lt 15000
kill "$LOCK_PID"
wait "$LOCK_PID" 2>/dev/null
sleep 1.1
back "read locks released"

# --- a writer holds the write lock --------------------------------------------------------------
python3 - "$DB" >"$TMP/wlock.out" 2>&1 <<'EOF' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
c.execute("INSERT INTO roles (name) VALUES ('held-by-a-stuck-writer')")
print("locked", flush=True)
time.sleep(60)
EOF
WLOCK_PID=$!
PIDS+=("$WLOCK_PID")
for _ in $(seq 1 50); do grep -q locked "$TMP/wlock.out" && break; sleep 0.1; done
check "write lock taken ($(cat "$TMP/wlock.out"))" grep -q locked "$TMP/wlock.out"
sleep 1.1
expect_ok "write-locked store: reads go on (WAL)" "$U" "$K1" -H "Authorization: Bearer $K1"
t0=$(date +%s)
if "$ADMIN" --db "$DB" user add bob >"$TMP/admin.out" 2>"$TMP/admin.err"; then
    bad "mcp-admin user add succeeded while another writer held the lock"
else
    check "mcp-admin names the lock ($(head -c 200 "$TMP/admin.err"))" \
        grep -qi 'locked\|busy' "$TMP/admin.err"
fi
check "mcp-admin gave up within 15 s" test $(( $(date +%s) - t0 )) -lt 15
kill "$WLOCK_PID"
wait "$WLOCK_PID" 2>/dev/null
check "mcp-admin writes once the lock is gone" "$ADMIN" --db "$DB" user add bob
check "the stuck writer's uncommitted row is not there" \
    test "$(sqlite3 "$DB" "SELECT count(*) FROM roles WHERE name = 'held-by-a-stuck-writer'")" = 0
check "store integrity" test "$(sqlite3 "$DB" 'PRAGMA integrity_check')" = ok
back "write lock released"

stop_server "$SRV_PID"
log_has_no_secret "$TMP/srv.err" "$K1" "$K2"
summary
