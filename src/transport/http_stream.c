/*
 * HTTP output streams: a POST's response or a GET stream (`stream`, an mcp__sink), the SSE
 * reader that drains one to its connection, Last-Event-ID replay, and the GET handler.
 *
 * The protocol layer emits messages into a stream from any thread; the IO thread drains it.
 * The stream lock orders "nothing to send -> suspend" against "new message -> resume", so a
 * wake-up is never lost: MHD_suspend_connection() and MHD_resume_connection() are only called
 * with the stream lock held, and only resume a connection that we suspended.
 */
#include "transport/internal.h"

#include <string.h>

static void
stream_retain(mcp__sink *s)
{
    atomic_fetch_add(&((stream *)s)->refs, 1);
}

void
mcp__http_stream_release(mcp__sink *s)
{
    stream *st = (stream *)s;
    if (atomic_fetch_sub(&st->refs, 1) != 1)
        return;
    mcp__http *h = st->h;
    pthread_mutex_lock(&h->live_mu);
    if (st->lprev != NULL)
        st->lprev->lnext = st->lnext;
    else
        h->live = st->lnext;
    if (st->lnext != NULL)
        st->lnext->lprev = st->lprev;
    pthread_mutex_unlock(&h->live_mu);
    mcp__free(st->owner);
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
    st->last_data_ms = mcp_now_ms();
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

/* A listen stream is alive while its connection is: once the client goes away (on_completed
 * detaches it) or the stream ended, the listener is swept. */
static bool
stream_alive(mcp__sink *s)
{
    stream *st = (stream *)s;
    pthread_mutex_lock(&st->mu);
    bool ok = !st->ended && !st->final_seen && st->conn != NULL;
    pthread_mutex_unlock(&st->mu);
    return ok;
}

static bool
stream_can_stream(mcp__sink *s)
{
    stream *st = (stream *)s;
    return st->accept_sse && st->sess != NULL;
}

stream *
mcp__http_stream_new(mcp__http *h, mcp__session *sess, bool standalone)
{
    stream *st = mcp__calloc(1, sizeof *st);
    if (st == NULL)
        return NULL;
    st->ring_cap = h->replay_events ? h->replay_events : 1;
    st->sink.emit = stream_emit;
    st->sink.close_early = stream_close_early;
    st->sink.can_stream = stream_can_stream;
    st->sink.alive = stream_alive;
    st->sink.retain = stream_retain;
    st->sink.release = mcp__http_stream_release;
    atomic_init(&st->refs, 1);
    pthread_mutex_init(&st->mu, NULL);
    st->h = h;
    st->standalone = standalone;
    st->accept_sse = true;
    st->last_data_ms = mcp_now_ms();
    if (sess != NULL) {
        mcp__session_ref(sess);
        st->sess = sess;
    }
    pthread_mutex_lock(&h->live_mu);
    st->lnext = h->live;
    if (h->live != NULL)
        h->live->lprev = st;
    h->live = st;
    pthread_mutex_unlock(&h->live_mu);
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
        mcp__http_stream_release(&evict->sink);
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

void
mcp__http_session_closed(mcp__session *s)
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
        mcp__http_stream_release(&st->sink);
    }
    mcp__free(hs);
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
    mcp__http_stream_release(&r->st->sink);
    mcp__free(r);
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

/* HTTP status of a 2026-07-28 JSON answer: an error response carries its own status (the
 * revision maps -32601 to 404 and the request errors to 400); a result is 200. The envelope is
 * written "jsonrpc", "id", then "result" or "error", so only a short prefix is looked at before
 * an error is parsed to read its code. */
static unsigned
modern_status(const char *b, size_t len)
{
    static const char tag[] = ",\"error\":{";
    size_t scan = len < 512 ? len : 512;
    bool found = false;
    for (size_t i = 0; b != NULL && !found && i + sizeof tag - 1 <= scan; i++)
        found = memcmp(b + i, tag, sizeof tag - 1) == 0;
    if (!found)
        return 200;
    json_t *m = json_loadb(b, len, 0, NULL);
    json_t *code = json_object_get(json_object_get(m, "error"), "code");
    unsigned st = 200;
    if (json_is_integer(code) && json_object_get(m, "result") == NULL) {
        json_int_t c = json_integer_value(code);
        st = c == MCP_RPC_METHOD_NOT_FOUND ? 404 : c == MCP_RPC_INTERNAL_ERROR ? 500
             : c == MCP_RPC_FORBIDDEN ? 403 : c == MCP_RPC_UNAUTHENTICATED ? 401
             : c == MCP_RPC_RATE_LIMITED ? 429 : 400;
    }
    json_decref(m);
    return st;
}

/* After dispatch or on resume: answer if the stream has something, else park the connection. */
enum MHD_Result
mcp__http_answer_or_park(conn_state *cs, struct MHD_Connection *c)
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
        unsigned status = cs->req.era == MCP__REQ_MODERN ? modern_status(b, len) : 200;
        return mcp__http_send_body(cs, c, status, "application/json", b, len);
    }
    if (st->timed_out) {
        st->conn = NULL;
        pthread_mutex_unlock(&st->mu);
        return mcp__http_send_rpc_error(cs, c, 504, MCP_RPC_INTERNAL_ERROR,
                                        "Gateway Timeout: no response within the suspend timeout");
    }
    if (atomic_load(&cs->h->stopping) || st->ended) {
        st->conn = NULL;
        pthread_mutex_unlock(&st->mu);
        return mcp__http_send_rpc_error(cs, c, 503, MCP_RPC_INTERNAL_ERROR, "server is shutting down");
    }
    cs->phase = PH_WAIT;
    st->suspended = true;
    MHD_suspend_connection(c);
    pthread_mutex_unlock(&st->mu);
    return MHD_YES;
}

/* ---- GET / DELETE ------------------------------------------------------------------------ */

enum MHD_Result
mcp__http_handle_get(conn_state *cs, struct MHD_Connection *c)
{
    mcp__session *s = cs->req.session;
    if (!mcp__http_header_has(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept"), "text/event-stream"))
        return mcp__http_send_rpc_error(cs, c, 406, MCP_RPC_INVALID_REQUEST,
                              "Not Acceptable: GET needs Accept: text/event-stream");
    if (s == NULL)
        return mcp__http_send_rpc_error(cs, c, 400, MCP_RPC_INVALID_REQUEST,
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
        st = mcp__http_stream_new(cs->h, s, true);
        if (st == NULL)
            return MHD_NO;
        st->sse = true;
        if (cs->req.principal != NULL)
            st->owner = mcp__strdup(mcp_principal_owner_key(cs->req.principal));
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
        mcp__http_stream_release(&st->sink);
        return mcp__http_send_rpc_error(cs, c, 409, MCP_RPC_INVALID_REQUEST,
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

/* Every stream, with or without a session (a stateless SSE POST, a POST parked for its JSON
 * answer, GET streams): each parked connection is resumed; its reader ends the stream, or
 * mcp__http_answer_or_park() answers 503. A stream freed meanwhile has left the list first
 * (under live_mu), so every stream seen here is alive. */
void
mcp__http_end_all_streams(mcp__http *h)
{
    pthread_mutex_lock(&h->live_mu);
    for (stream *st = h->live; st != NULL; st = st->lnext)
        stream_end(st);
    pthread_mutex_unlock(&h->live_mu);
}

void
mcp__http_tick(mcp__http *h)
{
    uint64_t now = mcp_now_ms();
    uint64_t limit = (uint64_t)h->suspend_timeout_s * 1000u;
    bool ping = now - h->last_ping_ms >= MCP__KEEPALIVE_S * 1000u;
    if (ping)
        h->last_ping_ms = now;
    pthread_mutex_lock(&h->live_mu);
    for (stream *st = h->live; st != NULL; st = st->lnext) {
        pthread_mutex_lock(&st->mu);
        if (st->suspended && st->conn != NULL) {
            if (limit > 0 && now - st->last_data_ms > limit) {
                /* nothing to send for too long: a JSON wait is answered 504, a stream ends
                 * (the client may resume it with Last-Event-ID) */
                st->timed_out = true;
                st->ended = st->sse || st->standalone;
                wake_locked(st);
            } else if (ping && (st->sse || st->standalone)) {
                /* a comment line: a client that went away is noticed when the write fails */
                st->ping = true;
                wake_locked(st);
            }
        }
        pthread_mutex_unlock(&st->mu);
    }
    pthread_mutex_unlock(&h->live_mu);
}

unsigned
mcp__http_open_streams(mcp__http *h, const char *owner)
{
    unsigned n = 0;
    if (owner == NULL)
        return 0;
    pthread_mutex_lock(&h->live_mu);
    for (stream *st = h->live; st != NULL; st = st->lnext) {
        pthread_mutex_lock(&st->mu);
        if (st->conn != NULL && st->owner != NULL && strcmp(st->owner, owner) == 0)
            n++;
        pthread_mutex_unlock(&st->mu);
    }
    pthread_mutex_unlock(&h->live_mu);
    return n;
}

