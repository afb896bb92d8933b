/*
 * stdio transport: newline-delimited JSON-RPC on two file descriptors. Handlers run on the worker
 * pool as over HTTP, so a handler can wait for the client's answer to a server->client request
 * while this thread keeps reading. Logs never touch out_fd.
 */
#include "core/core.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

typedef struct stdio_sink {
    mcp__sink       sink;
    pthread_mutex_t mu;
    int             fd;
    bool            broken;
} stdio_sink;

static void
write_all(stdio_sink *s, const char *p, size_t n)
{
    if (!s->broken && mcp__write_all(s->fd, p, n) != MCP_OK)
        s->broken = true;
}

static void
sio_emit(mcp__sink *sk, char *msg, size_t len, bool final)
{
    (void)final;
    stdio_sink *s = (stdio_sink *)sk;
    if (msg == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    write_all(s, msg, len);
    write_all(s, "\n", 1);
    pthread_mutex_unlock(&s->mu);
    mcp__free(msg);
}

static bool sio_can_stream(mcp__sink *s) { (void)s; return true; }
static void sio_noop(mcp__sink *s) { (void)s; }

static void
handle_line(mcp_server *srv, mcp__session *sess, stdio_sink *out, const char *line, size_t len)
{
    mcp_request req;
    mcp_error err;
    mcp_error_clear(&err);
    mcp__request_init(&req, srv);
    req.http_method = "STDIO";
    req.caps = MCP__CAP_HEADERLESS;    /* one session, owned by this transport; no headers */
    req.has_body = true;
    req.can_block = true;              /* one reader per stream: waiting here stalls no one else */
    req.session = sess;
    mcp__session_touch(sess);          /* in use: the reaper must not drop it (session_idle_s) */
    json_t *rpc_id = NULL;
    mcp__dispatch_result res;
    mcp_status rc = mcp__run_head(&req, &err);
    if (rc == MCP_OK && !req.finished)
        rc = mcp__run_body(&req, line, len, &out->sink, &res, NULL, &rpc_id, &err);
    if (rc != MCP_OK) {
        /* the one status table (common/error.c), the same codes HTTP sends */
        int32_t code = err.rpc_code ? err.rpc_code : mcp_status_rpc(rc);
        /* never answer a notification, even with an error */
        if (req.msg.root == NULL || req.msg.kind == MCP__RPC_REQUEST) {
            size_t n;
            json_t *data = req.err_data != NULL ? json_incref(req.err_data)
                           : rc == MCP_ERR_FORBIDDEN && req.target != NULL
                           ? json_pack("{s:s}", "target", req.target) : NULL;
            /* a 2026-07-28 request whose id could not be read gets no id (no null id there) */
            char *msg = req.era == MCP__REQ_MODERN
                        ? mcp__rpc_error_noid(rpc_id, code, err.message, data, &n)
                        : mcp__rpc_error(rpc_id, code, err.message, data, &n);
            if (msg != NULL)
                sio_emit(&out->sink, msg, n, true);
        }
    }
    json_decref(rpc_id);
    mcp__request_cleanup(&req);
}

mcp_status
mcp_server_run_stdio(mcp_server *srv, int in_fd, int out_fd, mcp_error *err)
{
    mcp_status rc = mcp__server_start(srv, err);
    if (rc != MCP_OK)
        return rc;
    stdio_sink out;
    memset(&out, 0, sizeof out);
    out.sink.emit = sio_emit;
    out.sink.can_stream = sio_can_stream;
    out.sink.retain = sio_noop;
    out.sink.release = sio_noop;
    out.fd = out_fd;
    pthread_mutex_init(&out.mu, NULL);
    mcp__session *sess = mcp__session_new(srv, NULL);
    if (sess == NULL) {
        pthread_mutex_destroy(&out.mu);
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    }
    sess->standalone = &out.sink;

    const size_t max_line = 4u << 20;
    mcp_buf line;
    mcp__buf_init(&line, max_line);
    bool skipping = false;          /* inside an over-long line: drop until its newline */
    char chunk[65536];
    struct pollfd pfd[2] = { { .fd = in_fd, .events = POLLIN },
                             { .fd = srv->stop_pipe[0], .events = POLLIN } };
    while (!atomic_load(&srv->stop_requested)) {
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pfd[1].revents)
            break;
        ssize_t n = read(in_fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        const char *p = chunk, *end = chunk + n;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t take = (size_t)((nl ? nl : end) - p);
            if (!skipping && mcp__buf_append(&line, p, take) == MCP_ERR_TOO_LARGE) {
                skipping = true;
                mcp__buf_reset(&line);
                size_t m;
                char *msg = mcp__rpc_error(NULL, MCP_RPC_INVALID_REQUEST,
                                           "message exceeds the size limit", NULL, &m);
                if (msg != NULL)
                    sio_emit(&out.sink, msg, m, true);
            }
            if (nl == NULL)
                break;
            if (!skipping) {
                size_t l = line.len;
                while (l > 0 && (line.ptr[l - 1] == '\r' || line.ptr[l - 1] == ' '))
                    l--;
                if (l > 0)
                    handle_line(srv, sess, &out, line.ptr, l);
            }
            skipping = false;
            mcp__buf_reset(&line);
            p = nl + 1;
        }
    }
    mcp__buf_cleanup(&line);
    mcp__pool_wait_idle(srv, 30000);
    pthread_mutex_lock(&sess->mu);
    sess->standalone = NULL;
    pthread_mutex_unlock(&sess->mu);
    mcp__session_remove(srv, sess);
    mcp__session_unref(sess);
    mcp__pool_wait_idle(srv, 5000);
    pthread_mutex_destroy(&out.mu);
    return MCP_OK;
}
