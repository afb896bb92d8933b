/*
 * The one outbound HTTP fetcher: a blocking request on a libcurl easy handle.
 *
 * JWKS fetching, token introspection and the client's OAuth requests each had their own
 * curl_global_init once and their own capped read loop. What they share is here; what differs
 * (caps, timeouts, redirects, the https-or-loopback rule, the address rule for URLs learned from
 * a peer, headers, a cookie share, an abort flag) is a parameter. The address rule is checked
 * in libcurl's open-socket callback, on the address about to be connected. Every response
 * body has a hard maximum (STYLE.md section 9), checked both against Content-Length
 * (CURLOPT_MAXFILESIZE) and while reading. TLS verification is
 * always on; only http and https are spoken.
 */
#include "net/net.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>

_Static_assert(MCP__NET_ERROR_MAX >= CURL_ERROR_SIZE, "room for libcurl's error buffer");

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static bool curl_ok;

static void
curl_init_once(void)
{
    curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

bool
mcp__curl_global_init(void)
{
    pthread_once(&curl_once, curl_init_once);
    return curl_ok;
}

/* ---- handle pool ------------------------------------------------------------------------- */

struct mcp__net_pool {
    pthread_mutex_t mu;
    size_t          n, max;
    CURL           *h[];
};

mcp__net_pool *
mcp__net_pool_new(size_t max)
{
    if (max == 0 || max > 64)
        return NULL;
    mcp__net_pool *p = mcp__calloc(1, sizeof *p + max * sizeof p->h[0]);
    if (p == NULL)
        return NULL;
    pthread_mutex_init(&p->mu, NULL);
    p->max = max;
    return p;
}

void
mcp__net_pool_free(mcp__net_pool *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++)
        curl_easy_cleanup(p->h[i]);
    pthread_mutex_destroy(&p->mu);
    mcp__free(p);
}

static CURL *
handle_take(mcp__net_pool *p)
{
    CURL *h = NULL;
    if (p != NULL) {
        pthread_mutex_lock(&p->mu);
        if (p->n > 0)
            h = p->h[--p->n];
        pthread_mutex_unlock(&p->mu);
    }
    if (h != NULL) {
        curl_easy_reset(h);          /* options go; live connections and caches stay */
        return h;
    }
    return curl_easy_init();
}

static void
handle_give_back(mcp__net_pool *p, CURL *h, bool reusable)
{
    if (p != NULL && reusable) {
        pthread_mutex_lock(&p->mu);
        if (p->n < p->max) {
            p->h[p->n++] = h;
            h = NULL;
        }
        pthread_mutex_unlock(&p->mu);
    }
    if (h != NULL)
        curl_easy_cleanup(h);
}

/* ---- one transfer ------------------------------------------------------------------------ */

typedef struct xfer {
    const mcp__net_req *rq;
    mcp_buf             body;
    bool                too_large, nomem;
    bool                refused;          /* the address rule refused a connection */
    char                refused_addr[INET6_ADDRSTRLEN];
    mcp__net_addr_class refused_class;
} xfer;

/* CURLOPT_OPENSOCKETFUNCTION under MCP__NET_ADDR_PUBLIC_ONLY: libcurl asks us for the socket
 * of every connection attempt (each resolved address, each redirect hop), with the address it
 * will connect to. Refusing here means nothing at all is sent to that address. */
static curl_socket_t
on_open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    xfer *x = ud;
    mcp__net_addr_class c = purpose == CURLSOCKTYPE_IPCXN
                                ? mcp__net_sockaddr_class(&a->addr, a->addrlen)
                                : MCP__NET_ADDR_INVALID;
    if (c != MCP__NET_ADDR_PUBLIC) {
        x->refused = true;
        x->refused_class = c;
        x->refused_addr[0] = '\0';
        const void *ip = NULL;
        if (a->family == AF_INET)
            ip = &((const struct sockaddr_in *)(const void *)&a->addr)->sin_addr;
        else if (a->family == AF_INET6)
            ip = &((const struct sockaddr_in6 *)(const void *)&a->addr)->sin6_addr;
        if (ip == NULL || inet_ntop(a->family, ip, x->refused_addr, sizeof x->refused_addr) ==
                              NULL)
            snprintf(x->refused_addr, sizeof x->refused_addr, "(family %d)", a->family);
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    mcp_status rc = mcp__buf_append(&x->body, ptr, n);
    if (rc == MCP_OK)
        return n;
    x->too_large |= rc == MCP_ERR_TOO_LARGE;
    x->nomem |= rc == MCP_ERR_NOMEM;
    return 0;                                   /* 0 aborts the transfer */
}

static size_t
on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    return x->rq->header_fn(x->rq->header_ctx, ptr, n) ? n : 0;
}

static int
on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    const xfer *x = ud;
    return x->rq->abort_fn(x->rq->abort_ctx) ? 1 : 0;
}

/* Free a header list whose lines may hold secrets (Authorization). */
static void
slist_wipe_free(struct curl_slist *l)
{
    for (struct curl_slist *i = l; i != NULL; i = i->next)
        mcp_memzero(i->data, strlen(i->data));
    curl_slist_free_all(l);
}

static bool
slist_add(struct curl_slist **l, const char *line)
{
    struct curl_slist *t = curl_slist_append(*l, line);
    if (t == NULL)
        return false;
    *l = t;
    return true;
}

static mcp_status
build_headers(const mcp__net_req *rq, struct curl_slist **out)
{
    struct curl_slist *l = NULL;
    bool ok = true;
    for (size_t i = 0; ok && rq->headers != NULL && rq->headers[i] != NULL; i++)
        ok = slist_add(&l, rq->headers[i]);
    if (ok && rq->body != NULL && rq->content_type != NULL) {
        char *ct = mcp__aprintf("Content-Type: %s", rq->content_type);
        ok = ct != NULL && slist_add(&l, ct);
        mcp__free(ct);
    }
    if (ok)
        ok = slist_add(&l, "Expect:");         /* no 100-continue round trip */
    if (!ok) {
        slist_wipe_free(l);
        return MCP_ERR_NOMEM;
    }
    *out = l;
    return MCP_OK;
}

void
mcp__net_resp_cleanup(mcp__net_resp *rs)
{
    if (rs == NULL)
        return;
    if (rs->body != NULL) {
        mcp_memzero(rs->body, rs->body_len);   /* token responses carry secrets */
        mcp__free(rs->body);
    }
    mcp__free(rs->content_type);
    mcp__free(rs->location);
    memset(rs, 0, sizeof *rs);
}

static void
set_reason(mcp__net_resp *rs, const char *reason, const char *detail)
{
    rs->reason = reason;
    snprintf(rs->detail, sizeof rs->detail, "%s", detail != NULL && detail[0] ? detail : reason);
}

mcp_status
mcp__net_fetch(const mcp__net_req *rq, mcp__net_resp *rs, mcp_error *err)
{
    memset(rs, 0, sizeof *rs);
    if (rq == NULL || rq->url == NULL || rq->max_body == 0 || rq->timeout_ms == 0)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "fetch: missing URL, cap or timeout");
    if (rq->rule == MCP__NET_HTTPS_OR_LOOPBACK) {
        mcp__net_url_verdict v = mcp__net_url_classify(rq->url, false);
        if (v == MCP__NET_URL_NOMEM)
            return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
        if (v != MCP__NET_URL_OK)
            return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                                 "refusing a URL that is neither https nor loopback");
    }
    if (!mcp__curl_global_init()) {
        set_reason(rs, "libcurl initialisation failed", NULL);
        return mcp_error_set(err, MCP_ERR_INTERNAL, "libcurl initialisation failed");
    }
    struct curl_slist *hdrs = NULL;
    if (build_headers(rq, &hdrs) != MCP_OK)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    CURL *h = handle_take(rq->pool);
    if (h == NULL) {
        slist_wipe_free(hdrs);
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    }
    xfer x = { .rq = rq };
    mcp__buf_init(&x.body, rq->max_body);
    char errbuf[CURL_ERROR_SIZE] = "";
    unsigned cto = rq->connect_timeout_ms ? rq->connect_timeout_ms : rq->timeout_ms;

    curl_easy_setopt(h, CURLOPT_URL, rq->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (rq->max_redirects > 0) {
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long)rq->max_redirects);
        curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR,
                         rq->rule == MCP__NET_HTTPS_OR_LOOPBACK ? "https" : "http,https");
    } else {
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    }
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)rq->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)cto);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)rq->max_body);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_USERAGENT,
                     rq->user_agent ? rq->user_agent : "libmcp/" MCP_VERSION_STRING);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (rq->header_fn != NULL) {
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
    }
    if (rq->abort_fn != NULL) {
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, &x);
    }
    if (rq->cookie_share != NULL) {
        /* The cookie jar lives in a share handle, so each request can use a fresh easy handle
         * (reusing one easy handle with curl_easy_reset leaks its cookie-file list). */
        curl_easy_setopt(h, CURLOPT_SHARE, (CURLSH *)rq->cookie_share);
        curl_easy_setopt(h, CURLOPT_COOKIEFILE, "");   /* in-memory cookie engine */
    }
    struct curl_slist *resolve = NULL;
    for (size_t i = 0; rq->resolve != NULL && rq->resolve[i] != NULL; i++)
        if (!slist_add(&resolve, rq->resolve[i]))
            x.nomem = true;
    if (resolve != NULL)
        curl_easy_setopt(h, CURLOPT_RESOLVE, resolve);
    if (rq->addr_rule == MCP__NET_ADDR_PUBLIC_ONLY) {
        curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
        curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &x);
        /* a pooled handle may hold a connection opened under another rule */
        curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
    }
    if (rq->basic_user != NULL && rq->basic_pass != NULL) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, rq->basic_user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, rq->basic_pass);
    }
    if (rq->body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
    } else if (rq->method != NULL && strcmp(rq->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
    }

    CURLcode cc = x.nomem ? CURLE_OUT_OF_MEMORY : curl_easy_perform(h);
    mcp_status rc = MCP_OK;
    if (x.refused && cc != CURLE_OK) {
        char d[MCP__NET_ERROR_MAX];
        snprintf(d, sizeof d, "refusing to connect to %s address %s: the URL came from a "
                 "remote peer", mcp__net_addr_class_name(x.refused_class), x.refused_addr);
        set_reason(rs, "internal address refused", d);
        rc = mcp_error_set(err, MCP_ERR_FORBIDDEN, "%s", d);
    } else if (x.too_large || cc == CURLE_FILESIZE_EXCEEDED) {
        set_reason(rs, "response too large", NULL);
        rc = mcp_error_set(err, MCP_ERR_TOO_LARGE, "response from %s exceeds %zu bytes",
                           rq->url, rq->max_body);
    } else if (x.nomem) {
        set_reason(rs, "out of memory", NULL);
        rc = mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    } else if (cc != CURLE_OK) {
        set_reason(rs, curl_easy_strerror(cc), errbuf);
        rc = mcp_error_set(err, cc == CURLE_OPERATION_TIMEDOUT ? MCP_ERR_TIMEOUT : MCP_ERR_IO,
                           "request to %s failed: %s", rq->url, rs->detail);
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rs->status);
        if (rq->want_meta) {
            char *ctype = NULL, *loc = NULL;
            curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype);
            curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc);
            if ((ctype != NULL && (rs->content_type = mcp__strdup(ctype)) == NULL) ||
                (loc != NULL && (rs->location = mcp__strdup(loc)) == NULL))
                rc = mcp_error_set(err, MCP_ERR_NOMEM, NULL);
        }
        if (rc == MCP_OK && (rs->body = mcp__buf_steal(&x.body, &rs->body_len)) == NULL)
            rc = mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    }
    /* Nothing of this call stays on a pooled handle: these point at the caller's body, the
     * header list and this stack frame. */
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, NULL);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, NULL);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, NULL);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, NULL);
    curl_easy_setopt(h, CURLOPT_RESOLVE, NULL);
    handle_give_back(rq->pool, h, cc == CURLE_OK && resolve == NULL);
    curl_slist_free_all(resolve);
    slist_wipe_free(hdrs);
    if (x.body.ptr != NULL)
        mcp_memzero(x.body.ptr, x.body.len);
    mcp__buf_cleanup(&x.body);
    if (rc != MCP_OK) {
        const char *reason = rs->reason;
        char detail[sizeof rs->detail];
        memcpy(detail, rs->detail, sizeof detail);
        mcp__net_resp_cleanup(rs);
        rs->reason = reason;
        memcpy(rs->detail, detail, sizeof detail);
    }
    return rc;
}
