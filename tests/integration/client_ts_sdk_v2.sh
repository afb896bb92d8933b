#!/usr/bin/env bash
# mcp-client against the official TypeScript SDK v2 server (../shared/peers/ts-sdk-v2,
# @modelcontextprotocol/server 2.4.0, the 2026-07-28 era): `tools list` and `tools call` with
# --protocol 2026-07-28 and with the default auto negotiation (server/discover; the verbose log
# shows that no initialize was sent), without credentials and with an HS256 bearer token the
# peer verifies (minted by mcp-token); a missing token is exit 3. --protocol legacy still works
# (the SDK's 2025 fallback).
# Needs $MCP_BIN and $MCP_SHARED (set by CTest), node/npm (the first run does `npm ci` of the
# peer's pinned lockfile). Loopback only; every wait is bounded.
set -u
: "${MCP_SHARED:?MCP_SHARED must point at the shared/ directory}"
PEER="$MCP_SHARED/peers/ts-sdk-v2"
[ -x "$PEER/setup.sh" ] || { echo "missing $PEER/setup.sh" >&2; exit 1; }
command -v node >/dev/null || { echo "node is required" >&2; exit 1; }
CLIENT_IT_TMP=/tmp/mcp-client-tsv2-it-XXXXXX
CLIENT_IT_TOOLS="mcp-client mcp-token"
CLIENT_IT_TIMEOUT=30
# shellcheck source=lib/client_common.sh
. "$(dirname "$0")/lib/client_common.sh"

dir=$(timeout 300 "$PEER/setup.sh") || { echo "cannot install the peer" >&2; exit 1; }

# start_peer AUTH: the peer on a free loopback port; sets URL.
start_peer() {
    local port=""
    port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',
        ()=>{console.log(s.address().port);s.close()})")
    [ -n "$port" ] || { echo "no free port" >&2; exit 1; }
    (cd "$dir" && AUTH=$1 KEY_DIR="$TMP/keys" PORT=$port exec node server.mjs) \
        >"$TMP/peer-$1.out" 2>"$TMP/peer-$1.err" &
    PIDS+=($!)
    URL="http://127.0.0.1:$port/mcp"
    for _ in $(seq 1 100); do
        grep -q "peer on http" "$TMP/peer-$1.err" && return 0
        sleep 0.1
    done
    echo "peer did not start: $(cat "$TMP/peer-$1.err")" >&2
    exit 1
}

mkdir -p "$TMP/keys"
node -e "process.stdout.write(require('crypto').randomBytes(32).toString('hex'))" \
    >"$TMP/keys/hs256.key"
chmod 600 "$TMP/keys/hs256.key"

# --- no authentication ---------------------------------------------------------------------------
start_peer none
for proto in 2026-07-28 auto; do
    run --url "$URL" --protocol "$proto" -v tools list
    eq "$proto: tools list exit" "$RC" 0
    has "$proto: lists echo" "$OUT" "echo"
    has "$proto: discovered" "$ERR" "POST $URL -> 200"
    run --url "$URL" --protocol "$proto" --json tools call echo text=hi
    eq "$proto: tools call exit" "$RC" 0
    has "$proto: tool result" "$OUT" "echo: hi"
done
# auto: no fallback to initialize against a 2026 server
run --url "$URL" -v tools call echo text=v
case "$ERR" in
    *"using initialize"*) bad "auto fell back to initialize: $ERR" ;;
    *) ok ;;
esac
run --url "$URL" --protocol legacy tools call echo text=old
eq "legacy: tools call exit" "$RC" 0
has "legacy: tool result" "$OUT" "echo: old"

# --- HS256 bearer token --------------------------------------------------------------------------
start_peer hs256
TOKEN=$("$MCP_BIN/mcp-token" mint --secret-file "$TMP/keys/hs256.key" --sub it-client \
    --iss https://issuer.mcp-bench.test --aud mcp-bench-server --ttl 300)
[ -n "$TOKEN" ] || { echo "mcp-token mint failed" >&2; exit 1; }
printf '%s\n' "$TOKEN" >"$TMP/token"
for proto in 2026-07-28 auto; do
    run --url "$URL" --protocol "$proto" --token-file "$TMP/token" tools list
    eq "$proto + token: tools list exit" "$RC" 0
    has "$proto + token: lists echo" "$OUT" "echo"
    run --url "$URL" --protocol "$proto" --token-file "$TMP/token" tools call echo text=tok
    eq "$proto + token: tools call exit" "$RC" 0
    has "$proto + token: tool result" "$OUT" "echo: tok"
done
run --url "$URL" --protocol 2026-07-28 tools list
eq "no token: exit 3" "$RC" 3

summary
