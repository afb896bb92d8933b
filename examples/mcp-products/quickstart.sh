#!/usr/bin/env bash
# mcp-products quickstart: from nothing to a running catalog server with API-key authentication,
# per-tool authorization, an audit log and sample products.
#
#   examples/mcp-products/quickstart.sh [DATA_DIR]
#
# On the first run (no DATA_DIR/mcp.db yet) it creates the user store with one user, "admin"
# (role admin), and prints that user's API key ONCE, with a curl command to try it. Later runs
# reuse the store; add users and keys with mcp-admin (docs/cli/mcp-admin.md).
#
# Environment: MCP_BIN   directory holding mcp-products (default: the build tree's bin/, else
#                        $PATH)
#              LISTEN    HOST:PORT to serve on (default 127.0.0.1:8080)
#              ADMIN     subject of the first admin (default admin)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
data=${1:-./mcp-products-data}
listen=${LISTEN:-127.0.0.1:8080}
admin=${ADMIN:-admin}

bin=${MCP_BIN:-}
if [ -z "$bin" ]; then
    for d in "$here/../../build/bin" "$here/../../build-release/bin"; do
        [ -x "$d/mcp-products" ] && { bin=$d; break; }
    done
fi
if [ -n "$bin" ]; then
    products="$bin/mcp-products"
else
    products=$(command -v mcp-products) || {
        echo "quickstart: mcp-products not found; build it first:" >&2
        echo "  cmake -S . -B build && cmake --build build -j" >&2
        exit 1
    }
fi

mkdir -p "$data"
chmod 700 "$data"             # the store holds key hashes and the audit log who did what
db="$data/mcp.db"

if [ ! -e "$db" ]; then
    echo "quickstart: creating the user store $db" >&2
    "$products" --db "$db" --listen "$listen" --bootstrap-admin "$admin"
    echo
else
    echo "quickstart: using the existing store $db (mcp-admin --db $db key create --owner $admin" \
         "makes another key)" >&2
fi
[ -e "$data/policy.json" ] || cp "$here/policy.json" "$data/policy.json"

echo "quickstart: serving on http://$listen/mcp (Ctrl-C stops; kill -HUP $$ reloads" \
     "$data/policy.json)" >&2
exec "$products" --listen "$listen" --db "$db" --catalog "$data/products.db" --auth apikey \
    --policy "$data/policy.json" --audit-log "$data/audit.log" --seed
