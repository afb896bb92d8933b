#!/bin/sh
# Entry point of the container image (Dockerfile): creates the user/key store on first start
# (mcp-admin init, then an admin user and one API key, printed once on stderr), then runs
# mcp-products with the image's arguments. The data folder is $MCP_DATA (default /data, a
# volume), so the store and the catalog survive the container.
set -eu
# a question about the program (--version, --help) is answered without touching the store
for a in "$@"; do
  case $a in --version|-V|--help|-h) exec mcp-products "$@" ;; esac
done
DATA=${MCP_DATA:-/data}
cd "$DATA"
if [ ! -e "$DATA/mcp.db" ]; then
  mcp-admin --db "$DATA/mcp.db" init >&2
  mcp-admin --db "$DATA/mcp.db" user add "${MCP_ADMIN_USER:-admin}" --role admin >&2
  echo "mcp-products: first start: an API key for ${MCP_ADMIN_USER:-admin} (shown once):" >&2
  mcp-admin --db "$DATA/mcp.db" key create --owner "${MCP_ADMIN_USER:-admin}" --label container >&2
fi
exec mcp-products "$@"
