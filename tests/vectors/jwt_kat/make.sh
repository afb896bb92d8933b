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
#   - tokens signed by the jose npm package (SignJWT), assemble.mjs;
#   - negative vectors (neg_*) signed by the OpenSSL command line with another hash, padding,
#     salt length, MGF1 hash or signature encoding than their alg names: refused by jose here
#     and expected "signature invalid" from our verifier.
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

# --- negative vectors from the openssl command line ---------------------------------------------
# Signatures that are valid for some other choice of hash, padding, salt length, MGF1 hash or
# signature encoding than the one the header's alg names (RFC 7518 section 3): each must be
# refused. A verifier that accepts any PSS salt length, or DER-encoded ECDSA, or the
# other RSA padding, verifies the positive vectors all the same; it fails these.
#   neg_sign NAME ALG KEY DGST-ARGS...: a token with header ALG, signed by `openssl dgst DGST-ARGS`
neg_sign() {
  local name=$1 alg=$2 key=$3 h p
  shift 3
  h=$(printf '{"alg":"%s","typ":"JWT"}' "$alg" | b64u)
  p=$(printf '{"iss":"https://kat.issuer.example","aud":"https://mcp.example/mcp","sub":"kat-%s","iat":1767225600,"exp":4102444800}' "$name" | b64u)
  printf '%s.%s' "$h" "$p" >"$W/input"
  "$@" "$W/input" >"$W/neg.sig"           # a statement of its own: a failed signing stops here
  [ -s "$W/neg.sig" ] || { echo "$name: no signature" >&2; exit 1; }
  printf '%s\t%s\t%s\t%s.%s\n' "$name" "$alg" "$key" "$(cat "$W/input")" \
    "$(b64u <"$W/neg.sig")" >>"$W/neg.tsv"
}
: >"$W/neg.tsv"
R=$W/rsa2048.pem
for n in 256 384 512; do
  neg_sign "neg_ps${n}_salt0" "PS$n" rsa2048 openssl dgst -sha$n -sign "$R" \
    -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:0 -binary
  neg_sign "neg_ps${n}_saltmax" "PS$n" rsa2048 openssl dgst -sha$n -sign "$R" \
    -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:max -binary
done
neg_sign neg_ps256_mgf1_sha1 PS256 rsa2048 openssl dgst -sha256 -sign "$R" \
  -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest -sigopt rsa_mgf1_md:sha1 -binary
neg_sign neg_ps256_pkcs1 PS256 rsa2048 openssl dgst -sha256 -sign "$R" -binary
neg_sign neg_rs256_pss RS256 rsa2048 openssl dgst -sha256 -sign "$R" \
  -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest -binary
neg_sign neg_rs384_sha256 RS384 rsa2048 openssl dgst -sha256 -sign "$R" -binary
neg_sign neg_ps384_sha256 PS384 rsa2048 openssl dgst -sha256 -sign "$R" \
  -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest -binary
neg_sign neg_es256_der ES256 p256 openssl dgst -sha256 -sign "$W/p256.pem" -binary
neg_sign neg_es384_der ES384 p384 openssl dgst -sha384 -sign "$W/p384.pem" -binary
es_raw() { local n=$1; shift; "$@" | der2raw "$n"; }
neg_sign neg_es384_sha256 ES384 p384 es_raw 48 openssl dgst -sha256 -sign "$W/p384.pem" -binary
neg_sign neg_hs384_sha256 HS384 hs384 openssl dgst -sha256 -mac HMAC \
  -macopt hexkey:"$(cat "$W/hs384.hex")" -binary
neg_sign neg_hs512_sha384 HS512 hs512 openssl dgst -sha384 -mac HMAC \
  -macopt hexkey:"$(cat "$W/hs512.hex")" -binary
# the wrong hash with the right length: HMAC-SHA-512 cut to the tag length of HS256 / HS384
trunc() { local n=$1; shift; "$@" | head -c "$n"; }
neg_sign neg_hs256_sha512_cut HS256 hs256 trunc 32 openssl dgst -sha512 -mac HMAC \
  -macopt hexkey:"$(cat "$W/hs256.hex")" -binary
neg_sign neg_hs384_sha512_cut HS384 hs384 trunc 48 openssl dgst -sha512 -mac HMAC \
  -macopt hexkey:"$(cat "$W/hs384.hex")" -binary
neg_sign neg_rs512_sha384 RS512 rsa2048 openssl dgst -sha384 -sign "$R" -binary

# --- jose tokens, checks, and the JSON --------------------------------------------------------
NODE_PATH=$HERE/../../node_modules node "$HERE/assemble.mjs" "$W" "$HERE/rfc.json" \
  "$(openssl version | cut -d" " -f1-2)" >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "wrote $OUT"
