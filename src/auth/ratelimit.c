/*
 * Token buckets for per-principal and per-(principal, tool) rate limits.
 *
 * The table is split into shards, each with its own lock, hash chains and an LRU list, so two
 * callers rarely contend and a full table forgets its least recently used bucket in O(1). The
 * alternative, a periodic sweep of idle buckets, needs a thread and still has to cap memory
 * between sweeps. Forgetting a bucket can only hand its owner a fresh (full) bucket later, so
 * the bound is documented: a caller able to present more than rate_buckets_max distinct
 * credentials can get more than its limit; a single principal cannot.
 *
 * Buckets hold no configuration: the rate and burst come from the current policy on each
 * take, so a reload changes limits without dropping the tokens already spent.
 */
#include "auth/rbac_internal.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#define NSHARDS 16

typedef struct bucket {
    struct bucket *hnext;            /* hash chain */
    struct bucket *prev, *next;      /* LRU list, most recent first */
    uint64_t       hash;
    double         tokens;
    uint64_t       last_ms;
    size_t         len;
    char           key[];            /* len bytes, not NUL-terminated */
} bucket;

typedef struct shard {
    pthread_mutex_t mu;
    bucket        **tab;
    size_t          nbuckets_tab;    /* power of two */
    size_t          count, max;
    bucket         *lru_head, *lru_tail;
} shard;

struct mcp__ratelimit {
    shard shards[NSHARDS];
};

static uint64_t
hash_key(const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
    return h;
}

mcp_status
mcp__ratelimit_new(size_t max_buckets, mcp__ratelimit **out)
{
    *out = NULL;
    mcp__ratelimit *rl = mcp__calloc(1, sizeof *rl);
    if (rl == NULL)
        return MCP_ERR_NOMEM;
    size_t per = max_buckets / NSHARDS;
    if (per < 4)
        per = 4;
    size_t tab = 16;
    while (tab < per && tab < ((size_t)1 << 20))
        tab <<= 1;
    for (int i = 0; i < NSHARDS; i++) {
        shard *s = &rl->shards[i];
        pthread_mutex_init(&s->mu, NULL);
        s->max = per;
        s->nbuckets_tab = tab;
        s->tab = mcp__calloc(tab, sizeof *s->tab);
        if (s->tab == NULL) {
            mcp__ratelimit_free(rl);
            return MCP_ERR_NOMEM;
        }
    }
    *out = rl;
    return MCP_OK;
}

void
mcp__ratelimit_free(mcp__ratelimit *rl)
{
    if (rl == NULL)
        return;
    for (int i = 0; i < NSHARDS; i++) {
        shard *s = &rl->shards[i];
        for (bucket *b = s->lru_head, *n; b != NULL; b = n) {
            n = b->next;
            mcp__free(b);
        }
        mcp__free(s->tab);
        pthread_mutex_destroy(&s->mu);
    }
    mcp__free(rl);
}

static void
lru_unlink(shard *s, bucket *b)
{
    if (b->prev != NULL)
        b->prev->next = b->next;
    else
        s->lru_head = b->next;
    if (b->next != NULL)
        b->next->prev = b->prev;
    else
        s->lru_tail = b->prev;
    b->prev = b->next = NULL;
}

static void
lru_push_front(shard *s, bucket *b)
{
    b->prev = NULL;
    b->next = s->lru_head;
    if (s->lru_head != NULL)
        s->lru_head->prev = b;
    s->lru_head = b;
    if (s->lru_tail == NULL)
        s->lru_tail = b;
}

static void
hash_unlink(shard *s, bucket *b)
{
    bucket **pp = &s->tab[b->hash & (s->nbuckets_tab - 1)];
    while (*pp != NULL && *pp != b)
        pp = &(*pp)->hnext;
    if (*pp == b)
        *pp = b->hnext;
}

bool
mcp__ratelimit_take(mcp__ratelimit *rl, const char *key, size_t len, const mcp__rate *cfg,
                    uint64_t now_ms, unsigned *retry_after_s)
{
    if (cfg == NULL || cfg->rate <= 0)
        return true;
    uint64_t h = hash_key(key, len);
    shard *s = &rl->shards[(h >> 56) % NSHARDS];
    pthread_mutex_lock(&s->mu);
    bucket *b = s->tab[h & (s->nbuckets_tab - 1)];
    while (b != NULL && !(b->hash == h && b->len == len && memcmp(b->key, key, len) == 0))
        b = b->hnext;
    if (b == NULL) {
        if (s->count >= s->max && s->lru_tail != NULL) {
            bucket *old = s->lru_tail;     /* forget the least recently used bucket */
            lru_unlink(s, old);
            hash_unlink(s, old);
            mcp__free(old);
            s->count--;
        }
        b = mcp__alloc(sizeof *b + len);
        if (b == NULL) {
            /* No memory for the bucket: refuse rather than let the request through
             * unmetered (fail closed); the caller answers 429 and retries later. */
            pthread_mutex_unlock(&s->mu);
            *retry_after_s = 1;
            return false;
        }
        b->hash = h;
        b->len = len;
        memcpy(b->key, key, len);
        b->tokens = cfg->burst;
        b->last_ms = now_ms;
        size_t slot = h & (s->nbuckets_tab - 1);
        b->hnext = s->tab[slot];
        s->tab[slot] = b;
        lru_push_front(s, b);
        s->count++;
    } else {
        lru_unlink(s, b);
        lru_push_front(s, b);
    }
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) / 1000.0 * cfg->rate;
        b->last_ms = now_ms;
    }
    if (b->tokens > cfg->burst)
        b->tokens = cfg->burst;      /* also applies a smaller burst after a reload */
    bool ok = b->tokens >= 1.0;
    if (ok)
        b->tokens -= 1.0;
    else {
        double secs = ceil((1.0 - b->tokens) / cfg->rate);
        *retry_after_s = secs < 1 ? 1u : secs > 86400 ? 86400u : (unsigned)secs;
    }
    pthread_mutex_unlock(&s->mu);
    return ok;
}

size_t
mcp__ratelimit_size(mcp__ratelimit *rl)
{
    size_t n = 0;
    for (int i = 0; i < NSHARDS; i++) {
        pthread_mutex_lock(&rl->shards[i].mu);
        n += rl->shards[i].count;
        pthread_mutex_unlock(&rl->shards[i].mu);
    }
    return n;
}
