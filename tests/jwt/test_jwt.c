/*
 * Unit tests for the files of src/jwt: the data-driven vectors of tests/vectors/jwt_verify.json
 * (every rejection reason and every algorithm's happy path), key loading rules, JWKS documents,
 * the principal built from claims, the verified-token cache, and concurrency.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_jwt_util.h"

#include <openssl/ecdsa.h>
#include <pthread.h>
#include <unistd.h>

/* ------------------------------------------------------------------------------------------ */
/* Fixture: keys generated once per run                                                       */

static struct {
    EVP_PKEY *rsa, *rsa_attacker, *ec256, *ec384, *ed, *ec_attacker;
    char *rsa_priv, *rsa_pub, *rsa_att_priv, *ec256_priv, *ec256_pub, *ec384_priv, *ec384_pub;
    char *ed_priv, *ed_pub, *ec_att_priv;
    unsigned char hs[64];
} fx;

static int
fixture_setup(void **state)
{
    (void)state;
    fx.rsa = tu_keygen("RSA", NULL, 2048);
    fx.rsa_attacker = tu_keygen("RSA", NULL, 2048);
    fx.ec256 = tu_keygen("EC", "P-256", 0);
    fx.ec384 = tu_keygen("EC", "P-384", 0);
    fx.ed = tu_keygen("ED25519", NULL, 0);
    fx.ec_attacker = tu_keygen("EC", "P-256", 0);
    fx.rsa_priv = tu_pem_private(fx.rsa);
    fx.rsa_pub = tu_pem_public(fx.rsa);
    fx.rsa_att_priv = tu_pem_private(fx.rsa_attacker);
    fx.ec256_priv = tu_pem_private(fx.ec256);
    fx.ec256_pub = tu_pem_public(fx.ec256);
    fx.ec384_priv = tu_pem_private(fx.ec384);
    fx.ec384_pub = tu_pem_public(fx.ec384);
    fx.ed_priv = tu_pem_private(fx.ed);
    fx.ed_pub = tu_pem_public(fx.ed);
    fx.ec_att_priv = tu_pem_private(fx.ec_attacker);
    for (size_t i = 0; i < sizeof fx.hs; i++)
        fx.hs[i] = (unsigned char)(i * 7 + 3);
    return 0;
}

static int
fixture_teardown(void **state)
{
    (void)state;
    EVP_PKEY *keys[] = { fx.rsa, fx.rsa_attacker, fx.ec256, fx.ec384, fx.ed, fx.ec_attacker };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        EVP_PKEY_free(keys[i]);
    char *s[] = { fx.rsa_priv, fx.rsa_pub, fx.rsa_att_priv, fx.ec256_priv, fx.ec256_pub,
                  fx.ec384_priv, fx.ec384_pub, fx.ed_priv, fx.ed_pub, fx.ec_att_priv };
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
        free(s[i]);
    return 0;
}

/* Fixture key name -> (alg, verification material, signing material). */
typedef struct fkey {
    const char *name, *alg;
    bool        hmac;
    size_t      hlen;        /* HMAC secret length */
    char      **pub, **priv; /* PEM strings for asymmetric keys */
} fkey;

static const fkey fkeys[] = {
    { "hs256", "HS256", true, 32, NULL, NULL },
    { "hs384", "HS384", true, 48, NULL, NULL },
    { "hs512", "HS512", true, 64, NULL, NULL },
    { "rs256", "RS256", false, 0, &fx.rsa_pub, &fx.rsa_priv },
    { "rs384", "RS384", false, 0, &fx.rsa_pub, &fx.rsa_priv },
    { "rs512", "RS512", false, 0, &fx.rsa_pub, &fx.rsa_priv },
    { "ps256", "PS256", false, 0, &fx.rsa_pub, &fx.rsa_priv },
    { "ps384", "PS384", false, 0, &fx.rsa_pub, &fx.rsa_priv },
    { "ps512", "PS512", false, 0, &fx.rsa_pub, &fx.rsa_priv },
    { "es256", "ES256", false, 0, &fx.ec256_pub, &fx.ec256_priv },
    { "es384", "ES384", false, 0, &fx.ec384_pub, &fx.ec384_priv },
    { "eddsa", "EdDSA", false, 0, &fx.ed_pub, &fx.ed_priv },
    /* signing only (never configured) */
    { "attacker_rs256", "RS256", false, 0, NULL, &fx.rsa_att_priv },
    { "attacker_es256", "ES256", false, 0, NULL, &fx.ec_att_priv },
};
#define N_CONFIGURABLE 12

static const fkey *
fkey_get(const char *name)
{
    for (size_t i = 0; i < sizeof fkeys / sizeof fkeys[0]; i++)
        if (strcmp(fkeys[i].name, name) == 0)
            return &fkeys[i];
    return NULL;
}

static void
add_fixture_key(mcp_jwt_verifier *v, const fkey *k)
{
    mcp_error err;
    mcp_status rc;
    if (k->hmac)
        rc = mcp_jwt_verifier_add_hmac(v, k->name, k->alg, fx.hs, k->hlen, &err);
    else
        rc = mcp_jwt_verifier_add_pem(v, k->name, k->alg, *k->pub, strlen(*k->pub), &err);
    if (rc != MCP_OK)
        fail_msg("adding key %s: %s", k->name, err.message);
}

/* ------------------------------------------------------------------------------------------ */
/* Vector runner                                                                              */

/* Replace "{{now}}", "{{now+N}}", "{{now-N}}" (optionally quoted) with numbers. */
static char *
subst_now(const char *in, int64_t now)
{
    size_t cap = strlen(in) * 2 + 64, o = 0;
    char *out = malloc(cap);
    for (const char *s = in; *s;) {
        bool quoted = s[0] == '"' && strncmp(s + 1, "{{now", 5) == 0;
        const char *t = quoted ? s + 1 : s;
        if (strncmp(t, "{{now", 5) == 0) {
            const char *e = strstr(t, "}}");
            long long delta = 0;
            if (t[5] == '+' || t[5] == '-')
                delta = strtoll(t + 5, NULL, 10);
            o += (size_t)snprintf(out + o, cap - o, "%lld", (long long)now + delta);
            s = e + 2 + (quoted && e[2] == '"' ? 1 : 0);
            continue;
        }
        out[o++] = *s++;
    }
    out[o] = '\0';
    return out;
}

/* header/payload of a case: a raw string, or an object serialised compactly in order */
static char *
segment_text(const json_t *c, const json_t *defaults, const char *key, int64_t now)
{
    const json_t *m = json_object_get(c, key);
    if (m == NULL)
        m = json_object_get(defaults, key);
    char *raw;
    if (json_is_string(m)) {
        raw = strdup(json_string_value(m));
    } else {
        char *d = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
        raw = strdup(d);
        mcp__free(d);
    }
    char *r = subst_now(raw, now);
    free(raw);
    return r;
}

static unsigned char *
der_of_raw(const unsigned char *sig, size_t len, size_t *outlen)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    ECDSA_SIG_set0(es, BN_bin2bn(sig, (int)(len / 2), NULL),
                   BN_bin2bn(sig + len / 2, (int)(len / 2), NULL));
    unsigned char *der = NULL;
    int n = i2d_ECDSA_SIG(es, &der);
    ECDSA_SIG_free(es);
    unsigned char *r = malloc((size_t)n);
    memcpy(r, der, (size_t)n);
    OPENSSL_free(der);
    *outlen = (size_t)n;
    return r;
}

static char *
replace_all(const char *in, const char *pat, const char *with)
{
    size_t cap = strlen(in) + 1, pl = strlen(pat), wl = strlen(with);
    for (const char *p = strstr(in, pat); p; p = strstr(p + pl, pat))
        cap += wl;
    char *out = malloc(cap), *o = out;
    for (const char *s = in; *s;) {
        if (strncmp(s, pat, pl) == 0) {
            memcpy(o, with, wl);
            o += wl;
            s += pl;
        } else {
            *o++ = *s++;
        }
    }
    *o = '\0';
    return out;
}

static char *
build_token(const json_t *c, const json_t *defaults, int64_t now)
{
    char *htext = segment_text(c, defaults, "header", now);
    char *ptext = segment_text(c, defaults, "payload", now);
    char *h64 = mcp__b64url_encode((const unsigned char *)htext, strlen(htext));
    char *p64 = mcp__b64url_encode((const unsigned char *)ptext, strlen(ptext));
    const json_t *tm = json_object_get(c, "token");
    const char *tmpl = json_string_value(tm ? tm : json_object_get(defaults, "token"));
    const json_t *sm = json_object_get(c, "sign");
    const char *signer = json_string_value(sm ? sm : json_object_get(defaults, "sign"));
    const char *mut = json_string_value(json_object_get(c, "sig"));

    /* The signing input is the template up to its first ".{s}", expanded. */
    char *t1 = replace_all(tmpl, "{h}", h64), *t2 = replace_all(t1, "{p}", p64);
    char *cut = strstr(t2, ".{s}");
    unsigned char *sig = NULL;
    size_t siglen = 0;
    if (cut != NULL && strcmp(signer, "none") != 0) {
        size_t ilen = (size_t)(cut - t2);
        mcp_error err;
        mcp_status rc;
        if (strcmp(signer, "rsa_pub_as_hmac") == 0) {
            rc = mcp__jwt_sign_raw("HS256", fx.rsa_pub, strlen(fx.rsa_pub), t2, ilen, &sig,
                                   &siglen, &err);
        } else {
            const fkey *k = fkey_get(signer);
            assert_non_null(k);
            if (k->hmac)
                rc = mcp__jwt_sign_raw(k->alg, fx.hs, k->hlen, t2, ilen, &sig, &siglen, &err);
            else
                rc = mcp__jwt_sign_raw(k->alg, *k->priv, strlen(*k->priv), t2, ilen, &sig,
                                       &siglen, &err);
        }
        if (rc != MCP_OK)
            fail_msg("signing: %s", err.message);
    }
    if (mut != NULL && sig != NULL) {
        if (strcmp(mut, "flip") == 0) {
            sig[0] ^= 0x01;
        } else if (strcmp(mut, "truncate") == 0) {
            siglen--;
        } else if (strcmp(mut, "append") == 0) {
            sig = mcp__realloc(sig, siglen + 1);
            sig[siglen++] = 0;
        } else if (strcmp(mut, "der") == 0) {
            size_t dl;
            unsigned char *der = der_of_raw(sig, siglen, &dl);
            mcp__free(sig);
            sig = mcp__alloc(dl);
            memcpy(sig, der, dl);
            siglen = dl;
            free(der);
        }
    }
    char *s64 = sig ? mcp__b64url_encode(sig, siglen) : strdup("");
    char *tok = replace_all(t2, "{s}", s64);
    if (sig)
        mcp__free(s64);
    else
        free(s64);
    mcp__free(sig);
    free(t1);
    free(t2);
    mcp__free(h64);
    mcp__free(p64);
    free(htext);
    free(ptext);
    return tok;
}

static mcp_jwt_verifier *
case_verifier(const json_t *c, const json_t *defaults, int64_t *now)
{
    mcp_jwt_opts o;
    mcp_jwt_opts_default(&o);
    const json_t *dopts = json_object_get(defaults, "opts"), *copts = json_object_get(c, "opts");
    const json_t *layers[2] = { dopts, copts };
    for (int i = 0; i < 2; i++) {
        const json_t *l = layers[i], *m;
        if (l == NULL)
            continue;
        if ((m = json_object_get(l, "issuer")) != NULL) {
            o.issuer = json_string_value(m);
            o.allow_no_issuer = o.issuer == NULL;
        }
        if ((m = json_object_get(l, "audience")) != NULL) {
            o.audience = json_string_value(m);
            o.allow_no_audience = o.audience == NULL;
        }
        if ((m = json_object_get(l, "leeway")) != NULL)
            o.leeway_s = (unsigned)json_integer_value(m);
        if ((m = json_object_get(l, "max_token_len")) != NULL)
            o.max_token_len = (size_t)json_integer_value(m);
        if ((m = json_object_get(l, "max_json_depth")) != NULL)
            o.max_json_depth = (unsigned)json_integer_value(m);
        if ((m = json_object_get(l, "typ")) != NULL)
            o.typ = json_string_value(m);
    }
    mcp_jwt_verifier *v = NULL;
    mcp_error err;
    if (mcp_jwt_verifier_new(&o, &v, &err) != MCP_OK)
        fail_msg("verifier: %s", err.message);
    mcp__jwt_verifier_set_clock(v, tu_clock, now);
    const json_t *keys = json_object_get(c, "keys");
    if (keys == NULL) {
        for (size_t i = 0; i < N_CONFIGURABLE; i++)
            add_fixture_key(v, &fkeys[i]);
    } else {
        size_t i;
        const json_t *k;
        json_array_foreach(keys, i, k) add_fixture_key(v, fkey_get(json_string_value(k)));
    }
    return v;
}

static mcp_status
status_from_name(const char *name)
{
    for (int s = 0; s <= MCP_ERR_STORE; s++)
        if (strcmp(mcp_status_name((mcp_status)s), name) == 0)
            return (mcp_status)s;
    fail_msg("unknown status %s", name);
    return MCP_ERR_INTERNAL;
}

/* Check one case; returns a failure description or NULL. */
static bool
run_case(const json_t *c, const json_t *defaults, char *why, size_t whylen)
{
    static int64_t now;
    now = 1767225600;                   /* fixed clock: no second boundary can flake a case */
    mcp_jwt_verifier *v = case_verifier(c, defaults, &now);
    char *tok = build_token(c, defaults, now);
    mcp_principal *p = NULL;
    mcp_error err;
    mcp_error_clear(&err);
    mcp_status want = status_from_name(json_string_value(json_object_get(c, "expect")));
    const char *want_msg = json_string_value(json_object_get(c, "message"));
    mcp_status rc = mcp_jwt_verify(v, tok, strlen(tok), &p, &err);
    bool ok = true;
    if (rc != want) {
        snprintf(why, whylen, "status %s, want %s (%s)", mcp_status_name(rc),
                 mcp_status_name(want), err.message);
        ok = false;
    } else if (rc != MCP_OK && want_msg != NULL && strcmp(err.message, want_msg) != 0) {
        snprintf(why, whylen, "message \"%s\", want \"%s\"", err.message, want_msg);
        ok = false;
    } else if (rc == MCP_OK) {
        const json_t *sub = json_object_get(c, "subject");
        const json_t *perms = json_object_get(c, "permissions");
        if (mcp_principal_kind(p) != MCP_CRED_JWT) {
            snprintf(why, whylen, "kind is not jwt");
            ok = false;
        }
        if (sub && strcmp(mcp_principal_subject(p), json_string_value(sub)) != 0) {
            snprintf(why, whylen, "subject %s", mcp_principal_subject(p));
            ok = false;
        }
        if (perms) {
            if (mcp_principal_permission_count(p) != json_array_size(perms)) {
                snprintf(why, whylen, "%zu permissions, want %zu",
                         mcp_principal_permission_count(p), json_array_size(perms));
                ok = false;
            }
            for (size_t i = 0; ok && i < json_array_size(perms); i++) {
                const char *w = json_string_value(json_array_get(perms, i));
                const char *g = mcp_principal_permission(p, i);
                if (g == NULL || strcmp(w, g) != 0) {
                    snprintf(why, whylen, "permission %zu is %s, want %s", i, g ? g : "-", w);
                    ok = false;
                }
            }
        }
    }
    /* Whatever failed, the message never carries token bytes. */
    if (rc != MCP_OK && strlen(tok) > 12) {
        char seg[13];
        memcpy(seg, tok, 12);
        seg[12] = '\0';
        if (strstr(err.message, seg) != NULL) {
            snprintf(why, whylen, "message echoes the token");
            ok = false;
        }
    }
    mcp_principal_unref(p);
    free(tok);
    mcp_jwt_verifier_free(v);
    return ok;
}

static void
jwt_vectors(void **state)
{
    (void)state;
    json_error_t jerr;
    json_t *doc = json_load_file("vectors/jwt_verify.json", JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL)
        fail_msg("vectors/jwt_verify.json: %s line %d", jerr.text, jerr.line);
    const json_t *defaults = json_object_get(doc, "defaults");
    const json_t *cases = json_object_get(doc, "cases");
    size_t i, failures = 0;
    const json_t *c;
    assert_true(json_array_size(cases) > 100);
    json_array_foreach(cases, i, c) {
        char why[512] = "";
        if (!run_case(c, defaults, why, sizeof why)) {
            print_error("case %s: %s\n", json_string_value(json_object_get(c, "name")), why);
            failures++;
        }
    }
    json_decref(doc);
    assert_int_equal(failures, 0);
}

/* ------------------------------------------------------------------------------------------ */
/* Verifier construction and key loading                                                      */

static void
jwt_verifier_requires_issuer_and_audience(void **state)
{
    (void)state;
    mcp_jwt_opts o;
    mcp_jwt_verifier *v = (mcp_jwt_verifier *)1;
    mcp_error err;
    mcp_jwt_opts_default(&o);
    assert_int_equal(o.leeway_s, 60);
    assert_int_equal(o.max_token_len, 8192);
    assert_int_equal(o.cache_size, 10000);
    assert_int_equal(o.jwks_refresh_s, 300);
    assert_int_equal(o.jwks_min_interval_s, 30);
    assert_int_equal(o.jwks_max_bytes, 256 * 1024);
    o.audience = TU_AUD;
    assert_int_equal(mcp_jwt_verifier_new(&o, &v, &err), MCP_ERR_INVALID_ARG);
    assert_null(v);
    assert_non_null(strstr(err.message, "issuer"));
    o.issuer = "";
    assert_int_equal(mcp_jwt_verifier_new(&o, &v, &err), MCP_ERR_INVALID_ARG);
    o.issuer = TU_ISS;
    o.audience = NULL;
    assert_int_equal(mcp_jwt_verifier_new(&o, &v, &err), MCP_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "audience"));
    o.allow_no_audience = true;
    assert_int_equal(mcp_jwt_verifier_new(&o, &v, &err), MCP_OK);
    mcp_jwt_verifier_free(v);
    o.issuer = NULL;
    o.allow_no_issuer = true;
    assert_int_equal(mcp_jwt_verifier_new(&o, &v, &err), MCP_OK);
    mcp_jwt_verifier_free(v);
    mcp_jwt_verifier_free(NULL);
}

static void
jwt_add_pem_infers_alg_and_rejects_mismatch(void **state)
{
    (void)state;
    mcp_jwt_verifier *v = tu_verifier(0);
    mcp_error err;
    static const char dir[] = "vectors/keys/";
    struct {
        const char *file, *alg;
        mcp_status want;
    } rows[] = {
        { "rsa2048.pub.pem", NULL, MCP_OK },            /* RS256 */
        { "rsa2048.pub.pem", "PS512", MCP_OK },
        { "rsa2048.pub.pem", "ES256", MCP_ERR_INVALID_ARG },
        { "rsa2048.pub.pem", "EdDSA", MCP_ERR_INVALID_ARG },
        { "rsa2048.pub.pem", "HS256", MCP_ERR_INVALID_ARG },
        { "rsa2048.pub.pem", "none", MCP_ERR_INVALID_ARG },
        { "rsa1024.pub.pem", NULL, MCP_ERR_INVALID_ARG },   /* below 2048 bits */
        { "rsa1024.pub.pem", "RS256", MCP_ERR_INVALID_ARG },
        { "ec256.pub.pem", NULL, MCP_OK },              /* ES256 */
        { "ec256.pub.pem", "ES384", MCP_ERR_INVALID_ARG },
        { "ec256.pub.pem", "RS256", MCP_ERR_INVALID_ARG },
        { "ec384.pub.pem", NULL, MCP_OK },              /* ES384 */
        { "ec384.pub.pem", "ES256", MCP_ERR_INVALID_ARG },
        { "ed25519.pub.pem", NULL, MCP_OK },            /* EdDSA */
        { "ed25519.pub.pem", "ES256", MCP_ERR_INVALID_ARG },
        { "secp256k1.pub.pem", NULL, MCP_ERR_INVALID_ARG },
        { "secp256k1.pub.pem", "ES256", MCP_ERR_INVALID_ARG },
        { "ed448.pub.pem", NULL, MCP_ERR_INVALID_ARG },
        { "ed448.pub.pem", "EdDSA", MCP_ERR_INVALID_ARG },
        { "ec256.cert.pem", NULL, MCP_OK },             /* key taken from a certificate */
        { "missing.pem", NULL, MCP_ERR_IO },
    };
    size_t added = 0;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s%s", dir, rows[i].file);
        mcp_status rc = mcp_jwt_verifier_add_pem_file(v, "k", rows[i].alg, path, &err);
        if (rc != rows[i].want)
            fail_msg("%s alg %s: %s (%s)", rows[i].file, rows[i].alg ? rows[i].alg : "(infer)",
                     mcp_status_name(rc), err.message);
        added += rc == MCP_OK;
    }
    assert_int_equal(mcp_jwt_verifier_key_count(v), added);

    /* a private key is not accepted where a public key is configured */
    assert_int_equal(mcp_jwt_verifier_add_pem(v, NULL, NULL, fx.ec256_priv,
                                              strlen(fx.ec256_priv), &err),
                     MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp_jwt_verifier_add_pem(v, NULL, NULL, "garbage", 7, &err),
                     MCP_ERR_INVALID_ARG);
    assert_null(strstr(err.message, "garbage"));
    mcp_jwt_verifier_free(v);

    /* inference decides what verifies: a P-384 key added without alg takes ES384 only */
    v = tu_verifier(0);
    assert_int_equal(mcp_jwt_verifier_add_pem(v, NULL, NULL, fx.ec384_pub, strlen(fx.ec384_pub),
                                              &err), MCP_OK);
    int64_t now = mcp__unix_now();
    char *t384 = tu_mint("ES384", fx.ec384_priv, strlen(fx.ec384_priv), NULL, "u", now, 60, NULL);
    char *t256 = tu_mint("ES256", fx.ec256_priv, strlen(fx.ec256_priv), NULL, "u", now, 60, NULL);
    mcp_principal *p = NULL;
    assert_int_equal(mcp_jwt_verify(v, t384, strlen(t384), &p, &err), MCP_OK);
    mcp_principal_unref(p);
    assert_int_equal(mcp_jwt_verify(v, t256, strlen(t256), &p, &err), MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "alg not allowed for key");
    assert_null(p);
    mcp_free(t384);
    mcp_free(t256);
    mcp_jwt_verifier_free(v);

    /* RSA without alg defaults to RS256: a PS256 token is refused */
    v = tu_verifier(0);
    assert_int_equal(mcp_jwt_verifier_add_pem(v, NULL, NULL, fx.rsa_pub, strlen(fx.rsa_pub),
                                              &err), MCP_OK);
    char *ps = tu_mint("PS256", fx.rsa_priv, strlen(fx.rsa_priv), NULL, "u", now, 60, NULL);
    char *rs = tu_mint("RS256", fx.rsa_priv, strlen(fx.rsa_priv), NULL, "u", now, 60, NULL);
    assert_int_equal(mcp_jwt_verify(v, ps, strlen(ps), &p, &err), MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "alg not allowed for key");
    assert_int_equal(mcp_jwt_verify(v, rs, strlen(rs), &p, &err), MCP_OK);
    mcp_principal_unref(p);
    mcp_free(ps);
    mcp_free(rs);
    mcp_jwt_verifier_free(v);
}

static void
write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void
jwt_add_hmac_rules(void **state)
{
    (void)state;
    mcp_jwt_verifier *v = tu_verifier(0);
    mcp_error err;
    assert_int_equal(mcp_jwt_verifier_add_hmac(v, NULL, "HS256", fx.hs, 31, &err),
                     MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp_jwt_verifier_add_hmac(v, NULL, "HS512", fx.hs, 63, &err),
                     MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp_jwt_verifier_add_hmac(v, NULL, "RS256", fx.hs, 64, &err),
                     MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp_jwt_verifier_add_hmac(v, NULL, NULL, fx.hs, 64, &err),
                     MCP_ERR_INVALID_ARG);
    /* an RSA public key's PEM text is not a secret */
    assert_int_equal(mcp_jwt_verifier_add_hmac(v, NULL, "HS256", fx.rsa_pub, strlen(fx.rsa_pub),
                                               &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "HMAC secret looks like a PEM key");
    assert_int_equal(mcp_jwt_verifier_key_count(v), 0);

    /* file: exactly one trailing newline is ignored */
    char dir[] = "/tmp/jwt-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char p1[64], p2[64];
    snprintf(p1, sizeof p1, "%s/one", dir);
    snprintf(p2, sizeof p2, "%s/two", dir);
    const char secret[] = "0123456789abcdef0123456789abcdef";   /* 32 bytes */
    char buf[64];
    snprintf(buf, sizeof buf, "%s\n", secret);
    write_file(p1, buf, strlen(buf));
    snprintf(buf, sizeof buf, "%s\n\n", secret);
    write_file(p2, buf, strlen(buf));
    assert_int_equal(mcp_jwt_verifier_add_hmac_file(v, "one", "HS256", p1, &err), MCP_OK);
    assert_int_equal(mcp_jwt_verifier_add_hmac_file(v, "two", "HS256", p2, &err), MCP_OK);
    assert_int_equal(mcp_jwt_verifier_add_hmac_file(v, "x", "HS256", "/nonexistent/s", &err),
                     MCP_ERR_IO);

    int64_t now = mcp__unix_now();
    char with_nl[40];
    snprintf(with_nl, sizeof with_nl, "%s\n", secret);
    char *t1 = tu_mint("HS256", secret, 32, "one", "u", now, 60, NULL);
    char *t2 = tu_mint("HS256", with_nl, 33, "two", "u", now, 60, NULL);
    char *t3 = tu_mint("HS256", secret, 32, "two", "u", now, 60, NULL);
    mcp_principal *p = NULL;
    assert_int_equal(mcp_jwt_verify(v, t1, strlen(t1), &p, &err), MCP_OK);
    mcp_principal_unref(p);
    assert_int_equal(mcp_jwt_verify(v, t2, strlen(t2), &p, &err), MCP_OK);
    mcp_principal_unref(p);
    assert_int_equal(mcp_jwt_verify(v, t3, strlen(t3), &p, &err), MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "signature invalid");
    mcp_free(t1);
    mcp_free(t2);
    mcp_free(t3);
    unlink(p1);
    unlink(p2);
    rmdir(dir);
    mcp_jwt_verifier_free(v);
}

/* ------------------------------------------------------------------------------------------ */
/* JWKS documents                                                                             */

static void
jwt_jwks_file_with_two_keys(void **state)
{
    (void)state;
    char *rsa = tu_jwk(fx.rsa, "rsa-1", NULL, "sig");          /* no alg: RS256 */
    char *ec = tu_jwk(fx.ec256, "ec-1", "ES256", NULL);
    char *enc = tu_jwk(fx.ec384, "enc-1", NULL, "enc");        /* skipped */
    char doc[8192];
    snprintf(doc, sizeof doc,
             "{\"keys\":[%s,%s,%s,{\"kty\":\"weird\"},"
             "{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"AA\",\"y\":\"AA\"},"
             "{\"kty\":\"RSA\",\"alg\":\"RSA-OAEP\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
             rsa, ec, enc);
    char dir[] = "/tmp/jwt-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/jwks.json", dir);
    write_file(path, doc, strlen(doc));

    mcp_jwt_verifier *v = tu_verifier(100);
    mcp_error err;
    assert_int_equal(mcp_jwt_verifier_add_jwks_file(v, path, &err), MCP_OK);
    assert_int_equal(mcp_jwt_verifier_key_count(v), 2);

    int64_t now = mcp__unix_now();
    char *trs = tu_mint("RS256", fx.rsa_priv, strlen(fx.rsa_priv), "rsa-1", "alice", now, 60, NULL);
    char *tec = tu_mint("ES256", fx.ec256_priv, strlen(fx.ec256_priv), "ec-1", "bob", now, 60,
                        NULL);
    char *tps = tu_mint("PS256", fx.rsa_priv, strlen(fx.rsa_priv), "rsa-1", "eve", now, 60, NULL);
    char *tenc = tu_mint("ES384", fx.ec384_priv, strlen(fx.ec384_priv), "enc-1", "eve", now, 60,
                         NULL);
    mcp_principal *p = NULL;
    assert_int_equal(mcp_jwt_verify(v, trs, strlen(trs), &p, &err), MCP_OK);
    assert_string_equal(mcp_principal_subject(p), "alice");
    assert_string_equal(mcp_principal_key_id(p), "rsa-1");
    mcp_principal_unref(p);
    assert_int_equal(mcp_jwt_verify(v, tec, strlen(tec), &p, &err), MCP_OK);
    assert_string_equal(mcp_principal_subject(p), "bob");
    mcp_principal_unref(p);
    assert_int_equal(mcp_jwt_verify(v, tps, strlen(tps), &p, &err), MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "alg not allowed for key");
    assert_int_equal(mcp_jwt_verify(v, tenc, strlen(tenc), &p, &err), MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "no key for kid");
    mcp_free(trs);
    mcp_free(tec);
    mcp_free(tps);
    mcp_free(tenc);
    mcp_jwt_verifier_free(v);
    unlink(path);
    rmdir(dir);
    free(rsa);
    free(ec);
    free(enc);
}

static void
jwt_jwks_oct_and_eddsa(void **state)
{
    (void)state;
    char *k = mcp__b64url_encode(fx.hs, 32);
    char *ed = tu_jwk(fx.ed, "ed-1", NULL, NULL);
    char doc[4096];
    snprintf(doc, sizeof doc,
             "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"h\",\"alg\":\"HS256\",\"k\":\"%s\"},"
             "{\"kty\":\"oct\",\"kid\":\"noalg\",\"k\":\"%s\"},%s]}", k, k, ed);
    mcp_jwt_verifier *v = tu_verifier(0);
    mcp_error err;
    assert_int_equal(mcp_jwt_verifier_add_jwks(v, doc, strlen(doc), &err), MCP_OK);
    assert_int_equal(mcp_jwt_verifier_key_count(v), 2);     /* oct without alg is skipped */
    int64_t now = mcp__unix_now();
    char *th = tu_mint("HS256", fx.hs, 32, "h", "u", now, 60, NULL);
    char *te = tu_mint("EdDSA", fx.ed_priv, strlen(fx.ed_priv), "ed-1", "u", now, 60, NULL);
    char *tn = tu_mint("HS256", fx.hs, 32, "noalg", "u", now, 60, NULL);
    mcp_principal *p = NULL;
    assert_int_equal(mcp_jwt_verify(v, th, strlen(th), &p, &err), MCP_OK);
    mcp_principal_unref(p);
    assert_int_equal(mcp_jwt_verify(v, te, strlen(te), &p, &err), MCP_OK);
    mcp_principal_unref(p);
    assert_int_equal(mcp_jwt_verify(v, tn, strlen(tn), &p, &err), MCP_ERR_UNAUTHENTICATED);
    mcp_free(th);
    mcp_free(te);
    mcp_free(tn);
    mcp__free(k);
    free(ed);
    mcp_jwt_verifier_free(v);
}

static void
jwt_jwks_rejects_malformed(void **state)
{
    (void)state;
    char *ec = tu_jwk(fx.ec256, "e", NULL, NULL);
    json_t *bad_curve = json_loads(ec, 0, NULL);
    /* move the point off the curve: flip a bit of y */
    const char *y = json_string_value(json_object_get(bad_curve, "y"));
    unsigned char *yb;
    size_t yl;
    assert_int_equal(mcp__b64url_decode(y, strlen(y), &yb, &yl), MCP_OK);
    yb[31] ^= 1;
    char *y2 = mcp__b64url_encode(yb, yl);
    json_object_set_new(bad_curve, "y", json_string(y2));
    char *offcurve = json_dumps(bad_curve, JSON_COMPACT);
    char offdoc[1024];
    snprintf(offdoc, sizeof offdoc, "{\"keys\":[%s]}", offcurve);
    char mismatch[1024];
    json_object_set_new(bad_curve, "alg", json_string("ES384"));
    json_t *orig = json_loads(ec, 0, NULL);
    json_object_set(bad_curve, "y", json_object_get(orig, "y"));
    json_decref(orig);
    char *mm = json_dumps(bad_curve, JSON_COMPACT);
    snprintf(mismatch, sizeof mismatch, "{\"keys\":[%s]}", mm);

    const char *docs[] = {
        "",
        "not json",
        "[]",
        "{}",
        "{\"keys\":{}}",
        "{\"keys\":[]}",
        "{\"keys\":[{\"kty\":\"enc-only\"}]}",                           /* nothing usable */
        "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"!!\",\"e\":\"AQAB\"}]}",
        "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\"}]}",
        "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",  /* tiny modulus */
        "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"AAAA\"}]}",
        "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"}]}",
        "{\"keys\":[{\"kty\":1}]}",
        "{\"keys\":[{\"kty\":\"oct\",\"alg\":\"HS256\",\"k\":\"c2hvcnQ\"}]}",  /* short secret */
        "{\"keys\":[],\"keys\":[]}",
        offdoc,
        mismatch,
    };
    mcp_jwt_verifier *v = tu_verifier(0);
    mcp_error err;
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        mcp_status rc = mcp_jwt_verifier_add_jwks(v, docs[i], strlen(docs[i]), &err);
        if (rc != MCP_ERR_INVALID_ARG)
            fail_msg("doc %zu accepted: %s", i, mcp_status_name(rc));
    }
    assert_int_equal(mcp_jwt_verifier_key_count(v), 0);
    mcp_jwt_verifier_free(v);
    mcp__free(mm);
    mcp__free(offcurve);
    mcp__free(y2);
    mcp__free(yb);
    json_decref(bad_curve);
    free(ec);
}

/* ------------------------------------------------------------------------------------------ */
/* The principal                                                                              */

static void
jwt_principal_carries_claims(void **state)
{
    (void)state;
    mcp_jwt_verifier *v = tu_verifier(0);
    mcp_error err;
    assert_int_equal(mcp_jwt_verifier_add_hmac(v, "k1", "HS256", fx.hs, 32, &err), MCP_OK);
    int64_t now = mcp__unix_now();
    char *t = tu_mint("HS256", fx.hs, 32, "k1", "user-9", now, 300,
                      ",\"name\":\"Ada\",\"azp\":\"cli-azp\",\"jti\":\"j-1\","
                      "\"permissions\":[\"P.Read\"],\"scope\":\"s1 s2\",\"scp\":[\"s2\",\"s3\"]");
    mcp_principal *p = NULL;
    assert_int_equal(mcp_jwt_verify(v, t, strlen(t), &p, &err), MCP_OK);
    assert_int_equal(mcp_principal_kind(p), MCP_CRED_JWT);
    assert_string_equal(mcp_principal_subject(p), "user-9");
    assert_string_equal(mcp_principal_name(p), "Ada");
    assert_string_equal(mcp_principal_issuer(p), TU_ISS);
    assert_string_equal(mcp_principal_client_id(p), "cli-azp");
    assert_string_equal(mcp_principal_key_id(p), "k1");
    assert_string_equal(mcp_principal_jti(p), "j-1");
    assert_int_equal(mcp_principal_expires_at(p), now + 300);
    assert_int_equal(mcp_principal_permission_count(p), 4);
    assert_true(mcp_principal_has(p, "P.Read"));
    assert_true(mcp_principal_has(p, "s1"));
    assert_true(mcp_principal_has(p, "s3"));
    /* claims_json is exactly the signed payload */
    size_t i1 = strcspn(t, "."), i2 = i1 + 1 + strcspn(t + i1 + 1, ".");
    unsigned char *payload;
    size_t plen;
    assert_int_equal(mcp__b64url_decode(t + i1 + 1, i2 - i1 - 1, &payload, &plen), MCP_OK);
    assert_string_equal(mcp_principal_claims_json(p), (const char *)payload);
    mcp__free(payload);
    mcp_principal_unref(p);
    mcp_free(t);

    /* client_id wins over azp */
    t = tu_mint("HS256", fx.hs, 32, "k1", "u", now, 300,
                ",\"azp\":\"a\",\"client_id\":\"c\"");
    assert_int_equal(mcp_jwt_verify(v, t, strlen(t), &p, &err), MCP_OK);
    assert_string_equal(mcp_principal_client_id(p), "c");
    assert_null(mcp_principal_name(p));
    assert_null(mcp_principal_jti(p));
    mcp_principal_unref(p);
    mcp_free(t);

    /* a client-credentials token (sub = the client's id, RFC 9068 section 2.2) is the subject
     * "client:<id>", as an introspected one: a client named like a user is not that user */
    t = tu_mint("HS256", fx.hs, 32, "k1", "admin", now, 300, ",\"client_id\":\"admin\"");
    assert_int_equal(mcp_jwt_verify(v, t, strlen(t), &p, &err), MCP_OK);
    assert_string_equal(mcp_principal_subject(p), "client:admin");
    assert_string_equal(mcp_principal_client_id(p), "admin");
    mcp_principal_unref(p);
    mcp_free(t);
    t = tu_mint("HS256", fx.hs, 32, "k1", "svc", now, 300, ",\"azp\":\"svc\"");
    assert_int_equal(mcp_jwt_verify(v, t, strlen(t), &p, &err), MCP_OK);
    assert_string_equal(mcp_principal_subject(p), "client:svc");
    mcp_principal_unref(p);
    mcp_free(t);
    /* a user token naming itself a client is refused */
    t = tu_mint("HS256", fx.hs, 32, "k1", "client:svc", now, 300, ",\"azp\":\"web\"");
    p = NULL;
    assert_int_equal(mcp_jwt_verify(v, t, strlen(t), &p, &err), MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "malformed token: sub");
    assert_null(p);
    mcp_free(t);
    mcp_jwt_verifier_free(v);
}

static void
jwt_errors_never_echo_claims(void **state)
{
    (void)state;
    mcp_jwt_verifier *v = tu_verifier(0);
    mcp_error err;
    assert_int_equal(mcp_jwt_verifier_add_hmac(v, "k1", "HS256", fx.hs, 32, &err), MCP_OK);
    char *tok = NULL;
    mcp_principal *p = NULL;
    const char *bodies[] = {
        "{\"iss\":\"SECRETISS\",\"aud\":\"" TU_AUD "\",\"sub\":\"SECRETSUB\",\"exp\":{{now+60}}}",
        "{\"iss\":\"" TU_ISS "\",\"aud\":\"SECRETAUD\",\"sub\":\"SECRETSUB\",\"exp\":{{now+60}}}",
        "{\"iss\":\"" TU_ISS "\",\"aud\":\"" TU_AUD "\",\"sub\":\"SECRETSUB\",\"exp\":{{now+60}},"
        "\"permissions\":\"SECRETPERM\"}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        char *claims = subst_now(bodies[i], mcp__unix_now());
        assert_int_equal(mcp_jwt_sign("HS256", fx.hs, 32, claims, "k1", &tok, &err), MCP_OK);
        free(claims);
        assert_int_equal(mcp_jwt_verify(v, tok, strlen(tok), &p, &err), MCP_ERR_UNAUTHENTICATED);
        assert_null(strstr(err.message, "SECRET"));
        assert_null(p);
        mcp_free(tok);
    }
    mcp_jwt_verifier_free(v);
}

/* ------------------------------------------------------------------------------------------ */
/* The cache                                                                                  */

static void
jwt_cache_hit_returns_same_principal(void **state)
{
    (void)state;
    mcp_jwt_verifier *v = tu_verifier(100);
    mcp_error err;
    assert_int_equal(mcp_jwt_verifier_add_pem(v, "e", "ES256", fx.ec256_pub, strlen(fx.ec256_pub),
                                              &err), MCP_OK);
    char *t = tu_mint("ES256", fx.ec256_priv, strlen(fx.ec256_priv), "e", "u", mcp__unix_now(), 60,
                      NULL);
    mcp_principal *a = NULL, *b = NULL;
    assert_int_equal(mcp_jwt_verify(v, t, strlen(t), &a, &err), MCP_OK);
    assert_int_equal(mcp_jwt_verify(v, t, strlen(t), &b, &err), MCP_OK);
    assert_ptr_equal(a, b);
    mcp__jwt_cache_stats st;
    mcp__jwt_verifier_cache_stats(v, &st);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.entries, 1);
    mcp_principal_unref(a);
    mcp_principal_unref(b);
    /* the cache holds its own reference: the principal outlives the callers' ones */
    mcp_principal *c = NULL;
    assert_int_equal(mcp_jwt_verify(v, t, strlen(t), &c, &err), MCP_OK);
    assert_string_equal(mcp_principal_subject(c), "u");
    /* ... and the callers' references outlive the verifier */
    mcp_jwt_verifier_free(v);
    assert_string_equal(mcp_principal_subject(c), "u");
    mcp_principal_unref(c);
    mcp_free(t);
}

static void
jwt_cache_does_not_accept_after_exp(void **state)
{
    (void)state;
    mcp_jwt_opts o;
    mcp_jwt_opts_default(&o);
    o.issuer = TU_ISS;
    o.audience = TU_AUD;
    o.leeway_s = 0;
    mcp_jwt_verifier *v;
    mcp_error err;
    assert_int_equal(mcp_jwt_verifier_new(&o, &v, &err), MCP_OK);
    int64_t now = 2000000000;
    mcp__jwt_verifier_set_clock(v, tu_clock, &now);
    assert_int_equal(mcp_jwt_verifier_add_hmac(v, NULL, "HS256", fx.hs, 32, &err), MCP_OK);
    char *t = tu_mint("HS256", fx.hs, 32, NULL, "u", now, 10, NULL);
    mcp_principal *p = NULL;
    assert_int_equal(mcp_jwt_verify(v, t, strlen(t), &p, &err), MCP_OK);
    mcp_principal_unref(p);
    now += 9;
    assert_int_equal(mcp_jwt_verify(v, t, strlen(t), &p, &err), MCP_OK);
    mcp_principal_unref(p);
    now += 1;                                      /* == exp */
    assert_int_equal(mcp_jwt_verify(v, t, strlen(t), &p, &err), MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "token expired");
    assert_null(p);
    mcp__jwt_cache_stats st;
    mcp__jwt_verifier_cache_stats(v, &st);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.entries, 0);
    mcp_free(t);
    mcp_jwt_verifier_free(v);
}

static void
jwt_cache_cleared_on_key_change_and_bounded(void **state)
{
    (void)state;
    mcp_jwt_verifier *v = tu_verifier(4);
    mcp_error err;
    assert_int_equal(mcp_jwt_verifier_add_hmac(v, NULL, "HS256", fx.hs, 32, &err), MCP_OK);
    int64_t now = mcp__unix_now();
    mcp_principal *p = NULL;
    char sub[16];
    for (int i = 0; i < 20; i++) {
        snprintf(sub, sizeof sub, "u%d", i);
        char *t = tu_mint("HS256", fx.hs, 32, NULL, sub, now, 60, NULL);
        assert_int_equal(mcp_jwt_verify(v, t, strlen(t), &p, &err), MCP_OK);
        mcp_principal_unref(p);
        mcp_free(t);
    }
    mcp__jwt_cache_stats st;
    mcp__jwt_verifier_cache_stats(v, &st);
    assert_int_equal(st.entries, 4);
    assert_int_equal(st.evictions, 16);

    assert_int_equal(mcp_jwt_verifier_add_hmac(v, "other", "HS384", fx.hs, 48, &err), MCP_OK);
    mcp__jwt_verifier_cache_stats(v, &st);
    assert_int_equal(st.entries, 0);

    /* rejections are not cached */
    char *bad = tu_mint("HS256", fx.hs + 1, 32, NULL, "u", now, 60, NULL);
    for (int i = 0; i < 3; i++)
        assert_int_equal(mcp_jwt_verify(v, bad, strlen(bad), &p, &err), MCP_ERR_UNAUTHENTICATED);
    mcp__jwt_verifier_cache_stats(v, &st);
    assert_int_equal(st.entries, 0);
    mcp_free(bad);
    mcp_jwt_verifier_free(v);
}

/* ------------------------------------------------------------------------------------------ */
/* Threads                                                                                    */

typedef struct worker {
    mcp_jwt_verifier *v;
    char **tokens;
    size_t ntokens;
    int ok, bad;
} worker;

static void *
verify_worker(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < 300; i++) {
        const char *t = w->tokens[(size_t)i % w->ntokens];
        mcp_principal *p = NULL;
        mcp_error err;
        if (mcp_jwt_verify(w->v, t, strlen(t), &p, &err) == MCP_OK && p != NULL)
            w->ok++;
        else
            w->bad++;
        mcp_principal_unref(p);
    }
    return NULL;
}

static void
jwt_concurrent_verify_while_keys_change(void **state)
{
    (void)state;
    mcp_jwt_verifier *v = tu_verifier(16);
    mcp_error err;
    assert_int_equal(mcp_jwt_verifier_add_hmac(v, "h", "HS256", fx.hs, 32, &err), MCP_OK);
    assert_int_equal(mcp_jwt_verifier_add_pem(v, "e", "ES256", fx.ec256_pub, strlen(fx.ec256_pub),
                                              &err), MCP_OK);
    int64_t now = mcp__unix_now();
    char *tokens[6];
    for (int i = 0; i < 6; i++) {
        char sub[8];
        snprintf(sub, sizeof sub, "u%d", i);
        tokens[i] = i % 2 ? tu_mint("HS256", fx.hs, 32, "h", sub, now, 60, NULL)
                          : tu_mint("ES256", fx.ec256_priv, strlen(fx.ec256_priv), "e", sub, now,
                                    60, NULL);
    }
    worker w[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        w[i] = (worker){ v, tokens, 6, 0, 0 };
        pthread_create(&th[i], NULL, verify_worker, &w[i]);
    }
    for (int i = 0; i < 20; i++) {                 /* key set changes clear the cache */
        char kid[8];
        snprintf(kid, sizeof kid, "x%d", i);
        assert_int_equal(mcp_jwt_verifier_add_hmac(v, kid, "HS512", fx.hs, 64, &err), MCP_OK);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].ok, 300);
        assert_int_equal(w[i].bad, 0);
    }
    assert_int_equal(mcp_jwt_verifier_key_count(v), 22);
    for (int i = 0; i < 6; i++)
        mcp_free(tokens[i]);
    mcp_jwt_verifier_free(v);
}

/* ------------------------------------------------------------------------------------------ */
/* Signing and inspection                                                                     */

static void
jwt_sign_checks_key_and_claims(void **state)
{
    (void)state;
    char *tok = NULL;
    mcp_error err;
    const char *claims = "{\"sub\":\"u\",\"exp\":1}";
    assert_int_equal(mcp_jwt_sign("ES256", fx.rsa_priv, strlen(fx.rsa_priv), claims, NULL, &tok,
                                  &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp_jwt_sign("ES384", fx.ec256_priv, strlen(fx.ec256_priv), claims, NULL,
                                  &tok, &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp_jwt_sign("HS256", fx.hs, 16, claims, NULL, &tok, &err),
                     MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp_jwt_sign("none", fx.hs, 32, claims, NULL, &tok, &err),
                     MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp_jwt_sign("RS256", fx.rsa_pub, strlen(fx.rsa_pub), claims, NULL, &tok,
                                  &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp_jwt_sign("HS256", fx.hs, 32, "[1]", NULL, &tok, &err),
                     MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp_jwt_sign("HS256", fx.hs, 32, "{\"a\":1,\"a\":2}", NULL, &tok, &err),
                     MCP_ERR_INVALID_ARG);
    assert_null(tok);

    /* alg inferred from the key; header carries alg, typ and kid */
    assert_int_equal(mcp_jwt_sign(NULL, fx.ed_priv, strlen(fx.ed_priv), claims, "kid-1", &tok,
                                  &err), MCP_OK);
    char *h = NULL, *pl = NULL;
    assert_int_equal(mcp_jwt_decode_unverified(tok, strlen(tok), &h, &pl, &err), MCP_OK);
    json_t *hj = json_loads(h, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(hj, "alg")), "EdDSA");
    assert_string_equal(json_string_value(json_object_get(hj, "kid")), "kid-1");
    assert_string_equal(json_string_value(json_object_get(hj, "typ")), "JWT");
    json_decref(hj);
    assert_non_null(strstr(pl, "\"sub\""));
    mcp_free(h);
    mcp_free(pl);

    /* the unverified decoder rejects what the verifier would reject structurally */
    assert_int_equal(mcp_jwt_decode_unverified("a.b", 3, &h, &pl, &err), MCP_ERR_PARSE);
    assert_int_equal(mcp_jwt_decode_unverified("e30.W10.x", 9, &h, &pl, &err), MCP_ERR_PARSE);
    assert_string_equal(err.message, "malformed token: payload");
    assert_null(h);
    assert_int_equal(mcp_jwt_decode_unverified("e30.e30.", 8, &h, &pl, &err), MCP_OK);
    assert_string_equal(h, "{}");
    mcp_free(h);
    mcp_free(pl);
    mcp_free(tok);
}

/* ---- mcp_jwt_verify_ex: the digest hook ------------------------------------------------- */

typedef struct seen {
    int           calls;
    unsigned char sha[32];
    bool          had;
    mcp_status    answer;
} seen;

static mcp_status
on_digest(void *ctx, const unsigned char *sha256, mcp_error *err)
{
    seen *s = ctx;
    s->calls++;
    s->had = sha256 != NULL;
    if (sha256 != NULL)
        memcpy(s->sha, sha256, 32);
    if (s->answer != MCP_OK)
        return mcp_error_set(err, s->answer, "refused by the hook");
    return MCP_OK;
}

static void
jwt_verify_ex_hands_out_the_digest_once(void **state)
{
    (void)state;
    static const char secret[] = "0123456789abcdef0123456789abcdef";
    for (size_t cache = 0; cache <= 16; cache += 16) {
        mcp_jwt_verifier *v = tu_verifier(cache);
        mcp_error err;
        assert_int_equal(mcp_jwt_verifier_add_hmac(v, NULL, "HS256", secret, sizeof secret - 1,
                                                   &err), MCP_OK);
        int64_t now = mcp__unix_now();
        char *tok = tu_mint("HS256", secret, sizeof secret - 1, NULL, "u", now, 60, NULL);
        unsigned char want[32];
        assert_true(mcp__sha256(tok, strlen(tok), want));
        for (int round = 0; round < 2; round++) {       /* the second is a cache hit (16) */
            seen s = { 0 };
            mcp_principal *p = NULL;
            assert_int_equal(mcp_jwt_verify_ex(v, tok, strlen(tok), round == 0, on_digest, &s,
                                               &p, &err), MCP_OK);
            assert_int_equal(s.calls, 1);
            assert_true(s.had);
            assert_memory_equal(s.sha, want, 32);
            assert_string_equal(mcp_principal_subject(p), "u");
            mcp_principal_unref(p);
        }
        /* the hook refuses: its status, nothing verified, no principal */
        seen no = { .answer = MCP_ERR_RATE_LIMITED };
        mcp_principal *p = (mcp_principal *)&no;
        assert_int_equal(mcp_jwt_verify_ex(v, tok, strlen(tok), false, on_digest, &no, &p, &err),
                         MCP_ERR_RATE_LIMITED);
        assert_null(p);
        assert_string_equal(err.message, "refused by the hook");
        /* a forged token: the hook still sees it first, the verifier refuses it */
        tok[strlen(tok) - 2] = tok[strlen(tok) - 2] == 'A' ? 'B' : 'A';
        seen s2 = { 0 };
        assert_int_equal(mcp_jwt_verify_ex(v, tok, strlen(tok), false, on_digest, &s2, &p, &err),
                         MCP_ERR_UNAUTHENTICATED);
        assert_int_equal(s2.calls, 1);
        assert_null(p);
        /* without a hook: as mcp_jwt_verify */
        assert_int_equal(mcp_jwt_verify_ex(v, tok, strlen(tok), true, NULL, NULL, &p, &err),
                         MCP_ERR_UNAUTHENTICATED);
        /* an empty token: the hook hears of no digest, the verifier refuses */
        seen s3 = { 0 };
        assert_int_equal(mcp_jwt_verify_ex(v, "", 0, false, on_digest, &s3, &p, &err),
                         MCP_ERR_UNAUTHENTICATED);
        assert_int_equal(s3.calls, 1);
        assert_false(s3.had);
        mcp_free(tok);
        mcp_jwt_verifier_free(v);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jwt_verify_ex_hands_out_the_digest_once),
        cmocka_unit_test(jwt_vectors),
        cmocka_unit_test(jwt_verifier_requires_issuer_and_audience),
        cmocka_unit_test(jwt_add_pem_infers_alg_and_rejects_mismatch),
        cmocka_unit_test(jwt_add_hmac_rules),
        cmocka_unit_test(jwt_jwks_file_with_two_keys),
        cmocka_unit_test(jwt_jwks_oct_and_eddsa),
        cmocka_unit_test(jwt_jwks_rejects_malformed),
        cmocka_unit_test(jwt_principal_carries_claims),
        cmocka_unit_test(jwt_errors_never_echo_claims),
        cmocka_unit_test(jwt_cache_hit_returns_same_principal),
        cmocka_unit_test(jwt_cache_does_not_accept_after_exp),
        cmocka_unit_test(jwt_cache_cleared_on_key_change_and_bounded),
        cmocka_unit_test(jwt_concurrent_verify_while_keys_change),
        cmocka_unit_test(jwt_sign_checks_key_and_claims),
    };
    return cmocka_run_group_tests(tests, fixture_setup, fixture_teardown);
}
