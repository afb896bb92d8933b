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
#include "client/internal.h"

#include "jsonrpc/jsonrpc.h"

#include <curl/curl.h>
#include <string.h>

#define MAX_RESUMES 5               /* reconnects of one exchange without a response */
#define DEFAULT_RETRY_MS 1000
#define ERR_BODY_MAX ((size_t)64 * 1024)
#define STREAM_MAX_FAILURES 3

typedef enum { XK_POST, XK_RESUME, XK_STREAM } xkind;
typedef enum { BODY_UNSET, BODY_NONE, BODY_JSON, BODY_SSE, BODY_ERR } body_mode;

typedef struct http_tr http_tr;

typedef struct xfer {
    http_tr           *tr;
    CURL              *easy;
    struct curl_slist *hdrs;
    xkind              kind;
    uint64_t           oid;
    int64_t            rpc_id;
    char              *body;
    long               status;
    body_mode          mode;
    mcp_buf            json;
    mcp__sse           sse;
    mcp_buf            www;
    char              *session_id;
    char              *content_type;
    mcp_status         fail;
    char               fail_msg[MCP_ERROR_MSG_MAX];
    bool               got_response;
    bool               complete_early;
    bool               headers_done;
    unsigned           resumes;
    char               errbuf[CURL_ERROR_SIZE];
    struct xfer       *next;
} xfer;

typedef struct resume {
    uint64_t       due_ms;
    xkind          kind;
    uint64_t       oid;
    int64_t        rpc_id;
    char          *last_id;
    unsigned       resumes;
    struct resume *next;
} resume;

struct http_tr {
    mcp__tr   base;
    CURLM    *multi;
    char     *url;
    char    **extra;          /* extra header lines */
    size_t    nextra;
    char     *session_id;
    char     *protocol_version;
    char     *auth;           /* last credential header line (secret) */
    unsigned  connect_timeout_ms;
    size_t    max_message;
    bool      verbose;
    xfer     *xfers;
    resume   *resumes;
    unsigned  stream_failures;
};

/* ------------------------------------------------------------------------------------------ */

static void
set_fail(xfer *x, mcp_status st, const char *msg)
{
    if (x->fail != MCP_OK)
        return;
    x->fail = st;
    snprintf(x->fail_msg, sizeof x->fail_msg, "%s", msg);
}

static bool
media_type_is(const char *ct, const char *want)
{
    if (ct == NULL)
        return false;
    size_t n = strlen(want);
    for (size_t i = 0; i < n; i++) {
        char a = ct[i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a + 32);
        if (a != want[i])
            return false;
    }
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

static void
note_response(xfer *x, const json_t *m)
{
    if (x->rpc_id < 0)
        return;
    if (json_is_array(m)) {
        size_t i;
        const json_t *e;
        json_array_foreach(m, i, e)
            if (mcp__rpc_is_response_to(e, x->rpc_id))
                x->got_response = true;
    } else if (mcp__rpc_is_response_to(m, x->rpc_id)) {
        x->got_response = true;
    }
}

static mcp_status
on_sse_event(void *ctx, const char *event, const char *data, size_t len, const char *id)
{
    (void)id;
    xfer *x = ctx;
    if (strcmp(event, "message") != 0)
        return MCP_OK;                       /* MCP only uses default "message" events */
    json_error_t je;
    json_t *m = json_loadb(data, len, 0, &je);
    if (m == NULL) {
        set_fail(x, MCP_ERR_PARSE, "server sent an SSE event that is not valid JSON");
        return MCP_ERR_PARSE;
    }
    note_response(x, m);
    mcp_status rc = mcp__evq_push_message(x->tr->base.q, m);
    if (rc != MCP_OK) {
        set_fail(x, rc, "out of memory");
        return rc;
    }
    /* A resumed GET may stay open after delivering what we waited for; stop reading it. */
    if (x->got_response && x->kind == XK_RESUME)
        x->complete_early = true;
    return MCP_OK;
}

static void
adopt_session(http_tr *t, xfer *x)
{
    if (t->session_id == NULL && x->session_id != NULL && x->kind == XK_POST) {
        t->session_id = x->session_id;
        x->session_id = NULL;
    }
}

static void
classify(xfer *x)
{
    char *ct = NULL;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
    curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &ct);
    if (ct != NULL && x->content_type == NULL)
        x->content_type = mcp__strdup(ct);
    adopt_session(x->tr, x);
    if (x->status < 200 || x->status > 299) {
        x->mode = BODY_ERR;
    } else if (x->rpc_id < 0 && x->kind == XK_POST) {
        x->mode = BODY_NONE;                 /* notification / response: body is irrelevant */
    } else if (media_type_is(ct, "text/event-stream")) {
        x->mode = BODY_SSE;
    } else if (media_type_is(ct, "application/json")) {
        x->mode = BODY_JSON;
    } else if (x->status == 202 || x->status == 204) {
        x->mode = BODY_NONE;
    } else {
        char msg[160];
        char safe[64];
        mcp__sanitize(ct ? ct : "(none)", safe, sizeof safe);
        snprintf(msg, sizeof msg, "server answered with unexpected Content-Type %s", safe);
        set_fail(x, MCP_ERR_PROTOCOL, msg);
        x->mode = BODY_NONE;
    }
}

static size_t
on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    if (x->mode == BODY_UNSET)
        classify(x);
    if (x->fail != MCP_OK || x->complete_early)
        return CURL_WRITEFUNC_ERROR;
    switch (x->mode) {
    case BODY_JSON:
        if (mcp__buf_append(&x->json, ptr, n) != MCP_OK) {
            char msg[128];
            snprintf(msg, sizeof msg, "server response exceeds the %zu-byte limit", x->json.max);
            set_fail(x, MCP_ERR_TOO_LARGE, msg);
            return CURL_WRITEFUNC_ERROR;
        }
        break;
    case BODY_SSE: {
        mcp_status rc = mcp__sse_feed(&x->sse, ptr, n);
        if (rc == MCP_ERR_TOO_LARGE) {
            char msg[128];
            snprintf(msg, sizeof msg, "server SSE event exceeds the %zu-byte limit",
                     x->sse.max);
            set_fail(x, rc, msg);
        } else if (rc != MCP_OK) {
            set_fail(x, rc, "cannot parse the server's SSE stream");
        }
        if (rc != MCP_OK || x->complete_early)
            return CURL_WRITEFUNC_ERROR;
        break;
    }
    case BODY_ERR:
        if (x->json.len < ERR_BODY_MAX)
            (void)mcp__buf_append(&x->json, ptr, n < ERR_BODY_MAX ? n : ERR_BODY_MAX);
        break;
    default:
        break;
    }
    return n;
}

static size_t
on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    const char *v;
    size_t vl;
    if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
        mcp__buf_reset(&x->www);
    } else if (n <= 2 && (n == 0 || ptr[0] == '\r' || ptr[0] == '\n')) {
        long st = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &st);
        if (st >= 200)
            x->headers_done = true;          /* end of the final header block */
    } else if (mcp__http_header_is(ptr, n, "www-authenticate", &v, &vl)) {
        if (mcp__http_www_auth_add(&x->www, v, vl) != MCP_OK)
            set_fail(x, MCP_ERR_TOO_LARGE, "WWW-Authenticate header is too large");
    } else if (mcp__http_header_is(ptr, n, "mcp-session-id", &v, &vl)) {
        /* Visible ASCII only (spec), and bounded. */
        bool ok = vl > 0 && vl <= 1024;
        for (size_t i = 0; ok && i < vl; i++)
            ok = v[i] >= 0x21 && v[i] <= 0x7e;
        if (ok && x->session_id == NULL)
            x->session_id = mcp__strndup(v, vl);
    }
    return n;
}

/* ------------------------------------------------------------------------------------------ */

/* Header lists may hold the credential line: wipe before freeing. */
static void
free_headers(struct curl_slist *l)
{
    for (struct curl_slist *it = l; it != NULL; it = it->next)
        if (it->data != NULL)
            mcp_memzero(it->data, strlen(it->data));
    curl_slist_free_all(l);
}

static void
xfer_free(xfer *x)
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
    mcp__free(x->session_id);
    mcp__free(x->content_type);
    mcp__free(x);
}

static void
unlink_xfer(http_tr *t, xfer *x)
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
    if (t->session_id != NULL)
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
           const char *last_id, unsigned resumes, mcp_error *err)
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
    mcp__sse_init(&x->sse, t->max_message, on_sse_event, x);
    mcp__buf_init(&x->www, MCP__WWW_AUTH_MAX);
    mcp_status rc = MCP_OK;
    x->easy = curl_easy_init();
    if (x->easy == NULL || (body != NULL && (x->body = mcp__strdup(body)) == NULL)) {
        xfer_free(x);
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
    if (rc != MCP_OK) {
        xfer_free(x);
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    }
    CURL *h = x->easy;
    curl_easy_setopt(h, CURLOPT_URL, t->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)t->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "libmcp-client/" MCP_VERSION_STRING);
    if (kind == XK_POST) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, x->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(x->body));
    }
    if (curl_multi_add_handle(t->multi, h) != CURLM_OK) {
        xfer_free(x);
        return mcp_error_set(err, MCP_ERR_INTERNAL, "cannot start the HTTP transfer");
    }
    x->next = t->xfers;
    t->xfers = x;
    return MCP_OK;
}

static mcp_status
schedule(http_tr *t, xkind kind, uint64_t oid, int64_t rpc_id, const char *last_id,
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
push_done(http_tr *t, const xfer *x, mcp_status st, const char *msg, bool with_www)
{
    mcp__event *ev = mcp__evq_push_event(t->base.q, MCP__EV_DONE, x->oid, st, msg);
    if (ev == NULL)
        return;                               /* out of memory: the request times out */
    ev->http_status = x->status;
    ev->final = true;
    if (with_www && x->www.len > 0)
        ev->www_auth = mcp__strdup(x->www.ptr);
}

/* A JSON-RPC error in an HTTP error body: its message, for the report. */
static void
error_body_message(const xfer *x, char *out, size_t outsz)
{
    out[0] = '\0';
    if (x->json.len == 0)
        return;
    json_error_t je;
    json_t *j = json_loadb(x->json.ptr, x->json.len, 0, &je);
    const json_t *e = json_object_get(j, "error");
    const char *m = NULL;
    json_int_t code;
    if (json_is_object(e))
        mcp__rpc_error_parts(e, &code, &m);
    else if (json_is_string(json_object_get(j, "error_description")))
        m = json_string_value(json_object_get(j, "error_description"));
    if (m != NULL) {
        char safe[160];
        mcp__sanitize(m, safe, sizeof safe);
        snprintf(out, outsz, ": %s", safe);
    }
    json_decref(j);
}

static void
finish_stream(http_tr *t, xfer *x, CURLcode cc)
{
    bool ok = cc == CURLE_OK && x->status >= 200 && x->status <= 299 && x->fail == MCP_OK &&
              x->mode == BODY_SSE;
    if (t->verbose)
        mcp__log(MCP__LOG_INFO, "client", "GET stream ended (HTTP %ld)", x->status);
    if (x->status == 405 || x->status == 404 || x->status == 400 ||
        (x->status >= 200 && x->status <= 299 && x->mode != BODY_SSE))
        return;                               /* server offers no standalone stream */
    if (!ok && ++t->stream_failures >= STREAM_MAX_FAILURES)
        return;
    if (ok)
        t->stream_failures = 0;
    (void)schedule(t, XK_STREAM, 0, -1, x->sse.last_id, 0, x->sse.retry_ms);
}

static void
finish(http_tr *t, xfer *x, CURLcode cc)
{
    if (x->mode == BODY_UNSET && cc == CURLE_OK)
        classify(x);
    adopt_session(t, x);
    if (t->verbose)
        mcp__log(MCP__LOG_INFO, "client", "%s %s -> %ld%s%s", x->kind == XK_POST ? "POST" : "GET",
                 t->url, x->status, x->content_type ? " " : "",
                 x->content_type ? x->content_type : "");
    if (x->kind == XK_STREAM) {
        finish_stream(t, x, cc);
        return;
    }
    char msg[MCP_ERROR_MSG_MAX * 2];
    if (x->fail != MCP_OK) {
        push_done(t, x, x->fail, x->fail_msg, false);
        return;
    }
    if (x->complete_early) {
        push_done(t, x, MCP_OK, NULL, false);
        return;
    }
    if (cc != CURLE_OK) {
        const char *why = x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc);
        if (x->status == 0)
            snprintf(msg, sizeof msg, "cannot reach %s: %s", t->url, why);
        else
            snprintf(msg, sizeof msg, "connection to %s failed mid-response: %s", t->url, why);
        push_done(t, x, cc == CURLE_OPERATION_TIMEDOUT ? MCP_ERR_TIMEOUT : MCP_ERR_IO, msg,
                  false);
        return;
    }
    if (x->status >= 200 && x->status <= 299) {
        if (x->mode == BODY_JSON) {
            json_error_t je;
            json_t *m = json_loadb(x->json.ptr ? x->json.ptr : "", x->json.len, 0, &je);
            if (m == NULL) {
                push_done(t, x, MCP_ERR_PARSE, "server response is not valid JSON", false);
                return;
            }
            note_response(x, m);
            if (mcp__evq_push_message(t->base.q, m) != MCP_OK) {
                push_done(t, x, MCP_ERR_NOMEM, "out of memory", false);
                return;
            }
        } else if (x->mode == BODY_SSE && x->rpc_id >= 0 && !x->got_response) {
            if (x->sse.last_id != NULL && x->resumes < MAX_RESUMES &&
                schedule(t, XK_RESUME, x->oid, x->rpc_id, x->sse.last_id, x->resumes + 1,
                         x->sse.retry_ms) == MCP_OK) {
                if (t->verbose)
                    mcp__log(MCP__LOG_INFO, "client",
                             "SSE stream closed before the response; resuming in %ld ms",
                             x->sse.retry_ms >= 0 ? x->sse.retry_ms : DEFAULT_RETRY_MS);
                return;                       /* no DONE: the exchange goes on */
            }
            push_done(t, x, MCP_ERR_IO,
                      x->sse.last_id ? "SSE stream kept closing before the response arrived"
                                     : "SSE stream closed before the response arrived", false);
            return;
        }
        push_done(t, x, MCP_OK, NULL, false);
        return;
    }
    char detail[200];
    error_body_message(x, detail, sizeof detail);
    if (x->status == 401 || x->status == 403) {
        snprintf(msg, sizeof msg, "server answered HTTP %ld%s", x->status, detail);
        push_done(t, x, x->status == 401 ? MCP_ERR_UNAUTHENTICATED : MCP_ERR_FORBIDDEN, msg,
                  true);
        return;
    }
    if (x->kind == XK_RESUME) {
        snprintf(msg, sizeof msg, "cannot resume the SSE stream: HTTP %ld%s", x->status, detail);
        push_done(t, x, MCP_ERR_IO, msg, false);
        return;
    }
    if (x->status == 404 && t->session_id != NULL) {
        push_done(t, x, MCP_ERR_STATE, "the server no longer knows this session (HTTP 404)",
                  false);
        return;
    }
    /* A JSON-RPC error response in the body still answers the request. */
    if (x->json.len > 0 && x->rpc_id >= 0) {
        json_error_t je;
        json_t *m = json_loadb(x->json.ptr, x->json.len, 0, &je);
        if (m != NULL && mcp__rpc_is_response_to(m, x->rpc_id))
            (void)mcp__evq_push_message(t->base.q, m);
        else
            json_decref(m);
    }
    snprintf(msg, sizeof msg, "server answered HTTP %ld%s", x->status, detail);
    push_done(t, x, x->status >= 500 ? MCP_ERR_IO : MCP_ERR_PROTOCOL, msg, false);
}

static void
drain_done(http_tr *t)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(t->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        xfer *x = NULL;
        for (xfer *it = t->xfers; it != NULL; it = it->next)
            if (it->easy == m->easy_handle)
                x = it;
        if (x == NULL)
            continue;
        CURLcode cc = m->data.result;
        unlink_xfer(t, x);
        finish(t, x, cc);
        xfer_free(x);
    }
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
        if (start_xfer(t, r->kind, r->oid, r->rpc_id, NULL, r->last_id, r->resumes, &e) !=
                MCP_OK &&
            r->kind != XK_STREAM) {
            xfer fake;
            memset(&fake, 0, sizeof fake);
            fake.oid = r->oid;
            push_done(t, &fake, e.code, e.message, false);
        }
        mcp__free(r->last_id);
        mcp__free(r);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* ops                                                                                        */

static mcp_status
http_send(mcp__tr *base, uint64_t oid, int64_t rpc_id, const char *body, const char *auth,
          mcp_error *err)
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
    return start_xfer(t, XK_POST, oid, rpc_id, body, NULL, 0, err);
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
        drain_done(t);
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
            xfer_free(x);
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
http_set_version(mcp__tr *base, const char *version)
{
    http_tr *t = (http_tr *)base;
    mcp__free(t->protocol_version);
    t->protocol_version = version ? mcp__strdup(version) : NULL;
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
    if (start_xfer(t, XK_STREAM, 0, -1, NULL, NULL, 0, &e) != MCP_OK) {
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
        drain_done(t);                        /* may finish (and free) sx: checked above */
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
        xfer_free(x);
    }
    while (t->resumes != NULL) {
        resume *r = t->resumes;
        t->resumes = r->next;
        mcp__free(r->last_id);
        mcp__free(r);
    }
    if (t->session_id != NULL)
        delete_session(t);
    if (t->multi != NULL)
        curl_multi_cleanup(t->multi);
    for (size_t i = 0; i < t->nextra; i++)
        mcp__free(t->extra[i]);
    mcp__free(t->extra);
    mcp__free(t->url);
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
    t->multi = curl_multi_init();
    size_t n = 0;
    while (o->headers != NULL && o->headers[n] != NULL)
        n++;
    t->extra = n ? mcp__calloc(n, sizeof *t->extra) : NULL;
    bool ok = t->url != NULL && t->multi != NULL && (n == 0 || t->extra != NULL);
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
