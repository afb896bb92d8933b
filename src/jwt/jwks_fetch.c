/*
 * JWKS from a URL: fetch with src/net, parse into a new key set, publish it atomically.
 *
 * - One fetch at a time (fetch_lock). The unknown-kid path only *tries* the lock: when another
 *   thread is already fetching, or the last fetch started less than jwks_min_interval_s ago, it
 *   does not wait and the token fails with "no key for kid". Waiting would let a flood of
 *   tokens with random kids park every worker thread behind one slow provider.
 * - A failed fetch (network, non-200, over jwks_max_bytes, malformed JSON, no usable key) keeps
 *   the previous set serving; it only logs.
 * - An unchanged document (same SHA-256) is not re-published, so the token cache survives the
 *   periodic refresh.
 * - No redirects, http/https only, TLS verification on, a total timeout, and a progress callback
 *   that aborts the transfer when the verifier is being freed.
 * - This file never touches the verifier: a source is created with an install callback, and
 *   jwt.c's callback swaps the key set in (jwt.c -> jwks_fetch.c -> jwk.c, no way back).
 *
 * The request goes through src/net's one fetcher (jwt -> net, STYLE.md section 8): a JWKS
 * fetch needs none of the MCP client's session machinery.
 */
#include "jwt/internal.h"
#include "net/net.h"

#include <errno.h>
#include <openssl/sha.h>
#include <string.h>
#include <time.h>

struct mcp__jwks_src {
    char                *url;           /* NULL until discovered (issuer set) */
    char                *issuer;        /* discovery mode: jwks_uri from its metadata */
    size_t               max_bytes;
    unsigned             timeout_ms, min_interval_s, refresh_s;
    bool                 allow_insecure;
    mcp__jwks_install_fn install;
    void                *ctx;

    pthread_mutex_t      fetch_lock;    /* one fetch at a time; guards doc_hash */
    atomic_uint_fast64_t last_fetch_ms; /* monotonic start time of the last fetch attempt */
    atomic_uint_fast64_t fetch_count;   /* attempts, for tests and logs */
    unsigned char        doc_hash[MCP__JWT_HASH_LEN];
    bool                 have_doc_hash;
    atomic_bool          have_keys;     /* a key set was installed at least once */
    pthread_mutex_t      err_mu;        /* guards last_err */
    char                 last_err[MCP_ERROR_MSG_MAX]; /* why the last fetch failed ("" = ok) */

    pthread_mutex_t      lock;          /* guards stop_cond */
    pthread_cond_t       stop_cond;
    pthread_t            thread;
    bool                 thread_started;
    atomic_bool          stopping;      /* set by free; also aborts a transfer in progress */
};

static bool
stopping(void *ud)
{
    const mcp__jwks_src *s = ud;
    return atomic_load(&s->stopping);
}

static const mcp__net_url_msgs url_msgs = {
    .invalid = "JWKS URL is not a valid URL",
    .not_http = "JWKS URL must be http(s)",
    .insecure = "JWKS URL must be https (http only for loopback hosts)",
};

static mcp_status
fetch(mcp__jwks_src *s, mcp__net_resp *resp, mcp_error *err)
{
    static const char *const headers[] = {
        "Accept: application/jwk-set+json, application/json", NULL,
    };
    mcp__net_req rq = {
        .url = s->url,
        .headers = headers,
        .user_agent = "libmcp/" MCP_VERSION_STRING,
        .max_body = s->max_bytes,
        .connect_timeout_ms = s->timeout_ms,
        .timeout_ms = s->timeout_ms,
        .max_redirects = 0,
        .rule = s->allow_insecure ? MCP__NET_HTTP_ANY : MCP__NET_HTTPS_OR_LOOPBACK,
        .abort_fn = stopping,
        .abort_ctx = s,
    };
    mcp_status rc = mcp__net_fetch(&rq, resp, err);
    switch (rc) {
    case MCP_OK: break;
    case MCP_ERR_TOO_LARGE:
        return mcp_error_set(err, MCP_ERR_IO, "JWKS response larger than %zu bytes",
                             s->max_bytes);
    case MCP_ERR_IO:
    case MCP_ERR_TIMEOUT:
        return mcp_error_set(err, MCP_ERR_IO, "JWKS fetch failed: %s", resp->detail);
    default:
        return rc;                                 /* NOMEM, INTERNAL: err is set */
    }
    if (resp->status != 200) {
        long status = resp->status;
        mcp__net_resp_cleanup(resp);
        return mcp_error_set(err, MCP_ERR_IO, "JWKS fetch failed: HTTP status %ld", status);
    }
    return MCP_OK;
}

mcp_status
mcp__jwks_src_new(const char *url, const mcp_jwt_opts *opts, mcp__jwks_install_fn install,
                  void *ctx, mcp__jwks_src **out, mcp_error *err)
{
    *out = NULL;
    mcp_status rc = url != NULL
                    ? mcp__net_url_check(url, opts->allow_insecure_jwks_url, &url_msgs, err)
                    : opts->issuer != NULL ? MCP_OK
                    : mcp_error_set(err, MCP_ERR_INVALID_ARG, "discovery needs an issuer");
    if (rc != MCP_OK)
        return rc;
    mcp__jwks_src *s = mcp__calloc(1, sizeof *s);
    if (s == NULL || (url != NULL && (s->url = mcp__strdup(url)) == NULL) ||
        (url == NULL && (s->issuer = mcp__strdup(opts->issuer)) == NULL)) {
        if (s != NULL)
            mcp__free(s->url);
        mcp__free(s);
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    }
    s->max_bytes = opts->jwks_max_bytes;
    s->timeout_ms = opts->jwks_timeout_ms;
    s->min_interval_s = opts->jwks_min_interval_s;
    s->refresh_s = opts->jwks_refresh_s;
    s->allow_insecure = opts->allow_insecure_jwks_url;
    s->install = install;
    s->ctx = ctx;
    pthread_mutex_init(&s->fetch_lock, NULL);
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->err_mu, NULL);
    atomic_init(&s->have_keys, false);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->stop_cond, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&s->stopping, false);
    atomic_init(&s->last_fetch_ms, 0);
    atomic_init(&s->fetch_count, 0);
    *out = s;
    return MCP_OK;
}

bool
mcp__jwks_src_would_fetch(mcp__jwks_src *s)
{
    if (pthread_mutex_trylock(&s->fetch_lock) != 0)
        return false;                       /* a fetch is running: refresh would not wait */
    uint64_t last = atomic_load(&s->last_fetch_ms);
    bool throttled = last != 0 && mcp_now_ms() - last < (uint64_t)s->min_interval_s * 1000u;
    pthread_mutex_unlock(&s->fetch_lock);
    return !throttled;
}

mcp_status
mcp__jwks_src_refresh(mcp__jwks_src *s, bool force, mcp_error *err)
{
    if (force) {
        pthread_mutex_lock(&s->fetch_lock);
    } else {
        if (pthread_mutex_trylock(&s->fetch_lock) != 0)
            return mcp_error_set(err, MCP_ERR_RATE_LIMITED, "JWKS refresh in progress");
        uint64_t last = atomic_load(&s->last_fetch_ms);
        if (last != 0 && mcp_now_ms() - last < (uint64_t)s->min_interval_s * 1000u) {
            pthread_mutex_unlock(&s->fetch_lock);
            return mcp_error_set(err, MCP_ERR_RATE_LIMITED, "JWKS refresh throttled");
        }
    }
    uint64_t now = mcp_now_ms();
    atomic_store(&s->last_fetch_ms, now ? now : 1);
    atomic_fetch_add(&s->fetch_count, 1);

    mcp__net_resp body;
    memset(&body, 0, sizeof body);
    mcp__jwt_keyset *set = NULL;
    mcp_error local;
    if (err == NULL) {
        mcp_error_clear(&local);
        err = &local;          /* the reason is kept for readiness (mcp__jwks_src_status) */
    }
    mcp_status rc = MCP_OK;
    if (s->url == NULL) {
        char *jw = NULL;
        rc = mcp__jwt_discover(s->issuer, s->allow_insecure, s->timeout_ms, stopping, s, &jw,
                               NULL, err);
        if (rc == MCP_OK && jw == NULL)
            rc = mcp_error_set(err, MCP_ERR_INVALID_ARG, "the metadata of %s has no jwks_uri",
                               s->issuer);
        if (rc != MCP_OK)
            goto out;
        s->url = jw;           /* read only under fetch_lock */
        mcp__log(MCP__LOG_INFO, "jwt", "discovered jwks_uri %s from issuer %s", s->url,
                 s->issuer);
    }
    if ((rc = fetch(s, &body, err)) != MCP_OK)
        goto out;
    unsigned char hash[MCP__JWT_HASH_LEN];
    bool hashed = mcp__sha256(body.body, body.body_len, hash);
    if (hashed && s->have_doc_hash && memcmp(hash, s->doc_hash, sizeof hash) == 0)
        goto out;                                          /* unchanged: keep set and cache */
    if ((rc = mcp__jwt_jwks_parse(body.body, body.body_len, false, &set, err)) != MCP_OK)
        goto out;
    s->install(s->ctx, set);
    memcpy(s->doc_hash, hash, sizeof hash);
    s->have_doc_hash = hashed;
    if (!atomic_load(&s->have_keys) && atomic_load(&s->fetch_count) > 1)
        mcp__log(MCP__LOG_INFO, "jwt", "JWKS %s fetched after %llu attempt(s): keys available",
                 s->url, (unsigned long long)atomic_load(&s->fetch_count));
    atomic_store(&s->have_keys, true);
out:
    pthread_mutex_lock(&s->err_mu);
    if (rc == MCP_OK)
        s->last_err[0] = '\0';
    else
        snprintf(s->last_err, sizeof s->last_err, "%s",
                 err->message[0] ? err->message : mcp_status_str(rc));
    pthread_mutex_unlock(&s->err_mu);
    pthread_mutex_unlock(&s->fetch_lock);
    mcp__net_resp_cleanup(&body);
    return rc;
}

/*
 * Until a first key set arrives the source retries with backoff (1 s, doubling, at most
 * MCP__JWKS_BACKOFF_MAX_S), whatever jwks_refresh_s says; then it refreshes every
 * jwks_refresh_s seconds (0: never, the thread ends).
 */
static void *
refresh_thread(void *arg)
{
    mcp__jwks_src *s = arg;
    unsigned backoff = 1;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        bool waiting = !atomic_load(&s->have_keys);
        if (!waiting && s->refresh_s == 0)
            break;
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += (time_t)(waiting ? backoff : s->refresh_s);
        int r = 0;
        while (!atomic_load(&s->stopping) && r != ETIMEDOUT)
            r = pthread_cond_timedwait(&s->stop_cond, &s->lock, &deadline);
        if (atomic_load(&s->stopping))
            break;
        pthread_mutex_unlock(&s->lock);
        mcp_error e;
        mcp_error_clear(&e);
        waiting = !atomic_load(&s->have_keys);
        if (mcp__jwks_src_refresh(s, true, &e) != MCP_OK && !atomic_load(&s->stopping)) {
            if (waiting)
                mcp__log(MCP__LOG_WARN, "jwt", "no signing keys yet (next attempt in %u s): %s",
                         backoff * 2 < MCP__JWKS_BACKOFF_MAX_S ? backoff * 2
                                                               : MCP__JWKS_BACKOFF_MAX_S,
                         e.message);
            else
                mcp__log(MCP__LOG_WARN, "jwt", "JWKS refresh failed, keeping the current keys: "
                         "%s", e.message);
        }
        backoff = backoff * 2 < MCP__JWKS_BACKOFF_MAX_S ? backoff * 2 : MCP__JWKS_BACKOFF_MAX_S;
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

void
mcp__jwks_src_start(mcp__jwks_src *s)
{
    if ((s->refresh_s == 0 && atomic_load(&s->have_keys)) || s->thread_started)
        return;
    if (pthread_create(&s->thread, NULL, refresh_thread, s) != 0)
        mcp__log(MCP__LOG_WARN, "jwt", "cannot start the JWKS refresh thread; keys will only "
                 "refresh on unknown kid");
    else
        s->thread_started = true;
}

bool
mcp__jwks_src_status(mcp__jwks_src *s, char *why, size_t cap)
{
    if (atomic_load(&s->have_keys))
        return true;
    if (why != NULL && cap > 0) {
        pthread_mutex_lock(&s->err_mu);
        snprintf(why, cap, "%s", s->last_err[0] ? s->last_err : "JWKS not fetched yet");
        pthread_mutex_unlock(&s->err_mu);
    }
    return false;
}

void
mcp__jwks_src_free(mcp__jwks_src *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    atomic_store(&s->stopping, true);
    pthread_cond_broadcast(&s->stop_cond);
    pthread_mutex_unlock(&s->lock);
    if (s->thread_started)
        pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->stop_cond);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->fetch_lock);
    pthread_mutex_destroy(&s->err_mu);
    mcp__free(s->url);
    mcp__free(s->issuer);
    mcp__free(s);
}
