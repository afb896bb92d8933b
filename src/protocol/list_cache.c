/*
 * Cached list results (issue 15): tools/list, prompts/list, resources/list and
 * resources/templates/list answered from a result serialized once per caller permission set,
 * instead of running the authorizer over every entry and dumping the JSON on every request.
 *
 * An entry is valid for exactly the inputs it was built from:
 *   - the list (which) and the era (a 2026-07-28 result carries its decoration);
 *   - the caller's permission set, as a canonical key: sorted, duplicates dropped, each name
 *     NUL-terminated ("P" + names; "N" for no principal). Compared byte for byte, never by
 *     hash alone, so two callers share an entry only when their permission sets are equal;
 *   - the authorizer's generation (mcp__authorize_generation: 0 under the registration rules,
 *     the pinned policy's generation under the RBAC engine; an authorizer that reports none is
 *     never cached);
 *   - the server's list generation (srv->list_gen: registration, a new authorizer,
 *     mcp_server_notify_list_changed).
 * Both generations are read before the list is built, so a change while it is built leaves an
 * entry that no later lookup matches. Only the first page (no cursor) is cached.
 *
 * Bounded: LC_SLOTS entries in sets of LC_WAYS (least recently used way replaced), at most
 * LC_ENTRY_MAX bytes per result and LC_BYTES_MAX in all; a list that does not fit is built
 * every time, as before. One mutex; a hit holds it for one copy of the bytes.
 */
#include "protocol/internal.h"

#include <string.h>

#define LC_SLOTS     64
#define LC_WAYS      4
#define LC_KEY_MAX   2048
#define LC_PERMS_MAX 64
#define LC_ENTRY_MAX ((size_t)1 << 20)
#define LC_BYTES_MAX ((size_t)8 << 20)

typedef struct lc_entry {
    char    *key;          /* canonical permission set (klen bytes), or NULL: free slot */
    size_t   klen;
    char    *json;         /* the serialized result */
    size_t   jlen;
    unsigned which, era;
    uint64_t agen, lgen;
    uint64_t used;         /* last use (tick), for replacement */
} lc_entry;

struct mcp__list_cache {
    pthread_mutex_t mu;
    lc_entry        e[LC_SLOTS];
    size_t          bytes;
    uint64_t        tick;
    uint64_t        hits, misses;   /* for tests and profiles */
};

mcp__list_cache *
mcp__list_cache_new(void)
{
    mcp__list_cache *lc = mcp__calloc(1, sizeof *lc);
    if (lc != NULL)
        pthread_mutex_init(&lc->mu, NULL);
    return lc;
}

static void
entry_clear(mcp__list_cache *lc, lc_entry *e)
{
    if (e->key != NULL)
        lc->bytes -= e->klen + e->jlen;
    mcp__free(e->key);
    mcp__free(e->json);
    memset(e, 0, sizeof *e);
}

void
mcp__list_cache_free(mcp__list_cache *lc)
{
    if (lc == NULL)
        return;
    for (size_t i = 0; i < LC_SLOTS; i++)
        entry_clear(lc, &lc->e[i]);
    pthread_mutex_destroy(&lc->mu);
    mcp__free(lc);
}

void
mcp__list_cache_stats(mcp__list_cache *lc, uint64_t *hits, uint64_t *misses)
{
    pthread_mutex_lock(&lc->mu);
    *hits = lc->hits;
    *misses = lc->misses;
    pthread_mutex_unlock(&lc->mu);
}

/* The canonical key of p's permission set; false when it is too large to cache. */
static bool
make_key(const mcp_principal *p, char *buf, size_t cap, size_t *len)
{
    if (p == NULL) {
        buf[0] = 'N';
        *len = 1;
        return true;
    }
    size_t n = mcp_principal_permission_count(p);
    if (n > LC_PERMS_MAX)
        return false;
    const char *v[LC_PERMS_MAX];
    for (size_t i = 0; i < n; i++) {
        const char *s = mcp_principal_permission(p, i);
        if (s == NULL)
            return false;
        size_t j = i;
        for (; j > 0 && strcmp(v[j - 1], s) > 0; j--)    /* insertion sort: n is small */
            v[j] = v[j - 1];
        v[j] = s;
    }
    size_t off = 0;
    buf[off++] = 'P';
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(v[i], v[i - 1]) == 0)
            continue;
        size_t l = strlen(v[i]);
        if (l + 1 > cap - off)
            return false;
        memcpy(buf + off, v[i], l + 1);
        off += l + 1;
    }
    *len = off;
    return true;
}

static size_t
set_of(const char *key, size_t klen, unsigned which, unsigned era)
{
    uint64_t h = 1469598103934665603ull ^ (which * 31u + era);
    for (size_t i = 0; i < klen; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ull;
    }
    return (size_t)(h % (LC_SLOTS / LC_WAYS)) * LC_WAYS;
}

static bool
matches(const lc_entry *e, const char *key, size_t klen, unsigned which, unsigned era,
        uint64_t agen, uint64_t lgen)
{
    return e->key != NULL && e->which == which && e->era == era && e->agen == agen &&
           e->lgen == lgen && e->klen == klen && memcmp(e->key, key, klen) == 0;
}

/* A hit: the JSON-RPC answer with id around the cached result (new string, *len), or NULL. */
static char *
lookup(mcp__list_cache *lc, const char *key, size_t klen, unsigned which, unsigned era,
       uint64_t agen, uint64_t lgen, const json_t *id, size_t *len)
{
    size_t base = set_of(key, klen, which, era);
    char *out = NULL;
    pthread_mutex_lock(&lc->mu);
    for (size_t w = 0; w < LC_WAYS; w++) {
        lc_entry *e = &lc->e[base + w];
        if (matches(e, key, klen, which, era, agen, lgen)) {
            out = mcp__rpc_result_raw(id, e->json, e->jlen, len);
            e->used = ++lc->tick;
            break;
        }
    }
    if (out != NULL)
        lc->hits++;
    else
        lc->misses++;
    pthread_mutex_unlock(&lc->mu);
    return out;
}

/* Keep json (taken over) for the key; dropped when it does not fit. */
static void
store(mcp__list_cache *lc, const char *key, size_t klen, unsigned which, unsigned era,
      uint64_t agen, uint64_t lgen, char *json, size_t jlen)
{
    char *k = jlen <= LC_ENTRY_MAX ? mcp__alloc(klen) : NULL;
    if (k == NULL) {
        mcp__free(json);
        return;
    }
    memcpy(k, key, klen);
    size_t base = set_of(key, klen, which, era);
    pthread_mutex_lock(&lc->mu);
    lc_entry *victim = NULL;
    for (size_t w = 0; w < LC_WAYS; w++) {
        lc_entry *e = &lc->e[base + w];
        if (e->key == NULL || (e->which == which && e->era == era && e->klen == klen &&
                               memcmp(e->key, key, klen) == 0)) {
            victim = e;                /* a free way, or this key built at other generations */
            break;
        }
        if (victim == NULL || e->used < victim->used)
            victim = e;
    }
    entry_clear(lc, victim);
    if (lc->bytes + klen + jlen > LC_BYTES_MAX) {
        pthread_mutex_unlock(&lc->mu);
        mcp__free(k);
        mcp__free(json);
        return;
    }
    victim->key = k;
    victim->klen = klen;
    victim->json = json;
    victim->jlen = jlen;
    victim->which = which;
    victim->era = era;
    victim->agen = agen;
    victim->lgen = lgen;
    victim->used = ++lc->tick;
    lc->bytes += klen + jlen;
    pthread_mutex_unlock(&lc->mu);
}

mcp_status
mcp__pr_list_reply(mcp_request *req, unsigned which, size_t n, listing_at_fn at,
                   const char *key)
{
    mcp_server *srv = req->srv;
    mcp__list_cache *lc = mcp__pr_lists(srv);
    char kbuf[LC_KEY_MAX];
    size_t klen = 0;
    uint64_t agen = 0;
    /* both generations before anything is read (see the top of the file) */
    uint64_t lgen = atomic_load(&srv->list_gen);
    bool cacheable = lc != NULL && json_object_get(req->msg.params, "cursor") == NULL &&
                     mcp__authorize_generation(srv, req->principal, &agen) &&
                     make_key(req->principal, kbuf, sizeof kbuf, &klen);
    if (cacheable) {
        size_t len = 0;
        char *msg = lookup(lc, kbuf, klen, which, req->era, agen, lgen, req->msg.id, &len);
        if (msg != NULL) {
            req->sink->emit(req->sink, msg, len, true);
            return MCP_OK;
        }
    }
    int32_t code = 0;
    const char *why = NULL;
    json_t *r = mcp__pr_list(req, n, at, key, &code, &why);
    if (r == NULL || !cacheable)
        return mcp__pr_reply(req, r, code, why);
    if (req->era == MCP__REQ_MODERN)
        mcp__pr_decorate(srv, r, mcp__pr_method_cache(req));
    size_t rlen = 0, len = 0;
    char *text = mcp__json_dump(r, &rlen);
    json_decref(r);
    char *msg = text != NULL ? mcp__rpc_result_raw(req->msg.id, text, rlen, &len) : NULL;
    if (text != NULL)
        store(lc, kbuf, klen, which, req->era, agen, lgen, text, rlen);
    if (msg == NULL) {
        mcp__pr_emit_error(req->sink, req->msg.id, MCP_RPC_INTERNAL_ERROR,
                           "internal error: out of memory");
        return MCP_OK;
    }
    req->sink->emit(req->sink, msg, len, true);
    return MCP_OK;
}
