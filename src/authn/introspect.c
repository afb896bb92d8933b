/*
 * OAuth 2.0 Token Introspection (RFC 7662) with a bounded result cache.
 *
 * Design choices (docs/design/authentication.md has the user-facing version):
 * - We check exp/nbf/iss/aud ourselves even though the server said active:true. RFC 7662 leaves
 *   the audience decision to the resource server (section 4: a token for another resource can be
 *   active), and re-checking exp costs nothing and protects against a lagging server clock.
 * - The cache is direct-mapped (one slot per hash value modulo the size): a lookup is a hash and
 *   one slot compare under a shard lock, memory is fixed at setup, and eviction needs no list.
 *   A collision only costs an extra introspection. An entry's life is min(exp, now + ttl): the
 *   short ttl bounds how long a token revoked at the server stays usable here.
 * - Rejections the server answered (inactive, wrong audience, expired...) are cached too, in a
 *   second direct-mapped table with a short ttl (negative_cache_ttl_s, default 5 s): a client
 *   replaying a bad token, or an attacker spraying the same one, costs one introspection per
 *   ttl instead of one per request. The table is small and fixed, so random tokens only evict
 *   each other. An unusable endpoint (503) is never cached, and the short ttl bounds how long a
 *   token that becomes valid is refused.
 * - The endpoint being unusable is MCP_ERR_STORE (503), not 401: the caller's token may be fine,
 *   and a 401 would tell a well-behaved client to throw it away and run the OAuth flow again,
 *   which under an outage multiplies the load on the authorization server.
 * - client_secret_basic with the id and secret form-urlencoded first (RFC 6749 section 2.3.1).
 *   The header is built once at setup; the per-request body holds the token and is wiped.
 * - src/net's fetcher with one small pool of handles so connections are kept alive; no
 *   redirects, http/https only, a total timeout and a hard response size cap.
 */
#include <mcp/introspect.h>

#include "common/common.h"
#include "net/net.h"

#include <jansson.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#define SHARDS    16
#define POOL_MAX  8
#define LOG_EVERY_S 10

typedef struct slot {
    unsigned char  hash[SHA256_DIGEST_LENGTH];
    mcp_principal *p;        /* own reference; NULL = empty */
    int64_t        until;    /* unix seconds; valid while now < until */
} slot;

/* A rejected token: the message of the check that failed (never token data). */
typedef struct neg_slot {
    unsigned char hash[SHA256_DIGEST_LENGTH];
    int64_t       until;     /* unix seconds; 0 = empty */
    char          reason[96];
} neg_slot;

struct mcp_introspector {
    char              *url, *issuer, *audience;
    mcp_introspect_opts opts;
    char              *auth_header;  /* "Authorization: Basic ..." (secret-derived, wiped) */
    size_t             auth_header_cap;
    const char        *headers[3];   /* auth_header, Accept, NULL */
    slot              *slots;
    size_t             nslots;
    neg_slot          *neg;
    size_t             nneg;
    pthread_mutex_t    shard_mu[SHARDS];
    mcp__net_pool     *pool;
    atomic_uint_fast64_t requests, hits, neg_hits;
    atomic_llong       last_log;
};

void
mcp_introspect_opts_default(mcp_introspect_opts *o)
{
    memset(o, 0, sizeof *o);
    o->leeway_s = 60;
    o->timeout_ms = 3000;
    o->max_response = 65536;
    o->max_token_len = 4096;
    o->cache_size = 4096;
    o->cache_ttl_s = 60;
    o->negative_cache_size = 1024;
    o->negative_cache_ttl_s = 5;
}

/* ---- setup ------------------------------------------------------------------------------- */

static const mcp__net_url_msgs url_msgs = {
    .invalid = "introspection URL is not a valid URL",
    .not_http = "introspection URL must be http(s)",
    .insecure = "introspection URL must use https (http only to loopback)",
};

/* application/x-www-form-urlencoded value encoding (unreserved kept, space as '+') into out,
 * which has room for 3 * len bytes; returns the length written. Writing into a buffer sized up
 * front (rather than a growing one) means no reallocation leaves a copy of a secret behind. */
static size_t
form_encode(char *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out[o++] = (char)c;
        } else if (c == ' ') {
            out[o++] = '+';
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    return o;
}

static void
wipe_free(char *p, size_t len)
{
    if (p != NULL)
        mcp_memzero(p, len);
    mcp__free(p);
}

static mcp_status
build_headers(mcp_introspector *in, const mcp_introspect_opts *o, mcp_error *err)
{
    size_t idl = strlen(o->client_id);
    size_t credcap = 3 * (idl + o->client_secret_len) + 2;
    char *cred = mcp__alloc(credcap), *b64 = NULL, *hdr = NULL;
    size_t hdrcap = 0;
    mcp_status rc = MCP_ERR_NOMEM;
    if (cred == NULL)
        goto out;
    size_t n = form_encode(cred, o->client_id, idl);
    cred[n++] = ':';
    n += form_encode(cred + n, o->client_secret, o->client_secret_len);
    if ((b64 = mcp__b64_encode((const unsigned char *)cred, n)) == NULL)
        goto out;
    hdrcap = strlen(b64) + sizeof "Authorization: Basic ";
    if ((hdr = mcp__alloc(hdrcap)) == NULL)
        goto out;
    snprintf(hdr, hdrcap, "Authorization: Basic %s", b64);
    in->auth_header = hdr;            /* "Expect:" is added by the fetcher */
    in->auth_header_cap = hdrcap;
    in->headers[0] = hdr;
    in->headers[1] = "Accept: application/json";
    in->headers[2] = NULL;
    hdr = NULL;
    rc = MCP_OK;
out:
    wipe_free(cred, credcap);
    wipe_free(b64, b64 ? strlen(b64) : 0);
    wipe_free(hdr, hdrcap);
    return rc == MCP_OK ? MCP_OK : mcp_error_set(err, rc, NULL);
}

mcp_status
mcp_introspector_new(const mcp_introspect_opts *o, mcp_introspector **out, mcp_error *err)
{
    *out = NULL;
    if (o == NULL || o->url == NULL || o->url[0] == '\0')
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "introspection needs an endpoint URL");
    if (o->client_id == NULL || o->client_id[0] == '\0' || o->client_secret == NULL ||
        o->client_secret_len == 0)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "introspection needs a client id and a client secret");
    if ((o->audience == NULL || o->audience[0] == '\0') && !o->allow_no_audience)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "introspection needs an audience (or allow_no_audience)");
    if (o->timeout_ms == 0 || o->max_response == 0 || o->max_token_len == 0)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "introspection limits must be non-zero");
    if (!mcp__curl_global_init())
        return mcp_error_set(err, MCP_ERR_INTERNAL, "libcurl initialisation failed");
    mcp_status rc = mcp__net_url_check(o->url, o->allow_insecure_url, &url_msgs, err);
    if (rc != MCP_OK)
        return rc;

    mcp_introspector *in = mcp__calloc(1, sizeof *in);
    if (in == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    in->opts = *o;
    in->url = mcp__strdup(o->url);
    in->issuer = o->issuer && o->issuer[0] ? mcp__strdup(o->issuer) : NULL;
    in->audience = o->audience && o->audience[0] ? mcp__strdup(o->audience) : NULL;
    in->opts.url = in->url;
    in->opts.issuer = in->issuer;
    in->opts.audience = in->audience;
    in->opts.client_id = NULL;         /* only the prepared header keeps the credentials */
    in->opts.client_secret = NULL;
    in->opts.client_secret_len = 0;
    for (int i = 0; i < SHARDS; i++)
        pthread_mutex_init(&in->shard_mu[i], NULL);
    atomic_init(&in->requests, 0);
    atomic_init(&in->hits, 0);
    atomic_init(&in->neg_hits, 0);
    atomic_init(&in->last_log, 0);
    if (in->url == NULL || (in->pool = mcp__net_pool_new(POOL_MAX)) == NULL ||
        (o->issuer && o->issuer[0] && in->issuer == NULL) ||
        (o->audience && o->audience[0] && in->audience == NULL)) {
        mcp_introspector_free(in);
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    }
    if (o->cache_size > 0 && o->cache_ttl_s > 0) {
        if (o->cache_size > (size_t)1 << 24) {
            mcp_introspector_free(in);
            return mcp_error_set(err, MCP_ERR_INVALID_ARG, "introspection cache too large");
        }
        in->slots = mcp__calloc(o->cache_size, sizeof *in->slots);
        if (in->slots == NULL) {
            mcp_introspector_free(in);
            return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
        }
        in->nslots = o->cache_size;
    }
    if (o->negative_cache_size > 0 && o->negative_cache_ttl_s > 0) {
        if (o->negative_cache_size > (size_t)1 << 20 || o->negative_cache_ttl_s > 3600) {
            mcp_introspector_free(in);
            return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                                 "introspection negative cache too large or too long");
        }
        if ((in->neg = mcp__calloc(o->negative_cache_size, sizeof *in->neg)) == NULL) {
            mcp_introspector_free(in);
            return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
        }
        in->nneg = o->negative_cache_size;
    }
    if ((rc = build_headers(in, o, err)) != MCP_OK) {
        mcp_introspector_free(in);
        return rc;
    }
    *out = in;
    return MCP_OK;
}

void
mcp_introspector_free(mcp_introspector *in)
{
    if (in == NULL)
        return;
    mcp__net_pool_free(in->pool);
    for (size_t i = 0; i < in->nslots; i++)
        mcp_principal_unref(in->slots[i].p);
    mcp__free(in->slots);
    mcp__free(in->neg);
    wipe_free(in->auth_header, in->auth_header_cap);
    for (int i = 0; i < SHARDS; i++)
        pthread_mutex_destroy(&in->shard_mu[i]);
    mcp__free(in->url);
    mcp__free(in->issuer);
    mcp__free(in->audience);
    mcp__free(in);
}

/* ---- cache ------------------------------------------------------------------------------- */

static size_t
slot_index(const mcp_introspector *in, const unsigned char *h)
{
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = (x << 8) | h[i];
    return (size_t)(x % in->nslots);
}

static mcp_principal *
cache_get(mcp_introspector *in, const unsigned char *h, int64_t now)
{
    if (in->nslots == 0)
        return NULL;
    size_t i = slot_index(in, h);
    mcp_principal *p = NULL;
    pthread_mutex_lock(&in->shard_mu[i % SHARDS]);
    slot *s = &in->slots[i];
    if (s->p != NULL && now < s->until && mcp_ct_equal(s->hash, sizeof s->hash, h, sizeof s->hash))
        p = mcp_principal_ref(s->p);
    pthread_mutex_unlock(&in->shard_mu[i % SHARDS]);
    return p;
}

static void
cache_put(mcp_introspector *in, const unsigned char *h, mcp_principal *p, int64_t now, int64_t exp)
{
    if (in->nslots == 0)
        return;
    int64_t until = now + (int64_t)in->opts.cache_ttl_s;
    if (exp > 0 && exp < until)
        until = exp;                  /* never outlive the token */
    if (until <= now)
        return;
    size_t i = slot_index(in, h);
    mcp_principal *old;
    pthread_mutex_lock(&in->shard_mu[i % SHARDS]);
    slot *s = &in->slots[i];
    old = s->p;
    memcpy(s->hash, h, sizeof s->hash);
    s->p = mcp_principal_ref(p);
    s->until = until;
    pthread_mutex_unlock(&in->shard_mu[i % SHARDS]);
    mcp_principal_unref(old);
}

static size_t
neg_index(const mcp_introspector *in, const unsigned char *h)
{
    uint64_t x = 0;
    for (int i = 8; i < 16; i++)     /* other bytes than the positive table's index */
        x = (x << 8) | h[i];
    return (size_t)(x % in->nneg);
}

/* A cached rejection for h: true and err filled. */
static bool
neg_get(mcp_introspector *in, const unsigned char *h, int64_t now, mcp_error *err)
{
    if (in->nneg == 0)
        return false;
    size_t i = neg_index(in, h);
    bool hit = false;
    char reason[sizeof in->neg[0].reason];
    pthread_mutex_lock(&in->shard_mu[i % SHARDS]);
    neg_slot *s = &in->neg[i];
    if (s->until != 0 && now < s->until &&
        mcp_ct_equal(s->hash, sizeof s->hash, h, sizeof s->hash)) {
        hit = true;
        memcpy(reason, s->reason, sizeof reason);
    }
    pthread_mutex_unlock(&in->shard_mu[i % SHARDS]);
    if (hit)
        mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "%s", reason);
    return hit;
}

static void
neg_put(mcp_introspector *in, const unsigned char *h, int64_t now, const char *reason)
{
    if (in->nneg == 0)
        return;
    size_t i = neg_index(in, h);
    pthread_mutex_lock(&in->shard_mu[i % SHARDS]);
    neg_slot *s = &in->neg[i];
    memcpy(s->hash, h, sizeof s->hash);
    s->until = now + (int64_t)in->opts.negative_cache_ttl_s;
    snprintf(s->reason, sizeof s->reason, "%.*s", (int)sizeof s->reason - 1, reason);
    pthread_mutex_unlock(&in->shard_mu[i % SHARDS]);
}

void
mcp_introspector_flush(mcp_introspector *in)
{
    for (size_t i = 0; i < in->nneg; i++) {
        pthread_mutex_lock(&in->shard_mu[i % SHARDS]);
        in->neg[i].until = 0;
        pthread_mutex_unlock(&in->shard_mu[i % SHARDS]);
    }
    for (size_t i = 0; i < in->nslots; i++) {
        pthread_mutex_lock(&in->shard_mu[i % SHARDS]);
        mcp_principal *old = in->slots[i].p;
        in->slots[i].p = NULL;
        pthread_mutex_unlock(&in->shard_mu[i % SHARDS]);
        mcp_principal_unref(old);
    }
}

void
mcp_introspector_stats(const mcp_introspector *cin, mcp_introspect_stats *out)
{
    mcp_introspector *in = (mcp_introspector *)cin;   /* locks only; no state changes */
    memset(out, 0, sizeof *out);
    out->requests = atomic_load(&in->requests);
    out->cache_hits = atomic_load(&in->hits);
    out->negative_hits = atomic_load(&in->neg_hits);
    for (size_t i = 0; i < in->nslots; i++) {
        pthread_mutex_lock(&in->shard_mu[i % SHARDS]);
        out->cached += in->slots[i].p != NULL;
        pthread_mutex_unlock(&in->shard_mu[i % SHARDS]);
    }
}

/* ---- HTTP -------------------------------------------------------------------------------- */

/* Log a provider problem at most once per LOG_EVERY_S (an outage must not flood the log). */
static void
log_unavailable(mcp_introspector *in, const char *why)
{
    long long now = (long long)mcp__unix_now();
    long long last = atomic_load(&in->last_log);
    if (now - last >= LOG_EVERY_S && atomic_compare_exchange_strong(&in->last_log, &last, now))
        mcp__log(MCP__LOG_WARN, "introspect", "introspection endpoint unusable: %s", why);
}

static mcp_status
unavailable(mcp_introspector *in, mcp_error *err, const char *why)
{
    log_unavailable(in, why);
    return mcp_error_set(err, MCP_ERR_STORE, "introspection unavailable: %s", why);
}

/* POST the token; on MCP_OK *answer is the parsed JSON object (caller decrefs). */
static mcp_status
exchange(mcp_introspector *in, const char *token, size_t len, json_t **answer, mcp_error *err)
{
    static const char hint[] = "&token_type_hint=access_token";
    size_t bodycap = 6 + 3 * len + sizeof hint;
    char *body = mcp__alloc(bodycap);
    if (body == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    memcpy(body, "token=", 6);
    size_t blen = 6 + form_encode(body + 6, token, len);
    memcpy(body + blen, hint, sizeof hint);
    blen += sizeof hint - 1;
    mcp__net_req rq = {
        .url = in->url,
        .body = body,
        .body_len = blen,
        .headers = in->headers,
        .user_agent = "libmcp/" MCP_VERSION_STRING,
        .max_body = in->opts.max_response,
        .connect_timeout_ms = in->opts.timeout_ms,
        .timeout_ms = in->opts.timeout_ms,
        .max_redirects = 0,
        .rule = in->opts.allow_insecure_url ? MCP__NET_HTTP_ANY : MCP__NET_HTTPS_OR_LOOPBACK,
        .pool = in->pool,
    };
    mcp__net_resp resp;
    atomic_fetch_add(&in->requests, 1);
    mcp_status rc = mcp__net_fetch(&rq, &resp, NULL);
    wipe_free(body, bodycap);

    char why[128];
    if (rc == MCP_ERR_NOMEM) {
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    } else if (rc == MCP_ERR_TOO_LARGE) {
        rc = unavailable(in, err, "answer too large");
    } else if (rc != MCP_OK) {
        snprintf(why, sizeof why, "%s", resp.reason ? resp.reason : "request failed");
        rc = unavailable(in, err, why);
    } else if (resp.status != 200) {
        snprintf(why, sizeof why, "HTTP status %ld", resp.status);
        rc = unavailable(in, err, why);
    } else {
        json_error_t je;
        json_t *j = json_loadb(resp.body, resp.body_len, JSON_REJECT_DUPLICATES, &je);
        if (!json_is_object(j)) {
            json_decref(j);
            rc = unavailable(in, err, "answer is not a JSON object");
        } else {
            *answer = j;
        }
    }
    mcp__net_resp_cleanup(&resp);
    return rc;
}

/* ---- checks ------------------------------------------------------------------------------ */

static mcp_status
unauth(mcp_error *err, const char *what)
{
    return mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "%s", what);
}

/* -1 malformed, 0 absent, 1 present. */
static int
num_member(const json_t *o, const char *name, int64_t *out)
{
    const json_t *v = json_object_get(o, name);
    if (v == NULL || json_is_null(v))
        return 0;
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return 1;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d != d || d < -9.2e18 || d > 9.2e18)
            return -1;
        *out = (int64_t)d;
        return 1;
    }
    return -1;
}

/* false when present but not a string. */
static bool
str_member(const json_t *o, const char *name, const char **out)
{
    const json_t *v = json_object_get(o, name);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return true;
    if (!json_is_string(v))
        return false;
    *out = json_string_value(v);
    return true;
}

static mcp_status
check_answer(const mcp_introspector *in, const json_t *a, int64_t now, int64_t *exp_out,
             mcp_error *err)
{
    if (!json_is_true(json_object_get(a, "active")))
        return unauth(err, "token inactive");
    const char *tt;
    if (!str_member(a, "token_type", &tt))
        return unauth(err, "malformed introspection answer: token_type");
    if (tt != NULL && mcp__strcasecmp(tt, "Bearer") != 0)
        return unauth(err, "token is not a bearer access token");
    int64_t exp = 0, nbf = 0;
    int r = num_member(a, "exp", &exp);
    if (r < 0)
        return unauth(err, "malformed introspection answer: exp");
    if (r > 0 && now > exp + (int64_t)in->opts.leeway_s)
        return unauth(err, "token expired");
    *exp_out = r > 0 ? exp : 0;
    if ((r = num_member(a, "nbf", &nbf)) < 0)
        return unauth(err, "malformed introspection answer: nbf");
    if (r > 0 && now + (int64_t)in->opts.leeway_s < nbf)
        return unauth(err, "token not yet valid");
    if (in->issuer != NULL) {
        const char *iss;
        if (!str_member(a, "iss", &iss))
            return unauth(err, "malformed introspection answer: iss");
        if (iss == NULL)
            return unauth(err, "missing iss");
        if (strcmp(iss, in->issuer) != 0)
            return unauth(err, "issuer mismatch");
    }
    if (in->audience != NULL) {
        const json_t *aud = json_object_get(a, "aud");
        bool found = false;
        if (aud == NULL || json_is_null(aud))
            return unauth(err, "missing aud");
        if (json_is_string(aud)) {
            found = strcmp(json_string_value(aud), in->audience) == 0;
        } else if (json_is_array(aud)) {
            size_t i;
            const json_t *x;
            json_array_foreach(aud, i, x) {
                if (!json_is_string(x))
                    return unauth(err, "malformed introspection answer: aud");
                found |= strcmp(json_string_value(x), in->audience) == 0;
            }
        } else {
            return unauth(err, "malformed introspection answer: aud");
        }
        if (!found)
            return unauth(err, "audience mismatch");
    }
    return MCP_OK;
}

static mcp_status
make_principal(const json_t *a, int64_t exp, mcp_principal **out, mcp_error *err)
{
    const char *sub, *name, *iss, *client_id, *jti, *scope;
    if (!str_member(a, "sub", &sub) || !str_member(a, "username", &name) ||
        !str_member(a, "iss", &iss) || !str_member(a, "client_id", &client_id) ||
        !str_member(a, "jti", &jti) || !str_member(a, "scope", &scope))
        return unauth(err, "malformed introspection answer: string member");
    /* RFC 7662 makes sub optional; a client-credentials token has only its client. Its subject
     * is then "client:" + client_id, never the bare id: users and clients would otherwise share
     * one namespace, and a client whose id equals a user's subject would get that user's roles
     * from the store and the policy. */
    /* A sub that itself starts with "client:" would pose as a client: refused. (A sub is
     * otherwise taken as it is, even when it equals client_id.) */
    char *client_sub = NULL;
    if (sub != NULL && strncmp(sub, "client:", 7) == 0)
        return unauth(err, "malformed introspection answer: sub");
    if (sub == NULL || sub[0] == '\0') {
        if (client_id == NULL || client_id[0] == '\0')
            return unauth(err, "missing sub");
        if ((client_sub = mcp__aprintf("client:%s", client_id)) == NULL)
            return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
        sub = client_sub;
    }
    char *claims = json_dumps(a, JSON_COMPACT);
    if (claims == NULL) {
        mcp__free(client_sub);
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    }
    mcp_principal_fields f = {
        .kind = MCP_CRED_INTROSPECTION, .subject = sub, .name = name, .issuer = iss,
        .client_id = client_id, .jti = jti, .claims_json = claims, .expires_at = exp,
    };
    mcp_principal *p = NULL;
    mcp_status rc = mcp_principal_new(&f, &p, err);
    mcp__free(claims);
    mcp__free(client_sub);
    if (rc == MCP_OK && scope != NULL)
        rc = mcp_principal_add_scope_string(p, scope, err);
    if (rc != MCP_OK) {
        mcp_principal_unref(p);
        return rc == MCP_ERR_INVALID_ARG ? unauth(err, "malformed introspection answer: scope")
                                         : rc;
    }
    *out = p;
    return MCP_OK;
}

mcp_status
mcp_introspect_verify(mcp_introspector *in, const char *token, size_t len, mcp_principal **out,
                      mcp_error *err)
{
    *out = NULL;
    if (in == NULL || token == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "missing argument");
    if (len == 0)
        return unauth(err, "empty token");
    if (len > in->opts.max_token_len)
        return mcp_error_set(err, MCP_ERR_TOO_LARGE, "token too large");

    unsigned char h[SHA256_DIGEST_LENGTH];
    if (!mcp__sha256(token, len, h))
        return mcp_error_set(err, MCP_ERR_INTERNAL, "SHA-256 failed");
    int64_t now = mcp__unix_now();
    mcp_principal *p = cache_get(in, h, now);
    if (p != NULL) {
        atomic_fetch_add(&in->hits, 1);
        *out = p;
        return MCP_OK;
    }
    if (neg_get(in, h, now, err)) {
        atomic_fetch_add(&in->neg_hits, 1);
        return MCP_ERR_UNAUTHENTICATED;
    }
    json_t *a = NULL;
    mcp_status rc = exchange(in, token, len, &a, err);
    if (rc != MCP_OK)
        return rc;
    int64_t exp = 0;
    now = mcp__unix_now();
    rc = check_answer(in, a, now, &exp, err);
    if (rc == MCP_OK)
        rc = make_principal(a, exp, &p, err);
    json_decref(a);
    if (rc == MCP_ERR_UNAUTHENTICATED)     /* the server's (or our checks') verdict */
        neg_put(in, h, now, err != NULL && err->message[0] ? err->message : "token inactive");
    if (rc != MCP_OK)
        return rc;
    cache_put(in, h, p, now, exp);
    *out = p;
    return MCP_OK;
}
