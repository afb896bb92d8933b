#!/usr/bin/env bash
# Interop: the official TypeScript SDK v2 client (@modelcontextprotocol/client 2.4.0, npm,
# test-only, tests/package.json) drives mcp-products (JWT + RBAC) in each of its negotiation
# modes: legacy (2025 initialize + session), auto (must negotiate 2026-07-28 via server/discover)
# and pinned to 2026-07-28. Each mode: the filtered tools/list, an allowed call, a forbidden call
# surfaced as the SDK's InsufficientScopeError with the step-up scope, and no token refused.
# Needs $MCP_BIN, $MCP_SRC (set by CTest), node >= 20; installs tests/node_modules with `npm ci`
# when the package is missing (scripts/deps.sh does it in CI).
. "$(dirname "$0")/lib/products_common.sh"
: "${MCP_SRC:?MCP_SRC must point at the source tree}"
command -v node >/dev/null || { echo "FAIL: node is required" >&2; exit 1; }
if [ ! -f "$MCP_SRC/tests/node_modules/@modelcontextprotocol/client/package.json" ]; then
  (cd "$MCP_SRC/tests" && npm ci --no-audit --no-fund >/dev/null) ||
    { echo "FAIL: npm ci in tests/ failed: @modelcontextprotocol/client is required" >&2; exit 1; }
fi

A user add uma --name "Uma User" --role user >/dev/null 2>&1 || exit 1
start_products ts2 --auth jwt --seed || exit 1
TOK=$(mint uma --jti ts2-1)
CLIENT="$MCP_SRC/tests/integration/lib/ts_sdk_v2_client.mjs"

for mode in legacy auto pin; do
  out=$(cd "$MCP_SRC/tests" && timeout 60 node "$CLIENT" "$SRV_URL" "$TOK" "$mode" 2>"$TMP/node.err")
  [ -n "$out" ] || { bad "$mode: no output: $(cat "$TMP/node.err")"; continue; }
  eq "$mode: connected" "$(jq -r '.error // "none"' <<<"$out")" none
  case $mode in
    legacy) eq "$mode: version" "$(jq -r .version <<<"$out")" 2025-11-25 ;;
    *)      eq "$mode: version" "$(jq -r .version <<<"$out")" 2026-07-28 ;;
  esac
  eq "$mode: filtered tools/list" "$(jq -r .tools <<<"$out")" \
     "create_product,get_product,list_products,update_product"
  eq "$mode: allowed call" "$(jq -r .call <<<"$out")" ok
  eq "$mode: forbidden call" "$(jq -r .forbidden <<<"$out")" \
     "InsufficientScopeError:User.Read User.Write Admin.Write"
  eq "$mode: no token refused (401)" "$(jq -r .noToken <<<"$out")" SdkHttpError:401
done

stop_products
summary
