/*
 * The listener's accept loop.
 *
 * libmicrohttpd runs with MHD_USE_NO_LISTEN_SOCKET: one thread of ours accepts on the listen
 * socket and hands each connection to the daemon with MHD_add_connection(), which queues it
 * for one of the daemon's IO threads. We accept ourselves because stopping libmicrohttpd's own
 * listener is not safe: in 0.9.75 MHD_quiesce_daemon() and the epoll threads both remove the
 * listen socket from the epoll set, unlocked, and the loser of that race aborts the process
 * ("Failed to remove listen FD from epoll set"), a crash on shutdown. Here, stopping is: wake
 * this thread, join it, close the socket; from then on the kernel refuses new connections,
 * and the ones still in the backlog are reset instead of waiting out the grace period.
 *
 * At the connection limit the thread stops accepting until a connection closes, so the
 * connections past it wait in the backlog (as with libmicrohttpd's own listener) instead of
 * being accepted and closed. The daemon's own limit is set a batch higher, as a backstop: it
 * counts a closed connection out only after telling us, and would otherwise refuse the
 * connection we accept at that moment. When the process runs out of descriptors it backs off
 * 100 ms.
 */
#include "transport/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ACCEPT_BATCH 64          /* connections taken per wake-up before polling again */
#define BACKOFF_MS   100         /* after EMFILE/ENFILE/ENOBUFS/ENOMEM */

static void
wake(mcp__http *h)
{
    if (h->wake_w >= 0) {
        char b = 1;
        ssize_t n = write(h->wake_w, &b, 1);   /* a full pipe already wakes the thread */
        (void)n;
    }
}

static bool
set_flags(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    int fd_fl = fcntl(fd, F_GETFD);
    return fl >= 0 && fd_fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0 &&
           fcntl(fd, F_SETFD, fd_fl | FD_CLOEXEC) == 0;
}

/*
 * The count the limit is checked against: connections the daemon holds (nconns, from its
 * STARTED/CLOSED notifications, which always come in pairs) plus those handed over and not yet
 * taken up by an IO thread (pending). A connection the daemon drops before it starts would
 * leave pending too high for good; an IO thread takes a connection up within milliseconds, so
 * what is still pending a second after the last hand-over is forgotten.
 */
static unsigned
held(mcp__http *h)
{
    int p = atomic_load(&h->pending);
    return atomic_load(&h->nconns) + (p > 0 ? (unsigned)p : 0u);
}

/* MHD_OPTION_NOTIFY_CONNECTION */
void
mcp__http_on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
                        enum MHD_ConnectionNotificationCode code)
{
    (void)c;
    (void)socket_ctx;
    mcp__http *h = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add(&h->nconns, 1);
        atomic_fetch_sub(&h->pending, 1);
    } else if (atomic_fetch_sub(&h->nconns, 1) >= h->conn_limit) {
        wake(h);                               /* a slot is free again */
    }
}

/* Take what the backlog holds (up to a batch); returns the poll timeout to use next. */
static int
accept_some(mcp__http *h)
{
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        if (held(h) >= h->conn_limit || atomic_load(&h->quiesced))
            return -1;
        struct sockaddr_storage sa;
        socklen_t sl = sizeof sa;
        int fd = accept(h->lfd, (struct sockaddr *)&sa, &sl);
        if (fd < 0) {
            int e = errno;
            if (e == EINTR || e == ECONNABORTED || e == EPROTO)
                continue;
            if (e == EAGAIN || e == EWOULDBLOCK)
                return -1;
            if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
                uint64_t now = mcp_now_ms();
                if (now - h->accept_warned_ms >= 10000) {
                    h->accept_warned_ms = now;
                    mcp__log(MCP__LOG_WARN, "http", "cannot accept a connection: %s "
                             "(backing off %d ms)", strerror(e), BACKOFF_MS);
                }
                return BACKOFF_MS;
            }
            /* the socket no longer listens (shut down from outside): nothing more to accept */
            mcp__log(MCP__LOG_ERROR, "http", "accept on the listen socket failed: %s; no "
                     "longer accepting connections", strerror(e));
            h->accept_dead = true;
            return -1;
        }
        if (!set_flags(fd)) {
            close(fd);
            continue;
        }
        /* on failure (at a limit, out of memory) libmicrohttpd has closed the socket */
        atomic_fetch_add(&h->pending, 1);
        h->last_add_ms = mcp_now_ms();
        if (MHD_add_connection(h->d, fd, (const struct sockaddr *)&sa, sl) != MHD_YES)
            atomic_fetch_sub(&h->pending, 1);
    }
    return 0;                                  /* more may be waiting: poll without sleeping */
}

static void *
acceptor_main(void *arg)
{
    mcp__http *h = arg;
    int timeout = -1;
    while (!atomic_load(&h->quiesced)) {
        if (atomic_load(&h->pending) > 0 && mcp_now_ms() - h->last_add_ms > 1000)
            atomic_store(&h->pending, 0);
        bool room = !h->accept_dead && timeout != BACKOFF_MS && held(h) < h->conn_limit;
        struct pollfd p[2] = {
            { .fd = h->wake_r, .events = POLLIN, .revents = 0 },
            { .fd = h->lfd, .events = room ? POLLIN : 0, .revents = 0 },
        };
        /* without room, look again at least once a second (a missed wake-up costs a second) */
        int n = poll(p, room ? 2 : 1, timeout >= 0 ? timeout : room ? -1 : 1000);
        if (n < 0 && errno != EINTR) {
            mcp__log(MCP__LOG_ERROR, "http", "poll on the listen socket failed: %s",
                     strerror(errno));
            break;
        }
        if (p[0].revents & POLLIN) {
            char buf[64];
            while (read(h->wake_r, buf, sizeof buf) > 0)
                ;
        }
        timeout = -1;
        if (room && (p[1].revents & (POLLIN | POLLERR | POLLHUP)))
            timeout = accept_some(h);
    }
    return NULL;
}

mcp_status
mcp__http_acceptor_start(mcp__http *h, int lfd, unsigned conn_limit, mcp_error *err)
{
    int pfd[2];
    if (!set_flags(lfd))
        return mcp_error_set(err, MCP_ERR_IO, "listen socket: %s", strerror(errno));
    if (pipe(pfd) != 0)
        return mcp_error_set(err, MCP_ERR_IO, "pipe: %s", strerror(errno));
    if (!set_flags(pfd[0]) || !set_flags(pfd[1])) {
        close(pfd[0]);
        close(pfd[1]);
        return mcp_error_set(err, MCP_ERR_IO, "pipe: %s", strerror(errno));
    }
    h->wake_r = pfd[0];
    h->wake_w = pfd[1];
    h->lfd = lfd;
    h->conn_limit = conn_limit;
    if (pthread_create(&h->acceptor, NULL, acceptor_main, h) != 0) {
        h->lfd = MHD_INVALID_SOCKET;           /* the caller still owns it */
        return mcp_error_set(err, MCP_ERR_IO, "cannot start the accept thread");
    }
    h->acceptor_on = true;
    return MCP_OK;
}

bool
mcp__http_acceptor_stop(mcp__http *h)
{
    bool was = h->acceptor_on;
    atomic_store(&h->quiesced, true);
    if (h->acceptor_on) {
        wake(h);
        pthread_join(h->acceptor, NULL);
        h->acceptor_on = false;
    }
    if (h->lfd != MHD_INVALID_SOCKET) {
        close(h->lfd);
        h->lfd = MHD_INVALID_SOCKET;
    }
    return was;
}

void
mcp__http_acceptor_free(mcp__http *h)
{
    (void)mcp__http_acceptor_stop(h);
    if (h->wake_r >= 0)
        close(h->wake_r);
    if (h->wake_w >= 0)
        close(h->wake_w);
    h->wake_r = h->wake_w = -1;
}
