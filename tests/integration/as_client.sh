#!/usr/bin/env bash
# Our own mcp-client --oauth against mcp-products --embedded-as (issue 12): discovery through
# the PRM, the authorization code flow with the loopback redirect (the browser step driven by
# lib/as_login.py: sign-in, then the redirect to mcp-client's callback), a later run refreshing
# the expired access token from the token cache without a login, and the headless
# client_credentials grant.
set -u
. "$(dirname "$0")/lib/products_common.sh"
PW='client test pass phrase'
A user add alice --role user >/dev/null || exit 1
printf '%s\n' "$PW" | A user passwd alice || exit 1
A client add cli --redirect-uri http://127.0.0.1/callback >/dev/null || exit 1
A client add robot --confidential --owner alice >"$TMP/robot.secret" 2>/dev/null || exit 1
chmod 600 "$TMP/robot.secret"
start_products cl --embedded-as --as-access-ttl 2 || exit 1
ORIGIN="http://127.0.0.1:$SRV_PORT"
C() { "$MCP_BIN/mcp-client" --url "$SRV_URL" --oauth --issuer "$ORIGIN" "$@"; }

# ---- authorization code, "browser" login driven by the test ------------------------------
C --client-id cli --token-cache "$TMP/cache.json" tools call list_products \
    >"$TMP/c1.out" 2>"$TMP/c1.err" &
CPID=$!
url=""
for _ in $(seq 1 100); do
    url=$(grep -o "$ORIGIN/authorize?[^ ]*" "$TMP/c1.err" | head -n 1)
    [ -n "$url" ] && break
    sleep 0.1
done
check "mcp-client printed the authorization URL" test -n "$url"
loc=$(printf '%s\n' "$PW" | python3 "$(dirname "$0")/lib/as_login.py" "$url" alice)
check "redirect to mcp-client's loopback callback" has "$loc" "http://127.0.0.1:"
curl -s --max-time 10 -o /dev/null "$loc"
rc=0
wait "$CPID" || rc=$?
eq "mcp-client exit (code flow)" "$rc" 0
check "tool result (code flow)" grep -q '"products"' "$TMP/c1.out"

# ---- the cached refresh token replaces the expired access token: no login ----------------
sleep 3
rc=0
timeout 30 "$MCP_BIN/mcp-client" --url "$SRV_URL" --oauth --issuer "$ORIGIN" --client-id cli \
    --token-cache "$TMP/cache.json" tools call list_products >"$TMP/c2.out" 2>"$TMP/c2.err" \
    || rc=$?
eq "mcp-client exit (refresh)" "$rc" 0
check "no login needed after expiry" test -z "$(grep -o "$ORIGIN/authorize?" "$TMP/c2.err")"
check "tool result (refresh)" grep -q '"products"' "$TMP/c2.out"

# ---- client credentials (default lifetimes: the client renews a token about to expire) ----
stop_products
start_products cl2 --embedded-as --as-registration || exit 1
ORIGIN="http://127.0.0.1:$SRV_PORT"
rc=0
timeout 30 "$MCP_BIN/mcp-client" --url "$SRV_URL" --oauth --issuer "$ORIGIN" \
    --grant client_credentials --client-id robot --client-secret-file "$TMP/robot.secret" \
    --no-token-cache tools call list_products >"$TMP/c3.out" 2>"$TMP/c3.err" || rc=$?
eq "mcp-client exit (client_credentials)" "$rc" 0
check "tool result (client_credentials)" grep -q '"products"' "$TMP/c3.out"

# ---- dynamic registration (RFC 7591, on with --as-registration) -----------------------------
reg() {
    curl -s --max-time 10 -o "$TMP/reg" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary "$1" "$ORIGIN/register"
}
eq "metadata names /register" \
    "$(curl -s --max-time 5 "$ORIGIN/.well-known/oauth-authorization-server" | jq -r .registration_endpoint)" \
    "$ORIGIN/register"
eq "no redirect_uris" "$(reg '{"client_name":"x"}')" 400
eq "no redirect_uris: error" "$(jq -r .error "$TMP/reg")" invalid_redirect_uri
eq "web client, private-use scheme" "$(reg '{"redirect_uris":["com.example.app:/cb"]}')" 400
eq "http to a remote host" "$(reg '{"redirect_uris":["http://evil.example/cb"],"application_type":"native"}')" 400
eq "unknown grant type" "$(reg '{"redirect_uris":["http://127.0.0.1/cb"],"grant_types":["password"]}')" 400
eq "native client, private-use scheme" \
    "$(reg '{"redirect_uris":["com.example.app:/cb"],"application_type":"native","token_endpoint_auth_method":"none"}')" 201
check "public client: no secret" test "$(jq -r '.client_secret // "none"' "$TMP/reg")" = none
eq "default method client_secret_basic" "$(reg '{"redirect_uris":["https://app.example/cb"]}')" 201
check "confidential: a secret" test "$(jq -r '.client_secret | length' "$TMP/reg")" = 43

# mcp-client without --client-id registers itself, then logs in
C --token-cache "$TMP/cache2.json" tools call list_products >"$TMP/c4.out" 2>"$TMP/c4.err" &
CPID=$!
url=""
for _ in $(seq 1 100); do
    url=$(grep -o "$ORIGIN/authorize?[^ ]*" "$TMP/c4.err" | head -n 1)
    [ -n "$url" ] && break
    sleep 0.1
done
check "registered client's authorization URL" has "$url" "client_id=dyn."
loc=$(printf '%s\n' "$PW" | python3 "$(dirname "$0")/lib/as_login.py" "$url" alice)
curl -s --max-time 10 -o /dev/null "$loc"
rc=0
wait "$CPID" || rc=$?
eq "mcp-client exit (registration + code flow)" "$rc" 0
check "tool result (registration + code flow)" grep -q '"products"' "$TMP/c4.out"
summary
