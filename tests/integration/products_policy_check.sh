#!/usr/bin/env bash
# `mcp-admin policy check` and `policy validate` against a real store and the mcp-products
# sample policy: decisions and exit statuses for admin / user / guest / no-role / unknown /
# disabled users, token permissions under each permission rule, resources by template, prompts, a target not in the
# file (undetermined), --json output, $MCP_POLICY, and bad files. The offline answer must agree
# with what the running server decides.
# Needs $MCP_BIN, $MCP_SRC (set by CTest), curl and jq.
. "$(dirname "$0")/lib/products_common.sh"

SAMPLE="${MCP_SRC:?MCP_SRC must point at the source tree}/examples/mcp-products/policy.json"
A user add admin --role admin >/dev/null 2>&1 || exit 1
A user add uma --role user >/dev/null 2>&1 || exit 1
A user add gus --role guest >/dev/null 2>&1 || exit 1
A user add nora >/dev/null 2>&1 || exit 1
A user add dora --role admin >/dev/null 2>&1 || exit 1
A user disable dora >/dev/null 2>&1 || exit 1

# pc WANT-STATUS ARGS...: run policy check; output in $OUT
pc() {
    local want=$1
    shift
    OUT=$(A policy check --policy "$SAMPLE" "$@" 2>&1)
    local got=$?
    if [ "$got" != "$want" ]; then bad "policy check $*: exit $got, want $want: $OUT"; else ok; fi
}

pc 0 --user admin --tool delete_product
check "admin: rule from the file" has "$OUT" 'all of: Admin.Write (policy file'
check "admin: decision" has "$OUT" "decision:   ALLOW"
pc 3 --user uma --tool delete_product
check "user delete: why" has "$OUT" \
    "DENY: needs all of: Admin.Write; the store does not grant it to the user"
check "user delete: the rule named" has "$OUT" "combine:    store (the store grants, the token narrows)"
check "user delete: roles shown" has "$OUT" "role user:  User.Read User.Write"
pc 0 --user uma --tool create_product
pc 3 --user gus --tool create_product
check "guest create: not granted" has "$OUT" "the store does not grant it to the user"
pc 0 --user gus --tool list_products
pc 0 --user gus --resource products://17
check "resource by template" has "$OUT" 'entry "products://{id}"'
pc 0 --user gus --prompt summarize_catalog
pc 3 --user nora --tool list_products
check "no roles" has "$OUT" "roles:      (none)"
pc 3 --user mallory --tool list_products
check "unknown user" has "$OUT" "DENY: user unknown"
pc 3 --user dora --tool list_products
check "disabled user" has "$OUT" "DENY: user disabled"
# the default rule: a token's permission the store does not grant counts for nothing ...
pc 3 --user gus --tool create_product --permission User.Write
check "token permission shown" has "$OUT" "token:      User.Write"
check "token permission not granted" has "$OUT" "effective:  (none)"
# ... a token narrows what the user holds, and the answer says a step-up would help
pc 3 --user uma --tool create_product --permission User.Read
check "narrowed: held but left out" has "$OUT" \
    "the user holds it but the token's claims leave it out (missing User.Write)"
pc 0 --user uma --tool create_product --permission User.Write --permission Admin.Write
check "narrowed: effective" has "$OUT" "effective:  User.Write"
# union: token permissions add to role permissions (the trade-off documented)
pc 0 --user gus --tool create_product --permission User.Write --permission-rule union
check "union named" has "$OUT" "combine:    union"
pc 3 --user gus --tool create_product --permission User.Read --permission-rule token-only
check "token-only: the token alone" has "$OUT" "effective:  User.Read"
OUT=$(A policy check --policy "$SAMPLE" --user gus --tool x --permission-rule both 2>&1)
eq "bad --permission-rule: usage" "$?" 2
# a tool the file does not list: decided by the server's code, not visible here
pc 4 --user admin --tool echo
check "undetermined" has "$OUT" "UNDETERMINED"

# --json
OUT=$(A --json policy check --policy "$SAMPLE" --user uma --tool update_product)
eq "json decision" "$(jq -r .decision <<<"$OUT")" allow
eq "json roles" "$(jq -c .roles <<<"$OUT")" '{"user":["User.Read","User.Write"]}'
eq "json required" "$(jq -r .required <<<"$OUT")" "any of: User.Write Admin.Write"
eq "json rule" "$(jq -r .permission_rule <<<"$OUT")" store
OUT=$(A --json policy check --policy "$SAMPLE" --user gus --tool delete_product)
eq "json: nothing a token could add" "$(jq -r '[.missing, .not_granted] | map(tostring) | join(" ")' <<<"$OUT")" " true"
OUT=$(A --json policy check --policy "$SAMPLE" --user gus --tool delete_product --permission-rule union)
eq "json union missing" "$(jq -r '[.missing, .not_granted, .permission_rule] | map(tostring) | join(" ")' <<<"$OUT")" "Admin.Write false union"

# $MCP_POLICY, no policy at all, usage errors
OUT=$(MCP_POLICY="$SAMPLE" A policy check --user uma --tool delete_product 2>&1)
eq "MCP_POLICY is used" "$?" 3
OUT=$(A policy check --user uma --tool delete_product 2>&1)
eq "no policy file: undetermined" "$?" 4
OUT=$(A policy check --user uma 2>&1)
eq "no target: usage" "$?" 2
OUT=$(A policy check --user uma --tool a --prompt b 2>&1)
eq "two targets: usage" "$?" 2

# validate
OUT=$(A policy validate "$SAMPLE")
eq "validate sample" "$?" 0
check "validate counts" has "$OUT" "valid, 7 entries"
printf '{"tools": {"t": {"all_of": []}}}' >"$TMP/bad.json"
OUT=$(A policy validate "$TMP/bad.json" 2>&1)
eq "validate bad file" "$?" 1
check "validate says where" has "$OUT" "tools.t.all_of: is empty"
OUT=$(A policy check --policy "$TMP/bad.json" --user uma --tool t 2>&1)
eq "check with a bad file" "$?" 1
# validate against the store's roles: a permission no role grants is a warning (exit 0)
OUT=$(A policy validate "$SAMPLE" 2>&1)
check "sample: every permission is granted by a role (no warning)" test "${OUT#*warning}" = "$OUT"
printf '{"tools": {"deploy": {"any_of": ["Ops.Deploy", "Admin.Write"]}, "list_products": {"all_of": ["User.Read"]}}, "prompts": {"p": {"all_of": ["Ops.Audit"]}}}' >"$TMP/ungranted.json"
OUT=$(A policy validate "$TMP/ungranted.json" 2>"$TMP/warn")
eq "ungranted: still valid" "$?" 0
check "ungranted: valid line" has "$OUT" "valid, 3 entries"
check "ungranted: Ops.Deploy named with its entry" has "$(cat "$TMP/warn")" \
    "mcp-admin: warning: $TMP/ungranted.json: tools.deploy.any_of: Ops.Deploy is granted by no role in"
check "ungranted: Ops.Audit named" has "$(cat "$TMP/warn")" "prompts.p.all_of: Ops.Audit is granted by no role"
eq "ungranted: one line each, granted ones not listed" "$(wc -l <"$TMP/warn")" 2
OUT=$(A --json policy validate "$TMP/ungranted.json")
eq "ungranted --json" "$(printf '%s' "$OUT" | jq -c '[.roles_checked, [.ungranted[].permission]]')" \
    '[true,["Ops.Deploy","Ops.Audit"]]'
OUT=$("$MCP_BIN/mcp-admin" --db "$TMP/none.db" policy validate "$TMP/ungranted.json" 2>&1)
eq "no store: still valid" "$?" 0
check "no store: says the roles were not checked" has "$OUT" "roles not checked (no store at $TMP/none.db; give --db)"

# --- the offline answer and the server, against answers written down here ---------------------
# From the sample policy and the store's roles (admin: Admin.Write User.Write User.Read; user:
# User.Read User.Write; guest: Guest.Read; nora: no role), not computed by either engine:
# HTTP status and, for a refusal, the JSON-RPC error message.
# (API keys carry the store's permissions; a denial is one the store does not grant)
LISTS="requires any of: User.Read Guest.Read, which this user is not granted"
WRITES="requires any of: User.Write Admin.Write, which this user is not granted"
ADMINS="requires all of: Admin.Write, which this user is not granted"
declare -A WANT=(
    ["admin list_products"]=200 ["admin create_product"]=200 ["admin delete_product"]=200
    ["uma list_products"]=200   ["uma create_product"]=200   ["uma delete_product"]="403 $ADMINS"
    ["gus list_products"]=200   ["gus create_product"]="403 $WRITES" ["gus delete_product"]="403 $ADMINS"
    ["nora list_products"]="403 $LISTS" ["nora create_product"]="403 $WRITES"
    ["nora delete_product"]="403 $ADMINS"
)
start_products main --auth apikey --policy "$SAMPLE" || exit 1
for who in admin uma gus nora; do
    KEY=$(A key create --owner "$who" 2>/dev/null)
    SID=$(open_session "$KEY")
    for tool in list_products create_product delete_product; do
        want=${WANT["$who $tool"]}
        A policy check --policy "$SAMPLE" --user "$who" --tool "$tool" >/dev/null 2>&1
        offline=$?
        eq "$who $tool: policy check exit" "$offline" "$([ "$want" = 200 ] && echo 0 || echo 3)"
        args='{}'
        [ "$tool" = create_product ] && args='{"name":"x","price_cents":1}'
        [ "$tool" = delete_product ] && args='{"id":999}'
        online=$(rpc "$KEY" "$SID" "$(call_json 1 "$tool" "$args")")
        if [ "$want" = 200 ]; then
            eq "$who $tool: server" "$online" 200
            eq "$who $tool: a result, no error" "$(jq -c 'has("result"), has("error")' "$TMP/body" | tr '\n' ' ')" "true false "
        else
            eq "$who $tool: server" "$online" 403
            eq "$who $tool: error" "$(jq -c .error "$TMP/body")" \
                "{\"code\":-32003,\"message\":\"tool '$tool' ${want#403 }\",\"data\":{\"target\":\"$tool\"}}"
        fi
    done
done
stop_products
summary
