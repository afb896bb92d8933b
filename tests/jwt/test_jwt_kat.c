/*
 * Known-answer JWS vectors from independent signers (tests/vectors/jwt_known_answer.json, made
 * by tests/vectors/jwt_kat/make.sh): the RFC 7515 A.1-A.3, RFC 7520 4.1/4.2/4.4 and RFC 8037
 * A.4 examples, and tokens signed by the OpenSSL command line and by the jose npm package, for
 * every algorithm the verifier accepts (HS256/384/512, RS256/384/512, PS256/384/512, ES256/384,
 * EdDSA). A wrong hash, padding or signature-encoding choice made alike in our signer and our
 * verifier passes tests/vectors/jwt_verify.json; it fails here. And negative vectors (neg_*):
 * OpenSSL signatures made with another hash (also one cut to the right length), PSS salt
 * length, MGF1 hash, padding or ECDSA encoding than the alg names (refused by jose when they were made), which must be refused with
 * "signature invalid": a verifier that is lax about one of those choices (any salt length,
 * DER or r||s) accepts every positive vector and fails these.
 *
 * Each case is verified through the public API (<mcp/jwt.h>) twice: with the key added as PEM
 * (or the HMAC secret) and as a one-key JWKS. Then the same token with one signature character
 * changed must fail with "signature invalid" (so an answer of MCP_OK cannot come from a verifier
 * that ignores signatures, and a payload error of the RFC 7520 cases proves the signature was
 * accepted first: the payload is parsed only after the signature verified).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <mcp/auth.h>
#include <mcp/jwt.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jwt/internal.h"

#define VECTORS "vectors/jwt_known_answer.json"

static json_t *doc;

static int
load(void **state)
{
    (void)state;
    json_error_t jerr;
    doc = json_load_file(VECTORS, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        fprintf(stderr, "%s: %s line %d\n", VECTORS, jerr.text, jerr.line);
        return -1;
    }
    return 0;
}

static int
unload(void **state)
{
    (void)state;
    json_decref(doc);
    return 0;
}

/* base64url (no padding) -> bytes, with OpenSSL's decoder (not ours). Returns the length. */
static size_t
b64u_decode(const char *in, unsigned char *out, size_t cap)
{
    size_t n = strlen(in), m = (n + 3) / 4 * 4;
    char *s = calloc(m + 1, 1);
    assert_non_null(s);
    for (size_t i = 0; i < m; i++)
        s[i] = i < n ? (in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i]) : '=';
    assert_true(m / 4 * 3 <= cap);
    int len = EVP_DecodeBlock(out, (const unsigned char *)s, (int)m);
    assert_true(len >= 0);
    free(s);
    return (size_t)len - (m - n);     /* EVP_DecodeBlock counts the padding as zero bytes */
}

static const char *
str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

typedef enum { AS_PEM, AS_JWKS } key_form;

static mcp_jwt_verifier *
verifier_for(const json_t *c, const json_t *key, key_form form)
{
    mcp_jwt_opts o;
    mcp_jwt_opts_default(&o);
    o.issuer = str(c, "issuer");
    o.audience = str(c, "audience");
    o.allow_no_issuer = o.issuer == NULL;
    o.allow_no_audience = o.audience == NULL;
    o.leeway_s = (unsigned)json_integer_value(json_object_get(c, "leeway"));
    mcp_jwt_verifier *v = NULL;
    mcp_error err;
    assert_int_equal(mcp_jwt_verifier_new(&o, &v, &err), MCP_OK);
    const char *alg = str(c, "alg");
    const json_t *jwk = json_object_get(key, "jwk");
    const char *kid = str(jwk, "kid");
    mcp_status rc;
    if (form == AS_JWKS) {
        json_t *k = json_deep_copy(jwk);
        json_object_set_new(k, "alg", json_string(alg));
        json_t *set = json_pack("{s:[o]}", "keys", k);
        char *text = json_dumps(set, JSON_COMPACT);
        rc = mcp_jwt_verifier_add_jwks(v, text, strlen(text), &err);
        free(text);
        json_decref(set);
    } else if (str(key, "secret_b64u") != NULL) {
        unsigned char secret[128];
        size_t n = b64u_decode(str(key, "secret_b64u"), secret, sizeof secret);
        rc = mcp_jwt_verifier_add_hmac(v, kid, alg, secret, n, &err);
    } else {
        const char *pem = str(key, "pem");
        rc = mcp_jwt_verifier_add_pem(v, kid, alg, pem, strlen(pem), &err);
    }
    if (rc != MCP_OK)
        fail_msg("%s: adding the key (%s) failed: %s", str(c, "name"),
                 form == AS_JWKS ? "JWKS" : "PEM/secret", err.message);
    return v;
}

/* One character in the middle of the signature changed: its bits are all significant. */
static char *
with_flipped_signature(const char *token)
{
    char *t = strdup(token);
    assert_non_null(t);
    char *sig = strrchr(t, '.') + 1;
    char *p = sig + strlen(sig) / 2;
    *p = *p == 'A' ? 'B' : 'A';
    return t;
}

static void
known_answer_vectors(void **state)
{
    (void)state;
    const json_t *keys = json_object_get(doc, "keys");
    const json_t *cases = json_object_get(doc, "cases");
    size_t i, failures = 0;
    const json_t *c;
    assert_true(json_array_size(cases) >= 50);
    json_array_foreach(cases, i, c) {
        const char *name = str(c, "name"), *token = str(c, "token");
        const json_t *key = json_object_get(keys, str(c, "key"));
        const char *want = str(c, "expect"), *want_msg = str(c, "message");
        const char *want_sub = str(c, "subject");
        assert_non_null(key);
        for (key_form form = AS_PEM; form <= AS_JWKS; form++) {
            const char *how = form == AS_JWKS ? "JWKS" : "PEM/secret";
            mcp_jwt_verifier *v = verifier_for(c, key, form);
            mcp_principal *p = NULL;
            mcp_error err;
            mcp_error_clear(&err);
            mcp_status rc = mcp_jwt_verify(v, token, strlen(token), &p, &err);
            const char *got = mcp_status_name(rc);
            bool ok = strcmp(got, want) == 0;
            if (ok && want_msg != NULL)
                ok = strcmp(err.message, want_msg) == 0;
            if (ok && want_sub != NULL)
                ok = p != NULL && strcmp(mcp_principal_subject(p), want_sub) == 0;
            if (!ok) {
                fprintf(stderr, "FAIL %s (%s, key as %s): got %s \"%s\", want %s \"%s\"\n", name,
                        str(c, "source"), how, got, rc == MCP_OK ? "" : err.message, want,
                        want_msg ? want_msg : "");
                failures++;
            }
            if (p != NULL)
                mcp_principal_unref(p);

            char *bad = with_flipped_signature(token);
            p = NULL;
            mcp_error_clear(&err);
            rc = mcp_jwt_verify(v, bad, strlen(bad), &p, &err);
            if (rc != MCP_ERR_UNAUTHENTICATED || strcmp(err.message, "signature invalid") != 0) {
                fprintf(stderr, "FAIL %s (key as %s), signature changed: got %s \"%s\", want "
                        "MCP_ERR_UNAUTHENTICATED \"signature invalid\"\n", name, how,
                        mcp_status_name(rc), rc == MCP_OK ? "" : err.message);
                failures++;
            }
            if (p != NULL)
                mcp_principal_unref(p);
            free(bad);
            mcp_jwt_verifier_free(v);
        }
    }
    assert_int_equal(failures, 0);
}

/* Every algorithm the verifier accepts (its own table, src/jwt/jwk.c: one added there without
 * vectors fails here) has a vector from each independent signer, and the RFC examples and the
 * negative vectors are all there: a vector dropped from the file fails here, not silently. */
static void
every_algorithm_has_independent_vectors(void **state)
{
    (void)state;
    const char *algs[MCP__JWT_ALG_COUNT];
    for (int a = 0; a < MCP__JWT_ALG_COUNT; a++) {
        const mcp__jwt_alg_info *ai = mcp__jwt_alg_get((mcp__jwt_alg)a);
        assert_non_null(ai);
        algs[a] = ai->name;
    }
    static const char *const rfc[] = { "rfc7515_a1_hs256", "rfc7515_a2_rs256",
                                       "rfc7515_a3_es256", "rfc7520_4_1_rs256",
                                       "rfc7520_4_2_ps384", "rfc7520_4_4_hs256",
                                       "rfc8037_a4_eddsa" };
    const json_t *cases = json_object_get(doc, "cases");
    for (size_t a = 0; a < sizeof algs / sizeof *algs; a++) {
        int openssl = 0, jose = 0;
        size_t i;
        const json_t *c;
        json_array_foreach(cases, i, c) {
            if (strcmp(str(c, "alg"), algs[a]) != 0)
                continue;
            openssl += strncmp(str(c, "name"), "openssl_", 8) == 0;
            jose += strncmp(str(c, "name"), "jose_", 5) == 0;
        }
        if (openssl != 1 || jose != 1)
            fail_msg("%s: %d openssl and %d jose vectors, want 1 each", algs[a], openssl, jose);
    }
    /* the negative vectors, each expected to be refused as a bad signature */
    static const char *const neg[] = {
        "neg_ps256_salt0", "neg_ps256_saltmax", "neg_ps384_salt0", "neg_ps384_saltmax",
        "neg_ps512_salt0", "neg_ps512_saltmax", "neg_ps256_mgf1_sha1", "neg_ps256_pkcs1",
        "neg_rs256_pss", "neg_rs384_sha256", "neg_ps384_sha256", "neg_es256_der",
        "neg_es384_der", "neg_es384_sha256", "neg_hs384_sha256", "neg_hs512_sha384",
        "neg_hs256_sha512_cut", "neg_hs384_sha512_cut", "neg_rs512_sha384"
    };
    for (size_t n = 0; n < sizeof neg / sizeof *neg; n++) {
        const json_t *found = NULL;
        size_t i;
        const json_t *c;
        json_array_foreach(cases, i, c)
            if (strcmp(str(c, "name"), neg[n]) == 0)
                found = c;
        if (found == NULL)
            fail_msg("%s missing from %s", neg[n], VECTORS);
        const char *msg = str(found, "message");
        if (strcmp(str(found, "expect"), "MCP_ERR_UNAUTHENTICATED") != 0 || msg == NULL ||
            strcmp(msg, "signature invalid") != 0)
            fail_msg("%s: must expect MCP_ERR_UNAUTHENTICATED \"signature invalid\"", neg[n]);
    }
    for (size_t r = 0; r < sizeof rfc / sizeof *rfc; r++) {
        bool found = false;
        size_t i;
        const json_t *c;
        json_array_foreach(cases, i, c)
            found |= strcmp(str(c, "name"), rfc[r]) == 0;
        if (!found)
            fail_msg("%s missing from %s", rfc[r], VECTORS);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_algorithm_has_independent_vectors),
        cmocka_unit_test(known_answer_vectors),
    };
    return cmocka_run_group_tests(tests, load, unload);
}
