/* Direct unit tests for src/jwt/jwt_cache.c: the verified-token cache (hit until exp, expired
 * entries dropped, LRU eviction per shard, the key-set generation guard, references). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <string.h>

#include "jwt/internal.h"

static mcp_principal *
principal(const char *sub)
{
    mcp_principal_fields f = {.kind = MCP_CRED_JWT, .subject = sub};
    mcp_principal *p = NULL;
    mcp_error err;
    assert_int_equal(mcp_principal_new(&f, &p, &err), MCP_OK);
    return p;
}

/* A hash whose first byte picks the shard and bytes 8.. pick the bucket. */
static void
hash_of(unsigned char h[MCP__JWT_HASH_LEN], unsigned char shard, uint32_t n)
{
    memset(h, 0, MCP__JWT_HASH_LEN);
    h[0] = shard;
    memcpy(h + 8, &n, sizeof n);
    h[31] = (unsigned char)(n >> 3);
}

static void
new_rejects_zero_capacity(void **state)
{
    (void)state;
    assert_null(mcp__jwt_cache_new(0));
    /* A NULL cache (disabled) is a no-op everywhere. */
    unsigned char h[MCP__JWT_HASH_LEN];
    hash_of(h, 0, 1);
    assert_null(mcp__jwt_cache_get(NULL, h, 0));
    mcp_principal *p = principal("a");
    mcp__jwt_cache_put(NULL, h, p, 100, 0);
    mcp__jwt_cache_clear(NULL, 1);
    mcp__jwt_cache_stats st;
    memset(&st, 0xff, sizeof st);
    mcp__jwt_cache_get_stats(NULL, &st);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.hits, 0);
    mcp__jwt_cache_free(NULL);
    mcp_principal_unref(p);
}

static void
hit_until_exp_then_dropped(void **state)
{
    (void)state;
    mcp__jwt_cache *c = mcp__jwt_cache_new(8);
    assert_non_null(c);
    unsigned char h[MCP__JWT_HASH_LEN], other[MCP__JWT_HASH_LEN];
    hash_of(h, 1, 1);
    hash_of(other, 1, 2);
    mcp_principal *p = principal("alice");
    mcp__jwt_cache_put(c, h, p, 1000, 0);
    mcp_principal_unref(p); /* the cache holds its own reference */

    mcp_principal *got = mcp__jwt_cache_get(c, h, 999);
    assert_non_null(got);
    assert_string_equal(mcp_principal_subject(got), "alice");
    mcp_principal_unref(got);
    assert_null(mcp__jwt_cache_get(c, other, 999));

    mcp__jwt_cache_stats st;
    mcp__jwt_cache_get_stats(c, &st);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.misses, 1);
    assert_int_equal(st.inserts, 1);
    assert_int_equal(st.entries, 1);

    /* now == exp is expired: a miss, and the entry is gone (not served again later with an
     * earlier clock either). */
    assert_null(mcp__jwt_cache_get(c, h, 1000));
    mcp__jwt_cache_get_stats(c, &st);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.misses, 2);
    assert_null(mcp__jwt_cache_get(c, h, 10));
    mcp__jwt_cache_free(c);
}

static void
duplicate_put_keeps_first(void **state)
{
    (void)state;
    mcp__jwt_cache *c = mcp__jwt_cache_new(4);
    unsigned char h[MCP__JWT_HASH_LEN];
    hash_of(h, 0, 7);
    mcp_principal *a = principal("first"), *b = principal("second");
    mcp__jwt_cache_put(c, h, a, 200, 0);
    mcp__jwt_cache_put(c, h, b, 300, 0);
    mcp__jwt_cache_stats st;
    mcp__jwt_cache_get_stats(c, &st);
    assert_int_equal(st.inserts, 1);
    assert_int_equal(st.entries, 1);
    mcp_principal *got = mcp__jwt_cache_get(c, h, 150);
    assert_string_equal(mcp_principal_subject(got), "first");
    mcp_principal_unref(got);
    assert_null(mcp__jwt_cache_get(c, h, 250)); /* the first exp (200) rules, not 300 */
    mcp_principal_unref(a);
    mcp_principal_unref(b);
    mcp__jwt_cache_free(c);
}

static void
lru_evicts_least_recent(void **state)
{
    (void)state;
    mcp__jwt_cache *c = mcp__jwt_cache_new(3); /* one shard of 3 */
    unsigned char h[4][MCP__JWT_HASH_LEN];
    mcp_principal *p = principal("u");
    for (uint32_t i = 0; i < 4; i++)
        hash_of(h[i], (unsigned char)(i * 37), i);
    for (int i = 0; i < 3; i++)
        mcp__jwt_cache_put(c, h[i], p, 100, 0);
    /* Touch 0: now 1 is the least recently used. */
    mcp_principal *got = mcp__jwt_cache_get(c, h[0], 1);
    assert_non_null(got);
    mcp_principal_unref(got);
    mcp__jwt_cache_put(c, h[3], p, 100, 0);
    mcp__jwt_cache_stats st;
    mcp__jwt_cache_get_stats(c, &st);
    assert_int_equal(st.evictions, 1);
    assert_int_equal(st.entries, 3);
    assert_null(mcp__jwt_cache_get(c, h[1], 1));
    for (int i = 0; i < 4; i++) {
        if (i == 1)
            continue;
        got = mcp__jwt_cache_get(c, h[i], 1);
        assert_non_null(got);
        mcp_principal_unref(got);
    }
    mcp_principal_unref(p);
    mcp__jwt_cache_free(c);
}

static void
shards_bound_each_share(void **state)
{
    (void)state;
    /* 256 entries -> 16 shards of 16: 17 hashes on one shard evict one, while the other
     * shards keep theirs. */
    mcp__jwt_cache *c = mcp__jwt_cache_new(256);
    mcp_principal *p = principal("u");
    unsigned char h[MCP__JWT_HASH_LEN];
    for (uint32_t i = 0; i < 17; i++) {
        hash_of(h, 16 * 3, i); /* 48 % 16 == 0: shard 0 */
        mcp__jwt_cache_put(c, h, p, 100, 0);
    }
    for (uint32_t i = 0; i < 10; i++) {
        hash_of(h, 1, 100 + i); /* shard 1 */
        mcp__jwt_cache_put(c, h, p, 100, 0);
    }
    mcp__jwt_cache_stats st;
    mcp__jwt_cache_get_stats(c, &st);
    assert_int_equal(st.inserts, 27);
    assert_int_equal(st.evictions, 1);
    assert_int_equal(st.entries, 26);
    hash_of(h, 48, 0); /* the oldest of shard 0 went */
    assert_null(mcp__jwt_cache_get(c, h, 1));
    hash_of(h, 48, 16);
    mcp_principal *got = mcp__jwt_cache_get(c, h, 1);
    assert_non_null(got);
    mcp_principal_unref(got);
    mcp_principal_unref(p);
    mcp__jwt_cache_free(c);
}

static void
clear_and_generation_guard(void **state)
{
    (void)state;
    mcp__jwt_cache *c = mcp__jwt_cache_new(300);
    mcp_principal *p = principal("u");
    unsigned char h[MCP__JWT_HASH_LEN], h2[MCP__JWT_HASH_LEN];
    hash_of(h, 5, 1);
    hash_of(h2, 9, 2);
    mcp__jwt_cache_put(c, h, p, 100, 0);
    mcp__jwt_cache_put(c, h2, p, 100, 0);
    /* Key set changed: generation 1 clears every shard. */
    mcp__jwt_cache_clear(c, 1);
    mcp__jwt_cache_stats st;
    mcp__jwt_cache_get_stats(c, &st);
    assert_int_equal(st.entries, 0);
    assert_null(mcp__jwt_cache_get(c, h, 1));
    /* A verification that started under the old key set (gen 0) is not cached. */
    mcp__jwt_cache_put(c, h, p, 100, 0);
    assert_null(mcp__jwt_cache_get(c, h, 1));
    /* One under the new set is. */
    mcp__jwt_cache_put(c, h, p, 100, 1);
    mcp_principal *got = mcp__jwt_cache_get(c, h, 1);
    assert_non_null(got);
    mcp_principal_unref(got);
    /* The generation never moves backwards. */
    mcp__jwt_cache_clear(c, 0);
    mcp__jwt_cache_put(c, h2, p, 100, 0);
    assert_null(mcp__jwt_cache_get(c, h2, 1));
    mcp_principal_unref(p);
    mcp__jwt_cache_free(c);
}

static void
cached_principal_outlives_clear(void **state)
{
    (void)state;
    mcp__jwt_cache *c = mcp__jwt_cache_new(2);
    mcp_principal *p = principal("held");
    unsigned char h[MCP__JWT_HASH_LEN];
    hash_of(h, 0, 1);
    mcp__jwt_cache_put(c, h, p, 100, 0);
    mcp_principal_unref(p);
    mcp_principal *got = mcp__jwt_cache_get(c, h, 1);
    mcp__jwt_cache_clear(c, 1);
    mcp__jwt_cache_free(c);
    /* The caller's reference is still good (ASan would flag a use after free). */
    assert_string_equal(mcp_principal_subject(got), "held");
    mcp_principal_unref(got);
}

typedef struct {
    mcp__jwt_cache *c;
    mcp_principal  *p;
    unsigned        seed;
    int             hits;
} worker_arg;

static void *
worker(void *ud)
{
    worker_arg *a = ud;
    unsigned char h[MCP__JWT_HASH_LEN];
    for (uint32_t i = 0; i < 2000; i++) {
        uint32_t n = (i * 7 + a->seed) % 64;
        hash_of(h, (unsigned char)n, n);
        mcp__jwt_cache_put(a->c, h, a->p, 100, 0);
        mcp_principal *g = mcp__jwt_cache_get(a->c, h, 1);
        if (g != NULL) {
            a->hits++;
            mcp_principal_unref(g);
        }
    }
    return NULL;
}

static void
concurrent_put_get(void **state)
{
    (void)state;
    mcp__jwt_cache *c = mcp__jwt_cache_new(512);
    mcp_principal *p = principal("u");
    pthread_t t[4];
    worker_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (worker_arg){c, p, (unsigned)i * 13, 0};
        assert_int_equal(pthread_create(&t[i], NULL, worker, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    mcp__jwt_cache_stats st;
    mcp__jwt_cache_get_stats(c, &st);
    /* 64 distinct hashes, capacity 512: every get after its own put hits, none evicted. */
    assert_int_equal(st.entries, 64);
    assert_int_equal(st.inserts, 64);
    assert_int_equal(st.evictions, 0);
    assert_int_equal(st.hits, 8000);
    for (int i = 0; i < 4; i++)
        assert_int_equal(a[i].hits, 2000);
    mcp_principal_unref(p);
    mcp__jwt_cache_free(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(new_rejects_zero_capacity),
        cmocka_unit_test(hit_until_exp_then_dropped),
        cmocka_unit_test(duplicate_put_keeps_first),
        cmocka_unit_test(lru_evicts_least_recent),
        cmocka_unit_test(shards_bound_each_share),
        cmocka_unit_test(clear_and_generation_guard),
        cmocka_unit_test(cached_principal_outlives_clear),
        cmocka_unit_test(concurrent_put_get),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
