/*
 * JWS signatures on OpenSSL 3 EVP: verification for the verifier, creation for mcp_jwt_sign(),
 * and the unverified decoder used by inspection tools.
 *
 * ECDSA: JOSE carries r||s as two fixed-length big-endian integers (RFC 7518 section 3.4),
 * while EVP speaks DER. We convert with ECDSA_SIG rather than hand-writing DER, and we reject
 * any signature that is not exactly 2 x the coordinate size before converting, so a DER
 * signature (or one with a stray byte) can never be accepted.
 */
#include "jwt/internal.h"

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <string.h>

#define MAX_MAC 64

static bool
hmac(const mcp__jwt_alg_info *ai, const unsigned char *key, size_t keylen,
     const unsigned char *data, size_t len, unsigned char *mac, size_t *maclen)
{
    return EVP_Q_mac(NULL, "HMAC", NULL, ai->md, NULL, key, keylen, data, len, mac, MAX_MAC,
                     maclen) != NULL &&
           *maclen == ai->size;
}

unsigned char *
mcp__jwt_ecdsa_jose_to_der(const unsigned char *jose, size_t coord, size_t *derlen)
{
    unsigned char *der = NULL;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(jose, (int)coord, NULL);
    BIGNUM *s = BN_bin2bn(jose + coord, (int)coord, NULL);
    if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return NULL;
    }
    int n = i2d_ECDSA_SIG(es, &der);
    ECDSA_SIG_free(es);
    if (n <= 0)
        return NULL;
    *derlen = (size_t)n;
    return der;
}

bool
mcp__jwt_ecdsa_der_to_jose(const unsigned char *der, size_t derlen, size_t coord,
                           unsigned char *out)
{
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
    if (es == NULL)
        return false;
    const BIGNUM *r, *s;
    ECDSA_SIG_get0(es, &r, &s);
    bool ok = BN_bn2binpad(r, out, (int)coord) == (int)coord &&
              BN_bn2binpad(s, out + coord, (int)coord) == (int)coord;
    ECDSA_SIG_free(es);
    return ok;
}

static bool
set_padding(EVP_PKEY_CTX *pctx, mcp__jwt_family fam)
{
    if (fam == MCP__JWT_FAM_RSA)
        return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0;
    if (fam == MCP__JWT_FAM_PSS)
        return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
               EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0;
    return true;
}

bool
mcp__jwt_sig_verify(const mcp__jwt_key *k, const unsigned char *data, size_t len,
                    const unsigned char *sig, size_t siglen)
{
    const mcp__jwt_alg_info *ai = mcp__jwt_alg_get(k->alg);
    if (ai == NULL)
        return false;
    if (ai->family == MCP__JWT_FAM_HMAC) {
        unsigned char mac[MAX_MAC];
        size_t maclen = 0;
        if (k->secret == NULL || siglen != ai->size)
            return false;
        bool ok = hmac(ai, k->secret, k->secret_len, data, len, mac, &maclen) &&
                  mcp_ct_equal(mac, maclen, sig, siglen);
        mcp_memzero(mac, sizeof mac);
        return ok;
    }
    if (k->pkey == NULL)
        return false;

    unsigned char *der = NULL;
    const unsigned char *vsig = sig;
    size_t vlen = siglen;
    switch (ai->family) {
    case MCP__JWT_FAM_RSA:
    case MCP__JWT_FAM_PSS:
        if (siglen != (size_t)EVP_PKEY_get_size(k->pkey))
            return false;
        break;
    case MCP__JWT_FAM_EC: {
        if (siglen != 2 * ai->size)
            return false;
        if ((der = mcp__jwt_ecdsa_jose_to_der(sig, ai->size, &vlen)) == NULL)
            return false;
        vsig = der;
        break;
    }
    case MCP__JWT_FAM_ED:
        if (siglen != 64)
            return false;
        break;
    case MCP__JWT_FAM_HMAC:
        return false;
    }

    bool ok = false;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    if (mctx != NULL &&
        EVP_DigestVerifyInit_ex(mctx, &pctx, ai->md, NULL, NULL, k->pkey, NULL) == 1 &&
        set_padding(pctx, ai->family))
        ok = EVP_DigestVerify(mctx, vsig, vlen, data, len) == 1;
    EVP_MD_CTX_free(mctx);
    OPENSSL_free(der);
    return ok;
}

/* ------------------------------------------------------------------------------------------ */
/* Signing                                                                                    */

static EVP_PKEY *
pem_private_key(const void *pem, size_t len)
{
    if (len > INT32_MAX)
        return NULL;
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL)
        return NULL;
    EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    return pkey;
}

/* Sign data; *sig is mcp__alloc'ed. */
static mcp_status
sign_pkey(mcp__jwt_alg alg, EVP_PKEY *pkey, const unsigned char *data, size_t len,
          unsigned char **sig, size_t *siglen, mcp_error *err)
{
    const mcp__jwt_alg_info *ai = mcp__jwt_alg_get(alg);
    EVP_PKEY_CTX *pctx = NULL;
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    unsigned char *buf = NULL;
    size_t blen = 0;
    mcp_status rc = mcp_error_set(err, MCP_ERR_INVALID_ARG, "signing failed");
    if (mctx == NULL ||
        EVP_DigestSignInit_ex(mctx, &pctx, ai->md, NULL, NULL, pkey, NULL) != 1 ||
        !set_padding(pctx, ai->family) || EVP_DigestSign(mctx, NULL, &blen, data, len) != 1)
        goto out;
    if ((buf = mcp__alloc(blen)) == NULL) {
        rc = mcp_error_set(err, MCP_ERR_NOMEM, NULL);
        goto out;
    }
    if (EVP_DigestSign(mctx, buf, &blen, data, len) != 1)
        goto out;
    if (ai->family == MCP__JWT_FAM_EC) {
        unsigned char *raw = mcp__alloc(2 * ai->size);
        if (raw == NULL) {
            rc = mcp_error_set(err, MCP_ERR_NOMEM, NULL);
            goto out;
        }
        if (!mcp__jwt_ecdsa_der_to_jose(buf, blen, ai->size, raw)) {
            mcp__free(raw);
            goto out;
        }
        mcp__free(buf);
        buf = raw;
        blen = 2 * ai->size;
    }
    *sig = buf;
    *siglen = blen;
    buf = NULL;
    rc = MCP_OK;
    mcp_error_clear(err);
out:
    mcp__free(buf);
    EVP_MD_CTX_free(mctx);
    return rc;
}

/* Resolve alg (NULL: infer from the PEM) and load the private key for non-HMAC algorithms. */
static mcp_status
load_signing_key(const char *alg, const void *key, size_t key_len, mcp__jwt_alg *a,
                 EVP_PKEY **pkey, mcp_error *err)
{
    *pkey = NULL;
    *a = MCP__JWT_ALG_INVALID;
    if (alg != NULL && (*a = mcp__jwt_alg_parse(alg)) == MCP__JWT_ALG_INVALID)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "unsupported alg");
    const mcp__jwt_alg_info *ai = mcp__jwt_alg_get(*a);
    if (ai != NULL && ai->family == MCP__JWT_FAM_HMAC) {
        if (key_len < ai->size)
            return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                                 "HMAC secret for %s must be at least %zu bytes", ai->name,
                                 ai->size);
        return MCP_OK;
    }
    if ((*pkey = pem_private_key(key, key_len)) == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "not a PEM private key");
    mcp_status rc = mcp__jwt_pkey_resolve_alg(*pkey, a, err);
    if (rc != MCP_OK) {
        EVP_PKEY_free(*pkey);
        *pkey = NULL;
    }
    return rc;
}

mcp_status
mcp__jwt_sign_raw(const char *alg, const void *key, size_t key_len, const char *input,
                  size_t ilen, unsigned char **sig_out, size_t *siglen_out, mcp_error *err)
{
    mcp__jwt_alg a;
    EVP_PKEY *pkey;
    *sig_out = NULL;
    *siglen_out = 0;
    if (key == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "missing key");
    mcp_status rc = load_signing_key(alg, key, key_len, &a, &pkey, err);
    if (rc != MCP_OK)
        return rc;
    const mcp__jwt_alg_info *ai = mcp__jwt_alg_get(a);
    if (ai->family == MCP__JWT_FAM_HMAC) {
        unsigned char *sig = mcp__alloc(MAX_MAC);
        if (sig == NULL)
            return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
        if (!hmac(ai, key, key_len, (const unsigned char *)input, ilen, sig, siglen_out)) {
            mcp__free(sig);
            return mcp_error_set(err, MCP_ERR_INVALID_ARG, "signing failed");
        }
        *sig_out = sig;
        return MCP_OK;
    }
    rc = sign_pkey(a, pkey, (const unsigned char *)input, ilen, sig_out, siglen_out, err);
    EVP_PKEY_free(pkey);
    return rc;
}

mcp_status
mcp_jwt_sign(const char *alg, const void *key, size_t key_len, const char *claims_json,
             const char *kid, char **token_out, mcp_error *err)
{
    return mcp__jwt_sign_typ(alg, key, key_len, claims_json, kid, "JWT", token_out, err);
}

/* The token with the algorithm a resolved: pkey for asymmetric algorithms, key/key_len the
 * HMAC secret. */
static mcp_status
sign_token(mcp__jwt_alg a, EVP_PKEY *pkey, const void *key, size_t key_len,
           const char *claims_json, const char *kid, const char *typ, char **token_out,
           mcp_error *err)
{
    json_t *claims = NULL, *header = NULL;
    char *h = NULL, *p = NULL, *hb = NULL, *pb = NULL, *sb = NULL, *input = NULL;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    mcp_status rc;
    const mcp__jwt_alg_info *ai = mcp__jwt_alg_get(a);
    const char *alg_name = ai->name;

    json_error_t jerr;
    claims = json_loads(claims_json, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(claims)) {
        rc = mcp_error_set(err, MCP_ERR_INVALID_ARG, "claims must be one JSON object");
        goto out;
    }
    header = json_pack("{s:s, s:s}", "alg", alg_name, "typ", typ != NULL ? typ : "JWT");
    if (header == NULL || (kid != NULL && json_object_set_new(header, "kid", json_string(kid))))
        goto nomem;
    if ((h = json_dumps(header, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL ||
        (p = json_dumps(claims, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL ||
        (hb = mcp__b64url_encode((const unsigned char *)h, strlen(h))) == NULL ||
        (pb = mcp__b64url_encode((const unsigned char *)p, strlen(p))) == NULL ||
        (input = mcp__aprintf("%s.%s", hb, pb)) == NULL)
        goto nomem;
    if (ai->family == MCP__JWT_FAM_HMAC) {
        if ((sig = mcp__alloc(MAX_MAC)) == NULL)
            goto nomem;
        if (!hmac(ai, key, key_len, (const unsigned char *)input, strlen(input), sig, &siglen)) {
            rc = mcp_error_set(err, MCP_ERR_INVALID_ARG, "signing failed");
            goto out;
        }
    } else if ((rc = sign_pkey(a, pkey, (const unsigned char *)input, strlen(input), &sig,
                               &siglen, err)) != MCP_OK) {
        goto out;
    }
    if ((sb = mcp__b64url_encode(sig, siglen)) == NULL ||
        (*token_out = mcp__aprintf("%s.%s", input, sb)) == NULL)
        goto nomem;
    rc = MCP_OK;
    goto out;
nomem:
    rc = mcp_error_set(err, MCP_ERR_NOMEM, NULL);
out:
    if (sig != NULL)
        mcp_memzero(sig, siglen);
    mcp__free(sig);
    /* json_dumps output comes from jansson's allocator, which mcp_replace_allocator() keeps
     * identical to ours, so mcp__free is the matching release */
    mcp__free(h);
    mcp__free(p);
    mcp__free(hb);
    mcp__free(pb);
    mcp__free(sb);
    mcp__free(input);
    json_decref(claims);
    json_decref(header);
    return rc;
}

mcp_status
mcp__jwt_sign_typ(const char *alg, const void *key, size_t key_len, const char *claims_json,
                  const char *kid, const char *typ, char **token_out, mcp_error *err)
{
    if (token_out == NULL || key == NULL || claims_json == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "missing argument");
    *token_out = NULL;
    EVP_PKEY *pkey = NULL;
    mcp__jwt_alg a;
    /* the key is parsed once (OpenSSL 3's PEM decoders cost more than an ES256 signature) */
    mcp_status rc = load_signing_key(alg, key, key_len, &a, &pkey, err);
    if (rc == MCP_OK)
        rc = sign_token(a, pkey, key, key_len, claims_json, kid, typ, token_out, err);
    EVP_PKEY_free(pkey);
    return rc;
}

mcp_status
mcp__jwt_sign_pkey_typ(EVP_PKEY *pkey, const char *claims_json, const char *kid,
                       const char *typ, char **token_out, mcp_error *err)
{
    if (token_out == NULL || pkey == NULL || claims_json == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "missing argument");
    *token_out = NULL;
    mcp__jwt_alg a = MCP__JWT_ALG_INVALID;
    mcp_status rc = mcp__jwt_pkey_resolve_alg(pkey, &a, err);
    if (rc == MCP_OK)
        rc = sign_token(a, pkey, NULL, 0, claims_json, kid, typ, token_out, err);
    return rc;
}

EVP_PKEY *
mcp__jwt_pem_private_key(const char *pem, size_t len)
{
    return pem_private_key(pem, len);
}

/* ------------------------------------------------------------------------------------------ */
/* Unverified decoding                                                                        */

#define MAX_INSPECT (64 * 1024)

static mcp_status
decode_object(const char *seg, size_t len, char **out)
{
    unsigned char *raw = NULL;
    size_t rawlen = 0;
    mcp_status rc = mcp__b64url_decode(seg, len, &raw, &rawlen);
    if (rc != MCP_OK)
        return rc;
    json_t *j = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES, NULL);
    mcp__free(raw);
    if (!json_is_object(j)) {
        json_decref(j);
        return MCP_ERR_PARSE;
    }
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (s == NULL)
        return MCP_ERR_NOMEM;
    *out = s;  /* jansson allocates through the same functions as mcp__alloc */
    return MCP_OK;
}

mcp_status
mcp_jwt_decode_unverified(const char *token, size_t len, char **header_json, char **payload_json,
                          mcp_error *err)
{
    if (token == NULL || header_json == NULL || payload_json == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "missing argument");
    *header_json = *payload_json = NULL;
    if (len > MAX_INSPECT)
        return mcp_error_set(err, MCP_ERR_TOO_LARGE, "token too large");
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (d1 == NULL || d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) != NULL)
        return mcp_error_set(err, MCP_ERR_PARSE, "malformed token: segments");
    mcp_status rc = decode_object(token, (size_t)(d1 - token), header_json);
    if (rc != MCP_OK)
        return mcp_error_set(err, rc, rc == MCP_ERR_NOMEM ? NULL : "malformed token: header");
    rc = decode_object(d1 + 1, (size_t)(d2 - d1 - 1), payload_json);
    if (rc != MCP_OK) {
        mcp__free(*header_json);
        *header_json = NULL;
        return mcp_error_set(err, rc, rc == MCP_ERR_NOMEM ? NULL : "malformed token: payload");
    }
    return MCP_OK;
}
