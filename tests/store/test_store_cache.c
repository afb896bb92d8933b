/* Direct unit tests for src/store/store_cache.c (generation-tagged, sharded cache of reference-
 * counted values), and the data_version-driven invalidation it serves, against a real SQLite
 * file changed by a second handle (another mcp_store and a plain sqlite3 connection). */
#include "store/test_store_util.h"

#include "store/internal.h"

typedef struct val {
    mcp__store_ref ref;
    int            n;
} val;

static int destroyed;

static void
val_destroy(mcp__store_ref *r)
{
    destroyed++;
    free(r);
}

static val *
val_new(int n)
{
    val *v = calloc(1, sizeof *v);
    assert_non_null(v);
    mcp__store_ref_init(&v->ref, val_destroy);
    v->n = n;
    return v;
}

static int
val_of(mcp__store_ref *r)
{
    return ((val *)r)->n;
}

static void
ref_counting(void **state)
{
    (void)state;
    destroyed = 0;
    val *v = val_new(1);
    assert_ptr_equal(mcp__store_ref_take(&v->ref), &v->ref);
    mcp__store_ref_drop(&v->ref);
    assert_int_equal(destroyed, 0);
    mcp__store_ref_drop(&v->ref);
    assert_int_equal(destroyed, 1);
    /* A static value (destroy NULL) is never counted or freed. */
    static mcp__store_ref fixed;
    mcp__store_ref_init(&fixed, NULL);
    mcp__store_ref_take(&fixed);
    mcp__store_ref_drop(&fixed);
    mcp__store_ref_drop(&fixed);
    assert_int_equal(destroyed, 1);
    assert_null(mcp__store_ref_take(NULL));
    mcp__store_ref_drop(NULL);
}

static void
hit_and_generation_miss(void **state)
{
    (void)state;
    destroyed = 0;
    mcp__store_cache c;
    assert_int_equal(mcp__store_cache_init(&c, 64, 0x1234), MCP_OK);
    _Atomic uint64_t cur = 5;
    val *v = val_new(42);
    mcp__store_cache_put(&c, "alice", 5, 5, &cur, &v->ref);
    mcp__store_ref_drop(&v->ref); /* the cache keeps its own reference */
    assert_int_equal(destroyed, 0);

    mcp__store_ref *r = mcp__store_cache_get(&c, "alice", 5, 5);
    assert_non_null(r);
    assert_int_equal(val_of(r), 42);
    mcp__store_ref_drop(r);
    /* Keys compare by length and bytes: a prefix is not the key. */
    assert_null(mcp__store_cache_get(&c, "alic", 4, 5));
    assert_null(mcp__store_cache_get(&c, "alice2", 6, 5));

    /* The store generation moved on: the entry is a miss and is freed at once. */
    assert_null(mcp__store_cache_get(&c, "alice", 5, 6));
    assert_int_equal(destroyed, 1);
    assert_null(mcp__store_cache_get(&c, "alice", 5, 5));
    mcp__store_cache_cleanup(&c);
    mcp__store_cache_cleanup(&c); /* twice is harmless */
}

static void
put_refused_after_invalidation(void **state)
{
    (void)state;
    destroyed = 0;
    mcp__store_cache c;
    assert_int_equal(mcp__store_cache_init(&c, 64, 7), MCP_OK);
    _Atomic uint64_t cur = 3;
    val *v = val_new(1);
    /* Read under generation 2, but an invalidation bumped it to 3 meanwhile: not cached. */
    mcp__store_cache_put(&c, "k", 1, 2, &cur, &v->ref);
    assert_null(mcp__store_cache_get(&c, "k", 1, 2));
    assert_null(mcp__store_cache_get(&c, "k", 1, 3));
    mcp__store_ref_drop(&v->ref);
    assert_int_equal(destroyed, 1); /* the refused put released its reference */
    mcp__store_cache_cleanup(&c);
}

static void
put_replaces_same_key(void **state)
{
    (void)state;
    destroyed = 0;
    mcp__store_cache c;
    assert_int_equal(mcp__store_cache_init(&c, 64, 7), MCP_OK);
    _Atomic uint64_t cur = 1;
    val *a = val_new(1), *b = val_new(2);
    mcp__store_cache_put(&c, "k", 1, 1, &cur, &a->ref);
    mcp__store_cache_put(&c, "k", 1, 1, &cur, &b->ref);
    mcp__store_ref_drop(&a->ref);
    assert_int_equal(destroyed, 1); /* the old value went with its entry */
    mcp__store_ref *r = mcp__store_cache_get(&c, "k", 1, 1);
    assert_int_equal(val_of(r), 2);
    mcp__store_ref_drop(r);
    mcp__store_ref_drop(&b->ref);
    mcp__store_cache_cleanup(&c);
    assert_int_equal(destroyed, 2);
}

static void
full_shard_is_emptied(void **state)
{
    (void)state;
    destroyed = 0;
    mcp__store_cache c;
    /* 16 entries -> 1 per shard: the second key landing on a shard empties it. */
    assert_int_equal(mcp__store_cache_init(&c, 16, 99), MCP_OK);
    assert_int_equal(c.max_per_shard, 1);
    _Atomic uint64_t cur = 1;
    char key[8];
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "k%d", i);
        val *v = val_new(i);
        mcp__store_cache_put(&c, key, strlen(key), 1, &cur, &v->ref);
        mcp__store_ref_drop(&v->ref);
    }
    size_t total = 0;
    for (int i = 0; i < MCP__STORE_CACHE_SHARDS; i++) {
        assert_true(c.shards[i].count <= 1);
        total += c.shards[i].count;
    }
    assert_true(total >= 1 && total <= 16);
    assert_int_equal(destroyed, 200 - (int)total);
    /* The last key put is always there. */
    mcp__store_ref *r = mcp__store_cache_get(&c, "k199", 4, 1);
    assert_non_null(r);
    assert_int_equal(val_of(r), 199);
    mcp__store_ref_drop(r);
    mcp__store_cache_cleanup(&c);
    assert_int_equal(destroyed, 200);
}

static void
disabled_cache_caches_nothing(void **state)
{
    (void)state;
    destroyed = 0;
    mcp__store_cache c;
    assert_int_equal(mcp__store_cache_init(&c, 0, 1), MCP_OK);
    _Atomic uint64_t cur = 1;
    val *v = val_new(1);
    mcp__store_cache_put(&c, "k", 1, 1, &cur, &v->ref);
    assert_null(mcp__store_cache_get(&c, "k", 1, 1));
    mcp__store_ref_drop(&v->ref);
    assert_int_equal(destroyed, 1);
    mcp__store_cache_cleanup(&c);
}

/* ---- data_version invalidation against a real file --------------------------------------- */

static void
user_state(mcp_store *s, const char *sub, bool *exists, bool *enabled, size_t *nperm)
{
    mcp_store_user_info u;
    mcp_error err;
    mcp_store_user_info_init(&u);
    assert_int_equal(mcp_store_user_lookup(s, sub, &u, &err), MCP_OK);
    *exists = u.exists;
    *enabled = u.enabled;
    *nperm = u.n_permissions;
    mcp_store_user_info_cleanup(&u);
}

static void
second_store_handle_changes_are_seen(void **state)
{
    tdir *t = *state;
    /* change_check_ms 0: data_version is asked on every lookup. */
    mcp_store *a = open_store(t->db, 0);
    mcp_store *b = open_store(t->db, 0);
    mcp_error err;
    const char *perms[] = {"tools:call", NULL};
    assert_int_equal(mcp_store_role_set_permissions(a, "dev", perms, &err), MCP_OK);
    assert_int_equal(mcp_store_user_add(a, "alice", "Alice", &err), MCP_OK);
    assert_int_equal(mcp_store_role_grant(a, "alice", "dev", &err), MCP_OK);

    bool ex, en;
    size_t np;
    user_state(b, "alice", &ex, &en, &np); /* b caches alice */
    assert_true(ex && en);
    assert_int_equal(np, 1);
    user_state(b, "alice", &ex, &en, &np); /* a hit */
    assert_true(en);

    /* a disables alice: b's cached snapshot must not be served. */
    assert_int_equal(mcp_store_user_set_enabled(a, "alice", false, &err), MCP_OK);
    user_state(b, "alice", &ex, &en, &np);
    assert_true(ex);
    assert_false(en);

    /* Revoked token ids: b first caches "not revoked", then a revokes it. */
    bool rev = true;
    assert_int_equal(mcp_store_token_is_revoked(b, "jti-1", &rev, &err), MCP_OK);
    assert_false(rev);
    assert_int_equal(mcp_store_token_revoke(a, "jti-1", 0, &err), MCP_OK);
    assert_int_equal(mcp_store_token_is_revoked(b, "jti-1", &rev, &err), MCP_OK);
    assert_true(rev);

    /* An API key verified (and cached) by b, revoked through a. */
    char *key = NULL;
    char kid[MCP_APIKEY_ID_LEN + 1];
    assert_int_equal(mcp_store_user_set_enabled(a, "alice", true, &err), MCP_OK);
    assert_int_equal(mcp_store_key_create(a, "alice", "ci", 0, &key, kid, &err), MCP_OK);
    const mcp_principal *p = NULL;
    assert_int_equal(mcp_store_key_verify(b, key, strlen(key), &p, &err), MCP_OK);
    mcp_principal_unref(p);
    assert_int_equal(mcp_store_key_revoke(a, kid, &err), MCP_OK);
    p = NULL;
    assert_int_equal(mcp_store_key_verify(b, key, strlen(key), &p, &err), MCP_ERR_UNAUTHENTICATED);
    assert_null(p);
    assert_string_equal(err.message, "API key revoked");
    mcp_memzero(key, strlen(key));
    mcp_free(key);
    mcp_store_close(b);
    mcp_store_close(a);
}

static void
raw_sqlite_change_seen_only_after_interval(void **state)
{
    tdir *t = *state;
    /* A long interval: a raw change is not looked for before it, but mcp_store_invalidate()
     * drops the cache at once (the SIGHUP path). */
    mcp_store *s = open_store(t->db, 600000);
    mcp_error err;
    assert_int_equal(mcp_store_user_add(s, "bob", NULL, &err), MCP_OK);
    bool ex, en;
    size_t np;
    user_state(s, "bob", &ex, &en, &np);
    assert_true(en);
    raw_sql(t->db, "UPDATE users SET enabled = 0 WHERE subject = 'bob'");
    user_state(s, "bob", &ex, &en, &np);
    assert_true(en); /* still the cached snapshot: the interval has not passed */
    mcp_store_invalidate(s);
    user_state(s, "bob", &ex, &en, &np);
    assert_false(en);
    mcp_store_close(s);

    /* change_check_ms 0: the same raw change is seen on the next lookup. */
    s = open_store(t->db, 0);
    user_state(s, "bob", &ex, &en, &np);
    assert_false(en);
    raw_sql(t->db, "UPDATE users SET enabled = 1 WHERE subject = 'bob'");
    user_state(s, "bob", &ex, &en, &np);
    assert_true(en);
    raw_sql(t->db, "DELETE FROM users WHERE subject = 'bob'");
    user_state(s, "bob", &ex, &en, &np);
    assert_false(ex);
    assert_false(en);
    mcp_store_close(s);
}

static void
own_write_invalidates_without_waiting(void **state)
{
    tdir *t = *state;
    mcp_store *s = open_store(t->db, 600000);
    mcp_error err;
    assert_int_equal(mcp_store_user_add(s, "carol", NULL, &err), MCP_OK);
    bool ex, en;
    size_t np;
    user_state(s, "carol", &ex, &en, &np);
    assert_true(en);
    uint64_t g = atomic_load(&s->gen);
    assert_int_equal(mcp_store_user_set_enabled(s, "carol", false, &err), MCP_OK);
    assert_true(atomic_load(&s->gen) > g); /* a committed write bumps the generation */
    user_state(s, "carol", &ex, &en, &np);
    assert_false(en);
    /* A failed write (unknown user) rolls back and leaves the cache alone. */
    g = atomic_load(&s->gen);
    assert_int_equal(mcp_store_user_set_enabled(s, "nobody", false, &err), MCP_ERR_NOT_FOUND);
    assert_int_equal(atomic_load(&s->gen), g);
    mcp_store_close(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ref_counting),
        cmocka_unit_test(hit_and_generation_miss),
        cmocka_unit_test(put_refused_after_invalidation),
        cmocka_unit_test(put_replaces_same_key),
        cmocka_unit_test(full_shard_is_emptied),
        cmocka_unit_test(disabled_cache_caches_nothing),
        cmocka_unit_test_setup_teardown(second_store_handle_changes_are_seen, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(raw_sqlite_change_seen_only_after_interval, tdir_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(own_write_invalidates_without_waiting, tdir_setup,
                                        tdir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
