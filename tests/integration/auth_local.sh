#!/usr/bin/env bash
# Authentication end to end without an identity provider: mcp-conformance-server started with
# each --auth mode, tokens minted by `mcp-token mint` (HS256, RS256, ES256, EdDSA; keys from
# `mcp-token keygen`), API keys from `mcp-admin key create`, and curl checking the exact
# 401 answers, the protected-resource metadata, session ownership, and that no answer or log
# line ever contains a credential. Loopback only. Needs $MCP_BIN (set by CTest).
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/auth_common.sh
. "$HERE/lib/auth_common.sh"

TOK="$MCP_BIN/mcp-token"
ADMIN="$MCP_BIN/mcp-admin"
ISS=https://issuer.test
DB="$TMP/store.db"
K="$TMP/keys"
mkdir -p "$K"

for alg in HS256 RS256 ES256 EdDSA; do
    "$TOK" keygen --alg "$alg" --out "$K/$alg" >/dev/null 2>&1 ||
        { echo "keygen $alg failed" >&2; exit 1; }
done
"$TOK" keygen --alg HS256 --out "$K/other" >/dev/null 2>&1 || exit 1

# mint ALG AUD [extra mcp-token args...]
mint() {
    local alg=$1 aud=$2 key
    shift 2
    case $alg in
        HS*) key=(--secret-file "$K/$alg.key") ;;
        *) key=(--key "$K/$alg.key") ;;
    esac
    "$TOK" mint "${key[@]}" --alg "$alg" --sub alice --iss "$ISS" --aud "$aud" --ttl 300 "$@" \
        2>/dev/null
}
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

# --- usage errors are caught at startup --------------------------------------------------------
expect_exit() {
    local want=$1 msg=$2 got
    shift 2
    "$MCP_BIN/mcp-conformance-server" --listen 127.0.0.1:0 "$@" >/dev/null 2>"$TMP/start.err" &
    local pid=$!
    PIDS+=("$pid")
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        bad "server started despite: $*"
        stop_server "$pid"
        return
    fi
    wait "$pid"
    got=$?
    if [ "$got" = "$want" ] && grep -qF -- "$msg" "$TMP/start.err"; then ok; else
        bad "start with [$*]: want exit $want and '$msg', got $got: $(cat "$TMP/start.err")"
    fi
}
expect_exit 2 "--auth jwt needs a key" --auth jwt --jwt-allow-no-issuer
expect_exit 2 "--auth jwt needs --issuer" --auth jwt --jwt-secret-file "$K/HS256.key"
expect_exit 2 "--auth apikey needs --db" --auth apikey
expect_exit 2 "secrets are read from files" --auth jwt --jwt-secret abc --issuer "$ISS"
expect_exit 2 "--auth wants" --auth basic
expect_exit 1 "$K/HS256.pub.pem" --auth jwt --jwt-public-key "$K/HS256.pub.pem" --issuer "$ISS"
expect_exit 1 "$K/RS256.key" --auth jwt --jwt-public-key "$K/RS256.key" --issuer "$ISS"

# --- no authentication: unchanged behaviour, no metadata -----------------------------------------
start_server none --stateless || exit 1
check "--auth none: tools/list 200 without credentials" test "$(post "$SRV_URL" "$LIST")" = 200
check "--auth none: no protected-resource metadata" \
    test "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$SRV_PRM")" = 404
stop_server "$SRV_PID"

# --- JWT: one server with an HMAC secret and three public keys ------------------------------------
start_server jwt --stateless --auth jwt --jwt-secret-file "$K/HS256.key" \
    --jwt-public-key "$K/RS256.pub.pem" --jwt-public-key "$K/ES256.pub.pem" \
    --jwt-public-key "$K/EdDSA.pub.pem" --issuer "$ISS" --scopes "tools:call User.Read" || exit 1
U=$SRV_URL
JWT_PRM=$SRV_PRM
expect_401 "no Authorization header" "$U" "" "missing Authorization header" ""
TOKENS=()
for alg in HS256 RS256 ES256 EdDSA; do
    t=$(mint "$alg" "$U")
    [ -n "$t" ] || bad "mint $alg failed"
    TOKENS+=("$t")
    expect_ok "good $alg token" "$U" "$t" -H "Authorization: Bearer $t"
done
# mint --count N: N lines, N distinct jtis, each token accepted
mint ES256 "$U" --count 3 >"$TMP/three.txt"
check "mint --count 3 prints 3 tokens" test "$(wc -l <"$TMP/three.txt")" = 3
check "mint --count 3: 3 distinct jtis" test "$(while read -r t; do
    "$TOK" inspect "$t" | grep -o '"jti": *"[0-9a-f]*"'; done <"$TMP/three.txt" | sort -u | wc -l)" = 3
while read -r t; do
    TOKENS+=("$t")
    expect_ok "token from mint --count" "$U" "$t" -H "Authorization: Bearer $t"
done <"$TMP/three.txt"
"$TOK" mint --secret-file "$K/HS256.key" --sub alice --count 2 --jti x >/dev/null 2>"$TMP/cnt.err"
check "mint --count with --jti: usage error 2" test $? = 2
check "mint --count with --jti: says why" grep -q "cannot be combined with --jti" "$TMP/cnt.err"
t=$(mint HS256 "$U" --ttl -120); TOKENS+=("$t")
expect_401 "expired token" "$U" invalid_token "token expired" "$t" -H "Authorization: Bearer $t"
t=$(mint RS256 "http://127.0.0.1:1/mcp"); TOKENS+=("$t")
expect_401 "token for another audience" "$U" invalid_token "audience mismatch" "$t" \
    -H "Authorization: Bearer $t"
t=$("$TOK" mint --secret-file "$K/HS256.key" --sub alice --iss https://evil.test --aud "$U" \
    --ttl 300 2>/dev/null); TOKENS+=("$t")
expect_401 "token from another issuer" "$U" invalid_token "issuer mismatch" "$t" \
    -H "Authorization: Bearer $t"
t=$("$TOK" mint --secret-file "$K/other.key" --sub alice --iss "$ISS" --aud "$U" --ttl 300 \
    2>/dev/null); TOKENS+=("$t")
expect_401 "token signed with another secret" "$U" invalid_token "signature invalid" "$t" \
    -H "Authorization: Bearer $t"
now=$(date +%s)
h=$(printf '{"alg":"none","typ":"JWT"}' | b64url)
p=$(printf '{"iss":"%s","aud":"%s","sub":"alice","exp":%d}' "$ISS" "$U" $((now + 300)) | b64url)
t="$h.$p.c2ln"; TOKENS+=("$t")
expect_401 "alg none (with a signature part)" "$U" invalid_token "unsupported alg" "$t" \
    -H "Authorization: Bearer $t"
t="$h.$p."; TOKENS+=("$t")
expect_status "alg none (empty signature)" "$U" 401 "$t" -H "Authorization: Bearer $t"
check "alg none: challenge is invalid_token" has "$(www)" 'error="invalid_token"'
h=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
t="$h.$p.$(printf 'x' | b64url)"; TOKENS+=("$t")
expect_401 "HS256 with a forged signature" "$U" invalid_token "signature invalid" "$t" \
    -H "Authorization: Bearer $t"
expect_401 "Basic scheme" "$U" invalid_request "Authorization scheme is not Bearer" "" \
    -H "Authorization: Basic YWxpY2U6c2VjcmV0"
expect_401 "Bearer without a token" "$U" invalid_request "malformed Authorization header" "" \
    -H "Authorization: Bearer"
expect_401 "opaque token without introspection" "$U" invalid_token \
    "opaque tokens are not accepted (token introspection is not enabled)" "opaque-value-123" \
    -H "Authorization: Bearer opaque-value-123"
FAKE_KEY=mcp_aaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
expect_401 "API key without --auth apikey" "$U" invalid_token \
    "API key authentication is not enabled" "$FAKE_KEY" -H "Authorization: Bearer $FAKE_KEY"

# protected-resource metadata, path-suffixed and root forms
for url in "$JWT_PRM" "http://127.0.0.1:$SRV_PORT/.well-known/oauth-protected-resource"; do
    code=$(curl -s --max-time 5 -o "$TMP/prm" -w '%{http_code}' "$url")
    want="{\"resource\":\"$U\",\"authorization_servers\":[\"$ISS\"],"
    want+="\"scopes_supported\":[\"tools:call\",\"User.Read\"],"
    want+="\"bearer_methods_supported\":[\"header\"]}"
    if [ "$code" = 200 ] && [ "$(cat "$TMP/prm")" = "$want" ]; then ok; else
        bad "PRM at $url: got $code $(cat "$TMP/prm")"
    fi
done
stop_server "$SRV_PID"
log_has_no_secret "$TMP/jwt.err" "${TOKENS[@]}"

# --- API keys from mcp-admin -------------------------------------------------------------------
"$ADMIN" --db "$DB" user add bob --name Bob >/dev/null 2>&1 || bad "mcp-admin user add bob"
"$ADMIN" --db "$DB" user add carol >/dev/null 2>&1 || bad "mcp-admin user add carol"
KEY_BOB=$("$ADMIN" --db "$DB" key create --owner bob --label it 2>/dev/null)
KEY_CAROL=$("$ADMIN" --db "$DB" key create --owner carol 2>/dev/null)
"$ADMIN" --db "$DB" --json key create --owner bob --label revoke-me >"$TMP/k.json" 2>/dev/null
KEY_REV=$(sed -n 's/.*"key":"\([^"]*\)".*/\1/p' "$TMP/k.json")
KEY_REV_ID=$(sed -n 's/.*"id":"\([^"]*\)".*/\1/p' "$TMP/k.json")
check "mcp-admin printed keys" test -n "$KEY_BOB" -a -n "$KEY_REV" -a -n "$KEY_REV_ID"

start_server apikey --stateless --auth apikey --db "$DB" || exit 1
U=$SRV_URL
expect_401 "apikey: no credential" "$U" "" "missing Authorization header" ""
expect_ok "API key as Bearer" "$U" "$KEY_BOB" -H "Authorization: Bearer $KEY_BOB"
expect_ok "API key as X-API-Key" "$U" "$KEY_BOB" -H "X-API-Key: $KEY_BOB"
expect_ok "key to be revoked, before" "$U" "$KEY_REV" -H "Authorization: Bearer $KEY_REV"
"$ADMIN" --db "$DB" key revoke "$KEY_REV_ID" >/dev/null 2>&1 || bad "mcp-admin key revoke"
# the server notices a change by another process within its change_check_ms (1 s)
for _ in $(seq 1 30); do
    [ "$(post "$U" "$LIST" -H "Authorization: Bearer $KEY_REV")" = 401 ] && break
    sleep 0.2
done
expect_401 "revoked API key" "$U" invalid_token "API key revoked" "$KEY_REV" \
    -H "Authorization: Bearer $KEY_REV"
forged="${KEY_BOB%?}A"
[ "$forged" = "$KEY_BOB" ] && forged="${KEY_BOB%?}B"
expect_401 "API key with a wrong secret" "$U" invalid_token "API key secret does not match" \
    "$forged" -H "Authorization: Bearer $forged"
expect_401 "malformed API key" "$U" invalid_token "API key malformed" "mcp_short" \
    -H "X-API-Key: mcp_short"
expect_401 "both headers" "$U" invalid_request "both Authorization and X-API-Key headers present" \
    "$KEY_BOB" -H "Authorization: Bearer $KEY_BOB" -H "X-API-Key: $KEY_BOB"
t=$(mint HS256 "$U")
expect_401 "JWT without --auth jwt" "$U" invalid_token "JWT authentication is not enabled" "$t" \
    -H "Authorization: Bearer $t"
stop_server "$SRV_PID"
log_has_no_secret "$TMP/apikey.err" "$KEY_BOB" "$KEY_REV" "$forged" "$t"

# --- API keys and JWTs together, with sessions (stateful) ----------------------------------------
start_server combined --auth apikey,jwt --db "$DB" --jwt-secret-file "$K/HS256.key" \
    --issuer "$ISS" || exit 1
U=$SRV_URL
TA=$(mint HS256 "$U" --jti jti-alice-1)
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",'
INIT+='"capabilities":{},"clientInfo":{"name":"it","version":"1"}}}'
code=$(post "$U" "$INIT" -H "Authorization: Bearer $TA")
SID=$(header Mcp-Session-Id)
check "initialize as alice (JWT): 200 and a session id (got $code)" test "$code" = 200 -a -n "$SID"
code=$(post "$U" '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
    -H "Authorization: Bearer $TA" -H "Mcp-Session-Id: $SID")
check "notifications/initialized: 202 (got $code)" test "$code" = 202
expect_ok "alice uses her session" "$U" "$TA" -H "Authorization: Bearer $TA" \
    -H "Mcp-Session-Id: $SID"
expect_status "bob (API key) cannot use alice's session" "$U" 404 "$KEY_BOB" \
    -H "Authorization: Bearer $KEY_BOB" -H "Mcp-Session-Id: $SID"
TA2=$(mint HS256 "$U" --sub mallory --jti jti-m)
expect_status "another JWT subject cannot use alice's session" "$U" 404 "$TA2" \
    -H "Authorization: Bearer $TA2" -H "Mcp-Session-Id: $SID"
expect_401 "no credential on alice's session" "$U" "" "missing Authorization header" \
    "" -H "Mcp-Session-Id: $SID"
code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' -X DELETE \
    -H "Authorization: Bearer $KEY_BOB" -H "Mcp-Session-Id: $SID" "$U")
check "bob cannot delete alice's session (got $code)" test "$code" = 404
expect_ok "alice's session survives" "$U" "$TA" -H "Authorization: Bearer $TA" \
    -H "Mcp-Session-Id: $SID"
code=$(post "$U" "$INIT" -H "X-API-Key: $KEY_CAROL")
SIDC=$(header Mcp-Session-Id)
check "initialize as carol (X-API-Key)" test "$code" = 200 -a -n "$SIDC"
expect_status "alice cannot use carol's session" "$U" 404 "$TA" -H "Authorization: Bearer $TA" \
    -H "Mcp-Session-Id: $SIDC"
# a JWT revoked in the store by its jti (mcp-admin token revoke)
TR=$(mint HS256 "$U" --jti jti-to-revoke)
"$ADMIN" --db "$DB" token revoke jti-to-revoke >/dev/null 2>&1 || bad "mcp-admin token revoke"
for _ in $(seq 1 30); do
    [ "$(post "$U" "$LIST" -H "Authorization: Bearer $TR")" = 401 ] && break
    sleep 0.2
done
PRM_FOR="http://127.0.0.1:$SRV_PORT/.well-known/oauth-protected-resource/mcp" \
    expect_401 "JWT whose jti is revoked" "$U" invalid_token "token revoked" "$TR" \
    -H "Authorization: Bearer $TR"
stop_server "$SRV_PID"
log_has_no_secret "$TMP/combined.err" "$TA" "$TA2" "$TR" "$KEY_BOB" "$KEY_CAROL"

# --- introspection endpoint unreachable: fail closed with 503 -------------------------------------
printf 'secret-for-nothing\n' >"$TMP/intro.secret"
start_server intro --stateless --auth introspection \
    --introspection-url http://127.0.0.1:1/introspect --introspection-client-id rs \
    --introspection-client-secret-file "$TMP/intro.secret" --issuer "$ISS" || exit 1
U=$SRV_URL
expect_status "opaque token, endpoint down: 503" "$U" 503 "opaque-tok-1" \
    -H "Authorization: Bearer opaque-tok-1"
check "503 carries no challenge" test -z "$(www)"
check "503 is generic (detail only in the log)" grep -q '"credential or user store unavailable"' "$TMP/body"
expect_401 "introspection mode: no credential" "$U" "" "missing Authorization header" ""
stop_server "$SRV_PID"
log_has_no_secret "$TMP/intro.err" "opaque-tok-1" "secret-for-nothing"

summary
