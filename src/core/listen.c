/*
 * subscriptions/listen streams (protocol 2026-07-28): a list of listeners, each a response
 * stream kept open with the notification kinds it asked for, fed by the same change fan-out
 * that serves 2025 sessions (mcp_server_notify_list_changed, _resource_updated). Not tied to a
 * session. Bounded (MCP__LISTENERS_MAX); a listener whose client went away is swept on the
 * next registration or change.
 */
#include "core/core.h"

#include <string.h>

static void
listener_free(mcp__listener *l)
{
    l->sink->release(l->sink);
    json_decref(l->sub_id);
    json_decref(l->uris);
    mcp__free(l->final_msg);
    mcp__free(l);
}

static bool
alive(mcp__listener *l)
{
    return l->sink->alive == NULL || l->sink->alive(l->sink);
}

/* Unlink the dead listeners (under listen_mu) onto *dead, to be freed outside the lock. */
static void
sweep_locked(mcp_server *srv, mcp__listener **dead)
{
    for (mcp__listener **pp = &srv->listeners; *pp != NULL;) {
        mcp__listener *l = *pp;
        if (alive(l)) {
            pp = &l->next;
            continue;
        }
        *pp = l->next;
        srv->nlisteners--;
        l->next = *dead;
        *dead = l;
    }
}

static void
free_list(mcp__listener *l)
{
    while (l != NULL) {
        mcp__listener *n = l->next;
        listener_free(l);
        l = n;
    }
}

mcp_status
mcp__listener_add(mcp_server *srv, mcp__listener *l)
{
    mcp__listener *dead = NULL;
    mcp_status rc = MCP_OK;
    pthread_mutex_lock(&srv->listen_mu);
    sweep_locked(srv, &dead);
    if (srv->nlisteners >= MCP__LISTENERS_MAX) {
        rc = MCP_ERR_RATE_LIMITED;
    } else {
        l->next = srv->listeners;
        srv->listeners = l;
        srv->nlisteners++;
    }
    pthread_mutex_unlock(&srv->listen_mu);
    free_list(dead);
    return rc;
}

static bool
wants(const mcp__listener *l, unsigned kind, const char *uri)
{
    if (uri == NULL)
        return (l->kinds & kind) != 0;
    size_t i;
    json_t *u;
    json_array_foreach(l->uris, i, u)
        if (strcmp(json_string_value(u), uri) == 0)
            return true;
    return false;
}

void
mcp__listeners_notify(mcp_server *srv, unsigned kind, const char *method, const char *uri)
{
    mcp__listener *dead = NULL;
    pthread_mutex_lock(&srv->listen_mu);
    sweep_locked(srv, &dead);
    for (mcp__listener *l = srv->listeners; l != NULL; l = l->next) {
        if (!wants(l, kind, uri))
            continue;
        json_t *p = json_pack("{s:{s:O}}", "_meta", "io.modelcontextprotocol/subscriptionId",
                              l->sub_id);
        if (p != NULL && uri != NULL)
            json_object_set_new(p, "uri", json_string(uri));
        size_t len;
        char *msg = p != NULL ? mcp__rpc_notification(method, p, &len) : NULL;
        if (msg != NULL)
            l->sink->emit(l->sink, msg, len, false);      /* the sink takes msg */
    }
    pthread_mutex_unlock(&srv->listen_mu);
    free_list(dead);
}

void
mcp__listeners_close(mcp_server *srv)
{
    pthread_mutex_lock(&srv->listen_mu);
    mcp__listener *all = srv->listeners;
    srv->listeners = NULL;
    srv->nlisteners = 0;
    pthread_mutex_unlock(&srv->listen_mu);
    for (mcp__listener *l = all; l != NULL; l = l->next) {
        if (l->final_msg != NULL && alive(l)) {
            l->sink->emit(l->sink, l->final_msg, l->final_len, true);
            l->final_msg = NULL;                            /* the sink took it */
        }
    }
    free_list(all);
}
