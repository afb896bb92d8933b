#!/usr/bin/env bash
# Interop: the official TypeScript SDK v2 client (@modelcontextprotocol/client, tests/package.json)
# against mcp-products --embedded-as: its ClientCredentialsProvider discovers our AS through the
# PRM, gets a client_credentials token (client_secret_basic) and calls a tool; a wrong secret is
# refused. Then its authorization-code flow (an OAuthClientProvider; redirectToAuthorization
# drives our sign-in form headlessly with a real HTTP POST including the CSRF token, finishAuth
# exchanges the code) calls a tool too, and so does its PrivateKeyJwtProvider (private_key_jwt
# with an ES256 key registered by mcp-admin client add --jwks-file; another key is refused).
# Needs $MCP_BIN, $MCP_SRC (set by CTest), node >= 20.
. "$(dirname "$0")/lib/products_common.sh"
: "${MCP_SRC:?MCP_SRC must point at the source tree}"
command -v node >/dev/null || { echo "FAIL: node is required" >&2; exit 1; }
if [ ! -f "$MCP_SRC/tests/node_modules/@modelcontextprotocol/client/package.json" ]; then
  (cd "$MCP_SRC/tests" && npm ci --no-audit --no-fund >/dev/null) ||
    { echo "FAIL: npm ci in tests/ failed: @modelcontextprotocol/client is required" >&2; exit 1; }
fi
A user add alice --role user >/dev/null 2>&1 || exit 1
A client add robot --confidential --owner alice >"$TMP/robot.secret" 2>/dev/null || exit 1
PW='ts sdk code flow pass'
printf '%s\n' "$PW" | A user passwd alice >/dev/null 2>&1 || exit 1
A client add tsapp --redirect-uri http://127.0.0.1/callback >/dev/null 2>&1 || exit 1
PKJWT="$MCP_SRC/tests/integration/lib/ts_sdk_as_pkjwt.mjs"
(cd "$MCP_SRC/tests" && node "$PKJWT" keygen "$TMP") || exit 1
A client add svc --jwks-file "$TMP/client.jwk" --owner alice >/dev/null 2>&1 || exit 1
SECRET_VAL=$(head -n 1 "$TMP/robot.secret")
start_products tsas --embedded-as --seed || exit 1
ORIGIN="http://127.0.0.1:$SRV_PORT"
CLIENT="$MCP_SRC/tests/integration/lib/ts_sdk_as_client.mjs"

out=$(cd "$MCP_SRC/tests" && timeout 60 node "$CLIENT" "$SRV_URL" "$ORIGIN" robot "$SECRET_VAL" 2>"$TMP/node.err")
eq "client credentials: no error" "$(jq -r '.error // "none"' <<<"$out")" none
eq "client credentials: tool call" "$(jq -r .call <<<"$out")" ok
eq "client credentials: products listed" "$(jq -r .products <<<"$out")" true
out=$(cd "$MCP_SRC/tests" && timeout 60 node "$CLIENT" "$SRV_URL" "$ORIGIN" robot wrong-secret 2>"$TMP/node2.err")
check "wrong secret: refused" test "$(jq -r '.error // "none"' <<<"$out")" != none
check "no secret in the server log" test "$(grep -cF -- "$SECRET_VAL" "$SRV_LOG")" = 0

# ---- authorization code with a scripted login ----------------------------------------------
CODE="$MCP_SRC/tests/integration/lib/ts_sdk_as_code.mjs"
out=$(cd "$MCP_SRC/tests" && printf '%s\n' "$PW" | timeout 60 node "$CODE" "$SRV_URL" tsapp alice 2>"$TMP/node3.err")
echo "$out"
eq "code flow: no error" "$(jq -r '.error // "none"' <<<"$out")" none
eq "code flow: the SDK redirected to /authorize with PKCE S256" "$(jq -r .redirected <<<"$out")" true
eq "code flow: the page carries a CSRF token and cookie" "$(jq -r .csrf <<<"$out")" true
eq "code flow: a forged CSRF token is refused" "$(jq -r .forgedForm <<<"$out")" 403
eq "code flow: tool call" "$(jq -r .call <<<"$out")" ok
eq "code flow: products listed" "$(jq -r .products <<<"$out")" true
eq "code flow: a refresh token" "$(jq -r .refresh <<<"$out")" true
check "no password in the server log" test "$(grep -cF -- "$PW" "$SRV_LOG")" = 0

# ---- private_key_jwt: the SDK's PrivateKeyJwtProvider ------------------------------------------
out=$(cd "$MCP_SRC/tests" && timeout 60 node "$PKJWT" run "$SRV_URL" "$ORIGIN" svc "$TMP" 2>"$TMP/node4.err")
echo "$out"
eq "private_key_jwt: no error" "$(jq -r '.error // "none"' <<<"$out")" none
eq "private_key_jwt: tool call" "$(jq -r .call <<<"$out")" ok
mkdir -p "$TMP/other" && (cd "$MCP_SRC/tests" && node "$PKJWT" keygen "$TMP/other") || exit 1
out=$(cd "$MCP_SRC/tests" && timeout 60 node "$PKJWT" run "$SRV_URL" "$ORIGIN" svc "$TMP/other" 2>"$TMP/node5.err")
check "private_key_jwt: another key is refused" test "$(jq -r '.error // "none"' <<<"$out")" != none
summary
