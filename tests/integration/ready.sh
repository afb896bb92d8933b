#!/usr/bin/env bash
# Readiness (/ready, issue 14): 200 {"status":"ready"} only when the store answers and the key
# sources are usable, else 503 {"status":"not ready","reason":...}; /health stays 200 (liveness).
#  1. no store, no auth: ready; POST is 405.
#  2. a store: ready; the file replaced under the server: 503 naming the store.
#  3. --jwks-url unreachable at start-up: the server starts anyway and says so, /ready is 503
#     naming the JWT keys, a token is answered 503 (not 401); once the JWKS is served (a plain
#     python3 http.server) the background retry fetches it, /ready turns 200 and the token works;
#     the same for the JWKS of an issuer of --trusted-issuers.
#  4. --issuer alone (OIDC discovery from the same static server): ready, token accepted; an
#     issuer whose metadata names another issuer is never ready (mismatch in the reason).
# Everything on 127.0.0.1; bounded waits.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/auth_common.sh
. "$HERE/lib/auth_common.sh"
command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }
command -v openssl >/dev/null || { echo "openssl is required" >&2; exit 1; }

# ready_code URL: prints the status of GET URL/ready; the body goes to $TMP/ready
ready_code() {
    curl -s --max-time 5 -o "$TMP/ready" -w '%{http_code}' "${1%/mcp}/ready"
}
# wait_ready URL SECONDS: until /ready answers 200
wait_ready() {
    local i
    for i in $(seq 1 $(($2 * 10))); do
        [ "$(ready_code "$1")" = 200 ] && return 0
        sleep 0.1
    done
    return 1
}
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# --- 1. nothing to depend on --------------------------------------------------------------
start_server plain || exit 1
code=$(ready_code "$SRV_URL")
check "no store, no auth: /ready 200 (got $code $(cat "$TMP/ready"))" \
    test "$code" = 200 -a "$(cat "$TMP/ready")" = '{"status":"ready"}'
code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$SRV_PORT/ready")
check "POST /ready is 405 (got $code)" test "$code" = 405
code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' -I "http://127.0.0.1:$SRV_PORT/ready")
check "HEAD /ready is 200 (got $code)" test "$code" = 200
stop_server "$SRV_PID"

# --- 2. the store ---------------------------------------------------------------------------
"$MCP_BIN/mcp-admin" --db "$TMP/s.db" init >/dev/null || { echo "mcp-admin init failed" >&2; exit 1; }
start_server store --auth apikey --db "$TMP/s.db" || exit 1
check "store: ready within 5 s" wait_ready "$SRV_URL" 5
mv "$TMP/s.db" "$TMP/s-moved.db"
for _ in $(seq 1 50); do [ "$(ready_code "$SRV_URL")" = 503 ] && break; sleep 0.1; done
code=$(ready_code "$SRV_URL")
check "store replaced: /ready 503 (got $code)" test "$code" = 503
check "store replaced: the reason names the store ($(cat "$TMP/ready"))" \
    test "$(cat "$TMP/ready")" = '{"status":"not ready","reason":"store: file missing or replaced since open"}'
code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SRV_PORT/health")
check "store replaced: /health still 200 (liveness; got $code)" test "$code" = 200
stop_server "$SRV_PID"

# --- 3. a JWKS URL that is down at start-up -------------------------------------------------
"$MCP_BIN/mcp-token" keygen --alg ES256 --out "$TMP/k" >/dev/null || exit 1
mkdir -p "$TMP/www/.well-known"
python3 - "$TMP/k.pub.pem" "$TMP/www/jwks.json" <<'EOF'
import base64, json, subprocess, sys
der = subprocess.run(["openssl", "pkey", "-pubin", "-in", sys.argv[1], "-outform", "DER"],
                     check=True, capture_output=True).stdout
pt = der[-64:]
b = lambda x: base64.urlsafe_b64encode(x).rstrip(b"=").decode()
json.dump({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
                     "x": b(pt[:32]), "y": b(pt[32:])}]}, open(sys.argv[2], "w"))
EOF
WPORT=$(free_port)
ISS="http://127.0.0.1:$WPORT"
start_server jwks --stateless --auth jwt --jwks-url "$ISS/jwks.json" --issuer "$ISS" --jwks-min-interval 1 ||
    exit 1
U=$SRV_URL
check "JWKS down: the server says so in its log" \
    grep -q 'no signing keys at start-up, retrying in the background' "$TMP/jwks.err"
code=$(ready_code "$U")
check "JWKS down: /ready 503 (got $code)" test "$code" = 503
check "JWKS down: the reason names the keys ($(cat "$TMP/ready"))" \
    grep -q '"reason":"JWT signing keys: JWKS fetch failed' "$TMP/ready"
TOK=$("$MCP_BIN/mcp-token" mint --key "$TMP/k.key" --alg ES256 --kid k1 --sub alice \
    --iss "$ISS" --aud "$U" --ttl 600)
code=$(post "$U" "$LIST" -H "Authorization: Bearer $TOK")
check "JWKS down: a token is answered 503, not 401 (got $code)" test "$code" = 503
check "JWKS down: the 503 is the store-unavailable error ($(head -c 200 "$TMP/body"))" \
    grep -q '"message":"credential or user store unavailable"' "$TMP/body"
check "JWKS down: the log says why" \
    grep -q '503: signing keys unavailable: the JWKS has not been fetched yet' "$TMP/jwks.err"
JPID=$SRV_PID
# a trusted issuer (--trusted-issuers) whose JWKS is down too: the server starts, not ready
head -c 32 /dev/urandom | base64 >"$TMP/hs.key"
printf '[{"issuer":"%s","jwks_url":"%s/jwks.json"}]' "$ISS" "$ISS" >"$TMP/issuers.json"
start_server trusted --stateless --auth jwt --jwt-secret-file "$TMP/hs.key" \
    --issuer https://main.example --trusted-issuers "$TMP/issuers.json" || exit 1
TU=$SRV_URL
TPID=$SRV_PID
code=$(ready_code "$TU")
check "trusted issuer's JWKS down: the server starts, /ready 503 (got $code $(cat "$TMP/ready"))" \
    test "$code" = 503
(cd "$TMP/www" && exec python3 -m http.server --bind 127.0.0.1 "$WPORT") \
    >"$TMP/www.out" 2>"$TMP/www.err" &
WWW_PID=$!
PIDS+=("$WWW_PID")
check "JWKS served: /ready turns 200 by the background retry (within 20 s)" wait_ready "$U" 20
check "JWKS served: the log says the keys arrived" \
    grep -q 'fetched after [0-9]* attempt(s): keys available' "$TMP/jwks.err"
expect_ok "JWKS served: the token is accepted" "$U" "$TOK" -H "Authorization: Bearer $TOK"
stop_server "$JPID"
check "trusted issuer's JWKS served: /ready turns 200" wait_ready "$TU" 20
stop_server "$TPID"

# --- 4. --issuer alone: the JWKS from the issuer's OIDC metadata -----------------------------
printf '{"issuer":"%s","jwks_uri":"%s/jwks.json"}' "$ISS" "$ISS" \
    >"$TMP/www/.well-known/openid-configuration"
start_server disc --stateless --auth jwt --issuer "$ISS" || exit 1
check "discovery: ready" wait_ready "$SRV_URL" 10
check "discovery: the log names the discovered jwks_uri" \
    grep -qF "discovered jwks_uri $ISS/jwks.json from issuer $ISS" "$TMP/disc.err"
TOK2=$("$MCP_BIN/mcp-token" mint --key "$TMP/k.key" --alg ES256 --kid k1 --sub alice \
    --iss "$ISS" --aud "$SRV_URL" --ttl 600)
expect_ok "discovery: a token verifies with the discovered keys" "$SRV_URL" "$TOK2" \
    -H "Authorization: Bearer $TOK2"
stop_server "$SRV_PID"
# the metadata of another issuer (as if the well-known path were hijacked): never ready
printf '{"issuer":"http://evil.example","jwks_uri":"%s/jwks.json"}' "$ISS" \
    >"$TMP/www/.well-known/openid-configuration"
start_server mism --auth jwt --issuer "$ISS" || exit 1
code=$(ready_code "$SRV_URL")
check "issuer mismatch: /ready 503 (got $code)" test "$code" = 503
check "issuer mismatch: the reason says so ($(cat "$TMP/ready"))" \
    grep -q 'its \\"issuer\\" is not' "$TMP/ready"
stop_server "$SRV_PID"
code=$(timeout 10 "$MCP_BIN/mcp-conformance-server" --listen 127.0.0.1:0 --auth jwt --issuer \
    "https://login.example/{tenantid}/v2.0" --allowed-tenant t1 >/dev/null 2>"$TMP/tid.err"; echo $?)
check "a {tenantid} issuer cannot be discovered: usage error (exit $code)" \
    grep -q 'cannot be discovered: give --jwks-url' "$TMP/tid.err"
summary
