#!/usr/bin/env bash
# Makes tests/vectors/jwt_known_answer.json: known-answer JWS vectors from signers that are not
# ours, for every algorithm the verifier accepts. Run once; the output is checked in and read
# by tests/jwt/test_jwt_kat.c. Running it again makes new keys and tokens (the test does not
# depend on particular ones).
#   tests/vectors/jwt_kat/make.sh        (needs openssl, node >= 18, and `npm ci` in tests/)
# Sources:
#   - the examples of RFC 7515 appendix A.1-A.3, RFC 7520 section 4.1/4.2/4.4 and RFC 8037
#     appendix A.4, copied from the RFCs (rfc.json here, with their keys as JWKs);
#   - tokens signed by the OpenSSL command line (openssl dgst / pkeyutl; ECDSA's DER signature
#     turned into the JOSE r||s form by openssl asn1parse + xxd), this file;
#   - tokens signed by the jose npm package (SignJWT), assemble.mjs.
# assemble.mjs then checks every token once with jose (and the RFC ones against their keys)
# and writes the JSON, keys as SPKI PEM (converted by node:crypto) and as JWK.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$HERE/../jwt_known_answer.json
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
b64u() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

# --- keys -------------------------------------------------------------------------------------
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$W/rsa2048.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve \
  -out "$W/p256.pem"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -pkeyopt ec_param_enc:named_curve \
  -out "$W/p384.pem"
openssl genpkey -algorithm ED25519 -out "$W/ed25519.pem"
for k in rsa2048 p256 p384 ed25519; do openssl pkey -in "$W/$k.pem" -pubout -out "$W/$k.pub.pem"; done
# HMAC secrets as long as the hash output (RFC 7518 section 3.2), hex for openssl
for n in 256 384 512; do openssl rand -hex $((n / 8)) | tr -d '\n' >"$W/hs$n.hex"; done

# --- tokens from the openssl command line -----------------------------------------------------
# der2raw N: an ECDSA-Sig-Value (DER) on stdin -> r||s, each left-padded to N bytes
der2raw() {
  openssl asn1parse -inform DER | sed -n 's/.*INTEGER *:\([0-9A-Fa-f]*\).*/\1/p' |
    while read -r h; do
      h=$(printf '%s' "$h" | sed 's/^0*//')
      printf "%$(($1 * 2))s" "$h" | tr ' ' 0
    done | xxd -r -p
}
# ossl_sign ALG FILE: the JWS signature of FILE's bytes, base64url
ossl_sign() {
  local alg=$1 in=$2 bits=${1:2}
  case $alg in
    HS*) openssl dgst -sha"$bits" -mac HMAC -macopt hexkey:"$(cat "$W/hs$bits.hex")" -binary "$in" ;;
    RS*) openssl dgst -sha"$bits" -sign "$W/rsa2048.pem" -binary "$in" ;;
    PS*) openssl dgst -sha"$bits" -sign "$W/rsa2048.pem" -sigopt rsa_padding_mode:pss \
           -sigopt rsa_pss_saltlen:digest -binary "$in" ;;   # JWA 3.5: salt = hash length
    ES256) openssl dgst -sha256 -sign "$W/p256.pem" -binary "$in" | der2raw 32 ;;
    ES384) openssl dgst -sha384 -sign "$W/p384.pem" -binary "$in" | der2raw 48 ;;
    EdDSA) openssl pkeyutl -sign -rawin -inkey "$W/ed25519.pem" -in "$in" ;;
  esac | b64u
}
: >"$W/openssl.tsv"
for alg in HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 EdDSA; do
  h=$(printf '{"alg":"%s","typ":"JWT"}' "$alg" | b64u)
  p=$(printf '{"iss":"https://kat.issuer.example","aud":"https://mcp.example/mcp","sub":"kat-%s-openssl","iat":1767225600,"exp":4102444800}' "$alg" | b64u)
  printf '%s.%s' "$h" "$p" >"$W/input"
  printf '%s\t%s.%s\n' "$alg" "$(cat "$W/input")" "$(ossl_sign "$alg" "$W/input")" >>"$W/openssl.tsv"
done

# --- jose tokens, checks, and the JSON --------------------------------------------------------
NODE_PATH=$HERE/../../node_modules node "$HERE/assemble.mjs" "$W" "$HERE/rfc.json" \
  "$(openssl version | cut -d" " -f1-2)" >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "wrote $OUT"
