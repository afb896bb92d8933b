/*
 * Token buckets for per-principal and per-(principal, tool) rate limits.
 *
 * One entry per principal holds all of that principal's buckets: its own, one per tool name it
 * called (at most MCP__RATE_TOOLS_MAX) and one overflow bucket that further tool names share.
 * The entries live in shards, each with its own lock, hash chains and an LRU list of entries,
 * so two callers rarely contend and a full shard forgets its least recently used entry in O(1).
 * The alternative, a periodic sweep of idle buckets, needs a thread and still has to cap memory
 * between sweeps.
 *
 * Forgetting an entry hands its principal fresh (full) buckets later. Because a principal's
 * buckets are forgotten together and only to make room for *another* principal, nothing one
 * principal sends can reset its own buckets: not made-up tool names (the engine meters only
 * registered ones), not many registered ones (the per-principal cap; the overflow bucket). The
 * bound is documented: a caller able to present many distinct credentials can make the table
 * forget some of them and get more than its limit; a single principal cannot.
 *
 * Which shard and chain an entry lands in comes from a hash of the principal that is seeded at
 * random when the table is created and finished with a full 64-bit mixer, so nobody outside can
 * choose principals that crowd one shard.
 *
 * Buckets hold no configuration: the rate and burst come from the current policy on each
 * take, so a reload changes limits without dropping the tokens already spent.
 */
#include "authz/internal.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#define NSHARDS       16        /* a power of two; the shard is the hash's top 4 bits */
#define TOOL_NAME_MAX 256       /* longer tool names share the overflow bucket */

typedef struct tokens {
    double   tokens;
    uint64_t last_ms;
    bool     used;              /* false: not taken from yet (starts full on first use) */
} tokens;

typedef struct tool_bucket {
    tokens t;
    size_t len;
    char  *name;                /* len bytes, not NUL-terminated */
} tool_bucket;

typedef struct entry {
    struct entry *hnext;        /* hash chain */
    struct entry *prev, *next;  /* LRU list, most recent first */
    uint64_t      hash;
    tokens        own;          /* every request of the principal */
    tokens        overflow;     /* tool names past the cap (or too long) */
    tool_bucket  *tools;
    size_t        ntools, captools;
    size_t        len;
    char          key[];        /* the principal, len bytes, not NUL-terminated */
} entry;

typedef struct shard {
    pthread_mutex_t mu;
    entry         **tab;
    size_t          nbuckets_tab; /* power of two */
    size_t          count, max;   /* buckets: each entry counts 1 + its tool buckets */
    entry          *lru_head, *lru_tail;
} shard;

struct mcp__ratelimit {
    uint64_t seed;
    shard    shards[NSHARDS];
};

/* FNV-1a from a random starting state, then the MurmurHash3 64-bit finalizer so every output
 * bit depends on every input bit (plain FNV-1a's top byte barely moves with the last bytes,
 * which let similar names be aimed at one shard). Not a cryptographic PRF; the seed only has to
 * keep the placement unpredictable from outside. */
static uint64_t
hash_key(uint64_t seed, const char *k, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)k[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static size_t
shard_index(uint64_t h)
{
    return (size_t)(h >> 60) & (NSHARDS - 1);   /* top bits; the chain uses the low ones */
}

mcp_status
mcp__ratelimit_new(size_t max_buckets, mcp__ratelimit **out, mcp_error *err)
{
    *out = NULL;
    mcp__ratelimit *rl = mcp__calloc(1, sizeof *rl);
    if (rl == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
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
            return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        }
    }
    mcp_status rc = mcp_random_bytes(&rl->seed, sizeof rl->seed, err);
    if (rc != MCP_OK) {
        mcp__ratelimit_free(rl);
        return rc;
    }
    *out = rl;
    return MCP_OK;
}

static void
entry_free(entry *e)
{
    for (size_t i = 0; i < e->ntools; i++)
        mcp__free(e->tools[i].name);
    mcp__free(e->tools);
    mcp__free(e);
}

void
mcp__ratelimit_free(mcp__ratelimit *rl)
{
    if (rl == NULL)
        return;
    for (int i = 0; i < NSHARDS; i++) {
        shard *s = &rl->shards[i];
        for (entry *e = s->lru_head, *n; e != NULL; e = n) {
            n = e->next;
            entry_free(e);
        }
        mcp__free(s->tab);
        pthread_mutex_destroy(&s->mu);
    }
    mcp__free(rl);
}

static void
lru_unlink(shard *s, entry *e)
{
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        s->lru_head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        s->lru_tail = e->prev;
    e->prev = e->next = NULL;
}

static void
lru_push_front(shard *s, entry *e)
{
    e->prev = NULL;
    e->next = s->lru_head;
    if (s->lru_head != NULL)
        s->lru_head->prev = e;
    s->lru_head = e;
    if (s->lru_tail == NULL)
        s->lru_tail = e;
}

static void
hash_unlink(shard *s, entry *e)
{
    entry **pp = &s->tab[e->hash & (s->nbuckets_tab - 1)];
    while (*pp != NULL && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp == e)
        *pp = e->hnext;
}

/* Forget least recently used entries other than keep until the shard is within its bound. An
 * entry is never evicted for its own growth, so the shard may exceed max by at most one
 * entry's buckets (1 + MCP__RATE_TOOLS_MAX). */
static void
evict_others(shard *s, const entry *keep)
{
    while (s->count > s->max && s->lru_tail != NULL && s->lru_tail != keep) {
        entry *old = s->lru_tail;
        lru_unlink(s, old);
        hash_unlink(s, old);
        s->count -= 1 + old->ntools;
        entry_free(old);
    }
}

/* The principal's entry, created (and made most recent) as needed; NULL without memory. */
static entry *
get_entry(shard *s, uint64_t h, const char *who, size_t len)
{
    size_t slot = h & (s->nbuckets_tab - 1);
    entry *e = s->tab[slot];
    while (e != NULL && !(e->hash == h && e->len == len && memcmp(e->key, who, len) == 0))
        e = e->hnext;
    if (e != NULL) {
        lru_unlink(s, e);
        lru_push_front(s, e);
        return e;
    }
    e = mcp__calloc(1, sizeof *e + len);
    if (e == NULL)
        return NULL;
    e->hash = h;
    e->len = len;
    memcpy(e->key, who, len);
    e->hnext = s->tab[slot];
    s->tab[slot] = e;
    lru_push_front(s, e);
    s->count++;
    evict_others(s, e);
    return e;
}

/* The bucket of e for tool: its own, a new one, or the overflow bucket (past the cap, for an
 * over-long name, or when memory for a new one is lacking: still metered, never unmetered). */
static tokens *
tool_tokens(shard *s, entry *e, const char *tool, size_t len)
{
    for (size_t i = 0; i < e->ntools; i++)
        if (e->tools[i].len == len && memcmp(e->tools[i].name, tool, len) == 0)
            return &e->tools[i].t;
    if (e->ntools >= MCP__RATE_TOOLS_MAX || len > TOOL_NAME_MAX)
        return &e->overflow;
    if (e->ntools == e->captools) {
        size_t cap = e->captools ? e->captools * 2 : 4;
        if (cap > MCP__RATE_TOOLS_MAX)
            cap = MCP__RATE_TOOLS_MAX;
        tool_bucket *n = mcp__realloc(e->tools, cap * sizeof *n);
        if (n == NULL)
            return &e->overflow;
        e->tools = n;
        e->captools = cap;
    }
    char *name = mcp__alloc(len ? len : 1);
    if (name == NULL)
        return &e->overflow;
    memcpy(name, tool, len);
    tool_bucket *b = &e->tools[e->ntools++];
    memset(b, 0, sizeof *b);
    b->name = name;
    b->len = len;
    s->count++;
    evict_others(s, e);
    return &b->t;
}

static bool
take_token(tokens *b, const mcp__rate *cfg, uint64_t now_ms, unsigned *retry_after_s)
{
    if (!b->used) {
        b->used = true;
        b->tokens = cfg->burst;         /* a new bucket starts full */
        b->last_ms = now_ms;
    }
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) / 1000.0 * cfg->rate;
        b->last_ms = now_ms;
    }
    if (b->tokens > cfg->burst)
        b->tokens = cfg->burst;      /* also applies a smaller burst after a reload */
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return true;
    }
    double secs = ceil((1.0 - b->tokens) / cfg->rate);
    *retry_after_s = secs < 1 ? 1u : secs > 86400 ? 86400u : (unsigned)secs;
    return false;
}

bool
mcp__ratelimit_take(mcp__ratelimit *rl, const char *who, size_t who_len, const char *tool,
                    size_t tool_len, const mcp__rate *cfg, uint64_t now_ms,
                    unsigned *retry_after_s)
{
    if (cfg == NULL || cfg->rate <= 0)
        return true;
    uint64_t h = hash_key(rl->seed, who, who_len);
    shard *s = &rl->shards[shard_index(h)];
    pthread_mutex_lock(&s->mu);
    entry *e = get_entry(s, h, who, who_len);
    if (e == NULL) {
        /* No memory for the entry: refuse rather than let the request through unmetered
         * (fail closed); the caller answers 429 and retries later. */
        pthread_mutex_unlock(&s->mu);
        *retry_after_s = 1;
        return false;
    }
    tokens *b = tool != NULL ? tool_tokens(s, e, tool, tool_len) : &e->own;
    bool ok = take_token(b, cfg, now_ms, retry_after_s);
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

size_t
mcp__ratelimit_shard(const mcp__ratelimit *rl, const char *who, size_t who_len)
{
    return shard_index(hash_key(rl->seed, who, who_len));
}
