/*
 * Suspicious activity: failed authentications counted per client address. Every AUTHN decision
 * that refuses a credential (mcp__decide, phase "authn", MCP_ERR_UNAUTHENTICATED) counts one for
 * the request's peer; an address with authn_fail_limit failures inside one window of
 * authn_fail_window_s seconds is refused at the head of the AUTHN phase (429 + Retry-After, the
 * decision audited) until its window ends, before any verification work is done for it. Other
 * addresses are not affected. The table is a fixed open-addressed array: memory stays bounded
 * whatever the number of addresses (the entry with the oldest window makes room).
 */
#include "core/core.h"

#include <string.h>

struct mcp__fail_entry {
    char     addr[72];   /* a client address, or "cred:" + a credential name */
    uint64_t start_ms;   /* start of the current window; 0 = free slot */
    unsigned count;
};

#define PROBE 8

static size_t
addr_hash(const char *a)
{
    uint64_t h = 1469598103934665603ull;
    for (; *a; a++)
        h = (h ^ (unsigned char)*a) * 1099511628211ull;
    return (size_t)(h % MCP__FAIL_SLOTS);
}

/* The entry of peer, or (when create) a slot for it. Caller holds fail_mu. */
static struct mcp__fail_entry *
lookup(mcp_server *srv, const char *peer, bool create, uint64_t now)
{
    if (srv->fail_tab == NULL) {
        if (!create)
            return NULL;
        srv->fail_tab = mcp__calloc(MCP__FAIL_SLOTS, sizeof *srv->fail_tab);
        if (srv->fail_tab == NULL)
            return NULL;
    }
    uint64_t window = (uint64_t)srv->opts.authn_fail_window_s * 1000u;
    size_t h = addr_hash(peer);
    struct mcp__fail_entry *victim = NULL;
    bool victim_live = true;
    for (size_t i = 0; i < PROBE; i++) {
        struct mcp__fail_entry *e = &srv->fail_tab[(h + i) % MCP__FAIL_SLOTS];
        if (e->start_ms != 0 && strcmp(e->addr, peer) == 0)
            return e;
        bool stale = e->start_ms == 0 || now - e->start_ms > window;
        if (stale && (victim == NULL || victim_live)) {
            victim = e;                       /* a free or expired slot: take the first */
            victim_live = false;
        } else if (!stale && victim_live && (victim == NULL || e->start_ms < victim->start_ms))
            victim = e;                       /* all live so far: the oldest window */
    }
    if (!create)
        return NULL;
    snprintf(victim->addr, sizeof victim->addr, "%s", peer);
    victim->start_ms = now;
    victim->count = 0;
    return victim;
}

void
mcp__authn_fail_record(mcp_server *srv, const char *peer)
{
    if (srv->opts.authn_fail_limit == 0 || peer == NULL || peer[0] == '\0')
        return;
    uint64_t now = mcp_now_ms();
    uint64_t window = (uint64_t)srv->opts.authn_fail_window_s * 1000u;
    pthread_mutex_lock(&srv->fail_mu);
    struct mcp__fail_entry *e = lookup(srv, peer, true, now);
    if (e != NULL) {
        if (now - e->start_ms > window) {
            e->start_ms = now;
            e->count = 0;
        }
        if (e->count < UINT32_MAX)
            e->count++;
        if (e->count == srv->opts.authn_fail_limit)
            mcp__log(MCP__LOG_WARN, "authn", "%s: %u failed authentications within %u s: "
                     "refused until the window ends", e->addr, e->count,
                     srv->opts.authn_fail_window_s);
    }
    pthread_mutex_unlock(&srv->fail_mu);
}

unsigned
mcp__authn_fail_blocked(mcp_server *srv, const char *peer)
{
    if (srv->opts.authn_fail_limit == 0 || peer == NULL || peer[0] == '\0')
        return 0;
    uint64_t now = mcp_now_ms();
    uint64_t window = (uint64_t)srv->opts.authn_fail_window_s * 1000u;
    unsigned wait = 0;
    pthread_mutex_lock(&srv->fail_mu);
    struct mcp__fail_entry *e = lookup(srv, peer, false, now);
    if (e != NULL && e->count >= srv->opts.authn_fail_limit && now - e->start_ms <= window)
        wait = (unsigned)((e->start_ms + window - now) / 1000u) + 1;
    pthread_mutex_unlock(&srv->fail_mu);
    return wait;
}

void
mcp__authn_fail_free(mcp_server *srv)
{
    mcp__free(srv->fail_tab);
    srv->fail_tab = NULL;
}
