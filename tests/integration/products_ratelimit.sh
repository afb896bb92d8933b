#!/usr/bin/env bash
# mcp-products rate limits over real HTTP: per (principal, tool) and per principal token
# buckets from the policy file -> 429 with Retry-After and a JSON-RPC error, one audit line per
# refusal; other principals and other tools are unaffected; a reload changes the limits.
# Needs $MCP_BIN (set by CTest), curl and jq.
. "$(dirname "$0")/lib/products_common.sh"

A user add uma --role user >/dev/null 2>&1 || exit 1
A user add ursula --role user >/dev/null 2>&1 || exit 1
A user add bot --role user >/dev/null 2>&1 || exit 1
POLICY="$TMP/policy.json"
# slow refill rates, so that no token comes back while the test runs
cat >"$POLICY" <<'EOF'
{
  "rate_limits": {
    "per_principal": { "rate": 0.05, "burst": 12 },
    "per_tool": { "create_product": { "rate": 0.2, "burst": 2 } },
    "principals": { "bot": { "rate": 0.05, "burst": 3 } }
  }
}
EOF
start_products main --auth jwt --policy "$POLICY" --audit-log "$AUDIT" || exit 1
UMA=$(mint uma)
URSULA=$(mint ursula)
BOT=$(mint bot)

SID=$(open_session "$UMA")                        # 1 request (initialize; the notification is
                                                 # not a request and is not metered)
create() { call_json "$1" create_product "{\"name\":\"p$1\",\"price_cents\":1}"; }

# --- per (principal, tool): two creates, then 429 --------------------------------------------
eq "create 1" "$(rpc "$UMA" "$SID" "$(create 10)")" 200
eq "create 2" "$(rpc "$UMA" "$SID" "$(create 11)")" 200
eq "create 3 is rate limited" "$(rpc "$UMA" "$SID" "$(create 12)")" 429
RA=$(hdr Retry-After)
check "Retry-After is whole seconds in 1..5 (rate 0.2/s)" test "$RA" -ge 1 -a "$RA" -le 5
eq "429 JSON-RPC error" "$(jq -c . "$TMP/body")" \
    "{\"jsonrpc\":\"2.0\",\"id\":12,\"error\":{\"code\":-32029,\"message\":\"rate limit exceeded for tool 'create_product' (retry after $RA s)\"}}"
check "no WWW-Authenticate on 429" test -z "$(hdr WWW-Authenticate)"
# the product was not created
rpc "$UMA" "$SID" "$(call_json 13 list_products '{"query":"p12"}')" >/dev/null
eq "refused call did not run" "$(jq -r .result.structuredContent.total "$TMP/body")" 0
# other tools of the same principal still pass
eq "list still allowed" "$(rpc "$UMA" "$SID" "$(call_json 14 list_products '{}')")" 200
# another principal has its own buckets
SID2=$(open_session "$URSULA")
eq "other principal may create" "$(rpc "$URSULA" "$SID2" "$(create 15)")" 200

# --- per principal: the 13th request of uma is refused, whatever the method --------------------
# uma so far: initialize, create x3, list x2 = 6 requests
for i in 16 17 18 19 20 21; do
    eq "request $i within the principal limit" "$(rpc "$UMA" "$SID" "{\"jsonrpc\":\"2.0\",\"id\":$i,\"method\":\"ping\"}")" 200
done
eq "13th request is rate limited" "$(rpc "$UMA" "$SID" '{"jsonrpc":"2.0","id":22,"method":"tools/list"}')" 429
RA=$(hdr Retry-After)
check "principal Retry-After in 1..20 (rate 0.05/s)" test "$RA" -ge 1 -a "$RA" -le 20
eq "principal 429 message" "$(jq -r .error.message "$TMP/body")" "rate limit exceeded (retry after $RA s)"
eq "principal 429 code" "$(jq -r .error.code "$TMP/body")" -32029

# --- a per-subject override ---------------------------------------------------------------------
SID3=$(open_session "$BOT")
eq "bot 2" "$(rpc "$BOT" "$SID3" '{"jsonrpc":"2.0","id":30,"method":"ping"}')" 200
eq "bot 3" "$(rpc "$BOT" "$SID3" '{"jsonrpc":"2.0","id":31,"method":"ping"}')" 200
eq "bot 4 is limited by its override (burst 3)" "$(rpc "$BOT" "$SID3" '{"jsonrpc":"2.0","id":32,"method":"ping"}')" 429

# --- audit: one line per refusal -------------------------------------------------------------
L=$(audit_lines '.status=="MCP_ERR_RATE_LIMITED" and .subject=="uma" and .request_id==12')
eq "tool refusal audited" "$(jq -r '[.event, .decision, (.http_status|tostring), .target] | join(" ")' <<<"$L")" \
    "authz deny 429 create_product"
check "tool refusal reason" has "$(jq -r .reason <<<"$L")" "rate limit exceeded for tool 'create_product'"
L=$(audit_lines '.status=="MCP_ERR_RATE_LIMITED" and .subject=="uma" and .request_id==22')
eq "principal refusal audited" "$(jq -r .method <<<"$L")" tools/list
eq "refusals audited: exactly 3" "$(jq -c 'select(.status=="MCP_ERR_RATE_LIMITED")' "$AUDIT" | wc -l)" 3

# --- a reload with higher limits applies to the same buckets -----------------------------------
cat >"$POLICY.tmp" <<'EOF'
{ "rate_limits": { "per_principal": { "rate": 1000 } } }
EOF
mv "$POLICY.tmp" "$POLICY"
kill -HUP "$SRV_PID"
reloaded() { grep -q "reloaded $POLICY" "$SRV_LOG"; }
wait_for "reload with higher limits" reloaded
eq "after reload: uma allowed again" "$(rpc "$UMA" "$SID" '{"jsonrpc":"2.0","id":40,"method":"ping"}')" 200
eq "after reload: no per-tool limit" "$(rpc "$UMA" "$SID" "$(create 41)")" 200

stop_products
summary
