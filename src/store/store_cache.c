/*
 * The store's hot-path cache: 16 independently locked shards of chained hash tables.
 *
 * Invalidation is a generation number, not a sweep: every entry records the store generation it
 * was read under, and a lookup treats an entry from an older generation as a miss (and frees it).
 * Invalidating is then one atomic increment however large the cache is, and a reader that loaded a
 * row just before an invalidation cannot re-insert stale data after it (put() refuses values read
 * under an old generation).
 *
 * Eviction is deliberately crude: a shard that reaches its share of cache_max is emptied. An LRU
 * list would add a write to shared state on every hit; the store's working set (users, keys,
 * revoked token ids) is small, so a full shard is rare and refilling it costs one query per entry.
 */
#include "store/internal.h"

#include <string.h>

struct mcp__store_cache_entry {
    mcp__store_cache_entry *next;
    uint64_t                hash;
    uint64_t                gen;
    mcp__store_ref         *val;
    size_t                  klen;
    char                    key[];
};

void
mcp__store_ref_init(mcp__store_ref *r, void (*destroy)(mcp__store_ref *r))
{
    atomic_init(&r->refs, 1);
    r->destroy = destroy;
}

mcp__store_ref *
mcp__store_ref_take(mcp__store_ref *r)
{
    if (r != NULL && r->destroy != NULL)
        atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
    return r;
}

void
mcp__store_ref_drop(mcp__store_ref *r)
{
    if (r == NULL || r->destroy == NULL)
        return;
    if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) == 1)
        r->destroy(r);
}

/* FNV-1a, seeded per store and finished with a 64-bit mixer. Not a cryptographic PRF, but keys
 * reach the cache only after the store knows them (key ids) or after a token was verified
 * (subjects, jti), so an attacker cannot pick large numbers of colliding keys. */
static uint64_t
hash_key(uint64_t seed, const char *key, size_t klen)
{
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    for (size_t i = 0; i < klen; i++) {
        h ^= (unsigned char)key[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

mcp_status
mcp__store_cache_init(mcp__store_cache *c, size_t max_entries, uint64_t seed)
{
    memset(c, 0, sizeof *c);
    c->seed = seed;
    for (size_t i = 0; i < MCP__STORE_CACHE_SHARDS; i++)
        pthread_mutex_init(&c->shards[i].mu, NULL);
    c->ready = true;
    if (max_entries == 0)
        return MCP_OK;
    c->max_per_shard = (max_entries + MCP__STORE_CACHE_SHARDS - 1) / MCP__STORE_CACHE_SHARDS;
    size_t nb = 16;
    while (nb < c->max_per_shard && nb < 65536)
        nb *= 2;
    for (size_t i = 0; i < MCP__STORE_CACHE_SHARDS; i++) {
        c->shards[i].buckets = mcp__calloc(nb, sizeof *c->shards[i].buckets);
        if (c->shards[i].buckets == NULL) {
            mcp__store_cache_cleanup(c);
            return MCP_ERR_NOMEM;
        }
    }
    c->nbuckets = nb;
    return MCP_OK;
}

static void
entry_free(mcp__store_cache_entry *e)
{
    mcp__store_ref_drop(e->val);
    mcp__free(e);
}

static void
shard_clear(mcp__store_cache_shard *sh, size_t nbuckets)
{
    for (size_t b = 0; b < nbuckets; b++) {
        mcp__store_cache_entry *e = sh->buckets[b];
        while (e != NULL) {
            mcp__store_cache_entry *next = e->next;
            entry_free(e);
            e = next;
        }
        sh->buckets[b] = NULL;
    }
    sh->count = 0;
}

void
mcp__store_cache_cleanup(mcp__store_cache *c)
{
    if (!c->ready)
        return;
    c->ready = false;
    for (size_t i = 0; i < MCP__STORE_CACHE_SHARDS; i++) {
        mcp__store_cache_shard *sh = &c->shards[i];
        if (sh->buckets != NULL) {
            shard_clear(sh, c->nbuckets);
            mcp__free(sh->buckets);
            sh->buckets = NULL;
        }
        pthread_mutex_destroy(&sh->mu);
    }
    c->nbuckets = 0;
}

mcp__store_ref *
mcp__store_cache_get(mcp__store_cache *c, const char *key, size_t klen, uint64_t gen)
{
    if (c->nbuckets == 0)
        return NULL;
    uint64_t h = hash_key(c->seed, key, klen);
    mcp__store_cache_shard *sh = &c->shards[h % MCP__STORE_CACHE_SHARDS];
    size_t b = (size_t)(h >> 8) & (c->nbuckets - 1);
    mcp__store_ref *v = NULL;

    pthread_mutex_lock(&sh->mu);
    for (mcp__store_cache_entry **pe = &sh->buckets[b]; *pe != NULL; pe = &(*pe)->next) {
        mcp__store_cache_entry *e = *pe;
        if (e->hash != h || e->klen != klen || memcmp(e->key, key, klen) != 0)
            continue;
        if (e->gen == gen) {
            v = mcp__store_ref_take(e->val);
        } else {
            *pe = e->next; /* stale: from before an invalidation */
            sh->count--;
            entry_free(e);
        }
        break;
    }
    pthread_mutex_unlock(&sh->mu);
    return v;
}

void
mcp__store_cache_put(mcp__store_cache *c, const char *key, size_t klen, uint64_t gen,
                     const _Atomic uint64_t *cur, mcp__store_ref *v)
{
    if (c->nbuckets == 0)
        return;
    uint64_t h = hash_key(c->seed, key, klen);
    mcp__store_cache_shard *sh = &c->shards[h % MCP__STORE_CACHE_SHARDS];
    size_t b = (size_t)(h >> 8) & (c->nbuckets - 1);

    mcp__store_cache_entry *n = mcp__alloc(sizeof *n + klen);
    if (n == NULL)
        return; /* not caching is always correct */
    n->hash = h;
    n->gen = gen;
    n->klen = klen;
    memcpy(n->key, key, klen);
    n->val = mcp__store_ref_take(v);

    pthread_mutex_lock(&sh->mu);
    /* Checked under the shard lock: an invalidation after this point bumps the generation, so
     * the entry is seen as stale by every later get(). */
    if (atomic_load(cur) != gen) {
        pthread_mutex_unlock(&sh->mu);
        entry_free(n);
        return;
    }
    for (mcp__store_cache_entry **pe = &sh->buckets[b]; *pe != NULL; pe = &(*pe)->next) {
        mcp__store_cache_entry *e = *pe;
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0) {
            *pe = e->next;
            sh->count--;
            entry_free(e);
            break;
        }
    }
    if (sh->count >= c->max_per_shard)
        shard_clear(sh, c->nbuckets);
    n->next = sh->buckets[b];
    sh->buckets[b] = n;
    sh->count++;
    pthread_mutex_unlock(&sh->mu);
}
