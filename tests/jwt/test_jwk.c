/* Direct unit tests for src/jwt/jwk.c: the algorithm table, HMAC and PEM keys, each JWK key type
 * parsed and each rejection (wrong kty/crv, missing members, bad base64url, wrong sizes,
 * duplicate kid), key-set limits, and the key file reader's caps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jwt/test_jwt_util.h"

static EVP_PKEY *rsa, *rsa_small, *p256, *p384, *ed;

static int
group_setup(void **state)
{
    (void)state;
    rsa = tu_keygen("RSA", NULL, 2048);
    rsa_small = tu_keygen("RSA", NULL, 1024);
    p256 = tu_keygen("EC", "P-256", 0);
    p384 = tu_keygen("EC", "P-384", 0);
    ed = tu_keygen("ED25519", NULL, 0);
    return 0;
}

static int
group_teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(rsa_small);
    EVP_PKEY_free(p256);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(ed);
    return 0;
}

/* Parse {"keys":[jwk]} (jwk is JSON text). */
static mcp_status
parse1(const char *jwk, bool allow_oct, mcp__jwt_keyset **set, mcp_error *err)
{
    char doc[8192];
    int n = snprintf(doc, sizeof doc, "{\"keys\":[%.8000s]}", jwk);
    assert_true(n > 0 && (size_t)n < sizeof doc && strlen(jwk) <= 8000);
    mcp_error_clear(err);
    return mcp__jwt_jwks_parse(doc, strlen(doc), allow_oct, set, err);
}

static void
expect_jwk_error(const char *jwk, const char *msg)
{
    mcp__jwt_keyset *set = (mcp__jwt_keyset *)1;
    mcp_error err;
    assert_int_equal(parse1(jwk, true, &set, &err), MCP_ERR_INVALID_ARG);
    assert_null(set);
    assert_string_equal(err.message, msg);
}

/* jwk text with member name replaced by value (raw JSON), or removed when value is NULL. */
static char *
jwk_with(EVP_PKEY *k, const char *kid, const char *alg, const char *name, const char *value)
{
    char *s = tu_jwk(k, kid, alg, NULL);
    json_t *j = json_loads(s, 0, NULL);
    free(s);
    if (value == NULL)
        json_object_del(j, name);
    else
        json_object_set_new(j, name, json_loads(value, JSON_DECODE_ANY, NULL));
    char *d = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    char *r = strdup(d);
    mcp__free(d);
    return r;
}

static void
alg_table(void **state)
{
    (void)state;
    static const char *const names[] = {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512",
                                        "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        mcp__jwt_alg a = mcp__jwt_alg_parse(names[i]);
        assert_int_not_equal(a, MCP__JWT_ALG_INVALID);
        assert_string_equal(mcp__jwt_alg_get(a)->name, names[i]);
    }
    assert_int_equal(mcp__jwt_alg_parse("none"), MCP__JWT_ALG_INVALID);
    assert_int_equal(mcp__jwt_alg_parse("hs256"), MCP__JWT_ALG_INVALID); /* case matters */
    assert_int_equal(mcp__jwt_alg_parse("ES512"), MCP__JWT_ALG_INVALID);
    assert_int_equal(mcp__jwt_alg_parse(NULL), MCP__JWT_ALG_INVALID);
    assert_null(mcp__jwt_alg_get(MCP__JWT_ALG_INVALID));
    assert_null(mcp__jwt_alg_get(MCP__JWT_ALG_COUNT));
    assert_int_equal(mcp__jwt_alg_get(MCP__JWT_HS384)->size, 48);
    assert_string_equal(mcp__jwt_alg_get(MCP__JWT_ES384)->curve, "P-384");
}

static void
pkey_fits_and_defaults(void **state)
{
    (void)state;
    assert_int_equal(mcp__jwt_pkey_default_alg(rsa), MCP__JWT_RS256);
    assert_int_equal(mcp__jwt_pkey_default_alg(p256), MCP__JWT_ES256);
    assert_int_equal(mcp__jwt_pkey_default_alg(p384), MCP__JWT_ES384);
    assert_int_equal(mcp__jwt_pkey_default_alg(ed), MCP__JWT_EDDSA);
    assert_int_equal(mcp__jwt_pkey_default_alg(NULL), MCP__JWT_ALG_INVALID);
    assert_true(mcp__jwt_pkey_fits(rsa, MCP__JWT_PS512));
    assert_true(mcp__jwt_pkey_fits(rsa, MCP__JWT_RS384));
    assert_false(mcp__jwt_pkey_fits(rsa, MCP__JWT_HS256)); /* never an HMAC secret */
    assert_false(mcp__jwt_pkey_fits(rsa, MCP__JWT_ES256));
    assert_false(mcp__jwt_pkey_fits(rsa_small, MCP__JWT_RS256)); /* < 2048 bits */
    assert_false(mcp__jwt_pkey_fits(rsa_small, MCP__JWT_PS256));
    assert_false(mcp__jwt_pkey_fits(p256, MCP__JWT_ES384)); /* curve pinned */
    assert_false(mcp__jwt_pkey_fits(p384, MCP__JWT_ES256));
    assert_false(mcp__jwt_pkey_fits(ed, MCP__JWT_ES256));
    assert_false(mcp__jwt_pkey_fits(p256, MCP__JWT_EDDSA));

    mcp_error err;
    mcp__jwt_alg a = MCP__JWT_ALG_INVALID;
    assert_int_equal(mcp__jwt_pkey_resolve_alg(p384, &a, &err), MCP_OK);
    assert_int_equal(a, MCP__JWT_ES384);
    a = MCP__JWT_ES256;
    assert_int_equal(mcp__jwt_pkey_resolve_alg(p384, &a, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "key type does not fit alg ES256");
    a = MCP__JWT_RS256;
    assert_int_equal(mcp__jwt_pkey_resolve_alg(rsa_small, &a, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "key type does not fit alg RS256");
    EVP_PKEY *p521 = tu_keygen("EC", "P-521", 0);
    a = MCP__JWT_ALG_INVALID;
    assert_int_equal(mcp__jwt_pkey_resolve_alg(p521, &a, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "unsupported key type");
    EVP_PKEY_free(p521);
}

static void
hmac_keys(void **state)
{
    (void)state;
    mcp__jwt_key k;
    mcp_error err;
    const char s32[] = "0123456789abcdef0123456789abcdef";
    assert_int_equal(mcp__jwt_key_from_hmac("h1", "HS256", s32, 32, &k, &err), MCP_OK);
    assert_int_equal(k.alg, MCP__JWT_HS256);
    assert_string_equal(k.kid, "h1");
    assert_int_equal(k.secret_len, 32);
    assert_memory_equal(k.secret, s32, 32);
    mcp__jwt_key_cleanup(&k);
    assert_int_equal(k.alg, MCP__JWT_ALG_INVALID);
    assert_null(k.secret);

    assert_int_equal(mcp__jwt_key_from_hmac(NULL, "HS256", s32, 31, &k, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "HMAC secret for HS256 must be at least 32 bytes");
    assert_int_equal(mcp__jwt_key_from_hmac(NULL, "HS512", s32, 32, &k, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "HMAC secret for HS512 must be at least 64 bytes");
    assert_int_equal(mcp__jwt_key_from_hmac(NULL, "RS256", s32, 32, &k, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "HMAC key needs alg HS256, HS384 or HS512");
    assert_int_equal(mcp__jwt_key_from_hmac(NULL, NULL, s32, 32, &k, &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp__jwt_key_from_hmac(NULL, "HS256", NULL, 32, &k, &err), MCP_ERR_INVALID_ARG);
    /* Algorithm confusion: the public key's PEM text as an HMAC secret (leading newline too). */
    char *pem = tu_pem_public(rsa);
    char withnl[4096];
    snprintf(withnl, sizeof withnl, "\n %s", pem);
    assert_int_equal(mcp__jwt_key_from_hmac(NULL, "HS256", pem, strlen(pem), &k, &err),
                     MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "HMAC secret looks like a PEM key");
    assert_int_equal(mcp__jwt_key_from_hmac(NULL, "HS256", withnl, strlen(withnl), &k, &err),
                     MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "HMAC secret looks like a PEM key");
    free(pem);
}

static void
pem_keys(void **state)
{
    (void)state;
    mcp__jwt_key k;
    mcp_error err;
    char *pem = tu_pem_public(p256);
    assert_int_equal(mcp__jwt_key_from_pem("e1", NULL, pem, strlen(pem), &k, &err), MCP_OK);
    assert_int_equal(k.alg, MCP__JWT_ES256);
    assert_string_equal(k.kid, "e1");
    mcp__jwt_key_cleanup(&k);
    assert_int_equal(mcp__jwt_key_from_pem(NULL, "ES384", pem, strlen(pem), &k, &err),
                     MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "key type does not fit alg ES384");
    assert_int_equal(mcp__jwt_key_from_pem(NULL, "HS256", pem, strlen(pem), &k, &err),
                     MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "alg HS256 needs a secret, not a public key");
    assert_int_equal(mcp__jwt_key_from_pem(NULL, "XX1", pem, strlen(pem), &k, &err),
                     MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "unsupported alg");
    free(pem);

    pem = tu_pem_public(rsa);
    assert_int_equal(mcp__jwt_key_from_pem(NULL, "PS384", pem, strlen(pem), &k, &err), MCP_OK);
    assert_int_equal(k.alg, MCP__JWT_PS384);
    mcp__jwt_key_cleanup(&k);
    free(pem);
    pem = tu_pem_public(rsa_small);
    assert_int_equal(mcp__jwt_key_from_pem(NULL, NULL, pem, strlen(pem), &k, &err),
                     MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "key type does not fit alg RS256");
    free(pem);

    assert_int_equal(mcp__jwt_key_from_pem(NULL, NULL, "", 0, &k, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "empty PEM");
    const char junk[] = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
    assert_int_equal(mcp__jwt_key_from_pem(NULL, NULL, junk, strlen(junk), &k, &err),
                     MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "not a PEM public key or certificate");
    /* A private key is not accepted as a public key file. */
    char *priv = tu_pem_private(ed);
    assert_int_equal(mcp__jwt_key_from_pem(NULL, NULL, priv, strlen(priv), &k, &err),
                     MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "not a PEM public key or certificate");
    free(priv);
}

static void
jwk_each_type_parses(void **state)
{
    (void)state;
    struct {
        EVP_PKEY   *k;
        const char *alg;
        mcp__jwt_alg want;
    } rows[] = {
        {rsa, NULL, MCP__JWT_RS256},  {rsa, "RS512", MCP__JWT_RS512},
        {rsa, "PS256", MCP__JWT_PS256}, {p256, NULL, MCP__JWT_ES256},
        {p384, NULL, MCP__JWT_ES384}, {p384, "ES384", MCP__JWT_ES384},
        {ed, NULL, MCP__JWT_EDDSA},   {ed, "EdDSA", MCP__JWT_EDDSA},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char *j = tu_jwk(rows[i].k, "kid-x", rows[i].alg, "sig");
        mcp__jwt_keyset *set = NULL;
        mcp_error err;
        assert_int_equal(parse1(j, false, &set, &err), MCP_OK);
        assert_int_equal(set->n, 1);
        assert_int_equal(set->keys[0].alg, rows[i].want);
        assert_string_equal(set->keys[0].kid, "kid-x");
        assert_non_null(set->keys[0].pkey);
        assert_int_equal(EVP_PKEY_eq(set->keys[0].pkey, rows[i].k), 1);
        mcp__jwt_keyset_unref(set);
        free(j);
    }
    /* oct with an explicit HS alg, only when allowed (never from a fetched JWKS). */
    const char *oct = "{\"kty\":\"oct\",\"alg\":\"HS256\",\"kid\":\"o\","
                      "\"k\":\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\"}";
    mcp__jwt_keyset *set = NULL;
    mcp_error err;
    assert_int_equal(parse1(oct, true, &set, &err), MCP_OK);
    assert_int_equal(set->keys[0].alg, MCP__JWT_HS256);
    assert_int_equal(set->keys[0].secret_len, 32);
    assert_memory_equal(set->keys[0].secret, "0123456789abcdef0123456789abcdef", 32);
    mcp__jwt_keyset_unref(set);
    assert_int_equal(parse1(oct, false, &set, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "JWKS: no usable signing key");
    const char *oct_short = "{\"kty\":\"oct\",\"alg\":\"HS256\",\"k\":\"c2hvcnQ\"}";
    expect_jwk_error(oct_short, "HMAC secret for HS256 must be at least 32 bytes (key 0)");
    const char *oct_noalg = "{\"kty\":\"oct\",\"k\":\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\"}";
    assert_int_equal(parse1(oct_noalg, true, &set, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "JWKS: no usable signing key");
}

static void
jwk_skips_keys_not_for_us(void **state)
{
    (void)state;
    char *good = tu_jwk(p256, "good", NULL, NULL);
    char *enc = tu_jwk(rsa, "enc", NULL, "enc");
    char *ops = jwk_with(rsa, "ops", NULL, "key_ops", "[\"encrypt\"]");
    char *opsv = jwk_with(rsa, "opsv", NULL, "key_ops", "[\"sign\",\"verify\"]");
    char *unk_alg = tu_jwk(rsa, "ua", "RSA-OAEP", NULL);
    char doc[16384];
    snprintf(doc, sizeof doc,
             "{\"keys\":[%s,%s,%s,%s,%s,"
             "{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"AA\",\"y\":\"AA\"},"
             "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"AA\"},"
             "{\"kty\":\"PQC\",\"kid\":\"future\"}]}",
             good, enc, ops, opsv, unk_alg);
    mcp__jwt_keyset *set = NULL;
    mcp_error err;
    assert_int_equal(mcp__jwt_jwks_parse(doc, strlen(doc), false, &set, &err), MCP_OK);
    assert_int_equal(set->n, 2); /* good and opsv; the rest are skipped, not errors */
    assert_string_equal(set->keys[0].kid, "good");
    assert_string_equal(set->keys[1].kid, "opsv");
    mcp__jwt_keyset_unref(set);
    free(good);
    free(enc);
    free(ops);
    free(opsv);
    free(unk_alg);
}

static void
jwk_rejections(void **state)
{
    (void)state;
    char *s;
    /* Missing members. */
    expect_jwk_error("{\"kid\":\"a\"}", "JWK: kty/use/alg/kid/crv malformed (key 0)");
    expect_jwk_error("{\"kty\":7}", "JWK: kty/use/alg/kid/crv malformed (key 0)");
    s = jwk_with(rsa, "a", NULL, "kid", "5");
    expect_jwk_error(s, "JWK: kty/use/alg/kid/crv malformed (key 0)");
    free(s);
    s = jwk_with(rsa, "a", NULL, "key_ops", "\"verify\"");
    expect_jwk_error(s, "JWK: key_ops malformed (key 0)");
    free(s);
    s = jwk_with(rsa, "a", NULL, "n", NULL);
    expect_jwk_error(s, "JWK: \"n\" missing (key 0)");
    free(s);
    s = jwk_with(rsa, "a", NULL, "e", NULL);
    expect_jwk_error(s, "JWK: \"e\" missing (key 0)");
    free(s);
    s = jwk_with(p256, "a", NULL, "y", NULL);
    expect_jwk_error(s, "JWK: \"y\" missing (key 0)");
    free(s);
    s = jwk_with(ed, "a", NULL, "x", NULL);
    expect_jwk_error(s, "JWK: \"x\" missing (key 0)");
    free(s);
    expect_jwk_error("{\"kty\":\"oct\",\"alg\":\"HS256\"}", "JWK: \"k\" missing (key 0)");
    /* Bad base64url: padding, the standard alphabet, empty. */
    s = jwk_with(rsa, "a", NULL, "e", "\"AQAB=\"");
    expect_jwk_error(s, "JWK: \"e\" malformed (key 0)");
    free(s);
    s = jwk_with(rsa, "a", NULL, "n", "\"ab+/\"");
    expect_jwk_error(s, "JWK: \"n\" malformed (key 0)");
    free(s);
    s = jwk_with(rsa, "a", NULL, "e", "\"\"");
    expect_jwk_error(s, "JWK: \"e\" malformed (key 0)");
    free(s);
    /* Wrong sizes: EC coordinates must be exactly the curve's size, Ed25519 32 bytes. */
    s = jwk_with(p256, "a", NULL, "x", "\"AAAA\"");
    expect_jwk_error(s, "JWK: \"x\" malformed (key 0)");
    free(s);
    s = jwk_with(ed, "a", NULL, "x", "\"AAAA\"");
    expect_jwk_error(s, "JWK: \"x\" malformed (key 0)");
    free(s);
    /* A P-384-sized point labelled P-256 (wrong crv for the coordinates). */
    s = jwk_with(p384, "a", NULL, "crv", "\"P-256\"");
    expect_jwk_error(s, "JWK: \"x\" malformed (key 0)");
    free(s);
    /* A point not on the curve (invalid-curve attack): y of another key. */
    char *other = tu_jwk(p256, "o", NULL, NULL);
    json_t *jo = json_loads(other, 0, NULL);
    char yv[128];
    snprintf(yv, sizeof yv, "\"%s\"", json_string_value(json_object_get(jo, "x")));
    json_decref(jo);
    free(other);
    s = jwk_with(p256, "a", NULL, "y", yv);
    expect_jwk_error(s, "JWK: EC key rejected (key 0)");
    free(s);
    /* alg that does not fit the key. */
    s = tu_jwk(p256, "a", "ES384", NULL);
    expect_jwk_error(s, "JWK: alg does not fit crv (key 0)");
    free(s);
    s = tu_jwk(rsa, "a", "ES256", NULL);
    expect_jwk_error(s, "key type does not fit alg ES256 (key 0)");
    free(s);
    s = tu_jwk(ed, "a", "RS256", NULL);
    expect_jwk_error(s, "key type does not fit alg RS256 (key 0)");
    free(s);
    s = tu_jwk(rsa_small, "a", NULL, NULL);
    expect_jwk_error(s, "key type does not fit alg RS256 (key 0)");
    free(s);
    /* Size caps on RSA members: a 64-bit+ exponent. */
    s = jwk_with(rsa, "a", NULL, "e", "\"AQIDBAUGBwgJ\"");
    expect_jwk_error(s, "JWK: RSA key rejected (key 0)");
    free(s);
    /* The public exponent: 1 (every value its own signature), even, 0 (issue 11 item). */
    const char *bad_e[] = { "\"AQ\"", "\"Ag\"", "\"AQAA\"", "\"AA\"" };
    for (size_t i = 0; i < sizeof bad_e / sizeof bad_e[0]; i++) {
        s = jwk_with(rsa, "a", NULL, "e", bad_e[i]);
        expect_jwk_error(s, "JWK: RSA public exponent rejected (must be odd and at least 3) "
                            "(key 0)");
        free(s);
    }
    /* e = 3 is a valid (if unusual) exponent */
    s = jwk_with(rsa, "a", NULL, "e", "\"Aw\"");
    mcp__jwt_keyset *e3 = NULL;
    mcp_error e3err;
    assert_int_equal(parse1(s, false, &e3, &e3err), MCP_OK);
    mcp__jwt_keyset_unref(e3);
    free(s);
    /* The position names the bad key, not its content. */
    char *good = tu_jwk(p256, "good", NULL, NULL);
    char doc[8192];
    snprintf(doc, sizeof doc, "%s,{\"kty\":\"EC\",\"crv\":\"P-256\"}", good);
    expect_jwk_error(doc, "JWK: \"x\" missing (key 1)");
    free(good);
    expect_jwk_error("7", "JWK: not an object (key 0)");
}

static void
jwks_document_rules(void **state)
{
    (void)state;
    mcp__jwt_keyset *set = NULL;
    mcp_error err;
    assert_int_equal(mcp__jwt_jwks_parse("", 0, false, &set, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "JWKS: empty document");
    const char *s = "{\"keys\":[{\"a\":[[[[[[[[1]]]]]]]]}]}";
    assert_int_equal(mcp__jwt_jwks_parse(s, strlen(s), false, &set, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "JWKS: nested too deeply");
    s = "{\"keys\":[}";
    assert_int_equal(mcp__jwt_jwks_parse(s, strlen(s), false, &set, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "JWKS: not valid JSON (line 1)");
    s = "{\"keys\":[],\"keys\":[]}";
    assert_int_equal(mcp__jwt_jwks_parse(s, strlen(s), false, &set, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "JWKS: not valid JSON (line 1)");
    s = "{\"keys\":{}}";
    assert_int_equal(mcp__jwt_jwks_parse(s, strlen(s), false, &set, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "JWKS: no \"keys\" array");
    s = "[]";
    assert_int_equal(mcp__jwt_jwks_parse(s, strlen(s), false, &set, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "JWKS: no \"keys\" array");
    s = "{\"keys\":[]}";
    assert_int_equal(mcp__jwt_jwks_parse(s, strlen(s), false, &set, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "JWKS: no usable signing key");

    /* 256 keys is the cap; 257 is refused before any key is parsed. */
    char *one = tu_jwk(ed, NULL, NULL, NULL);
    size_t cap = (strlen(one) + 1) * 260 + 32;
    char *doc = malloc(cap);
    for (int n = 256; n <= 257; n++) {
        size_t o = (size_t)snprintf(doc, cap, "{\"keys\":[");
        for (int i = 0; i < n; i++)
            o += (size_t)snprintf(doc + o, cap - o, "%s%s", i ? "," : "", one);
        snprintf(doc + o, cap - o, "]}");
        mcp_status rc = mcp__jwt_jwks_parse(doc, strlen(doc), false, &set, &err);
        if (n == 256) {
            assert_int_equal(rc, MCP_OK);
            assert_int_equal(set->n, 256);
            mcp__jwt_keyset_unref(set);
        } else {
            assert_int_equal(rc, MCP_ERR_INVALID_ARG);
            assert_string_equal(err.message, "JWKS: more than 256 keys");
        }
    }
    free(doc);
    free(one);
}

static void
duplicate_kid_both_kept_and_either_verifies(void **state)
{
    (void)state;
    /* Rotation under one kid: the provider publishes old and new key with the same kid. Both
     * are kept, and a token signed by either verifies. */
    EVP_PKEY *rsa2 = tu_keygen("RSA", NULL, 2048);
    char *a = tu_jwk(rsa, "same", "RS256", "sig"), *b = tu_jwk(rsa2, "same", "RS256", "sig");
    char doc[8192];
    snprintf(doc, sizeof doc, "{\"keys\":[%s,%s]}", a, b);
    mcp__jwt_keyset *set = NULL;
    mcp_error err;
    assert_int_equal(mcp__jwt_jwks_parse(doc, strlen(doc), false, &set, &err), MCP_OK);
    assert_int_equal(set->n, 2);
    mcp__jwt_keyset_unref(set);

    mcp_jwt_verifier *v = tu_verifier(0);
    assert_int_equal(mcp_jwt_verifier_add_jwks(v, doc, strlen(doc), &err), MCP_OK);
    assert_int_equal(mcp_jwt_verifier_key_count(v), 2);
    int64_t now = (int64_t)time(NULL);
    EVP_PKEY *signers[] = {rsa, rsa2};
    for (int i = 0; i < 2; i++) {
        char *pem = tu_pem_private(signers[i]);
        char *tok = tu_mint("RS256", pem, strlen(pem), "same", "alice", now, 300, NULL);
        mcp_principal *p = NULL;
        assert_int_equal(mcp_jwt_verify(v, tok, strlen(tok), &p, &err), MCP_OK);
        assert_string_equal(mcp_principal_subject(p), "alice");
        mcp_principal_unref(p);
        mcp_free(tok);
        free(pem);
    }
    /* A third key under the same kid does not verify. */
    EVP_PKEY *rsa3 = tu_keygen("RSA", NULL, 2048);
    char *pem = tu_pem_private(rsa3);
    char *tok = tu_mint("RS256", pem, strlen(pem), "same", "alice", now, 300, NULL);
    mcp_principal *p = NULL;
    assert_int_equal(mcp_jwt_verify(v, tok, strlen(tok), &p, &err), MCP_ERR_UNAUTHENTICATED);
    assert_null(p);
    assert_string_equal(err.message, "signature invalid");
    mcp_free(tok);
    free(pem);
    EVP_PKEY_free(rsa3);
    mcp_jwt_verifier_free(v);
    EVP_PKEY_free(rsa2);
    free(a);
    free(b);
}

static void
keyset_take_copy_and_limit(void **state)
{
    (void)state;
    mcp__jwt_keyset *s = mcp__jwt_keyset_new();
    mcp_error err;
    const char sec[] = "0123456789abcdef0123456789abcdef";
    for (int i = 0; i < MCP__JWT_MAX_KEYS; i++) {
        mcp__jwt_key k;
        assert_int_equal(mcp__jwt_key_from_hmac("k", "HS256", sec, 32, &k, &err), MCP_OK);
        assert_int_equal(mcp__jwt_keyset_take(s, &k), MCP_OK);
        assert_null(k.secret); /* moved */
    }
    mcp__jwt_key k;
    assert_int_equal(mcp__jwt_key_from_hmac("k", "HS256", sec, 32, &k, &err), MCP_OK);
    assert_int_equal(mcp__jwt_keyset_take(s, &k), MCP_ERR_TOO_LARGE);
    assert_null(k.secret); /* cleaned up on refusal: no leak */

    char *pem = tu_pem_public(ed);
    mcp__jwt_keyset *small = mcp__jwt_keyset_new();
    assert_int_equal(mcp__jwt_key_from_pem("ed", NULL, pem, strlen(pem), &k, &err), MCP_OK);
    assert_int_equal(mcp__jwt_keyset_take(small, &k), MCP_OK);
    assert_int_equal(mcp__jwt_key_from_hmac("h", "HS384", "0123456789abcdef0123456789abcdef0123456789abcdef", 48, &k, &err), MCP_OK);
    assert_int_equal(mcp__jwt_keyset_take(small, &k), MCP_OK);
    mcp__jwt_keyset *copy = mcp__jwt_keyset_new();
    assert_int_equal(mcp__jwt_keyset_copy_from(copy, small), MCP_OK);
    assert_int_equal(mcp__jwt_keyset_copy_from(copy, NULL), MCP_OK);
    assert_int_equal(copy->n, 2);
    assert_string_equal(copy->keys[0].kid, "ed");
    assert_ptr_equal(copy->keys[0].pkey, small->keys[0].pkey); /* shared, up-ref'd */
    assert_ptr_not_equal(copy->keys[1].secret, small->keys[1].secret); /* secret copied */
    assert_memory_equal(copy->keys[1].secret, small->keys[1].secret, 48);
    mcp__jwt_keyset_unref(small); /* the copy stays usable */
    assert_int_equal(EVP_PKEY_eq(copy->keys[0].pkey, ed), 1);
    /* Copying into a full set stops at the cap. */
    assert_int_equal(mcp__jwt_keyset_copy_from(s, copy), MCP_ERR_TOO_LARGE);
    mcp__jwt_keyset *r = mcp__jwt_keyset_ref(copy);
    mcp__jwt_keyset_unref(r);
    assert_int_equal(copy->n, 2);
    mcp__jwt_keyset_unref(copy);
    mcp__jwt_keyset_unref(s);
    mcp__jwt_keyset_unref(NULL);
    free(pem);
}

static void
read_file_caps(void **state)
{
    (void)state;
    char dir[] = "/tmp/mcp-jwk-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/key", dir);
    FILE *f = fopen(path, "w");
    fputs("0123456789", f);
    fclose(f);
    char *buf = NULL;
    size_t len = 0;
    mcp_error err;
    assert_int_equal(mcp__jwt_read_file(path, 10, &buf, &len, &err), MCP_OK);
    assert_int_equal(len, 10);
    assert_string_equal(buf, "0123456789");
    mcp__free(buf);
    assert_int_equal(mcp__jwt_read_file(path, 9, &buf, &len, &err), MCP_ERR_TOO_LARGE);
    assert_null(buf);
    assert_string_equal(err.message, "key file larger than 9 bytes");
    assert_int_equal(mcp__jwt_read_file(dir, 0, &buf, &len, &err), MCP_ERR_IO);
    assert_string_equal(err.message, "key file is not a regular file");
    char missing[160];
    snprintf(missing, sizeof missing, "%s/none", dir);
    assert_int_equal(mcp__jwt_read_file(missing, 0, &buf, &len, &err), MCP_ERR_IO);
    assert_string_equal(err.message, "cannot open key file: No such file or directory");
    assert_int_equal(mcp__jwt_read_file(NULL, 0, &buf, &len, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "no file name");
    unlink(path);
    rmdir(dir);
}

static void
json_depth_precheck(void **state)
{
    (void)state;
    const char *s = "{\"a\":[{\"b\":1}]}";
    assert_true(mcp__jwt_json_depth_ok((const unsigned char *)s, strlen(s), 3));
    assert_false(mcp__jwt_json_depth_ok((const unsigned char *)s, strlen(s), 2));
    /* Brackets inside strings (and escaped quotes) do not count. */
    s = "{\"a\":\"[[[[\\\"[[[[\"}";
    assert_true(mcp__jwt_json_depth_ok((const unsigned char *)s, strlen(s), 1));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(alg_table),
        cmocka_unit_test(pkey_fits_and_defaults),
        cmocka_unit_test(hmac_keys),
        cmocka_unit_test(pem_keys),
        cmocka_unit_test(jwk_each_type_parses),
        cmocka_unit_test(jwk_skips_keys_not_for_us),
        cmocka_unit_test(jwk_rejections),
        cmocka_unit_test(jwks_document_rules),
        cmocka_unit_test(duplicate_kid_both_kept_and_either_verifies),
        cmocka_unit_test(keyset_take_copy_and_limit),
        cmocka_unit_test(read_file_caps),
        cmocka_unit_test(json_depth_precheck),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
