#!/usr/bin/env bash
# Issue 14: HTTPS served by the server itself (--tls-cert/--tls-key, libmicrohttpd's GnuTLS),
# tested with a throwaway CA made here by openssl: curl trusting that CA gets answers; a client
# trusting another CA, or the system store (mcp-client), is refused; mcp-client --cacert with the
# throwaway CA verifies the server and with another CA fails; plain HTTP gets no answer;
# TLS 1.3 and 1.2 with ECDHE+AEAD are accepted, 1.2 with a CBC suite is not; with --auth the
# default resource URL is https. Error paths: one flag without the other (2), a missing or
# non-PEM file (1, named), a key that is not the certificate's (1).
set -euo pipefail
B=$MCP_BIN
for t in openssl curl jq; do
  command -v "$t" >/dev/null || { echo "FAIL: $t missing (scripts/deps.sh installs it)"; exit 1; }
done
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do if kill -0 "$p" 2>/dev/null; then kill "$p"; fi; done
  rm -rf "$TMP"
}
trap cleanup EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
run() { set +e; "$@" >"$TMP/out" 2>"$TMP/err"; RC=$?; set -e; OUT=$(cat "$TMP/out"); ERR=$(cat "$TMP/err"); }
ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# a CA, a server certificate it signs (localhost, 127.0.0.1), and an unrelated CA
ec "$TMP/ca.key"
openssl req -x509 -new -key "$TMP/ca.key" -days 1 -subj "/CN=libmcp test CA" -out "$TMP/ca.pem" 2>/dev/null
ec "$TMP/other.key"
openssl req -x509 -new -key "$TMP/other.key" -days 1 -subj "/CN=other CA" -out "$TMP/other.pem" 2>/dev/null
ec "$TMP/srv.key"
openssl req -new -key "$TMP/srv.key" -subj "/CN=localhost" -out "$TMP/srv.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$TMP/ext"
openssl x509 -req -in "$TMP/srv.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" -CAcreateserial \
  -days 1 -extfile "$TMP/ext" -out "$TMP/srv.pem" 2>/dev/null

start() {  # start PORT ARGS...: the conformance server over TLS, waits for its listening line
  local port=$1; shift
  "$B/mcp-conformance-server" --listen "127.0.0.1:$port" --tls-cert "$TMP/srv.pem" \
    --tls-key "$TMP/srv.key" "$@" 2>"$TMP/server-$port.err" &
  PIDS+=($!)
  for _ in $(seq 100); do grep -q "listening on" "$TMP/server-$port.err" 2>/dev/null && return 0; sleep 0.05; done
  cat "$TMP/server-$port.err"; echo "FAIL: TLS server did not start"; exit 1
}
P=$(free_port)
start "$P"
grep -q "listening on https://127.0.0.1:$P/mcp" "$TMP/server-$P.err" || bad "no https listening line"
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
H=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
out=$(curl -s --max-time 10 --cacert "$TMP/ca.pem" "${H[@]}" -d "$INIT" "https://127.0.0.1:$P/mcp")
[ "$(printf '%s' "$out" | jq -r .result.serverInfo.name)" = mcp-conformance-server ] || bad "initialize over TLS: $out"
out=$(curl -s --max-time 10 --cacert "$TMP/ca.pem" "${H[@]}" -d "$INIT" "https://localhost:$P/mcp")
[ "$(printf '%s' "$out" | jq -r .result.serverInfo.name)" = mcp-conformance-server ] || bad "initialize via localhost: $out"

run curl -s --max-time 10 --cacert "$TMP/other.pem" "${H[@]}" -d "$INIT" "https://127.0.0.1:$P/mcp"
[ "$RC" = 60 ] || bad "curl trusting another CA: exit $RC (want 60, certificate not verified)"
run curl -s --max-time 10 "${H[@]}" -d "$INIT" "http://127.0.0.1:$P/mcp"
[ "$RC" != 0 ] && [ -z "$OUT" ] || bad "plain HTTP to the TLS port answered: $OUT"
run "$B/mcp-client" --timeout 10000 --url "https://127.0.0.1:$P/mcp" ping
[ "$RC" = 1 ] || bad "mcp-client with an untrusted CA: exit $RC (want 1)"
case $ERR in "mcp-client: "*) ;; *) bad "mcp-client refusal: $ERR";; esac
case $ERR in *[Cc]ertificate*|*SSL*|*TLS*) ;; *) bad "mcp-client refusal does not say why: $ERR";; esac
# mcp-client --cacert: the throwaway CA verifies the server (by address and by name), another CA
# does not, and a missing CA file is named before anything is sent
run "$B/mcp-client" --timeout 10000 --cacert "$TMP/ca.pem" --url "https://127.0.0.1:$P/mcp" tools call echo --args '{"text":"over tls"}'
[ "$RC" = 0 ] || bad "mcp-client --cacert (the server's CA): exit $RC: $ERR"
case $OUT in *"over tls"*) ;; *) bad "mcp-client --cacert: tools call answered: $OUT";; esac
run "$B/mcp-client" --timeout 10000 --cacert "$TMP/ca.pem" --url "https://localhost:$P/mcp" ping
[ "$RC" = 0 ] || bad "mcp-client --cacert via localhost: exit $RC: $ERR"
run "$B/mcp-client" --timeout 10000 --cacert "$TMP/other.pem" --url "https://127.0.0.1:$P/mcp" ping
[ "$RC" = 1 ] || bad "mcp-client --cacert (another CA): exit $RC (want 1)"
case $ERR in "mcp-client: "*[Cc]ertificate*|"mcp-client: "*SSL*) ;; *) bad "mcp-client with the wrong CA does not say why: $ERR";; esac
run "$B/mcp-client" --cacert "$TMP/none.pem" --url "https://127.0.0.1:$P/mcp" ping
[ "$RC" = 1 ] && [ "$ERR" = "mcp-client: --cacert $TMP/none.pem: No such file or directory" ] || bad "missing --cacert file: $RC $ERR"
run "$B/mcp-client" --cacert "$TMP/ca.pem" --stdio "$B/mcp-conformance-server --stdio" ping
[ "$RC" = 2 ] || bad "--cacert with --stdio: exit $RC (want 2)"

# protocol versions and suites
hs() { openssl s_client -connect "127.0.0.1:$P" -servername localhost -CAfile "$TMP/ca.pem" "$@" </dev/null >"$TMP/s" 2>&1; }
if hs -tls1_3; then grep -q "TLSv1.3" "$TMP/s" || bad "TLS 1.3 not negotiated"; else bad "TLS 1.3 refused: $(tail -3 "$TMP/s")"; fi
if hs -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256; then :; else bad "TLS 1.2 ECDHE-ECDSA-AES128-GCM refused"; fi
if hs -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA; then bad "TLS 1.2 with a CBC suite was accepted"; fi
if hs -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0'; then bad "TLS 1.1 was accepted"; fi

# with authentication the default resource URL is https
P2=$(free_port)
"$B/mcp-admin" --db "$TMP/mcp.db" init >/dev/null
start "$P2" --auth apikey --db "$TMP/mcp.db"
prm=$(curl -s --max-time 10 --cacert "$TMP/ca.pem" "https://127.0.0.1:$P2/.well-known/oauth-protected-resource/mcp")
[ "$(printf '%s' "$prm" | jq -r .resource)" = "https://127.0.0.1:$P2/mcp" ] || bad "resource over TLS: $prm"
code=$(curl -s --max-time 10 -o /dev/null -D "$TMP/h" -w '%{http_code}' --cacert "$TMP/ca.pem" "${H[@]}" -d "$INIT" "https://127.0.0.1:$P2/mcp")
[ "$code" = 401 ] || bad "no key over TLS: $code"
grep -qi "resource_metadata=\"https://127.0.0.1:$P2/" "$TMP/h" || bad "challenge not https: $(grep -i www-auth "$TMP/h")"

# error paths
run "$B/mcp-conformance-server" --listen 127.0.0.1:0 --tls-cert "$TMP/srv.pem"
[ "$RC" = 2 ] && [ "$ERR" = "mcp-conformance-server: --tls-cert and --tls-key go together" ] || bad "cert alone: $RC $ERR"
run "$B/mcp-conformance-server" --stdio --tls-cert "$TMP/srv.pem" --tls-key "$TMP/srv.key"
[ "$RC" = 2 ] || bad "TLS with --stdio: $RC"
run timeout 10 "$B/mcp-conformance-server" --listen 127.0.0.1:0 --tls-cert "$TMP/none.pem" --tls-key "$TMP/srv.key"
[ "$RC" = 1 ] || bad "missing cert file: exit $RC"
case $ERR in *"mcp-conformance-server: --tls-cert $TMP/none.pem: No such file"*) ;; *) bad "missing cert said: $ERR";; esac
echo "hello" >"$TMP/notpem"
run timeout 10 "$B/mcp-conformance-server" --listen 127.0.0.1:0 --tls-cert "$TMP/srv.pem" --tls-key "$TMP/notpem"
[ "$RC" = 1 ] || bad "non-PEM key: exit $RC"
case $ERR in *"--tls-key $TMP/notpem: not a PEM file"*) ;; *) bad "non-PEM key said: $ERR";; esac
run timeout 10 "$B/mcp-conformance-server" --listen 127.0.0.1:0 --tls-cert "$TMP/srv.pem" --tls-key "$TMP/other.key"
[ "$RC" = 1 ] || bad "key of another certificate: exit $RC"
case $ERR in *"TLS setup failed"*) ;; *) bad "mismatched key said: $ERR";; esac
if grep -q "BEGIN PRIVATE KEY\|$(sed -n 2p "$TMP/srv.key")" "$TMP"/server-*.err; then bad "a private key was logged"; fi

[ "$fail" = 0 ] && echo "ok: HTTPS with a throwaway CA: verified, wrong CA refused, modern TLS only, https resource URL, error paths"
exit $fail
