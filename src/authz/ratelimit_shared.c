/*
 * Rate limits shared by every instance on one PostgreSQL store (mcp_rbac_opts.shared_rate_limits).
 *
 * A bucket's {rate, burst} becomes a fixed window: at most floor(burst) requests per window of
 * burst / rate seconds (at least 1 s), windows aligned on the wall clock (unix ms), so every
 * instance counts into the same row. The long-run rate is the same as the token bucket's; as
 * with any fixed window, 2 * burst can pass in one window length that straddles a boundary.
 *
 * The counter is a row (bucket, window_start) of rate_windows, raised with one upsert. To keep
 * that round trip off most requests an instance takes a *lease*: it adds L = limit / 16
 * (1..256) to the counter at once, is granted min(L, limit - count before), and spends that
 * grant locally. So the counter never admits more than the limit across all instances
 * (over-admission 0); the cost is that an instance may end a window holding up to L - 1 leased
 * but unused requests that nobody else can have (under-admission at most (instances - 1) *
 * (L - 1) per window, when the traffic stops reaching that instance). Once the counter says the
 * window is full, the instance refuses locally until the window ends: a refused request costs no
 * round trip. One round trip per L admitted requests per bucket per instance.
 *
 * Leases live in a fixed table of slots (direct-mapped by a seeded hash of the bucket): a
 * collision forgets the older lease, which only wastes its remainder (under-admission, never
 * over). The bucket name stored is the hex SHA-256 of (window length, kind, principal, tool), so
 * the table holds no subject names and the key is bounded whatever the principal.
 *
 * The store unreachable: the request is refused with the store's error (503), never let
 * through unmetered (fail closed). Clock skew between instances of d ms moves the boundary each
 * of them counts into by d: keep the instances' clocks synchronized (NTP).
 */
#include "authz/internal.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SLOTS          4096          /* a power of two */
#define LEASE_DIV      16
#define LEASE_MAX      256
#define EXPIRE_EVERY   60000         /* ms between deletions of expired windows */

typedef struct lease {
    pthread_mutex_t mu;
    char            bucket[65];      /* hex SHA-256; "" = empty slot */
    int64_t         window;          /* window_start (unix ms) the lease is for */
    int64_t         left;            /* leased requests not yet spent */
    bool            full;            /* the shared counter reached the limit in this window */
} lease;

struct mcp__ratelimit_shared {
    mcp_store     *store;
    uint64_t       seed;
    _Atomic int64_t next_expire;
    atomic_uint_fast64_t round_trips;
    lease          slots[SLOTS];
};

mcp_status
mcp__ratelimit_shared_new(mcp_store *store, mcp__ratelimit_shared **out, mcp_error *err)
{
    *out = NULL;
    if (!mcp_store_is_shared(store))
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "shared rate limits need a PostgreSQL store (--db postgresql://...)");
    mcp__ratelimit_shared *rl = mcp__calloc(1, sizeof *rl);
    if (rl == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    rl->store = store;
    for (size_t i = 0; i < SLOTS; i++)
        pthread_mutex_init(&rl->slots[i].mu, NULL);
    atomic_init(&rl->next_expire, 0);
    atomic_init(&rl->round_trips, 0);
    mcp_status rc = mcp_random_bytes(&rl->seed, sizeof rl->seed, err);
    if (rc != MCP_OK) {
        mcp__ratelimit_shared_free(rl);
        return rc;
    }
    *out = rl;
    return MCP_OK;
}

void
mcp__ratelimit_shared_free(mcp__ratelimit_shared *rl)
{
    if (rl == NULL)
        return;
    for (size_t i = 0; i < SLOTS; i++)
        pthread_mutex_destroy(&rl->slots[i].mu);
    mcp__free(rl);
}

uint64_t
mcp__ratelimit_shared_round_trips(mcp__ratelimit_shared *rl)
{
    return atomic_load(&rl->round_trips);
}

int64_t
mcp__ratelimit_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* hex SHA-256 of the length-prefixed (window_ms, who, tool); false when hashing fails. */
static bool
bucket_name(char out[65], int64_t window_ms, const char *who, size_t who_len, const char *tool,
            size_t tool_len)
{
    mcp_buf b;
    mcp__buf_init(&b, 64 + who_len + tool_len);
    char head[64];
    int n = snprintf(head, sizeof head, "%lld|%zu|%zu|%c|", (long long)window_ms, who_len,
                     tool_len, tool != NULL ? 't' : 'p');
    bool ok = n > 0 && mcp__buf_append(&b, head, (size_t)n) == MCP_OK
              && mcp__buf_append(&b, who, who_len) == MCP_OK
              && (tool == NULL || mcp__buf_append(&b, tool, tool_len) == MCP_OK);
    unsigned char h[32];
    ok = ok && mcp__sha256(b.ptr, b.len, h);
    mcp__buf_cleanup(&b);
    if (!ok)
        return false;
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[h[i] >> 4];
        out[2 * i + 1] = hex[h[i] & 15];
    }
    out[64] = '\0';
    return true;
}

static size_t
slot_of(uint64_t seed, const char *bucket)
{
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    for (const char *p = bucket; *p != '\0'; p++) {
        h ^= (unsigned char)*p;
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 29;
    return (size_t)h & (SLOTS - 1);
}

static unsigned
retry_secs(int64_t window_end, int64_t now)
{
    int64_t ms = window_end - now;
    int64_t s = (ms + 999) / 1000;
    return s < 1 ? 1u : s > 86400 ? 86400u : (unsigned)s;
}

void
mcp__ratelimit_shared_window(const mcp__rate *cfg, int64_t *window_ms, int64_t *limit)
{
    double w = ceil(cfg->burst / cfg->rate * 1000.0);
    *window_ms = w < 1000 ? 1000 : w > 86400000.0 ? 86400000 : (int64_t)w;
    double l = floor(cfg->burst);
    *limit = l < 1 ? 1 : (int64_t)l;
}

mcp_status
mcp__ratelimit_shared_take(mcp__ratelimit_shared *rl, const char *who, size_t who_len,
                           const char *tool, size_t tool_len, const mcp__rate *cfg,
                           int64_t now_ms, unsigned *retry_after_s, mcp_error *err)
{
    *retry_after_s = 1;
    if (cfg == NULL || cfg->rate <= 0)
        return MCP_OK;
    int64_t window_ms = 0, limit = 0;
    mcp__ratelimit_shared_window(cfg, &window_ms, &limit);
    int64_t window = now_ms - now_ms % window_ms;
    char bucket[65];
    if (!bucket_name(bucket, window_ms, who, who_len, tool, tool_len))
        return mcp_error_set(err, MCP_ERR_INTERNAL, "rate limit: hashing failed");
    lease *l = &rl->slots[slot_of(rl->seed, bucket)];
    pthread_mutex_lock(&l->mu);
    if (strcmp(l->bucket, bucket) != 0 || l->window != window) {
        memcpy(l->bucket, bucket, sizeof l->bucket);   /* a new window or another bucket */
        l->window = window;
        l->left = 0;
        l->full = false;
    }
    mcp_status rc = MCP_OK;
    if (l->left > 0) {
        l->left--;
    } else if (l->full) {
        rc = MCP_ERR_RATE_LIMITED;
    } else {
        int64_t want = limit / LEASE_DIV;
        want = want < 1 ? 1 : want > LEASE_MAX ? LEASE_MAX : want;
        int64_t total = 0;
        atomic_fetch_add(&rl->round_trips, 1);
        rc = mcp_store_rate_add(rl->store, bucket, window, window + 2 * window_ms, want, &total,
                                 err);
        if (rc == MCP_OK) {
            int64_t before = total - want;
            int64_t granted = limit - before;
            granted = granted > want ? want : granted;
            if (total >= limit)
                l->full = true;
            if (granted <= 0) {
                rc = MCP_ERR_RATE_LIMITED;
            } else {
                l->left = granted - 1;
            }
        } else {
            l->bucket[0] = '\0';                       /* nothing known: ask again next time */
        }
    }
    pthread_mutex_unlock(&l->mu);
    if (rc == MCP_ERR_RATE_LIMITED)
        *retry_after_s = retry_secs(window + window_ms, now_ms);
    /* Now and then, delete windows that have ended (any instance may; the first to get here
     * after EXPIRE_EVERY does). A failure there costs only table size, not this request. */
    int64_t next = atomic_load(&rl->next_expire);
    if (now_ms >= next && atomic_compare_exchange_strong(&rl->next_expire, &next,
                                                         now_ms + EXPIRE_EVERY)) {
        mcp_error ignored;
        mcp_error_clear(&ignored);
        (void)mcp_store_rate_expire(rl->store, now_ms, &ignored);
    }
    return rc;
}
