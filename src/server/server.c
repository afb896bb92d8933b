/*
 * The server object: new/free/run. It installs the protocol's entries (route, built-in AUTHZ,
 * handler) into the core's pipeline; the registry, the pipeline driver, the session table and
 * the worker pool live in src/core, the transports in src/transport.
 */
#include "server/server.h"

#include "protocol/protocol.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

void
mcp_server_opts_default(mcp_server_opts *o)
{
    memset(o, 0, sizeof *o);
    o->name = "libmcp";
    o->version = MCP_VERSION_STRING;
    o->workers = 2 * mcp__ncpus();
    o->request_timeout_ms = 60000;
    o->max_sessions = 10000;
    o->max_sessions_per_owner = 64;
    o->session_idle_s = 1800;
    o->session_evict_idle_s = 60;
    o->authn_fail_limit = 20;
    o->authn_fail_window_s = 60;
}

mcp_status
mcp_server_new(const mcp_server_opts *opts, mcp_server **out, mcp_error *err)
{
    mcp_server_opts def;
    if (opts == NULL) {
        mcp_server_opts_default(&def);
        opts = &def;
    }
    *out = NULL;
    mcp_server *srv = mcp__calloc(1, sizeof *srv);
    if (srv == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    srv->opts = *opts;
    if (srv->opts.workers == 0)
        srv->opts.workers = 2 * mcp__ncpus();
    if (srv->opts.request_timeout_ms == 0)
        srv->opts.request_timeout_ms = 60000;
    if (srv->opts.max_sessions == 0)
        srv->opts.max_sessions = 10000;
    if (srv->opts.session_evict_idle_s == 0)
        srv->opts.session_evict_idle_s = 60;
    if (srv->opts.authn_fail_window_s == 0)
        srv->opts.authn_fail_window_s = 60;
    srv->name = mcp__strdup(opts->name ? opts->name : "libmcp");
    srv->version = mcp__strdup(opts->version ? opts->version : MCP_VERSION_STRING);
    srv->title = mcp__strdup(opts->title);
    srv->instructions = mcp__strdup(opts->instructions);
    srv->page_size = 100;
    srv->stop_pipe[0] = srv->stop_pipe[1] = -1;
    pthread_mutex_init(&srv->sess_mu, NULL);
    pthread_mutex_init(&srv->pool_mu, NULL);
    pthread_mutex_init(&srv->fail_mu, NULL);
    pthread_mutex_init(&srv->listen_mu, NULL);
    pthread_cond_init(&srv->pool_cv, NULL);
    pthread_cond_init(&srv->pool_idle_cv, NULL);
    srv->sess_cap = 1024;
    srv->sess_tab = mcp__calloc(srv->sess_cap, sizeof *srv->sess_tab);
    if (srv->name == NULL || srv->version == NULL || srv->sess_tab == NULL ||
        pipe(srv->stop_pipe) != 0) {
        mcp_server_free(srv);
        return mcp_error_set(err, MCP_ERR_NOMEM, "cannot allocate server");
    }
    mcp__server_set_handler(srv, &mcp__protocol_entries);
    mcp_status rc = mcp__pr_server_init(srv, err);
    if (rc != MCP_OK) {
        mcp_server_free(srv);
        return rc;
    }
    *out = srv;
    return MCP_OK;
}

mcp_status
mcp_server_set_workers(mcp_server *srv, unsigned workers, mcp_error *err)
{
    if (srv == NULL || workers == 0)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no server or no workers");
    if (atomic_load(&srv->running))
        return mcp_error_set(err, MCP_ERR_STATE, "the server is already running");
    srv->opts.workers = workers;
    return MCP_OK;
}

void
mcp_server_free(mcp_server *srv)
{
    if (srv == NULL)
        return;
    atomic_store(&srv->stop_requested, true);
    /* Order matters: stop the transport (no new work, connections closed), then join the
     * workers (they may still hold streams that point at the transport state), then free the
     * transport state. */
    mcp__listeners_close(srv);                   /* 2026 listen streams get their result */
    if (srv->tr_ops != NULL)
        srv->tr_ops->stop(srv->tr, 0);
    if (srv->reaper_started) {
        if (srv->stop_pipe[1] >= 0)
            (void)!write(srv->stop_pipe[1], "x", 1);
        pthread_join(srv->reaper, NULL);
    }
    mcp__pool_stop(srv);
    mcp__sessions_clear(srv);                    /* drop every session */
    mcp__registry_free(srv);
    mcp__pr_server_free(srv);
    mcp__authn_fail_free(srv);
    if (srv->tr_ops != NULL) {
        srv->tr_ops->free(srv->tr);
        srv->tr_ops = NULL;
        srv->tr = NULL;
    }
    mcp__free(srv->sess_tab);
    mcp__free(srv->name);
    mcp__free(srv->version);
    mcp__free(srv->title);
    mcp__free(srv->instructions);
    if (srv->stop_pipe[0] >= 0)
        close(srv->stop_pipe[0]);
    if (srv->stop_pipe[1] >= 0)
        close(srv->stop_pipe[1]);
    pthread_mutex_destroy(&srv->sess_mu);
    pthread_mutex_destroy(&srv->pool_mu);
    pthread_mutex_destroy(&srv->fail_mu);
    pthread_mutex_destroy(&srv->listen_mu);
    pthread_cond_destroy(&srv->pool_cv);
    pthread_cond_destroy(&srv->pool_idle_cv);
    mcp__free(srv);
}

/* ---- lifecycle --------------------------------------------------------------------------- */

static mcp_server *volatile signal_target;

static void
on_signal(int sig)
{
    (void)sig;
    if (signal_target != NULL)
        mcp_server_stop(signal_target);
}

void
mcp_server_stop(mcp_server *srv)
{
    atomic_store(&srv->stop_requested, true);
    if (srv->stop_pipe[1] >= 0)
        (void)!write(srv->stop_pipe[1], "x", 1);
}

mcp_status
mcp_server_run_until_signal(mcp_server *srv, unsigned grace_ms, mcp_error *err)
{
    (void)err;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    signal_target = srv;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct pollfd pfd = { .fd = srv->stop_pipe[0], .events = POLLIN };
    while (!atomic_load(&srv->stop_requested)) {
        int r = poll(&pfd, 1, 1000);
        if (r < 0 && errno != EINTR)
            break;
    }
    mcp__log(MCP__LOG_INFO, "server", "stop requested (grace %u ms)", grace_ms);
    mcp__listeners_close(srv);                   /* 2026 listen streams get their result */
    if (srv->tr_ops != NULL)
        srv->tr_ops->stop(srv->tr, grace_ms);
    mcp__pool_wait_idle(srv, grace_ms);
    signal_target = NULL;
    fflush(stderr);
    return MCP_OK;
}

