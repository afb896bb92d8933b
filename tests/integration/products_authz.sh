#!/usr/bin/env bash
# mcp-products over real HTTP: the authorization matrix. For an admin (API key), a user (JWT), a
# guest (JWT), a guest whose token claims Admin.Write, a user without roles, an unknown subject, a
# disabled user, a revoked token and no token: which tools tools/list shows, which calls succeed, the exact HTTP status, the
# WWW-Authenticate header and the JSON-RPC error of every denial, and the audit lines written.
# Needs $MCP_BIN (set by CTest), curl and jq.
. "$(dirname "$0")/lib/products_common.sh"

# --- the store: users and roles --------------------------------------------------------------
A user add admin --role admin >/dev/null 2>&1 || exit 1
A user add uma --name "Uma User" --role user >/dev/null 2>&1 || exit 1
A user add gus --role guest >/dev/null 2>&1 || exit 1
A user add nora >/dev/null 2>&1 || exit 1                       # no roles at all
A user add bob --role guest >/dev/null 2>&1 || exit 1
A user add dora --role admin >/dev/null 2>&1 || exit 1
A user disable dora >/dev/null 2>&1 || exit 1
ADMIN_KEY=$(A key create --owner admin 2>/dev/null)
DORA_KEY=$(A key create --owner dora 2>/dev/null)
check "admin key created" has "$ADMIN_KEY" "mcp_"

start_products main --auth apikey,jwt --audit-log "$AUDIT" --seed || exit 1

USER_TOK=$(mint uma --jti u-1)
USER_XTOK=$(mint uma --jti u-2 --permissions Extra.Scope,User.Read)
USER_RTOK=$(mint uma --jti u-3 --scope User.Read)
BOB_TOK=$(mint bob --jti b-1 --scope Admin.Write)
GUEST_TOK=$(mint gus --jti g-1 --scope Guest.Read)
NORA_TOK=$(mint nora --jti n-1)
UNKNOWN_TOK=$(mint mallory --jti m-1 --permissions Admin.Write,User.Write,User.Read)
DORA_TOK=$(mint dora --jti d-1)
REVOKED_TOK=$(mint uma --jti r-1)
A token revoke r-1 >/dev/null 2>&1 || exit 1

ALL_TOOLS="create_product,delete_product,get_product,list_products,update_product"
LIST='{"jsonrpc":"2.0","id":1,"method":"tools/list"}'

# --- admin (API key): everything ---------------------------------------------------------------
SID=$(open_session "$ADMIN_KEY")
eq "admin initialize" "$(cat "$TMP/init.code")" 200
eq "admin tools/list status" "$(rpc "$ADMIN_KEY" "$SID" "$LIST")" 200
eq "admin sees every tool" "$(tool_names)" "$ALL_TOOLS"
eq "admin create" "$(rpc "$ADMIN_KEY" "$SID" "$(call_json 2 create_product \
    '{"name":"Scale","price_cents":3900,"stock":3}')")" 200
NEW_ID=$(jq -r '.result.structuredContent.id' "$TMP/body")
eq "created_by is the caller" "$(jq -r '.result.structuredContent.created_by' "$TMP/body")" admin
eq "admin delete" "$(rpc "$ADMIN_KEY" "$SID" "$(call_json 3 delete_product "{\"id\":$NEW_ID}")")" 200
eq "delete result" "$(jq -r '.result.structuredContent.deleted' "$TMP/body")" true
eq "admin templates" "$(rpc "$ADMIN_KEY" "$SID" \
    '{"jsonrpc":"2.0","id":4,"method":"resources/templates/list"}')" 200
eq "template listed" "$(jq -r '[.result.resourceTemplates[].uriTemplate] | join(",")' "$TMP/body")" \
    "products://{id}"
ADMIN_SID=$SID

# --- user (JWT, role user): read + write, no delete --------------------------------------------
SID=$(open_session "$USER_TOK")
eq "user initialize" "$(cat "$TMP/init.code")" 200
rpc "$USER_TOK" "$SID" "$LIST" >/dev/null
eq "user tools" "$(tool_names)" "create_product,get_product,list_products,update_product"
eq "user list_products" "$(rpc "$USER_TOK" "$SID" "$(call_json 5 list_products '{"limit":2}')")" 200
eq "two products" "$(jq -r '.result.structuredContent.products | length' "$TMP/body")" 2
eq "user create" "$(rpc "$USER_TOK" "$SID" "$(call_json 6 create_product \
    '{"name":"Knock box","price_cents":2500}')")" 200
UMA_ID=$(jq -r '.result.structuredContent.id' "$TMP/body")
USER_SID=$SID
eq "created_by uma" "$(jq -r '.result.structuredContent.created_by' "$TMP/body")" uma
eq "user update" "$(rpc "$USER_TOK" "$SID" "$(call_json 7 update_product \
    "{\"id\":$UMA_ID,\"stock\":9}")")" 200
eq "updated_by uma" "$(jq -r '.result.structuredContent.updated_by' "$TMP/body")" uma
eq "update applied" "$(jq -r '.result.structuredContent.stock' "$TMP/body")" 9

# the denial: 403 and JSON-RPC error. The store does not grant uma Admin.Write, so no token can
# help: no challenge invites a step-up
eq "user delete is 403" "$(rpc "$USER_TOK" "$SID" "$(call_json 8 delete_product "{\"id\":$UMA_ID}")")" 403
eq "user delete: no step-up challenge" "$(hdr WWW-Authenticate)" ""
eq "user delete JSON-RPC error" "$(jq -c . "$TMP/body")" \
    '{"jsonrpc":"2.0","id":8,"error":{"code":-32003,"message":"tool '"'"'delete_product'"'"' requires any of: Admin.Write, which this user is not granted","data":{"target":"delete_product"}}}'
eq "product still there" "$(rpc "$ADMIN_KEY" "$ADMIN_SID" "$(call_json 9 get_product "{\"id\":$UMA_ID}")")" 200
eq "product still there (body)" "$(jq -r '.result.structuredContent.name' "$TMP/body")" "Knock box"

# the token narrows the store's permissions (permission rule "store"): a claim the store does not
# grant (Extra.Scope) counts for nothing; User.Write, held but not in the token, is asked for
SID2=$(open_session "$USER_XTOK")
eq "narrowed token may read" "$(rpc "$USER_XTOK" "$SID2" "$(call_json 10 list_products '{}')")" 200
eq "narrowed token may not create" "$(rpc "$USER_XTOK" "$SID2" "$(call_json 10 create_product \
    '{"name":"x","price_cents":1}')")" 403
eq "step-up challenge asks for what the user holds" "$(hdr WWW-Authenticate)" \
    "Bearer error=\"insufficient_scope\", error_description=\"tool 'create_product' requires any of: User.Write\", scope=\"User.Read User.Write\", resource_metadata=\"$SRV_PRM\""
SID3=$(open_session "$USER_RTOK")
eq "scope User.Read: create is 403" "$(rpc "$USER_RTOK" "$SID3" "$(call_json 10 create_product \
    '{"name":"x","price_cents":1}')")" 403
check "scope User.Read: step-up for User.Write" has "$(hdr WWW-Authenticate)" 'scope="User.Read User.Write"'
rpc "$USER_RTOK" "$SID3" "$LIST" >/dev/null
eq "scope User.Read: tools" "$(tool_names)" "get_product,list_products"

# the issue's case: store user bob (role guest) with a token minted for Admin.Write
SID4=$(open_session "$BOB_TOK")
eq "bob initialize" "$(cat "$TMP/init.code")" 200
eq "bob (guest, scope Admin.Write) delete is 403" \
    "$(rpc "$BOB_TOK" "$SID4" "$(call_json 30 delete_product '{"id":1}')")" 403
eq "bob delete: no step-up challenge" "$(hdr WWW-Authenticate)" ""
eq "bob delete error" "$(jq -r .error.message "$TMP/body")" \
    "tool 'delete_product' requires any of: Admin.Write, which this user is not granted"
eq "product 1 still there" "$(rpc "$ADMIN_KEY" "$ADMIN_SID" "$(call_json 31 get_product '{"id":1}')")" 200
rpc "$BOB_TOK" "$SID4" "$LIST" >/dev/null
eq "bob sees no tools (his token asked for Admin.Write only)" "$(tool_names)" ""
eq "bob get_product is 403" "$(rpc "$BOB_TOK" "$SID4" "$(call_json 32 get_product '{"id":1}')")" 403
check "bob may step up for what he holds" has "$(hdr WWW-Authenticate)" 'scope="Guest.Read"'

# --- guest (JWT, role guest): read only --------------------------------------------------------
SID=$(open_session "$GUEST_TOK")
eq "guest initialize" "$(cat "$TMP/init.code")" 200
rpc "$GUEST_TOK" "$SID" "$LIST" >/dev/null
eq "guest tools" "$(tool_names)" "get_product,list_products"
eq "guest get" "$(rpc "$GUEST_TOK" "$SID" "$(call_json 11 get_product '{"id":1}')")" 200
eq "guest read resource" "$(rpc "$GUEST_TOK" "$SID" \
    '{"jsonrpc":"2.0","id":12,"method":"resources/read","params":{"uri":"products://1"}}')" 200
eq "resource is the product" "$(jq -r '.result.contents[0].text | fromjson | .id' "$TMP/body")" 1
eq "guest prompt" "$(rpc "$GUEST_TOK" "$SID" \
    '{"jsonrpc":"2.0","id":13,"method":"prompts/get","params":{"name":"summarize_catalog","arguments":{"focus":"stock"}}}')" 200
check "prompt lists products" has "$(jq -r '.result.messages[0].content.text' "$TMP/body")" "Espresso machine"
eq "guest create is 403" "$(rpc "$GUEST_TOK" "$SID" "$(call_json 14 create_product \
    '{"name":"x","price_cents":1}')")" 403
eq "guest create: no challenge" "$(hdr WWW-Authenticate)" ""
eq "guest create error" "$(jq -c .error "$TMP/body")" \
    '{"code":-32003,"message":"tool '"'"'create_product'"'"' requires any of: User.Write Admin.Write, which this user is not granted","data":{"target":"create_product"}}'
eq "guest update is 403" "$(rpc "$GUEST_TOK" "$SID" "$(call_json 15 update_product '{"id":1,"stock":0}')")" 403
eq "guest delete is 403" "$(rpc "$GUEST_TOK" "$SID" "$(call_json 16 delete_product '{"id":1}')")" 403
GUEST_SID=$SID

# --- a store user without roles: sees nothing, may do nothing ----------------------------------
SID=$(open_session "$NORA_TOK")
eq "nora initialize" "$(cat "$TMP/init.code")" 200
rpc "$NORA_TOK" "$SID" "$LIST" >/dev/null
eq "nora sees no tools" "$(tool_names)" ""
rpc "$NORA_TOK" "$SID" '{"jsonrpc":"2.0","id":17,"method":"resources/templates/list"}' >/dev/null
eq "nora sees no templates" "$(jq -r '.result.resourceTemplates | length' "$TMP/body")" 0
rpc "$NORA_TOK" "$SID" '{"jsonrpc":"2.0","id":18,"method":"prompts/list"}' >/dev/null
eq "nora sees no prompts" "$(jq -r '.result.prompts | length' "$TMP/body")" 0
eq "nora list_products 403" "$(rpc "$NORA_TOK" "$SID" "$(call_json 19 list_products '{}')")" 403
eq "nora list: no challenge" "$(hdr WWW-Authenticate)" ""
eq "nora resource 403" "$(rpc "$NORA_TOK" "$SID" \
    '{"jsonrpc":"2.0","id":20,"method":"resources/read","params":{"uri":"products://1"}}')" 403
eq "nora resource error" "$(jq -c .error "$TMP/body")" \
    '{"code":-32003,"message":"resource '"'"'products://1'"'"' requires any of: User.Read Guest.Read, which this user is not granted","data":{"target":"products://1"}}'
eq "nora prompt 403" "$(rpc "$NORA_TOK" "$SID" \
    '{"jsonrpc":"2.0","id":21,"method":"prompts/get","params":{"name":"summarize_catalog"}}')" 403

# --- unknown subject: a valid token, but not a store user -> 403 "user unknown" ---------------
eq "unknown initialize is 403" "$(rpc "$UNKNOWN_TOK" "" "$INIT")" 403
eq "unknown: no challenge (no token can help)" "$(hdr WWW-Authenticate)" ""
eq "unknown JSON-RPC error" "$(jq -c . "$TMP/body")" \
    '{"jsonrpc":"2.0","id":0,"error":{"code":-32003,"message":"user unknown"}}'

# --- disabled user: 403 "user disabled" (JWT); its API key is refused by authentication -------
eq "disabled initialize is 403" "$(rpc "$DORA_TOK" "" "$INIT")" 403
eq "disabled: no challenge (no token can help)" "$(hdr WWW-Authenticate)" ""
eq "disabled JSON-RPC error" "$(jq -c .error "$TMP/body")" '{"code":-32003,"message":"user disabled"}'
eq "disabled user's API key is 401" "$(rpc "$DORA_KEY" "" "$INIT")" 401
check "disabled key reason" has "$(hdr WWW-Authenticate)" 'error="invalid_token"'
eq "disabled key challenge" "$(hdr WWW-Authenticate)" \
    "Bearer error=\"invalid_token\", error_description=\"API key owner disabled\", resource_metadata=\"$SRV_PRM\""
eq "disabled key JSON-RPC error" "$(jq -c .error "$TMP/body")" '{"code":-32001,"message":"API key owner disabled"}'

# --- revoked token (jti in the store): 401 ----------------------------------------------------
eq "revoked token is 401" "$(rpc "$REVOKED_TOK" "" "$INIT")" 401
eq "revoked challenge" "$(hdr WWW-Authenticate)" \
    "Bearer error=\"invalid_token\", error_description=\"token revoked\", resource_metadata=\"$SRV_PRM\""
eq "revoked JSON-RPC error" "$(jq -c .error "$TMP/body")" '{"code":-32001,"message":"token revoked"}'
# revoking while a session is open takes effect on the next request
A token revoke u-1 >/dev/null 2>&1
wait_for "revocation of a live token applies" status_is 401 "$USER_TOK" "" "$INIT"
# (the token was verified, so cached, before: the revocation must win over the cache)
eq "revoked live token challenge" "$(hdr WWW-Authenticate)" \
    "Bearer error=\"invalid_token\", error_description=\"token revoked\", resource_metadata=\"$SRV_PRM\""
eq "revoked live token JSON-RPC error" "$(jq -c .error "$TMP/body")" '{"code":-32001,"message":"token revoked"}'

# --- no token: 401 with the resource metadata --------------------------------------------------
eq "no token is 401" "$(rpc "" "" "$INIT")" 401
# RFC 6750 section 3.1: a request without credentials gets no error code (nor its description)
eq "no token challenge" "$(hdr WWW-Authenticate)" "Bearer resource_metadata=\"$SRV_PRM\""
eq "no token JSON-RPC error" "$(jq -c .error "$TMP/body")" \
    '{"code":-32001,"message":"missing Authorization header"}'

# --- disabling a user takes effect on its next request ----------------------------------------
A user disable gus >/dev/null 2>&1
wait_for "disabling applies to a live session" \
    status_is 403 "$GUEST_TOK" "$GUEST_SID" "$(call_json 23 list_products '{}')"
eq "disabled live session reason" "$(jq -r .error.message "$TMP/body")" "user disabled"
A user enable gus >/dev/null 2>&1

# --- the store unreadable: refuse (503), never fall back to "allowed" -------------------------
mv "$DB" "$DB.moved"
store_down() { [ "$(rpc "$USER_XTOK" "$SID2" "$(call_json 24 list_products '{}')")" = 503 ]; }
wait_for "store gone: JWT caller refused with 503" store_down
eq "store gone: JSON-RPC internal error" "$(jq -r .error.code "$TMP/body")" -32603
check "store gone: no challenge" test -z "$(hdr WWW-Authenticate)"
eq "store gone: API key refused with 503" "$(rpc "$ADMIN_KEY" "$ADMIN_SID" '{"jsonrpc":"2.0","id":25,"method":"ping"}')" 503
mv "$DB.moved" "$DB"
wait_for "store back: served again" status_is 200 "$USER_XTOK" "$SID2" "$(call_json 26 list_products '{}')"
L=$(audit_lines '.status=="MCP_ERR_STORE"')
eq "store gone: audited as 503" "$(jq -r .http_status <<<"$L" | sort -u)" 503

# --- the audit log -----------------------------------------------------------------------------
# every line is JSON with the documented fields; no credential ever appears
check "audit log exists" test -s "$AUDIT"
check "every audit line is a JSON object with 18 fields (19 with permission_rule)" \
    test "$(jq -c 'select((keys | length) != (if has("permission_rule") then 19 else 18 end))' "$AUDIT" | wc -l)" -eq 0
for secret in "$ADMIN_KEY" "$USER_TOK" "$GUEST_TOK" "$UNKNOWN_TOK" "$(cat "$SECRET")"; do
    check "no credential in the audit log" test "$(grep -cF -- "$secret" "$AUDIT")" -eq 0
done
check "no Authorization header in the audit log" test "$(grep -ci bearer "$AUDIT")" -eq 0

L=$(audit_lines '.event=="authz" and .method=="tools/call" and .target=="delete_product" and .subject=="uma" and .request_id==8')
eq "user delete: one audit line" "$(printf '%s\n' "$L" | grep -c .)" 1
eq "user delete: decision" "$(jq -r .decision <<<"$L")" deny
eq "user delete: status" "$(jq -r '.status + " " + (.http_status|tostring)' <<<"$L")" "MCP_ERR_FORBIDDEN 403"
eq "user delete: missing (nothing a token could add)" "$(jq -c .missing <<<"$L")" '[]'
eq "user delete: reason" "$(jq -r .reason <<<"$L")" \
    "tool 'delete_product' requires any of: Admin.Write, which this user is not granted"
eq "user delete: the rule that decided" "$(jq -r .permission_rule <<<"$L")" store
L2=$(audit_lines '.event=="authz" and .target=="delete_product" and .subject=="bob"')
eq "bob delete: audited as a store-rule denial" \
    "$(jq -r '[.decision, (.http_status|tostring), .permission_rule] | join(" ")' <<<"$L2")" "deny 403 store"
L2=$(audit_lines '.event=="authz" and .target=="create_product" and .subject=="uma" and .jti=="u-3"')
eq "narrowed create: missing is what the user holds" "$(jq -c .missing <<<"$L2")" '["User.Write"]'
# the session appears as the first 16 hex digits of the SHA-256 of its id, never the id itself
USER_SID_HASH=$(printf '%s' "$USER_SID" | sha256sum | cut -c1-16)
eq "user delete: who" "$(jq -r '[.credential, .jti, .session_id] | join(" ")' <<<"$L")" \
    "jwt u-1 $USER_SID_HASH"
check "session ids are not in the audit log" test "$(grep -cF -- "$USER_SID" "$AUDIT")" -eq 0

L=$(audit_lines '.event=="authz" and .target=="delete_product" and .subject=="admin" and .decision=="allow"')
eq "admin delete: allowed line" "$(jq -r '[.credential, .key_id != null, .http_status] | map(tostring) | join(" ")' <<<"$L")" \
    "api_key true 200"

L=$(audit_lines '.event=="authz" and .subject=="mallory"')
check "unknown user: denial logged" has "$L" '"reason":"user unknown"'
eq "unknown user: status" "$(jq -r '.http_status' <<<"$L" | head -n 1)" 403
L=$(audit_lines '.event=="authz" and .subject=="dora"')
check "disabled user: denial logged" has "$L" '"reason":"user disabled"'
L=$(audit_lines '.event=="authn" and .decision=="deny" and .reason=="token revoked"')
eq "revoked: logged as authentication denial" "$(jq -r .http_status <<<"$L" | head -n 1)" 401
L=$(audit_lines '.event=="authn" and .reason=="missing Authorization header"')
check "no token: logged" test -n "$L"
eq "no token: no subject" "$(jq -r .subject <<<"$L" | head -n 1)" null
L=$(audit_lines '.event=="authz" and .subject=="gus" and .method=="tools/list" and .decision=="allow"')
check "allowed list logged" test -n "$L"

# --- stopping flushes the log and exits 0 -------------------------------------------------------
before=$(wc -l <"$AUDIT")
rpc "$ADMIN_KEY" "$ADMIN_SID" '{"jsonrpc":"2.0","id":99,"method":"ping"}' >/dev/null
kill "$SRV_PID"
wait "$SRV_PID"
eq "exit status after SIGTERM" "$?" 0
SRV_PID=""
check "last request's lines were flushed at shutdown" \
    test "$(jq -c 'select(.request_id==99)' "$AUDIT" | wc -l)" -eq 1
check "log grew" test "$(wc -l <"$AUDIT")" -gt "$before"

# --- --permission-rule union: the token's claims add to the roles (the documented trade-off) ---
"$MCP_BIN/mcp-products" --permission-rule both --db "$DB" >/dev/null 2>"$TMP/badrule.err"
eq "unknown --permission-rule: usage error" "$?" 2
check "unknown --permission-rule: says why" has "$(cat "$TMP/badrule.err")" \
    "--permission-rule wants store, union or token-only"
AUDIT_U="$TMP/audit-union.log"
start_products union --auth apikey,jwt --permission-rule union --audit-log "$AUDIT_U" || exit 1
BOB_TOK=$(mint bob --jti b-2 --scope Admin.Write)
SID=$(open_session "$BOB_TOK")
eq "union: bob (guest, scope Admin.Write) may delete" \
    "$(rpc "$BOB_TOK" "$SID" "$(call_json 40 delete_product '{"id":2}')")" 200
eq "union: deleted" "$(jq -r '.result.structuredContent.deleted' "$TMP/body")" true
AUDIT_MAIN=$AUDIT
AUDIT=$AUDIT_U
L=$(audit_lines '.event=="authz" and .target=="delete_product" and .subject=="bob"')
eq "union: audit names the rule" "$(jq -r '[.decision, .permission_rule] | join(" ")' <<<"$L")" \
    "allow union"
AUDIT=$AUDIT_MAIN
stop_products

# --- --store-subjects issuer: a token is the store user ISSUER#SUB ------------------------------
"$MCP_BIN/mcp-products" --store-subjects auto --db "$DB" >/dev/null 2>"$TMP/badsub.err"
eq "unknown --store-subjects: usage error" "$?" 2
A user add "$ISS#uma" --role user >/dev/null 2>&1 || exit 1
A user add "client:svc" --role guest >/dev/null 2>&1 || exit 1
start_products issuer --auth apikey,jwt --store-subjects issuer || exit 1
T=$(mint admin --jti i-1)
eq "issuer: an IdP user with sub admin is not the store's admin" "$(rpc "$T" "" "$INIT")" 403
eq "issuer: ... it is no store user" "$(jq -r .error.message "$TMP/body")" "user unknown"
T=$(mint uma --jti i-2)
SID=$(open_session "$T")
eq "issuer: ISS#uma is a store user" "$(cat "$TMP/init.code")" 200
rpc "$T" "$SID" "$LIST" >/dev/null
eq "issuer: with ISS#uma's roles" "$(tool_names)" "create_product,get_product,list_products,update_product"
SID=$(open_session "$ADMIN_KEY")
eq "issuer: API keys stay the store's own users" "$(cat "$TMP/init.code")" 200
stop_products
# a client-credentials JWT (sub = client id) is the subject client:<id>, in either mode
start_products bare --auth jwt
T=$(mint svc --client-id svc --jti c-1)
SID=$(open_session "$T")
eq "client credentials JWT: store user client:svc" "$(cat "$TMP/init.code")" 200
rpc "$T" "$SID" "$LIST" >/dev/null
eq "client credentials JWT: client:svc's roles" "$(tool_names)" "get_product,list_products"
stop_products

summary
