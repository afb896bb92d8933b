#!/usr/bin/env bash
# Install what is missing, build, and start the example server (mcp-products) with its embedded
# SQLite store. The first run creates an admin user and prints its API key once.
#   scripts/quickstart.sh [DATA_DIR]          (default ./mcp-products-data; LISTEN=HOST:PORT)
set -euo pipefail
cd "$(dirname "$0")/.."
MCP_DEPS_TEST=0 ./scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"${JOBS:-2}" >/dev/null
if [ -x build/bin/mcp-products ] && [ -x examples/mcp-products/quickstart.sh ]; then
  MCP_BIN=$PWD/build/bin exec examples/mcp-products/quickstart.sh "$@"
fi
echo "quickstart: mcp-products is not built; starting the conformance fixture server" >&2
exec build/bin/mcp-conformance-server --listen "${LISTEN:-127.0.0.1:8080}"
