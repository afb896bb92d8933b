#!/usr/bin/env bash
# `cmake --install` into a fresh prefix, then build and run a program against the installed
# headers and library found through pkg-config (libmcp.pc).
set -euo pipefail
BUILD=$(cd "$MCP_BIN/.." && pwd)
P=$(mktemp -d)
trap 'rm -rf "$P"' EXIT
cmake --install "$BUILD" --prefix "$P/usr" >/dev/null
pc=$(dirname "$(find "$P" -name libmcp.pc | head -1)")
[ -n "$pc" ] || { echo "libmcp.pc not installed"; exit 1; }
for b in mcp-client mcp-token mcp-admin; do [ -x "$P/usr/bin/$b" ] || { echo "missing $b"; exit 1; }; done
cat >"$P/t.c" <<'C'
#include <mcp/mcp.h>
#include <stdio.h>
int main(void)
{
    mcp_server *s;
    mcp_error e;
    if (mcp_server_new(NULL, &s, &e) != MCP_OK)
        return 1;
    printf("%s\n", mcp_status_name(MCP_ERR_FORBIDDEN));
    mcp_server_free(s);
    return 0;
}
C
flags=$(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs libmcp)
san=""
nm -D "$BUILD/lib/libmcp.so" | grep -q ' U __asan_init' && san="-fsanitize=address,undefined"
cc -std=c11 -Wall -Wextra -Werror $san "$P/t.c" -o "$P/t" $flags
out=$(ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 LD_LIBRARY_PATH=$(PKG_CONFIG_PATH=$pc pkg-config --variable=libdir libmcp) "$P/t")
[ "$out" = MCP_ERR_FORBIDDEN ] || { echo "unexpected: $out"; exit 1; }
echo "ok: installed, found by pkg-config, linked and ran"
