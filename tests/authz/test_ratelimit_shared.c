/*
 * Shared rate limits (src/authz/ratelimit_shared.c) against a real PostgreSQL 15 cluster that
 * this test starts itself (tests/integration/lib/pg_cluster.sh, as the postgres user when we are
 * root; see tests/store/test_store_pg.h). Two limiters on two stores stand for two instances.
 *
 * Checked: refused on SQLite; the window arithmetic; exactly `limit` admitted per window across
 * two instances (over-admission 0, and no lease left unspent when both keep asking), also from
 * several threads at once; principals, tools and windows counted apart; Retry-After up to the
 * window's end; one round trip per lease and none for a refusal once the window is full; the
 * store down: a lease already counted is spent, then every request is refused with MCP_ERR_STORE
 * (fail closed, never admitted unmetered), and the limiter works again when the server is back.
 *
 * Without PostgreSQL the test skips, except under MCP_CI=1, where it fails.
 */
#include "store/test_store_util.h"

#include "store/test_store_pg.h"

#include "authz/internal.h"

#include <pthread.h>
#include <signal.h>

static mcp_store *
open_pg(void)
{
    return open_store(g_pg_url, 1000);
}

static int
pg_setup(void **state)
{
    (void)state;
    if (!g_pg_up)
        return -1;
    pg_reset_schema();
    return 0;
}

static mcp__ratelimit_shared *
limiter(mcp_store *s)
{
    mcp__ratelimit_shared *rl = NULL;
    mcp_error err;
    mcp_error_clear(&err);
    assert_int_equal(mcp__ratelimit_shared_new(s, &rl, &err), MCP_OK);
    assert_non_null(rl);
    return rl;
}

static mcp_status
take(mcp__ratelimit_shared *rl, const char *who, const char *tool, const mcp__rate *cfg,
     int64_t now, unsigned *retry)
{
    mcp_error err;
    mcp_error_clear(&err);
    unsigned r = 0;
    mcp_status rc = mcp__ratelimit_shared_take(rl, who, strlen(who), tool,
                                               tool != NULL ? strlen(tool) : 0, cfg, now, &r,
                                               &err);
    if (retry != NULL)
        *retry = r;
    return rc;
}

/* SQLite is not shared: the limiter and the store call both refuse. */
static void
sqlite_refused(void **state)
{
    (void)state;
    tdir t;
    tdir_make(&t);
    mcp_store *s = open_store(t.db, 0);
    mcp_error err;
    mcp_error_clear(&err);
    mcp__ratelimit_shared *rl = (mcp__ratelimit_shared *)&err; /* must be reset to NULL */
    assert_int_equal(mcp__ratelimit_shared_new(s, &rl, &err), MCP_ERR_INVALID_ARG);
    assert_null(rl);
    assert_non_null(strstr(err.message, "need a PostgreSQL store"));
    int64_t total = 7;
    assert_int_equal(mcp_store_rate_add(s, "b", 0, 1, 1, &total, &err), MCP_ERR_UNSUPPORTED);
    assert_int_equal(total, 0);
    assert_int_equal(mcp_store_rate_expire(s, 0, &err), MCP_OK); /* nothing to do */
    mcp_store_close(s);
    tdir_remove(&t);
}

static void
window_arithmetic(void **state)
{
    (void)state;
    int64_t w = 0, l = 0;
    mcp__ratelimit_shared_window(&(mcp__rate){ .rate = 0.5, .burst = 48 }, &w, &l);
    assert_int_equal(w, 96000);
    assert_int_equal(l, 48);
    mcp__ratelimit_shared_window(&(mcp__rate){ .rate = 100, .burst = 10 }, &w, &l);
    assert_int_equal(w, 1000); /* 0.1 s, raised to the 1 s minimum */
    assert_int_equal(l, 10);
    mcp__ratelimit_shared_window(&(mcp__rate){ .rate = 1e-9, .burst = 1000 }, &w, &l);
    assert_int_equal(w, 86400000); /* capped at one day */
    mcp__ratelimit_shared_window(&(mcp__rate){ .rate = 1, .burst = 0.5 }, &w, &l);
    assert_int_equal(l, 1); /* at least one request */
    mcp__ratelimit_shared_window(&(mcp__rate){ .rate = 2, .burst = 7.5 }, &w, &l);
    assert_int_equal(l, 7);
    assert_int_equal(w, 3750);
}

/* Two instances alternating: exactly the limit passes, the rest is refused; the next window
 * starts from zero; another principal and a tool bucket are counted apart. */
static void
two_instances_share_the_limit(void **state)
{
    (void)state;
    mcp_store *s1 = open_pg(), *s2 = open_pg();
    mcp__ratelimit_shared *a = limiter(s1), *b = limiter(s2);
    const mcp__rate cfg = { .rate = 1, .burst = 32 }; /* 32 per 32 s, leases of 2 */
    int64_t t0 = 1700000000000 - 1700000000000 % 32000 + 1000; /* 1 s into a window */
    int passed = 0, refused = 0;
    unsigned retry = 0;
    for (int i = 0; i < 80; i++) {
        mcp_status rc = take(i % 2 ? b : a, "alice", NULL, &cfg, t0 + i, &retry);
        if (rc == MCP_OK) {
            passed++;
        } else {
            assert_int_equal(rc, MCP_ERR_RATE_LIMITED);
            assert_int_equal(retry, 31); /* the window ends 31 s after t0 (+ <= 80 ms) */
            refused++;
        }
    }
    assert_int_equal(passed, 32);
    assert_int_equal(refused, 48);
    /* another principal, and alice's tool bucket: their own windows */
    assert_int_equal(take(a, "bob", NULL, &cfg, t0, NULL), MCP_OK);
    assert_int_equal(take(b, "alice", "search", &cfg, t0, NULL), MCP_OK);
    /* a prefix of the name is another principal (the bucket hashes lengths too) */
    assert_int_equal(take(a, "alic", NULL, &cfg, t0, NULL), MCP_OK);
    /* near the end of the window, Retry-After is at least 1 */
    assert_int_equal(take(a, "alice", NULL, &cfg, t0 + 30999, &retry), MCP_ERR_RATE_LIMITED);
    assert_int_equal(retry, 1);
    /* the next window: alice passes again on both */
    assert_int_equal(take(a, "alice", NULL, &cfg, t0 + 31000, NULL), MCP_OK);
    assert_int_equal(take(b, "alice", NULL, &cfg, t0 + 31001, NULL), MCP_OK);
    /* no limit configured: always admitted, no round trip */
    uint64_t rt = mcp__ratelimit_shared_round_trips(a);
    assert_int_equal(take(a, "alice", NULL, NULL, t0, NULL), MCP_OK);
    assert_int_equal(take(a, "alice", NULL, &(mcp__rate){ .rate = 0, .burst = 5 }, t0, NULL),
                     MCP_OK);
    assert_int_equal(mcp__ratelimit_shared_round_trips(a), rt);
    mcp__ratelimit_shared_free(a);
    mcp__ratelimit_shared_free(b);
    mcp_store_close(s1);
    mcp_store_close(s2);
}

/* One round trip per lease of limit/16; once the counter is full a refusal costs none. */
static void
one_round_trip_per_lease(void **state)
{
    (void)state;
    mcp_store *s = open_pg();
    mcp__ratelimit_shared *a = limiter(s);
    const mcp__rate cfg = { .rate = 16, .burst = 160 }; /* 160 per 10 s, leases of 10 */
    int64_t t0 = 1700000000000 - 1700000000000 % 10000;
    for (int i = 0; i < 160; i++)
        assert_int_equal(take(a, "carol", NULL, &cfg, t0 + i, NULL), MCP_OK);
    assert_int_equal(mcp__ratelimit_shared_round_trips(a), 16);
    for (int i = 0; i < 20; i++)
        assert_int_equal(take(a, "carol", NULL, &cfg, t0 + 200 + i, NULL), MCP_ERR_RATE_LIMITED);
    assert_int_equal(mcp__ratelimit_shared_round_trips(a), 16);
    /* the window's row says 160; a second instance is refused at its first lease */
    mcp_store *s2 = open_pg();
    mcp__ratelimit_shared *b = limiter(s2);
    assert_int_equal(take(b, "carol", NULL, &cfg, t0 + 300, NULL), MCP_ERR_RATE_LIMITED);
    assert_int_equal(mcp__ratelimit_shared_round_trips(b), 1);
    mcp_error err;
    /* expired windows are deleted: the counter of t0's window is gone after it expires */
    assert_int_equal(mcp_store_rate_expire(s, t0 + 3 * 10000, &err), MCP_OK);
    PGconn *c = PQconnectdb(g_pg_url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, "SELECT count(*) FROM rate_windows");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(r, 0, 0), "0");
    PQclear(r);
    PQfinish(c);
    mcp__ratelimit_shared_free(a);
    mcp__ratelimit_shared_free(b);
    mcp_store_close(s);
    mcp_store_close(s2);
}

typedef struct hammer {
    mcp__ratelimit_shared *rl;
    int64_t                now;
    int                    passed, refused, other;
} hammer;

static void *
hammer_run(void *arg)
{
    hammer *h = arg;
    const mcp__rate cfg = { .rate = 1, .burst = 100 }; /* 100 per 100 s, leases of 6 */
    for (int i = 0; i < 100; i++) {
        mcp_status rc = take(h->rl, "dave", NULL, &cfg, h->now, NULL);
        if (rc == MCP_OK)
            h->passed++;
        else if (rc == MCP_ERR_RATE_LIMITED)
            h->refused++;
        else
            h->other++;
    }
    return NULL;
}

/* Four threads on two instances, 400 requests for a limit of 100: exactly 100 pass. */
static void
concurrent_never_over(void **state)
{
    (void)state;
    mcp_store *s1 = open_pg(), *s2 = open_pg();
    mcp__ratelimit_shared *a = limiter(s1), *b = limiter(s2);
    int64_t t0 = 1700000000000 - 1700000000000 % 100000 + 5;
    hammer h[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        h[i] = (hammer){ .rl = i % 2 ? b : a, .now = t0 };
        assert_int_equal(pthread_create(&th[i], NULL, hammer_run, &h[i]), 0);
    }
    int passed = 0, refused = 0, other = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        passed += h[i].passed;
        refused += h[i].refused;
        other += h[i].other;
    }
    assert_int_equal(other, 0);
    assert_int_equal(passed, 100);
    assert_int_equal(refused, 300);
    mcp__ratelimit_shared_free(a);
    mcp__ratelimit_shared_free(b);
    mcp_store_close(s1);
    mcp_store_close(s2);
}

/* The store down: what was leased (already counted in the store) is spent; after that every
 * request is refused with the store's error, not admitted and not "rate limited"; with the
 * server back the same limiter admits again. Runs last: it stops the cluster. */
static void
store_down_fails_closed(void **state)
{
    (void)state;
    mcp_store *s = open_pg();
    mcp__ratelimit_shared *a = limiter(s);
    const mcp__rate cfg = { .rate = 1, .burst = 64 }; /* 64 per 64 s, leases of 4 */
    int64_t t0 = mcp__ratelimit_wall_ms();
    assert_int_equal(take(a, "erin", NULL, &cfg, t0, NULL), MCP_OK); /* a lease: 3 left */

    assert_int_equal(run_cluster("stop", NULL, 0), 0);
    g_pg_up = false;
    for (int i = 0; i < 3; i++)
        assert_int_equal(take(a, "erin", NULL, &cfg, t0, NULL), MCP_OK);
    mcp_error err;
    mcp_error_clear(&err);
    unsigned retry = 0;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(mcp__ratelimit_shared_take(a, "erin", 4, NULL, 0, &cfg, t0, &retry,
                                                    &err),
                         MCP_ERR_STORE);
        assert_true(err.message[0] != '\0');
    }
    assert_null(strstr(err.message, "password"));
    /* another principal has no lease: refused at once */
    assert_int_equal(take(a, "frank", NULL, &cfg, t0, NULL), MCP_ERR_STORE);

    assert_int_equal(run_cluster("resume", NULL, 0), 0);
    g_pg_up = true;
    mcp_status rc = MCP_ERR_STORE;
    for (int i = 0; i < 50 && rc == MCP_ERR_STORE; i++) {
        rc = take(a, "erin", NULL, &cfg, t0, NULL);
        if (rc == MCP_ERR_STORE)
            usleep(100000);
    }
    assert_int_equal(rc, MCP_OK);
    assert_int_equal(take(a, "frank", NULL, &cfg, t0, NULL), MCP_OK);
    mcp__ratelimit_shared_free(a);
    mcp_store_close(s);
}

int
main(void)
{
    const struct CMUnitTest local[] = {
        cmocka_unit_test(sqlite_refused),
        cmocka_unit_test(window_arithmetic),
    };
    const struct CMUnitTest pg[] = {
        cmocka_unit_test_setup(two_instances_share_the_limit, pg_setup),
        cmocka_unit_test_setup(one_round_trip_per_lease, pg_setup),
        cmocka_unit_test_setup(concurrent_never_over, pg_setup),
        cmocka_unit_test_setup(store_down_fails_closed, pg_setup),
    };
    signal(SIGPIPE, SIG_IGN);
    int failed = cmocka_run_group_tests_name("shared rate limits, no PostgreSQL", local, NULL,
                                             NULL);
    int up = pg_cluster_start("0");
    if (up != 0)
        return up < 0 ? 1 : failed;
    failed += cmocka_run_group_tests_name("shared rate limits on PostgreSQL", pg, NULL, NULL);
    return failed;
}
