/*
 * Unit tests for src/authz/ratelimit.c: token buckets with a controlled clock, Retry-After
 * rounding, the bounded table, a principal's buckets kept together (its own calls never make
 * the table forget one; the per-principal cap and overflow bucket), seeded placement, and many
 * threads sharing buckets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "authz/internal.h"

/* ---- token buckets ----------------------------------------------------------------------- */

static void
ratelimit_bucket_refills(void **state)
{
    (void)state;
    mcp__ratelimit *rl = NULL;
    assert_int_equal(mcp__ratelimit_new(1024, &rl, NULL), MCP_OK);
    mcp__rate cfg = { .rate = 2, .burst = 3 };
    unsigned retry = 0;
    uint64_t t = 1000000;
    /* a new bucket starts full: burst requests pass at once */
    for (int i = 0; i < 3; i++)
        assert_true(mcp__ratelimit_take(rl, "alice", 5, NULL, 0, &cfg, t, &retry));
    assert_false(mcp__ratelimit_take(rl, "alice", 5, NULL, 0, &cfg, t, &retry));
    assert_int_equal(retry, 1);                       /* 1 token at 2/s: 0.5 s -> 1 */
    /* another key has its own bucket */
    assert_true(mcp__ratelimit_take(rl, "bob", 3, NULL, 0, &cfg, t, &retry));
    /* 499 ms: still under one token */
    assert_false(mcp__ratelimit_take(rl, "alice", 5, NULL, 0, &cfg, t + 499, &retry));
    /* 500 ms: exactly one */
    assert_true(mcp__ratelimit_take(rl, "alice", 5, NULL, 0, &cfg, t + 500, &retry));
    assert_false(mcp__ratelimit_take(rl, "alice", 5, NULL, 0, &cfg, t + 500, &retry));
    /* long idle: capped at burst */
    t += 60000;
    for (int i = 0; i < 3; i++)
        assert_true(mcp__ratelimit_take(rl, "alice", 5, NULL, 0, &cfg, t, &retry));
    assert_false(mcp__ratelimit_take(rl, "alice", 5, NULL, 0, &cfg, t, &retry));

    /* slow rate: Retry-After rounds up to whole seconds */
    mcp__rate slow = { .rate = 0.1, .burst = 1 };
    assert_true(mcp__ratelimit_take(rl, "carol", 5, NULL, 0, &slow, t, &retry));
    assert_false(mcp__ratelimit_take(rl, "carol", 5, NULL, 0, &slow, t + 1000, &retry));
    assert_int_equal(retry, 9);                       /* 0.9 token missing at 0.1/s */
    /* a smaller burst after a reload applies at once */
    mcp__rate tight = { .rate = 2, .burst = 1 };
    t += 60000;
    assert_true(mcp__ratelimit_take(rl, "alice", 5, NULL, 0, &tight, t, &retry));
    assert_false(mcp__ratelimit_take(rl, "alice", 5, NULL, 0, &tight, t, &retry));
    /* no limit configured: always passes */
    assert_true(mcp__ratelimit_take(rl, "alice", 5, NULL, 0, NULL, t, &retry));
    /* principal and tool are separate: ("ab", "c") is not ("a", "bc") */
    assert_true(mcp__ratelimit_take(rl, "ab", 2, "c", 1, &tight, t, &retry));
    assert_true(mcp__ratelimit_take(rl, "a", 1, "bc", 2, &tight, t, &retry));
    assert_false(mcp__ratelimit_take(rl, "ab", 2, "c", 1, &tight, t, &retry));
    /* a principal's tool bucket is not its own bucket, nor another tool's */
    assert_true(mcp__ratelimit_take(rl, "dave", 4, NULL, 0, &tight, t, &retry));
    assert_true(mcp__ratelimit_take(rl, "dave", 4, "x", 1, &tight, t, &retry));
    assert_true(mcp__ratelimit_take(rl, "dave", 4, "y", 1, &tight, t, &retry));
    assert_false(mcp__ratelimit_take(rl, "dave", 4, "x", 1, &tight, t, &retry));
    assert_false(mcp__ratelimit_take(rl, "dave", 4, NULL, 0, &tight, t, &retry));
    mcp__ratelimit_free(rl);
    mcp__ratelimit_free(NULL);
}

static void
ratelimit_table_is_bounded(void **state)
{
    (void)state;
    mcp__ratelimit *rl = NULL;
    assert_int_equal(mcp__ratelimit_new(64, &rl, NULL), MCP_OK);     /* 16 shards x 4 */
    mcp__rate cfg = { .rate = 1, .burst = 1 };
    unsigned retry;
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "user-%d", i);
        assert_true(mcp__ratelimit_take(rl, key, strlen(key), NULL, 0, &cfg, 1000, &retry));
    }
    assert_true(mcp__ratelimit_size(rl) <= 64);
    /* the most recent bucket is still there (and empty) */
    assert_false(mcp__ratelimit_take(rl, key, strlen(key), NULL, 0, &cfg, 1000, &retry));
    mcp__ratelimit_free(rl);
}

/* The review's finding: one principal flooding tool names made the table forget its bucket for
 * another tool, which then came back full. A principal's buckets now stay together. */
static void
ratelimit_own_calls_never_evict_own_bucket(void **state)
{
    (void)state;
    mcp__ratelimit *rl = NULL;
    assert_int_equal(mcp__ratelimit_new(64, &rl, NULL), MCP_OK);     /* 16 shards x 4 */
    mcp__rate cfg = { .rate = 0.001, .burst = 1 };
    unsigned retry;
    assert_true(mcp__ratelimit_take(rl, "mallory", 7, "t", 1, &cfg, 1000, &retry));
    assert_false(mcp__ratelimit_take(rl, "mallory", 7, "t", 1, &cfg, 1000, &retry));
    assert_true(mcp__ratelimit_take(rl, "mallory", 7, NULL, 0, &cfg, 1000, &retry));
    assert_false(mcp__ratelimit_take(rl, "mallory", 7, NULL, 0, &cfg, 1000, &retry));
    int granted = 0;
    char name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "tool-%d", i);
        granted += mcp__ratelimit_take(rl, "mallory", 7, name, strlen(name), &cfg, 1000, &retry);
    }
    /* "t" is one of the MCP__RATE_TOOLS_MAX buckets: 63 names get their own, the rest share the
     * overflow bucket (burst 1) */
    assert_int_equal(granted, MCP__RATE_TOOLS_MAX - 1 + 1);
    assert_false(mcp__ratelimit_take(rl, "mallory", 7, "t", 1, &cfg, 1000, &retry));
    assert_false(mcp__ratelimit_take(rl, "mallory", 7, NULL, 0, &cfg, 1000, &retry));
    assert_false(mcp__ratelimit_take(rl, "mallory", 7, "tool-0", 6, &cfg, 1000, &retry));
    assert_false(mcp__ratelimit_take(rl, "mallory", 7, "tool-4999", 9, &cfg, 1000, &retry));
    /* memory: one entry, its own + overflow bucket counted once, plus the capped tool buckets */
    assert_int_equal(mcp__ratelimit_size(rl), 1 + MCP__RATE_TOOLS_MAX);
    /* tool names longer than 256 bytes share the overflow bucket too, even below the cap */
    char lng[300];
    memset(lng, 'x', sizeof lng);
    assert_true(mcp__ratelimit_take(rl, "nina", 4, lng, sizeof lng, &cfg, 1000, &retry));
    lng[0] = 'y';
    assert_false(mcp__ratelimit_take(rl, "nina", 4, lng, sizeof lng, &cfg, 1000, &retry));
    assert_true(mcp__ratelimit_take(rl, "nina", 4, lng, 256, &cfg, 1000, &retry));
    /* the documented bound: many *other* principals do push an entry out */
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "user-%d", i);
        assert_true(mcp__ratelimit_take(rl, name, strlen(name), "t", 1, &cfg, 1000, &retry));
    }
    assert_true(mcp__ratelimit_size(rl) <= 64);
    assert_true(mcp__ratelimit_take(rl, "mallory", 7, "t", 1, &cfg, 1000, &retry));
    mcp__ratelimit_free(rl);
}

/* Placement depends on a per-table random seed and on every byte of the principal. */
static void
ratelimit_placement_is_seeded_and_mixed(void **state)
{
    (void)state;
    mcp__ratelimit *a = NULL, *b = NULL;
    assert_int_equal(mcp__ratelimit_new(64, &a, NULL), MCP_OK);
    assert_int_equal(mcp__ratelimit_new(64, &b, NULL), MCP_OK);
    int differ = 0, seen_a[16] = { 0 };
    char who[32];
    for (int i = 0; i < 1000; i++) {
        /* names that differ only in their last bytes (unseeded FNV-1a's top byte, the old
         * shard, hardly moved with them) */
        snprintf(who, sizeof who, "t\x1fmallory\x1fjunk%d", i);
        size_t sa = mcp__ratelimit_shard(a, who, strlen(who));
        size_t sb = mcp__ratelimit_shard(b, who, strlen(who));
        assert_true(sa < 16 && sb < 16);
        seen_a[sa]++;
        differ += sa != sb;
        /* stable within one table */
        assert_int_equal(mcp__ratelimit_shard(a, who, strlen(who)), sa);
    }
    /* two tables (two seeds) place them differently: independent placements agree on 1/16 */
    assert_true(differ > 800);
    /* and they spread over every shard (1000 names: about 62 each) */
    for (int i = 0; i < 16; i++)
        assert_true(seen_a[i] > 20);
    mcp__ratelimit_free(a);
    mcp__ratelimit_free(b);
}

typedef struct shared {
    mcp__ratelimit *rl;
    atomic_int      granted;
} shared;

static void *
taker(void *arg)
{
    shared *s = arg;
    mcp__rate cfg = { .rate = 0.001, .burst = 500 };
    unsigned retry;
    for (int i = 0; i < 1000; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i % 4);
        if (mcp__ratelimit_take(s->rl, key, strlen(key), NULL, 0, &cfg, 5000, &retry))
            atomic_fetch_add(&s->granted, 1);
    }
    return NULL;
}

static void
ratelimit_threads_never_overgrant(void **state)
{
    (void)state;
    shared s;
    assert_int_equal(mcp__ratelimit_new(1024, &s.rl, NULL), MCP_OK);
    atomic_init(&s.granted, 0);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, taker, &s), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    /* 4 keys x burst 500 at a frozen clock: 4000 tries, exactly 2000 granted */
    assert_int_equal(atomic_load(&s.granted), 2000);
    unsigned retry = 0;
    mcp__rate cfg = { .rate = 0.001, .burst = 500 };
    assert_false(mcp__ratelimit_take(s.rl, "k0", 2, NULL, 0, &cfg, 5000, &retry));
    assert_int_equal(retry, 1000);
    mcp__ratelimit_free(s.rl);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ratelimit_bucket_refills),
        cmocka_unit_test(ratelimit_table_is_bounded),
        cmocka_unit_test(ratelimit_own_calls_never_evict_own_bucket),
        cmocka_unit_test(ratelimit_placement_is_seeded_and_mixed),
        cmocka_unit_test(ratelimit_threads_never_overgrant),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
