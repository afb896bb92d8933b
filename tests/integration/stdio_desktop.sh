#!/usr/bin/env bash
# Issue 14: a desktop-style stdio launch. The server is started the way Claude Desktop / VS Code /
# Cursor start it, from the `command` and `args` of an `mcpServers` entry (the example file
# examples/mcp-products/claude_desktop_config.json, with its paths pointed at a temporary folder),
# and driven with mcp-client --stdio: as the configured local user (--as-user alice, role
# "user" in the store) it lists and calls the permission-gated tools its role allows, is refused
# the admin tool, and each decision is an audit line naming alice. Without --as-user the same
# launch is anonymous: gated tools are hidden and refused, and the start-up warning says why.
set -euo pipefail
SRC_ROOT=${MCP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
B=$MCP_BIN
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
run() { set +e; "$@" >"$TMP/out" 2>"$TMP/err"; RC=$?; set -e; OUT=$(cat "$TMP/out"); ERR=$(cat "$TMP/err"); }
command -v jq >/dev/null || { echo "FAIL: jq missing (scripts/deps.sh installs it)"; exit 1; }

D="$TMP/data"
mkdir -p "$D"
"$B/mcp-admin" --db "$D/mcp.db" init >/dev/null
"$B/mcp-admin" --db "$D/mcp.db" user add alice --role user >/dev/null

# the desktop config, as shipped, with its folder replaced by ours and the command by the build's
jq --arg d "$D" --arg bin "$B/mcp-products" '
  .mcpServers.products.command = $bin
  | .mcpServers.products.args |= map(sub("/home/alice/.local/share/mcp-products"; $d))' \
  "$SRC_ROOT/examples/mcp-products/claude_desktop_config.json" >"$TMP/config.json"
# what a desktop client does: exec command with args (quoted for mcp-client's /bin/sh -c)
launch=$(jq -r '.mcpServers.products | [.command] + .args | map(@sh) | join(" ")' "$TMP/config.json")
case $launch in *"--as-user"*"alice"*"$D/mcp.db"*) ;; *) echo "FAIL: config not applied: $launch"; exit 1;; esac

C() { run "$B/mcp-client" --timeout 20000 --stdio "$launch" "$@"; }
C tools list
[ "$RC" = 0 ] || bad "tools list as alice: exit $RC: $ERR"
for t in list_products get_product create_product update_product; do
  case $OUT in *"$t"*) ;; *) bad "alice does not see $t";; esac
done
case $OUT in *delete_product*) bad "alice (role user) sees delete_product";; esac
C tools call create_product name=Lamp price_cents:=2500
[ "$RC" = 0 ] || bad "create_product as alice: exit $RC: $ERR"
C tools call list_products
[ "$RC" = 0 ] || bad "list_products as alice: exit $RC: $ERR"
case $OUT in *Lamp*) ;; *) bad "list_products does not show the created product: $OUT";; esac
C tools call delete_product id:=1
[ "$RC" = 4 ] || bad "delete_product as alice: exit $RC (want 4, forbidden): $ERR"
case $ERR in *Admin.Write*) ;; *) bad "the refusal does not name the permission: $ERR";; esac

# the audit log: alice, with her credential kind, for the allowed and the refused call
A="$D/audit.log"
[ -s "$A" ] || { echo "FAIL: no audit log at $A"; exit 1; }
aud() { jq -c "select($1)" "$A" | wc -l; }
[ "$(aud '.event=="authz" and .decision=="allow" and .target=="create_product" and .subject=="alice" and .credential=="local" and .transport=="STDIO"')" -ge 1 ] ||
  bad "no audit line allowing alice's create_product: $(cat "$A")"
[ "$(aud '.event=="authz" and .decision=="deny" and .target=="delete_product" and .subject=="alice" and (.reason | contains("Admin.Write"))')" -ge 1 ] ||
  bad "no audit line refusing alice's delete_product"
[ "$(aud '.event=="authn" and .subject=="alice" and .credential=="local"')" -ge 1 ] ||
  bad "no authn audit line for the local user"

# the same launch without --as-user: anonymous, with the warning
anon=$(jq -r '.mcpServers.products | [.command] + (.args | map(select(. != "--as-user" and . != "alice"))) | map(@sh) | join(" ")' "$TMP/config.json")
run "$B/mcp-client" --timeout 20000 --stdio "$anon" tools call list_products
[ "$RC" = 4 ] || bad "anonymous list_products: exit $RC (want 4)"
case $ERR in *"no authentication: callers have no identity"*) ;; *) bad "no start-up warning for an anonymous stdio server: $ERR";; esac

# --as-user over HTTP is a usage error
run "$B/mcp-products" --as-user alice --db "$D/mcp.db"
[ "$RC" = 2 ] || bad "--as-user without --stdio: exit $RC"

[ "$fail" = 0 ] && echo "ok: desktop-style stdio launch lists and calls gated tools as the local user, with audit lines"
exit $fail
