/*
 * stdio transport (MCP "Transports": newline-delimited JSON-RPC on the child's stdin/stdout).
 *
 * The child is started with posix_spawnp (no shell: argv is passed as is). Its stdout is read
 * non-blocking and split into lines, each bounded by max_message; a line that is not JSON is a
 * protocol violation and ends the transport (fail closed: a server that prints logs to stdout
 * corrupts the channel). Writes block, with SIGPIPE held back for the calling thread only so a
 * dead child gives EPIPE instead of killing the application (a library must not change the
 * process-wide signal disposition).
 */
#include "client/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

typedef struct stdio_tr {
    mcp__tr base;
    pid_t   pid;
    int     in_fd;     /* child's stdin (we write) */
    int     out_fd;    /* child's stdout (we read) */
    mcp_buf line;
    bool    dead;
    int     wstatus;
    bool    reaped;
} stdio_tr;

static void
push_closed(stdio_tr *t, mcp_status st, const char *msg)
{
    if (t->dead)
        return;
    t->dead = true;
    (void)mcp__evq_push_event(t->base.q, MCP__EV_CLOSED, 0, st, msg);
}

static mcp_status
write_all_nosigpipe(int fd, const char *p, size_t n)
{
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    mcp_status rc = MCP_OK;
    bool epipe = false;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            struct pollfd pfd = { .fd = fd, .events = POLLOUT };
            (void)poll(&pfd, 1, 1000);
            continue;
        }
        if (w <= 0) {
            epipe = errno == EPIPE;
            rc = MCP_ERR_IO;
            break;
        }
        p += w;
        n -= (size_t)w;
    }
    if (epipe) {
        /* Consume the SIGPIPE now pending for this thread before unblocking it. */
        struct timespec zero = { 0, 0 };
        while (sigtimedwait(&block, NULL, &zero) == SIGPIPE) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

static mcp_status stdio_pump(mcp__tr *base, unsigned timeout_ms, mcp_error *err);

static mcp_status
stdio_send(mcp__tr *base, uint64_t oid, int64_t rpc_id, const char *body, const char *auth,
           const char *const *hdrs, mcp_error *err)
{
    (void)rpc_id;
    (void)hdrs;
    (void)auth;                        /* stdio servers take credentials from the environment */
    stdio_tr *t = (stdio_tr *)base;
    if (t->dead)
        return mcp_error_set(err, MCP_ERR_IO, "the server process has exited");
    if (strchr(body, '\n') != NULL)     /* compact JSON never has one; keep framing intact */
        return mcp_error_set(err, MCP_ERR_INTERNAL, "message contains a newline");
    if (write_all_nosigpipe(t->in_fd, body, strlen(body)) != MCP_OK ||
        write_all_nosigpipe(t->in_fd, "\n", 1) != MCP_OK) {
        /* The child is gone or closed stdin. What it printed or its exit status says more
         * than EPIPE does: read what is left (briefly) and report that reason. */
        (void)stdio_pump(base, 300, NULL);
        push_closed(t, MCP_ERR_IO, "cannot write to the server process");
        for (mcp__event *ev = t->base.q->head; ev != NULL; ev = ev->next)
            if (ev->type == MCP__EV_CLOSED)
                return mcp_error_set(err, ev->status, "%s", ev->message);
        return mcp_error_set(err, MCP_ERR_IO, "cannot write to the server process");
    }
    /* DONE, not final: the response comes later on stdout. */
    if (mcp__evq_push_event(t->base.q, MCP__EV_DONE, oid, MCP_OK, NULL) == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    return MCP_OK;
}

static void
reap(stdio_tr *t, bool block)
{
    if (t->reaped || t->pid <= 0)
        return;
    pid_t r;
    do {
        r = waitpid(t->pid, &t->wstatus, block ? 0 : WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == t->pid || (r < 0 && errno == ECHILD))
        t->reaped = true;
}

static void
handle_line(stdio_tr *t, const char *s, size_t n)
{
    while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0)
        return;                        /* blank lines are harmless */
    json_error_t je;
    json_t *m = json_loadb(s, n, 0, &je);
    if (m == NULL) {
        push_closed(t, MCP_ERR_PARSE, "server wrote a line to stdout that is not JSON-RPC");
        return;
    }
    if (mcp__evq_push_message(t->base.q, m) != MCP_OK)
        push_closed(t, MCP_ERR_NOMEM, "out of memory");
}

static mcp_status
stdio_pump(mcp__tr *base, unsigned timeout_ms, mcp_error *err)
{
    (void)err;
    stdio_tr *t = (stdio_tr *)base;
    uint64_t deadline = mcp_now_ms() + timeout_ms;
    char buf[65536];
    for (;;) {
        if (t->dead) {
            /* Nothing more will come; do not spin the caller's wait loop. */
            uint64_t now = mcp_now_ms();
            if (now < deadline)
                (void)poll(NULL, 0, (int)(deadline - now > 50 ? 50 : deadline - now));
            return MCP_OK;
        }
        uint64_t now = mcp_now_ms();
        int wait = now >= deadline ? 0 : (int)(deadline - now > 1000 ? 1000 : deadline - now);
        struct pollfd pfd = { .fd = t->out_fd, .events = POLLIN };
        int pr = poll(&pfd, 1, wait);
        if (pr < 0 && errno != EINTR)
            return MCP_OK;
        if (pr > 0) {
            ssize_t r = read(t->out_fd, buf, sizeof buf);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                /* EOF usually means exit: give the child a moment so we can report why. */
                for (int i = 0; i < 20 && !t->reaped; i++) {
                    reap(t, false);
                    if (!t->reaped)
                        (void)poll(NULL, 0, 10);
                }
                char msg[128];
                if (t->reaped && WIFEXITED(t->wstatus))
                    snprintf(msg, sizeof msg, "the server process exited with status %d",
                             WEXITSTATUS(t->wstatus));
                else if (t->reaped && WIFSIGNALED(t->wstatus))
                    snprintf(msg, sizeof msg, "the server process was killed by signal %d",
                             WTERMSIG(t->wstatus));
                else
                    snprintf(msg, sizeof msg, "the server process closed its stdout");
                push_closed(t, MCP_ERR_IO, msg);
                return MCP_OK;
            }
            for (ssize_t i = 0, start = 0; r > 0 && i <= r; i++) {
                if (i == r || buf[i] == '\n') {
                    size_t seg = (size_t)(i - start);
                    if (mcp__buf_append(&t->line, buf + start, seg) != MCP_OK) {
                        push_closed(t, MCP_ERR_TOO_LARGE,
                                    "server message exceeds the size limit");
                        return MCP_OK;
                    }
                    if (i < r) {
                        handle_line(t, t->line.ptr ? t->line.ptr : "", t->line.len);
                        mcp__buf_reset(&t->line);
                        if (t->dead)
                            return MCP_OK;
                    }
                    start = i + 1;
                }
            }
        }
        if (t->base.q->head != NULL || mcp_now_ms() >= deadline)
            return MCP_OK;
    }
}

static bool
wait_exit(stdio_tr *t, unsigned ms)
{
    uint64_t end = mcp_now_ms() + ms;
    for (;;) {
        reap(t, false);
        if (t->reaped)
            return true;
        if (mcp_now_ms() >= end)
            return false;
        (void)poll(NULL, 0, 20);
    }
}

static void
stdio_close(mcp__tr *base)
{
    stdio_tr *t = (stdio_tr *)base;
    if (t == NULL)
        return;
    /* Spec shutdown: close stdin, wait, then SIGTERM, then SIGKILL. */
    if (t->in_fd >= 0)
        close(t->in_fd);
    t->in_fd = -1;
    /* After a protocol violation there is nothing to wait politely for. */
    unsigned grace = t->dead ? 100 : 2000;
    if (t->pid > 0 && !wait_exit(t, grace)) {
        kill(t->pid, SIGTERM);
        if (!wait_exit(t, 2000)) {
            kill(t->pid, SIGKILL);
            reap(t, true);
        }
    }
    if (t->out_fd >= 0)
        close(t->out_fd);
    mcp__buf_cleanup(&t->line);
    mcp__free(t);
}

/* Nothing is in flight at the transport level (no abort), the version is not carried per
 * message and there are no sessions: those ops stay NULL. */
static const mcp__tr_ops stdio_ops = { .send = stdio_send, .pump = stdio_pump,
                                       .close = stdio_close };

mcp_status
mcp__stdio_tr_new(const char *const *argv, size_t max_message, mcp__evq *q, mcp__tr **out,
                  mcp_error *err)
{
    *out = NULL;
    if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0')
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no command to run");
    int in_pipe[2] = { -1, -1 }, out_pipe[2] = { -1, -1 };
    if (pipe(in_pipe) != 0 || pipe(out_pipe) != 0) {
        int e = errno;
        if (in_pipe[0] >= 0) {
            close(in_pipe[0]);
            close(in_pipe[1]);
        }
        return mcp_error_set(err, MCP_ERR_IO, "pipe: %s", strerror(e));
    }
    /* Our ends must not leak into other children (close-on-exec); dup2 in the child clears
     * the flag on its copies. */
    for (int i = 0; i < 2; i++) {
        fcntl(in_pipe[i], F_SETFD, FD_CLOEXEC);
        fcntl(out_pipe[i], F_SETFD, FD_CLOEXEC);
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    pid_t pid = -1;
    int e = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in_pipe[0]);
    close(out_pipe[1]);
    if (e != 0) {
        close(in_pipe[1]);
        close(out_pipe[0]);
        return mcp_error_set(err, MCP_ERR_IO, "cannot start %s: %s", argv[0], strerror(e));
    }
    stdio_tr *t = mcp__calloc(1, sizeof *t);
    if (t == NULL) {
        close(in_pipe[1]);
        close(out_pipe[0]);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    }
    t->base.ops = &stdio_ops;
    t->base.q = q;
    t->pid = pid;
    t->in_fd = in_pipe[1];
    t->out_fd = out_pipe[0];
    fcntl(t->out_fd, F_SETFL, fcntl(t->out_fd, F_GETFL) | O_NONBLOCK);
    mcp__buf_init(&t->line, max_message ? max_message : MCP_CLIENT_DEFAULT_MAX_MESSAGE);
    *out = &t->base;
    return MCP_OK;
}
