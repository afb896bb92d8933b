#!/usr/bin/env bash
# Signing-key rotation of the embedded authorization server on a running mcp-products
# (issue 12): `mcp-admin as rotate-key` replaces the key file; the server signs the next token
# with the new kid, /jwks lists the old and the new key, and the token signed before the
# rotation still calls a tool, as does the new one.
set -u
. "$(dirname "$0")/lib/products_common.sh"
A user add alice --role user >/dev/null 2>&1 || exit 1
A client add robot --confidential --owner alice >"$TMP/robot.secret" 2>/dev/null || exit 1
start_products rot --embedded-as || exit 1
ORIGIN="http://127.0.0.1:$SRV_PORT"
SECRET_R=$(cat "$TMP/robot.secret")
get_token() {
    curl -s --max-time 10 -u "robot:$SECRET_R" -d grant_type=client_credentials \
        "$ORIGIN/token" | jq -r .access_token
}
jwt_kid() {
    local p
    p=$(cut -d. -f1 <<<"$1" | tr '_-' '/+')
    while [ $((${#p} % 4)) -ne 0 ]; do p="$p="; done
    base64 -d <<<"$p" | jq -r .kid
}
calls() {  # TOKEN: the status of list_products
    local sid
    sid=$(open_session "$1")
    [ -n "$sid" ] || { cat "$TMP/init.code"; return 0; }
    rpc "$1" "$sid" "$(call_json 2 list_products '{}')"
}

T1=$(get_token)
K1=$(jwt_kid "$T1")
check "a token before the rotation" test -n "$K1"
eq "/jwks: one key" "$(curl -s --max-time 5 "$ORIGIN/jwks" | jq '.keys | length')" 1

# rotation without --as-key-file: the key beside the store, as the server uses
rc=0
K2=$(A as rotate-key 2>"$TMP/rot.err") || rc=$?
eq "rotate-key exit" "$rc" 0
check "rotate-key confirms on stderr" grep -q "done: as rotate-key" "$TMP/rot.err"
check "a new kid" test -n "$K2" -a "$K2" != "$K1"
check "the old key kept" test -f "$DB.as-key.pem.retired."*
eq "key file mode" "$(stat -c %a "$DB.as-key.pem")" 600

# the server looks at the key file at most once a second
T2=""
for _ in $(seq 1 30); do
    sleep 0.2
    T2=$(get_token)
    [ "$(jwt_kid "$T2")" = "$K2" ] && break
done
eq "new tokens carry the new kid" "$(jwt_kid "$T2")" "$K2"
JW=$(curl -s --max-time 5 "$ORIGIN/jwks")
eq "/jwks: two keys" "$(jq '.keys | length' <<<"$JW")" 2
check "/jwks: the old kid" test "$(jq -r --arg k "$K1" '[.keys[].kid] | index($k) != null' <<<"$JW")" = true
eq "the token signed before still calls a tool" "$(calls "$T1")" 200
eq "the new token calls a tool" "$(calls "$T2")" 200
check "no secret in the server log" test -z "$(grep -F "$SECRET_R" "$SRV_LOG")"

# errors: no key file, a PostgreSQL store without --as-key-file
rc=0
A as rotate-key --as-key-file "$TMP/none.pem" >/dev/null 2>"$TMP/rot2.err" || rc=$?
eq "rotate-key without a key file: exit" "$rc" 1
check "says the file is missing" grep -q "no such file" "$TMP/rot2.err"
summary
