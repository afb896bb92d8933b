/* The session table: creation with per-principal caps, lookup, removal, notifications, the reaper. */
#include "core/core.h"

#include <poll.h>
#include <string.h>
#include <unistd.h>

static size_t
sess_hash(const char *id, size_t cap)
{
    uint64_t h = 1469598103934665603ull;
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 1099511628211ull;
    return (size_t)(h % cap);
}

mcp__session *
mcp__session_new(mcp_server *srv, const char *owner)
{
    unsigned char rnd[16];
    if (mcp_random_bytes(rnd, sizeof rnd, NULL) != MCP_OK)
        return NULL;
    mcp__session *s = mcp__calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    char *id = mcp__b64url_encode(rnd, sizeof rnd);
    if (id == NULL) {
        mcp__free(s);
        return NULL;
    }
    snprintf(s->id, sizeof s->id, "%s", id);
    mcp__free(id);
    if (owner != NULL && (s->owner = mcp__strdup(owner)) == NULL) {
        mcp__free(s);
        return NULL;
    }
    atomic_init(&s->refs, 1);               /* the table's reference */
    pthread_mutex_init(&s->mu, NULL);
    s->log_level = MCP_LOG_DEBUG;
    s->next_req_id = 1;
    s->last_active_ms = mcp_now_ms();
    snprintf(s->version, sizeof s->version, "%s", MCP_PROTOCOL_LATEST);
    pthread_mutex_lock(&srv->sess_mu);
    /* One principal may hold at most max_sessions_per_owner sessions: past it, its own least
     * recently active session makes room, so one caller cannot fill the table for all, but
     * only a session idle for at least session_evict_idle_s (one still in use is never closed
     * under its client); with none that idle, the new session is refused (429). */
    mcp__session *evict = NULL;
    uint64_t now = s->last_active_ms;
    uint64_t min_idle = (uint64_t)srv->opts.session_evict_idle_s * 1000u;
    if (owner != NULL && srv->opts.max_sessions_per_owner > 0) {
        size_t mine = 0;
        uint64_t best_active = 0, best_seq = 0;
        for (size_t i = 0; i < srv->sess_cap; i++)
            for (mcp__session *o = srv->sess_tab[i]; o != NULL; o = o->hnext) {
                if (o->owner == NULL || strcmp(o->owner, owner) != 0)
                    continue;
                mine++;
                pthread_mutex_lock(&o->mu);
                if (o->inflight == NULL && now - o->last_active_ms >= min_idle &&
                    o->last_active_ms <= now &&
                    (evict == NULL || o->last_active_ms < best_active ||
                     (o->last_active_ms == best_active && o->seq < best_seq))) {
                    evict = o;
                    best_active = o->last_active_ms;
                    best_seq = o->seq;
                }
                pthread_mutex_unlock(&o->mu);
            }
        if (mine < srv->opts.max_sessions_per_owner)
            evict = NULL;
        else if (evict != NULL)
            atomic_fetch_add(&evict->refs, 1);
        else {
            pthread_mutex_unlock(&srv->sess_mu);       /* none idle long enough: refuse */
            goto refuse;
        }
    }
    if (evict == NULL && srv->nsessions >= srv->opts.max_sessions) {
        pthread_mutex_unlock(&srv->sess_mu);
        goto refuse;
    }
    s->seq = ++srv->sess_seq;
    size_t b = sess_hash(s->id, srv->sess_cap);
    s->hnext = srv->sess_tab[b];
    srv->sess_tab[b] = s;
    srv->nsessions++;
    atomic_fetch_add(&s->refs, 1);          /* the caller's reference */
    pthread_mutex_unlock(&srv->sess_mu);
    if (evict != NULL) {
        mcp__log(MCP__LOG_INFO, "session", "principal reached its session limit: closing its "
                 "least recently active idle session");
        mcp__session_remove(srv, evict);
        mcp__session_unref(evict);
    }
    return s;
refuse:
    mcp__free(s->owner);
    pthread_mutex_destroy(&s->mu);
    mcp__free(s);
    return NULL;
}

mcp__session *
mcp__session_find(mcp_server *srv, const char *id)
{
    if (id == NULL || strlen(id) >= sizeof ((mcp__session *)0)->id)
        return NULL;
    pthread_mutex_lock(&srv->sess_mu);
    mcp__session *s = srv->sess_tab[sess_hash(id, srv->sess_cap)];
    while (s != NULL && strcmp(s->id, id) != 0)
        s = s->hnext;
    if (s != NULL)
        atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&srv->sess_mu);
    return s;
}

void
mcp__session_ref(mcp__session *s)
{
    atomic_fetch_add(&s->refs, 1);
}

void
mcp__session_unref(mcp__session *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    for (size_t i = 0; i < s->nsubs; i++)
        mcp__free(s->subs[i]);
    mcp__free(s->subs);
    mcp__free(s->owner);
    json_decref(s->client_caps);
    pthread_mutex_destroy(&s->mu);
    mcp__free(s);
}

void
mcp__session_touch(mcp__session *s)
{
    pthread_mutex_lock(&s->mu);
    s->last_active_ms = mcp_now_ms();
    pthread_mutex_unlock(&s->mu);
}

void
mcp__session_remove(mcp_server *srv, mcp__session *s)
{
    bool found = false;
    pthread_mutex_lock(&srv->sess_mu);
    mcp__session **pp = &srv->sess_tab[sess_hash(s->id, srv->sess_cap)];
    for (; *pp != NULL; pp = &(*pp)->hnext) {
        if (*pp == s) {
            *pp = s->hnext;
            srv->nsessions--;
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&srv->sess_mu);
    if (!found)
        return;
    pthread_mutex_lock(&s->mu);
    s->closed = true;
    mcp__sink *sa = s->standalone;
    s->standalone = NULL;
    pthread_mutex_unlock(&s->mu);
    mcp__session_wake_pending(s);
    if (srv->tr_ops != NULL && srv->tr_ops->session_closed != NULL)
        srv->tr_ops->session_closed(srv->tr, s);
    if (sa != NULL)
        sa->release(sa);
    mcp__session_unref(s);                 /* the table's reference */
}

void
mcp__session_notify(mcp__session *s, const char *method, json_t *params)
{
    pthread_mutex_lock(&s->mu);
    mcp__sink *sink = s->standalone;
    if (sink != NULL)
        sink->retain(sink);
    pthread_mutex_unlock(&s->mu);
    if (sink == NULL) {
        json_decref(params);
        return;
    }
    size_t len;
    char *msg = mcp__rpc_notification(method, params, &len);
    if (msg != NULL)
        sink->emit(sink, msg, len, false);
    sink->release(sink);
}

size_t
mcp__server_nsessions(mcp_server *srv)
{
    pthread_mutex_lock(&srv->sess_mu);
    size_t n = srv->nsessions;
    pthread_mutex_unlock(&srv->sess_mu);
    return n;
}

void
mcp__session_foreach(mcp_server *srv, void (*fn)(mcp__session *, void *), void *arg)
{
    /* Collect references under the table lock, call fn outside it. */
    pthread_mutex_lock(&srv->sess_mu);
    size_t n = srv->nsessions, k = 0;
    mcp__session **list = mcp__calloc(n ? n : 1, sizeof *list);
    for (size_t i = 0; list != NULL && i < srv->sess_cap; i++)
        for (mcp__session *s = srv->sess_tab[i]; s != NULL && k < n; s = s->hnext) {
            atomic_fetch_add(&s->refs, 1);
            list[k++] = s;
        }
    pthread_mutex_unlock(&srv->sess_mu);
    for (size_t i = 0; i < k; i++) {
        fn(list[i], arg);
        mcp__session_unref(list[i]);
    }
    mcp__free(list);
}

static void
notify_updated(mcp__session *s, void *arg)
{
    const char *uri = arg;
    bool sub = false;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nsubs && !sub; i++)
        sub = strcmp(s->subs[i], uri) == 0;
    pthread_mutex_unlock(&s->mu);
    if (sub)
        mcp__session_notify(s, "notifications/resources/updated", json_pack("{s:s}", "uri", uri));
}

void
mcp_server_notify_resource_updated(mcp_server *srv, const char *uri)
{
    mcp__session_foreach(srv, notify_updated, (void *)uri);
    if (uri != NULL)
        mcp__listeners_notify(srv, 0, "notifications/resources/updated", uri);
}

static void
notify_list_changed(mcp__session *s, void *arg)
{
    mcp__session_notify(s, arg, NULL);
}

void
mcp_server_notify_list_changed(mcp_server *srv, const char *kind)
{
    char method[64];
    if (strcmp(kind, "tools") != 0 && strcmp(kind, "resources") != 0 &&
        strcmp(kind, "prompts") != 0)
        return;
    snprintf(method, sizeof method, "notifications/%s/list_changed", kind);
    mcp__lists_changed(srv);           /* before anyone is told: a re-list sees the change */
    mcp__session_foreach(srv, notify_list_changed, method);
    mcp__listeners_notify(srv, kind[0] == 't' ? MCP__LISTEN_TOOLS : kind[0] == 'p'
                          ? MCP__LISTEN_PROMPTS : MCP__LISTEN_RESOURCES, method, NULL);
}

typedef struct reap_arg {
    mcp_server *srv;
    uint64_t    now;
} reap_arg;

static void
maybe_reap(mcp__session *s, void *arg)
{
    reap_arg *ra = arg;
    pthread_mutex_lock(&s->mu);
    bool idle = ra->srv->opts.session_idle_s > 0 && s->inflight == NULL &&
                ra->now - s->last_active_ms > (uint64_t)ra->srv->opts.session_idle_s * 1000u;
    pthread_mutex_unlock(&s->mu);
    if (idle) {
        mcp__log(MCP__LOG_INFO, "session", "reaping idle session");
        mcp__session_remove(ra->srv, s);
    }
}

static void
keepalive(mcp__session *s, void *arg)
{
    mcp_server *srv = arg;
    if (srv->tr_ops != NULL && srv->tr_ops->keepalive != NULL)
        srv->tr_ops->keepalive(srv->tr, s);
}

void *
mcp__reaper_main(void *arg)
{
    mcp_server *srv = arg;
    struct pollfd pfd = { .fd = srv->stop_pipe[0], .events = POLLIN };
    uint64_t last_ka = mcp_now_ms();
    while (!atomic_load(&srv->stop_requested)) {
        if (poll(&pfd, 1, 1000) > 0)
            break;
        reap_arg ra = { srv, mcp_now_ms() };
        mcp__session_foreach(srv, maybe_reap, &ra);
        if (srv->tr_ops != NULL && srv->tr_ops->tick != NULL)
            srv->tr_ops->tick(srv->tr);
        if (ra.now - last_ka >= MCP__KEEPALIVE_S * 1000u) {
            last_ka = ra.now;
            mcp__session_foreach(srv, keepalive, srv);
        }
    }
    return NULL;
}

void
mcp__session_wake_pending(mcp__session *s)
{
    pthread_mutex_lock(&s->mu);
    for (mcp__pending *p = s->pending; p != NULL; p = p->next)
        pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&s->mu);
}

static void
wake_one(mcp__session *s, void *arg)
{
    (void)arg;
    mcp__session_wake_pending(s);
}

void
mcp__server_abort_waits(mcp_server *srv)
{
    /* the flag first: a waiter checks it under its session's mutex before each wait, and the
     * broadcast below takes that mutex, so no waiter misses both */
    atomic_store(&srv->waits_aborted, true);
    mcp__session_foreach(srv, wake_one, NULL);
}

void
mcp__sessions_clear(mcp_server *srv)
{
    for (size_t i = 0; srv->sess_tab != NULL && i < srv->sess_cap; i++) {
        while (srv->sess_tab[i] != NULL) {
            mcp__session *s = srv->sess_tab[i];
            mcp__session_remove(srv, s);
        }
    }
}
