/*
 * SIGHUP -> reload, without doing anything in the signal handler but write(2).
 *
 * One process-wide self-pipe and one watcher thread serve every registration. The pipe is
 * created once and never closed: a signal handler that races with teardown could otherwise
 * write into a descriptor number that has meanwhile been reused for something else. The
 * thread runs while at least one registration exists; the previous SIGHUP disposition is
 * restored when the last one goes. signalfd/sigwait would need SIGHUP blocked in every
 * thread, including the HTTP library's, which this code does not control.
 */
#include "authz/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define MAX_REG 8

typedef struct reg {
    void (*fn)(void *);
    void *ctx;
} reg;

static pthread_mutex_t life_mu = PTHREAD_MUTEX_INITIALIZER; /* register/unregister, start/stop */
static pthread_mutex_t list_mu = PTHREAD_MUTEX_INITIALIZER; /* regs, held while calling fn */
static reg regs[MAX_REG];
static size_t nregs;
static int hup_pipe[2] = { -1, -1 };
static pthread_t watcher;
static bool running;
static struct sigaction old_action;

static void
on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    ssize_t n = write(hup_pipe[1], "h", 1);   /* full pipe: a reload is pending anyway */
    (void)n;
    errno = saved;
}

static void *
watcher_main(void *arg)
{
    (void)arg;
    for (;;) {
        char c[16];
        ssize_t n = read(hup_pipe[0], c, sizeof c);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return NULL;
        bool quit = false, hup = false;
        for (ssize_t i = 0; i < n; i++) {
            quit |= c[i] == 'q';
            hup |= c[i] == 'h';
        }
        if (hup) {
            pthread_mutex_lock(&list_mu);
            for (size_t i = 0; i < nregs; i++)
                regs[i].fn(regs[i].ctx);
            pthread_mutex_unlock(&list_mu);
        }
        if (quit)
            return NULL;
    }
}

mcp_status
mcp__sighup_register(void (*fn)(void *), void *ctx, mcp_error *err)
{
    mcp_status rc = MCP_OK;
    pthread_mutex_lock(&life_mu);
    if (hup_pipe[0] < 0) {
        if (pipe(hup_pipe) != 0) {
            rc = mcp_error_set(err, MCP_ERR_INTERNAL, "pipe: %s", strerror(errno));
            goto out;
        }
        for (int i = 0; i < 2; i++)
            fcntl(hup_pipe[i], F_SETFD, FD_CLOEXEC);
        /* the handler must never block */
        fcntl(hup_pipe[1], F_SETFL, fcntl(hup_pipe[1], F_GETFL) | O_NONBLOCK);
    }
    pthread_mutex_lock(&list_mu);
    if (nregs == MAX_REG) {
        pthread_mutex_unlock(&list_mu);
        rc = mcp_error_set(err, MCP_ERR_TOO_LARGE, "too many SIGHUP watchers");
        goto out;
    }
    regs[nregs].fn = fn;
    regs[nregs].ctx = ctx;
    nregs++;
    pthread_mutex_unlock(&list_mu);
    if (!running) {
        /* drain anything a previous watcher left behind (a pending 'q' would stop us) */
        int fl = fcntl(hup_pipe[0], F_GETFL);
        fcntl(hup_pipe[0], F_SETFL, fl | O_NONBLOCK);
        char junk[64];
        while (read(hup_pipe[0], junk, sizeof junk) > 0) {
        }
        fcntl(hup_pipe[0], F_SETFL, fl);
        if (pthread_create(&watcher, NULL, watcher_main, NULL) != 0) {
            pthread_mutex_lock(&list_mu);
            nregs--;
            pthread_mutex_unlock(&list_mu);
            rc = mcp_error_set(err, MCP_ERR_INTERNAL, "cannot start the SIGHUP thread");
            goto out;
        }
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGHUP, &sa, &old_action);
        running = true;
    }
out:
    pthread_mutex_unlock(&life_mu);
    return rc;
}

void
mcp__sighup_unregister(void *ctx)
{
    pthread_mutex_lock(&life_mu);
    pthread_mutex_lock(&list_mu);          /* waits for a running callback */
    for (size_t i = 0; i < nregs; i++) {
        if (regs[i].ctx == ctx) {
            regs[i] = regs[--nregs];
            break;
        }
    }
    bool stop = running && nregs == 0;
    pthread_mutex_unlock(&list_mu);
    if (stop) {
        sigaction(SIGHUP, &old_action, NULL);
        /* the write end is non-blocking: a full pipe means the watcher is behind; let it
         * catch up and try again */
        while (write(hup_pipe[1], "q", 1) != 1 && (errno == EINTR || errno == EAGAIN))
            usleep(1000);
        pthread_join(watcher, NULL);
        running = false;
    }
    pthread_mutex_unlock(&life_mu);
}

mcp_status
mcp_sighup_add(void (*fn)(void *ctx), void *ctx, mcp_error *err)
{
    if (fn == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no function");
    return mcp__sighup_register(fn, ctx, err);
}

void
mcp_sighup_remove(void *ctx)
{
    mcp__sighup_unregister(ctx);
}
