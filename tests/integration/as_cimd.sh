#!/usr/bin/env bash
# Client ID Metadata Documents on the embedded AS: a client_id that is a URL is fetched, checked
# (client_id equals the URL, exact redirect match, no shared secret) and cached; the metadata
# claims client_id_metadata_document_supported. The documents are served on loopback, which only
# --as-cimd-allow-internal permits; without it the same URL is refused (the SSRF rule).
set -u
. "$(dirname "$0")/lib/products_common.sh"
command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }
command -v openssl >/dev/null || { echo "openssl is required" >&2; exit 1; }
DOCS="$TMP/docs"
mkdir -p "$DOCS"
# the documents' server on a port the OS picks (a fixed one collides with another run of this
# test on the same machine: the requests then go to the other run's server); AS_CIMD_PORT pins it
python3 -u -m http.server "${AS_CIMD_PORT:-0}" --bind 127.0.0.1 --directory "$DOCS" \
    >"$TMP/docs.log" 2>&1 &
DOC_PID=$!
trap '[ -n "$DOC_PID" ] && kill "$DOC_PID" 2>/dev/null; cleanup' EXIT
DOC_PORT=""
for _ in $(seq 1 50); do
    DOC_PORT=$(sed -n 's/^Serving HTTP on 127\.0\.0\.1 port \([0-9]*\).*/\1/p' "$TMP/docs.log")
    [ -n "$DOC_PORT" ] && break
    sleep 0.1
done
[ -n "$DOC_PORT" ] || { echo "the documents' server did not start: $(cat "$TMP/docs.log")" >&2; exit 1; }
BASE="http://127.0.0.1:$DOC_PORT"
CB="http://127.0.0.1:45612/callback"
GOOD="$BASE/good.json"
cat >"$DOCS/good.json" <<JSON
{"client_id":"$GOOD","client_name":"Metadata Doc Client","redirect_uris":["$CB"],
 "token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"]}
JSON
printf '{"client_id":"%s","redirect_uris":["%s"]}\n' "$BASE/other.json" "$CB" >"$DOCS/mismatch.json"
printf '{"client_id":"%s","redirect_uris":["%s"],"client_secret":"x"}\n' "$BASE/secret.json" \
    "$CB" >"$DOCS/secret.json"
printf '{"client_id":"%s","redirect_uris":["%s"],"token_endpoint_auth_method":"client_secret_basic"}\n' \
    "$BASE/basic.json" "$CB" >"$DOCS/basic.json"
head -c 40000 /dev/zero | tr '\0' ' ' >"$DOCS/big.json"
printf '{"client_id":"%s","redirect_uris":["%s"]}' "$BASE/big.json" "$CB" >>"$DOCS/big.json"
for _ in $(seq 1 50); do
    curl -s -o /dev/null --max-time 1 "$BASE/" && break
    sleep 0.1
done

PW='cimd pass phrase 1'
A user add alice --role user >/dev/null || exit 1
printf '%s\n' "$PW" | A user passwd alice || exit 1

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
VERIFIER=$(head -c 32 /dev/urandom | b64url)
CHALLENGE=$(printf '%s' "$VERIFIER" | openssl dgst -sha256 -binary | b64url)
authorize_get() {  # CLIENT REDIRECT: status printed, page in $TMP/page
    curl -s --max-time 10 -o "$TMP/page" -w '%{http_code}' -G "$ORIGIN/authorize" \
        --data-urlencode response_type=code --data-urlencode "client_id=$1" \
        --data-urlencode "redirect_uri=$2" --data-urlencode state=s1 \
        --data-urlencode "code_challenge=$CHALLENGE" --data-urlencode code_challenge_method=S256 \
        --data-urlencode "resource=$SRV_URL"
}
authz_url() {
    python3 -c 'import sys,urllib.parse as u; print(sys.argv[1]+"/authorize?"+u.urlencode({"response_type":"code","client_id":sys.argv[2],"redirect_uri":sys.argv[3],"state":"s1","code_challenge":sys.argv[4],"code_challenge_method":"S256","resource":sys.argv[5]}))' \
        "$ORIGIN" "$GOOD" "$CB" "$CHALLENGE" "$SRV_URL"
}

# ---- without the test-only option: the loopback document is refused --------------------------
start_products strict --embedded-as || exit 1
ORIGIN="http://127.0.0.1:$SRV_PORT"
META=$(curl -s --max-time 5 "$ORIGIN/.well-known/oauth-authorization-server")
eq "metadata claims CIMD" "$(jq -r .client_id_metadata_document_supported <<<"$META")" true
eq "internal document refused by default" "$(authorize_get "$GOOD" "$CB")" 400
check "refused: http to loopback (log)" grep -q "client metadata document $GOOD: not an acceptable https URL" "$SRV_LOG"
HTTPS_INT="https://127.0.0.1:$DOC_PORT/good.json"
eq "https to an internal address refused" "$(authorize_get "$HTTPS_INT" "$CB")" 400
check "refused before connecting (SSRF rule, log)" grep -q "client metadata document $HTTPS_INT: not fetched.*loopback" "$SRV_LOG"
stop_products
SRV_PID=""

# ---- with --as-cimd-allow-internal ----------------------------------------------------------
start_products cimd --embedded-as --as-cimd-allow-internal || exit 1
ORIGIN="http://127.0.0.1:$SRV_PORT"
eq "document client: login page" "$(authorize_get "$GOOD" "$CB")" 200
check "page names the client" grep -q "Metadata Doc Client" "$TMP/page"
eq "redirect on another port refused (exact match)" \
    "$(authorize_get "$GOOD" "http://127.0.0.1:45613/callback")" 400
eq "client_id differs from the URL" "$(authorize_get "$BASE/mismatch.json" "$CB")" 400
eq "document with a secret" "$(authorize_get "$BASE/secret.json" "$CB")" 400
eq "document asking for a shared secret" "$(authorize_get "$BASE/basic.json" "$CB")" 400
eq "document over the size bound" "$(authorize_get "$BASE/big.json" "$CB")" 400
eq "document not found" "$(authorize_get "$BASE/missing.json" "$CB")" 400
eq "URL with a fragment" "$(authorize_get "$GOOD#x" "$CB")" 400
eq "URL without a path" "$(authorize_get "$BASE" "$CB")" 400
check "log says why (client_id)" grep -q "mismatch.json: the document's client_id is not its URL" "$SRV_LOG"

# the whole flow: sign in, exchange the code as the document client, call a tool
loc=$(printf '%s\n' "$PW" | python3 "$(dirname "$0")/lib/as_login.py" "$(authz_url)" alice)
CODE=$(sed -n 's/.*[?&]code=\([^&]*\).*/\1/p' <<<"$loc")
check "code issued" test -n "$CODE"
st=$(curl -s --max-time 10 -o "$TMP/tok" -w '%{http_code}' "$ORIGIN/token" \
    --data-urlencode grant_type=authorization_code --data-urlencode "code=$CODE" \
    --data-urlencode "redirect_uri=$CB" --data-urlencode "client_id=$GOOD" \
    --data-urlencode "code_verifier=$VERIFIER")
eq "code exchanged" "$st" 200
AT=$(jq -r '.access_token // empty' "$TMP/tok")
eq "token's client_id" "$(python3 -c 'import sys,json,base64; p=sys.argv[1].split(".")[1]; print(json.loads(base64.urlsafe_b64decode(p+"="*(-len(p)%4)))["client_id"])' "$AT")" "$GOOD"
SID=$(open_session "$AT")
check "session opened with the token" test -n "$SID"
st=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "$ORIGIN/token" \
    --data-urlencode grant_type=authorization_code --data-urlencode "code=$CODE" \
    --data-urlencode "redirect_uri=$CB" --data-urlencode "client_id=$GOOD" \
    --data-urlencode "code_verifier=$VERIFIER")
eq "code reused" "$st" 400

# cached: the document is fetched once for all of the above (at most the TTL)
n=$(grep -c 'GET /good.json' "$TMP/docs.log")
eq "good.json fetched once (cached)" "$n" 1
summary
