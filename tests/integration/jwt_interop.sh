#!/usr/bin/env bash
# Our signer checked by independent verifiers: for every algorithm we sign (HS256/384/512,
# RS256/384/512, PS256/384/512, ES256/384, EdDSA) a token from `mcp-token mint` (the library's
# mcp_jwt_sign) must verify with the OpenSSL command line (openssl dgst / pkeyutl; ECDSA's r||s
# turned into DER here) and with the jose npm package (lib/jose_verify.mjs, tests/package.json);
# the same token with one signature character changed must fail both. The reverse direction
# (their tokens, our verifier) is tests/jwt/test_jwt_kat.c with tests/vectors/jwt_known_answer.json.
# Needs $MCP_BIN, $MCP_SRC (set by CTest), openssl, node; installs tests/node_modules with
# `npm ci` when it is missing (scripts/deps.sh does it in CI).
set -u
: "${MCP_BIN:?}" "${MCP_SRC:?}"
TMP=$(mktemp -d /tmp/mcp-jwt-interop-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
pass=0; fails=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
for t in openssl node xxd; do command -v $t >/dev/null || { echo "FAIL: $t is required" >&2; exit 1; }; done
if [ ! -f "$MCP_SRC/tests/node_modules/jose/package.json" ]; then
  (cd "$MCP_SRC/tests" && npm ci --no-audit --no-fund >/dev/null) ||
    { echo "FAIL: npm ci in tests/ failed: jose is required" >&2; exit 1; }
fi
ISS=https://interop.issuer.example
AUD=https://mcp.example/mcp
b64u_dec() { local s; s=$(printf '%s' "$1" | tr -- '-_' '+/'); while [ $(( ${#s} % 4 )) -ne 0 ]; do s="$s="; done; printf '%s' "$s" | base64 -d; }
# raw2der N: ECDSA r||s (N bytes each) on stdin -> DER ECDSA-Sig-Value on stdout
raw2der() {
  local hex r s
  hex=$(xxd -p -c 1000)
  r=${hex:0:$(($1 * 2))}; s=${hex:$(($1 * 2))}
  int() { local v; v=$(printf '%s' "$1" | sed 's/^\(00\)*//'); [ -n "$v" ] || v=00
          case $v in [89a-f]*) v=00$v ;; esac; printf '02%02x%s' $(( ${#v} / 2 )) "$v"; }
  r=$(int "$r"); s=$(int "$s")
  printf '30%02x%s%s' $(( (${#r} + ${#s}) / 2 )) "$r" "$s" | xxd -r -p
}
# ossl_verify ALG KEYFILE TOKEN: 0 when the OpenSSL command line accepts TOKEN's signature
ossl_verify() {
  local alg=$1 key=$2 tok=$3 bits=${1:2}
  printf '%s' "${tok%.*}" >"$TMP/in"
  b64u_dec "${tok##*.}" >"$TMP/sig"
  case $alg in
    HS*) [ "$(openssl dgst -sha"$bits" -mac HMAC -macopt key:"$(cat "$key")" -binary "$TMP/in" | xxd -p -c 1000)" = \
           "$(xxd -p -c 1000 "$TMP/sig")" ] ;;
    RS*) openssl dgst -sha"$bits" -verify "$key" -signature "$TMP/sig" "$TMP/in" >/dev/null 2>&1 ;;
    PS*) openssl dgst -sha"$bits" -verify "$key" -sigopt rsa_padding_mode:pss \
           -sigopt rsa_pss_saltlen:digest -signature "$TMP/sig" "$TMP/in" >/dev/null 2>&1 ;;
    ES*) [ "$(stat -c %s "$TMP/sig")" = $((bits == 256 ? 64 : 96)) ] &&
         raw2der $((bits == 256 ? 32 : 48)) <"$TMP/sig" >"$TMP/sig.der" &&
         openssl dgst -sha"$bits" -verify "$key" -signature "$TMP/sig.der" "$TMP/in" >/dev/null 2>&1 ;;
    EdDSA) openssl pkeyutl -verify -pubin -inkey "$key" -rawin -in "$TMP/in" -sigfile "$TMP/sig" \
             >/dev/null 2>&1 ;;
  esac
}
flip() { local t=$1 sig=${1##*.} i c; i=$(( ${#sig} / 2 )); c=${sig:$i:1}; [ "$c" = A ] && c=B || c=A
         printf '%s.%s%s%s' "${t%.*}" "${sig:0:$i}" "$c" "${sig:$((i + 1))}"; }

# keys, made by openssl
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TMP/rsa.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/p256.pem"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$TMP/p384.pem"
openssl genpkey -algorithm ED25519 -out "$TMP/ed.pem"
for k in rsa p256 p384 ed; do openssl pkey -in "$TMP/$k.pem" -pubout -out "$TMP/$k.pub"; done
# HMAC secrets: printable (a secret file's one trailing newline is dropped), hash-length long
for n in 256 384 512; do openssl rand -hex $((n / 16)) | tr -d '\n' >"$TMP/hs$n.key"; done

: >"$TMP/jose.tsv"
for alg in HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 EdDSA; do
  case $alg in
    HS*) priv=$TMP/hs${alg:2}.key; pub=$priv; src=(--secret-file "$priv") ;;
    RS*|PS*) priv=$TMP/rsa.pem; pub=$TMP/rsa.pub; src=(--key "$priv") ;;
    ES256) priv=$TMP/p256.pem; pub=$TMP/p256.pub; src=(--key "$priv") ;;
    ES384) priv=$TMP/p384.pem; pub=$TMP/p384.pub; src=(--key "$priv") ;;
    EdDSA) priv=$TMP/ed.pem; pub=$TMP/ed.pub; src=(--key "$priv") ;;
  esac
  tok=$("$MCP_BIN/mcp-token" mint "${src[@]}" --alg "$alg" --sub "interop-$alg" --iss "$ISS" \
        --aud "$AUD" --ttl 600) || { bad "$alg: mcp-token mint failed"; continue; }
  hdr=$(b64u_dec "${tok%%.*}")
  case $hdr in *"\"alg\":\"$alg\""*) ok ;; *) bad "$alg: header $hdr" ;; esac
  if ossl_verify "$alg" "$pub" "$tok"; then ok; else bad "$alg: openssl rejects our token"; fi
  if ossl_verify "$alg" "$pub" "$(flip "$tok")"; then bad "$alg: openssl accepts a changed signature"; else ok; fi
  printf '%s\t%s\t%s\tok\n%s\t%s\t%s\tbad\n' "$alg" "$pub" "$tok" "$alg" "$pub" "$(flip "$tok")" \
    >>"$TMP/jose.tsv"
done
if out=$(node "$(dirname "$0")/lib/jose_verify.mjs" "$TMP/jose.tsv" "$ISS" "$AUD" 2>&1); then
  ok
else
  bad "jose: $(printf '%s\n' "$out" | grep -v '^ok\|^bad' | tr '\n' ' ')"
fi
n_ok=$(printf '%s\n' "$out" | grep -c '^ok ')
[ "$n_ok" = 12 ] && ok || bad "jose accepted $n_ok of our 12 tokens"
echo "$pass checks passed, $fails failed"
[ "$fails" -eq 0 ]
