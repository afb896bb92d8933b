#!/usr/bin/env bash
# Issue 14: behind a real nginx (examples/nginx/mcp.conf: TLS termination with a throwaway
# certificate, the public Host forwarded, proxy_buffering off). The server runs on loopback with
# --resource-url https://mcp.example.com:PORT/mcp and API keys. Through nginx: initialize and
# tools/call work, a tool that logs streams SSE events, the protected-resource metadata and the
# 401 challenge name the public URL. Directly: the public Host is accepted, a foreign one gets
# 403 (DNS-rebinding protection still on), and --allowed-host adds a name.
set -euo pipefail
SRC_ROOT=${MCP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
B=$MCP_BIN
for t in nginx openssl curl jq; do
  command -v "$t" >/dev/null || { echo "FAIL: $t missing (scripts/deps.sh installs it)"; exit 1; }
done
TMP=$(mktemp -d)
chmod 755 "$TMP"
PIDS=()
cleanup() {
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do if kill -0 "$p" 2>/dev/null; then kill "$p"; fi; done
  rm -rf "$TMP"
}
trap cleanup EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_for() { for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; cat "$1"; return 1; }

NAME=mcp.example.com
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=$NAME" \
  -addext "subjectAltName=DNS:$NAME" -keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>/dev/null
"$B/mcp-admin" --db "$TMP/mcp.db" init >/dev/null
"$B/mcp-admin" --db "$TMP/mcp.db" user add bot >/dev/null
KEY=$("$B/mcp-admin" --db "$TMP/mcp.db" key create --owner bot 2>/dev/null)

BP=$(free_port); NP=$(free_port)
PUBLIC="https://$NAME:$NP/mcp"
"$B/mcp-conformance-server" --listen "127.0.0.1:$BP" --auth apikey --db "$TMP/mcp.db" \
  --resource-url "$PUBLIC" --allowed-host also.example.org 2>"$TMP/server.err" &
PIDS+=($!)
wait_for "$TMP/server.err" "listening on" || { echo "FAIL: server did not start"; exit 1; }

# the example file, with our ports and certificate
mkdir -p "$TMP/nginx"
sed -e "s|server 127.0.0.1:8080;|server 127.0.0.1:$BP;|" -e "s|listen 443 ssl;|listen 127.0.0.1:$NP ssl;|" \
    -e "s|/etc/ssl/certs/mcp.example.com.pem|$TMP/cert.pem|" \
    -e "s|/etc/ssl/private/mcp.example.com.key|$TMP/key.pem|" \
    "$SRC_ROOT/examples/nginx/mcp.conf" >"$TMP/nginx/mcp.conf"
grep -q "127.0.0.1:$NP ssl" "$TMP/nginx/mcp.conf" && grep -q "127.0.0.1:$BP;" "$TMP/nginx/mcp.conf" ||
  { echo "FAIL: examples/nginx/mcp.conf no longer has the lines this test replaces"; exit 1; }
cat >"$TMP/nginx/nginx.conf" <<CONF
worker_processes 1;
pid nginx.pid;
error_log stderr warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path tmp_body;
    proxy_temp_path tmp_proxy;
    fastcgi_temp_path tmp_fastcgi;
    uwsgi_temp_path tmp_uwsgi;
    scgi_temp_path tmp_scgi;
    include $TMP/nginx/mcp.conf;
}
CONF
nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -g 'daemon off;' 2>"$TMP/nginx.err" &
PIDS+=($!)
for _ in $(seq 100); do
  if curl -s -o /dev/null --resolve "$NAME:$NP:127.0.0.1" --cacert "$TMP/cert.pem" "https://$NAME:$NP/nope"; then break; fi
  sleep 0.05
done

C=(curl -s --max-time 20 --resolve "$NAME:$NP:127.0.0.1" --cacert "$TMP/cert.pem")
H=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream'
   -H "Authorization: Bearer $KEY")
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
code=$("${C[@]}" -D "$TMP/h1" -o "$TMP/b1" -w '%{http_code}' "${H[@]}" -d "$INIT" "$PUBLIC")
[ "$code" = 200 ] || bad "initialize through nginx: HTTP $code: $(cat "$TMP/b1") $(cat "$TMP/nginx.err")"
SID=$(awk -F': ' 'tolower($1)=="mcp-session-id" {print $2}' "$TMP/h1" | tr -d '\r')
[ -n "$SID" ] || bad "no Mcp-Session-Id through nginx"
S=(-H "Mcp-Session-Id: $SID" -H "MCP-Protocol-Version: 2025-11-25")
code=$("${C[@]}" -o /dev/null -w '%{http_code}' "${H[@]}" "${S[@]}" -d '{"jsonrpc":"2.0","method":"notifications/initialized"}' "$PUBLIC")
[ "$code" = 202 ] || bad "initialized: HTTP $code"
out=$("${C[@]}" "${H[@]}" "${S[@]}" -d '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"through nginx"}}}' "$PUBLIC")
[ "$(printf '%s' "$out" | jq -r '.result.content[0].text' 2>/dev/null)" = "echo: through nginx" ] ||
  bad "tools/call echo through nginx: $out"

# SSE: a tool that logs answers with an event stream; every event arrives, then the result
"${C[@]}" -N -D "$TMP/h3" -o "$TMP/sse" "${H[@]}" "${S[@]}" \
  -d '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"test_tool_with_logging","arguments":{}}}' "$PUBLIC"
grep -qi '^content-type: text/event-stream' "$TMP/h3" || bad "logging tool: not SSE through nginx: $(cat "$TMP/h3")"
n_log=$(grep -c '"method":"notifications/message"' "$TMP/sse") || n_log=0
[ "$n_log" -ge 1 ] || bad "no log notifications in the SSE stream: $(head -c 400 "$TMP/sse")"
grep -q '"id":3,"result"\|"result":.*"id":3' "$TMP/sse" || bad "no result event in the SSE stream"
grep -q '^id: ' "$TMP/sse" || bad "SSE events carry no id through nginx"

# the public URL in the metadata and in the challenge
prm=$("${C[@]}" "https://$NAME:$NP/.well-known/oauth-protected-resource/mcp")
[ "$(printf '%s' "$prm" | jq -r .resource)" = "$PUBLIC" ] || bad "PRM through nginx: $prm"
code=$("${C[@]}" -D "$TMP/h4" -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  -H 'Accept: application/json, text/event-stream' -d "$INIT" "$PUBLIC")
[ "$code" = 401 ] || bad "no key through nginx: HTTP $code"
grep -qi "resource_metadata=\"https://$NAME:$NP/.well-known/oauth-protected-resource/mcp\"" "$TMP/h4" ||
  bad "challenge does not name the public metadata URL: $(grep -i www-auth "$TMP/h4")"

# directly: public Host accepted (401 for no key, not 403), foreign Host refused, --allowed-host added
direct() { curl -s --max-time 10 -o /dev/null -w '%{http_code}' -H "Host: $1" -H 'Content-Type: application/json' \
  -H 'Accept: application/json, text/event-stream' -d "$INIT" "http://127.0.0.1:$BP/mcp"; }
[ "$(direct "$NAME")" = 401 ] || bad "public Host on the loopback bind: $(direct "$NAME") (want 401)"
[ "$(direct "$NAME:$NP")" = 401 ] || bad "public Host:port: $(direct "$NAME:$NP")"
[ "$(direct also.example.org)" = 401 ] || bad "--allowed-host name: $(direct also.example.org)"
[ "$(direct evil.example)" = 403 ] || bad "foreign Host: $(direct evil.example) (want 403)"

# the access log names the caller (the key's owner), "-" for the unauthenticated request
grep -q "info access: 127.0.0.1 bot POST tools/call 200 " "$TMP/server.err" ||
  bad "no access line naming the caller: $(grep access "$TMP/server.err" | head -5)"
grep -qE "info access: 127.0.0.1 - POST (initialize|-) 401 " "$TMP/server.err" ||
  bad "no access line for the 401: $(grep access "$TMP/server.err")"
if grep -q "$KEY" "$TMP/server.err"; then bad "the API key is in the server log"; fi

if grep -q "\[emerg\]\|\[error\]" "$TMP/nginx.err"; then bad "nginx: $(cat "$TMP/nginx.err")"; fi
[ "$fail" = 0 ] && echo "ok: through nginx (TLS, Host forwarded): initialize, tools/call, SSE, metadata, challenge; Host rules"
exit $fail
