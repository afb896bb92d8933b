#!/usr/bin/env bash
# libmcp benchmark: our C server, the official TypeScript SDK peer and the nginx HTTP ceiling,
# loaded the same way with wrk on loopback in ONE run, so their ratios come from the same minutes
# of the same (shared, noisy) machine. Usage and output: bench/README.md.
#
#   bench/run.sh                       every available config, 1 round
#   ROUNDS=3 CONFIGS='c:stateless* ts:stateless nginx' bench/run.sh
#   bench/run.sh --list                the config table and what each needs (nothing is run)
#   bench/run.sh --report DIR          re-render DIR/table.md from DIR/results.tsv
#
# Per config: start its server -> readiness -> checks with curl (stateful: initialize +
# notifications/initialized, the session id goes to wrk; with a credential: no credential -> 401;
# one real request must give the expected status and body) -> wait for a quiet machine
# (>= QUIET % idle, at most QUIET_WAIT s) -> WARMUP with wrk (discarded) ->
# wrk -t$THREADS -c$CONNS -d$DURATION -> wrk -t1 -c1 -d$DURATION -> peak RSS (VmHWM; nginx:
# master + workers) -> stop. A config whose binary, server flag or tool is missing is skipped with
# a note; a config whose checks fail is reported as CHECK-FAIL and not loaded.
#
# Env knobs (defaults):
#   DURATION=10s WARMUP=3s THREADS=2 CONNS=50 ROUNDS=1
#   CONFIGS='*'            space-separated names or shell globs from the table below
#   OUT=bench/results/<UTC time>   results dir (results.tsv, table.md, wrk/, logs/, env.txt)
#   BUILD_DIR=<repo>/build-bench   BUILD=1 (0: use the binaries as they are)
#   CMAKE_ARGS=''          extra cmake -D flags, e.g. -DMCP_EXCLUDE_SOURCES=...
#   PORT=18480             C server port; the TS peer uses PORT+1, nginx PORT+2; lb=2 configs:
#                          nginx on PORT, the two instances on PORT+3 and PORT+4
#   PG_BIN=/usr/lib/postgresql/15/bin  db=pg configs start a throw-away PostgreSQL 15 cluster
#                          (tests/integration/lib/pg_cluster.sh, a free port) once per run
#   QUIET=80 QUIET_WAIT=30 NOISY=10 (other_cpu % of one core above which a row is flagged NOISY)
#   TOKENS_N=20000         tokens per fresh-token file (the JWT verifier caches 10000 by default)
#   KEEP_LOGS=0            1: keep the C server's access logs in OUT/logs (they are large)
#   NODE=node  PEER_HOME=~/.cache/mcp-peer-ts-sdk  SHARED=<repo>/../shared
#   INSTALL=1              apt-get install wrk / nginx-light when missing (0: fail instead)
# The whole script is one brace group: bash parses it completely before running it, so editing
# this file while a bench runs cannot change or break that run.
{
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)

DURATION=${DURATION:-10s}; WARMUP=${WARMUP:-3s}; THREADS=${THREADS:-2}; CONNS=${CONNS:-50}
ROUNDS=${ROUNDS:-1}; CONFIGS=${CONFIGS:-'*'}; PORT=${PORT:-18480}
QUIET=${QUIET:-80}; QUIET_WAIT=${QUIET_WAIT:-30}; NOISY=${NOISY:-10}
TOKENS_N=${TOKENS_N:-20000}; KEEP_LOGS=${KEEP_LOGS:-0}; NODE=${NODE:-node}
BUILD_DIR=${BUILD_DIR:-$REPO/build-bench}; BUILD=${BUILD:-1}; CMAKE_ARGS=${CMAKE_ARGS:-}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
INSTALL=${INSTALL:-1}
BIN=$BUILD_DIR/bin
if [[ -z ${SHARED:-} ]]; then
  if [[ -n ${MCP_SHARED:-} ]]; then SHARED=$MCP_SHARED
  elif [[ -d $REPO/../shared/peers ]]; then SHARED=$(cd "$REPO/../shared" && pwd)
  else SHARED=/work/shared; fi
fi
PEER_SRC=$SHARED/peers/ts-sdk
PEER_HOME=${PEER_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-peer-ts-sdk}
PEER=$PEER_HOME/ts-sdk                     # writable copy of the peer (its own scripts' layout)
CEIL_CONF=$PEER_HOME/ceiling/nginx.conf
BENCH_CACHE=${BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-bench}  # EdDSA key, token files
KEYS=$PEER/keys                            # the peer's keys.sh output: hs256.key, rs256*.pem, es256*.pem
ISS=https://issuer.mcp-bench.test; AUD=mcp-bench-server; SUB=bench-user
C_PORT=$PORT; TS_PORT=$((PORT + 1)); NGX_PORT=$((PORT + 2))

# ---------------------------------------------------------------------------------------------
# The configs: one line each.   config NAME KIND 'ARGS' [key=value ...]
#   KIND   c (our server; ARGS = its flags after --listen), ts (the peer; ARGS = env assignments
#          for server.mjs), nginx (the ceiling; no ARGS)
#   ARGS placeholders, replaced when the config runs: @KEYS@ (peer key dir), @EDKEY@ (EdDSA key
#          prefix made by mcp-token keygen), @DB@ (bench store, see db=1), @TMP@ (an empty
#          directory of this config, e.g. for mcp-products' --catalog), @ISS@, @AUD@
# Options:
#   peer=NAME      the config our row is divided by for the vs_ts column
#   session=1      stateful: initialize + notifications/initialized first, SESSION for wrk
#   bin=NAME       c: the binary in build-bench/bin (default mcp-conformance-server)
#   need=A,B       bin:NAME (in build-bench/bin), flag:--x (in `BIN --help`), node, nginx
#   cred=SPEC      jwt:mcp:ALG (our mcp-token, peer keys; EdDSA: a key made with mcp-token keygen),
#                  jwt:peer:alg (the peer's mint.mjs), apikey (mcp-admin key create, needs db=1)
#   perms=A,B      permissions claim of the minted token (default User.Read)
#   fresh=1        a different token per request: TOKENS_N pre-minted tokens rotated by
#                  bench/tools_call_tokens.lua (needs cred=jwt:mcp:*)
#   db=1           create a store (mcp-admin) with roles reader=User.Read, admin=User.Read,
#                  Admin.Write and user bench-user (role reader); its path is @DB@
#   db=pg          the same store on PostgreSQL (a cluster started once per run, its public
#                  schema emptied per config): @DB@ is its postgresql:// URI
#   lb=2           two instances of the server (same ARGS, ports PORT+3 and PORT+4,
#                  --resource-url the balancer's) behind nginx on PORT (round robin, upstream
#                  keepalive); CPU and RSS are of nginx and both instances together
#   tool= args= method= params= expect= reject= status=   the request and its expected answer
#                  (default: tools/call echo {"text":"hello"}, any 2xx, body has "echo: hello")
#   protocol=V     MCP-Protocol-Version of the checks and the load (default 2025-06-18); with
#                  2026-07-28 every request is that revision's stateless one: Mcp-Method/Mcp-Name
#                  headers and the version, client info and capabilities in params._meta
#                  (the peer's tools_call.lua with PROTOCOL=V; tools/call only)
#   goal=G,G       targets reported against (never a test): nginx>=R (rps / nginx), CFG>=R
#                  (rps / CFG's rps), p99<=MS and rss<=MIB (at CONNS), p50@1<=MS (at -c1)
# ---------------------------------------------------------------------------------------------
CORE_GOALS='nginx>=0.60,p99<=5,rss<=16,p50@1<=0.1'
JWT='--stateless --no-access-log --auth jwt --issuer @ISS@ --audience @AUD@'
HS="$JWT --jwt-secret-file @KEYS@/hs256.key --jwt-alg HS256"
PRODUCTS="--catalog @TMP@/products.db --seed $HS"
define_configs() {
  # core: our server with the access log on (stderr to a file, the default) and off
  config c:stateless             c  '--stateless'                    peer=ts:stateless goal=$CORE_GOALS
  config c:stateless:nolog       c  '--stateless --no-access-log'    peer=ts:stateless goal=$CORE_GOALS
  config c:stateful              c  ''                               peer=ts:stateful session=1 goal=$CORE_GOALS
  config c:stateful:nolog        c  '--no-access-log'                peer=ts:stateful session=1 goal=$CORE_GOALS
  # protocol 2026-07-28: stateless by design (no session), Mcp-Method/Mcp-Name headers, _meta
  config c:2026                  c  '--no-access-log'                protocol=2026-07-28 peer=ts:stateless goal=$CORE_GOALS
  config c:2026:hs256            c  "$HS"                            protocol=2026-07-28 need=flag:--auth,flag:--jwt-secret-file cred=jwt:mcp:HS256 peer=ts:hs256 goal=nginx\>=0.55,c:hs256\>=0.90
  # authentication (our conformance server, no RBAC): one token reused / a fresh token per request
  config c:hs256                 c  "$HS"                                            need=flag:--auth,flag:--jwt-secret-file cred=jwt:mcp:HS256 peer=ts:hs256 goal=nginx\>=0.55
  config c:rs256                 c  "$JWT --jwt-public-key @KEYS@/rs256.pub.pem"    need=flag:--auth,flag:--jwt-public-key cred=jwt:mcp:RS256 peer=ts:rs256 goal=c:hs256\>=0.90
  config c:es256                 c  "$JWT --jwt-public-key @KEYS@/es256.pub.pem"    need=flag:--auth,flag:--jwt-public-key cred=jwt:mcp:ES256 peer=ts:es256 goal=c:hs256\>=0.90
  config c:eddsa                 c  "$JWT --jwt-public-key @EDKEY@.pub.pem"         need=flag:--auth,flag:--jwt-public-key cred=jwt:mcp:EdDSA goal=c:hs256\>=0.90
  config c:hs256:fresh           c  "$HS"                                            need=flag:--auth,flag:--jwt-secret-file cred=jwt:mcp:HS256 fresh=1 peer=ts:hs256
  config c:rs256:fresh           c  "$JWT --jwt-public-key @KEYS@/rs256.pub.pem"    need=flag:--auth,flag:--jwt-public-key cred=jwt:mcp:RS256 fresh=1 peer=ts:rs256
  config c:es256:fresh           c  "$JWT --jwt-public-key @KEYS@/es256.pub.pem"    need=flag:--auth,flag:--jwt-public-key cred=jwt:mcp:ES256 fresh=1 peer=ts:es256
  config c:eddsa:fresh           c  "$JWT --jwt-public-key @EDKEY@.pub.pem"         need=flag:--auth,flag:--jwt-public-key cred=jwt:mcp:EdDSA fresh=1
  config c:apikey                c  '--stateless --no-access-log --auth apikey --db @DB@'  need=flag:--auth,flag:--db,bin:mcp-admin db=1 cred=apikey goal=c:hs256\>=0.90
  # RBAC (mcp-products, HS256 JWT): permissions from the token; then roles from the store (--db)
  config c:rbac:allowed          c  "$PRODUCTS" bin=mcp-products need=flag:--auth,flag:--catalog cred=jwt:mcp:HS256 tool=list_products args='{"limit":2}' expect='Espresso machine' peer=ts:rbac:allowed goal=nginx\>=0.50
  config c:rbac:denied           c  "$PRODUCTS" bin=mcp-products need=flag:--auth,flag:--catalog cred=jwt:mcp:HS256 tool=delete_product args='{"id":999999}' status=403 expect=Admin.Write peer=ts:rbac:denied goal=nginx\>=0.50
  config c:rbac:list             c  "$PRODUCTS" bin=mcp-products need=flag:--auth,flag:--catalog cred=jwt:mcp:HS256 method=tools/list expect=list_products reject=delete_product peer=ts:rbac:list goal=nginx\>=0.50
  config c:rbac:store            c  "$PRODUCTS --db @DB@" bin=mcp-products need=flag:--auth,flag:--db,bin:mcp-admin db=1 cred=jwt:mcp:HS256 perms= tool=list_products args='{"limit":2}' expect='Espresso machine' peer=ts:rbac:allowed goal=c:rbac:allowed\>=0.91,nginx\>=0.50
  # the same on the PostgreSQL store (issue 13), then two such instances behind nginx
  config c:rbac:store:pg         c  "$PRODUCTS --db @DB@" bin=mcp-products need=flag:--auth,flag:--db,bin:mcp-admin,pg db=pg cred=jwt:mcp:HS256 perms= tool=list_products args='{"limit":2}' expect='Espresso machine' peer=ts:rbac:allowed goal=c:rbac:store\>=0.90
  config c:rbac:store:pg:lb2     c  "$PRODUCTS --db @DB@" bin=mcp-products need=flag:--auth,flag:--db,bin:mcp-admin,pg,nginx db=pg lb=2 cred=jwt:mcp:HS256 perms= tool=list_products args='{"limit":2}' expect='Espresso machine' peer=ts:rbac:allowed
  # the TS SDK peer (server.mjs)
  config ts:stateless            ts 'MODE=stateless AUTH=none'       need=node
  config ts:stateful             ts 'MODE=stateful AUTH=none'        need=node session=1
  config ts:hs256                ts 'MODE=stateless AUTH=hs256'      need=node cred=jwt:peer:hs256
  config ts:rs256                ts 'MODE=stateless AUTH=rs256'      need=node cred=jwt:peer:rs256
  config ts:es256                ts 'MODE=stateless AUTH=es256'      need=node cred=jwt:peer:es256
  config ts:rbac:allowed         ts 'MODE=stateless AUTH=hs256'      need=node cred=jwt:peer:hs256 tool=list_products args='{}' expect=Widget
  config ts:rbac:denied          ts 'MODE=stateless AUTH=hs256'      need=node cred=jwt:peer:hs256 tool=delete_product args='{"id":999999}' expect=Forbidden
  config ts:rbac:list            ts 'MODE=stateless AUTH=hs256'      need=node cred=jwt:peer:hs256 method=tools/list expect=list_products reject=delete_product
  # the HTTP ceiling
  config nginx                   nginx ''                            need=nginx
}

# ---------------------------------------------------------------------------------------------
CFG_NAMES=(); declare -A CFG_KIND CFG_ARGS CFG_OPT
config() { # NAME KIND ARGS [key=value ...]
  local name=$1 kind=$2 args=$3 kv; shift 3
  CFG_NAMES+=("$name"); CFG_KIND[$name]=$kind; CFG_ARGS[$name]=$args
  for kv in "$@"; do CFG_OPT[$name.${kv%%=*}]=${kv#*=}; done
}
opt() { local k="$1.$2"; if [[ -v CFG_OPT[$k] ]]; then printf '%s' "${CFG_OPT[$k]}"; else printf '%s' "${3:-}"; fi; }
has_opt() { [[ -v CFG_OPT[$1.$2] ]]; }
define_configs

selected() { # NAME: in CONFIGS?
  local pat pats
  read -ra pats <<<"$CONFIGS"     # no pathname expansion of '*'
  for pat in "${pats[@]}"; do
    # shellcheck disable=SC2053
    [[ $1 == $pat ]] && return 0
  done
  return 1
}

note() { printf '%s\n' "$*" >&2; }
die() { note "run.sh: $*"; exit 1; }

# why a config cannot run here ("" = it can)
missing_for() { # NAME
  local name=$1 kind=${CFG_KIND[$1]} n bin
  bin=$(opt "$name" bin mcp-conformance-server)
  if [[ $kind == c && ! -x $BIN/$bin ]]; then echo "binary $bin not built"; return; fi
  local IFS=,
  for n in $(opt "$name" need); do
    case $n in
      bin:*) [[ -x $BIN/${n#bin:} ]] || { echo "binary ${n#bin:} not built"; return; } ;;
      flag:*) grep -qE -- "${n#flag:}([^a-z0-9-]|\$)" <<<"$(help_of "$bin")" || { echo "$bin --help has no ${n#flag:}"; return; } ;;
      node) [[ $HAVE_NODE == 1 ]] || { echo "peer not set up (node/npm): $PEER_NOTE"; return; } ;;
      nginx) command -v nginx >/dev/null || { echo "nginx not installed"; return; } ;;
      pg) [[ -x $PG_BIN/initdb ]] || { echo "PostgreSQL 15 not installed ($PG_BIN)"; return; }
          command -v psql >/dev/null || { echo "psql not installed"; return; } ;;
    esac
  done
  case $(opt "$name" cred) in
    jwt:mcp:*) [[ -x $BIN/mcp-token ]] || { echo "binary mcp-token not built"; return; } ;;
    jwt:peer:*) [[ $HAVE_NODE == 1 ]] || { echo "peer not set up"; return; } ;;
    apikey) [[ -x $BIN/mcp-admin ]] || { echo "binary mcp-admin not built"; return; } ;;
  esac
  echo ""
}
declare -A HELP_CACHE
help_of() { # BIN -> its --help text (cached)
  if [[ ! -v HELP_CACHE[$1] ]]; then HELP_CACHE[$1]=$("$BIN/$1" --help 2>&1 || true); fi
  printf '%s' "${HELP_CACHE[$1]}"
}

# ---------------------------------------------------------------------------------------------
# tools and builds
ensure_tools() {
  local pkgs=()
  command -v wrk >/dev/null || pkgs+=(wrk)
  command -v nginx >/dev/null || pkgs+=(nginx-light)
  command -v curl >/dev/null || pkgs+=(curl)
  ((${#pkgs[@]})) || return 0
  [[ $INSTALL == 1 ]] || die "missing ${pkgs[*]} (INSTALL=0)"
  note "installing ${pkgs[*]} with apt-get"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null ||
    die "apt-get install ${pkgs[*]} failed"
}

BUILD_NOTE=""
build_ours() {
  [[ $BUILD == 1 ]] || { BUILD_NOTE="BUILD=0: binaries used as found"; return 0; }
  # Warnings are not errors here: a benchmark is not a lint gate, and a Release-only warning in
  # someone's work in progress must not stop the measurement (codegen is the same either way).
  # shellcheck disable=SC2086
  cmake -S "$REPO" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DMCP_WERROR=OFF $CMAKE_ARGS \
    >"$OUT/build.log" 2>&1 || die "cmake configure failed, see $OUT/build.log"
  local targets t have
  have=$(cmake --build "$BUILD_DIR" --target help 2>/dev/null)
  for t in mcp-conformance-server mcp-token mcp-admin mcp-products; do
    grep -q "^\.\.\. $t\$" <<<"$have" || continue
    if cmake --build "$BUILD_DIR" -j2 --target "$t" >>"$OUT/build.log" 2>&1; then
      targets+="$t "
    else
      BUILD_NOTE+="build of $t failed (see build.log); "
    fi
  done
  grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$BUILD_DIR/CMakeCache.txt" || die "$BUILD_DIR is not a Release build"
  BUILD_NOTE+="built: ${targets:-nothing}"
}

HAVE_NODE=0; PEER_NOTE=""
setup_peer() {
  # Work from a writable copy, exactly as the peer's own scripts do when shared/ is read-only
  # (we never write into shared/, even as root); setup.sh is idempotent (npm ci + keys.sh).
  [[ -d $PEER_SRC ]] || { PEER_NOTE="no $PEER_SRC"; return 0; }
  command -v "$NODE" >/dev/null || { PEER_NOTE="no node"; return 0; }
  mkdir -p "$PEER" "$PEER_HOME/ceiling"
  cp -pf "$PEER_SRC"/*.sh "$PEER_SRC"/*.mjs "$PEER_SRC"/*.lua "$PEER_SRC"/package*.json "$PEER/"
  [[ -f $PEER_SRC/.npmrc ]] && cp -pf "$PEER_SRC/.npmrc" "$PEER/"
  cp -pf "$SHARED"/peers/ceiling/* "$PEER_HOME/ceiling/"
  chmod -R u+w "$PEER_HOME"
  if (cd "$PEER" && ./setup.sh) >"$OUT/peer-setup.log" 2>&1; then
    HAVE_NODE=1
  else
    PEER_NOTE="peer setup.sh failed (see peer-setup.log)"
  fi
}

# ---------------------------------------------------------------------------------------------
# measurement helpers
cpu_idle() { # % of all CPUs idle over 1 s
  local a b
  read -ra a </proc/stat; sleep 1; read -ra b </proc/stat
  local busy=$(( (b[1]-a[1]) + (b[2]-a[2]) + (b[3]-a[3]) + (b[6]-a[6]) + (b[7]-a[7]) + (b[8]-a[8]) ))
  local idle=$(( (b[4]-a[4]) + (b[5]-a[5]) ))
  echo $(( 100 * idle / (busy + idle + (busy + idle == 0)) ))
}
wait_quiet() { # sets IDLE
  local i
  for ((i = 0; i < QUIET_WAIT; i++)); do IDLE=$(cpu_idle); ((IDLE >= QUIET)) && return 0; done
  return 0
}
machine_jiffies() { awk '/^cpu / { print $2+$3+$4+$7+$8+$9 }' /proc/stat; }
tree_pids() { echo "$1"; pgrep -P "$1" 2>/dev/null || true; }
tree_jiffies() { # utime + stime of a process and its children
  local p t=0
  for p in $(tree_pids "$1"); do
    t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$t"
}
peak_rss_mib() { # VmHWM of a process and its children, summed
  local p kb t=0
  for p in $(tree_pids "$1"); do
    kb=$(awk '/^VmHWM/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)
    t=$((t + ${kb:-0}))
  done
  awk -v k="$t" 'BEGIN { printf "%.1f", k / 1024 }'
}

# ---------------------------------------------------------------------------------------------
# credentials
mint_mcp() { # ALG PERMS [extra mint args] -> one token on stdout
  local alg=$1 perms=$2; shift 2
  local key
  case $alg in
    HS*) key=(--secret-file "$KEYS/hs256.key") ;;
    RS256) key=(--key "$KEYS/rs256.pem") ;;
    ES256) key=(--key "$KEYS/es256.pem") ;;
    EdDSA) key=(--key "$EDKEY.key") ;;
    *) die "no key for $alg" ;;
  esac
  local p=(); [[ -n $perms ]] && p=(--permissions "$perms")
  "$BIN/mcp-token" mint "${key[@]}" --alg "$alg" --sub "$SUB" "${p[@]}" \
    --iss "$ISS" --aud "$AUD" --ttl 86400 "$@"
}
ensure_edkey() {
  EDKEY=$BENCH_CACHE/keys/eddsa
  [[ -s $EDKEY.key || ! -x $BIN/mcp-token ]] && return 0
  mkdir -p "$BENCH_CACHE/keys"; chmod 700 "$BENCH_CACHE/keys"
  "$BIN/mcp-token" keygen --alg EdDSA --out "$EDKEY" >/dev/null
}
token_file() { # ALG PERMS -> path of a file with TOKENS_N distinct tokens (made once, kept 12 h)
  local alg=$1 perms=$2 keysum f
  keysum=$(cat "$KEYS"/* "$EDKEY".* 2>/dev/null | cksum | cut -d' ' -f1)
  f=$BENCH_CACHE/tokens/$alg-${perms:-none}-$TOKENS_N-$keysum.txt
  mkdir -p "$BENCH_CACHE/tokens"
  if [[ -s $f && -n $(find "$f" -mmin -720) && $(wc -l <"$f") -ge $TOKENS_N ]]; then
    echo "$f"; return 0
  fi
  note "  minting $TOKENS_N $alg tokens with mcp-token into $f (once; reused for 12 h)"
  # every token gets its own random jti, so they are distinct; two processes (2 cores), one
  # signing-key load each (mint --count)
  # (each into its own file: two processes' buffered writes to one file would split lines)
  local half=$(( (TOKENS_N + 1) / 2 )) p1 p2
  mint_mcp "$alg" "$perms" --count "$half" >"$f.tmp1" & p1=$!
  mint_mcp "$alg" "$perms" --count "$half" >"$f.tmp2" & p2=$!
  wait "$p1" && wait "$p2" || die "mcp-token mint --count failed"
  cat "$f.tmp1" "$f.tmp2" >"$f.tmp"; rm -f "$f.tmp1" "$f.tmp2"
  [[ $(sort -u "$f.tmp" | wc -l) -ge $TOKENS_N ]] || die "token file $f.tmp: duplicate or missing tokens"
  ! grep -qvE '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$' "$f.tmp" || die "token file $f.tmp: a line is not a compact JWS"
  mv "$f.tmp" "$f"; echo "$f"
}
PG_URL=""; PG_DIR=""
pg_up() { # the run's PostgreSQL cluster, started on first use -> PG_URL
  [[ -n $PG_URL ]] && return 0
  PG_DIR=$(mktemp -d /tmp/mcp-bench-pg.XXXXXX)   # not under RUN_TMP (0700): the postgres user reads it
  PG_URL=$(MCP_PG_BIN=$PG_BIN bash "$REPO/tests/integration/lib/pg_cluster.sh" start "$PG_DIR" 0) ||
    { PG_URL=""; return 1; }
}
pg_down() {
  [[ -n $PG_DIR ]] || return 0
  MCP_PG_BIN=$PG_BIN bash "$REPO/tests/integration/lib/pg_cluster.sh" stop "$PG_DIR" || true
  rm -rf "$PG_DIR"; PG_DIR=""; PG_URL=""
}
make_db() { # fresh store for a config -> path (db=1) or URI (db=pg)
  local db=$CFG_TMP/store.db
  if [[ $(opt "$CURRENT" db) == pg ]]; then
    pg_up || return 1
    psql -q "$PG_URL" -c 'SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public;' >/dev/null || return 1
    db=$PG_URL
  fi
  "$BIN/mcp-admin" --db "$db" role set reader User.Read >/dev/null
  "$BIN/mcp-admin" --db "$db" role set admin User.Read Admin.Write >/dev/null
  "$BIN/mcp-admin" --db "$db" user add "$SUB" --role reader >/dev/null
  echo "$db"
}

# ---------------------------------------------------------------------------------------------
# one config
HDRS=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream'
      -H 'MCP-Protocol-Version: 2025-06-18')
INIT='{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}'

SRV_PID=""; SRV_LB=0; CURRENT=""; RUN_TMP=""; IDLE=-; WHY=""; CFG_DB=""; CFG_TMP=""; EDKEY=$BENCH_CACHE/keys/eddsa
TOKEN=""; TOKENS_FILE=""; SESSION=""; URL=""
stop_server() {
  if [[ -n $SRV_PID && $SRV_LB == 1 ]]; then   # lb: nginx's children are the instances too
    local p
    for p in $(pgrep -P "$SRV_PID" 2>/dev/null || true); do kill "$p" 2>/dev/null || true; done
  fi
  SRV_LB=0
  if [[ -n $SRV_PID ]]; then
    kill "$SRV_PID" 2>/dev/null || true
    wait "$SRV_PID" 2>/dev/null || true
    SRV_PID=""
  fi
}
cleanup() { stop_server; pg_down; [[ -n $RUN_TMP ]] && rm -rf "$RUN_TMP"; return 0; }
trap cleanup EXIT
trap 'exit 130' INT TERM

http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" || true; }
wait_ready() { # URL
  local i
  for ((i = 0; i < 100; i++)); do
    [[ $(http_code -X POST "${HDRS[@]}" -d '{}' "$1") != 000 ]] && return 0
    kill -0 "$SRV_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
port_free() { [[ $(http_code "http://127.0.0.1:$1/") == 000 ]]; }

start_server() { # NAME LOGFILE -> SRV_PID, URL; on failure WHY and return 1
  local name=$1 log=$2 kind=${CFG_KIND[$1]} args=${CFG_ARGS[$1]} port
  args=${args//@KEYS@/$KEYS}; args=${args//@EDKEY@/$EDKEY}; args=${args//@ISS@/$ISS}
  args=${args//@AUD@/$AUD}; args=${args//@DB@/${CFG_DB:-}}; args=${args//@TMP@/$CFG_TMP}
  case $kind in
    c)
      port=$C_PORT; port_free "$port" || { WHY="port $port is in use"; return 1; }
      if [[ $(opt "$name" lb) == 2 ]]; then start_lb "$name" "$log" "$args" || return 1
      else
        # shellcheck disable=SC2086
        "$BIN/$(opt "$name" bin mcp-conformance-server)" --listen "127.0.0.1:$port" $args 2>"$log" &
        SRV_PID=$!
      fi ;;
    ts)
      port=$TS_PORT; port_free "$port" || { WHY="port $port is in use"; return 1; }
      # shellcheck disable=SC2086
      (cd "$PEER" && exec env PORT=$port LOG=1 $args "$NODE" server.mjs) >"$log" 2>&1 &
      SRV_PID=$! ;;
    nginx)
      port=$NGX_PORT; port_free "$port" || { WHY="port $port is in use"; return 1; }
      mkdir -p "$RUN_TMP/nginx"
      sed "s/127\.0\.0\.1:8089/127.0.0.1:$port/" "$CEIL_CONF" >"$RUN_TMP/nginx/nginx.conf"
      nginx -p "$RUN_TMP/nginx" -c "$RUN_TMP/nginx/nginx.conf" -g 'daemon off;' >"$log" 2>&1 &
      SRV_PID=$! ;;
  esac
  URL=http://127.0.0.1:$port/mcp
  wait_ready "$URL" || { WHY="server did not become ready (log: $(tail -c 300 "$log" | tr '\n' ' '))"; return 1; }
}

# lb=2: a process that starts both instances (stderr of both to LOG), waits until each answers,
# then becomes nginx (exec), so SRV_PID is nginx's master and the instances are its children
# (their CPU and RSS are counted with it; stop_server ends them first).
start_lb() { # NAME LOG ARGS -> SRV_PID
  local name=$1 log=$2 args=$3 bin p1=$((C_PORT + 3)) p2=$((C_PORT + 4)) d=$RUN_TMP/lb
  bin=$BIN/$(opt "$name" bin mcp-conformance-server)
  port_free "$p1" && port_free "$p2" || { WHY="port $p1 or $p2 is in use"; return 1; }
  mkdir -p "$d"
  cat >"$d/nginx.conf" <<CONF
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $d/body;
    proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fastcgi;
    uwsgi_temp_path $d/uwsgi;
    scgi_temp_path $d/scgi;
    upstream mcp { server 127.0.0.1:$p1; server 127.0.0.1:$p2; keepalive 64; }
    server {
        listen 127.0.0.1:$C_PORT;
        location /mcp {
            proxy_pass http://mcp;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$http_host;
            proxy_buffering off;
            proxy_next_upstream error timeout;
        }
    }
}
CONF
  (
    # each instance its own files under @TMP@ (mcp-products' --catalog), the store shared
    # shellcheck disable=SC2086
    "$bin" --listen "127.0.0.1:$p1" --resource-url "http://127.0.0.1:$C_PORT/mcp" \
      ${args//"$CFG_TMP/"/"$CFG_TMP/i1-"} 2>>"$log" &
    # shellcheck disable=SC2086
    "$bin" --listen "127.0.0.1:$p2" --resource-url "http://127.0.0.1:$C_PORT/mcp" \
      ${args//"$CFG_TMP/"/"$CFG_TMP/i2-"} 2>>"$log" &
    for _ in $(seq 1 100); do
      [[ $(http_code -X POST "${HDRS[@]}" -d '{}' "http://127.0.0.1:$p1/mcp") != 000 &&
         $(http_code -X POST "${HDRS[@]}" -d '{}' "http://127.0.0.1:$p2/mcp") != 000 ]] && break
      sleep 0.1
    done
    exec nginx -p "$d" -c "$d/nginx.conf" -g 'daemon off;' 2>>"$log"
  ) &
  SRV_PID=$!; SRV_LB=1
}

rpc_body() { # METHOD TOOL ARGS PARAMS [META: ,"_meta":{...} appended to params]
  if [[ $1 == tools/call ]]; then
    printf '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"%s","arguments":%s%s}}' "$2" "$3" "${5:-}"
  else
    printf '{"jsonrpc":"2.0","id":1,"method":"%s","params":%s}' "$1" "$4"
  fi
}

# checks before the load; on failure WHY = the reason and return 1; sets SESSION, TOKEN, TOKENS_FILE
prepare_and_check() { # NAME
  local name=$1 cred perms alg code resp authh=() sessh=() body proto meta="" HDRS=("${HDRS[@]}")
  cred=$(opt "$name" cred); perms=$(opt "$name" perms User.Read); proto=$(opt "$name" protocol)
  if [[ -n $proto ]]; then # the same request as tools_call.lua with PROTOCOL=$proto
    HDRS=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream'
          -H "MCP-Protocol-Version: $proto" -H 'Mcp-Method: tools/call'
          -H "Mcp-Name: $(opt "$name" tool echo)")
    meta=',"_meta":{"io.modelcontextprotocol/protocolVersion":"'$proto'",'
    meta+='"io.modelcontextprotocol/clientInfo":{"name":"bench","version":"1"},'
    meta+='"io.modelcontextprotocol/clientCapabilities":{}}'
  fi
  TOKEN=""; TOKENS_FILE=""; SESSION=""
  case $cred in
    "") ;;
    jwt:mcp:*)
      alg=${cred#jwt:mcp:}
      if [[ $(opt "$name" fresh) == 1 ]]; then
        TOKENS_FILE=$(token_file "$alg" "$perms") || { WHY="minting tokens failed"; return 1; }
        TOKEN=$(head -1 "$TOKENS_FILE")
      else
        TOKEN=$(mint_mcp "$alg" "$perms") || { WHY="mcp-token mint failed"; return 1; }
      fi ;;
    jwt:peer:*)
      TOKEN=$(cd "$PEER" && "$NODE" mint.mjs --alg "${cred#jwt:peer:}" --perms "$perms" --ttl 86400) ||
        { WHY="mint.mjs failed"; return 1; } ;;
    apikey)
      TOKEN=$("$BIN/mcp-admin" --db "$CFG_DB" key create --owner "$SUB" --label bench) ||
        { WHY="mcp-admin key create failed"; return 1; } ;;
    *) WHY="unknown cred=$cred"; return 1 ;;
  esac
  if [[ -n $TOKEN ]]; then
    authh=(-H "Authorization: Bearer $TOKEN")
    code=$(http_code "${HDRS[@]}" -d "$(rpc_body tools/call echo '{"text":"hello"}' '{}' "$meta")" "$URL")
    [[ $code == 401 ]] || { WHY="request without a credential got $code, want 401"; return 1; }
  fi
  if [[ $(opt "$name" session) == 1 ]]; then
    SESSION=$(curl -s -D - -o /dev/null --max-time 5 "${HDRS[@]}" "${authh[@]}" -d "$INIT" "$URL" |
      tr -d '\r' | awk -F': ' 'tolower($1) == "mcp-session-id" { print $2 }')
    [[ -n $SESSION ]] || { WHY="initialize returned no Mcp-Session-Id"; return 1; }
    sessh=(-H "Mcp-Session-Id: $SESSION")
    code=$(http_code "${HDRS[@]}" "${authh[@]}" "${sessh[@]}" \
      -d '{"jsonrpc":"2.0","method":"notifications/initialized"}' "$URL")
    [[ $code == 2* ]] || { WHY="notifications/initialized got $code"; return 1; }
  fi
  body=$(rpc_body "$(opt "$name" method tools/call)" "$(opt "$name" tool echo)" \
    "$(opt "$name" args '{"text":"hello"}')" "$(opt "$name" params '{}')" "$meta")
  resp=$(curl -s --max-time 5 -w '\n%{http_code}' "${HDRS[@]}" "${authh[@]}" "${sessh[@]}" -d "$body" "$URL")
  code=${resp##*$'\n'}; resp=${resp%$'\n'*}
  local want_status want_body reject
  want_status=$(opt "$name" status); want_body=$(opt "$name" expect 'echo: hello'); reject=$(opt "$name" reject)
  if [[ -n $want_status ]]; then
    [[ $code == "$want_status" ]] || { WHY="check request got $code, want $want_status: ${resp:0:200}"; return 1; }
  else
    [[ $code == 2* ]] || { WHY="check request got $code: ${resp:0:200}"; return 1; }
  fi
  [[ -z $want_body || $resp == *"$want_body"* ]] || { WHY="check response lacks '$want_body': ${resp:0:200}"; return 1; }
  [[ -z $reject || $resp != *"$reject"* ]] || { WHY="check response has '$reject': ${resp:0:200}"; return 1; }
  if ! has_opt "$name" expect && ! has_opt "$name" tool; then
    [[ $resp == *'"text":"echo: hello"'* && $resp != *'"isError":true'* ]] ||
      { WHY="echo check failed: ${resp:0:200}"; return 1; }
  fi
  return 0
}

# run one wrk; append a row to results.tsv
run_wrk() { # NAME ROUND THREADS CONNS LUA
  local name=$1 round=$2 t=$3 c=$4 lua=$5 out m0 s0 m1 s1 wt
  out=$OUT/wrk/$name.r$round.c$c.txt; out=${out//:/_}
  local e0 e1
  m0=$(machine_jiffies); s0=$(tree_jiffies "$SRV_PID"); e0=$EPOCHREALTIME
  wt=$( { TIMEFORMAT='%U %S'; time BENCH_THREADS=$t wrk -t"$t" -c"$c" -d"$DURATION" -s "$lua" "$URL" >"$out" 2>&1; } 2>&1 ) ||
    { note "  wrk failed: $(tail -3 "$out")"; return 1; }
  m1=$(machine_jiffies); s1=$(tree_jiffies "$SRV_PID"); e1=$EPOCHREALTIME
  local line; line=$(grep '^RESULT' "$out" | tail -1)
  [[ -n $line ]] || { note "  wrk printed no RESULT line: $(tail -3 "$out")"; return 1; }
  local rps p50_ms p99_ms requests non2xx bad_body sock_err timeouts rotated=0
  eval "${line#RESULT }"
  # CPU during the run in % of ONE core (200 % = both cores of this box): the server (with its
  # children), wrk (user+sys from `time`), and everything else on the machine (the noise)
  local srv wrkc other
  read -r srv wrkc other < <(awk -v m=$((m1 - m0)) -v s=$((s1 - s0)) -v w="$wt" -v hz="$(getconf CLK_TCK)" \
      -v e0="$e0" -v e1="$e1" '
    BEGIN { split(w, x, " "); wj = (x[1] + x[2]) * hz; o = m - s - wj; if (o < 0) o = 0
            d = (e1 - e0) * hz; if (d <= 0) d = 1
            printf "%.0f %.0f %.0f\n", 100 * s / d, 100 * wj / d, 100 * o / d }')
  local flags=""
  [[ $non2xx == 0 ]] || flags+="NON2XX "
  [[ $bad_body == 0 ]] || flags+="BADBODY "
  [[ $sock_err == 0 && $timeouts == 0 ]] || flags+="SOCKERR "
  [[ -z ${TOKENS_FILE:-} || $rotated == 1 ]] || flags+="NOTROTATED "
  ((other <= NOISY)) || flags+="NOISY "
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$round" "$name" "$c" "$rps" "$p50_ms" "$p99_ms" "$requests" "$non2xx" "$bad_body" \
    "$((sock_err + timeouts))" "$srv" "$wrkc" "$other" "RSS" "$IDLE" "${flags% }" "" >>"$OUT/rows.tmp"
  printf '  %-22s c=%-3s rps=%-7s p50=%-6s p99=%-7s non2xx=%s bad_body=%s srv_cpu=%s%% wrk_cpu=%s%% other_cpu=%s%% %s\n' \
    "$name" "$c" "$rps" "$p50_ms" "$p99_ms" "$non2xx" "$bad_body" "$srv" "$wrkc" "$other" "$flags" >&2
}

run_config() { # NAME ROUND
  local name=$1 round=$2 kind=${CFG_KIND[$1]} log lua
  log=$OUT/logs/${name//:/_}.r$round.log
  CFG_DB=""; CFG_TMP=$RUN_TMP/${name//:/_}.r$round; mkdir -p "$CFG_TMP"; CURRENT=$name
  if [[ $(opt "$name" db) == pg ]] && ! pg_up; then   # here, not in make_db's subshell
    record_skip "$round" "$name" "CHECK-FAIL: PostgreSQL did not start"; return
  fi
  if [[ $(opt "$name" db) == 1 || $(opt "$name" db) == pg ]]; then CFG_DB=$(make_db) || { record_skip "$round" "$name" "CHECK-FAIL: making the store failed"; return; }; fi
  WHY=""
  if ! start_server "$name" "$log"; then
    stop_server; record_skip "$round" "$name" "CHECK-FAIL: $WHY"; return
  fi
  if ! prepare_and_check "$name"; then
    stop_server; record_skip "$round" "$name" "CHECK-FAIL: $WHY"; return
  fi
  export TOKEN SESSION TOKENS_FILE EXPECT TOOL ARGS METHOD PARAMS REJECT EXPECT_STATUS PROTOCOL
  PROTOCOL=$(opt "$name" protocol 2025-06-18)
  EXPECT=$(opt "$name" expect 'echo: hello'); TOOL=$(opt "$name" tool echo)
  ARGS=$(opt "$name" args '{"text":"hello"}'); METHOD=$(opt "$name" method tools/call)
  PARAMS=$(opt "$name" params '{}'); REJECT=$(opt "$name" reject); EXPECT_STATUS=$(opt "$name" status)
  if [[ -n $TOKENS_FILE || $METHOD != tools/call || -n $REJECT || -n $EXPECT_STATUS || -z $EXPECT ]]; then
    lua=$BENCH_DIR/tools_call_tokens.lua
  else
    lua=$PEER/tools_call.lua   # the peer's script: the same load for every server
  fi
  [[ -n $TOKENS_FILE ]] && unset TOKEN
  wait_quiet
  BENCH_THREADS=$THREADS wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" -s "$lua" "$URL" >/dev/null 2>&1 || true
  local before; before=$(wc -l <"$OUT/rows.tmp")
  run_wrk "$name" "$round" "$THREADS" "$CONNS" "$lua" || true
  run_wrk "$name" "$round" 1 1 "$lua" || true
  local rss; rss=$(peak_rss_mib "$SRV_PID")
  local lines=""
  if [[ $kind == c ]]; then lines="log_lines=$(grep -c ' access: ' "$log" || true)"; fi
  stop_server
  # fill in the RSS (measured after both runs) and the note of this config's rows
  awk -F'\t' -v OFS='\t' -v b="$before" -v rss="$rss" -v n="$lines" \
    'NR > b { $14 = rss; $17 = n } { print }' "$OUT/rows.tmp" >"$OUT/rows.tmp2" && mv "$OUT/rows.tmp2" "$OUT/rows.tmp"
  if [[ $KEEP_LOGS != 1 && $kind == c ]]; then
    { echo "# access log removed after counting ($lines); head:"; head -5 "$log"; } >"$log.head" && rm -f "$log"
  fi
}

record_skip() { # ROUND NAME WHY
  printf '%s\t%s\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t%s\t\n' "$1" "$2" "$3" >>"$OUT/rows.tmp"
  note "  $2: $3"
  printf 'round %s %s: %s\n' "$1" "$2" "$3" >>"$OUT/notes.txt"
}

# ---------------------------------------------------------------------------------------------
# report
report() {
  local tsv=$OUT/results.tsv
  {
    printf 'round\tconfig\tconns\trps\tp50_ms\tp99_ms\trequests\tnon2xx\tbad_body\tsock_err\tsrv_cpu\twrk_cpu\tother_cpu\trss_mib\tidle0\tflags\tnote\n'
    cat "$OUT/rows.tmp"
  } >"$tsv"
  # goals per config, for the awk below
  local g n p
  : >"$OUT/goals.tmp"
  for n in "${CFG_NAMES[@]}"; do
    g=$(opt "$n" goal); p=$(opt "$n" peer)
    printf '%s\t%s\t%s\n' "$n" "${p:--}" "${g:--}" >>"$OUT/goals.tmp"
  done
  awk -F'\t' -v conns="$CONNS" -v rounds="$ROUNDS" '
    function ratio(a, b) { return (b > 0 && a != "-") ? sprintf("%.3f", a / b) : "-" }
    function nfmt(v, f) { return v == "-" ? "-" : sprintf(f, v) }
    function xfmt(r) { return r == "-" ? "-" : sprintf("%.1fx", r) }
    function pfmt(r) { return r == "-" ? "-" : sprintf("%.1f%%", 100 * r) }
    function maxof(key, col,   i, m) { m = "-"; for (i = 1; i <= rounds; i++) if ((i, key, col) in val && val[i, key, col] != "-" && (m == "-" || val[i, key, col] + 0 > m)) m = val[i, key, col] + 0; return m }
    function med(key, col,   n, i, j, t, v) {  # median over rounds of column col
      n = 0
      for (i = 1; i <= rounds; i++) if ((i SUBSEP key) in val && val[i, key, col] != "-") v[++n] = val[i, key, col] + 0
      if (n == 0) return "-"
      for (i = 2; i <= n; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
      return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    FILENAME ~ /goals/ { peer[$1] = $2; goal[$1] = $3; next }
    FNR == 1 { next }
    {
      key = $2 SUBSEP $3
      if (!(key in seen)) { seen[key] = 1; order[++nk] = key }
      val[$1, key] = 1
      for (c = 4; c <= 16; c++) val[$1, key, c] = $c
      if ($3 == "-") flags[key] = $16
      else if ($16 != "") flags[key] = flags[key] (flags[key] == "" ? "" : " ") "r" $1 ":" $16
      if ($17 != "") notes[key] = $17
      rowsof[key] = rowsof[key] + 1
    }
    END {
      # per-round table with same-round ratios
      print "## Per round (vs_ts = rps / the TS peer config, vs_nginx = rps / nginx; same round, same conns)"
      print ""
      print "| round | config | conns | req/s | p50 ms | p99 ms | peak RSS MiB | non2xx | bad_body | sock_err+timeouts | srv_cpu % | wrk_cpu % | other_cpu % | idle0 % | vs_ts | vs_nginx | flags / note |"
      print "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
      for (r = 1; r <= rounds; r++) for (k = 1; k <= nk; k++) {
        key = order[k]; split(key, kc, SUBSEP)
        if (!((r, key) in val)) continue
        rps = val[r, key, 4]
        pk = peer[kc[1]] SUBSEP kc[2]; nk2 = "nginx" SUBSEP kc[2]
        vt = (peer[kc[1]] != "-" && (r, pk) in val) ? ratio(rps, val[r, pk, 4]) : "-"
        vn = ((r, nk2) in val && kc[1] != "nginx") ? ratio(rps, val[r, nk2, 4]) : "-"
        printf "| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r, kc[1], kc[2],
          rps, val[r, key, 5], val[r, key, 6], val[r, key, 14], val[r, key, 8], val[r, key, 9], val[r, key, 10],
          val[r, key, 11], val[r, key, 12], val[r, key, 13], val[r, key, 15], xfmt(vt), pfmt(vn), val[r, key, 16] (notes[key] != "" ? " " notes[key] : "")
      }
      print ""
      print "## Summary (median over " rounds " round(s); ratios of medians)"
      print ""
      print "| config | conns | req/s | p50 ms | p99 ms | peak RSS MiB | vs_ts | vs_nginx | max other_cpu % | flags |"
      print "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
      for (k = 1; k <= nk; k++) {
        key = order[k]; split(key, kc, SUBSEP)
        M[key] = med(key, 4)
      }
      for (k = 1; k <= nk; k++) {
        key = order[k]; split(key, kc, SUBSEP)
        pk = peer[kc[1]] SUBSEP kc[2]; nk2 = "nginx" SUBSEP kc[2]
        vt = (peer[kc[1]] != "-" && (pk in M)) ? ratio(M[key], M[pk]) : "-"
        vn = ((nk2 in M) && kc[1] != "nginx") ? ratio(M[key], M[nk2]) : "-"
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", kc[1], kc[2], nfmt(M[key], "%.0f"),
          nfmt(med(key, 5), "%.3g"), nfmt(med(key, 6), "%.3g"), nfmt(med(key, 14), "%.1f"), xfmt(vt), pfmt(vn),
          maxof(key, 13), flags[key]
      }
      print ""
      print "## Targets (benchmark goals, not tests; on the medians above)"
      print ""
      print "| config | goal | measured | met |"
      print "| --- | --- | --- | --- |"
      for (k = 1; k <= nk; k++) {
        key = order[k]; split(key, kc, SUBSEP)
        if (kc[2] != conns || goal[kc[1]] == "-" || goal[kc[1]] == "") continue
        ng = split(goal[kc[1]], gs, ",")
        for (i = 1; i <= ng; i++) {
          g = gs[i]; meas = "-"; lim = 0; op = ""
          if (match(g, />=|<=/)) { op = substr(g, RSTART, 2); what = substr(g, 1, RSTART - 1); lim = substr(g, RSTART + 2) + 0 }
          if (what == "p99") meas = med(key, 6)
          else if (what == "rss") meas = med(key, 14)
          else if (what == "p50@1") meas = med(kc[1] SUBSEP 1, 5)
          else { ok2 = (what SUBSEP conns) in M; meas = ok2 ? ratio(M[key], M[what SUBSEP conns]) : "-" }
          met = (meas == "-") ? "n/a" : ((op == ">=" && meas + 0 >= lim) || (op == "<=" && meas + 0 <= lim)) ? "yes" : "NO"
          printf "| %s | %s | %s | %s |\n", kc[1], (what ~ /^(p99|rss|p50@1)$/ ? g : "rps / " what " " op " " lim), meas, met
        }
      }
    }' "$OUT/goals.tmp" "$tsv" >"$OUT/table.md"
  rm -f "$OUT/goals.tmp"
}

# ---------------------------------------------------------------------------------------------
if [[ ${1:-} == --list ]]; then
  HAVE_NODE=$([[ -d $PEER/node_modules/@modelcontextprotocol/sdk ]] && echo 1 || echo 0); PEER_NOTE="run once to set it up"
  EDKEY=$BENCH_CACHE/keys/eddsa
  for n in "${CFG_NAMES[@]}"; do
    why=$(missing_for "$n")
    printf '%-22s %-5s %s\n' "$n" "${CFG_KIND[$n]}" "${why:+SKIP: $why}"
  done
  exit 0
fi
if [[ ${1:-} == --report ]]; then  # re-render table.md from an earlier run's results.tsv
  OUT=${2:?usage: run.sh --report RESULTS_DIR}
  tail -n +2 "$OUT/results.tsv" >"$OUT/rows.tmp"
  ROUNDS=$(awk -F'\t' 'NR > 1 && $1 > m { m = $1 } END { print m + 0 }' "$OUT/results.tsv")
  report; rm -f "$OUT/rows.tmp"; cat "$OUT/table.md"; exit 0
fi
[[ $# -eq 0 ]] || die "usage: run.sh [--list | --report RESULTS_DIR]  (knobs are env variables, see the header)"

OUT=${OUT:-$BENCH_DIR/results/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT/wrk" "$OUT/logs"; : >"$OUT/rows.tmp"; : >"$OUT/notes.txt"
RUN_TMP=$(mktemp -d /tmp/mcp-bench.XXXXXX)

note "== tools"; ensure_tools
note "== build ($BUILD_DIR, Release)"; build_ours; note "  $BUILD_NOTE"
note "== TS peer ($PEER)"; setup_peer; note "  ${PEER_NOTE:-ready}"
ensure_edkey || true

{
  echo "date: $(date -u +%FT%TZ)"
  echo "git: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null) ($(git -C "$REPO" status --porcelain 2>/dev/null | wc -l) uncommitted paths in the tree)"
  echo "build: $BUILD_NOTE; $(grep -E '^CMAKE_C_COMPILER:|^CMAKE_BUILD_TYPE:' "$BUILD_DIR/CMakeCache.txt" | tr '\n' ' ')"
  echo "cc: $( ($(grep '^CMAKE_C_COMPILER:' "$BUILD_DIR/CMakeCache.txt" | cut -d= -f2) --version || true) | head -1)"
  echo "node: $($NODE --version 2>/dev/null || echo none); sdk: $(cd "$PEER" 2>/dev/null && $NODE -p "require('./node_modules/@modelcontextprotocol/sdk/package.json').version" 2>/dev/null || echo none)"
  echo "nginx: $(nginx -v 2>&1 | sed 's/.*: //'); wrk: $(wrk -v 2>&1 | head -1 | awk '{print $2}')"
  echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "wrk: -t$THREADS -c$CONNS and -t1 -c1, duration=$DURATION warmup=$WARMUP rounds=$ROUNDS quiet=$QUIET% (wait <= ${QUIET_WAIT}s)"
} >"$OUT/env.txt"
cat "$OUT/env.txt" >&2

for ((round = 1; round <= ROUNDS; round++)); do
  note "== round $round"
  for name in "${CFG_NAMES[@]}"; do
    selected "$name" || continue
    why=$(missing_for "$name")
    if [[ -n $why ]]; then record_skip "$round" "$name" "SKIP: $why"; continue; fi
    note "  $name"
    run_config "$name" "$round"
  done
done

report
rm -f "$OUT/rows.tmp"
{ echo; cat "$OUT/env.txt"; echo; cat "$OUT/table.md"; } | sed 's/^date:/# bench\/run.sh results\n\ndate:/'
note "results: $OUT (results.tsv, table.md, wrk/, logs/)"
exit 0
}
