#!/usr/bin/env bash
# Install what is missing, build, and start the example server with its embedded SQLite store.
#   scripts/quickstart.sh [--listen HOST:PORT]
set -euo pipefail
cd "$(dirname "$0")/.."
MCP_DEPS_TEST=0 ./scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"${JOBS:-2}" >/dev/null
if [ -x build/bin/mcp-products ] && [ -x examples/mcp-products/quickstart.sh ]; then
  exec examples/mcp-products/quickstart.sh "$PWD/build/bin" "$@"
fi
echo "quickstart: mcp-products is not built; starting the conformance fixture server" >&2
exec build/bin/mcp-conformance-server "$@"
