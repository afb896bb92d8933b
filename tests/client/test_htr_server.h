/* A scripted Streamable HTTP server for the transport tests (test_transport_http.c,
 * test_transport_http_recv.c): libmicrohttpd on 127.0.0.1, one behaviour per URL path, every
 * request recorded (method, path, the MCP headers, the body). Header-only; each test includes it
 * once. Plus the helpers that drive an mcp__tr and wait for its events, always bounded. */
#ifndef MCP_TEST_HTR_SERVER_H
#define MCP_TEST_HTR_SERVER_H

#include "client/test_mhd_util.h"

#if defined(__GNUC__)
#define TEST_UNUSED_HTR __attribute__((unused))
#else
#define TEST_UNUSED_HTR
#endif

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "client/internal.h"
#include "client/transport_http.h"
#include "jsonrpc/jsonrpc.h"

#define HTR_MAX_LOG 64

typedef struct htr_seen {
    char method[8], path[32], session[64], version[32], auth[128], last_event_id[32], accept[64],
        extra[64], ctype[64];
    char body[512];
} htr_seen;

static struct {
    pthread_mutex_t    mu;
    htr_seen           log[HTR_MAX_LOG];
    int                n;
    struct MHD_Daemon *d;
    char               base[64];
} H = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void
htr_copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* Requests seen so far with this method and path. */
static TEST_UNUSED_HTR int
htr_count(const char *method, const char *path)
{
    int n = 0;
    pthread_mutex_lock(&H.mu);
    for (int i = 0; i < H.n; i++)
        n += strcmp(H.log[i].method, method) == 0 && strcmp(H.log[i].path, path) == 0;
    pthread_mutex_unlock(&H.mu);
    return n;
}

/* A copy of the k-th (0-based) request with this method and path; fails the test if none. */
static TEST_UNUSED_HTR htr_seen
htr_get(const char *method, const char *path, int k)
{
    htr_seen s;
    memset(&s, 0, sizeof s);
    bool found = false;
    pthread_mutex_lock(&H.mu);
    for (int i = 0; i < H.n && !found; i++)
        if (strcmp(H.log[i].method, method) == 0 && strcmp(H.log[i].path, path) == 0 && k-- == 0) {
            s = H.log[i];
            found = true;
        }
    pthread_mutex_unlock(&H.mu);
    if (!found)
        fail_msg("no request %s %s", method, path);
    return s;
}

/* ---- streamed responses: pieces sent one per callback; "@drop" cuts the connection ---- */

typedef struct htr_script {
    const char *piece[12];
    int         n, next;
} htr_script;

static ssize_t
htr_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    htr_script *s = cls;
    if (s->next >= s->n)
        return MHD_CONTENT_READER_END_OF_STREAM;
    const char *p = s->piece[s->next++];
    if (strcmp(p, "@drop") == 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    usleep(5000);
    size_t n = strlen(p);
    if (n > max)
        n = max; /* the pieces used here are small */
    memcpy(buf, p, n);
    return (ssize_t)n;
}

static enum MHD_Result
htr_stream(struct MHD_Connection *conn, const char *session, const char *const *pieces)
{
    htr_script *s = calloc(1, sizeof *s);
    while (pieces[s->n] != NULL && s->n < 12) {
        s->piece[s->n] = pieces[s->n];
        s->n++;
    }
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, htr_reader, s, free);
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    if (session != NULL)
        MHD_add_response_header(r, "Mcp-Session-Id", session);
    enum MHD_Result ret = MHD_queue_response(conn, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result
htr_reply(struct MHD_Connection *conn, unsigned status, const char *ctype, const char *body,
          const char *session, const char *const *www)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
                                                             MHD_RESPMEM_MUST_COPY);
    if (ctype != NULL)
        MHD_add_response_header(r, "Content-Type", ctype);
    if (session != NULL)
        MHD_add_response_header(r, "Mcp-Session-Id", session);
    for (int i = 0; www != NULL && www[i] != NULL; i++)
        MHD_add_response_header(r, "WWW-Authenticate", www[i]);
    enum MHD_Result ok = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ok;
}

/* The JSON-RPC result answering body's id: {"jsonrpc":"2.0","id":ID,"result":{"echo":METHOD}}. */
static void
htr_result_for(const char *body, char *out, size_t cap)
{
    json_t *j = json_loads(body ? body : "", 0, NULL);
    json_t *res = json_pack("{s:s, s:O, s:{s:s}}", "jsonrpc", "2.0", "id",
                            json_object_get(j, "id") ? json_object_get(j, "id") : json_null(),
                            "result", "echo",
                            json_string_value(json_object_get(j, "method"))
                                ? json_string_value(json_object_get(j, "method")) : "");
    char *s = json_dumps(res, JSON_COMPACT);
    snprintf(out, cap, "%s", s);
    free(s);
    json_decref(res);
    json_decref(j);
}

static bool
htr_has_id(const char *body)
{
    json_t *j = json_loads(body ? body : "", 0, NULL);
    bool has = json_object_get(j, "id") != NULL;
    json_decref(j);
    return has;
}

#define NOTE "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"level\":\"info\"}}"

static enum MHD_Result
htr_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
            const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)version;
    if (req_collect(con_cls, upload, upload_size))
        return MHD_YES;
    req_ctx *rq = *con_cls;
    const char *body = rq->body;
    htr_seen s;
    memset(&s, 0, sizeof s);
    htr_copy(s.method, sizeof s.method, method);
    htr_copy(s.path, sizeof s.path, url);
#define HDR(f, name) htr_copy(s.f, sizeof s.f, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name))
    HDR(session, "Mcp-Session-Id");
    HDR(version, "MCP-Protocol-Version");
    HDR(auth, "Authorization");
    HDR(last_event_id, "Last-Event-ID");
    HDR(accept, "Accept");
    HDR(extra, "X-Extra");
    HDR(ctype, "Content-Type");
#undef HDR
    htr_copy(s.body, sizeof s.body, body);
    pthread_mutex_lock(&H.mu);
    if (H.n < HTR_MAX_LOG)
        H.log[H.n++] = s;
    pthread_mutex_unlock(&H.mu);

    bool post = strcmp(method, "POST") == 0, get = strcmp(method, "GET") == 0;
    char res[1024];
    htr_result_for(body, res, sizeof res);
    if (strcmp(method, "DELETE") == 0)
        return htr_reply(conn, 204, NULL, "", NULL, NULL);
    if (post && !htr_has_id(body))
        return htr_reply(conn, 202, NULL, "", NULL, NULL);
    if (strcmp(url, "/json") == 0 || strcmp(url, "/forget") == 0) {
        if (get)
            return htr_reply(conn, 405, "text/plain", "no stream", NULL, NULL);
        bool init = body != NULL && strstr(body, "\"initialize\"") != NULL;
        if (strcmp(url, "/forget") == 0 && !init)
            return htr_reply(conn, 404, "text/plain", "unknown session", NULL, NULL);
        return htr_reply(conn, 200, "application/json; charset=utf-8", res, init ? "sess-1" : NULL,
                         NULL);
    }
    if (strcmp(url, "/sse") == 0 && post) {
        static char ev[1100];
        snprintf(ev, sizeof ev, "event: message\ndata: %s\n\n", res);
        const char *p[] = {": comment\n\n", "data: " NOTE "\n\n", "event: ping\ndata: x\n\n", ev,
                           NULL};
        return htr_stream(conn, "sess-2", p);
    }
    if (strcmp(url, "/resume") == 0) {
        if (post) {
            const char *p[] = {"id: e1\nretry: 30\ndata: " NOTE "\n\n", NULL};
            return htr_stream(conn, NULL, p);
        }
        static char ev[1100];
        pthread_mutex_lock(&H.mu);
        snprintf(ev, sizeof ev, "id: e2\ndata: {\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}\n\n");
        pthread_mutex_unlock(&H.mu);
        const char *p[] = {ev, NULL};
        return htr_stream(conn, NULL, p);
    }
    if (strcmp(url, "/resume-never") == 0) {
        const char *p[] = {"id: n1\nretry: 10\ndata: " NOTE "\n\n", NULL};
        return htr_stream(conn, NULL, p);
    }
    if (strcmp(url, "/resume-404") == 0) {
        if (get)
            return htr_reply(conn, 404, "application/json",
                             "{\"error\":\"gone\",\"error_description\":\"stream expired\"}", NULL,
                             NULL);
        const char *p[] = {"id: r1\nretry: 10\ndata: " NOTE "\n\n", NULL};
        return htr_stream(conn, NULL, p);
    }
    if (strcmp(url, "/close-noid") == 0) {
        const char *p[] = {"data: " NOTE "\n\n", NULL};
        return htr_stream(conn, NULL, p);
    }
    if (strcmp(url, "/drop") == 0) {
        if (get) {
            const char *p[] = {"id: d2\ndata: {\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}\n\n", NULL};
            return htr_stream(conn, NULL, p);
        }
        const char *p[] = {"id: d1\nretry: 10\ndata: " NOTE "\n\n", "@drop", NULL};
        return htr_stream(conn, NULL, p);
    }
    if (strcmp(url, "/badsse") == 0) {
        const char *p[] = {"data: {not json\n\n", NULL};
        return htr_stream(conn, NULL, p);
    }
    if (strcmp(url, "/bigsse") == 0) {
        static char big[3000];
        memset(big, 0, sizeof big);
        memcpy(big, "data: \"", 7);
        memset(big + 7, 'x', 2000);
        memcpy(big + 2007, "\"\n\n", 3);
        const char *p[] = {big, NULL};
        return htr_stream(conn, NULL, p);
    }
    if (strcmp(url, "/bigjson") == 0) {
        static char big[3000];
        memset(big, 0, sizeof big);
        memcpy(big, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"s\":\"", 39);
        memset(big + 39, 'y', 2000);
        memcpy(big + 2039, "\"}}", 3);
        return htr_reply(conn, 200, "application/json", big, NULL, NULL);
    }
    if (strcmp(url, "/401") == 0) {
        const char *www[] = {"Bearer error=\"invalid_token\"",
                             "Bearer resource_metadata=\"http://127.0.0.1/prm\"", NULL};
        return htr_reply(conn, 401, "application/json",
                         "{\"error\":\"invalid_token\",\"error_description\":\"token expired\"}",
                         NULL, www);
    }
    if (strcmp(url, "/403") == 0) {
        const char *www[] = {"Bearer error=\"insufficient_scope\", scope=\"tools:call\"", NULL};
        return htr_reply(conn, 403, NULL, "", NULL, www);
    }
    if (strcmp(url, "/500") == 0) {
        static char e[512];
        json_t *j = json_loads(body, 0, NULL);
        snprintf(e, sizeof e,
                 "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"error\":{\"code\":-32603,\"message\":\"boom\"}}",
                 (long long)json_integer_value(json_object_get(j, "id")));
        json_decref(j);
        return htr_reply(conn, 500, "application/json", e, NULL, NULL);
    }
    if (strcmp(url, "/400") == 0)
        return htr_reply(conn, 400, "text/plain", "Bad Request", NULL, NULL);
    if (strcmp(url, "/html") == 0)
        return htr_reply(conn, 200, "text/html\x01", "<p>hi</p>", NULL, NULL);
    if (strcmp(url, "/badjson") == 0)
        return htr_reply(conn, 200, "application/json", "{nope", NULL, NULL);
    if (strcmp(url, "/hang") == 0) {
        usleep(1500 * 1000);
        return htr_reply(conn, 200, "application/json", res, NULL, NULL);
    }
    return htr_reply(conn, 404, "text/plain", "no such path", NULL, NULL);
}

static TEST_UNUSED_HTR void
htr_start(void)
{
    pthread_mutex_lock(&H.mu);
    H.n = 0;
    pthread_mutex_unlock(&H.mu);
    H.d = mhd_start_loopback(htr_handler);
    snprintf(H.base, sizeof H.base, "http://127.0.0.1:%u",
             (unsigned)MHD_get_daemon_info(H.d, MHD_DAEMON_INFO_BIND_PORT)->port);
}

static TEST_UNUSED_HTR void
htr_stop(void)
{
    MHD_stop_daemon(H.d);
    H.d = NULL;
}

/* ---- driving the transport -------------------------------------------------------------- */

typedef struct htr_fx {
    mcp__evq q;
    mcp__tr *t;
    char     url[128];
} htr_fx;

static TEST_UNUSED_HTR void
htr_open(htr_fx *f, const char *path, size_t max_message, const char *const *headers)
{
    memset(f, 0, sizeof *f);
    snprintf(f->url, sizeof f->url, "%s%s", H.base, path);
    mcp__http_tr_opts o = {.url = f->url, .connect_timeout_ms = 2000, .max_message = max_message,
                           .headers = headers};
    mcp_error err;
    assert_int_equal(mcp__http_tr_new(&o, &f->q, &f->t, &err), MCP_OK);
}

static TEST_UNUSED_HTR void
htr_close(htr_fx *f)
{
    f->t->ops->close(f->t);
    mcp__event *ev;
    while ((ev = mcp__evq_pop(&f->q)) != NULL)
        mcp__event_free(ev);
}

/* Pump (bounded: ~10 s in 100 ms steps) until an event of type is queued; pop it. Events of
 * other types are passed to keep (when non-NULL, appended there) or freed. */
static TEST_UNUSED_HTR mcp__event *
htr_next(htr_fx *f, mcp__ev_type type, mcp__evq *keep)
{
    mcp_error err;
    for (int i = 0; i < 100; i++) {
        mcp__event *ev;
        while ((ev = mcp__evq_pop(&f->q)) != NULL) {
            if (ev->type == type)
                return ev;
            if (keep != NULL)
                mcp__evq_push(keep, ev);
            else
                mcp__event_free(ev);
        }
        assert_int_equal(f->t->ops->pump(f->t, 100, &err), MCP_OK);
    }
    fail_msg("no event of type %d", (int)type);
    return NULL;
}

/* Send a request with this id; return its final DONE; messages before it go to msgs. */
static TEST_UNUSED_HTR mcp__event *
htr_call(htr_fx *f, uint64_t oid, int64_t id, const char *method, mcp__evq *msgs)
{
    char body[256];
    snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"method\":\"%s\"}",
             (long long)id, method);
    mcp_error err;
    assert_int_equal(f->t->ops->send(f->t, oid, id, body, NULL, NULL, &err), MCP_OK);
    mcp__event *ev = htr_next(f, MCP__EV_DONE, msgs);
    assert_int_equal(ev->oid, oid);
    assert_true(ev->final);
    return ev;
}

static TEST_UNUSED_HTR size_t
htr_evq_len(const mcp__evq *q)
{
    size_t n = 0;
    for (const mcp__event *e = q->head; e != NULL; e = e->next)
        n++;
    return n;
}

static TEST_UNUSED_HTR void
htr_evq_free(mcp__evq *q)
{
    mcp__event *ev;
    while ((ev = mcp__evq_pop(q)) != NULL)
        mcp__event_free(ev);
}

#endif
