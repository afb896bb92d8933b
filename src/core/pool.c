/* The worker pool: handlers that may block run here, never on a transport's IO thread. */
#include "core/core.h"

#include <string.h>
#include <unistd.h>

struct mcp__job {
    struct mcp__job *next;
    mcp__job_fn      fn;
    void            *arg;
};

static void *
worker_main(void *arg)
{
    mcp_server *srv = arg;
    pthread_mutex_lock(&srv->pool_mu);
    for (;;) {
        while (srv->jobs_head == NULL && !srv->pool_stop)
            pthread_cond_wait(&srv->pool_cv, &srv->pool_mu);
        if (srv->jobs_head == NULL && srv->pool_stop)
            break;
        struct mcp__job *j = srv->jobs_head;
        srv->jobs_head = j->next;
        if (srv->jobs_head == NULL)
            srv->jobs_tail = NULL;
        srv->busy++;
        pthread_mutex_unlock(&srv->pool_mu);
        j->fn(j->arg);
        mcp__free(j);
        pthread_mutex_lock(&srv->pool_mu);
        srv->busy--;
        if (srv->busy == 0 && srv->jobs_head == NULL)
            pthread_cond_broadcast(&srv->pool_idle_cv);
    }
    pthread_mutex_unlock(&srv->pool_mu);
    return NULL;
}

mcp_status
mcp__pool_submit(mcp_server *srv, mcp__job_fn fn, void *arg)
{
    struct mcp__job *j = mcp__alloc(sizeof *j);
    if (j == NULL)
        return MCP_ERR_NOMEM;
    j->next = NULL;
    j->fn = fn;
    j->arg = arg;
    pthread_mutex_lock(&srv->pool_mu);
    if (srv->pool_stop) {
        pthread_mutex_unlock(&srv->pool_mu);
        mcp__free(j);
        return MCP_ERR_STATE;
    }
    if (srv->jobs_tail != NULL)
        srv->jobs_tail->next = j;
    else
        srv->jobs_head = j;
    srv->jobs_tail = j;
    pthread_cond_signal(&srv->pool_cv);
    pthread_mutex_unlock(&srv->pool_mu);
    return MCP_OK;
}

void
mcp__pool_stop(mcp_server *srv)
{
    pthread_mutex_lock(&srv->pool_mu);
    srv->pool_stop = true;
    pthread_cond_broadcast(&srv->pool_cv);
    pthread_mutex_unlock(&srv->pool_mu);
    for (unsigned i = 0; i < srv->nthreads; i++)
        pthread_join(srv->threads[i], NULL);
    mcp__free(srv->threads);
    srv->threads = NULL;
    srv->nthreads = 0;
}

bool
mcp__pool_wait_idle(mcp_server *srv, unsigned ms)
{
    uint64_t deadline = mcp_now_ms() + ms;
    pthread_mutex_lock(&srv->pool_mu);
    while ((srv->busy > 0 || srv->jobs_head != NULL) && mcp_now_ms() < deadline) {
        pthread_mutex_unlock(&srv->pool_mu);
        usleep(10000);
        pthread_mutex_lock(&srv->pool_mu);
    }
    bool idle = srv->busy == 0 && srv->jobs_head == NULL;
    pthread_mutex_unlock(&srv->pool_mu);
    return idle;
}

mcp_status
mcp__server_start(mcp_server *srv, mcp_error *err)
{
    if (srv->threads != NULL)
        return MCP_OK;
    srv->threads = mcp__calloc(srv->opts.workers, sizeof *srv->threads);
    if (srv->threads == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    for (unsigned i = 0; i < srv->opts.workers; i++) {
        if (pthread_create(&srv->threads[i], NULL, worker_main, srv) != 0)
            return mcp_error_set(err, MCP_ERR_INTERNAL, "cannot start worker thread");
        srv->nthreads++;
    }
    /* also stateless: the transport's tick (suspend timeouts, keep-alives) runs there */
    if (pthread_create(&srv->reaper, NULL, mcp__reaper_main, srv) != 0)
        return mcp_error_set(err, MCP_ERR_INTERNAL, "cannot start reaper thread");
    srv->reaper_started = true;
    atomic_store(&srv->running, true);
    mcp__registry_warn_unauthenticated(srv);
    return MCP_OK;
}
