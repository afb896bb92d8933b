/* The store's hot path allocates nothing on a cache hit (STYLE.md section 9): user lookups,
 * API key verification and revoked-jti checks are counted through a replaced allocator. */
#include "test_store_util.h"

#include <stdatomic.h>

static atomic_long n_allocs;

static void *
counting_malloc(size_t n)
{
    atomic_fetch_add(&n_allocs, 1);
    return malloc(n);
}

static void *
counting_realloc(void *p, size_t n)
{
    atomic_fetch_add(&n_allocs, 1);
    return realloc(p, n);
}

static void
hot_path(unsigned check_ms, bool report)
{
    tdir t;
    tdir_make(&t);
    mcp_store *s = open_store(t.db, check_ms);
    mcp_error err;
    assert_int_equal(mcp_store_user_add_with_roles(s, "alice", "Alice",
                                                   (const char *const[]){ "admin", NULL }, &err),
                     MCP_OK);
    char *key = NULL;
    assert_int_equal(mcp_store_key_create(s, "alice", NULL, 0, &key, NULL, &err), MCP_OK);
    size_t klen = strlen(key);

    /* Warm the cache: the first round reads the file and allocates. */
    long before = atomic_load(&n_allocs);
    mcp_store_user_info u;
    const mcp_principal *p;
    bool revoked;
    assert_int_equal(mcp_store_user_lookup(s, "alice", &u, &err), MCP_OK);
    mcp_store_user_info_cleanup(&u);
    assert_int_equal(mcp_store_user_lookup(s, "nobody", &u, &err), MCP_OK);
    mcp_store_user_info_cleanup(&u);
    assert_int_equal(mcp_store_key_verify(s, key, klen, &p, &err), MCP_OK);
    mcp_principal_unref(p);
    assert_int_equal(mcp_store_token_is_revoked(s, "jti-1", &revoked, &err), MCP_OK);
    assert_true(atomic_load(&n_allocs) > before); /* the counter does count */

    enum { N = 2000 };
    before = atomic_load(&n_allocs);
    uint64_t t0 = mcp_now_ms();
    for (int i = 0; i < N; i++) {
        assert_int_equal(mcp_store_user_lookup(s, "alice", &u, &err), MCP_OK);
        assert_true(u.enabled);
        mcp_store_user_info_cleanup(&u);
        assert_int_equal(mcp_store_user_lookup(s, "nobody", &u, &err), MCP_OK);
        assert_false(u.exists);
        mcp_store_user_info_cleanup(&u);
        assert_int_equal(mcp_store_key_verify(s, key, klen, &p, &err), MCP_OK);
        mcp_principal_unref(p);
        assert_int_equal(mcp_store_token_is_revoked(s, "jti-1", &revoked, &err), MCP_OK);
        assert_false(revoked);
    }
    uint64_t ms = mcp_now_ms() - t0;
    assert_int_equal(atomic_load(&n_allocs) - before, 0);
    if (report)
        fprintf(stderr, "check every %u ms: %d rounds of 4 cached lookups in %llu ms\n", check_ms,
                N, (unsigned long long)ms);

    mcp_memzero(key, klen);
    mcp_free(key);
    mcp_store_close(s);
    tdir_remove(&t);
}

static void
store_cache_hits_do_not_allocate(void **state)
{
    (void)state;
    hot_path(1000, true);
}

static void
store_cache_hits_do_not_allocate_when_checking_every_lookup(void **state)
{
    (void)state;
    hot_path(0, true);
}

int
main(void)
{
    /* Before any libmcp object exists (mcp_replace_allocator's contract). */
    if (mcp_replace_allocator(counting_malloc, counting_realloc, free) != MCP_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(store_cache_hits_do_not_allocate),
        cmocka_unit_test(store_cache_hits_do_not_allocate_when_checking_every_lookup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
