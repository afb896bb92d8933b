#!/usr/bin/env bash
# Two server instances on one PostgreSQL store (what two instances behind a load balancer
# share): a PostgreSQL 15 cluster started by this script (lib/pg_cluster.sh: its own user when
# we are root, a temporary data dir, 127.0.0.1 on a free port, the socket in the temp dir), users and
# keys made by `mcp-admin --db postgresql://...`, and two mcp-conformance-server processes with
# --auth apikey,jwt --db postgresql://.... Then, through mcp-admin: a key revoked, a user
# disabled and a JWT id revoked are refused by BOTH instances within the store's cache bound
# (change_check_ms, 1 s by default; measured and printed). With nginx (round robin, retrying
# the other instance on a connection error) in front: requests reach both instances, the
# revocations hold through the balancer. Both instances share --request-state-key: a 2026-07-28
# input-required requestState minted by one is resumed by the other (three rounds alternating,
# and through nginx), and refused by an instance with another key or for another principal.
# Stateless 2025 (initialize, then calls without a session) works through the balancer, the
# calls landing on both instances (their access logs). One instance killed (SIGKILL) in the
# middle of 200 requests from four clients through nginx, while mcp-admin writes users and keys:
# every request nginx could retry (connection refused: not yet sent) is answered 200 by the
# other; only a POST already sent to the killed instance may fail (502: nginx does not replay a
# non-idempotent request, by design), at most the requests in flight; every store write is
# there afterwards and usable through the survivor. Then PostgreSQL stopped: 503 (fail closed),
# and recovery when it is back. No log holds a key, a token or the database password. Without
# PostgreSQL (or nginx) this is a skip, except under MCP_CI=1 (a failure).
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
# a change says what it did and where, without the password
out=$(A user add carol --role user 2>&1)
if has "$out" "done: user add carol" && has "$out" 'postgresql://mcp:***@' && ! has "$out" "$PGPW"
then ok; else
    bad "mcp-admin's done line shows the password or no URI: $out"
fi
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
# one requestState secret for every instance (else each seals with its own random key)
head -c 48 /dev/urandom >"$TMP/rs.key"
start_i() {
    local name=$1
    shift
    start_server "$name" --stateless --auth apikey,jwt --db "$URL" --jwt-secret-file "$TMP/hs.key" \
        --issuer "$ISS" --resource-url "$LB" "$@"
}
start_i one --request-state-key "$TMP/rs.key" || exit 1
U1=$SRV_URL
PRM1=$SRV_PRM
PID1=$SRV_PID
P1=$SRV_PORT
start_i two --request-state-key "$TMP/rs.key" || exit 1
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
    # which instance(s) answered each request: "P2, P1" and "502, 200" when nginx retried
    log_format up '\$request_method \$status up=\$upstream_addr st=\$upstream_status';
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
        access_log $NGX/lb.log up;
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

# --- 2026-07-28 requestState across instances ---------------------------------------------------
# test_input_required_result_multi_round asks step1, then (answered) step2 with a new state that
# carries step1's answer; round 3 sends only step2's answer, so it completes only if the state
# minted by the other instance was opened. Same principal (alice's key) on every leg.
MR=test_input_required_result_multi_round
META26='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"elicitation":{}}}'
post26() { # URL JSON-PARAMS-EXTRA CURL-ARGS...: a 2026 tools/call of $MR; prints the status
    local url=$1 extra=$2
    shift 2
    : >"$TMP/hdrs"
    : >"$TMP/body"
    curl -s --max-time 15 -o "$TMP/body" -D "$TMP/hdrs" -w '%{http_code}' -X POST \
        -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
        -H 'MCP-Protocol-Version: 2026-07-28' -H 'Mcp-Method: tools/call' -H "Mcp-Name: $MR" \
        "$@" --data "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"$MR\",\"arguments\":{}$extra,$META26}}" \
        "$url"
}
answer() { # KEY STATE: the inputResponses and requestState members of a resumed round
    printf ',"inputResponses":{"%s":{"action":"accept","content":{"name":"Ann"}}},"requestState":"%s"' \
        "$1" "$2"
}
body_is() { jq -r "$1" "$TMP/body" 2>/dev/null; }
round_trip() { # WHAT URL-R1 URL-R2 URL-R3: three rounds, each leg on the URL given
    local what=$1 s1 s2 code
    code=$(post26 "$2" "" -H "Authorization: Bearer $KEY_A")
    s1=$(body_is '.result.requestState // empty')
    check "$what: round 1 input_required with a state ($code)" \
        test "$code" = 200 -a "$(body_is .result.resultType)" = input_required -a -n "$s1"
    code=$(post26 "$3" "$(answer step1 "$s1")" -H "Authorization: Bearer $KEY_A")
    s2=$(body_is '.result.requestState // empty')
    check "$what: round 2 (the other instance) asks step2 ($code $(head -c 200 "$TMP/body"))" \
        test "$code" = 200 -a "$(body_is '.result.inputRequests | keys | join(",")')" = step2 \
        -a -n "$s2" -a "$s2" != "$s1"
    code=$(post26 "$4" "$(answer step2 "$s2")" -H "Authorization: Bearer $KEY_A")
    check "$what: round 3 completes ($code $(head -c 200 "$TMP/body"))" \
        test "$code" = 200 -a "$(body_is .result.resultType)" = complete \
        -a "$(body_is '.result.content[0].text')" = "Both steps completed"
    RT_S1=$s1
}
if command -v jq >/dev/null; then
    round_trip "requestState one -> two -> one" "$U1" "$U2" "$U1"
    round_trip "requestState two -> one -> two" "$U2" "$U1" "$U2"
    if [ -n "$NGX" ]; then
        round_trip "requestState through the balancer" "$LB" "$LB" "$LB"
    fi
    # the same state for another principal (bob), on the other instance: refused, not restarted
    code=$(post26 "$U2" "$(answer step1 "$RT_S1")" -H "X-API-Key: $KEY_B")
    check "requestState of alice presented by bob: -32602 ($code $(head -c 200 "$TMP/body"))" \
        test "$(body_is .error.code)" = -32602
    # an instance with its own (random) key cannot open the others' states
    start_i three || exit 1
    PID3=$SRV_PID
    code=$(post26 "$SRV_URL" "$(answer step1 "$RT_S1")" -H "Authorization: Bearer $KEY_A")
    check "requestState on an instance with another key: -32602 ($code $(head -c 200 "$TMP/body"))" \
        test "$(body_is .error.code)" = -32602 -a "$(body_is '.result // empty')" = ""
    stop_server "$PID3"
elif [ "${MCP_CI:-}" = 1 ]; then
    bad "jq is needed for the requestState part (MCP_CI=1)"
else
    echo "SKIP: the requestState part (no jq)"
fi

# --- stateless 2025 through the balancer: initialize, then calls without a session, spread -----
if [ -n "$NGX" ]; then
    INIT25='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"it","version":"1"}}}'
    code=$(post "$LB" "$INIT25" -H "Authorization: Bearer $KEY_A")
    check "2025 initialize through the balancer: 200, no session ($code, [$(header Mcp-Session-Id)])" \
        test "$code" = 200 -a -z "$(header Mcp-Session-Id)"
    check "2025 initialize: the protocol version" grep -q '"protocolVersion":"2025-11-25"' "$TMP/body"
    b1=$(grep -c 'POST tools/call' "$TMP/one.err")
    b2=$(grep -c 'POST tools/call' "$TMP/two.err")
    good=0
    for i in 1 2 3 4 5 6; do
        code=$(post "$LB" "$CALL" -H "Authorization: Bearer $KEY_A")
        if [ "$code" = 200 ] && grep -q '"text":"echo: hi"' "$TMP/body" &&
            [ -z "$(header Mcp-Session-Id)" ]; then
            good=$((good + 1))
        fi
    done
    sleep 0.2
    n1=$(($(grep -c 'POST tools/call' "$TMP/one.err") - b1))
    n2=$(($(grep -c 'POST tools/call' "$TMP/two.err") - b2))
    check "stateless 2025 through the balancer: 6 of 6 calls answered ($good)" test "$good" = 6
    check "stateless 2025: the calls landed on both instances ($n1 on one, $n2 on two)" \
        test "$n1" -ge 2 -a "$n2" -ge 2 -a $((n1 + n2)) = 6
    echo "stateless 2025 through nginx: 6 tools/call, $n1 on one, $n2 on two"
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

# --- one instance killed (SIGKILL) under load, mcp-admin writing meanwhile -------------------
# 4 clients x 50 POSTs (tools/list) through nginx; instance two is killed once 60 are answered.
# nginx (proxy_next_upstream error timeout, the default for non-idempotent methods) passes a
# request to the other instance when connecting to the dead one fails (nothing sent yet); a
# POST already sent to the killed process is not replayed (it may have run: tools/call is not
# idempotent), so it fails with 502 — at most the requests in flight there at the kill (4).
if [ -n "$NGX" ]; then
    : >"$NGX/lb.log"
    loader() { # N OUT: N requests, one status code a line
        local i
        for i in $(seq 1 "$1"); do
            curl -s -o /dev/null --max-time 15 -w '%{http_code}\n' -X POST \
                -H 'Content-Type: application/json' \
                -H 'Accept: application/json, text/event-stream' \
                -H 'MCP-Protocol-Version: 2025-11-25' -H "Authorization: Bearer $KEY_A" \
                --data "$LIST" "$LB" >>"$2"
        done
    }
    LPIDS=()
    for c in 1 2 3 4; do
        : >"$TMP/load$c"
        loader 50 "$TMP/load$c" &
        LPIDS+=("$!")
    done
    done_n=0
    for _ in $(seq 1 300); do
        done_n=$(cat "$TMP"/load? | wc -l)
        [ "$done_n" -ge 60 ] && break
        sleep 0.02
    done
    kill -9 "$PID2" 2>/dev/null
    killed_at=$done_n
    # store writes while the load runs on the survivor: users and keys through mcp-admin
    made=0
    for i in 1 2 3 4 5 6; do
        if A user add "load$i" --role user >/dev/null 2>&1 &&
            A key create --owner "load$i" >"$TMP/loadkey$i" 2>/dev/null; then
            made=$((made + 1))
        fi
    done
    for p in "${LPIDS[@]}"; do wait "$p"; done
    wait "$PID2" 2>/dev/null
    sleep 0.3 # nginx's log lines
    total=$(cat "$TMP"/load? | wc -l)
    n200=$(cat "$TMP"/load? | grep -c '^200$')
    n502=$(cat "$TMP"/load? | grep -c '^502$')
    other=$((total - n200 - n502))
    # retried: nginx tried two upstreams (the dead one refused the connection) and logged both
    retried=$(grep -c 'up=[^ ]*, ' "$NGX/lb.log")
    retried_ok=$(grep 'up=[^ ]*, ' "$NGX/lb.log" | grep -c '^POST 200 ')
    refused=$(grep -c 'Connection refused) while connecting to upstream' "$NGX/error.log")
    echo "kill -9 under load: $total requests (instance two killed after $killed_at), $n200 answered 200, $n502 502 (sent to the killed instance, not replayed), $other other; nginx retried $retried on the other instance ($retried_ok of them 200; $refused connections refused)"
    check "kill under load: all 200 requests came back ($total)" test "$total" = 200
    check "kill under load: no other status than 200 and 502 ($other)" test "$other" = 0
    check "kill under load: at most the 4 in flight were lost ($n502)" test "$n502" -le 4
    check "kill under load: nginx retried on the survivor ($retried)" test "$retried" -ge 1
    check "kill under load: every retried request answered 200 ($retried_ok of $retried)" \
        test "$retried_ok" = "$retried"
    if kill -0 "$PID2" 2>/dev/null; then bad "kill under load: instance two still runs"; else ok; fi
    # every store write made during the kill is there, and usable through the survivor
    check "kill under load: 6 of 6 mcp-admin writes succeeded ($made)" test "$made" = 6
    users=$(A user list 2>/dev/null)
    seen=0
    for i in 1 2 3 4 5 6; do
        has "$users" "load$i" && seen=$((seen + 1))
        k=$(cat "$TMP/loadkey$i")
        expect_ok "key made during the kill (load$i) through the balancer" "$LB" "$k" \
            -H "Authorization: Bearer $k"
    done
    check "kill under load: all 6 users written during the kill are in the store ($seen)" \
        test "$seen" = 6
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
