#!/usr/bin/env bash
# Claims profiles against the real test identity provider (../shared/idp, oidc-provider) on
# loopback: for each of entra, keycloak, auth0 and okta the provider issues access tokens of
# that vendor's shape (--claims-profile / POST /test/config?profile=), mcp-products verifies
# them through the JWKS with the same --claims-profile, and the tools a caller sees (tools/list
# is filtered by permission) show which permissions were read: User.Read alone -> the read
# tools; User.Read Admin.Write -> every tool. Entra: app roles in `roles` are read only with the
# profile; a tenant not in --allowed-tenant is refused. Needs $MCP_BIN and $MCP_SHARED.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/auth_common.sh
. "$HERE/lib/auth_common.sh"

# shellcheck source=lib/idp.sh
. "$HERE/lib/idp.sh"
[ -x "$MCP_BIN/mcp-products" ] || { echo "not built: $MCP_BIN/mcp-products" >&2; exit 1; }
command -v jq >/dev/null || { echo "jq is required" >&2; exit 1; }
TENANT=11111111-2222-4333-8444-555555555555
OTHER_TENANT=99999999-8888-4777-8666-555555555555

idp_start || exit 1

claims() { # the payload of a JWT
    local p
    p=$(printf '%s' "$1" | cut -d. -f2 | tr '_-' '/+')
    case $((${#p} % 4)) in 2) p="$p==" ;; 3) p="$p=" ;; esac
    printf '%s' "$p" | base64 -d 2>/dev/null
}
# start_products NAME ARGS...: mcp-products on 127.0.0.1:0, JWT through the IdP's JWKS
start_products() {
    local name=$1 port=""
    shift
    "$MCP_BIN/mcp-products" --listen 127.0.0.1:0 --stateless --catalog "$TMP/$name.db" --seed \
        --auth jwt --jwks-url "$I/jwks" --issuer "$I" "$@" \
        >"$TMP/$name.out" 2>"$TMP/$name.err" &
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    for _ in $(seq 1 100); do
        port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/mcp.*|\1|p' \
            "$TMP/$name.err" | head -n 1)
        [ -n "$port" ] && break
        kill -0 "$SRV_PID" 2>/dev/null || { echo "$name exited: $(cat "$TMP/$name.err")" >&2; return 1; }
        sleep 0.1
    done
    [ -n "$port" ] || return 1
    SRV_URL="http://127.0.0.1:$port/mcp"
    SRV_PRM="http://127.0.0.1:$port/.well-known/oauth-protected-resource/mcp"
}
tools_seen() { # URL TOKEN: the tool names tools/list shows, comma-joined ("" when refused)
    post "$1" "$LIST" -H "Authorization: Bearer $2" >/dev/null
    jq -r '[.result.tools[]?.name] | join(",")' "$TMP/body" 2>/dev/null
}
READ="list_products,get_product"
ALL="list_products,get_product,create_product,update_product,delete_product"

# a bad profile name, or a map entry without a target, is a usage error at start-up
"$MCP_BIN/mcp-products" --listen 127.0.0.1:0 --auth jwt --jwks-url "$I/jwks" --issuer "$I" \
    --permission-map Products.Admin >/dev/null 2>"$TMP/badmap.err"
st=$?
check "--permission-map without =TO: exit 2 (got $st)" test "$st" = 2
"$MCP_BIN/mcp-products" --listen 127.0.0.1:0 --auth jwt --jwks-url "$I/jwks" --issuer "$I" \
    --claims-profile azure >/dev/null 2>"$TMP/bad.err"
st=$?
check "unknown --claims-profile: exit 2 (got $st)" test "$st" = 2
check "unknown --claims-profile: named" grep -q -- "--claims-profile must be one of" "$TMP/bad.err"

for prof in entra keycloak auth0 okta; do
    idp_config "profile=$prof"
    extra=()
    [ "$prof" = entra ] && extra=(--allowed-tenant "$TENANT")
    start_products "$prof" --claims-profile "$prof" "${extra[@]}" || { bad "start $prof"; continue; }
    U=$SRV_URL
    t_read=$(idp_token "$U" "User.Read")
    t_admin=$(idp_token "$U" "User.Read Admin.Write")
    c=$(claims "$t_admin")
    case $prof in
        entra) shape='.roles == ["User.Read","Admin.Write"] and .tid and .oid and (.scope == null)' ;;
        keycloak) shape='.realm_access.roles == ["User.Read","Admin.Write"] and .resource_access' ;;
        auth0) shape='.permissions == ["User.Read","Admin.Write"] and .gty == "client-credentials"' ;;
        okta) shape='.scp == ["User.Read","Admin.Write"] and .cid and (.scope == null)' ;;
    esac
    check "$prof: the IdP issued the $prof shape ($c)" test "$(printf '%s' "$c" | jq "$shape")" = true
    got=$(tools_seen "$U" "$t_read")
    check "$prof: User.Read sees the read tools (got [$got])" test "$got" = "$READ"
    got=$(tools_seen "$U" "$t_admin")
    check "$prof: Admin.Write sees every tool (got [$got])" test "$got" = "$ALL"
    if [ "$prof" = entra ]; then
        ENTRA_TOKEN=$t_admin
        stop_server "$SRV_PID"
        # the same token without the profile: app roles are not permissions
        start_products entra-none || { bad "start entra-none"; continue; }
        t=$(idp_token "$SRV_URL" "User.Read Admin.Write")
        got=$(tools_seen "$SRV_URL" "$t")
        check "entra token without the profile: roles grant nothing (got [$got])" test -z "$got"
        stop_server "$SRV_PID"
        # a tenant that is not allowed
        start_products entra-other --claims-profile entra --allowed-tenant "$OTHER_TENANT" ||
            { bad "start entra-other"; continue; }
        t=$(idp_token "$SRV_URL" "User.Read")
        expect_401 "entra: a tenant not allowed" "$SRV_URL" invalid_token "tenant not allowed" "$t" \
            -H "Authorization: Bearer $t"
        log_has_no_secret "$TMP/entra-other.err" "$t"
    fi
    stop_server "$SRV_PID"
    log_has_no_secret "$TMP/$prof.err" "$t_read" "$t_admin"
done
check "entra token was minted" test -n "${ENTRA_TOKEN:-}"

# --- several issuers: a second provider (keycloak-shaped) and two HS256 issuers in a file ---------
mkdir -p "$TMP/idp2"
"$IDP_START" --port 0 --state-dir "$TMP/idp2" --claims-profile keycloak >"$TMP/idp2.out" \
    2>"$TMP/idp2.err" &
PIDS+=("$!")
for _ in $(seq 1 120); do grep -q '^IDP_READY ' "$TMP/idp2.out" && break; sleep 0.5; done
I2=$(sed -n 's/^IDP_READY issuer=//p' "$TMP/idp2.out")
check "second IdP ready" test -n "$I2"
idp_config "profile=entra"
"$MCP_BIN/mcp-token" keygen --alg HS256 --out "$TMP/hsa" >/dev/null 2>&1 || bad "keygen a"
"$MCP_BIN/mcp-token" keygen --alg HS256 --out "$TMP/hsb" >/dev/null 2>&1 || bad "keygen b"
cat >"$TMP/issuers.json" <<JSON
[ { "issuer": "$I2", "jwks_url": "$I2/jwks", "claims_profile": "keycloak" },
  { "issuer": "https://hs-a.test", "secret_file": "$TMP/hsa.key",
    "permission_map": { "Products.Admin": "Admin.Write" } },
  { "issuer": "https://hs-b.test", "secret_file": "$TMP/hsb.key", "claims_profile": "okta" } ]
JSON
start_products multi --claims-profile entra --allowed-tenant "$TENANT" \
    --permission-map Guest.Read=Admin.Write --trusted-issuers "$TMP/issuers.json" ||
    bad "start multi"
U=$SRV_URL
t1=$(idp_token "$U" "User.Read Admin.Write")
got=$(tools_seen "$U" "$t1")
check "issuer 1 (entra): every tool (got [$got])" test "$got" = "$ALL"
t1=$(idp_token "$U" "User.Read Guest.Read")
got=$(tools_seen "$U" "$t1")
check "issuer 1: --permission-map makes Guest.Read Admin.Write (got [$got])" test "$got" = "$ALL"
t2=$(curl -s --max-time 10 -u mcp-cc:mcp-cc-secret -d grant_type=client_credentials \
    -d "resource=$U" --data-urlencode "scope=User.Read" "$I2/token" |
    sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
check "issuer 2 issued a keycloak token" test "$(claims "$t2" | jq '.realm_access.roles')" != null
got=$(tools_seen "$U" "$t2")
check "issuer 2 (keycloak): the read tools (got [$got])" test "$got" = "$READ"
mint_hs() { # KEYFILE ISS [args]
    local k=$1 iss=$2
    shift 2
    "$MCP_BIN/mcp-token" mint --secret-file "$k" --sub s --iss "$iss" --aud "$U" --ttl 300 "$@" \
        2>/dev/null
}
t=$(mint_hs "$TMP/hsa.key" https://hs-a.test --permissions "User.Read")
got=$(tools_seen "$U" "$t")
check "HS issuer a with its own key (got [$got])" test "$got" = "$READ"
t=$(mint_hs "$TMP/hsa.key" https://hs-a.test --permissions "User.Read,Products.Admin")
got=$(tools_seen "$U" "$t")
check "issuer a maps Products.Admin to Admin.Write (got [$got])" test "$got" = "$ALL"
t=$(mint_hs "$TMP/hsb.key" https://hs-b.test --permissions "User.Read,Products.Admin")
got=$(tools_seen "$U" "$t")
check "issuer b has no map: Products.Admin grants nothing (got [$got])" test "$got" = "$READ"
t=$(mint_hs "$TMP/hsb.key" https://hs-a.test --permissions "User.Read")
expect_401 "issuer a's name, issuer b's key" "$U" invalid_token "signature invalid" "$t" \
    -H "Authorization: Bearer $t"
t=$(mint_hs "$TMP/hsa.key" https://hs-c.test --permissions "User.Read")
expect_401 "an issuer nobody trusts" "$U" invalid_token "issuer not trusted" "$t" \
    -H "Authorization: Bearer $t"
prm=$(curl -s --max-time 5 "$SRV_PRM")
check "PRM lists every issuer ($prm)" test "$(printf '%s' "$prm" | jq -c '.authorization_servers')" \
    = "[\"$I\",\"$I2\",\"https://hs-a.test\",\"https://hs-b.test\"]"
stop_server "$SRV_PID"
printf '[ { "issuer": "https://x.test", "secret_file": "%s", "claims_profile": "azure" } ]' \
    "$TMP/hsa.key" >"$TMP/bad-issuers.json"
"$MCP_BIN/mcp-products" --listen 127.0.0.1:0 --catalog "$TMP/bad.db" --auth jwt \
    --jwks-url "$I/jwks" --issuer "$I" --trusted-issuers "$TMP/bad-issuers.json" \
    >/dev/null 2>"$TMP/bad2.err" &
bp=$!
PIDS+=("$bp")
for _ in $(seq 1 50); do kill -0 "$bp" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$bp" 2>/dev/null; then bad "started with a bad claims profile in --trusted-issuers"; fi
check "bad mapping refused at start-up, named ($(cat "$TMP/bad2.err"))" \
    grep -q "trusted issuer 1: unknown claims profile" "$TMP/bad2.err"
summary
