#!/usr/bin/env bash
# mcp-products (JWT + RBAC) over real HTTP with protocol revision 2026-07-28 requests (stateless:
# no initialize, no session; _meta and Mcp-Method/Mcp-Name on every POST): authorization is
# decided from the request exactly as for 2025 (same AUTHN/AUTHZ phases, same challenge, same
# audit line): no token 401, a forbidden tool 403 insufficient_scope, an allowed call 200; the
# 2026 error rules (id echoed when read, absent when not) and cache hints of a filtered list.
# Needs $MCP_BIN (set by CTest), curl and jq.
. "$(dirname "$0")/lib/products_common.sh"

A user add uma --name "Uma User" --role user >/dev/null 2>&1 || exit 1
start_products p26 --auth jwt --audit-log "$AUDIT" --seed || exit 1
USER_TOK=$(mint uma --jti u26-1)

META='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}'

# rpc26 TOKEN MCP-METHOD MCP-NAME JSON: a 2026 POST; TOKEN/MCP-NAME "" = header left out.
rpc26() {
    local token=$1 method=$2 name=$3 body=$4
    local args=(-s -o "$TMP/body" -D "$TMP/hdrs" -w '%{http_code}' --max-time 10
        -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream'
        -H 'MCP-Protocol-Version: 2026-07-28' -H "Mcp-Method: $method")
    [ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
    [ -n "$name" ] && args+=(-H "Mcp-Name: $name")
    curl "${args[@]}" --data-binary "$body" "$SRV_URL"
}
call26() {   # call26 ID TOOL ARGS-JSON
    printf '{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":"%s","arguments":%s,%s}}' \
        "$1" "$2" "$3" "$META"
}
LIST26='{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{'"$META"'}}'

# --- no token: 401 before the body is looked at, with the same challenge as 2025 ---------------
eq "no token: 401" "$(rpc26 "" tools/list "" "$LIST26")" 401
check "no token: Bearer challenge" has "$(hdr WWW-Authenticate)" "Bearer "
check "no token: resource_metadata" has "$(hdr WWW-Authenticate)" "resource_metadata=\"$SRV_PRM\""
eq "no token: no id (unread), never null" "$(jq -r 'has("id")' "$TMP/body")" false
eq "no token: no session minted" "$(hdr Mcp-Session-Id)" ""

# --- allowed: the filtered list, private cache scope ---------------------------------------------
eq "user tools/list" "$(rpc26 "$USER_TOK" tools/list "" "$LIST26")" 200
eq "user tools (filtered)" "$(tool_names)" "create_product,get_product,list_products,update_product"
eq "filtered list is private" "$(jq -r .result.cacheScope "$TMP/body")" private
eq "list resultType" "$(jq -r .result.resultType "$TMP/body")" complete
eq "no session for 2026" "$(hdr Mcp-Session-Id)" ""
eq "user get_product" "$(rpc26 "$USER_TOK" tools/call get_product "$(call26 3 get_product '{"id":1}')")" 200
eq "get_product complete" "$(jq -r .result.resultType "$TMP/body")" complete
eq "serverInfo in _meta" "$(jq -r '.result._meta["io.modelcontextprotocol/serverInfo"].name' "$TMP/body")" mcp-products
L=$(audit_lines '.event=="authz" and .target=="get_product" and .subject=="uma"')
eq "2026 allowed call: one audit line" "$(printf '%s\n' "$L" | grep -c .)" 1

# --- forbidden: decided from Mcp-Method/Mcp-Name before the body is read: 403 insufficient_scope
#     with the step-up scope; the id is absent (the body, and so the id, was never read) ---------
eq "user delete is 403" "$(rpc26 "$USER_TOK" tools/call delete_product "$(call26 5 delete_product '{"id":1}')")" 403
eq "user delete challenge" "$(hdr WWW-Authenticate)" \
    "Bearer error=\"insufficient_scope\", error_description=\"tool 'delete_product' requires any of: Admin.Write\", scope=\"User.Read User.Write Admin.Write\", resource_metadata=\"$SRV_PRM\""
eq "403 has no id (body unread)" "$(jq -r 'has("id")' "$TMP/body")" false
eq "connection closed, upload not drained" "$(hdr Connection)" close
eq "403 names the target" "$(jq -r .error.data.target "$TMP/body")" delete_product

# --- the header must say what the body says: no smuggling a target past the headers -----------
eq "Mcp-Name mismatch is 400" "$(rpc26 "$USER_TOK" tools/call get_product "$(call26 6 delete_product '{"id":1}')")" 400
eq "mismatch is -32020" "$(jq -r .error.code "$TMP/body")" -32020
eq "mismatch keeps the id" "$(jq -r .id "$TMP/body")" 6

L=$(audit_lines '.event=="authz" and .target=="delete_product" and .subject=="uma"')
eq "2026 denial: one audit line" "$(printf '%s\n' "$L" | grep -c .)" 1
eq "2026 denial: decision" "$(jq -r '.decision + " " + (.http_status|tostring)' <<<"$L")" "deny 403"
eq "2026 denial: method from Mcp-Method" "$(jq -r .method <<<"$L")" tools/call

stop_products
summary
