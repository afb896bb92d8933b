#!/usr/bin/env bash
# The documented first run: examples/mcp-products/quickstart.sh on an empty directory creates
# an admin and prints its API key once with a curl command; that exact curl command works
# against the server the script started; the key gives admin rights; a second run reuses the
# store and prints no key; --bootstrap-admin refuses a store that has users.
# Needs $MCP_BIN, $MCP_SRC (set by CTest), curl, jq and python3 (to find a free port).
. "$(dirname "$0")/lib/products_common.sh"

QS="${MCP_SRC:?MCP_SRC must point at the source tree}/examples/mcp-products/quickstart.sh"
DATA="$TMP/data"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SRV_URL="http://127.0.0.1:$PORT/mcp"

# run_quickstart NAME: in the background; waits until the server answers (bounded).
run_quickstart() {
    local name=$1 i
    (cd "$TMP" && LISTEN="127.0.0.1:$PORT" exec bash "$QS" "$DATA") \
        >"$TMP/$name.out" 2>"$TMP/$name.err" &
    SRV_PID=$!
    for i in $(seq 1 100); do
        grep -q "listening on" "$TMP/$name.err" 2>/dev/null && return 0
        if ! kill -0 "$SRV_PID" 2>/dev/null; then
            echo "quickstart ($name) exited: $(cat "$TMP/$name.err")" >&2
            SRV_PID=""
            return 1
        fi
        sleep 0.1
    done
    echo "quickstart ($name) did not start" >&2
    return 1
}

run_quickstart first || exit 1
OUT=$(cat "$TMP/first.out")
KEY=$(sed -n 's/^API key: \(mcp_[A-Za-z0-9_-]*\)$/\1/p' <<<"$OUT")
check "the key appears only on its line and in the curl example" \
    test "$(grep -c "$KEY" <<<"$OUT")" -eq 2
check "the key looks like an API key" test "${#KEY}" -eq 60
check "store file is private" test "$(stat -c %a "$DATA")" = 700
check "store created" test -s "$DATA/mcp.db"
check "sample policy copied" test -s "$DATA/policy.json"

# the printed curl command, run as printed (the lines after "Then call it:")
CMD=$(sed -n '/^Then call it:$/,$p' <<<"$OUT" | tail -n +2)
check "a curl example is printed" has "$CMD" "curl -s http://127.0.0.1:$PORT/mcp"
RES=$(bash -c "$CMD")
eq "the printed curl command initializes a session" \
    "$(jq -r .result.serverInfo.name <<<"$RES")" mcp-products

# the key is an admin's: every tool, and delete works; products were seeded
SID=$(open_session "$KEY")
rpc "$KEY" "$SID" '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' >/dev/null
eq "admin tools" "$(tool_names)" "create_product,delete_product,get_product,list_products,update_product"
eq "seeded catalog" "$(rpc "$KEY" "$SID" "$(call_json 2 list_products '{}')")" 200
eq "five sample products" "$(jq -r .result.structuredContent.total "$TMP/body")" 5
eq "admin may delete" "$(rpc "$KEY" "$SID" "$(call_json 3 delete_product '{"id":5}')")" 200
check "audit log written" test -s "$DATA/audit.log"
check "the key is not in the audit log" test "$(grep -c "$KEY" "$DATA/audit.log")" -eq 0
check "the key is not in the server log" test "$(grep -c "$KEY" "$TMP/first.err")" -eq 0
stop_products

# second run: the same store, no new key printed, the old key still works
run_quickstart second || exit 1
check "second run prints no key" test "$(grep -c '^API key:' "$TMP/second.out")" -eq 0
check "second run says it reuses the store" has "$(cat "$TMP/second.err")" "using the existing store"
eq "old key still valid" "$(rpc "$KEY" "" "$INIT")" 200
stop_products

# bootstrap refuses a store that has users, and needs --db
"$MCP_BIN/mcp-products" --db "$DATA/mcp.db" --bootstrap-admin eve >"$TMP/b.out" 2>"$TMP/b.err"
eq "bootstrap on a used store: exit 1" "$?" 1
check "bootstrap on a used store: says why" has "$(cat "$TMP/b.err")" "already has users"
check "bootstrap on a used store: no key" test ! -s "$TMP/b.out"
"$MCP_BIN/mcp-products" --bootstrap-admin eve >"$TMP/b.out" 2>"$TMP/b.err"
eq "bootstrap without --db: usage error" "$?" 2

summary
