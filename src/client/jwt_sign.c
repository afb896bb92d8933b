/*
 * private_key_jwt client assertions (RFC 7523 section 2.2, RFC 7521 section 4.2), signed with
 * OpenSSL EVP. ES256 signatures come out of OpenSSL as DER (an ECDSA-Sig-Value), but JWS wants
 * the fixed 64-byte R||S form (RFC 7518 section 3.4), so the DER is re-packed by src/jwt's one
 * converter (the verifier's).
 */
#include "client/internal.h"
#include "jwt/jwt.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <string.h>

static mcp_status
load_key(const char *pem, EVP_PKEY **out, mcp_error *err)
{
    *out = NULL;
    if (pem == NULL || pem[0] == '\0')
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no private key given");
    size_t n = strlen(pem);
    if (n > 64 * 1024)
        return mcp_error_set(err, MCP_ERR_TOO_LARGE, "private key PEM is too large");
    BIO *bio = BIO_new_mem_buf(pem, (int)n);
    if (bio == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    /* No passphrase callback: an encrypted key fails here instead of prompting on a tty. */
    EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
    BIO_free(bio);
    if (k == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "private key is not an unencrypted PEM private key");
    *out = k;
    return MCP_OK;
}

/* Resolve alg against the key: ES256 needs EC P-256, RS256 needs RSA >= 2048 bits. */
static mcp_status
check_alg(EVP_PKEY *k, const char *alg, const char **resolved, mcp_error *err)
{
    int type = EVP_PKEY_get_base_id(k);
    if (alg == NULL || alg[0] == '\0')
        alg = type == EVP_PKEY_EC ? "ES256" : type == EVP_PKEY_RSA ? "RS256" : "";
    if (strcmp(alg, "ES256") == 0) {
        char group[64] = "";
        size_t glen = 0;
        if (type != EVP_PKEY_EC ||
            EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof group, &glen) != 1 ||
            strcmp(group, "prime256v1") != 0)
            return mcp_error_set(err, MCP_ERR_INVALID_ARG, "ES256 needs an EC P-256 key");
    } else if (strcmp(alg, "RS256") == 0) {
        if (type != EVP_PKEY_RSA || EVP_PKEY_get_bits(k) < 2048)
            return mcp_error_set(err, MCP_ERR_INVALID_ARG, "RS256 needs an RSA key >= 2048 bits");
    } else {
        return mcp_error_set(err, MCP_ERR_UNSUPPORTED,
                             "unsupported signing algorithm (use ES256 or RS256)");
    }
    *resolved = alg;
    return MCP_OK;
}

mcp_status
mcp__jwt_check_key(const char *key_pem, const char *alg, mcp_error *err)
{
    EVP_PKEY *k = NULL;
    const char *resolved;
    mcp_status rc = load_key(key_pem, &k, err);
    if (rc == MCP_OK)
        rc = check_alg(k, alg, &resolved, err);
    EVP_PKEY_free(k);
    return rc;
}

mcp_status
mcp__jwt_sign_assertion(const char *key_pem, const char *alg, const char *kid,
                        const char *client_id, const char *audience, int64_t now,
                        unsigned lifetime_s, char **jwt, mcp_error *err)
{
    *jwt = NULL;
    EVP_PKEY *k = NULL;
    EVP_MD_CTX *md = NULL;
    json_t *hdr = NULL, *claims = NULL;
    char *hs = NULL, *cs = NULL, *h64 = NULL, *c64 = NULL, *s64 = NULL, *jti = NULL;
    unsigned char *sig = NULL;
    mcp_buf input;
    mcp__buf_init(&input, 0);
    const char *resolved = NULL;

    mcp_status rc = load_key(key_pem, &k, err);
    if (rc != MCP_OK)
        goto out;
    rc = check_alg(k, alg, &resolved, err);
    if (rc != MCP_OK)
        goto out;
    if (client_id == NULL || audience == NULL) {
        rc = mcp_error_set(err, MCP_ERR_INVALID_ARG, "client assertion needs client_id and aud");
        goto out;
    }
    jti = mcp__random_token(16);
    hdr = json_pack("{s:s, s:s}", "alg", resolved, "typ", "JWT");
    claims = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "iss", client_id, "sub", client_id,
                       "aud", audience, "iat", (json_int_t)now,
                       "exp", (json_int_t)(now + (int64_t)lifetime_s), "jti", jti ? jti : "");
    if (jti == NULL || hdr == NULL || claims == NULL ||
        (kid != NULL && json_object_set_new(hdr, "kid", json_string(kid)) != 0)) {
        rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        goto out;
    }
    hs = json_dumps(hdr, JSON_COMPACT | JSON_SORT_KEYS);
    cs = json_dumps(claims, JSON_COMPACT);
    if (hs == NULL || cs == NULL) {
        rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        goto out;
    }
    h64 = mcp__b64url_encode((const unsigned char *)hs, strlen(hs));
    c64 = mcp__b64url_encode((const unsigned char *)cs, strlen(cs));
    if (h64 == NULL || c64 == NULL || mcp__buf_appends(&input, h64) != MCP_OK ||
        mcp__buf_append(&input, ".", 1) != MCP_OK || mcp__buf_appends(&input, c64) != MCP_OK) {
        rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        goto out;
    }
    md = EVP_MD_CTX_new();
    size_t siglen = 0;
    if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) != 1 ||
        EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)input.ptr, input.len) != 1) {
        rc = mcp_error_set(err, MCP_ERR_INTERNAL, "signing the client assertion failed");
        goto out;
    }
    sig = mcp__alloc(siglen);
    if (sig == NULL ||
        EVP_DigestSign(md, sig, &siglen, (const unsigned char *)input.ptr, input.len) != 1) {
        rc = mcp_error_set(err, MCP_ERR_INTERNAL, "signing the client assertion failed");
        goto out;
    }
    if (strcmp(resolved, "ES256") == 0) {
        unsigned char rs[64];
        if (!mcp__jwt_ecdsa_der_to_jose(sig, siglen, 32, rs)) {
            rc = mcp_error_set(err, MCP_ERR_INTERNAL, "bad ECDSA signature encoding");
            goto out;
        }
        s64 = mcp__b64url_encode(rs, sizeof rs);
    } else {
        s64 = mcp__b64url_encode(sig, siglen);
    }
    if (s64 == NULL || mcp__buf_append(&input, ".", 1) != MCP_OK ||
        mcp__buf_appends(&input, s64) != MCP_OK) {
        rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        goto out;
    }
    *jwt = mcp__buf_steal(&input, NULL);
    rc = *jwt ? MCP_OK : mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
out:
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(k);
    json_decref(hdr);
    json_decref(claims);
    mcp__free(hs);     /* jansson allocates through the same functions (mcp_replace_allocator) */
    mcp__free(cs);
    mcp__free(h64);
    mcp__free(c64);
    mcp__free(s64);
    mcp__free(jti);
    mcp__free(sig);
    mcp__buf_cleanup(&input);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* DPoP proof keys (RFC 9449): an EC P-256 key made in memory, never written anywhere        */

mcp_status
mcp__dpop_key_new(void **key, json_t **jwk, mcp_error *err)
{
    *key = NULL;
    *jwk = NULL;
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (k == NULL)
        return mcp_error_set(err, MCP_ERR_INTERNAL, "cannot generate the DPoP key");
    unsigned char pub[65];
    size_t plen = 0;
    if (EVP_PKEY_get_octet_string_param(k, "pub", pub, sizeof pub, &plen) != 1 || plen != 65 ||
        pub[0] != 0x04) {
        EVP_PKEY_free(k);
        return mcp_error_set(err, MCP_ERR_INTERNAL, "cannot read the DPoP public key");
    }
    char *x = mcp__b64url_encode(pub + 1, 32);
    char *y = mcp__b64url_encode(pub + 33, 32);
    json_t *j = x && y ? json_pack("{s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256", "x", x,
                                   "y", y)
                       : NULL;
    mcp__free(x);
    mcp__free(y);
    if (j == NULL) {
        EVP_PKEY_free(k);
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    }
    *key = k;
    *jwk = j;
    return MCP_OK;
}

void
mcp__dpop_key_free(void *key)
{
    EVP_PKEY_free(key);
}

mcp_status
mcp__dpop_sign(void *key, const json_t *jwk, const json_t *claims, char **jwt, mcp_error *err)
{
    *jwt = NULL;
    json_t *hdr = json_pack("{s:s, s:s, s:O}", "typ", "dpop+jwt", "alg", "ES256", "jwk", jwk);
    char *hs = hdr ? json_dumps(hdr, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char *cs = json_dumps(claims, JSON_COMPACT | JSON_SORT_KEYS);
    char *h64 = hs ? mcp__b64url_encode((const unsigned char *)hs, strlen(hs)) : NULL;
    char *c64 = cs ? mcp__b64url_encode((const unsigned char *)cs, strlen(cs)) : NULL;
    json_decref(hdr);
    mcp__free(hs);
    mcp__free(cs);
    char *input = h64 && c64 ? mcp__aprintf("%s.%s", h64, c64) : NULL;
    mcp__free(h64);
    mcp__free(c64);
    if (input == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    mcp_status rc = MCP_OK;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char der[128];
    size_t dlen = sizeof der;
    unsigned char rs[64];
    if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(md, der, &dlen, (const unsigned char *)input, strlen(input)) != 1 ||
        !mcp__jwt_ecdsa_der_to_jose(der, dlen, 32, rs))
        rc = mcp_error_set(err, MCP_ERR_INTERNAL, "signing the DPoP proof failed");
    EVP_MD_CTX_free(md);
    char *s64 = rc == MCP_OK ? mcp__b64url_encode(rs, sizeof rs) : NULL;
    if (rc == MCP_OK && (s64 == NULL || (*jwt = mcp__aprintf("%s.%s", input, s64)) == NULL))
        rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    mcp__free(s64);
    mcp__free(input);
    return rc;
}
