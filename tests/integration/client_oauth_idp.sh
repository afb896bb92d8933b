#!/usr/bin/env bash
# mcp-client --oauth against a real OpenID provider (oidc-provider, ../shared/idp) protecting our
# mcp-conformance-server (JWT access tokens checked through the provider's JWKS):
#   * discovery from the 401 (PRM -> AS metadata) and the client-credentials grant with
#     client_secret_basic, and with private_key_jwt (RS256 assertion signed by our code);
#   * the authorization code grant with PKCE, dynamic registration and the RFC 8707 resource,
#     headless (the provider logs in without a page), with the 0600 token cache reused by a
#     second run that makes no new authorization request;
#   * the interactive loopback login: the URL mcp-client prints is opened by a "browser" (curl
#     with a cookie jar), which lands on mcp-client's 127.0.0.1 listener;
#   * failures: no credential (exit 3), a wrong client secret (exit 3, reason, no secret echoed);
#   * --issuer: a credential without it warns once on stderr; pinned to the provider it works
#     silently; pinned to another issuer the client refuses (exit 3) without a single request to
#     the authorization server the MCP server names.
# Needs $MCP_BIN and $MCP_SHARED (set by CTest), node/npm for the provider (first start runs
# `npm ci`), curl. Everything listens on 127.0.0.1; every wait is bounded.
set -u
command -v curl >/dev/null || { echo "curl is required" >&2; exit 1; }
CLIENT_IT_TMP=/tmp/mcp-client-idp-it-XXXXXX
CLIENT_IT_TOOLS="mcp-client mcp-conformance-server"
CLIENT_IT_TIMEOUT=60
# shellcheck source=lib/client_common.sh
. "$(dirname "$0")/lib/client_common.sh"
# shellcheck source=lib/idp.sh
. "$(dirname "$0")/lib/idp.sh"

# --- the provider --------------------------------------------------------------------------------
idp_start || exit 1

# --- the MCP server: JWTs from the provider, PRM naming it and one scope ------------------------
"$MCP_BIN/mcp-conformance-server" --listen 127.0.0.1:0 --no-access-log --auth jwt \
    --jwks-url "$I/jwks" --issuer "$I" --scopes "mcp:read" >"$TMP/srv.out" 2>"$TMP/srv.err" &
PIDS+=($!)
port=$(listen_port "$TMP/srv.err")
[ -n "$port" ] || { echo "server did not start: $(cat "$TMP/srv.err")" >&2; exit 1; }
URL="http://127.0.0.1:$port/mcp"

# --- no credential -------------------------------------------------------------------------------
run --url "$URL" tools call echo text=x
eq "no credential: exit 3" "$RC" 3

# --- client credentials: client_secret_basic, then private_key_jwt --------------------------------
printf 'mcp-cc-secret\n' >"$TMP/cc.secret"
run --url "$URL" --oauth --grant client_credentials --client-id mcp-cc \
    --client-secret-file "$TMP/cc.secret" --no-token-cache -v tools call echo text=cc
eq "client credentials (basic): exit 0" "$RC" 0
eq "client credentials (basic): result" "$OUT" "echo: cc"
has "discovered the PRM" "$ERR" "/.well-known/oauth-protected-resource/mcp -> 200"
has "discovered the AS metadata" "$ERR" "$I/.well-known/oauth-authorization-server -> 200"
case "$ERR" in *mcp-cc-secret*) bad "the client secret was logged" ;; *) ok ;; esac
eq "no --issuer: one warning line" "$(printf '%s\n' "$ERR" | grep -c '^mcp-client: warning: ')" 1
has "no --issuer: the warning names the risk" "$ERR" \
    "warning: the client secret will be sent to whatever authorization server the MCP server names"

# --- --issuer: pinned to the provider, then to another issuer -------------------------------------
run --url "$URL" --oauth --grant client_credentials --client-id mcp-cc \
    --client-secret-file "$TMP/cc.secret" --issuer "$I" --no-token-cache -v \
    tools call echo text=pin
eq "pinned issuer: exit 0" "$RC" 0
eq "pinned issuer: result" "$OUT" "echo: pin"
eq "pinned issuer: no warning" "$(printf '%s\n' "$ERR" | grep -c '^mcp-client: warning: ')" 0
n=$(printf '%s\n' "$ERR" | grep -cE "oauth: (GET|POST) $I")
[ "$n" -ge 2 ] && ok || bad "pinned issuer: requests to the provider logged ($n)"

run --url "$URL" --oauth --grant client_credentials --client-id mcp-cc \
    --client-secret-file "$TMP/cc.secret" --issuer "http://127.0.0.1:9/other-as" --no-token-cache \
    -v tools list
eq "other pinned issuer: exit 3" "$RC" 3
has "other pinned issuer: reason" "$ERR" "not the pinned issuer http://127.0.0.1:9/other-as"
has "other pinned issuer: the PRM was read" "$ERR" "/.well-known/oauth-protected-resource/mcp -> 200"
eq "other pinned issuer: no request to the named AS" \
    "$(printf '%s\n' "$ERR" | grep -cE "oauth: (GET|POST) $I")" 0

run --url "$URL" --issuer "$I" tools list
eq "--issuer without --oauth: exit 2" "$RC" 2

run --url "$URL" --oauth --grant client_credentials --client-id mcp-cc-jwt \
    --private-key "$TMP/idp/mcp-cc-jwt.key.pem" --signing-alg RS256 --no-token-cache \
    tools call echo text=jwt
eq "client credentials (private_key_jwt RS256): exit 0" "$RC" 0
eq "client credentials (private_key_jwt RS256): result" "$OUT" "echo: jwt"
has "private key without --issuer: warning" "$ERR" "the client private_key_jwt assertion will be sent"

printf 'wrong-secret\n' >"$TMP/bad.secret"
run --url "$URL" --oauth --grant client_credentials --client-id mcp-cc \
    --client-secret-file "$TMP/bad.secret" --no-token-cache tools list
eq "wrong secret: exit 3" "$RC" 3
has "wrong secret: reason" "$ERR" "token endpoint refused the request"
case "$ERR" in *wrong-secret*) bad "the bad secret was echoed" ;; *) ok ;; esac

# --- authorization code + PKCE + DCR, headless; token cache --------------------------------------
CACHE="$TMP/cache/tokens.json"
mkdir -p "$TMP/cache"
run --url "$URL" --oauth --login headless --token-cache "$CACHE" -v tools call echo text=code
eq "auth code (headless): exit 0" "$RC" 0
eq "auth code (headless): result" "$OUT" "echo: code"
has "registered dynamically" "$ERR" "registered client"
has "scope from the PRM" "$ERR" "authorization request #1 (scope: mcp:read"
eq "token cache mode" "$(stat -c %a "$CACHE" 2>/dev/null)" 600
run --url "$URL" --oauth --login headless --token-cache "$CACHE" -v tools call echo text=again
eq "cached token: exit 0" "$RC" 0
eq "cached token: result" "$OUT" "echo: again"
case "$ERR" in *"authorization request"*) bad "the cached token was not reused" ;; *) ok ;; esac

# --- interactive loopback login, with curl as the browser -----------------------------------------
timeout 60 "$MCP_BIN/mcp-client" --url "$URL" --oauth --no-token-cache \
    tools call echo text=browser \
    >"$TMP/lb.out" 2>"$TMP/lb.err" &
LB=$!
AUTH_URL=""
for _ in $(seq 1 100); do
    AUTH_URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*/auth?[^ ]*' "$TMP/lb.err" | head -n 1)
    [ -n "$AUTH_URL" ] && break
    sleep 0.1
done
has "loopback: URL printed" "$AUTH_URL" "redirect_uri=http%3A%2F%2F127.0.0.1%3A"
if [ -n "$AUTH_URL" ]; then
    code=$(curl -s -L --max-redirs 10 --max-time 20 -c "$TMP/jar" -b "$TMP/jar" -o "$TMP/page" \
        -w '%{http_code}' "$AUTH_URL")
    eq "loopback: the browser lands on the listener" "$code" 200
    has "loopback: login page" "$(cat "$TMP/page")" "Login complete"
fi
wait "$LB"
eq "loopback login: exit 0" "$?" 0
eq "loopback login: result" "$(cat "$TMP/lb.out")" "echo: browser"

summary
