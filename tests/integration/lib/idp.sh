# The test identity provider (../shared/idp, oidc-provider) for the integration scripts that use
# it (sourced, not run; CTest only runs tests/integration/*.sh). Source it after
# lib/auth_common.sh or lib/client_common.sh, which provide TMP, PIDS (stopped by their EXIT
# trap) and bad. Loopback only; every wait is bounded.
#
# Provides:
#   idp_start          start the provider on 127.0.0.1 (a free port) and wait for it (at most
#                      180 s: its first start runs `npm ci`); sets I (the issuer URL), IDP_PID,
#                      IDP_META (its authorization server metadata), IDP_JWKS and IDP_INTRO
#                      (jwks_uri, introspection_endpoint). Returns 1, saying why, when it fails.
#   idp_field NAME     a string field of IDP_META
#   idp_token RESOURCE [SCOPE]   a client-credentials access token (client mcp-cc); an empty
#                      RESOURCE requests none (the provider then issues an opaque token);
#                      SCOPE defaults to User.Read. Prints nothing when the provider refuses.
#   idp_config QUERY   POST /test/config?QUERY (alg=, ttl=, format=, profile=, reset=1, ...);
#                      anything but 200 counts as a failure (bad) and returns 1.

: "${MCP_SHARED:?MCP_SHARED must point at the shared/ directory}"
IDP_START="$MCP_SHARED/idp/start.sh"

idp_start() {
    local _
    [ -x "$IDP_START" ] || { echo "missing $IDP_START" >&2; return 1; }
    mkdir -p "$TMP/idp"
    "$IDP_START" --port 0 --state-dir "$TMP/idp" >"$TMP/idp.out" 2>"$TMP/idp.err" &
    IDP_PID=$!
    PIDS+=("$IDP_PID")
    for _ in $(seq 1 360); do
        grep -q '^IDP_READY ' "$TMP/idp.out" && break
        kill -0 "$IDP_PID" 2>/dev/null ||
            { echo "IdP exited: $(tail -5 "$TMP/idp.err")" >&2; return 1; }
        sleep 0.5
    done
    I=$(sed -n 's/^IDP_READY issuer=//p' "$TMP/idp.out")
    [ -n "$I" ] || { echo "IdP not ready after 180 s: $(tail -5 "$TMP/idp.err")" >&2; return 1; }
    IDP_META=$(curl -s --max-time 10 "$I/.well-known/oauth-authorization-server")
    IDP_JWKS=$(idp_field jwks_uri)
    IDP_INTRO=$(idp_field introspection_endpoint)
    [ -n "$IDP_JWKS" ] || { echo "IdP metadata without jwks_uri: $IDP_META" >&2; return 1; }
}

idp_field() { printf '%s' "$IDP_META" | sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; }

idp_token() {
    local res=()
    [ -n "$1" ] && res=(-d "resource=$1")
    curl -s --max-time 10 -u mcp-cc:mcp-cc-secret -d grant_type=client_credentials "${res[@]}" \
        --data-urlencode "scope=${2:-User.Read}" "$I/token" |
        sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
}

idp_config() {
    local code
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST "$I/test/config?$1")
    [ "$code" = 200 ] && return 0
    bad "IdP refused /test/config?$1 (got $code)"
    return 1
}
