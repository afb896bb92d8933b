/*
 * Blocking one-shot HTTP requests for the OAuth side (metadata, registration, token, and the
 * headless walk through the authorization endpoint). MCP traffic itself goes through the
 * multi-handle transport in transport_http.c; these calls are rare and simple, so a plain easy
 * handle with a hard response cap and no automatic redirects is all they need.
 */
#include "client/internal.h"

#include <curl/curl.h>
#include <pthread.h>
#include <string.h>

typedef struct fetch_ctx {
    mcp_buf     body;
    mcp_buf     www;
    bool        too_large;
} fetch_ctx;

static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    fetch_ctx *f = ud;
    size_t n = size * nmemb;
    if (mcp__buf_append(&f->body, ptr, n) != MCP_OK) {
        f->too_large = true;
        return 0;
    }
    return n;
}

bool
mcp__http_header_is(const char *line, size_t n, const char *name, const char **val,
                    size_t *vlen)
{
    size_t k = strlen(name);
    if (n <= k || line[k] != ':')
        return false;
    for (size_t i = 0; i < k; i++) {
        char a = line[i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a + 32);
        if (a != name[i])
            return false;
    }
    const char *v = line + k + 1;
    const char *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    *val = v;
    *vlen = (size_t)(end - v);
    return true;
}

mcp_status
mcp__http_www_auth_add(mcp_buf *www, const char *val, size_t vlen)
{
    mcp_status rc = www->len > 0 ? mcp__buf_append(www, ", ", 2) : MCP_OK;
    return rc == MCP_OK ? mcp__buf_append(www, val, vlen) : rc;
}

static size_t
on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    fetch_ctx *f = ud;
    size_t n = size * nmemb;
    const char *v;
    size_t vl;
    if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0)
        mcp__buf_reset(&f->www);             /* a new response (after 100-continue) */
    else if (mcp__http_header_is(ptr, n, "www-authenticate", &v, &vl)) {
        if (mcp__http_www_auth_add(&f->www, v, vl) != MCP_OK)
            return 0;                        /* absurdly long challenge: fail the request */
    }
    return n;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void
mcp__curl_global_init(void)
{
    pthread_once(&curl_once, curl_init_once);
}

void
mcp__http_resp_cleanup(mcp__http_resp *rs)
{
    if (rs == NULL)
        return;
    if (rs->body != NULL) {
        mcp_memzero(rs->body, rs->body_len);  /* token responses carry secrets */
        mcp__free(rs->body);
    }
    mcp__free(rs->content_type);
    mcp__free(rs->location);
    mcp__free(rs->www_auth);
    memset(rs, 0, sizeof *rs);
}

void
mcp__sanitize(const char *in, char *out, size_t outsz)
{
    size_t o = 0;
    if (outsz == 0)
        return;
    for (; in != NULL && *in != '\0' && o + 1 < outsz; in++) {
        unsigned char c = (unsigned char)*in;
        out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    out[o] = '\0';
}

mcp_status
mcp__http_fetch(const mcp__http_req *rq, mcp__http_resp *rs, mcp_error *err)
{
    memset(rs, 0, sizeof *rs);
    mcp__curl_global_init();
    CURL *h = curl_easy_init();
    if (h == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    struct curl_slist *hdrs = NULL, *tmp;
    fetch_ctx f;
    mcp__buf_init(&f.body, rq->max_body ? rq->max_body : (size_t)1 << 20);
    mcp__buf_init(&f.www, MCP__WWW_AUTH_MAX);
    f.too_large = false;
    char errbuf[CURL_ERROR_SIZE] = "";
    mcp_status rc = MCP_OK;
    char *ct = NULL, *ah = NULL;

    if (rq->accept) {
        ah = mcp__aprintf("Accept: %s", rq->accept);
        if (ah == NULL || (tmp = curl_slist_append(hdrs, ah)) == NULL) {
            rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
            goto out;
        }
        hdrs = tmp;
    }
    if (rq->body != NULL) {
        ct = mcp__aprintf("Content-Type: %s",
                          rq->content_type ? rq->content_type : "application/json");
        if (ct == NULL || (tmp = curl_slist_append(hdrs, ct)) == NULL) {
            rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
            goto out;
        }
        hdrs = tmp;
    }
    if ((tmp = curl_slist_append(hdrs, "Expect:")) == NULL) {
        rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        goto out;
    }
    hdrs = tmp;

    curl_easy_setopt(h, CURLOPT_URL, rq->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(rq->timeout_ms ? rq->timeout_ms : 15000));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &f);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &f);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "libmcp-client/" MCP_VERSION_STRING);
    if (rq->cookie_handle) {
        /* The cookie jar lives in a share handle, so each hop can use a fresh easy handle
         * (reusing one easy handle with curl_easy_reset leaks its cookie-file list). */
        curl_easy_setopt(h, CURLOPT_SHARE, (CURLSH *)rq->cookie_handle);
        curl_easy_setopt(h, CURLOPT_COOKIEFILE, "");   /* in-memory cookie engine */
    }
    if (rq->basic_user != NULL && rq->basic_pass != NULL) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, rq->basic_user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, rq->basic_pass);
    }
    if (rq->body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(rq->body));
    } else if (rq->method != NULL && strcmp(rq->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
    }

    CURLcode cc = curl_easy_perform(h);
    if (f.too_large) {
        rc = mcp_error_set(err, MCP_ERR_TOO_LARGE, "response from %s exceeds %zu bytes",
                           rq->url, f.body.max);
        goto out;
    }
    if (cc != CURLE_OK) {
        rc = mcp_error_set(err, cc == CURLE_OPERATION_TIMEDOUT ? MCP_ERR_TIMEOUT : MCP_ERR_IO,
                           "%s %s failed: %s", rq->body ? "POST" : "GET", rq->url,
                           errbuf[0] ? errbuf : curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rs->status);
    char *ctype = NULL, *loc = NULL;
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype);
    curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc);
    if (ctype != NULL)
        rs->content_type = mcp__strdup(ctype);
    if (loc != NULL)
        rs->location = mcp__strdup(loc);
    if (f.www.len > 0)
        rs->www_auth = mcp__strdup(f.www.ptr);
    rs->body = mcp__buf_steal(&f.body, &rs->body_len);
    if (rs->body == NULL) {
        rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (rq->verbose)
        mcp__log(MCP__LOG_INFO, "oauth", "%s %s -> %ld", rq->body ? "POST" : "GET", rq->url,
                 rs->status);
out:
    if (rc != MCP_OK)
        mcp__http_resp_cleanup(rs);
    if (f.body.ptr != NULL)
        mcp_memzero(f.body.ptr, f.body.len);
    mcp__buf_cleanup(&f.body);
    mcp__buf_cleanup(&f.www);
    curl_slist_free_all(hdrs);
    mcp__free(ct);
    mcp__free(ah);
    curl_easy_cleanup(h);
    return rc;
}
