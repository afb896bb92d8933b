#!/usr/bin/env bash
# Install what a fresh Debian 12 machine lacks to build and test libmcp (idempotent).
# Debian packages only; Node/npm only for the tests (conformance suite, test IdP, peers).
set -euo pipefail
PKGS=(build-essential cmake pkg-config git curl ca-certificates
      libmicrohttpd-dev libgnutls28-dev libjansson-dev libssl-dev libcurl4-openssl-dev
      libsqlite3-dev libpq-dev
      libcmocka-dev python3)
# python3 builds the man pages (scripts/md2man.py); without it they are skipped with a warning
# test-only: fuzzing (clang + libFuzzer), the integration scripts (jq, python3, the sqlite3
# shell of the fault tests), Node for the
# conformance suite and the test identity provider, PostgreSQL 15 and nginx for the store
# tests (their own cluster, a balancer in front of two instances); nginx and openssl also for
# tests/integration/nginx_proxy.sh (a real proxy, a throwaway certificate); man-db and
# groff-base render the man pages (man.sh); dpkg-dev, debhelper and fakeroot build the Debian
# packages (debian.sh); openssl also for PKCE in the embedded authorization server's test; systemd: systemd-analyze verify of the example unit (sd_notify.sh)
[ "${MCP_DEPS_TEST:-1}" = 1 ] && PKGS+=(clang libclang-rt-14-dev jq sqlite3 nodejs npm postgresql-15 nginx
                                     man-db groff-base openssl dpkg-dev debhelper fakeroot
                                     systemd)
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
