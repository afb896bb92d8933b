/* Helpers shared by the JWT tests (tests/jwt/test_jwt*.c, tests/authn/test_jwt_http.c): key
 * generation, PEM and JWK export, minting. Header-only so each test stays one executable. */
#ifndef MCP_TEST_JWT_UTIL_H
#define MCP_TEST_JWT_UTIL_H

#include <mcp/jwt.h>

#include "jwt/internal.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TU_ISS "https://issuer.example"
#define TU_AUD "https://mcp.example/mcp"

/* "RSA" (bits), "EC" (curve), "ED25519". Aborts the test on failure. */
static inline EVP_PKEY *
tu_keygen(const char *type, const char *curve, size_t bits)
{
    EVP_PKEY *k = NULL;
    if (strcmp(type, "RSA") == 0)
        k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", bits);
    else if (strcmp(type, "EC") == 0)
        k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
    else
        k = EVP_PKEY_Q_keygen(NULL, NULL, type);
    if (k == NULL) {
        fprintf(stderr, "keygen %s failed\n", type);
        abort();
    }
    return k;
}

static inline char *
tu_bio_string(BIO *bio)
{
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    char *s = malloc((size_t)n + 1);
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    BIO_free(bio);
    return s;
}

/* PEM text (free with free()). */
static inline char *
tu_pem_private(EVP_PKEY *k)
{
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL);
    return tu_bio_string(bio);
}

static inline char *
tu_pem_public(EVP_PKEY *k)
{
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, k);
    return tu_bio_string(bio);
}

static inline char *
tu_b64_bn(EVP_PKEY *k, const char *param, size_t pad)
{
    BIGNUM *bn = NULL;
    EVP_PKEY_get_bn_param(k, param, &bn);
    size_t n = pad ? pad : (size_t)BN_num_bytes(bn);
    unsigned char *buf = malloc(n);
    BN_bn2binpad(bn, buf, (int)n);
    char *s = mcp__b64url_encode(buf, n);
    free(buf);
    BN_free(bn);
    return s;
}

/* One JWK object as JSON text (free with free()); alg and use may be NULL (omitted). */
static inline char *
tu_jwk(EVP_PKEY *k, const char *kid, const char *alg, const char *use)
{
    json_t *j = json_object();
    if (EVP_PKEY_is_a(k, "RSA")) {
        char *n = tu_b64_bn(k, OSSL_PKEY_PARAM_RSA_N, 0);
        char *e = tu_b64_bn(k, OSSL_PKEY_PARAM_RSA_E, 0);
        json_object_set_new(j, "kty", json_string("RSA"));
        json_object_set_new(j, "n", json_string(n));
        json_object_set_new(j, "e", json_string(e));
        mcp__free(n);
        mcp__free(e);
    } else if (EVP_PKEY_is_a(k, "EC")) {
        size_t coord = EVP_PKEY_get_bits(k) == 256 ? 32 : 48;
        char *x = tu_b64_bn(k, OSSL_PKEY_PARAM_EC_PUB_X, coord);
        char *y = tu_b64_bn(k, OSSL_PKEY_PARAM_EC_PUB_Y, coord);
        json_object_set_new(j, "kty", json_string("EC"));
        json_object_set_new(j, "crv", json_string(coord == 32 ? "P-256" : "P-384"));
        json_object_set_new(j, "x", json_string(x));
        json_object_set_new(j, "y", json_string(y));
        mcp__free(x);
        mcp__free(y);
    } else {
        unsigned char raw[32];
        size_t rl = sizeof raw;
        EVP_PKEY_get_raw_public_key(k, raw, &rl);
        char *x = mcp__b64url_encode(raw, rl);
        json_object_set_new(j, "kty", json_string("OKP"));
        json_object_set_new(j, "crv", json_string("Ed25519"));
        json_object_set_new(j, "x", json_string(x));
        mcp__free(x);
    }
    if (kid)
        json_object_set_new(j, "kid", json_string(kid));
    if (alg)
        json_object_set_new(j, "alg", json_string(alg));
    if (use)
        json_object_set_new(j, "use", json_string(use));
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    char *r = strdup(s);
    mcp__free(s);
    return r;
}

/* Mint with standard claims (iss, aud, sub, exp = now + ttl); extra is appended inside the
 * object (",\"k\":v" form) or NULL. Returns the token (free with mcp_free()). */
static inline char *
tu_mint(const char *alg, const void *key, size_t keylen, const char *kid, const char *sub,
        int64_t now, int64_t ttl, const char *extra)
{
    char claims[2048];
    snprintf(claims, sizeof claims,
             "{\"iss\":\"" TU_ISS "\",\"aud\":\"" TU_AUD "\",\"sub\":\"%s\",\"exp\":%lld%s}", sub,
             (long long)(now + ttl), extra ? extra : "");
    char *tok = NULL;
    mcp_error err;
    if (mcp_jwt_sign(alg, key, keylen, claims, kid, &tok, &err) != MCP_OK) {
        fprintf(stderr, "mint failed: %s\n", err.message);
        abort();
    }
    return tok;
}

static inline int64_t
tu_clock(void *ctx)
{
    return *(const int64_t *)ctx;
}

static inline mcp_jwt_verifier *
tu_verifier(size_t cache_size)
{
    mcp_jwt_opts o;
    mcp_jwt_opts_default(&o);
    o.issuer = TU_ISS;
    o.audience = TU_AUD;
    o.cache_size = cache_size;
    mcp_jwt_verifier *v = NULL;
    mcp_error err;
    if (mcp_jwt_verifier_new(&o, &v, &err) != MCP_OK) {
        fprintf(stderr, "verifier: %s\n", err.message);
        abort();
    }
    return v;
}

#endif
