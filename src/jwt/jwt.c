/*
 * JWT verification: the verifier object and mcp_jwt_verify().
 *
 * Order of checks (docs/design/jwt.md): size -> cache -> segments -> header (base64url, JSON,
 * alg, crit, b64, kid, typ) -> signature encoding -> key selection by (alg, kid) among the
 * configured keys -> signature -> payload (base64url, JSON) -> claims (exp, nbf, iat, iss, aud,
 * sub, optional members' types) -> principal -> cache.
 *
 * The payload is parsed only after the signature verified: until then it is attacker-chosen
 * bytes, and jansson need not see them. The header must be parsed first because it names the
 * algorithm and key, but it only *selects* among keys that were configured with that algorithm.
 */
#include "jwt/internal.h"

#include <openssl/sha.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_LEEWAY_S      60
#define DEFAULT_MAX_TOKEN     8192
#define DEFAULT_MAX_DEPTH     16
#define DEFAULT_CACHE_SIZE    10000
#define DEFAULT_JWKS_REFRESH  300
#define DEFAULT_JWKS_MIN      30
#define DEFAULT_JWKS_TIMEOUT  5000
#define DEFAULT_JWKS_MAX      (256 * 1024)
#define MAX_KEY_TRIES         8      /* signature checks per token when several keys match */
#define MAX_SECRET_FILE       (64 * 1024)
#define MAX_JWKS_FILE         (1024 * 1024)
#define JSON_NUM_LIMIT        9007199254740992.0   /* 2^53: beyond it doubles lose seconds */

void
mcp_jwt_opts_default(mcp_jwt_opts *o)
{
    memset(o, 0, sizeof *o);
    o->leeway_s = DEFAULT_LEEWAY_S;
    o->max_token_len = DEFAULT_MAX_TOKEN;
    o->max_json_depth = DEFAULT_MAX_DEPTH;
    o->cache_size = DEFAULT_CACHE_SIZE;
    o->jwks_refresh_s = DEFAULT_JWKS_REFRESH;
    o->jwks_min_interval_s = DEFAULT_JWKS_MIN;
    o->jwks_timeout_ms = DEFAULT_JWKS_TIMEOUT;
    o->jwks_max_bytes = DEFAULT_JWKS_MAX;
}

static int64_t
wall_clock(void *ctx)
{
    (void)ctx;
    return mcp__unix_now();
}

static bool
dup_opt(char **dst, const char *src)
{
    if (src == NULL || src[0] == '\0') {
        *dst = NULL;
        return true;
    }
    return (*dst = mcp__strdup(src)) != NULL;
}

mcp_status
mcp_jwt_verifier_new(const mcp_jwt_opts *opts, mcp_jwt_verifier **out, mcp_error *err)
{
    if (out == NULL || opts == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "missing argument");
    *out = NULL;
    if ((opts->issuer == NULL || opts->issuer[0] == '\0') && !opts->allow_no_issuer)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "JWT verifier needs an issuer (or allow_no_issuer)");
    if ((opts->audience == NULL || opts->audience[0] == '\0') && !opts->allow_no_audience)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "JWT verifier needs an audience (or allow_no_audience)");
    if (opts->max_token_len == 0 || opts->max_json_depth == 0)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "max_token_len and max_json_depth > 0");
    if (opts->jwks_max_bytes == 0 || opts->jwks_timeout_ms == 0)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "jwks_max_bytes and jwks_timeout_ms > 0");

    mcp_jwt_verifier *v = mcp__calloc(1, sizeof *v);
    if (v == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    v->opts = *opts;
    pthread_mutex_init(&v->lock, NULL);
    v->clock = wall_clock;
    if (!dup_opt(&v->issuer, opts->issuer) || !dup_opt(&v->audience, opts->audience) ||
        !dup_opt(&v->typ, opts->typ) || (v->local = mcp__jwt_keyset_new()) == NULL ||
        (opts->cache_size > 0 && (v->cache = mcp__jwt_cache_new(opts->cache_size)) == NULL)) {
        mcp_jwt_verifier_free(v);
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    }
    v->opts.issuer = v->issuer;
    v->opts.audience = v->audience;
    v->opts.typ = v->typ;
    mcp_status rc = mcp__jwt_claims_setup(v, opts, err);
    if (rc != MCP_OK) {
        mcp_jwt_verifier_free(v);
        return rc;
    }
    v->opts.claims_profile = NULL; /* parsed into v; the caller's strings are not kept */
    v->opts.claims_client = NULL;
    v->opts.allowed_tenants = NULL;
    v->opts.permission_map = NULL;
    v->opts.subject_claim = NULL; /* parsed into v->sub_path etc. */
    v->opts.name_claim = NULL;
    v->opts.client_id_claim = NULL;
    v->opts.permission_claims = NULL;
    *out = v;
    return MCP_OK;
}

mcp_status
mcp_jwt_verifier_add_issuer(mcp_jwt_verifier *v, mcp_jwt_verifier *issuer, mcp_error *err)
{
    mcp_status rc = MCP_OK;
    if (v == NULL || issuer == NULL || issuer == v || issuer->issuer == NULL)
        rc = mcp_error_set(err, MCP_ERR_INVALID_ARG, "the issuer's verifier needs an issuer");
    else if (issuer->n_issuers > 0)
        rc = mcp_error_set(err, MCP_ERR_INVALID_ARG, "trusted issuers do not nest");
    for (size_t i = 0; rc == MCP_OK && i <= v->n_issuers; i++) {
        const char *have = i < v->n_issuers ? v->issuers[i]->issuer : v->issuer;
        if (have != NULL && strcmp(have, issuer->issuer) == 0)
            rc = mcp_error_set(err, MCP_ERR_INVALID_ARG, "issuer trusted twice");
    }
    mcp_jwt_verifier **a = NULL;
    if (rc == MCP_OK) {
        a = mcp__realloc(v->issuers, (v->n_issuers + 1) * sizeof *a);
        if (a == NULL)
            rc = mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    }
    if (rc != MCP_OK) {
        if (issuer != v)
            mcp_jwt_verifier_free(issuer);
        return rc;
    }
    a[v->n_issuers++] = issuer;
    v->issuers = a;
    return MCP_OK;
}

void
mcp_jwt_verifier_free(mcp_jwt_verifier *v)
{
    if (v == NULL)
        return;
    mcp__jwks_src_free(v->jwks);          /* joins the refresh thread before anything goes */
    for (size_t i = 0; i < v->n_issuers; i++)
        mcp_jwt_verifier_free(v->issuers[i]);
    mcp__free(v->issuers);
    mcp__jwt_claims_cleanup(v);
    mcp__jwt_keyset_unref(v->local);
    mcp__jwt_keyset_unref(v->remote);
    mcp__jwt_cache_free(v->cache);
    mcp__free(v->issuer);
    mcp__free(v->audience);
    mcp__free(v->typ);
    pthread_mutex_destroy(&v->lock);
    mcp__free(v);
}

void
mcp__jwt_verifier_set_clock(mcp_jwt_verifier *v, mcp__jwt_clock_fn fn, void *ctx)
{
    v->clock = fn ? fn : wall_clock;
    v->clock_ctx = fn ? ctx : NULL;
}

void
mcp__jwt_verifier_cache_stats(const mcp_jwt_verifier *v, mcp__jwt_cache_stats *st)
{
    mcp__jwt_cache_get_stats(v->cache, st);
}

size_t
mcp_jwt_verifier_key_count(const mcp_jwt_verifier *cv)
{
    mcp_jwt_verifier *v = (mcp_jwt_verifier *)cv;
    if (v == NULL)
        return 0;
    pthread_mutex_lock(&v->lock);
    size_t n = v->local->n + (v->remote ? v->remote->n : 0);
    pthread_mutex_unlock(&v->lock);
    return n;
}

/* ------------------------------------------------------------------------------------------ */
/* Publishing key sets                                                                        */

/* The JWKS source's install callback: swap the remote set under the lock, bump the generation
 * and clear the cache. Takes ownership of set. */
static void
install_remote(void *ctx, mcp__jwt_keyset *set)
{
    mcp_jwt_verifier *v = ctx;
    pthread_mutex_lock(&v->lock);
    mcp__jwt_keyset *old = v->remote;
    v->remote = set;
    uint64_t gen = ++v->gen;
    pthread_mutex_unlock(&v->lock);
    mcp__jwt_cache_clear(v->cache, gen);
    mcp__jwt_keyset_unref(old);           /* in-flight verifications may still hold it */
}

/* Publish local + add as the new local set. Consumes add. Holding the lock while copying keeps
 * concurrent add_* calls from losing each other's keys; it is setup-time work only. */
static mcp_status
add_local(mcp_jwt_verifier *v, mcp__jwt_keyset *add, mcp_error *err)
{
    mcp__jwt_keyset *set = mcp__jwt_keyset_new();
    if (set == NULL) {
        mcp__jwt_keyset_unref(add);
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    }
    pthread_mutex_lock(&v->lock);
    mcp_status rc = mcp__jwt_keyset_copy_from(set, v->local);
    if (rc == MCP_OK)
        rc = mcp__jwt_keyset_copy_from(set, add);
    if (rc != MCP_OK) {
        pthread_mutex_unlock(&v->lock);
        mcp__jwt_keyset_unref(set);
        mcp__jwt_keyset_unref(add);
        return mcp_error_set(err, rc, rc == MCP_ERR_TOO_LARGE ? "too many keys" : NULL);
    }
    mcp__jwt_keyset *old = v->local;
    v->local = set;
    uint64_t gen = ++v->gen;
    pthread_mutex_unlock(&v->lock);
    mcp__jwt_cache_clear(v->cache, gen);
    mcp__jwt_keyset_unref(old);
    mcp__jwt_keyset_unref(add);
    return MCP_OK;
}

static mcp_status
add_one(mcp_jwt_verifier *v, mcp__jwt_key *k, mcp_error *err)
{
    mcp__jwt_keyset *add = mcp__jwt_keyset_new();
    if (add == NULL) {
        mcp__jwt_key_cleanup(k);
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    }
    mcp_status rc = mcp__jwt_keyset_take(add, k);
    if (rc != MCP_OK) {
        mcp__jwt_keyset_unref(add);
        return mcp_error_set(err, rc, NULL);
    }
    return add_local(v, add, err);
}

mcp_status
mcp_jwt_verifier_add_hmac(mcp_jwt_verifier *v, const char *kid, const char *alg,
                          const void *secret, size_t len, mcp_error *err)
{
    if (v == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no verifier");
    mcp__jwt_key k;
    mcp_status rc = mcp__jwt_key_from_hmac(kid, alg, secret, len, &k, err);
    return rc != MCP_OK ? rc : add_one(v, &k, err);
}

/* Read a key file and add it as an HMAC secret (one trailing newline ignored, buffer wiped)
 * or as a PEM public key. */
static mcp_status
add_file(mcp_jwt_verifier *v, const char *kid, const char *alg, const char *path, bool secret,
         mcp_error *err)
{
    char *buf;
    size_t len;
    mcp_status rc = mcp__jwt_read_file(path, MAX_SECRET_FILE, &buf, &len, err);
    if (rc != MCP_OK)
        return rc;
    if (secret) {
        size_t use = len;
        if (use > 0 && buf[use - 1] == '\n')   /* exactly one: editors add it, nothing else */
            use--;
        rc = mcp_jwt_verifier_add_hmac(v, kid, alg, buf, use, err);
    } else {
        rc = mcp_jwt_verifier_add_pem(v, kid, alg, buf, len, err);
    }
    mcp_memzero(buf, len);
    mcp__free(buf);
    return rc;
}

mcp_status
mcp_jwt_verifier_add_hmac_file(mcp_jwt_verifier *v, const char *kid, const char *alg,
                               const char *path, mcp_error *err)
{
    return add_file(v, kid, alg, path, true, err);
}

mcp_status
mcp_jwt_verifier_add_pem(mcp_jwt_verifier *v, const char *kid, const char *alg, const char *pem,
                         size_t len, mcp_error *err)
{
    if (v == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no verifier");
    mcp__jwt_key k;
    mcp_status rc = mcp__jwt_key_from_pem(kid, alg, pem, len, &k, err);
    return rc != MCP_OK ? rc : add_one(v, &k, err);
}

mcp_status
mcp_jwt_verifier_add_pem_file(mcp_jwt_verifier *v, const char *kid, const char *alg,
                              const char *path, mcp_error *err)
{
    return add_file(v, kid, alg, path, false, err);
}

mcp_status
mcp_jwt_verifier_add_jwks(mcp_jwt_verifier *v, const char *json, size_t len, mcp_error *err)
{
    if (v == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no verifier");
    mcp__jwt_keyset *set;
    mcp_status rc = mcp__jwt_jwks_parse(json, len, true, &set, err);
    return rc != MCP_OK ? rc : add_local(v, set, err);
}

mcp_status
mcp_jwt_verifier_add_jwks_file(mcp_jwt_verifier *v, const char *path, mcp_error *err)
{
    char *buf;
    size_t len;
    mcp_status rc = mcp__jwt_read_file(path, MAX_JWKS_FILE, &buf, &len, err);
    if (rc != MCP_OK)
        return rc;
    rc = mcp_jwt_verifier_add_jwks(v, buf, len, err);
    mcp_memzero(buf, len);                 /* a local JWKS may hold oct secrets */
    mcp__free(buf);
    return rc;
}

mcp_status
mcp_jwt_verifier_set_jwks_url(mcp_jwt_verifier *v, const char *url, mcp_error *err)
{
    if (v == NULL || url == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "missing argument");
    if (v->jwks != NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "JWKS URL already set");
    mcp__jwks_src *src = NULL;
    mcp_status rc = mcp__jwks_src_new(url, &v->opts, install_remote, v, &src, err);
    if (rc != MCP_OK)
        return rc;
    if ((rc = mcp__jwks_src_refresh(src, true, err)) != MCP_OK) {
        mcp__jwks_src_free(src);
        return rc;
    }
    v->jwks = src;
    mcp__jwks_src_start(src);
    return MCP_OK;
}

/* A JWKS source whose first fetch may fail: logged, retried in the background with backoff. */
static mcp_status
start_source(mcp_jwt_verifier *v, const char *url, mcp_error *err)
{
    if (v == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "missing argument");
    if (v->jwks != NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "JWKS URL already set");
    if (url == NULL && v->issuer == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "JWKS discovery needs an issuer");
    mcp__jwks_src *src = NULL;
    mcp_status rc = mcp__jwks_src_new(url, &v->opts, install_remote, v, &src, err);
    if (rc != MCP_OK)
        return rc;
    mcp_error e;
    mcp_error_clear(&e);
    rc = mcp__jwks_src_refresh(src, true, &e);
    if (rc == MCP_ERR_NOMEM) {
        mcp__jwks_src_free(src);
        return mcp_error_set(err, rc, NULL);
    }
    if (rc != MCP_OK)
        mcp__log(MCP__LOG_WARN, "jwt", "no signing keys at start-up, retrying in the background "
                 "(tokens are answered 503 until keys arrive): %s", e.message);
    v->jwks = src;
    mcp__jwks_src_start(src);
    return MCP_OK;
}

mcp_status
mcp_jwt_verifier_start_jwks_url(mcp_jwt_verifier *v, const char *url, mcp_error *err)
{
    if (url == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "missing argument");
    return start_source(v, url, err);
}

mcp_status
mcp_jwt_verifier_discover_jwks(mcp_jwt_verifier *v, mcp_error *err)
{
    return start_source(v, NULL, err);
}

bool
mcp_jwt_verifier_keys_ready(const mcp_jwt_verifier *v, char *why, size_t cap)
{
    if (v == NULL)
        return false;
    if (v->jwks != NULL && !mcp__jwks_src_status(v->jwks, why, cap))
        return false;
    for (size_t i = 0; i < v->n_issuers; i++)
        if (!mcp_jwt_verifier_keys_ready(v->issuers[i], why, cap))
            return false;
    return true;
}

mcp_status
mcp_jwt_verifier_refresh_jwks(mcp_jwt_verifier *v, mcp_error *err)
{
    if (v == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no verifier");
    if (v->jwks == NULL)
        return mcp_error_set(err, MCP_ERR_STATE, "no JWKS URL configured");
    return mcp__jwks_src_refresh(v->jwks, true, err);
}

/* ------------------------------------------------------------------------------------------ */
/* Parsing helpers                                                                            */

/* base64url segment -> exactly one JSON object. *raw keeps the decoded bytes (NUL-terminated). */
static mcp_status
decode_segment(const mcp_jwt_verifier *v, const char *seg, size_t len, const char *what,
               json_t **out, unsigned char **raw, mcp_error *err)
{
    size_t rawlen = 0;
    *out = NULL;
    *raw = NULL;
    mcp_status rc = mcp__b64url_decode(seg, len, raw, &rawlen);
    if (rc == MCP_ERR_NOMEM)
        return mcp_error_set(err, rc, NULL);
    if (rc != MCP_OK || rawlen == 0)
        goto bad;
    /* A NUL byte would make claims_json differ from what was signed; jansson would reject it
     * anyway, but saying so here keeps that independent of jansson's build options. */
    if (memchr(*raw, '\0', rawlen) != NULL ||
        !mcp__jwt_json_depth_ok(*raw, rawlen, v->opts.max_json_depth))
        goto bad;
    json_error_t jerr;
    /* JSON_REJECT_DUPLICATES: {"sub":"a","sub":"admin"} must not mean one thing to us and
     * another to whoever signed it. No JSON_DECODE_ANY and no JSON_DISABLE_EOF_CHECK: exactly
     * one object, nothing after it but whitespace. */
    *out = json_loadb((const char *)*raw, rawlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(*out))
        goto bad;
    return MCP_OK;
bad:
    json_decref(*out);
    *out = NULL;
    mcp__free(*raw);
    *raw = NULL;
    return mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "malformed token: %s", what);
}

/* "at+jwt" == "application/at+JWT" (RFC 7515 section 4.1.9, RFC 8725 section 3.11). */
static bool
typ_matches(const char *want, const char *got)
{
    static const char prefix[] = "application/";
    size_t pl = sizeof prefix - 1;
    if (strlen(got) > pl && strncasecmp(got, prefix, pl) == 0 && strchr(got + pl, '/') == NULL)
        got += pl;
    if (strlen(want) > pl && strncasecmp(want, prefix, pl) == 0)
        want += pl;
    return mcp__strcasecmp(want, got) == 0;
}

static mcp_status
unauth(mcp_error *err, const char *what)
{
    return mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "%s", what);
}

/* The header checks that do not involve keys. */
static mcp_status
check_header(const mcp_jwt_verifier *v, const json_t *hdr, mcp__jwt_alg *alg, const char **kid,
             mcp_error *err)
{
    const json_t *a = json_object_get(hdr, "alg");
    if (!json_is_string(a))
        return unauth(err, "malformed token: header");
    if ((*alg = mcp__jwt_alg_parse(json_string_value(a))) == MCP__JWT_ALG_INVALID)
        return unauth(err, "unsupported alg");              /* includes "none" in any case */
    /* RFC 7515 section 4.1.11: when present, crit is an array and MUST NOT be empty. */
    const json_t *crit = json_object_get(hdr, "crit");
    if (crit != NULL && (!json_is_array(crit) || json_array_size(crit) == 0))
        return unauth(err, "malformed token: crit");
    if (json_array_size(crit) > 0)
        return unauth(err, "crit header not supported");    /* we implement no extension */
    /* RFC 7797 unencoded payloads must be listed in crit; a lone b64:false is still a request
     * for semantics we do not implement, so refuse it rather than verify something else. */
    const json_t *b64 = json_object_get(hdr, "b64");
    if (b64 != NULL && !json_is_true(b64))
        return unauth(err, "unsupported header b64");
    const json_t *k = json_object_get(hdr, "kid");
    if (k != NULL && !json_is_string(k))
        return unauth(err, "malformed token: kid");
    *kid = k ? json_string_value(k) : NULL;
    const json_t *typ = json_object_get(hdr, "typ");
    if (typ != NULL && !json_is_string(typ))
        return unauth(err, "malformed token: typ");
    if (v->opts.typ != NULL && (typ == NULL || !typ_matches(v->opts.typ, json_string_value(typ))))
        return unauth(err, "typ mismatch");
    /* jku, x5u, x5c, jwk: deliberately never read. */
    return MCP_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Key selection                                                                              */

typedef enum { SEL_OK, SEL_BAD_SIG, SEL_NO_KID, SEL_ALG_NOT_ALLOWED } sel_result;

static uint64_t
snapshot(mcp_jwt_verifier *v, mcp__jwt_keyset *sets[2])
{
    pthread_mutex_lock(&v->lock);
    sets[0] = mcp__jwt_keyset_ref(v->local);
    sets[1] = mcp__jwt_keyset_ref(v->remote);
    uint64_t gen = v->gen;
    pthread_mutex_unlock(&v->lock);
    return gen;
}

/*
 * Candidates are keys pinned to the token's alg whose kid equals the token's kid (or that have
 * no kid). A token without kid may use any key of its alg. At most MAX_KEY_TRIES signature
 * checks, so a set of many same-alg keys cannot multiply the cost of a forged token unbounded.
 */
static sel_result
select_and_verify(mcp__jwt_keyset *const sets[2], mcp__jwt_alg alg, const char *kid,
                  const unsigned char *input, size_t ilen, const unsigned char *sig,
                  size_t siglen)
{
    bool kid_known = false;
    unsigned tries = 0;
    for (int s = 0; s < 2; s++) {
        const mcp__jwt_keyset *set = sets[s];
        for (size_t i = 0; set != NULL && i < set->n; i++) {
            const mcp__jwt_key *k = &set->keys[i];
            bool kid_eq = kid != NULL && k->kid != NULL && strcmp(kid, k->kid) == 0;
            kid_known |= kid_eq;
            if (k->alg != alg || (kid != NULL && k->kid != NULL && !kid_eq))
                continue;
            if (tries++ >= MAX_KEY_TRIES)
                return SEL_BAD_SIG;
            if (mcp__jwt_sig_verify(k, input, ilen, sig, siglen))
                return SEL_OK;
        }
    }
    if (tries > 0)
        return SEL_BAD_SIG;
    if (kid != NULL && !kid_known)
        return SEL_NO_KID;
    return SEL_ALG_NOT_ALLOWED;
}

/* ------------------------------------------------------------------------------------------ */
/* Claims                                                                                     */

/* Optional NumericDate: 1 present and valid, 0 absent, -1 malformed. */
static int
num_claim(const json_t *claims, const char *name, int64_t *out)
{
    const json_t *m = json_object_get(claims, name);
    if (m == NULL)
        return 0;
    if (!json_is_number(m))
        return -1;
    double d = json_number_value(m);
    if (!(d >= -JSON_NUM_LIMIT && d <= JSON_NUM_LIMIT))
        return -1;
    *out = (int64_t)d;
    return 1;
}

/* Optional string: true when absent or a string. */
static bool
str_claim(const json_t *claims, const char *name, const char **out)
{
    const json_t *m = json_object_get(claims, name);
    *out = json_string_value(m);
    return m == NULL || json_is_string(m);
}

static mcp_status
check_audience(const mcp_jwt_verifier *v, const json_t *claims, mcp_error *err)
{
    const json_t *aud = json_object_get(claims, "aud");
    if (v->audience == NULL)
        return MCP_OK;
    if (aud == NULL)
        return unauth(err, "missing aud");
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), v->audience) == 0 ? MCP_OK
                                                                 : unauth(err, "audience mismatch");
    if (!json_is_array(aud))
        return unauth(err, "malformed token: aud");
    size_t i;
    const json_t *a;
    bool found = false;
    json_array_foreach(aud, i, a) {
        if (!json_is_string(a))
            return unauth(err, "malformed token: aud");
        found |= strcmp(json_string_value(a), v->audience) == 0;
    }
    return found ? MCP_OK : unauth(err, "audience mismatch");
}

static mcp_status
check_times(const mcp_jwt_verifier *v, const json_t *claims, int64_t now, int64_t *exp,
            mcp_error *err)
{
    int64_t leeway = (int64_t)v->opts.leeway_s, nbf = 0, iat = 0;
    int r = num_claim(claims, "exp", exp);
    if (r == 0)
        return unauth(err, "missing exp");
    if (r < 0)
        return unauth(err, "malformed token: exp");
    if (now >= *exp + leeway)
        return unauth(err, "token expired");
    if ((r = num_claim(claims, "nbf", &nbf)) < 0)
        return unauth(err, "malformed token: nbf");
    if (r > 0 && now + leeway < nbf)
        return unauth(err, "token not yet valid");
    if ((r = num_claim(claims, "iat", &iat)) < 0)
        return unauth(err, "malformed token: iat");
    if (r > 0 && iat > now + leeway)
        return unauth(err, "token issued in the future");
    return MCP_OK;
}

/* Add the strings of a JSON array (or the words of a string) as permissions. */
static mcp_status
add_perms(mcp_principal *p, const json_t *m, const char *what, mcp_error *err)
{
    if (m == NULL)
        return MCP_OK;
    if (json_is_string(m))
        return mcp_principal_add_scope_string(p, json_string_value(m), err);
    if (!json_is_array(m))
        return mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "malformed token: %s", what);
    size_t i;
    const json_t *e;
    json_array_foreach(m, i, e) {
        if (!json_is_string(e))
            return mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "malformed token: %s", what);
        if (json_string_length(e) == 0)
            continue;
        mcp_status rc = mcp_principal_add_permission(p, json_string_value(e), err);
        if (rc != MCP_OK)
            return rc;
    }
    return MCP_OK;
}

static mcp_status
build_principal(const mcp_jwt_verifier *v, const json_t *claims, const char *claims_text,
                const char *kid, int64_t exp, mcp_principal **out, mcp_error *err)
{
    const char *iss, *sub, *name, *client_id, *azp, *jti;
    const json_t *perms = json_object_get(claims, "permissions");
    if (!str_claim(claims, "iss", &iss))
        return unauth(err, "malformed token: iss");
    mcp_status rc = mcp__jwt_check_issuer(v, claims, iss, err);
    if (rc != MCP_OK)
        return rc;
    rc = check_audience(v, claims, err);
    if (rc != MCP_OK)
        return rc;
    if (!str_claim(claims, "sub", &sub))
        return unauth(err, "malformed token: sub");
    if (sub == NULL || sub[0] == '\0')
        return unauth(err, "missing sub");
    if (!str_claim(claims, "name", &name))
        return unauth(err, "malformed token: name");
    if (!str_claim(claims, "client_id", &client_id) || !str_claim(claims, "azp", &azp))
        return unauth(err, "malformed token: client_id");
    if (!str_claim(claims, "jti", &jti))
        return unauth(err, "malformed token: jti");
    if (perms != NULL && !json_is_array(perms))
        return unauth(err, "malformed token: permissions");
    if (client_id == NULL)
        client_id = azp;
    if ((rc = mcp__jwt_claims_identity(v, claims, &sub, &name, &client_id, err)) != MCP_OK)
        return rc;
    /* A client-credentials token (no resource owner) names the client as its subject (RFC 9068
     * section 2.2: sub = the client's identifier, so sub equals client_id / azp). Its subject
     * is "client:" + the id, as for introspected tokens: users and clients must not share one
     * namespace, or a client whose id equals a user's subject would get that user's roles. A
     * user token whose sub itself starts with "client:" would pose as a client: refused. */
    char *client_sub = NULL;
    if (strncmp(sub, "client:", 7) == 0)
        return unauth(err, "malformed token: sub");
    if (client_id != NULL && strcmp(client_id, sub) == 0) {
        if ((client_sub = mcp__aprintf("client:%s", sub)) == NULL)
            return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
        sub = client_sub;
    }

    mcp_principal_fields f = {
        .kind = MCP_CRED_JWT,
        .subject = sub,
        .name = name,
        .issuer = iss,
        .client_id = client_id,
        .key_id = kid,
        .jti = jti,
        .claims_json = claims_text,
        .expires_at = exp,
    };
    mcp_principal *p;
    rc = mcp_principal_new(&f, &p, err);
    mcp__free(client_sub);
    if (rc != MCP_OK)
        return rc == MCP_ERR_NOMEM ? rc : unauth(err, "missing sub");
    if ((rc = add_perms(p, perms, "permissions", err)) != MCP_OK ||
        (rc = add_perms(p, json_object_get(claims, "scope"), "scope", err)) != MCP_OK ||
        (rc = add_perms(p, json_object_get(claims, "scp"), "scp", err)) != MCP_OK ||
        (rc = mcp__jwt_claims_permissions(v, claims, p, err)) != MCP_OK ||
        (rc = mcp__jwt_claims_map(v, &f, &p, err)) != MCP_OK) {
        mcp_principal_unref(p);
        return rc;
    }
    *out = p;
    return MCP_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Verification                                                                               */

static mcp_status
verify_full(mcp_jwt_verifier *v, const char *token, size_t len, int64_t now,
            const unsigned char *hash, bool may_block, mcp_principal **out, mcp_error *err)
{
    json_t *hdr = NULL, *claims = NULL;
    unsigned char *hraw = NULL, *praw = NULL, *sig = NULL;
    size_t siglen = 0;
    mcp__jwt_keyset *sets[2] = { NULL, NULL };
    mcp__jwt_alg alg = MCP__JWT_ALG_INVALID;
    const char *kid = NULL;
    mcp_status rc;

    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (d1 == NULL || d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) != NULL)
        return unauth(err, "malformed token: segments");
    const char *pseg = d1 + 1, *sseg = d2 + 1;
    size_t plen = (size_t)(d2 - pseg), slen = len - (size_t)(sseg - token);

    if ((rc = decode_segment(v, token, (size_t)(d1 - token), "header", &hdr, &hraw, err)) != MCP_OK)
        goto out;
    if ((rc = check_header(v, hdr, &alg, &kid, err)) != MCP_OK)
        goto out;
    rc = mcp__b64url_decode(sseg, slen, &sig, &siglen);
    if (rc == MCP_ERR_NOMEM) {
        rc = mcp_error_set(err, rc, NULL);
        goto out;
    }
    if (rc != MCP_OK || siglen == 0) {
        rc = unauth(err, "malformed token: signature");
        goto out;
    }

    const unsigned char *input = (const unsigned char *)token;
    size_t ilen = (size_t)(d2 - token);
    uint64_t gen = snapshot(v, sets);
    sel_result sr = select_and_verify(sets, alg, kid, input, ilen, sig, siglen);
    /* No key set fetched yet (the JWKS was unreachable at start-up): any token without a
     * matching local key waits for the fetch, not only one with an unknown kid. */
    if (sr == SEL_ALG_NOT_ALLOWED && v->jwks != NULL && !mcp__jwks_src_status(v->jwks, NULL, 0))
        sr = SEL_NO_KID;
    if (sr == SEL_NO_KID && v->jwks != NULL && !may_block &&
        mcp__jwks_src_would_fetch(v->jwks)) {
        /* The caller must not wait on the network (an HTTP IO thread): it reruns the
         * verification where it may block. Nothing is cached. */
        rc = mcp_error_set(err, MCP_ERR_WOULD_BLOCK, "key lookup needs a JWKS fetch");
        goto out;
    }
    if (sr == SEL_NO_KID && v->jwks != NULL && may_block) {
        /* A key rotation at the provider: refetch (throttled, never waiting on another fetch)
         * and try once more with whatever set is current then. */
        if (mcp__jwks_src_refresh(v->jwks, false, NULL) == MCP_OK) {
            mcp__jwt_keyset_unref(sets[0]);
            mcp__jwt_keyset_unref(sets[1]);
            gen = snapshot(v, sets);
            sr = select_and_verify(sets, alg, kid, input, ilen, sig, siglen);
        }
    }
    if (sr == SEL_NO_KID && v->jwks != NULL && !mcp__jwks_src_status(v->jwks, NULL, 0)) {
        /* Not the caller's fault: 503 until the keys arrive (fail closed, never 200). */
        rc = mcp_error_set(err, MCP_ERR_STORE, "signing keys unavailable: the JWKS has not "
                           "been fetched yet (retrying)");
        goto out;
    }
    switch (sr) {
    case SEL_OK: break;
    case SEL_BAD_SIG: rc = unauth(err, "signature invalid"); goto out;
    case SEL_NO_KID: rc = unauth(err, "no key for kid"); goto out;
    case SEL_ALG_NOT_ALLOWED: rc = unauth(err, "alg not allowed for key"); goto out;
    }

    if ((rc = decode_segment(v, pseg, plen, "payload", &claims, &praw, err)) != MCP_OK)
        goto out;
    int64_t exp = 0;
    if ((rc = check_times(v, claims, now, &exp, err)) != MCP_OK)
        goto out;
    if ((rc = build_principal(v, claims, (const char *)praw, kid, exp, out, err)) != MCP_OK)
        goto out;
    if (hash != NULL)
        mcp__jwt_cache_put(v->cache, hash, *out, exp, gen);
    rc = MCP_OK;
out:
    mcp__jwt_keyset_unref(sets[0]);
    mcp__jwt_keyset_unref(sets[1]);
    json_decref(hdr);
    json_decref(claims);
    mcp__free(hraw);
    mcp__free(praw);
    mcp__free(sig);
    return rc;
}

/* Does iss (with the token's tid) name w's issuer? */
static bool
names_issuer(const mcp_jwt_verifier *w, const char *iss, const char *tid)
{
    if (w->issuer == NULL)
        return false;
    const char *t = strstr(w->issuer, "{tenantid}");
    if (t == NULL)
        return strcmp(iss, w->issuer) == 0;
    size_t pre = (size_t)(t - w->issuer), dl = tid != NULL ? strlen(tid) : 0;
    const char *suf = t + strlen("{tenantid}");
    return dl > 0 && strlen(iss) == pre + dl + strlen(suf) && strncmp(iss, w->issuer, pre) == 0
           && strncmp(iss + pre, tid, dl) == 0 && strcmp(iss + pre + dl, suf) == 0;
}

/* With several trusted issuers: the one the (not yet verified) token names, or "issuer not
 * trusted". Only the choice of keys depends on the unverified claims; the chosen verifier then
 * checks everything, iss included. */
static mcp_status
pick_issuer(mcp_jwt_verifier *v, const char *token, size_t len, mcp_jwt_verifier **by,
            mcp_error *err)
{
    char *hdr = NULL, *payload = NULL;
    mcp_status rc = mcp_jwt_decode_unverified(token, len, &hdr, &payload, err);
    if (rc != MCP_OK)
        return rc == MCP_ERR_NOMEM ? rc : unauth(err, "malformed token: payload");
    json_error_t jerr;
    json_t *claims = json_loads(payload, JSON_REJECT_DUPLICATES, &jerr);
    mcp__free(hdr);
    mcp__free(payload);
    const char *iss = NULL, *tid = NULL;
    if (claims == NULL || !json_is_object(claims) || !str_claim(claims, "iss", &iss)
        || !str_claim(claims, "tid", &tid)) {
        json_decref(claims);
        return unauth(err, "malformed token: payload");
    }
    *by = NULL;
    if (iss != NULL) {
        if (names_issuer(v, iss, tid))
            *by = v;
        for (size_t i = 0; *by == NULL && i < v->n_issuers; i++)
            if (names_issuer(v->issuers[i], iss, tid))
                *by = v->issuers[i];
    }
    json_decref(claims);
    if (*by == NULL)
        return unauth(err, iss == NULL ? "missing iss" : "issuer not trusted");
    return MCP_OK;
}

static mcp_status
verify(const mcp_jwt_verifier *cv, const char *token, size_t len, bool may_block,
       mcp_principal **out, mcp_error *err)
{
    /* The verifier is logically read-only; its cache and JWKS refresh state are synchronised
     * internally, which is why the const is cast away here and only here. */
    mcp_jwt_verifier *v = (mcp_jwt_verifier *)cv;
    if (out == NULL || v == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "missing argument");
    *out = NULL;
    if (token == NULL || len == 0)
        return unauth(err, "malformed token: empty");
    if (len > v->opts.max_token_len)
        return mcp_error_set(err, MCP_ERR_TOO_LARGE, "token too large");
    int64_t now = v->clock(v->clock_ctx);
    unsigned char hash[MCP__JWT_HASH_LEN];
    const unsigned char *h = NULL;
    /* no hash, no cache: a failed digest must never become a lookup key */
    if (v->cache != NULL && mcp__sha256(token, len, hash)) {
        h = hash;
        /* Entries live until exp without leeway: after that the full path decides. Only
         * tokens this verifier itself verified are in its cache, so a hit needs no routing. */
        if ((*out = mcp__jwt_cache_get(v->cache, hash, now)) != NULL)
            return MCP_OK;
    }
    if (v->n_issuers > 0) {
        mcp_jwt_verifier *by = NULL;
        mcp_status rc = pick_issuer(v, token, len, &by, err);
        if (rc != MCP_OK)
            return rc;
        if (by != v)
            return verify(by, token, len, may_block, out, err);
    }
    return verify_full(v, token, len, now, h, may_block, out, err);
}

mcp_status
mcp_jwt_verify(const mcp_jwt_verifier *v, const char *token, size_t len, mcp_principal **out,
               mcp_error *err)
{
    return verify(v, token, len, true, out, err);
}

mcp_status
mcp_jwt_verify_nowait(const mcp_jwt_verifier *v, const char *token, size_t len,
                      mcp_principal **out, mcp_error *err)
{
    return verify(v, token, len, false, out, err);
}
