#!/usr/bin/env bash
# Build libmcp and run every test: unit + integration (CTest), the same again under ASan+UBSan,
# the official MCP conformance suites (server, and client when built), and a short fuzz run.
# This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SHARED=${MCP_SHARED:-$ROOT/../shared}
JOBS=${JOBS:-2}
# CI: a test that finds its environment wrong (a program not built, a tool missing) fails
# instead of skipping (cmocka skip() and the integration scripts read MCP_CI)
export MCP_CI=1
t0=$(date +%s)
step() { printf '\n==== %s (%ss)\n' "$*" "$(( $(date +%s) - t0 ))"; }

step "dependencies"
./scripts/deps.sh

step "build (RelWithDebInfo, -Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$JOBS"

step "build (Release -O3, -Werror: the optimizer finds other warnings)"
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j"$JOBS" >/dev/null

step "unit + integration tests"
(cd build && ctest --output-on-failure -j"$JOBS" --timeout 600)

step "build with ASan + UBSan"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMCP_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$JOBS"

step "unit + integration tests under ASan + UBSan"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j"$JOBS" --timeout 900)

step "server conformance (official suite, all 32 scenarios incl. pending)"
for b in build build-asan; do
  ./scripts/conformance-server.sh "$ROOT/$b/bin/mcp-conformance-server" "$SHARED"
done

step "client conformance (official suite)"
# (conformance-client.sh fails when mcp-client was not built)
./scripts/conformance-client.sh "$ROOT/build/bin/mcp-client" "$SHARED"

step "conformance-next: what revisions 2025-11-25 (server 30, client 18) and 2026-07-28 (server 37, client 32) require"
for b in build build-asan; do
  ./scripts/conformance-next.sh "$ROOT/$b/bin/mcp-conformance-server" "$ROOT/$b/bin/mcp-client" \
    "$SHARED"
done

step "fuzz (libFuzzer, short)"
# every tests/fuzz/fuzz_*.c is built and run; none found, or one not built, is a failure
targets=$(find tests/fuzz -maxdepth 1 -name 'fuzz_*.c' -printf '%f\n' | sed 's/\.c$//' | sort)
[ -n "$targets" ] || { echo "fuzz: no tests/fuzz/fuzz_*.c" >&2; exit 1; }
# the library is instrumented too (fuzzer-no-link), so coverage guidance reaches it
CC=clang CFLAGS=-fsanitize=fuzzer-no-link cmake -S . -B build-fuzz -DMCP_FUZZ=ON \
  -DMCP_SANITIZE=ON -DMCP_WERROR=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
for t in $targets; do
  cmake --build build-fuzz -j"$JOBS" --target "$t" >/dev/null
  f=build-fuzz/bin/$t
  [ -x "$f" ] || { echo "fuzz: $f was not built" >&2; exit 1; }
  corpus=$(mktemp -d)
  seeds="tests/fuzz/corpus/$t"
  if [ -d "$seeds" ] && [ -n "$(ls -A "$seeds")" ]; then cp "$seeds"/* "$corpus"/; fi
  "$f" -max_total_time="${FUZZ_SECONDS:-20}" -max_len=16384 "$corpus" 2>&1 | tail -3
  rm -rf "$corpus"
done

step "all tests passed"
