#!/usr/bin/env bash
# `--issuer` alone against the real test provider (../shared/idp, oidc-provider on loopback),
# and a server that starts while the provider is down (issue 14):
#  1. the provider is started once to learn a free port, then stopped;
#  2. the server starts with `--auth jwt --issuer ISSUER` only (JWKS from discovery): it serves,
#     its log says there are no signing keys yet, /ready is 503 naming them, a bearer JWT is
#     answered 503 (not 401);
#  3. the provider comes back on the same port (same state dir, same keys): the background
#     retry discovers the jwks_uri and fetches it, /ready turns 200, an IdP token calls a tool;
#  4. `--auth jwt,introspection --issuer ISSUER` discovers the introspection endpoint as well:
#     an opaque token is accepted through it.
# Needs $MCP_BIN and $MCP_SHARED (set by CTest). The provider's first start runs `npm ci`.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/auth_common.sh
. "$HERE/lib/auth_common.sh"

: "${MCP_SHARED:?MCP_SHARED must point at the shared/ directory}"
IDP_START="$MCP_SHARED/idp/start.sh"
[ -x "$IDP_START" ] || { echo "missing $IDP_START" >&2; exit 1; }

# start_idp PORT: the provider on PORT (0: any); sets IDP_PID and I (the issuer)
start_idp() {
    : >"$TMP/idp.out"
    "$IDP_START" --port "$1" --state-dir "$TMP/idp" >"$TMP/idp.out" 2>>"$TMP/idp.err" &
    IDP_PID=$!
    PIDS+=("$IDP_PID")
    local _
    for _ in $(seq 1 360); do
        grep -q '^IDP_READY ' "$TMP/idp.out" && break
        kill -0 "$IDP_PID" 2>/dev/null || { echo "IdP exited: $(tail -5 "$TMP/idp.err")" >&2; return 1; }
        sleep 0.5
    done
    I=$(sed -n 's/^IDP_READY issuer=//p' "$TMP/idp.out")
    [ -n "$I" ] || { echo "IdP not ready after 180 s: $(tail -5 "$TMP/idp.err")" >&2; return 1; }
}
ready_code() { curl -s --max-time 5 -o "$TMP/ready" -w '%{http_code}' "${1%/mcp}/ready"; }
token() {
    local res=()
    [ -n "$1" ] && res=(-d "resource=$1")
    curl -s --max-time 10 -u mcp-cc:mcp-cc-secret -d grant_type=client_credentials "${res[@]}" \
        --data-urlencode "scope=${2:-User.Read}" "$I/token" |
        sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
}

# --- 1. learn a port, then take the provider down --------------------------------------------
mkdir -p "$TMP/idp"
start_idp 0 || exit 1
IDP_PORT=${I##*:}
ISSUER=$I
kill "$IDP_PID"
wait "$IDP_PID" 2>/dev/null
code=$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' "$ISSUER/.well-known/openid-configuration")
check "the provider is down (got $code)" test "$code" = 000

# --- 2. the server starts without it ------------------------------------------------------------
start_server disc --stateless --auth jwt --issuer "$ISSUER" --jwks-min-interval 1 || exit 1
U=$SRV_URL
check "provider down: the server starts and says it has no signing keys yet" \
    grep -q 'no signing keys at start-up, retrying in the background' "$TMP/disc.err"
code=$(ready_code "$U")
check "provider down: /ready 503 (got $code)" test "$code" = 503
check "provider down: the reason names the keys and the discovery ($(cat "$TMP/ready"))" \
    grep -q '"reason":"JWT signing keys: discovery of' "$TMP/ready"
"$MCP_BIN/mcp-token" keygen --alg ES256 --out "$TMP/k" >/dev/null || exit 1
TX=$("$MCP_BIN/mcp-token" mint --key "$TMP/k.key" --alg ES256 --kid some-kid --sub alice \
    --iss "$ISSUER" --aud "$U" --ttl 600)
code=$(post "$U" "$LIST" -H "Authorization: Bearer $TX")
check "provider down: a bearer JWT is answered 503, not 401 (got $code)" test "$code" = 503

# --- 3. the provider comes back ------------------------------------------------------------------
start_idp "$IDP_PORT" || exit 1
check "the provider is back with the same issuer ($I)" test "$I" = "$ISSUER"
ready=""
for _ in $(seq 1 450); do                 # the retry backoff is at most 30 s
    [ "$(ready_code "$U")" = 200 ] && { ready=1; break; }
    sleep 0.1
done
check "provider back: /ready turns 200 ($(cat "$TMP/ready"))" test -n "$ready"
check "provider back: the jwks_uri was discovered" \
    grep -q "discovered jwks_uri .* from issuer $ISSUER" "$TMP/disc.err"
T1=$(token "$U" "User.Read tools:call")
check "the provider issued a JWT for $U" test "$(printf '%s' "$T1" | tr -cd . | wc -c)" = 2
code=$(post "$U" "$CALL" -H "Authorization: Bearer $T1")
check "provider back: tools/call with its token (got $code)" test "$code" = 200
check "provider back: tools/call result" grep -q 'echo: hi' "$TMP/body"
expect_401 "a token signed by a key the provider never had: 401 again" "$U" invalid_token \
    "no key for kid" "$TX" -H "Authorization: Bearer $TX"
stop_server "$SRV_PID"

# --- 4. the introspection endpoint from discovery as well ---------------------------------------
printf 'mcp-introspector-secret\n' >"$TMP/introspector.secret"
chmod 600 "$TMP/introspector.secret"
start_server intro --stateless --auth jwt,introspection --issuer "$I" \
    --introspection-client-id mcp-introspector \
    --introspection-client-secret-file "$TMP/introspector.secret" || exit 1
U=$SRV_URL
check "introspection: the endpoint was discovered" \
    grep -q "token introspection: discovered endpoint $I/" "$TMP/intro.err"
code=$(ready_code "$U")
check "introspection: /ready 200 (got $code $(cat "$TMP/ready"))" test "$code" = 200
curl -s --max-time 10 -X POST "$I/test/config?format=opaque" >/dev/null
O1=$(token "$U" "User.Read tools:call")
curl -s --max-time 10 -X POST "$I/test/config?reset=1" >/dev/null
check "the provider issued an opaque token" test -n "$O1" -a "${O1#*.}" = "$O1"
expect_ok "opaque token via the discovered introspection endpoint" "$U" "$O1" \
    -H "Authorization: Bearer $O1"
stop_server "$SRV_PID"
log_has_no_secret "$TMP/intro.err" "$O1" "mcp-introspector-secret"
log_has_no_secret "$TMP/disc.err" "$T1"
summary
