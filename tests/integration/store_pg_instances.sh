#!/usr/bin/env bash
# Two server instances on one PostgreSQL store (what two instances behind a load balancer
# share): a PostgreSQL 15 cluster started by this script (lib/pg_cluster.sh: its own user when
# we are root, a temporary data dir, 127.0.0.1 on a free port, the socket in the temp dir), users and
# keys made by `mcp-admin --db postgresql://...`, and two mcp-conformance-server processes with
# --auth apikey,jwt --db postgresql://.... Then, through mcp-admin: a key revoked, a user
# disabled and a JWT id revoked are refused by BOTH instances within the store's cache bound
# (change_check_ms, 1 s by default; measured and printed). With nginx (round robin, retrying
# the other instance on a connection error) in front: requests reach both instances, the
# revocations hold through the balancer, and with one instance killed (SIGKILL) no request is
# lost. Then PostgreSQL stopped: 503 (fail closed), and recovery when it is back. No log holds a
# key, a token or the database password. Without PostgreSQL (or nginx) this is a skip, except
# under MCP_CI=1 (a failure).
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/auth_common.sh
. "$HERE/lib/auth_common.sh"

PGPORT=0      # pg_cluster.sh picks a free port; the real one is read from the URI
ADMIN="$MCP_BIN/mcp-admin"
TOK="$MCP_BIN/mcp-token"
ISS=https://issuer.test
# not under $TMP (0700): the postgres user must reach it
PGDIR=$(mktemp -d /tmp/mcp-pg-it-XXXXXX)

pg_cleanup() {
    cleanup
    bash "$HERE/lib/pg_cluster.sh" stop "$PGDIR"
    rm -rf "$PGDIR"
    [ -z "${NGX:-}" ] || [ -n "${KEEP_TMP:-}" ] || rm -rf "$NGX"
}
trap pg_cleanup EXIT

if ! URL=$(bash "$HERE/lib/pg_cluster.sh" start "$PGDIR" "$PGPORT"); then
    if [ "${MCP_CI:-}" = 1 ]; then
        echo "FAIL: PostgreSQL 15 is needed for this test (MCP_CI=1)" >&2
        exit 1
    fi
    echo "SKIP: PostgreSQL 15 could not be started"
    exit 0
fi
PGPORT=$(sed -n 's|.*@127\.0\.0\.1:\([0-9]*\)/.*|\1|p' <<<"$URL")
PGPW=$(printf '%s' "$URL" | sed -n 's|^postgresql://mcp:\([^@]*\)@.*|\1|p')
check "the test cluster has a password" test -n "$PGPW"

A() { "$ADMIN" --db "$URL" "$@"; }
A user add alice --role admin >/dev/null 2>&1 || bad "mcp-admin user add alice"
A user add bob --role user >/dev/null 2>&1 || bad "mcp-admin user add bob"
KEY_A=$(A key create --owner alice 2>/dev/null)
A --json key create --owner alice --label revoke-me >"$TMP/k.json" 2>/dev/null
KEY_R=$(sed -n 's/.*"key":"\([^"]*\)".*/\1/p' "$TMP/k.json")
KEY_R_ID=$(sed -n 's/.*"id":"\([^"]*\)".*/\1/p' "$TMP/k.json")
KEY_B=$(A key create --owner bob 2>/dev/null)
check "mcp-admin made keys on PostgreSQL" test -n "$KEY_A" -a -n "$KEY_R" -a -n "$KEY_B"
expect_admin_err() { # a bad command's message must not show the password
    local out
    out=$(A user add alice 2>&1)
    if has "$out" "already exists" && ! has "$out" "$PGPW"; then ok; else
        bad "duplicate user via mcp-admin: $out"
    fi
}
expect_admin_err
out=$("$ADMIN" --db "postgresql://mcp:$PGPW@127.0.0.1:$PGPORT/nosuchdb" user list 2>&1)
if ! has "$out" "$PGPW" && has "$out" 'postgresql://mcp:***@'; then ok; else
    bad "mcp-admin on a missing database shows the password or no URI: $out"
fi

"$TOK" keygen --alg HS256 --out "$TMP/hs" >/dev/null 2>&1 || { echo "keygen failed" >&2; exit 1; }
# Both instances name the balancer's URL as their resource (the audience of their tokens). Its
# port is picked by the OS: a fixed one can be taken as the local port of the instances' own
# connections to PostgreSQL (Linux hands out neighbouring ports for one destination).
LBPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LB="http://127.0.0.1:$LBPORT/mcp"
LBPRM="http://127.0.0.1:$LBPORT/.well-known/oauth-protected-resource/mcp"
start_i() {
    start_server "$1" --stateless --auth apikey,jwt --db "$URL" --jwt-secret-file "$TMP/hs.key" \
        --issuer "$ISS" --resource-url "$LB"
}
start_i one || exit 1
U1=$SRV_URL
PRM1=$SRV_PRM
PID1=$SRV_PID
P1=$SRV_PORT
start_i two || exit 1
U2=$SRV_URL
PRM2=$SRV_PRM
PID2=$SRV_PID
P2=$SRV_PORT
# Two mcp-products instances with shared rate limits (--rate-limits shared): a per-principal
# limit of 48 requests per 96 s window (rate 0.5, burst 48: leases of 3), counted in PostgreSQL.
RLPOL="$TMP/rl-policy.json"
printf '%s\n' '{ "rate_limits": { "per_principal": { "rate": 0.5, "burst": 48 } } }' >"$RLPOL"
start_rl() {
    local name=$1 i port=""
    "$MCP_BIN/mcp-products" --listen 127.0.0.1:0 --stateless --auth apikey --db "$URL" \
        --catalog "$TMP/$name.catalog" --policy "$RLPOL" --rate-limits shared \
        >"$TMP/$name.out" 2>"$TMP/$name.err" &
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    for i in $(seq 1 100); do
        port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/mcp.*|\1|p' \
            "$TMP/$name.err" | head -n 1)
        [ -n "$port" ] && break
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$port" ] || { echo "mcp-products $name did not start: $(cat "$TMP/$name.err")" >&2; return 1; }
    SRV_PORT=$port
}
start_rl rl1 || exit 1
PR1=$SRV_PORT
start_rl rl2 || exit 1
PR2=$SRV_PORT
LB2PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# shared limits are refused at start-up on a SQLite store
if "$MCP_BIN/mcp-products" --listen 127.0.0.1:0 --auth apikey --db "$TMP/rl.db" --db-create \
    --catalog "$TMP/rl0.catalog" --policy "$RLPOL" --rate-limits shared >"$TMP/rl0.out" \
    2>"$TMP/rl0.err"; then
    bad "--rate-limits shared on SQLite started"
elif grep -q 'shared rate limits need a PostgreSQL store' "$TMP/rl0.err"; then ok; else
    bad "--rate-limits shared on SQLite: $(cat "$TMP/rl0.err")"
fi
if "$MCP_BIN/mcp-products" --rate-limits everywhere --db "$TMP/rl.db" >"$TMP/rl0.out" \
    2>"$TMP/rl0.err"; then
    bad "--rate-limits everywhere accepted"
elif grep -q -- '--rate-limits wants local or shared' "$TMP/rl0.err"; then ok; else
    bad "--rate-limits everywhere: $(cat "$TMP/rl0.err")"
fi

mint() {
    "$TOK" mint --secret-file "$TMP/hs.key" --alg HS256 --sub alice --iss "$ISS" --aud "$LB" \
        --ttl 300 --jti "$2" 2>/dev/null
}

# nginx in front, round robin, retrying the other instance when one is down
NGX=""
if command -v nginx >/dev/null; then
    NGX=$(mktemp -d /tmp/mcp-nginx-it-XXXXXX)
    cat >"$NGX/nginx.conf" <<CONF
worker_processes 1;
pid $NGX/nginx.pid;
error_log $NGX/error.log;
events { worker_connections 64; }
http {
    access_log $NGX/access.log;
    client_body_temp_path $NGX/body;
    proxy_temp_path $NGX/proxy;
    fastcgi_temp_path $NGX/fastcgi;
    uwsgi_temp_path $NGX/uwsgi;
    scgi_temp_path $NGX/scgi;
    upstream mcp { server 127.0.0.1:$P1 max_fails=0; server 127.0.0.1:$P2 max_fails=0; }
    upstream rl { server 127.0.0.1:$PR1 max_fails=0; server 127.0.0.1:$PR2 max_fails=0; }
    server {
        listen 127.0.0.1:$LB2PORT;
        location /mcp {
            proxy_pass http://rl;
            proxy_http_version 1.1;
            proxy_set_header Host \$http_host;
            proxy_buffering off;
        }
    }
    server {
        listen 127.0.0.1:$LBPORT;
        location /mcp {
            proxy_pass http://mcp;
            proxy_http_version 1.1;
            proxy_set_header Host \$http_host;
            proxy_buffering off;
            proxy_next_upstream error timeout;
            proxy_connect_timeout 2s;
        }
    }
}
CONF
    nginx -p "$NGX" -e "$NGX/error.log" -c "$NGX/nginx.conf" -g 'daemon off;' \
        2>"$NGX/start.err" &
    PIDS+=("$!")
    for _ in $(seq 1 50); do
        curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$LBPORT/" && break
        sleep 0.1
    done
elif [ "${MCP_CI:-}" = 1 ]; then
    bad "nginx is needed for the balancer part (MCP_CI=1)"
else
    echo "SKIP: the balancer part (no nginx)"
fi
T1=$(mint x jti-shared-1)
T2=$T1

for u in "$U1" "$U2"; do
    expect_ok "alice's key on $u" "$u" "$KEY_A" -H "Authorization: Bearer $KEY_A"
    expect_ok "the key to revoke, before, on $u" "$u" "$KEY_R" -H "Authorization: Bearer $KEY_R"
    expect_ok "bob's key, before, on $u" "$u" "$KEY_B" -H "X-API-Key: $KEY_B"
done
if [ -n "$NGX" ]; then
    b1=$(grep -c 'POST tools/list' "$TMP/one.err")
    b2=$(grep -c 'POST tools/list' "$TMP/two.err")
    for _ in 1 2 3 4; do
        expect_ok "alice's key through the balancer" "$LB" "$KEY_A" -H "Authorization: Bearer $KEY_A"
    done
    sleep 0.2 # the access-log lines
    n1=$(($(grep -c 'POST tools/list' "$TMP/one.err") - b1))
    n2=$(($(grep -c 'POST tools/list' "$TMP/two.err") - b2))
    check "the balancer spread requests over both instances ($n1, $n2)" test "$n1" -ge 1 -a "$n2" -ge 1
fi
# the shared limit through the balancer: 80 requests in one window, round robin over both
# instances; at most 48 pass (the leases never admit more than the limit), and at least
# 48 - 2 * (3 - 1) (what leased but unspent requests may hold back)
if [ -n "$NGX" ]; then
    w=$(( $(date +%s%3N) % 96000 ))
    if [ "$w" -gt 80000 ]; then sleep $(( (96000 - w) / 1000 + 1 )); fi
    rl_ok=0 lim=0 other=0
    for _ in $(seq 1 80); do
        case $(post "http://127.0.0.1:$LB2PORT/mcp" "$LIST" -H "X-API-Key: $KEY_A") in
        200) rl_ok=$((rl_ok + 1)) ;;
        429) lim=$((lim + 1)) ;;
        *) other=$((other + 1)) ;;
        esac
    done
    echo "shared rate limit (48 per window, 2 instances, 80 sent): $rl_ok passed, $lim refused (429), $other other; tolerance $((rl_ok - 48))"
    check "shared limit: at most 48 of 80 passed ($rl_ok), the rest 429 ($lim, other $other)" \
        test "$rl_ok" -le 48 -a "$rl_ok" -ge 44 -a "$other" = 0
    n1=$(grep -c 'POST tools/list' "$TMP/rl1.err")
    n2=$(grep -c 'POST tools/list' "$TMP/rl2.err")
    check "shared limit: both instances served ($n1, $n2)" test "$n1" -ge 10 -a "$n2" -ge 10
fi
expect_ok "JWT on one" "$U1" "$T1" -H "Authorization: Bearer $T1"
expect_ok "JWT on two" "$U2" "$T2" -H "Authorization: Bearer $T2"

# wait_refused WHAT URL T0-MS CRED CURL-ARGS...: polls URL every 50 ms after an mcp-admin change
# made at T0; passes when it answers 401 within 1.5 s of T0 (the 1 s bound plus mcp-admin's own
# run time), printing how long it took.
now_ms() { date +%s%3N; }
wait_refused() {
    local what=$1 url=$2 t0=$3 cred=$4 code t
    shift 4
    while :; do
        code=$(post "$url" "$LIST" "$@")
        t=$(($(now_ms) - t0))
        [ "$code" = 401 ] && break
        [ "$t" -gt 3000 ] && break
        sleep 0.05
    done
    if [ "$code" = 401 ] && [ "$t" -le 1500 ]; then
        ok
        echo "$what: refused after ${t} ms"
    else
        bad "$what: still $code after ${t} ms"
    fi
    no_echo "$cred" "$what"
}

t0=$(now_ms)
A key revoke "$KEY_R_ID" >/dev/null 2>&1 || bad "mcp-admin key revoke"
wait_refused "revoked key on one" "$U1" "$t0" "$KEY_R" -H "Authorization: Bearer $KEY_R"
wait_refused "revoked key on two" "$U2" "$t0" "$KEY_R" -H "Authorization: Bearer $KEY_R"
PRM_FOR=$LBPRM expect_401 "revoked key: the reason" "$U2" invalid_token "API key revoked" \
    "$KEY_R" -H "Authorization: Bearer $KEY_R"

t0=$(now_ms)
A user disable bob >/dev/null 2>&1 || bad "mcp-admin user disable"
wait_refused "disabled user on one" "$U1" "$t0" "$KEY_B" -H "X-API-Key: $KEY_B"
wait_refused "disabled user on two" "$U2" "$t0" "$KEY_B" -H "X-API-Key: $KEY_B"
PRM_FOR=$LBPRM expect_401 "disabled user: the reason" "$U1" invalid_token \
    "API key owner disabled" "$KEY_B" -H "X-API-Key: $KEY_B"

t0=$(now_ms)
A token revoke jti-shared-1 >/dev/null 2>&1 || bad "mcp-admin token revoke"
wait_refused "revoked jti on one" "$U1" "$t0" "$T1" -H "Authorization: Bearer $T1"
wait_refused "revoked jti on two" "$U2" "$t0" "$T2" -H "Authorization: Bearer $T2"
PRM_FOR=$LBPRM expect_401 "revoked jti: the reason" "$U2" invalid_token "token revoked" "$T2" \
    -H "Authorization: Bearer $T2"

if [ -n "$NGX" ]; then
    for _ in 1 2 3 4; do
        expect_status "revoked key through the balancer" "$LB" 401 "$KEY_R" \
            -H "Authorization: Bearer $KEY_R"
        expect_status "revoked jti through the balancer" "$LB" 401 "$T1" \
            -H "Authorization: Bearer $T1"
    done
fi
# what was not changed still works on both
expect_ok "alice's other key still good on one" "$U1" "$KEY_A" -H "Authorization: Bearer $KEY_A"
expect_ok "alice's other key still good on two" "$U2" "$KEY_A" -H "Authorization: Bearer $KEY_A"
A user enable bob >/dev/null 2>&1 || bad "mcp-admin user enable"
for _ in $(seq 1 30); do
    [ "$(post "$U2" "$LIST" -H "X-API-Key: $KEY_B")" = 200 ] && break
    sleep 0.1
done
expect_ok "bob enabled again, on two" "$U2" "$KEY_B" -H "X-API-Key: $KEY_B"

# one instance killed: the balancer retries the other, no request is lost
if [ -n "$NGX" ]; then
    kill -9 "$PID2" 2>/dev/null
    wait "$PID2" 2>/dev/null
    lost=0
    for _ in $(seq 1 6); do
        [ "$(post "$LB" "$LIST" -H "Authorization: Bearer $KEY_A")" = 200 ] || lost=$((lost + 1))
    done
    check "instance two killed: all 6 requests answered through the balancer ($lost lost)" \
        test "$lost" = 0
fi

# the store unreachable: fail closed (503), not "valid from the cache"
bash "$HERE/lib/pg_cluster.sh" stop "$PGDIR"
sleep 1.2
expect_status "PostgreSQL down: 503 on one" "$U1" 503 "$KEY_A" -H "Authorization: Bearer $KEY_A"
if [ -z "$NGX" ]; then
    expect_status "PostgreSQL down: 503 on two" "$U2" 503 "$KEY_A" -H "Authorization: Bearer $KEY_A"
fi
if bash "$HERE/lib/pg_cluster.sh" resume "$PGDIR" "$PGPORT"; then
    for _ in $(seq 1 30); do
        [ "$(post "$U1" "$LIST" -H "Authorization: Bearer $KEY_A")" = 200 ] && break
        sleep 0.1
    done
    expect_ok "PostgreSQL back: one recovers" "$U1" "$KEY_A" -H "Authorization: Bearer $KEY_A"
else
    bad "could not restart PostgreSQL"
fi

stop_server "$PID1"
stop_server "$PID2"
for n in one two; do
    log_has_no_secret "$TMP/$n.err" "$KEY_A" "$KEY_R" "$KEY_B" "$T1" "$T2" "$PGPW"
done
summary
