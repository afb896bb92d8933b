#!/usr/bin/env bash
# Authentication against a real OpenID provider (oidc-provider, ../shared/idp) on loopback:
# client-credentials JWT access tokens verified through the provider's JWKS (RS256, ES256,
# EdDSA), audience binding by resource indicator (RFC 8707), key rotation (unknown kid ->
# JWKS refresh; a token signed with the previous key still verifies while that key is
# published), expiry, and opaque tokens through RFC 7662 introspection (accepted, garbage,
# wrong audience, revoked, wrong introspection credentials -> 503).
# Needs $MCP_BIN and $MCP_SHARED (set by CTest). The provider's first start runs `npm ci`.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/auth_common.sh
. "$HERE/lib/auth_common.sh"

# shellcheck source=lib/idp.sh
. "$HERE/lib/idp.sh"

# --- the provider --------------------------------------------------------------------------------
idp_start || exit 1
JWKS=$IDP_JWKS
INTRO=$IDP_INTRO
check "discovery: issuer" test "$(idp_field issuer)" = "$I"
check "discovery: jwks_uri and introspection_endpoint" test -n "$JWKS" -a -n "$INTRO"

jwt_kid() {
    local h
    h=$(printf '%s' "$1" | cut -d. -f1 | tr '_-' '/+')
    case $((${#h} % 4)) in 2) h="$h==" ;; 3) h="$h=" ;; esac
    printf '%s' "$h" | base64 -d 2>/dev/null | sed -n 's/.*"kid":"\([^"]*\)".*/\1/p'
}

# --- JWT access tokens through the JWKS URL -------------------------------------------------
start_server jwt --stateless --auth jwt --jwks-url "$JWKS" --issuer "$I" \
    --jwks-min-interval 1 --leeway 0 || exit 1
U=$SRV_URL
T1=$(idp_token "$U" "User.Read tools:call")
check "IdP issued a JWT for $U" test "$(printf '%s' "$T1" | tr -cd . | wc -c)" = 2
expect_401 "no credential" "$U" "" "missing Authorization header" ""
expect_ok "IdP token for our resource" "$U" "$T1" -H "Authorization: Bearer $T1"
code=$(post "$U" "$CALL" -H "Authorization: Bearer $T1")
check "tools/call with the IdP token (got $code)" test "$code" = 200
check "tools/call result" grep -q 'echo: hi' "$TMP/body"
T=$(idp_token "http://127.0.0.1:1/other-mcp")
expect_401 "IdP token for another resource" "$U" invalid_token "audience mismatch" "$T" \
    -H "Authorization: Bearer $T"
T=$(idp_token "")
check "no resource requested: the IdP issues an opaque token" test -n "$T" -a "${T#*.}" = "$T"
expect_401 "opaque token to a JWT-only server" "$U" invalid_token \
    "opaque tokens are not accepted (token introspection is not enabled)" "$T" \
    -H "Authorization: Bearer $T"
sig=${T1##*.}
case ${sig:0:1} in A) c=B ;; *) c=A ;; esac
forged="${T1%.*}.$c${sig:1}"
expect_401 "IdP token with a changed signature" "$U" invalid_token "signature invalid" "$forged" \
    -H "Authorization: Bearer $forged"

# key rotation: the new kid is unknown until the JWKS is fetched again
T1B=$(idp_token "$U")                       # signed with the current key, not presented yet
KID1=$(jwt_kid "$T1")
curl -s --max-time 10 -X POST "$I/test/rotate-keys?alg=RS256" >"$TMP/rot.json"
T2=$(idp_token "$U")
KID2=$(jwt_kid "$T2")
check "rotation gave a new kid ($KID1 -> $KID2)" test -n "$KID1" -a -n "$KID2" -a "$KID1" != "$KID2"
sleep 1.2                                # --jwks-min-interval 1 since the startup fetch
expect_ok "token with the new kid (unknown kid -> JWKS refresh)" "$U" "$T2" \
    -H "Authorization: Bearer $T2"
expect_ok "earlier token, old key still published (cached)" "$U" "$T1" \
    -H "Authorization: Bearer $T1"
expect_ok "earlier token, old key still published (first use)" "$U" "$T1B" \
    -H "Authorization: Bearer $T1B"

# other algorithms from the same JWKS
idp_config alg=ES256
T3=$(idp_token "$U")
expect_ok "ES256 IdP token" "$U" "$T3" -H "Authorization: Bearer $T3"
idp_config alg=EdDSA
T4=$(idp_token "$U")
expect_ok "EdDSA IdP token" "$U" "$T4" -H "Authorization: Bearer $T4"
idp_config reset=1

# expiry (server runs with --leeway 0)
idp_config ttl=1
T5=$(idp_token "$U")
idp_config reset=1
sleep 2.2
expect_401 "expired IdP token" "$U" invalid_token "token expired" "$T5" \
    -H "Authorization: Bearer $T5"

code=$(curl -s --max-time 5 -o "$TMP/prm" -w '%{http_code}' "$SRV_PRM")
want="{\"resource\":\"$U\",\"authorization_servers\":[\"$I\"],"
want+="\"bearer_methods_supported\":[\"header\"]}"
check "PRM names the IdP (got $code $(cat "$TMP/prm"))" \
    test "$code" = 200 -a "$(cat "$TMP/prm")" = "$want"
stop_server "$SRV_PID"
log_has_no_secret "$TMP/jwt.err" "$T1" "$T1B" "$T2" "$T3" "$T4" "$T5" "$forged"

# --- opaque tokens through introspection (and JWTs on the same server) ----------------------
printf 'mcp-introspector-secret\n' >"$TMP/introspector.secret"
chmod 600 "$TMP/introspector.secret"
start_server intro --stateless --auth jwt,introspection --jwks-url "$JWKS" --issuer "$I" \
    --introspection-url "$INTRO" --introspection-client-id mcp-introspector \
    --introspection-client-secret-file "$TMP/introspector.secret" \
    --introspection-cache-ttl 1 || exit 1
U=$SRV_URL
idp_config format=opaque
O1=$(idp_token "$U" "User.Read tools:call")
O2=$(idp_token "http://127.0.0.1:1/other-mcp")
idp_config reset=1
check "IdP issued an opaque token" test -n "$O1" -a "${O1#*.}" = "$O1"
expect_ok "opaque token via introspection" "$U" "$O1" -H "Authorization: Bearer $O1"
code=$(post "$U" "$CALL" -H "Authorization: Bearer $O1")
check "tools/call with the opaque token (got $code)" test "$code" = 200
expect_401 "garbage opaque token" "$U" invalid_token "token inactive" "not-a-real-token-123" \
    -H "Authorization: Bearer not-a-real-token-123"
expect_401 "opaque token for another resource" "$U" invalid_token "audience mismatch" "$O2" \
    -H "Authorization: Bearer $O2"
TJ=$(idp_token "$U")
expect_ok "JWT on the combined server" "$U" "$TJ" -H "Authorization: Bearer $TJ"
code=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' -u mcp-cc:mcp-cc-secret \
    -d "token=$O1" -d token_type_hint=access_token "$I/token/revocation")
check "IdP revoked the opaque token (got $code)" test "$code" = 200
sleep 1.2                                # --introspection-cache-ttl 1
expect_401 "revoked opaque token" "$U" invalid_token "token inactive" "$O1" \
    -H "Authorization: Bearer $O1"
stop_server "$SRV_PID"
log_has_no_secret "$TMP/intro.err" "$O1" "$O2" "$TJ" "mcp-introspector-secret"

# wrong introspection credentials: the provider refuses us, so we cannot decide: 503
printf 'wrong-secret\n' >"$TMP/wrong.secret"
start_server badcred --stateless --auth introspection --issuer "$I" \
    --introspection-url "$INTRO" --introspection-client-id mcp-introspector \
    --introspection-client-secret-file "$TMP/wrong.secret" || exit 1
idp_config format=opaque
O3=$(idp_token "$SRV_URL")
idp_config reset=1
expect_status "introspection with wrong client credentials: 503" "$SRV_URL" 503 "$O3" \
    -H "Authorization: Bearer $O3"
check "503 says the credential store is unavailable, no detail" grep -q '"credential or user store unavailable"' "$TMP/body"
stop_server "$SRV_PID"

summary
