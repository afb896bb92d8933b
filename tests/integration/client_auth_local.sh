#!/usr/bin/env bash
# mcp-client with static credentials against mcp-products (per-tool RBAC) over real HTTP:
# a JWT from --token-file / --token / MCP_TOKEN, an API key, the exit codes 3 (401: no or bad
# credential) and 4 (403: the role lacks the tool's permission) with their one-line reasons,
# and that no credential ever appears in output. Needs $MCP_BIN (set by CTest). 127.0.0.1 only.
CLIENT_IT_TMP=/tmp/mcp-client-auth-it-XXXXXX
CLIENT_IT_TOOLS="mcp-client mcp-products mcp-admin mcp-token"
CLIENT_IT_TIMEOUT=30
# shellcheck source=lib/client_common.sh
. "$(dirname "$0")/lib/client_common.sh"

DB="$TMP/mcp.db"
ISS="https://issuer.client-it.test"
A() { "$MCP_BIN/mcp-admin" --db "$DB" "$@"; }
"$MCP_BIN/mcp-token" keygen --alg HS256 --out "$TMP/hs" >/dev/null || exit 1
A user add admin --role admin >/dev/null 2>&1 || exit 1
A user add uma --role user >/dev/null 2>&1 || exit 1
ADMIN_KEY=$(A key create --owner admin 2>/dev/null)
[ -n "$ADMIN_KEY" ] || { echo "cannot create an API key" >&2; exit 1; }

"$MCP_BIN/mcp-products" --listen 127.0.0.1:0 --db "$DB" --catalog "$TMP/products.db" \
    --jwt-secret-file "$TMP/hs.key" --issuer "$ISS" --auth apikey,jwt --seed \
    --no-access-log >"$TMP/srv.out" 2>"$TMP/srv.err" &
PIDS+=($!)
port=$(listen_port "$TMP/srv.err")
[ -n "$port" ] || { echo "mcp-products did not start: $(cat "$TMP/srv.err")" >&2; exit 1; }
URL="http://127.0.0.1:$port/mcp"
UMA=$("$MCP_BIN/mcp-token" mint --secret-file "$TMP/hs.key" --sub uma --iss "$ISS" --aud "$URL" \
    --ttl 600)
printf '%s\n' "$UMA" >"$TMP/uma.tok"
EXPIRED=$("$MCP_BIN/mcp-token" mint --secret-file "$TMP/hs.key" --sub uma --iss "$ISS" \
    --aud "$URL" --ttl -3600) || { echo "mcp-token mint --ttl -3600 failed" >&2; exit 1; }
[ -n "$EXPIRED" ] || { echo "mcp-token mint --ttl -3600 printed no token" >&2; exit 1; }

# --- 401: no credential, a bad one -------------------------------------------------------------
run --url "$URL" tools list
eq "no credential: exit 3" "$RC" 3
has "no credential: reason" "$ERR" "401"
eq "no credential: one line" "$(printf '%s\n' "$ERR" | wc -l)" 1
run --url "$URL" --token not-a-valid-token tools list
eq "garbage token: exit 3" "$RC" 3
case "$ERR" in *not-a-valid-token*) bad "the token was echoed" ;; *) ok ;; esac
run --url "$URL" --token "$EXPIRED" tools list
eq "expired token: exit 3" "$RC" 3
has "expired token: reason" "$ERR" "401"

# --- a user JWT: allowed tools work, a forbidden one is 403 ------------------------------------
run --url "$URL" --token-file "$TMP/uma.tok" tools list
eq "user token file: exit 0" "$RC" 0
has "user sees list_products" "$OUT" "list_products"
case "$OUT" in *delete_product*) bad "user must not see delete_product" ;; *) ok ;; esac
MCP_TOKEN=$UMA run --url "$URL" --json tools call list_products 'limit:=1'
eq "MCP_TOKEN: exit 0" "$RC" 0
run --url "$URL" --token "$UMA" tools call delete_product 'id:=1'
eq "forbidden tool: exit 4" "$RC" 4
has "forbidden tool: reason" "$ERR" "403"
eq "forbidden tool: one line" "$(printf '%s\n' "$ERR" | wc -l)" 1
case "$OUT$ERR" in *"$UMA"*) bad "the JWT was echoed" ;; *) ok ;; esac

# --- an API key: the admin may delete ----------------------------------------------------------
printf '%s\n' "$ADMIN_KEY" >"$TMP/admin.key"
run --url "$URL" --token-file "$TMP/admin.key" --json tools list
eq "api key: exit 0" "$RC" 0
has "admin sees delete_product" "$OUT" "delete_product"
run --url "$URL" --token-file "$TMP/admin.key" tools call delete_product 'id:=1'
eq "admin delete: exit 0" "$RC" 0
run --url "$URL" --token-file "$TMP/admin.key" --api-key-header "X-Not-Checked" tools list
eq "key in a header the server ignores: exit 3" "$RC" 3

summary
