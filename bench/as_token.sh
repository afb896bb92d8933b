#!/usr/bin/env bash
# Token endpoint throughput: the client_credentials grant (client_secret_basic, ES256 access
# tokens) on our embedded authorization server (mcp-products --embedded-as) and, in the same
# run, on the test identity provider (shared/idp, oidc-provider, --alg ES256) issuing the same
# grant. A benchmark, never a test: it prints one line per server and a table in OUT.
#
#   bench/as_token.sh                 # 10 s each, wrk -t2 -c16
#   DURATION=5s CONNS=32 bench/as_token.sh
#
# Env: BUILD_DIR (default <repo>/build-bench: Release binaries mcp-products and mcp-admin,
# built when missing), DURATION (10s), CONNS (16), THREADS (2), WARMUP (2s), OUT (a new
# directory under bench/results/). Loopback only, ports chosen by the OS.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$(cd "$REPO/.." && pwd)/shared}
BUILD_DIR=${BUILD_DIR:-$REPO/build-bench}
DURATION=${DURATION:-10s}; CONNS=${CONNS:-16}; THREADS=${THREADS:-2}; WARMUP=${WARMUP:-2s}
OUT=${OUT:-$REPO/bench/results/as_token-$(date -u +%Y%m%dT%H%M%SZ)}
command -v wrk >/dev/null || { echo "as_token.sh: wrk is required (apt-get install wrk)" >&2; exit 1; }
command -v jq >/dev/null || { echo "as_token.sh: jq is required" >&2; exit 1; }
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/mcp-as-bench-XXXXXX)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || :; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || :; done
  rm -rf "$TMP"
}
trap cleanup EXIT

if [ ! -x "$BUILD_DIR/bin/mcp-products" ] || [ ! -x "$BUILD_DIR/bin/mcp-admin" ]; then
  cmake -S "$REPO" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DMCP_WERROR=OFF >"$OUT/build.log"
  nice cmake --build "$BUILD_DIR" -j2 --target mcp-products mcp-admin >>"$OUT/build.log" 2>&1
fi
BIN=$BUILD_DIR/bin

# wait_line FILE REGEX: the first matching line (sed -n), within 30 s
wait_line() {
  local i v
  for i in $(seq 1 300); do
    v=$(sed -n "$2" "$1" | head -n 1)
    [ -n "$v" ] && { echo "$v"; return 0; }
    sleep 0.1
  done
  return 1
}

load() {  # NAME URL ID SECRET [RESOURCE]
  local name=$1 url=$2
  CLIENT_ID=$3 CLIENT_SECRET=$4 RESOURCE=${5:-} \
    wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" -s "$REPO/bench/as_token.lua" "$url" >/dev/null
  CLIENT_ID=$3 CLIENT_SECRET=$4 RESOURCE=${5:-} \
    wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$REPO/bench/as_token.lua" "$url" \
    >"$OUT/$name.wrk"
  local r
  r=$(grep '^RESULT' "$OUT/$name.wrk")
  printf '%s\t%s\n' "$name" "$r" | tee -a "$OUT/results.tsv"
}

# ---- ours: mcp-products --embedded-as, client robot owned by alice -------------------------
DB=$TMP/mcp.db
"$BIN/mcp-admin" --db "$DB" user add alice --role user 2>/dev/null
SECRET=$("$BIN/mcp-admin" --db "$DB" client add robot --confidential --owner alice 2>/dev/null)
"$BIN/mcp-products" --listen 127.0.0.1:0 --db "$DB" --catalog "$TMP/products.db" --embedded-as \
  >"$TMP/ours.out" 2>"$TMP/ours.err" &
PIDS+=($!)
PORT=$(wait_line "$TMP/ours.err" 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/mcp.*|\1|p') ||
  { echo "mcp-products did not start: $(cat "$TMP/ours.err")" >&2; exit 1; }
ORIGIN=http://127.0.0.1:$PORT
# check one request: 200, ES256
tok=$(curl -s --max-time 5 -u "robot:$SECRET" -d grant_type=client_credentials "$ORIGIN/token" |
  jq -r .access_token)
alg=$(cut -d. -f1 <<<"$tok" | tr '_-' '/+' | { read -r p; while [ $((${#p} % 4)) -ne 0 ]; do p="$p="; done; base64 -d <<<"$p"; } | jq -r .alg)
[ "$alg" = ES256 ] || { echo "ours: no ES256 token ($alg)" >&2; exit 1; }
load ours "$ORIGIN/token" robot "$SECRET"

# ---- the test IdP: oidc-provider, ES256, client mcp-cc ---------------------------------------
"$SHARED/idp/start.sh" --port 0 --alg ES256 >"$TMP/idp.out" 2>"$TMP/idp.err" &
PIDS+=($!)
ISS=$(wait_line "$TMP/idp.out" 's|^IDP_READY issuer=\(.*\)$|\1|p') ||
  { echo "the IdP did not start: $(tail -n 5 "$TMP/idp.err")" >&2; exit 1; }
RS="http://127.0.0.1:9999/mcp"
tok=$(curl -s --max-time 5 -u mcp-cc:mcp-cc-secret -d grant_type=client_credentials \
  -d "resource=$RS" "$ISS/token" | jq -r .access_token)
alg=$(cut -d. -f1 <<<"$tok" | tr '_-' '/+' | { read -r p; while [ $((${#p} % 4)) -ne 0 ]; do p="$p="; done; base64 -d <<<"$p"; } | jq -r .alg)
[ "$alg" = ES256 ] || { echo "idp: no ES256 JWT ($alg)" >&2; exit 1; }
load idp "$ISS/token" mcp-cc mcp-cc-secret "$RS"

{
  echo "| server | req/s | p50 ms | p99 ms | requests | non-200 | bad body |"
  echo "|---|---|---|---|---|---|---|"
  while IFS=$'\t' read -r name r; do
    v() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $r"; }
    echo "| $name | $(v rps) | $(v p50_ms) | $(v p99_ms) | $(v requests) | $(v non2xx) | $(v bad_body) |"
  done <"$OUT/results.tsv"
  echo
  echo "wrk -t$THREADS -c$CONNS -d$DURATION (warm-up $WARMUP), $(nproc) cores, $(date -u +%FT%TZ)"
} | tee "$OUT/table.md"
