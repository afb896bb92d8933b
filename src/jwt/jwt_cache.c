/*
 * The verified-token cache: SHA-256(token) -> principal, until the token's exp.
 *
 * Sharded by the first hash byte so concurrent verifications rarely contend; each shard is a
 * chained hash table plus an LRU list, bounded by capacity / shards entries. When a shard is
 * full the least recently used entry goes (expired entries are also dropped when met). A
 * clock-free design (evicting by exp order) was considered, but LRU keeps the hot tokens of
 * active clients and needs no heap.
 *
 * Only successes are stored. Caching rejections would let a flood of garbage evict good
 * entries and would buy little: most rejections fail before any public-key operation.
 *
 * Generations: every key set change bumps the verifier's generation and clears the cache. A
 * verification that started under an older key set carries the older generation and is not
 * inserted, so a principal verified with a key that was just removed can never be cached after
 * the clear.
 */
#include "jwt/internal.h"

#include <string.h>

typedef struct entry {
    unsigned char  hash[MCP__JWT_HASH_LEN];
    mcp_principal *p;
    int64_t        expires;
    struct entry  *hnext;             /* bucket chain */
    struct entry  *prev, *next;       /* LRU list; the sentinel's next is the most recent */
} entry;

typedef struct shard {
    pthread_mutex_t mu;
    entry         **buckets;
    size_t          mask;
    entry           lru;
    size_t          count, cap;
    uint64_t        gen;
    uint64_t        hits, misses, inserts, evictions;
} shard;

struct mcp__jwt_cache {
    size_t nshards;
    shard *shards;
};

static size_t
pow2_at_least(size_t n)
{
    size_t p = 1;
    while (p < n && p < ((size_t)1 << 30))
        p <<= 1;
    return p;
}

mcp__jwt_cache *
mcp__jwt_cache_new(size_t capacity)
{
    if (capacity == 0)
        return NULL;
    mcp__jwt_cache *c = mcp__calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->nshards = capacity >= 256 ? 16 : 1;
    size_t per = (capacity + c->nshards - 1) / c->nshards;
    size_t nb = pow2_at_least(per);
    if ((c->shards = mcp__calloc(c->nshards, sizeof *c->shards)) == NULL) {
        mcp__free(c);
        return NULL;
    }
    for (size_t i = 0; i < c->nshards; i++) {
        shard *s = &c->shards[i];
        pthread_mutex_init(&s->mu, NULL);
        s->lru.next = s->lru.prev = &s->lru;
        s->cap = per;
        s->mask = nb - 1;
        if ((s->buckets = mcp__calloc(nb, sizeof *s->buckets)) == NULL) {
            c->nshards = i + 1;
            mcp__jwt_cache_free(c);
            return NULL;
        }
    }
    return c;
}

static size_t
bucket_of(const shard *s, const unsigned char *hash)
{
    uint64_t h;
    memcpy(&h, hash + 8, sizeof h);
    return (size_t)h & s->mask;
}

static shard *
shard_of(mcp__jwt_cache *c, const unsigned char *hash)
{
    return &c->shards[hash[0] % c->nshards];
}

static void
lru_unlink(entry *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
}

static void
lru_push_front(shard *s, entry *e)
{
    e->next = s->lru.next;
    e->prev = &s->lru;
    s->lru.next->prev = e;
    s->lru.next = e;
}

static void
entry_remove(shard *s, entry *e)
{
    entry **pp = &s->buckets[bucket_of(s, e->hash)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    lru_unlink(e);
    mcp_principal_unref(e->p);
    mcp__free(e);
    s->count--;
}

static entry *
entry_find(shard *s, const unsigned char *hash)
{
    for (entry *e = s->buckets[bucket_of(s, hash)]; e != NULL; e = e->hnext)
        if (memcmp(e->hash, hash, MCP__JWT_HASH_LEN) == 0)
            return e;
    return NULL;
}

static void
shard_clear(shard *s)
{
    while (s->lru.next != &s->lru)
        entry_remove(s, s->lru.next);
}

void
mcp__jwt_cache_free(mcp__jwt_cache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nshards; i++) {
        shard *s = &c->shards[i];
        if (s->buckets != NULL)
            shard_clear(s);
        mcp__free(s->buckets);
        pthread_mutex_destroy(&s->mu);
    }
    mcp__free(c->shards);
    mcp__free(c);
}

mcp_principal *
mcp__jwt_cache_get(mcp__jwt_cache *c, const unsigned char *hash, int64_t now)
{
    if (c == NULL)
        return NULL;
    shard *s = shard_of(c, hash);
    mcp_principal *p = NULL;
    pthread_mutex_lock(&s->mu);
    entry *e = entry_find(s, hash);
    if (e != NULL && now < e->expires) {
        lru_unlink(e);
        lru_push_front(s, e);
        p = mcp_principal_ref(e->p);
        s->hits++;
    } else {
        if (e != NULL)
            entry_remove(s, e);     /* expired: the full path decides (with leeway) */
        s->misses++;
    }
    pthread_mutex_unlock(&s->mu);
    return p;
}

void
mcp__jwt_cache_put(mcp__jwt_cache *c, const unsigned char *hash, const mcp_principal *p,
                   int64_t expires, uint64_t gen)
{
    if (c == NULL)
        return;
    entry *n = mcp__calloc(1, sizeof *n);
    if (n == NULL)
        return;                          /* caching is an optimisation; skip on NOMEM */
    memcpy(n->hash, hash, MCP__JWT_HASH_LEN);
    n->expires = expires;
    shard *s = shard_of(c, hash);
    pthread_mutex_lock(&s->mu);
    if (gen < s->gen || entry_find(s, hash) != NULL) {
        pthread_mutex_unlock(&s->mu);
        mcp__free(n);
        return;
    }
    if (s->count >= s->cap) {
        entry *victim = s->lru.prev;
        entry_remove(s, victim);
        s->evictions++;
    }
    n->p = mcp_principal_ref(p);
    size_t b = bucket_of(s, hash);
    n->hnext = s->buckets[b];
    s->buckets[b] = n;
    lru_push_front(s, n);
    s->count++;
    s->inserts++;
    pthread_mutex_unlock(&s->mu);
}

void
mcp__jwt_cache_clear(mcp__jwt_cache *c, uint64_t gen)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nshards; i++) {
        shard *s = &c->shards[i];
        pthread_mutex_lock(&s->mu);
        shard_clear(s);
        if (gen > s->gen)
            s->gen = gen;
        pthread_mutex_unlock(&s->mu);
    }
}

void
mcp__jwt_cache_get_stats(mcp__jwt_cache *c, mcp__jwt_cache_stats *st)
{
    memset(st, 0, sizeof *st);
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nshards; i++) {
        shard *s = &c->shards[i];
        pthread_mutex_lock(&s->mu);
        st->hits += s->hits;
        st->misses += s->misses;
        st->inserts += s->inserts;
        st->evictions += s->evictions;
        st->entries += s->count;
        pthread_mutex_unlock(&s->mu);
    }
}
