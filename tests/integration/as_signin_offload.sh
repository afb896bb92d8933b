#!/usr/bin/env bash
# The sign-in's scrypt check runs on the worker pool, not on the HTTP IO thread (issue 12):
# with a single IO thread, a metadata GET sent while 8 sign-ins are in flight is answered in
# less than twice the time of one sign-in alone (on the IO thread it would wait for about 7).
set -u
. "$(dirname "$0")/lib/products_common.sh"
PW='offload test pass phrase'
A user add alice --role user >/dev/null 2>&1 || exit 1
printf '%s\n' "$PW" | A user passwd alice >/dev/null 2>&1 || exit 1
A client add app --redirect-uri http://127.0.0.1/cb >/dev/null 2>&1 || exit 1
# a sign-in throttle of 5 per user would not matter (they succeed), the address limit neither
start_products off --embedded-as --io-threads 1 --workers 4 || exit 1
ORIGIN="http://127.0.0.1:$SRV_PORT"
rc=0
out=$(printf '%s\n' "$PW" | timeout 60 python3 "$(dirname "$0")/lib/as_signin_stall.py" \
    "$ORIGIN" app http://127.0.0.1/cb alice 8) || rc=$?
echo "$out"
eq "an unrelated request is not stalled behind sign-ins ($out)" "$rc" 0
summary
