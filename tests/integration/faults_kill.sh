#!/usr/bin/env bash
# Faults: kill -9 during writes, then the data must be intact.
#   mcp-admin: 60 `user add` runs, each killed with SIGKILL after 0-40 ms (so some finish, some
#     die before, during or after their transaction). Every run that exited 0 left its user, a
#     user is there with all of its role grants or not at all, PRAGMA integrity_check says ok,
#     and the store still takes writes.
#   mcp-products: 3 rounds of 4 concurrent clients creating products over HTTP (API key), the
#     server killed with SIGKILL after 1.5 s of load. Every product whose create was answered
#     200 is in the catalog, the catalog and the store pass PRAGMA integrity_check, and the
#     server starts again on the same files and serves reads and writes.
# Needs $MCP_BIN (set by CTest), sqlite3, curl and jq.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/products_common.sh
. "$HERE/lib/products_common.sh"
command -v sqlite3 >/dev/null || { echo "sqlite3 is required" >&2; exit 1; }

# --- mcp-admin --------------------------------------------------------------------------------
A role set r1 Extra.One >/dev/null 2>&1 || exit 1
A role set r2 Extra.Two >/dev/null 2>&1 || exit 1
: >"$TMP/admin.acked"
killed=0
done_ok=0
for i in $(seq 1 60); do
    "$MCP_BIN/mcp-admin" --db "$DB" user add "k$i" --role r1 --role r2 >/dev/null 2>&1 &
    p=$!
    sleep "0.0$(printf '%02d' $((RANDOM % 40)))"
    kill -KILL "$p" 2>/dev/null              # p is our unwaited child: the id cannot be reused
    rc=0
    { wait "$p"; } 2>/dev/null || rc=$?       # (no "Killed" job notice)
    if [ "$rc" = 0 ]; then
        echo "k$i" >>"$TMP/admin.acked"
        done_ok=$((done_ok + 1))
    elif [ "$rc" = 137 ]; then
        killed=$((killed + 1))
    else
        bad "mcp-admin user add k$i exited $rc"
    fi
done
echo "mcp-admin: $done_ok runs finished, $killed killed"
check "some mcp-admin runs were killed ($killed)" test "$killed" -gt 0
check "some mcp-admin runs finished ($done_ok)" test "$done_ok" -gt 0
check "store integrity after kill -9 of mcp-admin" \
    test "$(sqlite3 "$DB" 'PRAGMA integrity_check')" = ok
lost=0
while read -r u; do
    [ "$(sqlite3 "$DB" "SELECT count(*) FROM users WHERE subject = '$u'")" = 1 ] ||
        lost=$((lost + 1))
done <"$TMP/admin.acked"
check "no acknowledged user lost ($lost of $done_ok)" test "$lost" = 0
partial=$(sqlite3 "$DB" "SELECT count(*) FROM users u WHERE subject LIKE 'k%' AND
    (SELECT count(*) FROM user_roles r WHERE r.subject = u.subject) <> 2")
check "no user without all of its role grants ($partial)" test "$partial" = 0
check "the store takes writes after the kills" A user add after-kills --role r1
check "and reads them" test "$(A user list 2>/dev/null | grep -c after-kills)" -ge 1

# --- mcp-products -----------------------------------------------------------------------------
A user add admin --role admin >/dev/null 2>&1 || exit 1
KEY=$(A key create --owner admin 2>/dev/null)
check "an API key for admin" test -n "$KEY"

# writer N ROUND: create products until the server stops answering; acked names to a file
writer() {
    local w=$1 round=$2 i code name
    for i in $(seq 1 5000); do
        name="r$round-w$w-$i"
        code=$(curl -s -o "$TMP/w$w.body" -w '%{http_code}' --max-time 5 \
            -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
            -H "Authorization: Bearer $KEY" \
            --data-binary "$(call_json "$i" create_product \
                "{\"name\":\"$name\",\"price_cents\":$i,\"stock\":1}")" "$SRV_URL")
        if [ "$code" = 200 ] && grep -q '"created product' "$TMP/w$w.body"; then
            echo "$name" >>"$TMP/acked.$round"
        elif [ "$code" = 000 ]; then
            return 0                             # the server is gone
        fi
    done
}

for round in 1 2 3; do
    start_products "r$round" --stateless --auth apikey --no-access-log || exit 1
    rpc "$KEY" "" "$(call_json 1 list_products '{"limit":1}')" >"$TMP/code"
    eq "round $round: server serves the catalog after a restart" "$(cat "$TMP/code")" 200
    : >"$TMP/acked.$round"
    wpids=()
    for w in 1 2 3 4; do
        writer "$w" "$round" &
        wpids+=($!)
    done
    sleep 1.5
    kill -KILL "$SRV_PID"
    wait "$SRV_PID" 2>/dev/null
    SRV_PID=""
    for p in "${wpids[@]}"; do wait "$p"; done
    n=$(wc -l <"$TMP/acked.$round")
    echo "round $round: $n creates acknowledged before kill -9"
    check "round $round: writes were acknowledged before the kill ($n)" test "$n" -gt 0
    check "round $round: catalog integrity" \
        test "$(sqlite3 "$CATALOG" 'PRAGMA integrity_check')" = ok
    check "round $round: store integrity" test "$(sqlite3 "$DB" 'PRAGMA integrity_check')" = ok
    lost=0
    while read -r name; do
        [ "$(sqlite3 "$CATALOG" "SELECT count(*) FROM products WHERE name = '$name'")" = 1 ] ||
            lost=$((lost + 1))
    done <"$TMP/acked.$round"
    check "round $round: no acknowledged product lost ($lost of $n)" test "$lost" = 0
done

start_products final --stateless --auth apikey --no-access-log || exit 1
code=$(rpc "$KEY" "" "$(call_json 9 create_product '{"name":"after-kills","price_cents":1}')")
eq "the server writes after three kills" "$code" 200
check "and the write is in the catalog" \
    test "$(sqlite3 "$CATALOG" "SELECT count(*) FROM products WHERE name = 'after-kills'")" = 1
stop_products
summary
