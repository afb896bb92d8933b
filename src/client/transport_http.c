/*
 * Streamable HTTP transport (MCP 2025-11-25 "Transports"), on libcurl's multi interface.
 *
 * Every message is a POST; the answer is 202 (notifications, responses), a JSON body, or an SSE
 * stream that may carry server requests and notifications before the response. Several
 * exchanges can be in flight (a tool call waiting for the user's elicitation answer POSTs that
 * answer while its own stream stays open), which is why this uses one multi handle driven from
 * the caller's thread rather than blocking easy calls or a background thread: callbacks then run
 * on the application's thread, and the multi's connection cache keeps connections alive.
 *
 * curl callbacks never call into the session: they parse and queue messages (mcp__evq); the
 * session drains the queue after pump() returns, because curl forbids re-entering the multi
 * handle from its callbacks and a callback may want to send.
 *
 * Resumption (SEP-1699): when a POST's SSE stream ends before the response but the stream gave
 * an event id, the transport waits the server's `retry` time and re-opens the stream with
 * GET + Last-Event-ID; the session only sees the messages and the final DONE.
 */
#include "client/transport_http.h"

#include <string.h>

/* Header lists may hold the credential line: wipe before freeing. */
static void
free_headers(struct curl_slist *l)
{
    for (struct curl_slist *it = l; it != NULL; it = it->next)
        if (it->data != NULL)
            mcp_memzero(it->data, strlen(it->data));
    curl_slist_free_all(l);
}

void
mcp__htr_xfer_free(xfer *x)
{
    if (x == NULL)
        return;
    if (x->easy != NULL) {
        curl_multi_remove_handle(x->tr->multi, x->easy);
        curl_easy_cleanup(x->easy);
    }
    free_headers(x->hdrs);
    mcp__free(x->body);
    mcp__buf_cleanup(&x->json);
    mcp__sse_cleanup(&x->sse);
    mcp__buf_cleanup(&x->www);
    mcp__free(x->dpop_nonce);
    mcp__free(x->session_id);
    mcp__free(x->content_type);
    mcp__free(x);
}

void
mcp__htr_unlink_xfer(http_tr *t, xfer *x)
{
    for (xfer **pp = &t->xfers; *pp != NULL; pp = &(*pp)->next)
        if (*pp == x) {
            *pp = x->next;
            return;
        }
}

static mcp_status
add_header(struct curl_slist **l, const char *line)
{
    struct curl_slist *n = curl_slist_append(*l, line);
    if (n == NULL)
        return MCP_ERR_NOMEM;
    *l = n;
    return MCP_OK;
}

static mcp_status
add_headerf(struct curl_slist **l, const char *name, const char *value)
{
    char *line = mcp__aprintf("%s: %s", name, value);
    if (line == NULL)
        return MCP_ERR_NOMEM;
    mcp_status rc = add_header(l, line);
    mcp__free(line);
    return rc;
}

/* What every request of the session carries after its own headers: the session id and
 * protocol version once known, the credential line, and the extra headers. */
static mcp_status
add_session_headers(const http_tr *t, struct curl_slist **l)
{
    mcp_status rc = MCP_OK;
    if (t->session_id != NULL && !t->stateless)
        rc = add_headerf(l, "Mcp-Session-Id", t->session_id);
    if (rc == MCP_OK && t->protocol_version != NULL)
        rc = add_headerf(l, "MCP-Protocol-Version", t->protocol_version);
    if (rc == MCP_OK && t->auth != NULL)
        rc = add_header(l, t->auth);
    for (size_t i = 0; rc == MCP_OK && i < t->nextra; i++)
        rc = add_header(l, t->extra[i]);
    return rc;
}

/* Start one transfer. last_id != NULL makes it a GET (resume / stream). */
static mcp_status
start_xfer(http_tr *t, xkind kind, uint64_t oid, int64_t rpc_id, const char *body,
           const char *const *hdrs, const char *last_id, unsigned resumes, mcp_error *err)
{
    xfer *x = mcp__calloc(1, sizeof *x);
    if (x == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    x->tr = t;
    x->kind = kind;
    x->oid = oid;
    x->rpc_id = rpc_id;
    x->resumes = resumes;
    mcp__buf_init(&x->json, t->max_message);
    mcp__sse_init(&x->sse, t->max_message, mcp__htr_on_sse_event, x);
    mcp__buf_init(&x->www, MCP__WWW_AUTH_MAX);
    mcp_status rc = MCP_OK;
    x->easy = curl_easy_init();
    if (x->easy == NULL || (body != NULL && (x->body = mcp__strdup(body)) == NULL)) {
        mcp__htr_xfer_free(x);
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    }
    if (kind == XK_POST) {
        rc = add_header(&x->hdrs, "Content-Type: application/json");
        if (rc == MCP_OK)
            rc = add_header(&x->hdrs, "Accept: application/json, text/event-stream");
        if (rc == MCP_OK)
            rc = add_header(&x->hdrs, "Expect:");
    } else {
        rc = add_header(&x->hdrs, "Accept: text/event-stream");
        if (rc == MCP_OK && last_id != NULL)
            rc = add_headerf(&x->hdrs, "Last-Event-ID", last_id);
    }
    if (rc == MCP_OK)
        rc = add_session_headers(t, &x->hdrs);
    for (size_t i = 0; rc == MCP_OK && hdrs != NULL && hdrs[i] != NULL; i++)
        rc = add_header(&x->hdrs, hdrs[i]);
    if (rc != MCP_OK) {
        mcp__htr_xfer_free(x);
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    }
    CURL *h = x->easy;
    curl_easy_setopt(h, CURLOPT_URL, t->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)t->connect_timeout_ms);
    if (t->ca_file != NULL)
        curl_easy_setopt(h, CURLOPT_CAINFO, t->ca_file);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, mcp__htr_on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, mcp__htr_on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "libmcp-client/" MCP_VERSION_STRING);
    if (kind == XK_POST) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, x->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(x->body));
    }
    if (curl_multi_add_handle(t->multi, h) != CURLM_OK) {
        mcp__htr_xfer_free(x);
        return mcp_error_set(err, MCP_ERR_INTERNAL, "cannot start the HTTP transfer");
    }
    x->next = t->xfers;
    t->xfers = x;
    return MCP_OK;
}

mcp_status
mcp__htr_schedule(http_tr *t, xkind kind, uint64_t oid, int64_t rpc_id, const char *last_id,
         unsigned resumes, long retry_ms)
{
    resume *r = mcp__calloc(1, sizeof *r);
    if (r == NULL)
        return MCP_ERR_NOMEM;
    if (last_id != NULL && (r->last_id = mcp__strdup(last_id)) == NULL) {
        mcp__free(r);
        return MCP_ERR_NOMEM;
    }
    r->due_ms = mcp_now_ms() + (uint64_t)(retry_ms >= 0 ? retry_ms : DEFAULT_RETRY_MS);
    r->kind = kind;
    r->oid = oid;
    r->rpc_id = rpc_id;
    r->resumes = resumes;
    r->next = t->resumes;
    t->resumes = r;
    return MCP_OK;
}

static void
start_due(http_tr *t)
{
    uint64_t now = mcp_now_ms();
    for (resume **pp = &t->resumes; *pp != NULL;) {
        resume *r = *pp;
        if (r->due_ms > now) {
            pp = &r->next;
            continue;
        }
        *pp = r->next;
        mcp_error e;
        if (start_xfer(t, r->kind, r->oid, r->rpc_id, NULL, NULL, r->last_id, r->resumes, &e) !=
                MCP_OK &&
            r->kind != XK_STREAM) {
            xfer fake;
            memset(&fake, 0, sizeof fake);
            fake.oid = r->oid;
            mcp__htr_push_done(t, &fake, e.code, e.message, false);
        }
        mcp__free(r->last_id);
        mcp__free(r);
    }
}

static mcp_status
http_send(mcp__tr *base, uint64_t oid, int64_t rpc_id, const char *body, const char *auth,
          const char *const *hdrs, mcp_error *err)
{
    http_tr *t = (http_tr *)base;
    if (auth == NULL || t->auth == NULL || strcmp(auth, t->auth) != 0) {
        char *a = auth ? mcp__strdup(auth) : NULL;
        if (auth != NULL && a == NULL)
            return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        if (t->auth != NULL) {
            mcp_memzero(t->auth, strlen(t->auth));
            mcp__free(t->auth);
        }
        t->auth = a;
    }
    return start_xfer(t, XK_POST, oid, rpc_id, body, hdrs, NULL, 0, err);
}

static mcp_status
http_pump(mcp__tr *base, unsigned timeout_ms, mcp_error *err)
{
    (void)err;
    http_tr *t = (http_tr *)base;
    uint64_t deadline = mcp_now_ms() + timeout_ms;
    for (;;) {
        start_due(t);
        int running = 0;
        curl_multi_perform(t->multi, &running);
        mcp__htr_drain_done(t);
        if (t->base.q->head != NULL)
            return MCP_OK;
        uint64_t now = mcp_now_ms();
        if (now >= deadline)
            return MCP_OK;
        uint64_t wait = deadline - now;
        for (resume *r = t->resumes; r != NULL; r = r->next)
            if (r->due_ms <= now)
                wait = 0;
            else if (r->due_ms - now < wait)
                wait = r->due_ms - now;
        if (wait > 0)
            curl_multi_poll(t->multi, NULL, 0, (int)(wait > 1000 ? 1000 : wait), NULL);
    }
}

static void
http_abort(mcp__tr *base, uint64_t oid)
{
    http_tr *t = (http_tr *)base;
    for (xfer **pp = &t->xfers; *pp != NULL;) {
        xfer *x = *pp;
        if (x->oid == oid && x->kind != XK_STREAM) {
            *pp = x->next;
            mcp__htr_xfer_free(x);
        } else {
            pp = &x->next;
        }
    }
    for (resume **pp = &t->resumes; *pp != NULL;) {
        resume *r = *pp;
        if (r->oid == oid && r->kind != XK_STREAM) {
            *pp = r->next;
            mcp__free(r->last_id);
            mcp__free(r);
        } else {
            pp = &r->next;
        }
    }
}

static void
http_set_version(mcp__tr *base, const char *version, bool stateless)
{
    http_tr *t = (http_tr *)base;
    mcp__free(t->protocol_version);
    t->protocol_version = version ? mcp__strdup(version) : NULL;
    t->stateless = stateless;
    if (stateless) {
        mcp__free(t->session_id);
        t->session_id = NULL;
    }
}

/* Open the standalone GET stream and wait (bounded) until the server answered its headers.
 * Servers send requests that are not tied to a POST (e.g. an elicitation from a tool that does
 * not pass the related request id) only on this stream and drop them when it is not yet
 * registered, so a later request must not race ahead of it. */
#define STREAM_OPEN_WAIT_MS 3000

static void
http_open_stream(mcp__tr *base, const char *auth)
{
    http_tr *t = (http_tr *)base;
    (void)auth;                               /* the stream uses the last credential sent */
    mcp_error e;
    if (start_xfer(t, XK_STREAM, 0, -1, NULL, NULL, NULL, 0, &e) != MCP_OK) {
        mcp__log(MCP__LOG_WARN, "client", "cannot open the GET stream: %s", e.message);
        return;
    }
    xfer *sx = t->xfers;                      /* start_xfer pushes at the head */
    uint64_t end = mcp_now_ms() + STREAM_OPEN_WAIT_MS;
    while (mcp_now_ms() < end) {
        int running = 0;
        curl_multi_perform(t->multi, &running);
        bool alive = false;
        for (xfer *x = t->xfers; x != NULL; x = x->next)
            alive |= x == sx;
        if (!alive || sx->headers_done)
            break;
        mcp__htr_drain_done(t);                        /* may finish (and free) sx: checked above */
        alive = false;
        for (xfer *x = t->xfers; x != NULL; x = x->next)
            alive |= x == sx;
        if (!alive || sx->headers_done)
            break;
        curl_multi_poll(t->multi, NULL, 0, 50, NULL);
    }
}

static const char *
http_session_id(const mcp__tr *base)
{
    return ((const http_tr *)base)->session_id;
}

/* DELETE the session (best effort, short timeout): the spec asks clients that no longer need
 * a session to end it explicitly. */
static void
delete_session(http_tr *t)
{
    CURL *h = curl_easy_init();
    if (h == NULL)
        return;
    struct curl_slist *hdrs = NULL;
    mcp_status rc = add_session_headers(t, &hdrs);
    if (rc == MCP_OK) {
        curl_easy_setopt(h, CURLOPT_URL, t->url);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
        if (t->ca_file != NULL)
            curl_easy_setopt(h, CURLOPT_CAINFO, t->ca_file);
        curl_easy_setopt(h, CURLOPT_NOBODY, 0L);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 2000L);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, NULL);
        FILE *devnull = fopen("/dev/null", "w");
        if (devnull != NULL)
            curl_easy_setopt(h, CURLOPT_WRITEDATA, devnull);
        CURLcode cc = curl_easy_perform(h);
        long st = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
        if (t->verbose)
            mcp__log(MCP__LOG_INFO, "client", "DELETE %s -> %ld%s", t->url, st,
                     cc == CURLE_OK ? "" : " (failed)");
        if (devnull != NULL)
            fclose(devnull);
    }
    free_headers(hdrs);
    curl_easy_cleanup(h);
}

static void
http_close(mcp__tr *base)
{
    http_tr *t = (http_tr *)base;
    if (t == NULL)
        return;
    while (t->xfers != NULL) {
        xfer *x = t->xfers;
        t->xfers = x->next;
        mcp__htr_xfer_free(x);
    }
    while (t->resumes != NULL) {
        resume *r = t->resumes;
        t->resumes = r->next;
        mcp__free(r->last_id);
        mcp__free(r);
    }
    if (t->session_id != NULL && !t->stateless)
        delete_session(t);
    if (t->multi != NULL)
        curl_multi_cleanup(t->multi);
    for (size_t i = 0; i < t->nextra; i++)
        mcp__free(t->extra[i]);
    mcp__free(t->extra);
    mcp__free(t->url);
    mcp__free(t->ca_file);
    mcp__free(t->session_id);
    mcp__free(t->protocol_version);
    if (t->auth != NULL) {
        mcp_memzero(t->auth, strlen(t->auth));
        mcp__free(t->auth);
    }
    mcp__free(t);
}

static const mcp__tr_ops http_ops = {
    .send = http_send,
    .pump = http_pump,
    .abort = http_abort,
    .set_protocol_version = http_set_version,
    .open_stream = http_open_stream,
    .close = http_close,
    .session_id = http_session_id,
};

mcp_status
mcp__http_tr_new(const mcp__http_tr_opts *o, mcp__evq *q, mcp__tr **out, mcp_error *err)
{
    *out = NULL;
    mcp__url u;
    if (o->url == NULL || mcp__url_parse(o->url, &u) != MCP_OK)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "not an http(s) URL: %s",
                             o->url ? o->url : "(null)");
    mcp__url_cleanup(&u);
    mcp__curl_global_init();
    http_tr *t = mcp__calloc(1, sizeof *t);
    if (t == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    t->base.ops = &http_ops;
    t->base.q = q;
    t->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : 10000;
    t->max_message = o->max_message ? o->max_message : MCP_CLIENT_DEFAULT_MAX_MESSAGE;
    t->verbose = o->verbose;
    t->url = mcp__strdup(o->url);
    t->ca_file = o->ca_file ? mcp__strdup(o->ca_file) : NULL;
    t->multi = curl_multi_init();
    size_t n = 0;
    while (o->headers != NULL && o->headers[n] != NULL)
        n++;
    t->extra = n ? mcp__calloc(n, sizeof *t->extra) : NULL;
    bool ok = t->url != NULL && t->multi != NULL && (n == 0 || t->extra != NULL) &&
              (o->ca_file == NULL || t->ca_file != NULL);
    for (size_t i = 0; ok && i < n; i++) {
        /* One header per entry; a CR/LF inside would smuggle extra headers. */
        if (strpbrk(o->headers[i], "\r\n") != NULL || strchr(o->headers[i], ':') == NULL) {
            http_close(&t->base);
            return mcp_error_set(err, MCP_ERR_INVALID_ARG, "bad extra header (want Name: value)");
        }
        t->extra[i] = mcp__strdup(o->headers[i]);
        ok = t->extra[i] != NULL;
        t->nextra = i + 1;
    }
    if (!ok) {
        http_close(&t->base);
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    }
    *out = &t->base;
    return MCP_OK;
}
