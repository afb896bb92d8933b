/*
 * Unit tests for src/auth/ratelimit.c: token buckets with a controlled clock, Retry-After
 * rounding, the bounded table, and many threads sharing buckets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "auth/rbac_internal.h"

/* ---- token buckets ----------------------------------------------------------------------- */

static void
ratelimit_bucket_refills(void **state)
{
    (void)state;
    mcp__ratelimit *rl = NULL;
    assert_int_equal(mcp__ratelimit_new(1024, &rl), MCP_OK);
    mcp__rate cfg = { .rate = 2, .burst = 3 };
    unsigned retry = 0;
    uint64_t t = 1000000;
    /* a new bucket starts full: burst requests pass at once */
    for (int i = 0; i < 3; i++)
        assert_true(mcp__ratelimit_take(rl, "alice", 5, &cfg, t, &retry));
    assert_false(mcp__ratelimit_take(rl, "alice", 5, &cfg, t, &retry));
    assert_int_equal(retry, 1);                       /* 1 token at 2/s: 0.5 s -> 1 */
    /* another key has its own bucket */
    assert_true(mcp__ratelimit_take(rl, "bob", 3, &cfg, t, &retry));
    /* 499 ms: still under one token */
    assert_false(mcp__ratelimit_take(rl, "alice", 5, &cfg, t + 499, &retry));
    /* 500 ms: exactly one */
    assert_true(mcp__ratelimit_take(rl, "alice", 5, &cfg, t + 500, &retry));
    assert_false(mcp__ratelimit_take(rl, "alice", 5, &cfg, t + 500, &retry));
    /* long idle: capped at burst */
    t += 60000;
    for (int i = 0; i < 3; i++)
        assert_true(mcp__ratelimit_take(rl, "alice", 5, &cfg, t, &retry));
    assert_false(mcp__ratelimit_take(rl, "alice", 5, &cfg, t, &retry));

    /* slow rate: Retry-After rounds up to whole seconds */
    mcp__rate slow = { .rate = 0.1, .burst = 1 };
    assert_true(mcp__ratelimit_take(rl, "carol", 5, &slow, t, &retry));
    assert_false(mcp__ratelimit_take(rl, "carol", 5, &slow, t + 1000, &retry));
    assert_int_equal(retry, 9);                       /* 0.9 token missing at 0.1/s */
    /* a smaller burst after a reload applies at once */
    mcp__rate tight = { .rate = 2, .burst = 1 };
    t += 60000;
    assert_true(mcp__ratelimit_take(rl, "alice", 5, &tight, t, &retry));
    assert_false(mcp__ratelimit_take(rl, "alice", 5, &tight, t, &retry));
    /* no limit configured: always passes */
    assert_true(mcp__ratelimit_take(rl, "alice", 5, NULL, t, &retry));
    /* keys are byte strings: "ab" + "c" is not "a" + "bc" once a separator is in the key */
    assert_true(mcp__ratelimit_take(rl, "p\x1f" "ab", 4, &tight, t, &retry));
    assert_true(mcp__ratelimit_take(rl, "p\x1f" "a", 3, &tight, t, &retry));
    mcp__ratelimit_free(rl);
    mcp__ratelimit_free(NULL);
}

static void
ratelimit_table_is_bounded(void **state)
{
    (void)state;
    mcp__ratelimit *rl = NULL;
    assert_int_equal(mcp__ratelimit_new(64, &rl), MCP_OK);     /* 16 shards x 4 */
    mcp__rate cfg = { .rate = 1, .burst = 1 };
    unsigned retry;
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "user-%d", i);
        assert_true(mcp__ratelimit_take(rl, key, strlen(key), &cfg, 1000, &retry));
    }
    assert_true(mcp__ratelimit_size(rl) <= 64);
    /* the most recent bucket is still there (and empty) */
    assert_false(mcp__ratelimit_take(rl, key, strlen(key), &cfg, 1000, &retry));
    mcp__ratelimit_free(rl);
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
        if (mcp__ratelimit_take(s->rl, key, strlen(key), &cfg, 5000, &retry))
            atomic_fetch_add(&s->granted, 1);
    }
    return NULL;
}

static void
ratelimit_threads_never_overgrant(void **state)
{
    (void)state;
    shared s;
    assert_int_equal(mcp__ratelimit_new(1024, &s.rl), MCP_OK);
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
    assert_false(mcp__ratelimit_take(s.rl, "k0", 2, &cfg, 5000, &retry));
    assert_int_equal(retry, 1000);
    mcp__ratelimit_free(s.rl);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ratelimit_bucket_refills),
        cmocka_unit_test(ratelimit_table_is_bounded),
        cmocka_unit_test(ratelimit_threads_never_overgrant),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
