#!/usr/bin/env bash
# End-to-end test of mcp-admin: every command, its output and its exit status, against a real
# store file in a temporary directory. Needs $MCP_BIN (set by CTest).
set -u

ADMIN="${MCP_BIN:?MCP_BIN must point at the build bin/ directory}/mcp-admin"
[ -x "$ADMIN" ] || { echo "not built: $ADMIN" >&2; exit 1; }
TMP=$(mktemp -d /tmp/mcp-admin-test-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
DB="$TMP/mcp.db"
fails=0

# expect STATUS CMD...: run CMD, compare its exit status; stdout in $OUT, stderr in $ERR.
expect() {
    local want=$1
    shift
    "$@" >"$TMP/out" 2>"$TMP/err"
    local got=$?
    OUT=$(cat "$TMP/out")
    ERR=$(cat "$TMP/err")
    if [ "$got" != "$want" ]; then
        echo "FAIL: '$*' exited $got, want $want; stderr: $ERR" >&2
        fails=$((fails + 1))
    fi
}
# check DESCRIPTION CONDITION...: fail unless the test command succeeds.
check() {
    local what=$1
    shift
    if ! "$@"; then
        echo "FAIL: $what" >&2
        fails=$((fails + 1))
    fi
}
has() { case "$1" in *"$2"*) return 0 ;; *) return 1 ;; esac; }
hasnt() { ! has "$1" "$2"; }
A() { "$ADMIN" --db "$DB" "$@"; }

# --- usage errors: exit 2 --------------------------------------------------------------------
expect 2 "$ADMIN"
expect 2 "$ADMIN" --db "$DB" frob list
expect 2 A user
expect 2 A user frob
expect 2 A user add
expect 2 A user add a b
expect 2 A user add x --bogus
expect 2 A key create
expect 2 A key create --owner alice --ttl soon
expect 2 A token revoke j --expires yesterday
expect 0 "$ADMIN" --help
check "help lists commands" has "$OUT" "key create"
expect 0 "$ADMIN" --version
check "no store created by usage errors" test ! -e "$DB"

# --- a missing store is not created by read-only commands ------------------------------------
expect 1 A user list
check "one-line reason" test "$(printf '%s\n' "$ERR" | wc -l)" -eq 1
check "read-only command did not create the store" test ! -e "$DB"

# --- users and roles -------------------------------------------------------------------------
expect 0 A user add alice --name "Alice Admin" --role admin
check "store created" test -f "$DB"
expect 0 A user add bob --role user --role guest
expect 1 A user add bob
check "duplicate named" has "$ERR" "already exists"
expect 1 A user add carol --role nosuch
check "unknown role named" has "$ERR" "no such role"
expect 0 A user list
check "alice listed" has "$OUT" "alice	enabled	admin"
check "bob roles" has "$OUT" "bob	enabled	guest,user"
check "carol not half-created" hasnt "$OUT" "carol"
expect 0 A --json user list
check "json user list" has "$OUT" '"subject": "alice"'
check "json name" has "$OUT" '"name": "Alice Admin"'
expect 0 A role list
check "default admin role" has "$OUT" "admin	Admin.Write User.Read User.Write"
check "default guest role" has "$OUT" "guest	Guest.Read"
expect 0 A role list --json
check "json role list" has "$OUT" '"Guest.Read"'
expect 0 A role set ops Ops.Run User.Read
expect 0 A role grant bob ops
expect 0 A role revoke bob guest
expect 1 A role revoke bob guest
check "revoke of missing grant named" has "$ERR" "does not have that role"
expect 1 A role grant nobody user
check "unknown user named" has "$ERR" "no such user"
expect 0 A user list
check "bob roles changed" has "$OUT" "bob	enabled	ops,user"
expect 1 A user disable nobody
expect 0 A user disable bob
expect 0 A user list
check "bob disabled" has "$OUT" "bob	disabled"

# --- keys ------------------------------------------------------------------------------------
expect 0 A key create --owner alice --label "ci bot" --ttl 3600
KEY=$OUT
check "key printed once, alone" test "$(printf '%s\n' "$OUT" | wc -l)" -eq 1
check "key format" bash -c '[[ "$1" =~ ^mcp_[a-z2-7]{12}_[A-Za-z0-9_-]{43}$ ]]' _ "$KEY"
check "stderr note" has "$ERR" "will not be shown again"
check "key not on stderr" hasnt "$ERR" "$KEY"
KID=${KEY:4:12}
SECRET=${KEY:17}
check "key id in note" has "$ERR" "$KID"
expect 0 A key list
check "key listed" has "$OUT" "$KID	alice	active"
check "label listed" has "$OUT" "ci bot"
check "secret never listed" hasnt "$OUT" "$SECRET"
expect 0 A key list --json --owner alice
check "json key list" has "$OUT" "\"id\": \"$KID\""
check "json secret never listed" hasnt "$OUT" "$SECRET"
expect 0 A key list --owner bob
check "owner filter" hasnt "$OUT" "$KID"
check "secret not in store file" bash -c '! grep -q -a -F -- "$1" "$2" "$2-wal" 2>/dev/null' _ "$SECRET" "$DB"
expect 1 A key create --owner nobody
check "unknown owner named" has "$ERR" "no such user"
expect 0 A --json key create --owner bob
check "json key create" bash -c '[[ "$1" =~ ^\{\"key\":\"mcp_[a-z2-7]{12}_[A-Za-z0-9_-]{43}\",\"id\": ]]' _ "$OUT"
BOBKEY=$(printf '%s' "$OUT" | sed -e 's/^{"key":"\([^"]*\)".*/\1/')

# verify reads the key from stdin, never argv
expect 0 bash -c '"$1" --db "$2" key verify <<<"$3"' _ "$ADMIN" "$DB" "$KEY"
check "verify subject" has "$OUT" "subject	alice"
check "verify permissions" has "$OUT" "permissions	Admin.Write User.Read User.Write"
expect 0 bash -c '"$1" --db "$2" --json key verify <<<"$3"' _ "$ADMIN" "$DB" "$KEY"
check "verify json" has "$OUT" '"key_id": "'"$KID"'"'
expect 1 bash -c '"$1" --db "$2" key verify <<<"$3"' _ "$ADMIN" "$DB" "$BOBKEY"
check "disabled owner named" has "$ERR" "API key owner disabled"
expect 0 A user enable bob
expect 0 bash -c '"$1" --db "$2" key verify <<<"$3"' _ "$ADMIN" "$DB" "$BOBKEY"
check "bob perms from ops+user" has "$OUT" "permissions	Ops.Run User.Read User.Write"
BAD="${KEY:0:20}$( [ "${KEY:20:1}" = A ] && echo B || echo A )${KEY:21}"
expect 1 bash -c '"$1" --db "$2" key verify <<<"$3"' _ "$ADMIN" "$DB" "$BAD"
check "wrong secret named" has "$ERR" "API key secret does not match"
check "key not echoed" hasnt "$ERR" "${BAD:17}"
expect 1 bash -c '"$1" --db "$2" key verify <<<"mcp_nope"' _ "$ADMIN" "$DB"
check "malformed named" has "$ERR" "API key malformed"
expect 0 A key revoke "$KID"
expect 1 bash -c '"$1" --db "$2" key verify <<<"$3"' _ "$ADMIN" "$DB" "$KEY"
check "revoked named" has "$ERR" "API key revoked"
expect 0 A key list
check "revoked listed" has "$OUT" "$KID	alice	revoked"
expect 1 A key revoke aaaaaaaaaaaa
check "unknown key named" has "$ERR" "no such key"
expect 1 A key revoke not-a-key-id
expect 0 A key create --owner alice --ttl 1
SHORT=$OUT
sleep 2.2
expect 1 bash -c '"$1" --db "$2" key verify <<<"$3"' _ "$ADMIN" "$DB" "$SHORT"
check "expired named" has "$ERR" "API key expired"

# --- tokens ----------------------------------------------------------------------------------
expect 0 A token revoke jti-1 --expires 1000
expect 0 A token revoke jti-2
expect 0 A token purge
check "purge count" has "$ERR" "purged 1"

# --- removal, env var, --db=FILE ---------------------------------------------------------------
expect 0 A user remove bob
expect 1 bash -c '"$1" --db "$2" key verify <<<"$3"' _ "$ADMIN" "$DB" "$BOBKEY"
check "removed user's keys are gone" has "$ERR" "API key unknown"
expect 0 env MCP_DB="$DB" "$ADMIN" user list
check "MCP_DB honoured" has "$OUT" "alice"
expect 0 "$ADMIN" --db="$DB" user list
check "--db=FILE honoured" has "$OUT" "alice"
printf 'this is not a database, just some text that is long enough to look like a header....' \
    >"$TMP/garbage.db"
expect 1 "$ADMIN" --db "$TMP/garbage.db" user list
check "corrupt store: one-line reason" test "$(printf '%s\n' "$ERR" | wc -l)" -eq 1

if [ "$fails" -ne 0 ]; then
    echo "admin_cli: $fails failure(s)" >&2
    exit 1
fi
echo "admin_cli: all checks passed"
