#!/usr/bin/env bash
# mcp-products policy reload over real HTTP: a good policy file is applied after SIGHUP (what
# tools/list shows and what tools/call allows change together), a broken file is refused with
# the old policy kept (stderr and audit say so), a deleted file too, a bad file at start is a
# startup error, and a file entry can open (any_authenticated) or close (deny) a tool.
# Needs $MCP_BIN (set by CTest), curl and jq.
. "$(dirname "$0")/lib/products_common.sh"

A user add gus --role guest >/dev/null 2>&1 || exit 1
A user add admin --role admin >/dev/null 2>&1 || exit 1
ADMIN_KEY=$(A key create --owner admin 2>/dev/null)
GUEST_KEY=$(A key create --owner gus 2>/dev/null)
POLICY="$TMP/policy.json"
LIST='{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
CREATE=$(call_json 2 create_product '{"name":"Guest-made","price_cents":100}')

# write_policy TEXT: atomically, as a deploy would (write + rename)
write_policy() {
    printf '%s\n' "$1" >"$POLICY.tmp" && mv "$POLICY.tmp" "$POLICY"
}

# --- a broken file at start is a startup error, not an open server ----------------------------
write_policy '{"tools": {"create_product": {"any_of": []}}}'
"$MCP_BIN/mcp-products" --listen 127.0.0.1:0 --db "$DB" --catalog "$CATALOG" --auth apikey \
    --policy "$POLICY" >"$TMP/bad.out" 2>"$TMP/bad.err"
eq "bad policy at start: exit status" "$?" 1
check "bad policy at start: says why" has "$(cat "$TMP/bad.err")" "tools.create_product.any_of: is empty"

# --- start with the sample policy -------------------------------------------------------------
cp "${MCP_SRC:?MCP_SRC must point at the source tree}/examples/mcp-products/policy.json" "$POLICY"
start_products main --auth apikey --policy "$POLICY" --audit-log "$AUDIT" --seed || exit 1
SID=$(open_session "$GUEST_KEY")
ASID=$(open_session "$ADMIN_KEY")
rpc "$GUEST_KEY" "$SID" "$LIST" >/dev/null
eq "sample policy: guest tools" "$(tool_names)" "get_product,list_products"
eq "sample policy: guest create refused" "$(rpc "$GUEST_KEY" "$SID" "$CREATE")" 403

# --- a good file, applied by SIGHUP -----------------------------------------------------------
write_policy '{
  "version": 1,
  "tools": {
    "create_product": { "any_of": ["Guest.Read"] },
    "delete_product": { "deny": true },
    "get_product":    { "any_authenticated": true }
  }
}'
kill -HUP "$SRV_PID"
guest_sees_create() {
    rpc "$GUEST_KEY" "$SID" "$LIST" >/dev/null
    [ "$(tool_names)" = "create_product,get_product,list_products" ]
}
wait_for "after SIGHUP: guest sees create_product" guest_sees_create
eq "after SIGHUP: guest create allowed" "$(rpc "$GUEST_KEY" "$SID" "$CREATE")" 200
eq "created_by is the guest" "$(jq -r .result.structuredContent.created_by "$TMP/body")" gus
eq "after SIGHUP: the same session goes on" "$(rpc "$GUEST_KEY" "$SID" '{"jsonrpc":"2.0","id":3,"method":"ping"}')" 200
# deny closes a tool even for an admin, and hides it
rpc "$ADMIN_KEY" "$ASID" "$LIST" >/dev/null
eq "deny hides delete_product from the admin (and create_product now needs Guest.Read)" \
    "$(tool_names)" "get_product,list_products,update_product"
eq "deny refuses delete_product to the admin" "$(rpc "$ADMIN_KEY" "$ASID" \
    "$(call_json 4 delete_product '{"id":1}')")" 403
eq "deny: JSON-RPC error" "$(jq -r .error.message "$TMP/body")" \
    "tool 'delete_product' is allowed to nobody (deny)"
# entries not in the file keep their registration rule (inherit_registration defaults to true)
eq "unlisted update_product: registration rule applies (guest)" "$(rpc "$GUEST_KEY" "$SID" \
    "$(call_json 5 update_product '{"id":1,"stock":1}')")" 403
eq "unlisted update_product: registration rule applies (admin)" "$(rpc "$ADMIN_KEY" "$ASID" \
    "$(call_json 6 update_product '{"id":1,"stock":1}')")" 200
L=$(audit_lines '.event=="policy_reload" and .decision=="ok"')
check "reload written to the audit log" has "$L" "3 entries"
check "reload reported on stderr" has "$(cat "$SRV_LOG")" "reloaded $POLICY: 3 entries"

# --- a broken file: refused, the policy in force stays ------------------------------------------
write_policy '{"tools": {"create_product": {"any_off": ["Guest.Read"]}}}'
kill -HUP "$SRV_PID"
reload_failed() { grep -q "reload failed" "$SRV_LOG"; }
wait_for "broken file: reported on stderr" reload_failed
check "broken file: stderr says what is wrong" has "$(cat "$SRV_LOG")" \
    "tools.create_product: unknown key 'any_off'"
L=$(audit_lines '.event=="policy_reload" and .decision=="failed"')
check "broken file: in the audit log" has "$L" "any_off"
eq "broken file: guest create still allowed (old policy)" "$(rpc "$GUEST_KEY" "$SID" "$CREATE")" 200
eq "broken file: delete still denied (old policy)" "$(rpc "$ADMIN_KEY" "$ASID" \
    "$(call_json 7 delete_product '{"id":1}')")" 403
check "server still running" kill -0 "$SRV_PID"

# --- not JSON at all, then a missing file: same -------------------------------------------------
write_policy '{"tools": '
kill -HUP "$SRV_PID"
two_failures() { [ "$(grep -c 'reload failed' "$SRV_LOG")" -ge 2 ]; }
wait_for "truncated file: refused" two_failures
rm -f "$POLICY"
kill -HUP "$SRV_PID"
three_failures() { [ "$(grep -c 'reload failed' "$SRV_LOG")" -ge 3 ]; }
wait_for "missing file: refused" three_failures
eq "after failures: old policy still in force" "$(rpc "$GUEST_KEY" "$SID" "$CREATE")" 200

# --- strict mode: inherit_registration false closes every tool the file does not list ----------
write_policy '{"inherit_registration": false, "tools": {"list_products": {"any_of": ["Guest.Read", "User.Read"]}}}'
kill -HUP "$SRV_PID"
admin_sees_only_list() {
    rpc "$ADMIN_KEY" "$ASID" "$LIST" >/dev/null
    [ "$(tool_names)" = "list_products" ]
}
wait_for "strict policy: the admin sees only list_products" admin_sees_only_list
eq "strict policy: get_product refused" "$(rpc "$ADMIN_KEY" "$ASID" \
    "$(call_json 8 get_product '{"id":1}')")" 403
rpc "$ADMIN_KEY" "$ASID" '{"jsonrpc":"2.0","id":9,"method":"resources/templates/list"}' >/dev/null
eq "strict policy: template hidden" "$(jq -r '.result.resourceTemplates | length' "$TMP/body")" 0
rpc "$ADMIN_KEY" "$ASID" '{"jsonrpc":"2.0","id":10,"method":"prompts/list"}' >/dev/null
eq "strict policy: prompt hidden" "$(jq -r '.result.prompts | length' "$TMP/body")" 0

# --- back to the sample ---------------------------------------------------------------------------
cp "$MCP_SRC/examples/mcp-products/policy.json" "$POLICY"
kill -HUP "$SRV_PID"
guest_back_to_read_only() {
    rpc "$GUEST_KEY" "$SID" "$LIST" >/dev/null
    [ "$(tool_names)" = "get_product,list_products" ]
}
wait_for "sample policy again: guest read-only" guest_back_to_read_only
eq "sample policy again: guest create refused" "$(rpc "$GUEST_KEY" "$SID" "$CREATE")" 403

stop_products
summary
