/*
 * Reading one Streamable HTTP transfer's answer (see transport_http.c for the design): the
 * status and Content-Type decide how the body is read (JSON, an SSE stream, an error body, or
 * nothing); response headers give the session id and WWW-Authenticate; at the end one DONE
 * event says how the exchange went, unless an SSE stream that closed before the response is
 * resumed (SEP-1699). Messages are parsed and queued, never handed to the session directly.
 */
#include "client/transport_http.h"

#include "jsonrpc/jsonrpc.h"

#include <string.h>

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

mcp_status
mcp__htr_on_sse_event(void *ctx, const char *event, const char *data, size_t len, const char *id)
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
    if (t->session_id == NULL && x->session_id != NULL && x->kind == XK_POST && !t->stateless) {
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

size_t
mcp__htr_on_write(char *ptr, size_t size, size_t nmemb, void *ud)
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

size_t
mcp__htr_on_header(char *ptr, size_t size, size_t nmemb, void *ud)
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
    } else if (mcp__http_header_is(ptr, n, "dpop-nonce", &v, &vl) && vl <= 1024) {
        mcp__free(x->dpop_nonce);
        x->dpop_nonce = mcp__strndup(v, vl);
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

void
mcp__htr_push_done(http_tr *t, const xfer *x, mcp_status st, const char *msg, bool with_www)
{
    mcp__event *ev = mcp__evq_push_event(t->base.q, MCP__EV_DONE, x->oid, st, msg);
    if (ev == NULL)
        return;                               /* out of memory: the request times out */
    ev->http_status = x->status;
    ev->final = true;
    if (with_www && x->www.len > 0)
        ev->www_auth = mcp__strdup(x->www.ptr);
    if (with_www && x->dpop_nonce != NULL)
        ev->dpop_nonce = mcp__strdup(x->dpop_nonce);
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
    (void)mcp__htr_schedule(t, XK_STREAM, 0, -1, x->sse.last_id, 0, x->sse.retry_ms);
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
        mcp__htr_push_done(t, x, x->fail, x->fail_msg, false);
        return;
    }
    if (x->complete_early) {
        mcp__htr_push_done(t, x, MCP_OK, NULL, false);
        return;
    }
    /* An SSE answer cut mid-transfer (the connection dropped, a proxy gave up) is resumed like
     * one the server closed cleanly: both lose the rest of the stream the same way. Not a
     * timeout (the request's own limit) nor a transfer we stopped. */
    bool cut = cc != CURLE_OK && cc != CURLE_OPERATION_TIMEDOUT &&
               cc != CURLE_ABORTED_BY_CALLBACK && cc != CURLE_WRITE_ERROR &&
               x->status >= 200 && x->status <= 299 && x->mode == BODY_SSE;
    if (cut && t->verbose)
        mcp__log(MCP__LOG_INFO, "client", "SSE answer cut mid-transfer: %s",
                 x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc));
    if (cc != CURLE_OK && !cut) {
        const char *why = x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc);
        if (x->status == 0)
            snprintf(msg, sizeof msg, "cannot reach %s: %s", t->url, why);
        else
            snprintf(msg, sizeof msg, "connection to %s failed mid-response: %s", t->url, why);
        mcp__htr_push_done(t, x, cc == CURLE_OPERATION_TIMEDOUT ? MCP_ERR_TIMEOUT : MCP_ERR_IO, msg,
                  false);
        return;
    }
    if (x->status >= 200 && x->status <= 299) {
        if (x->mode == BODY_JSON) {
            json_error_t je;
            json_t *m = json_loadb(x->json.ptr ? x->json.ptr : "", x->json.len, 0, &je);
            if (m == NULL) {
                mcp__htr_push_done(t, x, MCP_ERR_PARSE, "server response is not valid JSON", false);
                return;
            }
            note_response(x, m);
            if (mcp__evq_push_message(t->base.q, m) != MCP_OK) {
                mcp__htr_push_done(t, x, MCP_ERR_NOMEM, "out of memory", false);
                return;
            }
        } else if (x->mode == BODY_SSE && x->rpc_id >= 0 && !x->got_response) {
            if (x->sse.last_id != NULL && x->resumes < MAX_RESUMES &&
                mcp__htr_schedule(t, XK_RESUME, x->oid, x->rpc_id, x->sse.last_id, x->resumes + 1,
                         x->sse.retry_ms) == MCP_OK) {
                if (t->verbose)
                    mcp__log(MCP__LOG_INFO, "client",
                             "SSE stream closed before the response; resuming in %ld ms",
                             x->sse.retry_ms >= 0 ? x->sse.retry_ms : DEFAULT_RETRY_MS);
                return;                       /* no DONE: the exchange goes on */
            }
            mcp__htr_push_done(t, x, MCP_ERR_IO,
                      x->sse.last_id ? "SSE stream kept closing before the response arrived"
                                     : "SSE stream closed before the response arrived", false);
            return;
        }
        mcp__htr_push_done(t, x, MCP_OK, NULL, false);
        return;
    }
    char detail[200];
    error_body_message(x, detail, sizeof detail);
    if (x->status == 401 || x->status == 403) {
        snprintf(msg, sizeof msg, "server answered HTTP %ld%s", x->status, detail);
        mcp__htr_push_done(t, x, x->status == 401 ? MCP_ERR_UNAUTHENTICATED : MCP_ERR_FORBIDDEN, msg,
                  true);
        return;
    }
    if (x->kind == XK_RESUME) {
        snprintf(msg, sizeof msg, "cannot resume the SSE stream: HTTP %ld%s", x->status, detail);
        mcp__htr_push_done(t, x, MCP_ERR_IO, msg, false);
        return;
    }
    if (x->status == 404 && t->session_id != NULL) {
        mcp__htr_push_done(t, x, MCP_ERR_STATE, "the server no longer knows this session (HTTP 404)",
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
    mcp__htr_push_done(t, x, x->status >= 500 ? MCP_ERR_IO : MCP_ERR_PROTOCOL, msg, false);
}

void
mcp__htr_drain_done(http_tr *t)
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
        mcp__htr_unlink_xfer(t, x);
        finish(t, x, cc);
        mcp__htr_xfer_free(x);
    }
}
