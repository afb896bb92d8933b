#!/usr/bin/env bash
# Issue 14: the TLS certificate and key are read again on SIGHUP (mcp_server_reload_tls via
# libmicrohttpd's certificate callback). With a throwaway CA: the server starts with pair A;
# the files are replaced by pair B and SIGHUP sent: new connections see B (a connection opened
# before keeps A), and curl trusting the CA still verifies it. A broken new pair (a key that is
# not the certificate's, then a file that is not PEM) keeps B serving and logs why; the server
# keeps answering throughout.
set -euo pipefail
B=$MCP_BIN
for t in openssl curl python3; do
  command -v "$t" >/dev/null || { echo "FAIL: $t missing (scripts/deps.sh installs it)"; exit 1; }
done
TMP=$(mktemp -d)
SRV=""
cleanup() {
  if [ -n "$SRV" ] && kill -0 "$SRV" 2>/dev/null; then kill "$SRV"; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

ec "$TMP/ca.key"
openssl req -x509 -new -key "$TMP/ca.key" -days 1 -subj "/CN=libmcp reload CA" -out "$TMP/ca.pem" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$TMP/ext"
leaf() {  # leaf NAME: NAME.key and NAME.pem (O=NAME) signed by the CA
  ec "$TMP/$1.key"
  openssl req -new -key "$TMP/$1.key" -subj "/O=$1/CN=localhost" -out "$TMP/$1.csr" 2>/dev/null
  openssl x509 -req -in "$TMP/$1.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" -CAcreateserial \
    -days 1 -extfile "$TMP/ext" -out "$TMP/$1.pem" 2>/dev/null
}
leaf pair-a
leaf pair-b
leaf pair-c
cp "$TMP/pair-a.pem" "$TMP/live.pem"
cp "$TMP/pair-a.key" "$TMP/live.key"

P=$(free_port)
"$B/mcp-conformance-server" --listen "127.0.0.1:$P" --tls-cert "$TMP/live.pem" \
  --tls-key "$TMP/live.key" 2>"$TMP/server.err" &
SRV=$!
for _ in $(seq 100); do grep -q "listening on" "$TMP/server.err" 2>/dev/null && break; sleep 0.05; done
grep -q "listening on https://127.0.0.1:$P/mcp" "$TMP/server.err" || { cat "$TMP/server.err"; echo "FAIL: no TLS server"; exit 1; }

# subject: the O= of the certificate a new connection gets
subject() {
  openssl s_client -connect "127.0.0.1:$P" -servername localhost -CAfile "$TMP/ca.pem" </dev/null 2>/dev/null |
    openssl x509 -noout -subject 2>/dev/null | sed -n 's/.*O *= *\([a-z-]*\).*/\1/p'
}
reloads() { awk '/TLS certificate reloaded|TLS reload failed/ { n++ } END { print n + 0 }' "$TMP/server.err"; }
# hup: SIGHUP, then wait for one more reload line ("reloaded" or "reload failed")
hup() {
  local before
  before=$(reloads)
  kill -HUP "$SRV"
  for _ in $(seq 100); do
    [ "$(reloads)" -gt "$before" ] && return 0
    sleep 0.05
  done
  bad "no reload line after SIGHUP"
}
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
answers() {
  curl -s --max-time 10 --cacert "$TMP/ca.pem" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' -d "$INIT" "https://127.0.0.1:$P/mcp" |
    grep -q '"serverInfo"'
}

[ "$(subject)" = pair-a ] || bad "before the reload: got '$(subject)', want pair-a"
answers || bad "pair A: curl trusting the CA got no answer"

# a connection opened before the reload (it stays open: s_client waits on its stdin)
mkfifo "$TMP/hold"
openssl s_client -connect "127.0.0.1:$P" -servername localhost -CAfile "$TMP/ca.pem" \
  <"$TMP/hold" >"$TMP/held.out" 2>&1 &
HELD=$!
exec 9>"$TMP/hold"
for _ in $(seq 100); do grep -q "^---" "$TMP/held.out" 2>/dev/null && break; sleep 0.05; done

cp "$TMP/pair-b.pem" "$TMP/live.pem"
cp "$TMP/pair-b.key" "$TMP/live.key"
hup
grep -q "TLS certificate reloaded: new connections get it" "$TMP/server.err" || bad "no reloaded line: $(tail -3 "$TMP/server.err")"
[ "$(subject)" = pair-b ] || bad "after the reload: got '$(subject)', want pair-b"
answers || bad "pair B: curl trusting the CA got no answer"
kill -0 "$HELD" 2>/dev/null || bad "the connection opened before the reload was dropped"
grep -q "O *= *pair-a" "$TMP/held.out" || bad "the connection opened before the reload did not have pair A"
exec 9>&-
if wait "$HELD" 2>/dev/null; then :; fi

# broken new pairs: B keeps serving, the log says why
cp "$TMP/pair-c.pem" "$TMP/live.pem"          # C's certificate, B's key
hup
grep -q "TLS reload failed, keeping the current certificate: --tls-key $TMP/live.key is not the key of --tls-cert $TMP/live.pem" "$TMP/server.err" ||
  bad "mismatched pair: $(tail -2 "$TMP/server.err")"
[ "$(subject)" = pair-b ] || bad "after a mismatched pair: got '$(subject)', want pair-b"
echo "not a certificate" >"$TMP/live.pem"
hup
grep -q "TLS reload failed, keeping the current certificate: --tls-cert $TMP/live.pem: " "$TMP/server.err" ||
  bad "non-PEM certificate: $(tail -2 "$TMP/server.err")"
[ "$(subject)" = pair-b ] || bad "after a non-PEM certificate: got '$(subject)', want pair-b"
rm "$TMP/live.key"
hup
grep -q "TLS reload failed, keeping the current certificate: --tls-key $TMP/live.key: No such file" "$TMP/server.err" ||
  bad "missing key: $(tail -2 "$TMP/server.err")"
answers || bad "after the failed reloads the server no longer answers"
if grep -q "BEGIN PRIVATE KEY\|$(sed -n 2p "$TMP/pair-b.key")" "$TMP/server.err"; then bad "a private key was logged"; fi
kill -0 "$SRV" || bad "the server died"

[ "$fail" = 0 ] && echo "ok: SIGHUP reloads the TLS pair for new connections (open ones keep theirs); broken pairs keep the old one and say why"
exit $fail
