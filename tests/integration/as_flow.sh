#!/usr/bin/env bash
# The embedded authorization server end to end (issue 12), driven by curl against
# mcp-products --embedded-as on 127.0.0.1: metadata and PRM, the login page (CSRF, wrong
# password, throttle), authorize -> code -> token (PKCE required, exact redirect, single-use
# code), a tool call with the token, refresh rotation, reuse of an old refresh token revoking
# the family (and the access token issued with it), a restart keeping the grants, scopes bound
# by the user's roles, client_credentials, and no secret in any log.
set -u
. "$(dirname "$0")/lib/products_common.sh"
command -v openssl >/dev/null || { echo "openssl is required" >&2; exit 1; }

PW='correct horse battery staple'
A user add alice --name Alice --role user >/dev/null || exit 1
A user add bob --role guest >/dev/null || exit 1
printf '%s\n' "$PW" | A user passwd alice || exit 1
printf '%s\n' "$PW" | A user passwd bob || exit 1
A client add cli --name "Test CLI" --redirect-uri http://127.0.0.1/callback >/dev/null || exit 1
SECRET_CC=$(A client add robot --confidential --owner alice 2>/dev/null) || exit 1
eq "client secret printed once" "${#SECRET_CC}" 43
check "passwords stored hashed (scrypt)" test "$(python3 -c 'import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM user_passwords WHERE hash LIKE ?",
      ("$scrypt$ln=15,r=8,p=1$%",)).fetchone()[0])' "$DB")" = 2

# ---- usage errors (exit 2) --------------------------------------------------------------
usage_rc() {
    local rc=0
    "$MCP_BIN/mcp-products" "$@" >/dev/null 2>"$TMP/usage.err" || rc=$?
    echo "$rc"
}
eq "--embedded-as needs --db" "$(usage_rc --embedded-as)" 2
eq "--embedded-as with --auth jwt" "$(usage_rc --embedded-as --db "$DB" --auth jwt \
    --jwt-secret-file "$SECRET" --issuer "$ISS")" 2
eq "--as-key-file needs --embedded-as" "$(usage_rc --db "$DB" --as-key-file "$TMP/k.pem")" 2
eq "--as-registration needs --embedded-as" "$(usage_rc --db "$DB" --as-registration)" 2
eq "--as-cimd-allow-internal needs --embedded-as" "$(usage_rc --db "$DB" --as-cimd-allow-internal)" 2
eq "PostgreSQL store needs --as-key-file" "$(usage_rc --embedded-as --db postgresql://u@h/d)" 2
eq "--embedded-as with --stdio" "$(usage_rc --embedded-as --db "$DB" --stdio)" 2

start_products as --embedded-as || exit 1
ORIGIN="http://127.0.0.1:$SRV_PORT"
CB="http://127.0.0.1:45123/callback"   # a loopback redirect: any port matches (RFC 8252)

# ---- metadata -------------------------------------------------------------------------------
META=$(curl -s --max-time 5 "$ORIGIN/.well-known/oauth-authorization-server")
eq "issuer" "$(jq -r .issuer <<<"$META")" "$ORIGIN"
eq "S256 only" "$(jq -c .code_challenge_methods_supported <<<"$META")" '["S256"]'
eq "iss parameter" "$(jq -r .authorization_response_iss_parameter_supported <<<"$META")" true
eq "openid path" "$(curl -s --max-time 5 "$ORIGIN/.well-known/openid-configuration" | jq -r .issuer)" "$ORIGIN"
eq "PRM names the AS" "$(curl -s --max-time 5 "$SRV_PRM" | jq -r '.authorization_servers[0]')" "$ORIGIN"
eq "a rebound Host is refused" "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
    -H 'Host: attacker.example' "$ORIGIN/.well-known/oauth-authorization-server")" 403
eq "registration off by default" "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
    -H 'Content-Type: application/json' -d '{"redirect_uris":["http://127.0.0.1/cb"]}' \
    "$ORIGIN/register")" 404
check "no registration_endpoint when off" test "$(jq -r '.registration_endpoint // "none"' <<<"$META")" = none
eq "jwks alg" "$(curl -s --max-time 5 "$ORIGIN/jwks" | jq -r '.keys[0].alg')" ES256

# ---- helpers --------------------------------------------------------------------------------
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
new_pkce() {
    VERIFIER=$(head -c 32 /dev/urandom | b64url)
    CHALLENGE=$(printf '%s' "$VERIFIER" | openssl dgst -sha256 -binary | b64url)
}
# authorize_get CLIENT REDIRECT [EXTRA-QUERY]: the login page into $TMP/page (status printed)
authorize_get() {
    rm -f "$TMP/jar"
    curl -s --max-time 5 -c "$TMP/jar" -b "$TMP/jar" -o "$TMP/page" -D "$TMP/ahdrs" \
        -w '%{http_code}' -G "$ORIGIN/authorize" --data-urlencode response_type=code \
        --data-urlencode "client_id=$1" --data-urlencode "redirect_uri=$2" \
        --data-urlencode state=xyz --data-urlencode "code_challenge=$CHALLENGE" \
        --data-urlencode code_challenge_method=S256 --data-urlencode "resource=$SRV_URL" \
        ${SCOPE:+--data-urlencode "scope=$SCOPE"} ${3:+$3}
}
field() { sed -n "s/.*name=\"$1\" value=\"\([^\"]*\)\".*/\1/p" "$TMP/page" | head -n 1; }
# login USER PASSWORD: post the form of the page in $TMP/page (with $SCOPE); status printed
login() {
    local ts tok
    ts=$(grep -o 'name="csrf_ts" value="[0-9]*"' "$TMP/page" | grep -o '[0-9]*"$' | tr -d '"')
    tok=$(grep -o 'name="csrf_token" value="[^"]*"' "$TMP/page" | sed 's/.*value="//; s/"$//')
    curl -s --max-time 10 -b "$TMP/jar" -o "$TMP/page2" -D "$TMP/lhdrs" -w '%{http_code}' \
        "$ORIGIN/authorize" --data-urlencode response_type=code --data-urlencode client_id=cli \
        --data-urlencode "redirect_uri=$CB" --data-urlencode state=xyz \
        --data-urlencode "code_challenge=$CHALLENGE" --data-urlencode code_challenge_method=S256 \
        --data-urlencode "resource=$SRV_URL" ${SCOPE:+--data-urlencode "scope=$SCOPE"} \
        --data-urlencode "csrf_ts=$ts" --data-urlencode "csrf_token=$tok" \
        --data-urlencode "username=$1" --data-urlencode "password=$2" --data-urlencode action=allow
}
location() { grep -i '^location:' "$1" | sed 's/^[^:]*: //' | tr -d '\r'; }
qparam() { sed -n "s/.*[?&]$2=\([^&]*\).*/\1/p" <<<"$1"; }
# token FORM-ARGS...: POST /token; status printed, body in $TMP/tok
token() {
    curl -s --max-time 10 -o "$TMP/tok" -D "$TMP/thdrs" -w '%{http_code}' "$ORIGIN/token" "$@"
}
code_grant() {  # CODE VERIFIER
    token --data-urlencode grant_type=authorization_code --data-urlencode "code=$1" \
        --data-urlencode "redirect_uri=$CB" --data-urlencode client_id=cli \
        ${2:+--data-urlencode "code_verifier=$2"}
}
refresh() {
    token --data-urlencode grant_type=refresh_token --data-urlencode "refresh_token=$1" \
        --data-urlencode client_id=cli
}
# get_code USER: sets CODE (empty on failure) and VERIFIER, for cli and $SCOPE
get_code() {
    CODE=""
    new_pkce
    authorize_get cli "$CB" >/dev/null
    [ "$(login "$1" "$PW")" = 303 ] || return 0
    CODE=$(qparam "$(location "$TMP/lhdrs")" code)
}
SCOPE=""

# ---- the login page -------------------------------------------------------------------------
new_pkce
eq "unknown client: error page" "$(authorize_get nobody "$CB")" 400
eq "unknown client: no redirect" "$(location "$TMP/ahdrs")" ""
eq "unregistered redirect: error page" "$(authorize_get cli "https://evil.example/cb")" 400
eq "unregistered redirect: no redirect" "$(location "$TMP/ahdrs")" ""
eq "loopback other path refused" "$(authorize_get cli "http://127.0.0.1:9/other")" 400
CHALLENGE_SAVE=$CHALLENGE; CHALLENGE=""
eq "no PKCE: redirected with an error" "$(authorize_get cli "$CB")" 302
check "no PKCE: invalid_request, state and iss" has "$(location "$TMP/ahdrs")" \
    "error=invalid_request"
check "error carries state and iss" has "$(location "$TMP/ahdrs")" "&state=xyz&iss="
CHALLENGE=$CHALLENGE_SAVE
eq "foreign resource refused" "$(authorize_get cli "$CB" '--data-urlencode resource=https://elsewhere.example/mcp')" 400
eq "login page" "$(authorize_get cli "$CB")" 200
check "page cannot be framed" grep -qi '^x-frame-options: DENY' "$TMP/ahdrs"
check "CSRF cookie" grep -qi '^set-cookie: mcp_as_csrf=.*HttpOnly; SameSite=Strict' "$TMP/ahdrs"

# CSRF: the same form without the cookie, and with a tampered token
cp "$TMP/jar" "$TMP/jar.keep"; : >"$TMP/jar"
eq "form without the CSRF cookie" "$(login alice "$PW")" 403
cp "$TMP/jar.keep" "$TMP/jar"
sed -i 's/name="csrf_token" value="\(.\)/name="csrf_token" value="x\1/' "$TMP/page"
eq "tampered CSRF token" "$(login alice "$PW")" 403

eq "wrong password" "$(authorize_get cli "$CB")" 200
eq "wrong password refused" "$(login alice 'not the password')" 401
check "wrong password: no code" test -z "$(location "$TMP/lhdrs")"

# ---- authorize -> code -> token -------------------------------------------------------------
eq "login page again" "$(authorize_get cli "$CB")" 200
eq "login" "$(login alice "$PW")" 303
LOC=$(location "$TMP/lhdrs")
check "redirect to the callback" has "$LOC" "$CB?code="
eq "state returned" "$(qparam "$LOC" state)" xyz
eq "iss returned" "$(qparam "$LOC" iss)" "$(printf '%s' "$ORIGIN" | jq -sRr @uri)"
CODE=$(qparam "$LOC" code)
eq "no verifier" "$(code_grant "$CODE" "")" 400
eq "no verifier: invalid_request" "$(jq -r .error "$TMP/tok")" invalid_request
eq "token" "$(code_grant "$CODE" "$VERIFIER")" 200
check "no-store" grep -qi '^cache-control: no-store' "$TMP/thdrs"
AT=$(jq -r .access_token "$TMP/tok"); RT1=$(jq -r .refresh_token "$TMP/tok")
eq "scope = alice's permissions" "$(jq -r .scope "$TMP/tok")" "User.Read User.Write"
jwt_part() {
    local p
    p=$(cut -d. -f"$1" <<<"$2" | tr '_-' '/+')
    while [ $((${#p} % 4)) -ne 0 ]; do p="$p="; done
    base64 -d <<<"$p"
}
eq "typ at+jwt" "$(jwt_part 1 "$AT" | jq -r .typ)" at+jwt
eq "alg ES256" "$(jwt_part 1 "$AT" | jq -r .alg)" ES256
eq "aud is exactly the resource" "$(jwt_part 2 "$AT" | jq -r .aud)" "$SRV_URL"
eq "iss" "$(jwt_part 2 "$AT" | jq -r .iss)" "$ORIGIN"
eq "client_id claim" "$(jwt_part 2 "$AT" | jq -r .client_id)" cli
check "jti claim" test -n "$(jwt_part 2 "$AT" | jq -r '.jti // empty')"
curl -s --max-time 5 "$ORIGIN/jwks" >"$TMP/jwks.json"
if "$MCP_BIN/mcp-token" verify "$AT" --jwks-file "$TMP/jwks.json" --alg ES256 --iss "$ORIGIN" \
    --aud "$SRV_URL" --typ at+jwt >/dev/null; then ok; else bad "verifies against /jwks"; fi

# a code used twice: refused, and the tokens issued for it are revoked
get_code alice
CODE3=$CODE
eq "token for code 3" "$(code_grant "$CODE3" "$VERIFIER")" 200
AT_C3=$(jq -r .access_token "$TMP/tok"); RT_C3=$(jq -r .refresh_token "$TMP/tok")
eq "code reused" "$(code_grant "$CODE3" "$VERIFIER")" 400
eq "code reused: invalid_grant" "$(jq -r .error "$TMP/tok")" invalid_grant
eq "code reuse revokes its refresh token" "$(refresh "$RT_C3")" 400
wait_for "code reuse revokes its access token" status_is 401 "$AT_C3" "" "$INIT"

# a second code: a wrong verifier burns it
get_code alice
eq "wrong verifier" "$(code_grant "$CODE" "$(head -c 32 /dev/urandom | b64url)")" 400
eq "wrong verifier: invalid_grant" "$(jq -r .error "$TMP/tok")" invalid_grant

# ---- the token calls a tool -----------------------------------------------------------------
SID=$(open_session "$AT")
check "session with the access token" test -n "$SID"
eq "tool call" "$(rpc "$AT" "$SID" "$(call_json 2 list_products '{}')")" 200
check "tool result" test "$(jq -r '.result.isError // false' "$TMP/body")" = false

# ---- refresh rotation and reuse detection ---------------------------------------------------
eq "refresh" "$(refresh "$RT1")" 200
RT2=$(jq -r .refresh_token "$TMP/tok"); AT2=$(jq -r .access_token "$TMP/tok")
check "rotated" test "$RT2" != "$RT1" -a -n "$RT2"
eq "new access token works" "$(rpc "$AT2" "" "$INIT")" 200

# a restart keeps the grants (they live in the store): same port, so the same issuer
PORT=$SRV_PORT
stop_products
start_products as2 --embedded-as --listen "127.0.0.1:$PORT" || exit 1
eq "same origin after restart" "http://127.0.0.1:$SRV_PORT" "$ORIGIN"
eq "refresh after restart" "$(refresh "$RT2")" 200
RT3=$(jq -r .refresh_token "$TMP/tok"); AT3=$(jq -r .access_token "$TMP/tok")
eq "access token after restart" "$(rpc "$AT3" "" "$INIT")" 200

eq "old refresh token reused" "$(refresh "$RT1")" 400
eq "reuse: invalid_grant" "$(jq -r .error "$TMP/tok")" invalid_grant
eq "family revoked: the newest refresh token too" "$(refresh "$RT3")" 400
wait_for "family revoked: its access token is refused" status_is 401 "$AT3" "" "$INIT"
check "reuse audited" grep -q 'audit: refresh token reused (client cli)' "$SRV_LOG"

# ---- scopes never exceed the user's roles ---------------------------------------------------
SCOPE="User.Write Guest.Read"
get_code bob
eq "bob's token" "$(code_grant "$CODE" "$VERIFIER")" 200
eq "bob gets only Guest.Read" "$(jq -r .scope "$TMP/tok")" Guest.Read
new_pkce
SCOPE=User.Write
authorize_get cli "$CB" >/dev/null
eq "only scopes bob lacks" "$(login bob "$PW")" 302
check "invalid_scope" has "$(location "$TMP/lhdrs")" "error=invalid_scope"

SCOPE=""

# ---- client credentials ---------------------------------------------------------------------
eq "client_credentials, secret_basic" "$(token -u "robot:$SECRET_CC" \
    --data-urlencode grant_type=client_credentials --data-urlencode "resource=$SRV_URL")" 200
CC=$(jq -r .access_token "$TMP/tok")
check "no refresh token for client_credentials" test "$(jq -r '.refresh_token // "none"' "$TMP/tok")" = none
eq "client_credentials token calls the server" "$(rpc "$CC" "" "$INIT")" 200
eq "client_credentials, secret_post" "$(token --data-urlencode grant_type=client_credentials \
    --data-urlencode client_id=robot --data-urlencode "client_secret=$SECRET_CC")" 200
eq "wrong client secret" "$(token -u "robot:wrong" --data-urlencode grant_type=client_credentials)" 401
eq "public client cannot" "$(token --data-urlencode grant_type=client_credentials \
    --data-urlencode client_id=cli)" 400

# ---- revocation (RFC 7009) --------------------------------------------------------------
eq "metadata names /revoke" "$(jq -r .revocation_endpoint <<<"$META")" "$ORIGIN/revoke"
get_code alice
eq "token for revocation" "$(code_grant "$CODE" "$VERIFIER")" 200
AT4=$(jq -r .access_token "$TMP/tok"); RT4=$(jq -r .refresh_token "$TMP/tok")
revoke() {  # TOKEN [curl client args]
    local t=$1
    shift
    curl -s --max-time 10 -o "$TMP/rev" -w '%{http_code}' "$ORIGIN/revoke" \
        --data-urlencode "token=$t" "$@"
}
introspect() {  # TOKEN [curl client args]
    local t=$1
    shift
    curl -s --max-time 10 -o "$TMP/intro" -w '%{http_code}' "$ORIGIN/introspect" \
        --data-urlencode "token=$t" "$@"
}
eq "introspect (confidential client)" "$(introspect "$AT4" -u "robot:$SECRET_CC")" 200
eq "introspect: active" "$(jq -r .active "$TMP/intro")" true
eq "introspect: sub" "$(jq -r .sub "$TMP/intro")" alice
eq "introspect: aud" "$(jq -r .aud "$TMP/intro")" "$SRV_URL"
eq "introspect: a refresh token is not active" "$(introspect "$RT4" -u "robot:$SECRET_CC"; jq -r .active "$TMP/intro")" "200false"
eq "introspect needs a confidential client" "$(introspect "$AT4" --data-urlencode client_id=cli)" 401
eq "introspect with a wrong secret" "$(introspect "$AT4" -u robot:wrong)" 401
eq "another client's revocation answers 200" "$(revoke "$AT4" -u "robot:$SECRET_CC")" 200
eq "... and leaves the token alone" "$(rpc "$AT4" "" "$INIT")" 200
eq "revoke the access token" "$(revoke "$AT4" --data-urlencode client_id=cli)" 200
eq "revoked access token refused at once" "$(rpc "$AT4" "" "$INIT")" 401
eq "introspect: revoked is not active" "$(introspect "$AT4" -u "robot:$SECRET_CC"; jq -r .active "$TMP/intro")" "200false"
eq "revoke the refresh token" "$(revoke "$RT4" --data-urlencode client_id=cli)" 200
eq "revoked refresh token refused" "$(refresh "$RT4")" 400
eq "unknown token: 200 as well" "$(revoke "not-a-token" --data-urlencode client_id=cli)" 200
eq "revocation needs client authentication" "$(revoke "$RT4")" 401

# ---- brute force is throttled ---------------------------------------------------------------
for i in 1 2 3 4 5; do
    authorize_get cli "$CB" >/dev/null
    login bob "wrong $i" >/dev/null
done
authorize_get cli "$CB" >/dev/null
eq "throttled after 5 failures" "$(login bob "$PW")" 429
check "Retry-After" grep -qi '^retry-after: [0-9]' "$TMP/lhdrs"

# ---- no secret in any log -------------------------------------------------------------------
stop_products
for s in "$PW" "$SECRET_CC" "$RT1" "$RT2" "$AT" "$VERIFIER"; do
    if grep -qF -- "$s" "$TMP"/as.err "$TMP"/as2.err "$TMP"/as.out "$TMP"/as2.out; then
        bad "a secret appears in the server log"
    else
        ok
    fi
done
if grep -q "AddressSanitizer\|LeakSanitizer\|runtime error:" "$TMP"/as.err "$TMP"/as2.err; then
    bad "sanitizer report in the server log"
else
    ok
fi
summary
