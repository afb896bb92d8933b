/*
 * JWKS from a URL: fetch with libcurl, parse into a new key set, publish it atomically.
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
 *
 * libcurl is used directly rather than through src/transport's client: the auth layer sits
 * beside the transport layer (STYLE.md section 8), and a JWKS fetch needs none of the MCP
 * client's session machinery.
 */
#include "net/net.h"
#include "jwt/internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/sha.h>
#include <string.h>
#include <time.h>

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static bool curl_ok;

static void
curl_init_once(void)
{
    curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
    mcp_buf *b = ud;
    size_t n = size * nmemb;
    return mcp__buf_append(b, ptr, n) == MCP_OK ? n : 0;   /* 0 aborts: over the cap */
}

static int
progress_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    const mcp_jwt_verifier *v = ud;
    return atomic_load(&v->stopping) ? 1 : 0;
}

static const mcp__auth_url_msgs url_msgs = {
    .invalid = "JWKS URL is not a valid URL",
    .not_http = "JWKS URL must be http(s)",
    .insecure = "JWKS URL must be https (http only for loopback hosts)",
};

static mcp_status
fetch(mcp_jwt_verifier *v, mcp_buf *body, mcp_error *err)
{
    pthread_once(&curl_once, curl_init_once);
    if (!curl_ok)
        return mcp_error_set(err, MCP_ERR_INTERNAL, "libcurl initialisation failed");
    CURL *c = curl_easy_init();
    if (c == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, v->jwks_url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)v->opts.jwks_timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)v->opts.jwks_timeout_ms);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)v->opts.jwks_max_bytes);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "libmcp/" MCP_VERSION_STRING);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress_cb);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, v);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Accept: application/jwk-set+json, "
                                                      "application/json");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    if (cc == CURLE_WRITE_ERROR || cc == CURLE_FILESIZE_EXCEEDED)
        return mcp_error_set(err, MCP_ERR_IO, "JWKS response larger than %zu bytes",
                             v->opts.jwks_max_bytes);
    if (cc != CURLE_OK)
        return mcp_error_set(err, MCP_ERR_IO, "JWKS fetch failed: %s",
                             errbuf[0] ? errbuf : curl_easy_strerror(cc));
    if (status != 200)
        return mcp_error_set(err, MCP_ERR_IO, "JWKS fetch failed: HTTP status %ld", status);
    return MCP_OK;
}

mcp_status
mcp__jwks_refresh(mcp_jwt_verifier *v, bool force, mcp_error *err)
{
    if (v->jwks_url == NULL)
        return mcp_error_set(err, MCP_ERR_STATE, "no JWKS URL configured");
    if (force) {
        pthread_mutex_lock(&v->fetch_lock);
    } else {
        if (pthread_mutex_trylock(&v->fetch_lock) != 0)
            return mcp_error_set(err, MCP_ERR_RATE_LIMITED, "JWKS refresh in progress");
        uint64_t last = atomic_load(&v->last_fetch_ms);
        if (last != 0 && mcp_now_ms() - last < (uint64_t)v->opts.jwks_min_interval_s * 1000u) {
            pthread_mutex_unlock(&v->fetch_lock);
            return mcp_error_set(err, MCP_ERR_RATE_LIMITED, "JWKS refresh throttled");
        }
    }
    uint64_t now = mcp_now_ms();
    atomic_store(&v->last_fetch_ms, now ? now : 1);
    atomic_fetch_add(&v->fetch_count, 1);

    mcp_buf body;
    mcp__buf_init(&body, v->opts.jwks_max_bytes);
    mcp__jwt_keyset *set = NULL;
    mcp_status rc = fetch(v, &body, err);
    if (rc != MCP_OK)
        goto out;
    unsigned char hash[MCP__JWT_HASH_LEN];
    bool hashed = mcp__sha256(body.ptr ? body.ptr : "", body.len, hash);
    if (hashed && v->have_doc_hash && memcmp(hash, v->doc_hash, sizeof hash) == 0)
        goto out;                                          /* unchanged: keep set and cache */
    if ((rc = mcp__jwt_jwks_parse(body.ptr, body.len, false, &set, err)) != MCP_OK)
        goto out;
    mcp__jwt_verifier_set_remote(v, set);
    memcpy(v->doc_hash, hash, sizeof hash);
    v->have_doc_hash = hashed;
out:
    pthread_mutex_unlock(&v->fetch_lock);
    mcp__buf_cleanup(&body);
    return rc;
}

static void *
refresh_thread(void *arg)
{
    mcp_jwt_verifier *v = arg;
    pthread_mutex_lock(&v->lock);
    for (;;) {
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += (time_t)v->opts.jwks_refresh_s;
        int r = 0;
        while (!atomic_load(&v->stopping) && r != ETIMEDOUT)
            r = pthread_cond_timedwait(&v->stop_cond, &v->lock, &deadline);
        if (atomic_load(&v->stopping))
            break;
        pthread_mutex_unlock(&v->lock);
        mcp_error e;
        mcp_error_clear(&e);
        if (mcp__jwks_refresh(v, true, &e) != MCP_OK && !atomic_load(&v->stopping))
            mcp__log(MCP__LOG_WARN, "jwt", "JWKS refresh failed, keeping the current keys: %s",
                     e.message);
        pthread_mutex_lock(&v->lock);
    }
    pthread_mutex_unlock(&v->lock);
    return NULL;
}

mcp_status
mcp_jwt_verifier_set_jwks_url(mcp_jwt_verifier *v, const char *url, mcp_error *err)
{
    if (v == NULL || url == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "missing argument");
    if (v->jwks_url != NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "JWKS URL already set");
    mcp_status rc = mcp__auth_url_check(url, v->opts.allow_insecure_jwks_url, &url_msgs, err);
    if (rc != MCP_OK)
        return rc;
    if ((v->jwks_url = mcp__strdup(url)) == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    if ((rc = mcp__jwks_refresh(v, true, err)) != MCP_OK) {
        mcp__free(v->jwks_url);
        v->jwks_url = NULL;
        return rc;
    }
    if (v->opts.jwks_refresh_s > 0) {
        if (pthread_create(&v->thread, NULL, refresh_thread, v) != 0) {
            mcp__log(MCP__LOG_WARN, "jwt", "cannot start the JWKS refresh thread; keys will only "
                     "refresh on unknown kid");
        } else {
            v->thread_started = true;
        }
    }
    return MCP_OK;
}

mcp_status
mcp_jwt_verifier_refresh_jwks(mcp_jwt_verifier *v, mcp_error *err)
{
    if (v == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no verifier");
    return mcp__jwks_refresh(v, true, err);
}

void
mcp__jwks_stop(mcp_jwt_verifier *v)
{
    if (!v->thread_started)
        return;
    pthread_mutex_lock(&v->lock);
    atomic_store(&v->stopping, true);
    pthread_cond_broadcast(&v->stop_cond);
    pthread_mutex_unlock(&v->lock);
    pthread_join(v->thread, NULL);
    v->thread_started = false;
}
