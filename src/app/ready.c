/*
 * The readiness check of mcp_app servers (/ready, mcp_http_opts.ready_fn): ready when the
 * store answers and every key source is usable (each JWKS URL fetched at least once; an
 * introspection endpoint configured). The HTTP IO thread that answers /ready must not block,
 * so the store is checked by a small thread once a second and the probe reads its last result;
 * the JWT check only reads an atomic flag.
 */
#include <mcp/introspect.h>
#include <mcp/jwt.h>

#include "app/internal.h"
#include "common/common.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define STORE_CHECK_MS 1000

struct mcp__app_ready {
    mcp_store              *store;       /* borrowed; NULL: none configured */
    const mcp_jwt_verifier *jwt;         /* borrowed; NULL: none */
    bool                    want_introspection;
    const mcp_introspector *introspector;
    pthread_mutex_t         mu;          /* guards the fields below */
    pthread_cond_t          cv;
    bool                    stop;
    bool                    store_checked; /* the thread has run its first check */
    bool                    store_ok;
    char                    store_why[MCP_ERROR_MSG_MAX];
    pthread_t               thread;
    bool                    started;
};

static void
check_store(mcp__app_ready *r)
{
    mcp_error e;
    mcp_error_clear(&e);
    mcp_status rc = mcp_store_check(r->store, &e);
    pthread_mutex_lock(&r->mu);
    r->store_checked = true;
    r->store_ok = rc == MCP_OK;
    snprintf(r->store_why, sizeof r->store_why, "%s",
             rc == MCP_OK ? "" : e.message[0] ? e.message : mcp_status_str(rc));
    pthread_mutex_unlock(&r->mu);
}

static void *
store_thread(void *arg)
{
    mcp__app_ready *r = arg;
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        pthread_mutex_unlock(&r->mu);
        check_store(r);
        pthread_mutex_lock(&r->mu);
        struct timespec dl;
        clock_gettime(CLOCK_MONOTONIC, &dl);
        dl.tv_nsec += (long)STORE_CHECK_MS * 1000000L;
        dl.tv_sec += dl.tv_nsec / 1000000000L;
        dl.tv_nsec %= 1000000000L;
        int w = 0;
        while (!r->stop && w != ETIMEDOUT)
            w = pthread_cond_timedwait(&r->cv, &r->mu, &dl);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

mcp_status
mcp__app_ready_new(mcp_store *store, const mcp_jwt_verifier *jwt, bool want_introspection,
                   const mcp_introspector *introspector, mcp__app_ready **out, mcp_error *err)
{
    mcp__app_ready *r = mcp__calloc(1, sizeof *r);
    if (r == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    r->store = store;
    r->jwt = jwt;
    r->want_introspection = want_introspection;
    r->introspector = introspector;
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (store != NULL) {
        if (pthread_create(&r->thread, NULL, store_thread, r) != 0) {
            mcp__app_ready_free(r);
            return mcp_error_set(err, MCP_ERR_INTERNAL, "cannot start the readiness thread");
        }
        r->started = true;
    }
    *out = r;
    return MCP_OK;
}

void
mcp__app_ready_free(mcp__app_ready *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (r->started)
        pthread_join(r->thread, NULL);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    mcp__free(r);
}

bool
mcp__app_ready_fn(void *ctx, char *reason, size_t cap)
{
    mcp__app_ready *r = ctx;
    char why[MCP_ERROR_MSG_MAX] = "";
    if (r->store != NULL) {
        pthread_mutex_lock(&r->mu);
        bool ok = r->store_checked && r->store_ok;
        if (!ok)
            snprintf(why, sizeof why, "%s", r->store_checked ? r->store_why : "not checked yet");
        pthread_mutex_unlock(&r->mu);
        if (!ok) {    /* the store's messages begin with "store: " already */
            snprintf(reason, cap, "%s%s", strncmp(why, "store:", 6) == 0 ? "" : "store: ", why);
            return false;
        }
    }
    if (r->jwt != NULL && !mcp_jwt_verifier_keys_ready(r->jwt, why, sizeof why)) {
        snprintf(reason, cap, "JWT signing keys: %s", why);
        return false;
    }
    if (r->want_introspection && r->introspector == NULL) {
        snprintf(reason, cap, "token introspection: no endpoint configured");
        return false;
    }
    return true;
}
