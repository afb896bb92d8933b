#!/usr/bin/env bash
# /metrics (issue 14): off by default (404); with --metrics it answers Prometheus text that a
# strict parser (lib/prom_parse.py) accepts, and counts a 401 (no credential) and a 403 (a guest
# calling an admin tool) by status and by refusal reason; the latency histogram counts every
# request; the parser itself refuses broken expositions. Needs $MCP_BIN, curl, jq, python3.
. "$(dirname "$0")/lib/products_common.sh"
command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }
PARSE="$(dirname "$0")/lib/prom_parse.py"

# --- the parser refuses what Prometheus would refuse --------------------------------------------
printf 'a_total{x="1"} 1\n' >"$TMP/good.prom"
check "parser accepts a sample" python3 "$PARSE" "$TMP/good.prom"
for bad in 'a_total{x="1"} one\n' 'a_total{x=1} 1\n' '# TYPE a nonsense\na 1\n' \
    'a 1\nb 1\na 2\n' 'a{x="1"} 1\na{x="1"} 2\n' 'a 1' '1a 1\n' \
    '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n' \
    '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n' \
    '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n'; do
    printf "$bad" >"$TMP/bad.prom"
    if python3 "$PARSE" "$TMP/bad.prom" 2>/dev/null; then bad "parser accepted: $bad"; else ok; fi
done

A user add admin --role admin >/dev/null 2>&1 || exit 1
A user add gus --role guest >/dev/null 2>&1 || exit 1
ADMIN_KEY=$(A key create --owner admin 2>/dev/null)
GUEST_KEY=$(A key create --owner gus 2>/dev/null)

# --- off by default ------------------------------------------------------------------------------
start_products off --auth apikey --seed || exit 1
eq "no /metrics by default" "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
    "http://127.0.0.1:$SRV_PORT/metrics")" 404
stop_products

# --- --stdio has no HTTP to serve it on ---------------------------------------------------------
"$MCP_BIN/mcp-products" --stdio --metrics --db "$DB" --catalog "$CATALOG" </dev/null \
    >/dev/null 2>"$TMP/stdio.err"
eq "--metrics --stdio is a usage error" "$?" 2
check "the error names --metrics" grep -q -- "--metrics" "$TMP/stdio.err"

# --- on ----------------------------------------------------------------------------------------
start_products on --auth apikey --seed --metrics || exit 1
MURL="http://127.0.0.1:$SRV_PORT/metrics"
eq "no credential: 401" "$(rpc "" "" "$INIT")" 401
SID=$(open_session "$GUEST_KEY")
eq "guest initialize" "$(cat "$TMP/init.code")" 200
eq "guest delete_product: 403" "$(rpc "$GUEST_KEY" "$SID" \
    "$(call_json 2 delete_product '{"id":1}')")" 403
ASID=$(open_session "$ADMIN_KEY")
eq "admin list_products" "$(rpc "$ADMIN_KEY" "$ASID" "$(call_json 3 list_products '{}')")" 200
eq "POST /metrics: 405" "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -d x "$MURL")" 405

code=$(curl -s -o "$TMP/m.prom" -D "$TMP/m.hdrs" -w '%{http_code}' --max-time 5 "$MURL")
eq "GET /metrics without a credential" "$code" 200
check "content type 0.0.4" grep -qi '^content-type: text/plain; version=0.0.4' "$TMP/m.hdrs"
if python3 "$PARSE" "$TMP/m.prom" >"$TMP/q" \
    'mcp_auth_refusals_total{reason="unauthenticated"}' \
    'mcp_auth_refusals_total{reason="forbidden"}' \
    'mcp_http_requests_total{method="POST",status="401"}' \
    'mcp_http_requests_total{method="POST",status="403"}' \
    'mcp_http_requests_total{method="POST",status="405"}' \
    'mcp_sessions_open' \
    'mcp_http_request_duration_seconds_count' \
    'mcp_http_request_duration_seconds_bucket{le="+Inf"}'; then
    ok
    mapfile -t V <"$TMP/q"
    eq "401 counted as unauthenticated" "${V[0]}" 1
    eq "403 counted as forbidden" "${V[1]}" 1
    eq "POST 401 counted" "${V[2]}" 1
    eq "POST 403 counted" "${V[3]}" 1
    eq "POST 405 counted" "${V[4]}" 1
    eq "two sessions open" "${V[5]}" 2
    # 1 (401) + 2x2 (initialize, initialized) + 403 + 200 + 405 = 8 finished before this scrape
    eq "every finished request in the histogram" "${V[6]}" 8
    eq "+Inf bucket is the count" "${V[7]}" "${V[6]}"
else
    bad "/metrics is not strict Prometheus text: $(head -c 2000 "$TMP/m.prom")"
fi
# the scrape itself is counted by the next one
curl -s -o "$TMP/m2.prom" --max-time 5 "$MURL"
eq "the scrape is counted" "$(python3 "$PARSE" "$TMP/m2.prom" \
    'mcp_http_requests_total{method="GET",status="200"}')" 1
stop_products
summary
