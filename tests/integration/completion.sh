#!/usr/bin/env bash
# Issue 14: bash completion (scripts/completion/mcp.bash) completes every program's options
# from its --help, the commands of mcp-client / mcp-admin / mcp-token, the --auth kinds, and
# file names after options that take a file.
set -euo pipefail
SRC_ROOT=${MCP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export PATH="$MCP_BIN:$PATH"
# shellcheck source=/dev/null
source "$SRC_ROOT/scripts/completion/mcp.bash"
fail=0
bad() { echo "FAIL: $*"; fail=1; }
# comp WORD...: complete the last word; prints the candidates, one a line
comp() {
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMPREPLY=()
  _mcp_complete
  printf '%s\n' "${COMPREPLY[@]+"${COMPREPLY[@]}"}"
}
has() { grep -qx -- "$2" <<<"$1"; }

for p in mcp-client mcp-admin mcp-token mcp-products mcp-conformance-server; do
  spec=$(complete -p "$p")
  case $spec in *"-F _mcp_complete"*) ;; *) bad "$p: not registered: $spec";; esac
  out=$(comp "$p" --hel)
  has "$out" --help || bad "$p --hel -> $out"
done
out=$(comp mcp-products --db-c);            has "$out" --db-create || bad "mcp-products --db-c -> $out"
out=$(comp mcp-products --as-);             has "$out" --as-user && has "$out" --as-permissions || bad "--as- -> $out"
out=$(comp mcp-conformance-server --auth j); has "$out" jwt && has "$out" jwt,introspection || bad "--auth j -> $out"
out=$(comp mcp-client t);                   [ "$out" = tools ] || bad "mcp-client t -> $out"
out=$(comp mcp-client tools "");            has "$out" list && has "$out" call || bad "mcp-client tools -> $out"
out=$(comp mcp-client --url http://x/mcp resources r); [ "$out" = read ] || bad "resources r -> $out"
out=$(comp mcp-admin "");                   has "$out" init && has "$out" user && has "$out" key || bad "mcp-admin -> $out"
out=$(comp mcp-admin --db x.db key "");     has "$out" create && has "$out" revoke || bad "mcp-admin key -> $out"
out=$(comp mcp-token k);                    [ "$out" = keygen ] || bad "mcp-token k -> $out"
out=$(comp mcp-products --no-such);         [ -z "$out" ] || bad "an unknown prefix completed to: $out"
touch "$TMP/store-one.db" "$TMP/store-two.db"
out=$(comp mcp-admin --db "$TMP/store-");   has "$out" "$TMP/store-one.db" && has "$out" "$TMP/store-two.db" || bad "--db file -> $out"
out=$(comp mcp-products --policy "$TMP/st"); has "$out" "$TMP/store-one.db" || bad "--policy file -> $out"
[ "$fail" = 0 ] && echo "ok: bash completion of options, commands, --auth kinds and files"
exit $fail
