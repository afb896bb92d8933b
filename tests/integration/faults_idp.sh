#!/usr/bin/env bash
# Faults: the identity provider goes away (../shared/idp on loopback), first hung (SIGSTOP:
# connections are accepted by the kernel, nothing answers), then gone (SIGKILL: connection
# refused). The server keeps verifying JWTs with the JWKS keys it has cached (background
# refreshes and unknown-kid refreshes fail without dropping them), an unknown kid is refused
# with 401 in bounded time, and opaque tokens fail closed: 503 "credential or user store
# unavailable" once the cached introspection result has expired, never 200 and never a hang.
# Needs $MCP_BIN and $MCP_SHARED (set by CTest).
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/auth_common.sh
. "$HERE/lib/auth_common.sh"

# shellcheck source=lib/idp.sh
. "$HERE/lib/idp.sh"
idp_start || exit 1
JWKS=$IDP_JWKS
INTRO=$IDP_INTRO
check "discovery: jwks_uri and introspection_endpoint" test -n "$JWKS" -a -n "$INTRO"

token() { idp_token "$1" "User.Read tools:call"; }
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

printf 'mcp-introspector-secret\n' >"$TMP/introspector.secret"
chmod 600 "$TMP/introspector.secret"
# background JWKS refresh every second and unknown-kid refreshes at most every second, so
# both kinds of refresh are attempted (and fail) while the provider is away
start_server srv --stateless --auth jwt,introspection --jwks-url "$JWKS" --issuer "$I" \
    --jwks-refresh 1 --jwks-min-interval 1 \
    --introspection-url "$INTRO" --introspection-client-id mcp-introspector \
    --introspection-client-secret-file "$TMP/introspector.secret" \
    --introspection-cache-ttl 1 --authn-fail-limit 0 || exit 1
U=$SRV_URL

J1=$(token "$U")
J2=$(token "$U")                        # same key, first presented only once the IdP is away
idp_config format=opaque
O1=$(token "$U")
O2=$(token "$U")                        # never introspected before the IdP is away
idp_config reset=1
check "IdP issued JWTs and opaque tokens" test -n "$J1" -a -n "$J2" -a -n "$O1" -a -n "$O2"
expect_ok "JWT while the IdP is up" "$U" "$J1" -H "Authorization: Bearer $J1"
expect_ok "opaque token while the IdP is up" "$U" "$O1" -H "Authorization: Bearer $O1"
# a token naming a kid the JWKS does not hold (the signature is J1's: never valid)
hdr=$(printf '{"alg":"RS256","typ":"at+jwt","kid":"no-such-kid"}' | b64url)
JX="$hdr.${J1#*.}"

# away_checks PHASE: what must hold while the provider does not answer
away_checks() {
    local phase=$1 t0 t1 code
    sleep 2.2                            # past --jwks-refresh, --introspection-cache-ttl
    expect_ok "$phase: cached JWKS key, token seen before" "$U" "$J1" \
        -H "Authorization: Bearer $J1"
    expect_ok "$phase: cached JWKS key, token not seen before" "$U" "$J2" \
        -H "Authorization: Bearer $J2"
    t0=$(date +%s%N)
    code=$(post "$U" "$LIST" -H "Authorization: Bearer $JX")
    t1=$(date +%s%N)
    echo "$phase: unknown kid answered $code in $(( (t1 - t0) / 1000000 )) ms"
    check "$phase: unknown kid -> 401 (got $code)" test "$code" = 401
    check "$phase: unknown kid answered within 12 s ($(( (t1 - t0) / 1000000 )) ms)" \
        test $(( (t1 - t0) / 1000000 )) -lt 12000
    sleep 1.2                            # --jwks-min-interval: the next kid miss refreshes again
    expect_ok "$phase: cached key still used after a failed refresh" "$U" "$J2" \
        -H "Authorization: Bearer $J2"
    for o in "$O1" "$O2"; do
        t0=$(date +%s%N)
        code=$(post "$U" "$LIST" -H "Authorization: Bearer $o")
        t1=$(date +%s%N)
        echo "$phase: opaque token answered $code in $(( (t1 - t0) / 1000000 )) ms"
        check "$phase: opaque token fails closed with 503 (got $code)" test "$code" = 503
        check "$phase: 503 says the store is unavailable" \
            grep -q '"credential or user store unavailable"' "$TMP/body"
        check "$phase: 503 within 15 s ($(( (t1 - t0) / 1000000 )) ms)" \
            test $(( (t1 - t0) / 1000000 )) -lt 15000
        no_echo "$o" "$phase: 503"
    done
    check "$phase: server still running" kill -0 "$SRV_PID"
}

# --- hung: the provider's socket accepts, nothing answers --------------------------------------
kill -STOP "$IDP_PID"
away_checks "IdP hung"
kill -CONT "$IDP_PID"

# --- back: introspection answers again (recovery) ---------------------------------------------
sleep 1.2
expect_ok "IdP back: opaque token verifies again" "$U" "$O2" -H "Authorization: Bearer $O2"

# --- gone: connection refused ------------------------------------------------------------------
kill -KILL "$IDP_PID"
wait "$IDP_PID" 2>/dev/null
away_checks "IdP gone"

stop_server "$SRV_PID"
check "server log names the failed refreshes" grep -qi 'jwks' "$TMP/srv.err"
log_has_no_secret "$TMP/srv.err" "$J1" "$J2" "$O1" "$O2" "mcp-introspector-secret"
summary
