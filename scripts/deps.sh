#!/usr/bin/env bash
# Install what a fresh Debian 12 machine lacks to build and test libmcp (idempotent).
# Debian packages only; Node/npm only for the tests (conformance suite, test IdP, peers).
set -euo pipefail
PKGS=(build-essential cmake pkg-config git curl ca-certificates
      libmicrohttpd-dev libjansson-dev libssl-dev libcurl4-openssl-dev libsqlite3-dev
      libcmocka-dev)
# test-only: fuzzing (clang + libFuzzer), the integration scripts (jq, python3, the sqlite3
# shell of the fault tests), Node for the
# conformance suite and the test identity provider
[ "${MCP_DEPS_TEST:-1}" = 1 ] && PKGS+=(clang libclang-rt-14-dev jq python3 sqlite3 nodejs npm)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# A node/npm from elsewhere on PATH (e.g. a newer Node) is fine for the tests.
if command -v node >/dev/null && command -v npm >/dev/null; then
  tmp=(); for p in "${missing[@]}"; do [ "$p" = nodejs ] || [ "$p" = npm ] || tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
# Node packages of the tests (tests/package-lock.json: jose, the independent JWS implementation
# of tests/integration/jwt_interop.sh and tests/vectors/jwt_kat/make.sh)
if [ "${MCP_DEPS_TEST:-1}" = 1 ]; then
  (cd "$(dirname "$0")/../tests" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
