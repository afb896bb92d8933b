/*
 * Streamable HTTP transport on libmicrohttpd.
 *
 * Threads: MHD runs a pool of epoll IO threads; handlers that may block run on the server's
 * worker pool while their connection is suspended. Every output stream (a POST's response, a GET
 * stream) is a `stream`: the protocol layer emits messages into it from any thread; the IO thread
 * drains it. The stream lock orders "nothing to send -> suspend" against "new message -> resume",
 * so a wake-up is never lost: MHD_suspend_connection() and MHD_resume_connection() are only called
 * with the stream lock held, and only resume a connection that we suspended.
 */
#include "server/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_SESSION_STREAMS 16
#define PRM_PATH "/.well-known/oauth-protected-resource"

struct mcp__http {
    mcp_server        *srv;
    struct MHD_Daemon *d;
    char              *host;
    char              *path;
    char              *resource_url;
    char              *prm_json;
    char             **allowed_hosts;
    char             **allowed_origins;
    size_t             max_body;
    unsigned           retry_ms;
    size_t             replay_events;
    bool               rebinding;
    bool               access_log;
    uint16_t           port;
    atomic_bool        stopping;
    atomic_int         active_posts;   /* POSTs between headers and completion */
    atomic_int         authn_jobs;     /* blocking authentication runs on workers */
};

typedef struct event {
    uint64_t seq;
    char    *data;
    size_t   len;
} event;

typedef struct stream {
    mcp__sink              sink;        /* first: the protocol layer sees only this */
    atomic_int             refs;
    pthread_mutex_t        mu;
    mcp__http             *h;
    mcp__session          *sess;        /* reference, or NULL (stateless) */
    unsigned               id;
    struct MHD_Connection *conn;        /* attached connection, or NULL */
    bool                   suspended;
    bool                   sse;         /* answer as text/event-stream */
    bool                   accept_sse;  /* client accepts text/event-stream */
    bool                   prime;       /* send a priming event (SEP-1699) */
    bool                   final_seen;
    bool                   closed_early;
    bool                   standalone;
    bool                   ended;
    bool                   registered;
    bool                   ping;        /* write a keep-alive comment */
    char                  *final_msg;   /* JSON mode */
    size_t                 final_len;
    event                 *ring;
    size_t                 ring_cap, ring_n, ring_head;
    uint64_t               next_seq;
    uint64_t               sent_seq;
} stream;

typedef struct http_sess {
    stream  *streams[MAX_SESSION_STREAMS];
    unsigned next_id;
} http_sess;

typedef struct reader {
    stream                *st;
    struct MHD_Connection *conn;
    bool                   is_post;
    bool                   primed;
    mcp_buf                out;
    size_t                 off;
} reader;

typedef enum conn_phase { PH_NEW, PH_AUTHN_HDR, PH_BODY, PH_WAIT, PH_DONE } conn_phase;

typedef struct conn_state {
    mcp__http   *h;
    mcp_request  req;
    conn_phase   phase;
    mcp_buf      body;
    stream      *st;
    mcp__session *created;
    json_t      *rpc_id;
    uint64_t     t0;
    unsigned     status;
    char         rpc_method[48];
    char         peer[48];
    bool         counted;          /* in h->active_posts */
    bool         is_get, is_del;
    mcp_status   authn_rc;         /* result of that run */
    mcp_error    authn_err;
} conn_state;

/* ---- streams ----------------------------------------------------------------------------- */

static void
stream_retain(mcp__sink *s)
{
    atomic_fetch_add(&((stream *)s)->refs, 1);
}

static void
stream_release(mcp__sink *s)
{
    stream *st = (stream *)s;
    if (atomic_fetch_sub(&st->refs, 1) != 1)
        return;
    for (size_t i = 0; i < st->ring_n; i++)
        mcp__free(st->ring[(st->ring_head + i) % st->ring_cap].data);
    mcp__free(st->ring);
    mcp__free(st->final_msg);
    if (st->sess != NULL)
        mcp__session_unref(st->sess);
    pthread_mutex_destroy(&st->mu);
    mcp__free(st);
}

/* Wake the attached connection if we parked it. Caller holds st->mu. */
static void
wake_locked(stream *st)
{
    if (st->suspended && st->conn != NULL) {
        st->suspended = false;
        MHD_resume_connection(st->conn);
    }
}

static void
ring_push_locked(stream *st, char *msg, size_t len)
{
    if (st->ring == NULL) {           /* most requests never stream: allocate on first event */
        st->ring = mcp__calloc(st->ring_cap, sizeof *st->ring);
        if (st->ring == NULL) {
            mcp__free(msg);
            return;
        }
    }
    if (st->ring_n == st->ring_cap) {            /* full: the oldest event can't be replayed */
        event *old = &st->ring[st->ring_head];
        mcp__free(old->data);
        st->ring_head = (st->ring_head + 1) % st->ring_cap;
        st->ring_n--;
    }
    event *e = &st->ring[(st->ring_head + st->ring_n) % st->ring_cap];
    e->seq = ++st->next_seq;
    e->data = msg;
    e->len = len;
    st->ring_n++;
}

static void
stream_emit(mcp__sink *s, char *msg, size_t len, bool final)
{
    stream *st = (stream *)s;
    pthread_mutex_lock(&st->mu);
    if (st->ended || st->final_seen) {
        pthread_mutex_unlock(&st->mu);
        mcp__free(msg);
        return;
    }
    if (final && msg == NULL) {
        st->final_seen = true;                   /* cancelled: end without a response */
        st->sse = true;
    } else if (final && !st->sse) {
        st->final_msg = msg;
        st->final_len = len;
        st->final_seen = true;
    } else if (!st->accept_sse && !st->sse) {
        mcp__free(msg);                          /* client takes JSON only: drop notifications */
    } else {
        st->sse = true;
        ring_push_locked(st, msg, len);
        if (final)
            st->final_seen = true;
    }
    wake_locked(st);
    pthread_mutex_unlock(&st->mu);
}

static void
stream_close_early(mcp__sink *s)
{
    stream *st = (stream *)s;
    pthread_mutex_lock(&st->mu);
    if (st->sess != NULL && st->accept_sse && !st->standalone) {
        st->sse = true;
        st->prime = true;
        st->closed_early = true;
        wake_locked(st);
    }
    pthread_mutex_unlock(&st->mu);
}

static bool
stream_can_stream(mcp__sink *s)
{
    stream *st = (stream *)s;
    return st->accept_sse && st->sess != NULL;
}

static stream *
stream_new(mcp__http *h, mcp__session *sess, bool standalone)
{
    stream *st = mcp__calloc(1, sizeof *st);
    if (st == NULL)
        return NULL;
    st->ring_cap = h->replay_events ? h->replay_events : 1;
    st->sink.emit = stream_emit;
    st->sink.close_early = stream_close_early;
    st->sink.can_stream = stream_can_stream;
    st->sink.retain = stream_retain;
    st->sink.release = stream_release;
    atomic_init(&st->refs, 1);
    pthread_mutex_init(&st->mu, NULL);
    st->h = h;
    st->standalone = standalone;
    st->accept_sse = true;
    if (sess != NULL) {
        mcp__session_ref(sess);
        st->sess = sess;
    }
    return st;
}

/* Keep a session's SSE streams for Last-Event-ID replay (bounded; oldest finished evicted). */
static void
register_stream(stream *st)
{
    mcp__session *s = st->sess;
    if (s == NULL || st->registered)
        return;
    stream *evict = NULL;
    pthread_mutex_lock(&s->mu);
    http_sess *hs = s->transport_data;
    if (hs == NULL && !s->closed)
        hs = s->transport_data = mcp__calloc(1, sizeof *hs);
    if (hs != NULL) {
        st->id = ++hs->next_id;
        size_t slot = MAX_SESSION_STREAMS;
        for (size_t i = 0; i < MAX_SESSION_STREAMS && slot == MAX_SESSION_STREAMS; i++)
            if (hs->streams[i] == NULL)
                slot = i;
        if (slot == MAX_SESSION_STREAMS) {
            slot = 0;                                      /* lowest id = oldest */
            for (size_t i = 1; i < MAX_SESSION_STREAMS; i++)
                if (hs->streams[i]->id < hs->streams[slot]->id && !hs->streams[i]->standalone)
                    slot = i;
            evict = hs->streams[slot];
        }
        stream_retain(&st->sink);
        hs->streams[slot] = st;
        st->registered = true;
    }
    pthread_mutex_unlock(&s->mu);
    if (evict != NULL)
        stream_release(&evict->sink);
}

/* No more messages on this stream: its reader finishes and the connection completes. */
static void
stream_end(stream *st)
{
    pthread_mutex_lock(&st->mu);
    st->ended = true;
    wake_locked(st);
    pthread_mutex_unlock(&st->mu);
}

static void
session_closed(mcp__session *s)
{
    pthread_mutex_lock(&s->mu);
    http_sess *hs = s->transport_data;
    s->transport_data = NULL;
    pthread_mutex_unlock(&s->mu);
    if (hs == NULL)
        return;
    for (size_t i = 0; i < MAX_SESSION_STREAMS; i++) {
        stream *st = hs->streams[i];
        if (st == NULL)
            continue;
        stream_end(st);
        stream_release(&st->sink);
    }
    mcp__free(hs);
}

/* Called by the reaper every few seconds: parked SSE connections get a comment line, so a
 * client that went away is noticed (the write fails) and its connection is released. */
static void
session_keepalive(mcp__session *s)
{
    pthread_mutex_lock(&s->mu);
    http_sess *hs = s->transport_data;
    for (size_t i = 0; hs != NULL && i < MAX_SESSION_STREAMS; i++) {
        stream *st = hs->streams[i];
        if (st == NULL)
            continue;
        pthread_mutex_lock(&st->mu);
        if (st->suspended && st->conn != NULL) {
            st->ping = true;
            wake_locked(st);
        }
        pthread_mutex_unlock(&st->mu);
    }
    pthread_mutex_unlock(&s->mu);
}

/* Find a registered stream by its id (for Last-Event-ID), with a reference. */
static stream *
find_stream(mcp__session *s, unsigned id)
{
    stream *found = NULL;
    pthread_mutex_lock(&s->mu);
    http_sess *hs = s->transport_data;
    for (size_t i = 0; hs != NULL && i < MAX_SESSION_STREAMS; i++)
        if (hs->streams[i] != NULL && hs->streams[i]->id == id) {
            found = hs->streams[i];
            stream_retain(&found->sink);
        }
    pthread_mutex_unlock(&s->mu);
    return found;
}

/* ---- SSE reader -------------------------------------------------------------------------- */

static bool
fill_locked(reader *r)
{
    stream *st = r->st;
    if (st->ping) {
        st->ping = false;
        mcp__buf_appends(&r->out, ": keep-alive\n\n");
        return true;
    }
    if (!r->primed) {
        r->primed = true;
        if (st->prime || st->standalone) {
            mcp__buf_printf(&r->out, "id: %u_%llu\nretry: %u\ndata: \n\n", st->id,
                            (unsigned long long)st->sent_seq, st->h->retry_ms);
            return true;
        }
    }
    if (r->is_post && st->closed_early)
        return false;
    for (size_t i = 0; i < st->ring_n; i++) {
        event *e = &st->ring[(st->ring_head + i) % st->ring_cap];
        if (e->seq <= st->sent_seq)
            continue;
        if (st->registered)
            mcp__buf_printf(&r->out, "id: %u_%llu\n", st->id, (unsigned long long)e->seq);
        mcp__buf_appends(&r->out, "event: message\ndata: ");
        mcp__buf_append(&r->out, e->data, e->len);
        mcp__buf_appends(&r->out, "\n\n");
        st->sent_seq = e->seq;
        return true;
    }
    return false;
}

static ssize_t
reader_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    reader *r = cls;
    stream *st = r->st;
    pthread_mutex_lock(&st->mu);
    for (;;) {
        if (r->off < r->out.len) {
            size_t n = r->out.len - r->off;
            if (n > max)
                n = max;
            memcpy(buf, r->out.ptr + r->off, n);
            r->off += n;
            if (r->off == r->out.len) {
                mcp__buf_reset(&r->out);
                r->off = 0;
            }
            pthread_mutex_unlock(&st->mu);
            return (ssize_t)n;
        }
        if (st->conn != r->conn || st->ended)
            break;
        if (fill_locked(r))
            continue;
        bool drained = true;
        for (size_t i = 0; i < st->ring_n; i++)
            if (st->ring[(st->ring_head + i) % st->ring_cap].seq > st->sent_seq)
                drained = false;
        if ((st->final_seen && drained) || (r->is_post && st->closed_early))
            break;
        if (atomic_load(&st->h->stopping))
            break;
        st->suspended = true;
        MHD_suspend_connection(r->conn);
        pthread_mutex_unlock(&st->mu);
        return 0;
    }
    if (st->conn == r->conn) {
        st->conn = NULL;
        st->suspended = false;
    }
    pthread_mutex_unlock(&st->mu);
    return MHD_CONTENT_READER_END_OF_STREAM;
}

static void
reader_free(void *cls)
{
    reader *r = cls;
    pthread_mutex_lock(&r->st->mu);
    if (r->st->conn == r->conn) {
        r->st->conn = NULL;
        r->st->suspended = false;
    }
    pthread_mutex_unlock(&r->st->mu);
    mcp__buf_cleanup(&r->out);
    stream_release(&r->st->sink);
    mcp__free(r);
}

/* ---- responses --------------------------------------------------------------------------- */

static void
free_cb(void *p)
{
    mcp__free(p);
}

static enum MHD_Result
send_body(conn_state *cs, struct MHD_Connection *c, unsigned status, const char *ctype,
          char *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(
        len, body ? body : (char *)"", body ? free_cb : NULL);
    if (r == NULL) {
        mcp__free(body);
        return MHD_NO;
    }
    if (ctype != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (cs->created != NULL)
        MHD_add_response_header(r, "Mcp-Session-Id", cs->created->id);
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    cs->status = status;
    cs->phase = PH_DONE;
    return ok;
}

static enum MHD_Result
send_rpc_error(conn_state *cs, struct MHD_Connection *c, unsigned status, int32_t code,
               const char *message)
{
    size_t len;
    char *b = mcp__rpc_error(cs->rpc_id, code, message, NULL, &len);
    return send_body(cs, c, status, "application/json", b, b ? len : 0);
}

/* Quote-safe copy for WWW-Authenticate parameters. */
static void
sanitize(char *dst, size_t cap, const char *src)
{
    size_t o = 0;
    for (; src != NULL && *src && o + 1 < cap; src++)
        if (*src >= 0x20 && *src < 0x7f && *src != '"' && *src != '\\')
            dst[o++] = *src;
    dst[o] = '\0';
}

static void
prm_url(mcp__http *h, struct MHD_Connection *c, char *out, size_t cap)
{
    /* RFC 9728 section 3.1: insert the well-known path between host and the resource path. */
    if (h->resource_url != NULL) {
        const char *p = strstr(h->resource_url, "://");
        p = p ? strchr(p + 3, '/') : NULL;
        int origin = p ? (int)(p - h->resource_url) : (int)strlen(h->resource_url);
        snprintf(out, cap, "%.*s%s%s", origin, h->resource_url, PRM_PATH, p ? p : "");
        return;
    }
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    char safe[256];
    sanitize(safe, sizeof safe, host ? host : "localhost");
    snprintf(out, cap, "http://%s%s%s", safe, PRM_PATH, h->path);
}

static enum MHD_Result
send_failure(conn_state *cs, struct MHD_Connection *c, mcp_status rc, const mcp_error *err)
{
    mcp__http *h = cs->h;
    unsigned status = (unsigned)mcp__status_http(rc);
    int32_t code = err->rpc_code;
    if (code == 0)
        code = rc == MCP_ERR_UNAUTHENTICATED ? MCP_RPC_UNAUTHENTICATED
             : rc == MCP_ERR_FORBIDDEN ? MCP_RPC_FORBIDDEN
             : rc == MCP_ERR_RATE_LIMITED ? MCP_RPC_RATE_LIMITED
             : rc == MCP_ERR_PARSE ? MCP_RPC_PARSE_ERROR
             : rc == MCP_ERR_NOT_FOUND ? MCP_RPC_INVALID_REQUEST
             : rc == MCP_ERR_STORE || rc == MCP_ERR_INTERNAL || rc == MCP_ERR_NOMEM
               ? MCP_RPC_INTERNAL_ERROR : MCP_RPC_INVALID_REQUEST;
    const char *msg = err->message[0] ? err->message : mcp_status_str(rc);
    if (status >= 500) {
        /* Server-side failures (store, introspection endpoint, memory) are the operator's
         * business: the detail goes to the log, the peer gets the generic text. */
        mcp__log(MCP__LOG_WARN, "http", "%u: %s", status, msg);
        msg = mcp_status_str(rc);
    }
    size_t len;
    json_t *data = NULL;
    if (rc == MCP_ERR_FORBIDDEN && cs->req.target != NULL)
        data = json_pack("{s:s}", "target", cs->req.target);
    char *b = mcp__rpc_error(cs->rpc_id, code, msg, data, &len);
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(
        b ? len : 0, b ? b : (char *)"", b ? free_cb : NULL);
    if (r == NULL) {
        mcp__free(b);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (rc == MCP_ERR_UNAUTHENTICATED || rc == MCP_ERR_FORBIDDEN) {
        char desc[MCP_ERROR_MSG_MAX], scope[1024], url[512], hdr[2048];
        sanitize(desc, sizeof desc, msg);
        const char *ecode = cs->req.challenge_error ? cs->req.challenge_error
                            : rc == MCP_ERR_FORBIDDEN ? "insufficient_scope" : "invalid_token";
        int n = snprintf(hdr, sizeof hdr, "Bearer error=\"%s\", error_description=\"%s\"", ecode,
                         desc);
        if (cs->req.challenge_scope != NULL && n > 0 && (size_t)n < sizeof hdr) {
            sanitize(scope, sizeof scope, cs->req.challenge_scope);
            n += snprintf(hdr + n, sizeof hdr - (size_t)n, ", scope=\"%s\"", scope);
        }
        if (h->prm_json != NULL && n > 0 && (size_t)n < sizeof hdr) {
            prm_url(h, c, url, sizeof url);
            snprintf(hdr + n, sizeof hdr - (size_t)n, ", resource_metadata=\"%s\"", url);
        }
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, hdr);
    }
    if (rc == MCP_ERR_RATE_LIMITED) {
        char ra[16];
        snprintf(ra, sizeof ra, "%u", cs->req.retry_after ? cs->req.retry_after : 1);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    cs->status = status;
    cs->phase = PH_DONE;
    return ok;
}

static enum MHD_Result
send_sse(conn_state *cs, struct MHD_Connection *c, stream *st, bool is_post)
{
    reader *rd = mcp__calloc(1, sizeof *rd);
    if (rd == NULL)
        return MHD_NO;
    rd->st = st;
    stream_retain(&st->sink);
    rd->conn = c;
    rd->is_post = is_post;
    mcp__buf_init(&rd->out, 0);
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024,
                                                               reader_cb, rd, reader_free);
    if (r == NULL) {
        reader_free(rd);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    if (cs->created != NULL)
        MHD_add_response_header(r, "Mcp-Session-Id", cs->created->id);
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    cs->status = 200;
    cs->phase = PH_DONE;
    return ok;
}

/* After dispatch or on resume: answer if the stream has something, else park the connection. */
static enum MHD_Result
answer_or_park(conn_state *cs, struct MHD_Connection *c)
{
    stream *st = cs->st;
    pthread_mutex_lock(&st->mu);
    if (st->sse) {
        if (st->sess != NULL && strcmp(st->sess->version, "2025-11-25") >= 0)
            st->prime = true;
        pthread_mutex_unlock(&st->mu);
        register_stream(st);
        return send_sse(cs, c, st, true);
    }
    if (st->final_msg != NULL) {
        char *b = st->final_msg;
        size_t len = st->final_len;
        st->final_msg = NULL;
        st->conn = NULL;
        pthread_mutex_unlock(&st->mu);
        return send_body(cs, c, 200, "application/json", b, len);
    }
    if (atomic_load(&cs->h->stopping) || st->ended) {
        st->conn = NULL;
        pthread_mutex_unlock(&st->mu);
        return send_rpc_error(cs, c, 503, MCP_RPC_INTERNAL_ERROR, "server is shutting down");
    }
    cs->phase = PH_WAIT;
    st->suspended = true;
    MHD_suspend_connection(c);
    pthread_mutex_unlock(&st->mu);
    return MHD_YES;
}

/* ---- checks ------------------------------------------------------------------------------ */

static bool
host_is_local(const char *h, size_t n)
{
    return (n == 9 && strncmp(h, "localhost", 9) == 0) ||
           (n == 9 && strncmp(h, "127.0.0.1", 9) == 0) || (n == 5 && strncmp(h, "[::1]", 5) == 0);
}

/* Host header without its port. */
static size_t
host_len(const char *h)
{
    if (h[0] == '[') {
        const char *e = strchr(h, ']');
        return e ? (size_t)(e - h + 1) : strlen(h);
    }
    const char *colon = strchr(h, ':');
    return colon ? (size_t)(colon - h) : strlen(h);
}

static bool
in_list(char **list, const char *s, size_t n)
{
    for (; list != NULL && *list != NULL; list++)
        if (strlen(*list) == n && strncmp(*list, s, n) == 0)
            return true;
    return false;
}

static bool
rebinding_ok(mcp__http *h, struct MHD_Connection *c)
{
    if (!h->rebinding)
        return true;
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (host == NULL)
        return false;
    size_t hl = host_len(host);
    if (!host_is_local(host, hl) && !in_list(h->allowed_hosts, host, strlen(host)) &&
        !in_list(h->allowed_hosts, host, hl))
        return false;
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    if (origin == NULL)
        return true;
    if (in_list(h->allowed_origins, origin, strlen(origin)))
        return true;
    const char *p = strstr(origin, "://");
    if (p == NULL)
        return false;
    p += 3;
    return host_is_local(p, host_len(p));
}

typedef struct hdr_count {
    unsigned cl, te;
    const char *first_cl;
    bool conflict;
} hdr_count;

static enum MHD_Result
count_hdr(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    hdr_count *hc = cls;
    if (mcp__strcasecmp(key, "Content-Length") == 0) {
        if (hc->cl++ > 0 && (value == NULL || hc->first_cl == NULL ||
                             strcmp(value, hc->first_cl) != 0))
            hc->conflict = true;
        if (hc->cl > 1)
            hc->conflict = true;                   /* duplicates are ambiguous framing too */
        hc->first_cl = value;
    } else if (mcp__strcasecmp(key, "Transfer-Encoding") == 0) {
        hc->te++;
    }
    return MHD_YES;
}

static bool
header_has(const char *v, const char *token)
{
    return v != NULL && strstr(v, token) != NULL;
}

static const char *
get_header(void *tctx, const char *name)
{
    return MHD_lookup_connection_value(tctx, MHD_HEADER_KIND, name);
}

/* ---- GET / DELETE ------------------------------------------------------------------------ */

static enum MHD_Result
handle_get(conn_state *cs, struct MHD_Connection *c)
{
    mcp__session *s = cs->req.session;
    if (!header_has(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept"), "text/event-stream"))
        return send_rpc_error(cs, c, 406, MCP_RPC_INVALID_REQUEST,
                              "Not Acceptable: GET needs Accept: text/event-stream");
    if (s == NULL)
        return send_rpc_error(cs, c, 400, MCP_RPC_INVALID_REQUEST,
                              "Bad Request: Mcp-Session-Id header is required");
    const char *last = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
    stream *st = NULL;
    uint64_t resume_seq = 0;
    if (last != NULL) {
        unsigned sid;
        unsigned long long seq;
        char tail;
        if (sscanf(last, "%u_%llu%c", &sid, &seq, &tail) == 2) {
            st = find_stream(s, sid);
            resume_seq = seq;
        }
    }
    if (st == NULL) {
        pthread_mutex_lock(&s->mu);
        if (s->standalone != NULL) {
            st = (stream *)s->standalone;
            stream_retain(&st->sink);
        }
        pthread_mutex_unlock(&s->mu);
        if (st != NULL)
            resume_seq = last != NULL ? resume_seq : UINT64_MAX;
    }
    if (st == NULL) {
        st = stream_new(cs->h, s, true);
        if (st == NULL)
            return MHD_NO;
        st->sse = true;
        register_stream(st);
        pthread_mutex_lock(&s->mu);
        if (s->standalone == NULL) {
            stream_retain(&st->sink);
            s->standalone = &st->sink;
        }
        pthread_mutex_unlock(&s->mu);
        resume_seq = 0;
    }
    pthread_mutex_lock(&st->mu);
    if (st->conn != NULL && !st->standalone && !st->final_seen && last == NULL) {
        pthread_mutex_unlock(&st->mu);
        stream_release(&st->sink);
        return send_rpc_error(cs, c, 409, MCP_RPC_INVALID_REQUEST,
                              "Conflict: this stream is already open on another connection");
    }
    if (st->conn != NULL) {
        /* The same principal reconnects (its old connection may be dead without us knowing:
         * a parked connection does not notice a hang-up). The new connection takes over; the
         * old reader sees it lost the stream and ends. */
        wake_locked(st);
    }
    st->conn = c;
    st->suspended = false;
    st->sent_seq = resume_seq == UINT64_MAX ? st->next_seq : resume_seq;
    pthread_mutex_unlock(&st->mu);
    cs->st = st;                                  /* reference moves to cs */
    return send_sse(cs, c, st, false);
}

/* ---- the access handler ------------------------------------------------------------------ */

static enum MHD_Result after_authn(conn_state *cs, struct MHD_Connection *c);
static void authn_job(void *arg);
static enum MHD_Result finish_post(conn_state *cs, struct MHD_Connection *c);

static enum MHD_Result
begin(conn_state *cs, struct MHD_Connection *c, const char *url, const char *method)
{
    mcp__http *h = cs->h;
    mcp_server *srv = h->srv;
    mcp_error err;
    mcp_error_clear(&err);

    if (strncmp(url, PRM_PATH, sizeof PRM_PATH - 1) == 0 && h->prm_json != NULL) {
        if (strcmp(method, "GET") != 0)
            return send_rpc_error(cs, c, 405, MCP_RPC_INVALID_REQUEST, "Method Not Allowed");
        char *b = mcp__strdup(h->prm_json);
        return send_body(cs, c, 200, "application/json", b, b ? strlen(b) : 0);
    }
    if (strcmp(url, h->path) != 0)
        return send_rpc_error(cs, c, 404, MCP_RPC_INVALID_REQUEST, "Not Found");
    if (!rebinding_ok(h, c))
        return send_rpc_error(cs, c, 403, MCP_RPC_INVALID_REQUEST,
                              "Forbidden: Host or Origin not allowed (DNS rebinding protection)");
    bool post = strcmp(method, "POST") == 0, get = strcmp(method, "GET") == 0,
         del = strcmp(method, "DELETE") == 0;
    if (!post && !get && !del) {
        enum MHD_Result ok = send_rpc_error(cs, c, 405, MCP_RPC_INVALID_REQUEST,
                                            "Method Not Allowed");
        return ok;
    }
    if ((get || del) && srv->opts.stateless)
        return send_rpc_error(cs, c, 405, MCP_RPC_INVALID_REQUEST,
                              "Method Not Allowed: stateless server has no sessions");
    hdr_count hc = { 0, 0, NULL, false };
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_hdr, &hc);
    if (hc.conflict || (hc.cl > 0 && hc.te > 0))
        return send_rpc_error(cs, c, 400, MCP_RPC_INVALID_REQUEST,
                              "Bad Request: ambiguous message framing (Content-Length)");
    const char *pv = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "MCP-Protocol-Version");
    if (pv != NULL && !mcp__version_supported(pv))
        return send_rpc_error(cs, c, 400, MCP_RPC_INVALID_REQUEST,
                              "Bad Request: unsupported MCP-Protocol-Version");
    if (post) {
        const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
        if (ct == NULL || strncmp(ct, "application/json", 16) != 0)
            return send_rpc_error(cs, c, 415, MCP_RPC_INVALID_REQUEST,
                                  "Unsupported Media Type: Content-Type must be application/json");
        const char *acc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
        if (acc != NULL && !header_has(acc, "application/json") &&
            !header_has(acc, "text/event-stream") && !header_has(acc, "*/*"))
            return send_rpc_error(cs, c, 406, MCP_RPC_INVALID_REQUEST,
                                  "Not Acceptable: Accept must allow application/json");
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl != NULL && strtoull(cl, NULL, 10) > h->max_body)
            return send_rpc_error(cs, c, 413, MCP_RPC_INVALID_REQUEST,
                                  "Payload Too Large");
    }
    const char *sid = srv->opts.stateless ? NULL
                      : MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Mcp-Session-Id");
    cs->req.session_id = sid;
    if (sid != NULL) {
        cs->req.session = mcp__session_find(srv, sid);
        if (cs->req.session == NULL)
            return send_rpc_error(cs, c, 404, MCP_RPC_INVALID_REQUEST,
                                  "Not Found: unknown or expired session");
    }
    cs->is_get = get;
    cs->is_del = del;
    mcp_status rc = mcp__run_pre_phases(&cs->req, &err);
    if (rc == MCP_ERR_WOULD_BLOCK) {
        /* An AUTHN item needs network I/O (token introspection): an IO thread must not wait
         * for it. Park the connection before any body is read (an anonymous caller must not
         * make us buffer bodies) and run the phase on a worker; the access handler is called
         * again once it is resumed (PH_AUTHN_HDR). */
        cs->phase = PH_AUTHN_HDR;
        atomic_fetch_add(&h->authn_jobs, 1);
        MHD_suspend_connection(c);
        if (mcp__pool_submit(srv, authn_job, cs) != MCP_OK) {
            atomic_fetch_sub(&h->authn_jobs, 1);
            MHD_resume_connection(c);
            return send_rpc_error(cs, c, 503, MCP_RPC_INTERNAL_ERROR, "server is shutting down");
        }
        return MHD_YES;
    }
    if (rc != MCP_OK)
        return send_failure(cs, c, rc, &err);
    return after_authn(cs, c);
}

/* The part of the header checks that needs the caller: session binding, then the method. */
static enum MHD_Result
after_authn(conn_state *cs, struct MHD_Connection *c)
{
    mcp__http *h = cs->h;
    mcp_server *srv = h->srv;
    if (cs->req.session != NULL) {
        /* A session is bound to the principal that created it; another caller's credential
         * gets the same answer as an unknown session (it must not learn that the id exists). */
        const char *owner = cs->req.session->owner;
        const char *me = cs->req.principal ? mcp_principal_owner_key(cs->req.principal) : NULL;
        if ((owner == NULL) != (me == NULL) || (owner != NULL && strcmp(owner, me) != 0))
            return send_rpc_error(cs, c, 404, MCP_RPC_INVALID_REQUEST,
                                  "Not Found: unknown or expired session");
        mcp__session_touch(cs->req.session);
    }
    if (cs->is_get || cs->is_del) {
        /* No JSON-RPC message, no target, but the AUTHZ items still apply (a disabled user
         * must not open or keep using a stream; rate limits count these requests too). */
        mcp_error err;
        mcp_error_clear(&err);
        mcp_status rc = mcp__run_authz_phase(&cs->req, &err);
        mcp__decide(&cs->req, "authz", rc, rc != MCP_OK ? err.message : "", "");
        if (rc != MCP_OK)
            return send_failure(cs, c, rc, &err);
    }
    if (cs->is_get)
        return handle_get(cs, c);
    if (cs->is_del) {
        if (cs->req.session == NULL)
            return send_rpc_error(cs, c, 400, MCP_RPC_INVALID_REQUEST,
                                  "Bad Request: Mcp-Session-Id header is required");
        mcp__session_remove(srv, cs->req.session);
        return send_body(cs, c, 200, NULL, NULL, 0);
    }
    cs->phase = PH_BODY;
    if (!cs->counted) {
        cs->counted = true;
        atomic_fetch_add(&h->active_posts, 1);
    }
    return MHD_YES;
}

static void
authn_job(void *arg)
{
    conn_state *cs = arg;
    mcp__http *h = cs->h;
    mcp_error_clear(&cs->authn_err);
    cs->req.can_block = true;
    cs->authn_rc = mcp__run_authn_phase(&cs->req, &cs->authn_err);
    /* the connection is parked until this resume; it cannot complete (and free cs) before */
    MHD_resume_connection(cs->req.tctx);
    atomic_fetch_sub(&h->authn_jobs, 1);
}



static enum MHD_Result
finish_post(conn_state *cs, struct MHD_Connection *c)
{
    mcp__http *h = cs->h;
    mcp_error err;
    mcp_error_clear(&err);
    cs->st = stream_new(h, cs->req.session, false);
    if (cs->st == NULL)
        return send_rpc_error(cs, c, 500, MCP_RPC_INTERNAL_ERROR, "out of memory");
    const char *acc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
    cs->st->accept_sse = acc == NULL || header_has(acc, "text/event-stream") ||
                         header_has(acc, "*/*");
    cs->st->conn = c;
    mcp__dispatch_result res;
    mcp_status rc = mcp__dispatch(&cs->req, cs->body.ptr ? cs->body.ptr : "", cs->body.len,
                                  &cs->st->sink, &res, &cs->created, &cs->rpc_id, &err);
    if (cs->req.msg.method != NULL)
        snprintf(cs->rpc_method, sizeof cs->rpc_method, "%s", cs->req.msg.method);
    if (cs->created != NULL && cs->st->sess == NULL) {
        mcp__session_ref(cs->created);
        cs->st->sess = cs->created;
    }
    if (rc != MCP_OK) {
        pthread_mutex_lock(&cs->st->mu);
        cs->st->conn = NULL;
        pthread_mutex_unlock(&cs->st->mu);
        return send_failure(cs, c, rc, &err);
    }
    if (res == MCP__DISPATCH_ACCEPTED) {
        pthread_mutex_lock(&cs->st->mu);
        cs->st->conn = NULL;
        pthread_mutex_unlock(&cs->st->mu);
        return send_body(cs, c, 202, NULL, NULL, 0);
    }
    return answer_or_park(cs, c);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)version;
    mcp__http *h = cls;
    conn_state *cs = *con_cls;
    if (cs == NULL) {
        cs = mcp__calloc(1, sizeof *cs);
        if (cs == NULL)
            return MHD_NO;
        *con_cls = cs;
        cs->h = h;
        cs->t0 = mcp_now_ms();
        mcp__request_init(&cs->req, h->srv);
        cs->req.http_method = method;
        cs->req.header = get_header;
        cs->req.tctx = c;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci != NULL && ci->client_addr != NULL) {
            const struct sockaddr *sa = ci->client_addr;
            if (sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                          cs->peer, sizeof cs->peer);
            else if (sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                          cs->peer, sizeof cs->peer);
        }
        cs->req.peer = cs->peer;
        mcp__buf_init(&cs->body, h->max_body);
        return begin(cs, c, url, method);
    }
    if (cs->phase == PH_DONE) {
        *upload_data_size = 0;                    /* already answered: discard the rest */
        return MHD_YES;
    }
    if (cs->phase == PH_AUTHN_HDR) {
        /* resumed after the deferred AUTHN run (authn_job resumes only when it is done) */
        if (cs->authn_rc != MCP_OK) {
            *upload_data_size = 0;
            return send_failure(cs, c, cs->authn_rc, &cs->authn_err);
        }
        enum MHD_Result r = after_authn(cs, c);
        if (cs->phase != PH_BODY) {
            *upload_data_size = 0;
            return r;
        }
        if (*upload_data_size == 0)
            return r;                           /* body (if any) follows in later calls */
    }
    if (cs->phase == PH_BODY && *upload_data_size > 0) {
        mcp_status rc = mcp__buf_append(&cs->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        if (rc == MCP_ERR_TOO_LARGE)
            return send_rpc_error(cs, c, 413, MCP_RPC_INVALID_REQUEST, "Payload Too Large");
        if (rc != MCP_OK)
            return send_rpc_error(cs, c, 500, MCP_RPC_INTERNAL_ERROR, "out of memory");
        return MHD_YES;
    }
    if (cs->phase == PH_BODY)
        return finish_post(cs, c);
    if (cs->phase == PH_WAIT)
        return answer_or_park(cs, c);
    return MHD_YES;
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    conn_state *cs = *con_cls;
    if (cs == NULL)
        return;
    *con_cls = NULL;
    if (cs->st != NULL) {
        pthread_mutex_lock(&cs->st->mu);
        if (cs->st->conn == c) {
            cs->st->conn = NULL;
            cs->st->suspended = false;
        }
        pthread_mutex_unlock(&cs->st->mu);
        stream_release(&cs->st->sink);
    }
    if (cs->h->access_log) {
        uint64_t ms = mcp_now_ms() - cs->t0;
        mcp__log(MCP__LOG_INFO, "access", "%s %s %s %u %llums%s", cs->peer, cs->req.http_method,
                 cs->rpc_method[0] ? cs->rpc_method : "-", cs->status, (unsigned long long)ms,
                 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)");
    }
    if (cs->counted)
        atomic_fetch_sub(&cs->h->active_posts, 1);
    if (cs->created != NULL)
        mcp__session_unref(cs->created);
    if (cs->req.session != NULL)
        mcp__session_unref(cs->req.session);
    json_decref(cs->rpc_id);
    mcp__request_cleanup(&cs->req);
    mcp__buf_cleanup(&cs->body);
    mcp__free(cs);
}

/* ---- lifecycle --------------------------------------------------------------------------- */

/* libmicrohttpd's own messages (client hung up mid-request, ...) are debug-level noise for an
 * operator; route them through our logger instead of raw stderr. */
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    mcp__log(MCP__LOG_DEBUG, "mhd", "%s", line);
}

void
mcp_http_opts_default(mcp_http_opts *o)
{
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 8080;
    o->path = "/mcp";
    o->max_body = 4u << 20;
    o->max_header = 16u << 10;
    o->max_connections = 2048;
    o->connection_timeout_s = 30;
    o->dns_rebinding_protection = -1;
    o->sse_retry_ms = 1000;
    o->sse_replay_events = 256;
    o->access_log = true;
    o->listen_fd = -1;
}

static char **
strv_copy(const char *const *v)
{
    size_t n = 0;
    while (v != NULL && v[n] != NULL)
        n++;
    char **d = mcp__calloc(n + 1, sizeof *d);
    for (size_t i = 0; d != NULL && i < n; i++)
        d[i] = mcp__strdup(v[i]);
    return d;
}

static bool
is_loopback(const char *host)
{
    return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "::1") == 0 ||
           strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0;
}

void
mcp__http_free(mcp__http *h)
{
    if (h == NULL)
        return;
    mcp__free(h->host);
    mcp__free(h->path);
    mcp__free(h->resource_url);
    mcp__free(h->prm_json);
    for (char **p = h->allowed_hosts; p && *p; p++)
        mcp__free(*p);
    for (char **p = h->allowed_origins; p && *p; p++)
        mcp__free(*p);
    mcp__free(h->allowed_hosts);
    mcp__free(h->allowed_origins);
    mcp__free(h);
}

static void
end_session_streams(mcp__session *s)
{
    pthread_mutex_lock(&s->mu);
    http_sess *hs = s->transport_data;
    for (size_t i = 0; hs != NULL && i < MAX_SESSION_STREAMS; i++)
        if (hs->streams[i] != NULL)
            stream_end(hs->streams[i]);
    pthread_mutex_unlock(&s->mu);
}

void
mcp__http_stop(mcp__http *h, unsigned grace_ms)
{
    if (h == NULL || h->d == NULL)
        return;
    mcp_server *srv = h->srv;
    uint64_t deadline = mcp_now_ms() + grace_ms;
    /* stop accepting; in-flight work continues. The listen socket comes back to us. */
    MHD_socket lfd = MHD_quiesce_daemon(h->d);
    mcp__pool_wait_idle(srv, grace_ms);
    /* parked connections with an authentication run in flight must not be closed under it */
    while (atomic_load(&h->authn_jobs) > 0)
        usleep(5000);
    /* handlers are done; let their responses drain to the clients */
    while (atomic_load(&h->active_posts) > 0 && mcp_now_ms() < deadline)
        usleep(5000);
    atomic_store(&h->stopping, true);
    /* close every SSE stream so their connections finish */
    pthread_mutex_lock(&srv->sess_mu);
    for (size_t i = 0; i < srv->sess_cap; i++)
        for (mcp__session *s = srv->sess_tab[i]; s != NULL; s = s->hnext)
            end_session_streams(s);
    pthread_mutex_unlock(&srv->sess_mu);
    MHD_stop_daemon(h->d);
    h->d = NULL;
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
}

mcp_status
mcp_server_listen_http(mcp_server *srv, const mcp_http_opts *opts, mcp_error *err)
{
    mcp_http_opts def;
    if (opts == NULL) {
        mcp_http_opts_default(&def);
        opts = &def;
    }
    if (srv->http != NULL)
        return mcp_error_set(err, MCP_ERR_STATE, "HTTP transport already running");
    mcp__http *h = mcp__calloc(1, sizeof *h);
    if (h == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    h->srv = srv;
    h->host = mcp__strdup(opts->host ? opts->host : "127.0.0.1");
    h->path = mcp__strdup(opts->path ? opts->path : "/mcp");
    h->resource_url = mcp__strdup(opts->resource_url);
    h->prm_json = mcp__strdup(opts->resource_metadata_json);
    h->allowed_hosts = strv_copy(opts->allowed_hosts);
    h->allowed_origins = strv_copy(opts->allowed_origins);
    h->max_body = opts->max_body ? opts->max_body : 4u << 20;
    h->retry_ms = opts->sse_retry_ms ? opts->sse_retry_ms : 1000;
    h->replay_events = opts->sse_replay_events ? opts->sse_replay_events : 256;
    h->access_log = opts->access_log;
    if (h->host == NULL || h->path == NULL || h->allowed_hosts == NULL ||
        h->allowed_origins == NULL) {
        mcp__http_free(h);
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    }
    h->rebinding = opts->dns_rebinding_protection < 0 ? is_loopback(h->host)
                                                      : opts->dns_rebinding_protection > 0;

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG;
    const char *bind_host = strcmp(h->host, "localhost") == 0 ? "127.0.0.1" : h->host;
    struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)&ss;
    if (inet_pton(AF_INET, bind_host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(opts->port);
    } else if (inet_pton(AF_INET6, bind_host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(opts->port);
        flags |= MHD_USE_IPv6;
    } else {
        mcp__http_free(h);
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "listen address must be a numeric IP");
    }
    mcp_status rc = mcp__server_start(srv, err);
    if (rc != MCP_OK) {
        mcp__http_free(h);
        return rc;
    }
    mcp__session_close_hook = session_closed;
    mcp__session_keepalive_hook = session_keepalive;
    unsigned io = opts->io_threads ? opts->io_threads : mcp__ncpus();
    size_t mem = opts->max_header ? opts->max_header : 16u << 10;
    if (mem < 8192)
        mem = 8192;
    struct MHD_OptionItem common[] = {
        { MHD_OPTION_THREAD_POOL_SIZE, io > 1 ? (intptr_t)io : 0, NULL },
        { MHD_OPTION_CONNECTION_LIMIT,
          (intptr_t)(opts->max_connections ? opts->max_connections : 2048u), NULL },
        { MHD_OPTION_CONNECTION_TIMEOUT,
          (intptr_t)(opts->connection_timeout_s ? opts->connection_timeout_s : 30u), NULL },
        { MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)mem, NULL },
        { MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h },
        { MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, NULL },
        { MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, h },
        { MHD_OPTION_END, 0, NULL },
    };
    if (opts->listen_fd >= 0)          /* a socket the caller bound (and chose the port of) */
        h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
                                MHD_OPTION_LISTEN_SOCKET, (MHD_socket)opts->listen_fd,
                                MHD_OPTION_ARRAY, common, MHD_OPTION_END);
    else
        h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
                                MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                                MHD_OPTION_ARRAY, common, MHD_OPTION_END);
    if (h->d == NULL) {
        mcp__http_free(h);
        return mcp_error_set(err, MCP_ERR_IO, "cannot listen on %s:%u", opts->host,
                             (unsigned)opts->port);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_LISTEN_FD);
    struct sockaddr_storage bound;
    socklen_t bl = sizeof bound;
    if (di != NULL && getsockname(di->listen_fd, (struct sockaddr *)&bound, &bl) == 0)
        h->port = ntohs(bound.ss_family == AF_INET6
                        ? ((struct sockaddr_in6 *)(void *)&bound)->sin6_port
                        : ((struct sockaddr_in *)(void *)&bound)->sin_port);
    srv->http = h;
    mcp__log(MCP__LOG_INFO, "http", "listening on http://%s%s%s:%u%s%s", strchr(h->host, ':') ? "["
             : "", h->host, strchr(h->host, ':') ? "]" : "", (unsigned)h->port, h->path,
             srv->opts.stateless ? " (stateless)" : "");
    return MCP_OK;
}

uint16_t
mcp_server_http_port(const mcp_server *srv)
{
    return srv->http != NULL ? srv->http->port : 0;
}
