/*
 * JWT keys: the algorithm table, HMAC secrets, PEM public keys, JWK Sets, and the immutable
 * reference-counted key sets the verifier publishes.
 *
 * Every key is parsed once into an EVP_PKEY (or a secret copy) and pinned to one algorithm at
 * the time it is added. The alternative, keeping keys untyped and letting the token's `alg`
 * decide how to use them, is exactly what enables algorithm confusion (an RSA public key used
 * as an HMAC secret), so the type/alg fit is decided here and never again.
 */
#include "jwt/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const mcp__jwt_alg_info alg_table[MCP__JWT_ALG_COUNT] = {
    [MCP__JWT_HS256] = { "HS256", MCP__JWT_FAM_HMAC, "SHA256", 32, NULL },
    [MCP__JWT_HS384] = { "HS384", MCP__JWT_FAM_HMAC, "SHA384", 48, NULL },
    [MCP__JWT_HS512] = { "HS512", MCP__JWT_FAM_HMAC, "SHA512", 64, NULL },
    [MCP__JWT_RS256] = { "RS256", MCP__JWT_FAM_RSA, "SHA256", 0, NULL },
    [MCP__JWT_RS384] = { "RS384", MCP__JWT_FAM_RSA, "SHA384", 0, NULL },
    [MCP__JWT_RS512] = { "RS512", MCP__JWT_FAM_RSA, "SHA512", 0, NULL },
    [MCP__JWT_PS256] = { "PS256", MCP__JWT_FAM_PSS, "SHA256", 0, NULL },
    [MCP__JWT_PS384] = { "PS384", MCP__JWT_FAM_PSS, "SHA384", 0, NULL },
    [MCP__JWT_PS512] = { "PS512", MCP__JWT_FAM_PSS, "SHA512", 0, NULL },
    [MCP__JWT_ES256] = { "ES256", MCP__JWT_FAM_EC, "SHA256", 32, "P-256" },
    [MCP__JWT_ES384] = { "ES384", MCP__JWT_FAM_EC, "SHA384", 48, "P-384" },
    [MCP__JWT_EDDSA] = { "EdDSA", MCP__JWT_FAM_ED, NULL, 32, "Ed25519" },
};

#define MIN_RSA_BITS 2048             /* RFC 7518 section 3.3 */
#define MAX_KEY_FILE (1024 * 1024)

mcp__jwt_alg
mcp__jwt_alg_parse(const char *name)
{
    if (name == NULL)
        return MCP__JWT_ALG_INVALID;
    for (int i = 0; i < MCP__JWT_ALG_COUNT; i++)
        if (strcmp(alg_table[i].name, name) == 0)
            return (mcp__jwt_alg)i;
    return MCP__JWT_ALG_INVALID;
}

const mcp__jwt_alg_info *
mcp__jwt_alg_get(mcp__jwt_alg alg)
{
    if (alg < 0 || alg >= MCP__JWT_ALG_COUNT)
        return NULL;
    return &alg_table[alg];
}

/* ------------------------------------------------------------------------------------------ */
/* Key sets                                                                                   */

void
mcp__jwt_key_cleanup(mcp__jwt_key *k)
{
    if (k == NULL)
        return;
    mcp__free(k->kid);
    if (k->secret != NULL) {
        mcp_memzero(k->secret, k->secret_len);
        mcp__free(k->secret);
    }
    EVP_PKEY_free(k->pkey);
    memset(k, 0, sizeof *k);
    k->alg = MCP__JWT_ALG_INVALID;
}

mcp__jwt_keyset *
mcp__jwt_keyset_new(void)
{
    mcp__jwt_keyset *s = mcp__calloc(1, sizeof *s);
    if (s != NULL)
        atomic_init(&s->refs, 1);
    return s;
}

mcp__jwt_keyset *
mcp__jwt_keyset_ref(mcp__jwt_keyset *s)
{
    if (s != NULL)
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void
mcp__jwt_keyset_unref(mcp__jwt_keyset *s)
{
    if (s == NULL || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < s->n; i++)
        mcp__jwt_key_cleanup(&s->keys[i]);
    mcp__free(s->keys);
    mcp__free(s);
}

mcp_status
mcp__jwt_keyset_take(mcp__jwt_keyset *s, mcp__jwt_key *k)
{
    if (s->n >= MCP__JWT_MAX_KEYS) {
        mcp__jwt_key_cleanup(k);
        return MCP_ERR_TOO_LARGE;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4;
        mcp__jwt_key *n = mcp__realloc(s->keys, cap * sizeof *n);
        if (n == NULL) {
            mcp__jwt_key_cleanup(k);
            return MCP_ERR_NOMEM;
        }
        s->keys = n;
        s->cap = cap;
    }
    s->keys[s->n++] = *k;
    memset(k, 0, sizeof *k);
    k->alg = MCP__JWT_ALG_INVALID;
    return MCP_OK;
}

mcp_status
mcp__jwt_keyset_copy_from(mcp__jwt_keyset *s, const mcp__jwt_keyset *src)
{
    if (src == NULL)
        return MCP_OK;
    for (size_t i = 0; i < src->n; i++) {
        const mcp__jwt_key *from = &src->keys[i];
        mcp__jwt_key k = { .alg = from->alg };
        if (from->kid != NULL && (k.kid = mcp__strdup(from->kid)) == NULL)
            return MCP_ERR_NOMEM;
        if (from->secret != NULL) {
            if ((k.secret = mcp__alloc(from->secret_len)) == NULL) {
                mcp__jwt_key_cleanup(&k);
                return MCP_ERR_NOMEM;
            }
            memcpy(k.secret, from->secret, from->secret_len);
            k.secret_len = from->secret_len;
        }
        if (from->pkey != NULL && EVP_PKEY_up_ref(from->pkey) == 1)
            k.pkey = from->pkey;
        else if (from->pkey != NULL) {
            mcp__jwt_key_cleanup(&k);
            return MCP_ERR_NOMEM;
        }
        mcp_status rc = mcp__jwt_keyset_take(s, &k);
        if (rc != MCP_OK)
            return rc;
    }
    return MCP_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Key type <-> algorithm                                                                     */

/* JOSE curve name of an EC key ("P-256", "P-384"), or NULL for any other curve. */
static const char *
ec_curve(EVP_PKEY *pkey)
{
    char name[64];
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name,
                                       &len) != 1)
        return NULL;
    if (strcmp(name, "prime256v1") == 0 || strcmp(name, "P-256") == 0 ||
        strcmp(name, "secp256r1") == 0)
        return "P-256";
    if (strcmp(name, "secp384r1") == 0 || strcmp(name, "P-384") == 0)
        return "P-384";
    return NULL;
}

/* RSA public exponent: odd, at least 3, at most 64 bits. e = 1 makes every "signature" its
 * own message; an even e is no RSA key; a huge e only costs verification time. */
static bool
rsa_exponent_ok(const BIGNUM *e)
{
    return e != NULL && BN_is_odd(e) && !BN_is_one(e) && BN_num_bits(e) <= 64;
}

static bool
rsa_ok(EVP_PKEY *pkey)
{
    if (EVP_PKEY_get_bits(pkey) < MIN_RSA_BITS)
        return false;
    BIGNUM *e = NULL;
    if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1)
        return false;
    bool ok = rsa_exponent_ok(e);
    BN_free(e);
    return ok;
}

bool
mcp__jwt_pkey_fits(EVP_PKEY *pkey, mcp__jwt_alg alg)
{
    const mcp__jwt_alg_info *ai = mcp__jwt_alg_get(alg);
    if (pkey == NULL || ai == NULL)
        return false;
    switch (ai->family) {
    case MCP__JWT_FAM_HMAC:
        return false;
    case MCP__JWT_FAM_RSA:
        return EVP_PKEY_is_a(pkey, "RSA") && rsa_ok(pkey);
    case MCP__JWT_FAM_PSS:
        return (EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_is_a(pkey, "RSA-PSS")) && rsa_ok(pkey);
    case MCP__JWT_FAM_EC: {
        if (!EVP_PKEY_is_a(pkey, "EC"))
            return false;
        const char *crv = ec_curve(pkey);
        return crv != NULL && strcmp(crv, ai->curve) == 0;
    }
    case MCP__JWT_FAM_ED:
        return EVP_PKEY_is_a(pkey, "ED25519");
    }
    return false;
}

mcp__jwt_alg
mcp__jwt_pkey_default_alg(EVP_PKEY *pkey)
{
    if (pkey == NULL)
        return MCP__JWT_ALG_INVALID;
    if (EVP_PKEY_is_a(pkey, "RSA"))
        return MCP__JWT_RS256;
    if (EVP_PKEY_is_a(pkey, "RSA-PSS"))
        return MCP__JWT_PS256;
    if (EVP_PKEY_is_a(pkey, "ED25519"))
        return MCP__JWT_EDDSA;
    if (EVP_PKEY_is_a(pkey, "EC")) {
        const char *crv = ec_curve(pkey);
        if (crv != NULL && strcmp(crv, "P-256") == 0)
            return MCP__JWT_ES256;
        if (crv != NULL && strcmp(crv, "P-384") == 0)
            return MCP__JWT_ES384;
    }
    return MCP__JWT_ALG_INVALID;
}

mcp_status
mcp__jwt_pkey_resolve_alg(EVP_PKEY *pkey, mcp__jwt_alg *alg, mcp_error *err)
{
    if (*alg == MCP__JWT_ALG_INVALID)
        *alg = mcp__jwt_pkey_default_alg(pkey);
    if (*alg == MCP__JWT_ALG_INVALID)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "unsupported key type");
    if (!mcp__jwt_pkey_fits(pkey, *alg))
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "key type does not fit alg %s",
                             mcp__jwt_alg_get(*alg)->name);
    return MCP_OK;
}

/* Pin pkey (ownership taken, also on failure) to alg (MCP__JWT_ALG_INVALID: infer) as key out. */
static mcp_status
take_pkey(EVP_PKEY *pkey, mcp__jwt_alg alg, const char *kid, mcp__jwt_key *out, mcp_error *err)
{
    mcp_status rc = mcp__jwt_pkey_resolve_alg(pkey, &alg, err);
    if (rc == MCP_OK && kid != NULL && (out->kid = mcp__strdup(kid)) == NULL)
        rc = mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    if (rc != MCP_OK) {
        EVP_PKEY_free(pkey);
        return rc;
    }
    out->pkey = pkey;
    out->alg = alg;
    return MCP_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* HMAC and PEM                                                                               */

static bool
looks_like_pem(const void *p, size_t len)
{
    static const char marker[] = "-----BEGIN";
    const char *s = p;
    /* Skip leading whitespace: a PEM file pasted into a secret file usually starts clean, but
     * a stray newline must not let it through. */
    while (len > 0 && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')) {
        s++;
        len--;
    }
    return len >= sizeof marker - 1 && memcmp(s, marker, sizeof marker - 1) == 0;
}

mcp_status
mcp__jwt_key_from_hmac(const char *kid, const char *alg, const void *secret, size_t len,
                       mcp__jwt_key *out, mcp_error *err)
{
    memset(out, 0, sizeof *out);
    out->alg = MCP__JWT_ALG_INVALID;
    mcp__jwt_alg a = mcp__jwt_alg_parse(alg);
    const mcp__jwt_alg_info *ai = mcp__jwt_alg_get(a);
    if (ai == NULL || ai->family != MCP__JWT_FAM_HMAC)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "HMAC key needs alg HS256, HS384 or HS512");
    if (secret == NULL || len < ai->size)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "HMAC secret for %s must be at least %zu bytes", ai->name, ai->size);
    /* Defence in depth against algorithm confusion: a public key's PEM text is public, so an
     * HMAC "secret" made of it is no secret at all. */
    if (looks_like_pem(secret, len))
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "HMAC secret looks like a PEM key");
    if (kid != NULL && (out->kid = mcp__strdup(kid)) == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    if ((out->secret = mcp__alloc(len)) == NULL) {
        mcp__jwt_key_cleanup(out);
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    }
    memcpy(out->secret, secret, len);
    out->secret_len = len;
    out->alg = a;
    return MCP_OK;
}

static EVP_PKEY *
pem_public_key(const char *pem, size_t len)
{
    if (len > INT32_MAX)
        return NULL;
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL)
        return NULL;
    EVP_PKEY *pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    if (pkey == NULL) {
        /* Not a SubjectPublicKeyInfo: maybe a certificate (the key is trusted because it was
         * configured, not because of the certificate; no chain or dates are checked). */
        (void)BIO_reset(bio);
        X509 *crt = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (crt != NULL) {
            pkey = X509_get_pubkey(crt);
            X509_free(crt);
        }
    }
    BIO_free(bio);
    return pkey;
}

mcp_status
mcp__jwt_key_from_pem(const char *kid, const char *alg, const char *pem, size_t len,
                      mcp__jwt_key *out, mcp_error *err)
{
    memset(out, 0, sizeof *out);
    out->alg = MCP__JWT_ALG_INVALID;
    mcp__jwt_alg a = MCP__JWT_ALG_INVALID;
    if (alg != NULL) {
        a = mcp__jwt_alg_parse(alg);
        const mcp__jwt_alg_info *ai = mcp__jwt_alg_get(a);
        if (ai == NULL)
            return mcp_error_set(err, MCP_ERR_INVALID_ARG, "unsupported alg");
        if (ai->family == MCP__JWT_FAM_HMAC)
            return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                                 "alg %s needs a secret, not a public key", ai->name);
    }
    if (pem == NULL || len == 0)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "empty PEM");
    EVP_PKEY *pkey = pem_public_key(pem, len);
    if (pkey == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "not a PEM public key or certificate");
    return take_pkey(pkey, a, kid, out, err);
}

/* ------------------------------------------------------------------------------------------ */
/* JWK                                                                                        */

/* Decode the base64url string member `name` of jwk. exact_len > 0 requires that length. */
static mcp_status
jwk_bytes(const json_t *jwk, const char *name, size_t exact_len, unsigned char **out,
          size_t *outlen, mcp_error *err)
{
    const json_t *m = json_object_get(jwk, name);
    if (!json_is_string(m))
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "JWK: \"%s\" missing", name);
    mcp_status rc = mcp__b64url_decode(json_string_value(m), json_string_length(m), out, outlen);
    if (rc == MCP_ERR_NOMEM)
        return mcp_error_set(err, rc, NULL);
    if (rc != MCP_OK || *outlen == 0 || (exact_len > 0 && *outlen != exact_len)) {
        mcp__free(*out);
        *out = NULL;
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "JWK: \"%s\" malformed", name);
    }
    return MCP_OK;
}

static mcp_status
jwk_rsa(const json_t *jwk, EVP_PKEY **out, mcp_error *err)
{
    unsigned char *n = NULL, *e = NULL;
    size_t nlen = 0, elen = 0;
    BIGNUM *bn_n = NULL, *bn_e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    mcp_status rc = jwk_bytes(jwk, "n", 0, &n, &nlen, err);
    if (rc != MCP_OK)
        goto out;
    if ((rc = jwk_bytes(jwk, "e", 0, &e, &elen, err)) != MCP_OK)
        goto out;
    rc = mcp_error_set(err, MCP_ERR_INVALID_ARG, "JWK: RSA key rejected");
    if (nlen > 2048 || elen > 8)   /* 16384-bit modulus, 64-bit exponent */
        goto out;
    if ((bn_n = BN_bin2bn(n, (int)nlen, NULL)) == NULL ||
        (bn_e = BN_bin2bn(e, (int)elen, NULL)) == NULL)
        goto out;
    if (!rsa_exponent_ok(bn_e)) {
        rc = mcp_error_set(err, MCP_ERR_INVALID_ARG,
                           "JWK: RSA public exponent rejected (must be odd and at least 3)");
        goto out;
    }
    if (!BN_is_odd(bn_n))          /* a product of two odd primes */
        goto out;
    if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) ||
        (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
        (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
        EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1)
        goto out;
    rc = MCP_OK;
    mcp_error_clear(err);
out:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    mcp__free(n);
    mcp__free(e);
    return rc;
}

static mcp_status
jwk_ec(const json_t *jwk, const char *crv, size_t coord, EVP_PKEY **out, mcp_error *err)
{
    unsigned char *x = NULL, *y = NULL;
    size_t xlen = 0, ylen = 0;
    unsigned char pub[1 + 2 * 66];
    EVP_PKEY_CTX *ctx = NULL, *check = NULL;
    mcp_status rc = jwk_bytes(jwk, "x", coord, &x, &xlen, err);
    if (rc != MCP_OK)
        goto out;
    if ((rc = jwk_bytes(jwk, "y", coord, &y, &ylen, err)) != MCP_OK)
        goto out;
    pub[0] = 0x04;                       /* uncompressed point */
    memcpy(pub + 1, x, coord);
    memcpy(pub + 1 + coord, y, coord);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)crv, 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub, 1 + 2 * coord),
        OSSL_PARAM_construct_end(),
    };
    rc = mcp_error_set(err, MCP_ERR_INVALID_ARG, "JWK: EC key rejected");
    if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
        EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1)
        goto out;
    /* The point must be on the curve (invalid-curve attacks); fromdata alone is not a promise. */
    if ((check = EVP_PKEY_CTX_new_from_pkey(NULL, *out, NULL)) == NULL ||
        EVP_PKEY_public_check(check) != 1) {
        EVP_PKEY_free(*out);
        *out = NULL;
        goto out;
    }
    rc = MCP_OK;
    mcp_error_clear(err);
out:
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_CTX_free(ctx);
    mcp__free(x);
    mcp__free(y);
    return rc;
}

static mcp_status
jwk_okp(const json_t *jwk, EVP_PKEY **out, mcp_error *err)
{
    unsigned char *x = NULL;
    size_t xlen = 0;
    mcp_status rc = jwk_bytes(jwk, "x", 32, &x, &xlen, err);
    if (rc != MCP_OK)
        return rc;
    *out = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, xlen);
    mcp__free(x);
    if (*out == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "JWK: Ed25519 key rejected");
    return MCP_OK;
}

static bool
jwk_optional_string(const json_t *jwk, const char *name, const char **out)
{
    const json_t *m = json_object_get(jwk, name);
    *out = NULL;
    if (m == NULL)
        return true;
    if (!json_is_string(m))
        return false;
    *out = json_string_value(m);
    return true;
}

/* Is this JWK meant for verifying signatures? (RFC 7517 sections 4.2 and 4.3) */
static bool
jwk_for_verify(const json_t *jwk, const char *use)
{
    if (use != NULL && strcmp(use, "sig") != 0)
        return false;
    const json_t *ops = json_object_get(jwk, "key_ops");
    if (ops == NULL)
        return true;
    size_t i;
    const json_t *op;
    json_array_foreach(ops, i, op) {
        if (json_is_string(op) && strcmp(json_string_value(op), "verify") == 0)
            return true;
    }
    return false;
}

/*
 * One JWK -> key. Returns MCP_OK with out->alg set for a usable key, MCP_OK with
 * out->alg == MCP__JWT_ALG_INVALID for a key to skip, or an error for a malformed key.
 */
static mcp_status
jwk_parse_one(const json_t *jwk, bool allow_oct, mcp__jwt_key *out, mcp_error *err)
{
    const char *kty, *use, *alg, *kid, *crv;
    memset(out, 0, sizeof *out);
    out->alg = MCP__JWT_ALG_INVALID;
    if (!json_is_object(jwk))
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "JWK: not an object");
    if (!jwk_optional_string(jwk, "kty", &kty) || kty == NULL ||
        !jwk_optional_string(jwk, "use", &use) || !jwk_optional_string(jwk, "alg", &alg) ||
        !jwk_optional_string(jwk, "kid", &kid) || !jwk_optional_string(jwk, "crv", &crv))
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "JWK: kty/use/alg/kid/crv malformed");
    const json_t *ops = json_object_get(jwk, "key_ops");
    if (ops != NULL && !json_is_array(ops))
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "JWK: key_ops malformed");
    if (!jwk_for_verify(jwk, use))
        return MCP_OK;                               /* encryption key: skip */
    mcp__jwt_alg a = MCP__JWT_ALG_INVALID;
    if (alg != NULL && (a = mcp__jwt_alg_parse(alg)) == MCP__JWT_ALG_INVALID)
        return MCP_OK;                               /* an alg we do not implement: skip */
    EVP_PKEY *pkey = NULL;
    mcp_status rc = MCP_OK;
    if (strcmp(kty, "RSA") == 0) {
        if (a == MCP__JWT_ALG_INVALID)
            a = MCP__JWT_RS256;
        rc = jwk_rsa(jwk, &pkey, err);
    } else if (strcmp(kty, "EC") == 0) {
        mcp__jwt_alg by_crv = MCP__JWT_ALG_INVALID;
        if (crv != NULL && strcmp(crv, "P-256") == 0)
            by_crv = MCP__JWT_ES256;
        else if (crv != NULL && strcmp(crv, "P-384") == 0)
            by_crv = MCP__JWT_ES384;
        if (by_crv == MCP__JWT_ALG_INVALID)
            return MCP_OK;                           /* P-521, secp256k1, ...: skip */
        if (a == MCP__JWT_ALG_INVALID)
            a = by_crv;
        if (a != by_crv)
            return mcp_error_set(err, MCP_ERR_INVALID_ARG, "JWK: alg does not fit crv");
        rc = jwk_ec(jwk, by_crv == MCP__JWT_ES256 ? "P-256" : "P-384",
                    mcp__jwt_alg_get(by_crv)->size, &pkey, err);
    } else if (strcmp(kty, "OKP") == 0) {
        if (crv == NULL || strcmp(crv, "Ed25519") != 0)
            return MCP_OK;                           /* Ed448, X25519: skip */
        if (a == MCP__JWT_ALG_INVALID)
            a = MCP__JWT_EDDSA;
        rc = jwk_okp(jwk, &pkey, err);
    } else if (strcmp(kty, "oct") == 0) {
        if (!allow_oct || a == MCP__JWT_ALG_INVALID)
            return MCP_OK;                           /* fetched, or no alg to pin: skip */
        unsigned char *k = NULL;
        size_t klen = 0;
        if ((rc = jwk_bytes(jwk, "k", 0, &k, &klen, err)) != MCP_OK)
            return rc;
        rc = mcp__jwt_key_from_hmac(kid, alg, k, klen, out, err);
        mcp_memzero(k, klen);
        mcp__free(k);
        return rc;
    } else {
        return MCP_OK;                               /* unknown kty: skip */
    }
    if (rc != MCP_OK)
        return rc;
    return take_pkey(pkey, a, kid, out, err);      /* a is set: checks the fit */
}

/* Nesting depth check before jansson sees a document (used here and by jwt.c for token
 * segments): keys and algorithms sit below the verifier, so jwt.c calls down into this file
 * and never the other way round. */
bool
mcp__jwt_json_depth_ok(const unsigned char *s, size_t n, unsigned max)
{
    unsigned depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;                       /* skip the escaped character */
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max)
                return false;
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        }
    }
    return true;
}

mcp_status
mcp__jwt_jwks_parse(const char *json, size_t len, bool allow_oct, mcp__jwt_keyset **out,
                    mcp_error *err)
{
    *out = NULL;
    if (json == NULL || len == 0)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "JWKS: empty document");
    if (!mcp__jwt_json_depth_ok((const unsigned char *)json, len, 8))
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "JWKS: nested too deeply");
    json_error_t jerr;
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "JWKS: not valid JSON (line %d)",
                             jerr.line);
    mcp_status rc;
    mcp__jwt_keyset *set = NULL;
    const json_t *keys = json_object_get(doc, "keys");
    if (!json_is_object(doc) || !json_is_array(keys)) {
        rc = mcp_error_set(err, MCP_ERR_INVALID_ARG, "JWKS: no \"keys\" array");
        goto out;
    }
    if (json_array_size(keys) > MCP__JWT_MAX_KEYS) {
        rc = mcp_error_set(err, MCP_ERR_INVALID_ARG, "JWKS: more than %d keys",
                           MCP__JWT_MAX_KEYS);
        goto out;
    }
    if ((set = mcp__jwt_keyset_new()) == NULL) {
        rc = mcp_error_set(err, MCP_ERR_NOMEM, NULL);
        goto out;
    }
    size_t i;
    const json_t *jwk;
    json_array_foreach(keys, i, jwk) {
        mcp__jwt_key k;
        if ((rc = jwk_parse_one(jwk, allow_oct, &k, err)) != MCP_OK) {
            /* err already names the problem; add the position, not the content */
            char what[MCP_ERROR_MSG_MAX];
            snprintf(what, sizeof what, "%s", err ? err->message : "");
            mcp_error_set(err, rc, "%s (key %zu)", what, i);
            goto out;
        }
        if (k.alg == MCP__JWT_ALG_INVALID)
            continue;
        if ((rc = mcp__jwt_keyset_take(set, &k)) != MCP_OK) {
            mcp_error_set(err, rc, NULL);
            goto out;
        }
    }
    if (set->n == 0) {
        rc = mcp_error_set(err, MCP_ERR_INVALID_ARG, "JWKS: no usable signing key");
        goto out;
    }
    *out = set;
    set = NULL;
    rc = MCP_OK;
out:
    mcp__jwt_keyset_unref(set);
    json_decref(doc);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Files                                                                                      */

mcp_status
mcp__jwt_read_file(const char *path, size_t max, char **out, size_t *len, mcp_error *err)
{
    *out = NULL;
    *len = 0;
    if (max == 0)
        max = MAX_KEY_FILE;
    if (path == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no file name");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mcp_error_set(err, MCP_ERR_IO, "cannot open key file: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return mcp_error_set(err, MCP_ERR_IO, "key file is not a regular file");
    }
    if ((size_t)st.st_size > max) {
        close(fd);
        return mcp_error_set(err, MCP_ERR_TOO_LARGE, "key file larger than %zu bytes", max);
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = mcp__alloc(cap);
    if (buf == NULL) {
        close(fd);
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    }
    for (;;) {
        if (n == cap - 1)      /* the file grew since fstat: read no further than its old size */
            break;
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            mcp_memzero(buf, cap);
            mcp__free(buf);
            return mcp_error_set(err, MCP_ERR_IO, "cannot read key file: %s", strerror(e));
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return MCP_OK;
}
