/* API keys in the store: format, create/verify/revoke/expire, every rejection, the hash at rest,
 * cache invalidation by another process, failing closed, and concurrent verification. */
#include "store/test_store_util.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>

/* A store with alice (admin) and bob (user, disabled later in some tests). */
static mcp_store *
seeded_store(tdir *t, unsigned check_ms)
{
    mcp_store *s = open_store(t->db, check_ms);
    mcp_error err;
    assert_int_equal(mcp_store_user_add_with_roles(s, "alice", "Alice",
                                                   (const char *const[]){ "admin", NULL }, &err),
                     MCP_OK);
    assert_int_equal(mcp_store_user_add_with_roles(s, "bob", NULL,
                                                   (const char *const[]){ "user", NULL }, &err),
                     MCP_OK);
    return s;
}

static char *
new_key(mcp_store *s, const char *owner, int64_t ttl, char id[MCP_APIKEY_ID_LEN + 1])
{
    char *key = NULL;
    mcp_error err;
    mcp_status rc = mcp_store_key_create(s, owner, "test", ttl, &key, id, &err);
    if (rc != MCP_OK)
        fprintf(stderr, "key_create: %s\n", err.message);
    assert_int_equal(rc, MCP_OK);
    assert_non_null(key);
    return key;
}

static void
free_key(char *key)
{
    mcp_memzero(key, strlen(key));
    mcp_free(key);
}

/* Verify and return the status; err->message says which check failed. */
static mcp_status
verify(mcp_store *s, const char *key, mcp_error *err)
{
    const mcp_principal *p = (const mcp_principal *)(uintptr_t)1; /* must be reset to NULL */
    mcp_status rc = mcp_store_key_verify(s, key, strlen(key), &p, err);
    if (rc == MCP_OK)
        assert_non_null(p);
    else
        assert_null(p);
    mcp_principal_unref(p);
    return rc;
}

static void
expect_reject(mcp_store *s, const char *key, const char *why)
{
    mcp_error err;
    mcp_error_clear(&err);
    assert_int_equal(verify(s, key, &err), MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, why);
}

/* ---- format and the happy path ---------------------------------------------------------- */

static void
apikey_has_documented_format(void **state)
{
    tdir *t = *state;
    mcp_store *s = seeded_store(t, 1000);
    char id1[MCP_APIKEY_ID_LEN + 1], id2[MCP_APIKEY_ID_LEN + 1];
    char *k1 = new_key(s, "alice", 0, id1), *k2 = new_key(s, "alice", 0, id2);

    assert_int_equal(strlen(k1), MCP_APIKEY_LEN);
    assert_int_equal(strlen(k1), 60);
    assert_memory_equal(k1, "mcp_", 4);
    assert_memory_equal(k1 + 4, id1, MCP_APIKEY_ID_LEN);
    assert_int_equal(strlen(id1), 12);
    assert_int_equal(k1[16], '_');
    for (size_t i = 0; i < 12; i++)
        assert_non_null(strchr("abcdefghijklmnopqrstuvwxyz234567", id1[i]));
    for (size_t i = 17; i < 60; i++)
        assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                               k1[i]));
    assert_string_not_equal(id1, id2);
    assert_string_not_equal(k1 + 17, k2 + 17);
    assert_true(mcp_apikey_looks_like(k1));
    assert_false(mcp_apikey_looks_like("eyJhbGciOiJSUzI1NiJ9.e30.sig"));
    assert_false(mcp_apikey_looks_like("mcp"));
    assert_false(mcp_apikey_looks_like(NULL));
    assert_true(mcp_apikey_looks_like("mcp_garbage")); /* looks like one; invalid is separate */
    free_key(k1);
    free_key(k2);
    mcp_store_close(s);
}

static void
apikey_verify_builds_principal(void **state)
{
    tdir *t = *state;
    mcp_store *s = seeded_store(t, 1000);
    char id[MCP_APIKEY_ID_LEN + 1];
    char *key = new_key(s, "alice", 0, id);
    const mcp_principal *p = NULL;
    mcp_error err;

    for (int round = 0; round < 2; round++) { /* miss, then cache hit: same answer */
        assert_int_equal(mcp_store_key_verify(s, key, strlen(key), &p, &err), MCP_OK);
        assert_int_equal(mcp_principal_kind(p), MCP_CRED_API_KEY);
        assert_string_equal(mcp_principal_subject(p), "alice");
        assert_string_equal(mcp_principal_name(p), "Alice");
        assert_string_equal(mcp_principal_key_id(p), id);
        assert_int_equal(mcp_principal_expires_at(p), 0);
        assert_int_equal(mcp_principal_permission_count(p), 3);
        assert_true(mcp_principal_has(p, "Admin.Write"));
        assert_true(mcp_principal_has(p, "User.Read"));
        assert_true(mcp_principal_has(p, "User.Write"));
        assert_false(mcp_principal_has(p, "Guest.Read"));
        mcp_principal_unref(p);
    }

    /* A key with a TTL carries its expiry into the principal. */
    char *k2 = new_key(s, "bob", 3600, id);
    int64_t before = (int64_t)time(NULL);
    assert_int_equal(mcp_store_key_verify(s, k2, strlen(k2), &p, &err), MCP_OK);
    assert_true(mcp_principal_expires_at(p) >= before + 3599);
    assert_true(mcp_principal_expires_at(p) <= before + 3601);
    assert_null(mcp_principal_name(p)); /* bob has no display name */
    assert_int_equal(mcp_principal_permission_count(p), 2);
    mcp_principal_unref(p);

    /* The key need not be NUL-terminated: verify reads exactly len bytes. */
    char buf[MCP_APIKEY_LEN + 8];
    memcpy(buf, key, MCP_APIKEY_LEN);
    memcpy(buf + MCP_APIKEY_LEN, "XXXXXXX", 8);
    assert_int_equal(mcp_store_key_verify(s, buf, MCP_APIKEY_LEN, &p, &err), MCP_OK);
    mcp_principal_unref(p);
    mcp_memzero(buf, sizeof buf);

    free_key(key);
    free_key(k2);
    mcp_store_close(s);
}

/* ---- rejections ------------------------------------------------------------------------- */

static void
apikey_rejects_malformed(void **state)
{
    tdir *t = *state;
    mcp_store *s = seeded_store(t, 1000);
    char id[MCP_APIKEY_ID_LEN + 1];
    char *key = new_key(s, "alice", 0, id);
    char bad[MCP_APIKEY_LEN + 2];

    expect_reject(s, "", "API key malformed");
    expect_reject(s, "mcp_", "API key malformed");
    memcpy(bad, key, MCP_APIKEY_LEN + 1);
    bad[MCP_APIKEY_LEN - 1] = '\0'; /* one short */
    expect_reject(s, bad, "API key malformed");
    memcpy(bad, key, MCP_APIKEY_LEN + 1);
    bad[MCP_APIKEY_LEN] = 'A'; /* one long */
    bad[MCP_APIKEY_LEN + 1] = '\0';
    expect_reject(s, bad, "API key malformed");
    memcpy(bad, key, MCP_APIKEY_LEN + 1);
    bad[0] = 'M'; /* prefix is case-sensitive */
    expect_reject(s, bad, "API key malformed");
    memcpy(bad, key, MCP_APIKEY_LEN + 1);
    bad[5] = '1'; /* not in the id alphabet */
    expect_reject(s, bad, "API key malformed");
    memcpy(bad, key, MCP_APIKEY_LEN + 1);
    bad[16] = '-'; /* separator */
    expect_reject(s, bad, "API key malformed");
    memcpy(bad, key, MCP_APIKEY_LEN + 1);
    bad[30] = '+'; /* standard base64, not base64url */
    expect_reject(s, bad, "API key malformed");

    /* An embedded NUL inside len bytes. */
    const mcp_principal *p = NULL;
    mcp_error err;
    memcpy(bad, key, MCP_APIKEY_LEN + 1);
    bad[40] = '\0';
    assert_int_equal(mcp_store_key_verify(s, bad, MCP_APIKEY_LEN, &p, &err),
                     MCP_ERR_UNAUTHENTICATED);
    assert_null(p);
    assert_int_equal(mcp_store_key_verify(s, NULL, 0, &p, &err), MCP_ERR_UNAUTHENTICATED);
    assert_int_equal(mcp_store_key_verify(NULL, key, strlen(key), &p, &err), MCP_ERR_INVALID_ARG);
    free_key(key);
    mcp_store_close(s);
}

static void
apikey_rejects_unknown_id_and_wrong_secret(void **state)
{
    tdir *t = *state;
    mcp_store *s = seeded_store(t, 1000);
    char id[MCP_APIKEY_ID_LEN + 1];
    char *key = new_key(s, "alice", 0, id);
    char bad[MCP_APIKEY_LEN + 1];

    /* Well-formed, but an id the store never issued. */
    memcpy(bad, key, sizeof bad);
    bad[4] = bad[4] == 'a' ? 'b' : 'a';
    expect_reject(s, bad, "API key unknown");

    /* The right id with a different secret: one character changed, then a whole other secret.
     * Both before and after the key is in the cache. */
    memcpy(bad, key, sizeof bad);
    bad[50] = bad[50] == 'A' ? 'B' : 'A';
    expect_reject(s, bad, "API key secret does not match");
    assert_int_equal(verify(s, key, NULL), MCP_OK);
    expect_reject(s, bad, "API key secret does not match");
    char other_id[MCP_APIKEY_ID_LEN + 1];
    char *other = new_key(s, "alice", 0, other_id);
    memcpy(bad, key, sizeof bad);
    memcpy(bad + 17, other + 17, MCP_APIKEY_SECRET_LEN); /* a real secret, of another key */
    expect_reject(s, bad, "API key secret does not match");
    /* The error never contains the key or its secret. */
    mcp_error err;
    assert_int_equal(verify(s, bad, &err), MCP_ERR_UNAUTHENTICATED);
    assert_null(strstr(err.message, "mcp_"));
    assert_null(strstr(err.message, id));
    free_key(other);
    free_key(key);
    mcp_store_close(s);
}

static void
apikey_revoke_and_expire(void **state)
{
    tdir *t = *state;
    mcp_store *s = seeded_store(t, 0);
    mcp_error err;
    char id[MCP_APIKEY_ID_LEN + 1], id2[MCP_APIKEY_ID_LEN + 1];
    char *key = new_key(s, "alice", 0, id);
    char *k2 = new_key(s, "alice", 3600, id2);
    assert_int_equal(verify(s, key, NULL), MCP_OK);
    assert_int_equal(verify(s, k2, NULL), MCP_OK);

    assert_int_equal(mcp_store_key_revoke(s, id, &err), MCP_OK);
    expect_reject(s, key, "API key revoked");
    assert_int_equal(mcp_store_key_revoke(s, id, &err), MCP_OK); /* idempotent */
    assert_int_equal(mcp_store_key_revoke(s, "aaaaaaaaaaaa", &err), MCP_ERR_NOT_FOUND);
    assert_string_equal(err.message, "no such key");
    assert_int_equal(mcp_store_key_revoke(s, "short", &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp_store_key_revoke(s, NULL, &err), MCP_ERR_INVALID_ARG);

    /* Time passes: move the expiry into the past from another connection. */
    char sql[128];
    snprintf(sql, sizeof sql, "UPDATE api_keys SET expires = %lld WHERE id = '%s'",
             (long long)time(NULL) - 1, id2);
    raw_sql(t->db, sql);
    expect_reject(s, k2, "API key expired");
    /* Expiry is checked on every verification, not only when loading: a cached key whose
     * expiry is "now" fails without any store change. */
    snprintf(sql, sizeof sql, "UPDATE api_keys SET expires = %lld WHERE id = '%s'",
             (long long)time(NULL) + 2, id2);
    raw_sql(t->db, sql);
    assert_int_equal(verify(s, k2, NULL), MCP_OK);
    sleep_ms(2100);
    expect_reject(s, k2, "API key expired");
    free_key(key);
    free_key(k2);
    mcp_store_close(s);
}

static void
apikey_rejects_disabled_or_unknown_owner(void **state)
{
    tdir *t = *state;
    mcp_store *s = seeded_store(t, 0);
    mcp_error err;
    char id[MCP_APIKEY_ID_LEN + 1];
    char *key = new_key(s, "bob", 0, id);
    char *dummy = NULL;

    assert_int_equal(verify(s, key, NULL), MCP_OK);
    assert_int_equal(mcp_store_user_set_enabled(s, "bob", false, &err), MCP_OK);
    expect_reject(s, key, "API key owner disabled");
    assert_int_equal(mcp_store_user_set_enabled(s, "bob", true, &err), MCP_OK);
    assert_int_equal(verify(s, key, NULL), MCP_OK);

    /* The owner row vanishes without the cascade (sqlite3 shell, foreign keys off). */
    raw_sql(t->db, "DELETE FROM user_roles WHERE subject = 'bob';"
                   " DELETE FROM users WHERE subject = 'bob'");
    expect_reject(s, key, "API key owner unknown");

    /* Through the API, removing the user removes its keys. */
    char id2[MCP_APIKEY_ID_LEN + 1];
    char *k2 = new_key(s, "alice", 0, id2);
    assert_int_equal(mcp_store_user_remove(s, "alice", &err), MCP_OK);
    expect_reject(s, k2, "API key unknown");

    assert_int_equal(mcp_store_key_create(s, "nobody", NULL, 0, &dummy, NULL, &err),
                     MCP_ERR_NOT_FOUND);
    assert_null(dummy);
    assert_int_equal(mcp_store_key_create(s, "carl", NULL, -5, &dummy, NULL, &err),
                     MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp_store_key_create(s, "carl", "bad\nlabel", 0, &dummy, NULL, &err),
                     MCP_ERR_INVALID_ARG);
    free_key(key);
    free_key(k2);
    mcp_store_close(s);
}

/* ---- at rest ---------------------------------------------------------------------------- */

static bool
file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return false;
    size_t cap = 1u << 22, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    n = fread(buf, 1, cap, f);
    fclose(f);
    size_t nl = strlen(needle);
    bool found = false;
    for (size_t i = 0; !found && i + nl <= n; i++)
        found = memcmp(buf + i, needle, nl) == 0;
    free(buf);
    return found;
}

static void
apikey_store_keeps_only_the_hash(void **state)
{
    tdir *t = *state;
    mcp_store *s = seeded_store(t, 1000);
    char id[MCP_APIKEY_ID_LEN + 1];
    char *key = new_key(s, "alice", 0, id);
    const char *secret = key + 17;

    /* Every column of the row, as text and as bytes, is free of the secret. */
    sqlite3 *h;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(t->db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT * FROM api_keys WHERE id = ?", -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    bool saw_hash = false;
    for (int c = 0; c < sqlite3_column_count(st); c++) {
        const void *b = sqlite3_column_blob(st, c);
        int n = sqlite3_column_bytes(st, c);
        for (int i = 0; b != NULL && i + MCP_APIKEY_SECRET_LEN <= n; i++)
            assert_true(memcmp((const char *)b + i, secret, MCP_APIKEY_SECRET_LEN) != 0);
        if (strcmp(sqlite3_column_name(st, c), "hash") == 0) {
            unsigned char want[32];
            unsigned int wl = 0;
            assert_int_equal(EVP_Digest(secret, MCP_APIKEY_SECRET_LEN, want, &wl, EVP_sha256(),
                                        NULL), 1);
            assert_int_equal(n, 32);
            assert_memory_equal(b, want, 32);
            saw_hash = true;
        }
    }
    assert_true(saw_hash);
    sqlite3_finalize(st);
    sqlite3_close(h);

    /* Nor anywhere in the database or its write-ahead log. */
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", t->db);
    assert_false(file_contains(t->db, secret));
    assert_false(file_contains(wal, secret));
    assert_true(file_contains(wal, id) || file_contains(t->db, id)); /* the search works */
    free_key(key);
    mcp_store_close(s);
}

struct key_seen {
    size_t n;
    char   ids[512];
};

static bool
collect_key(void *ctx, const mcp_store_key *k)
{
    struct key_seen *ks = ctx;
    ks->n++;
    strncat(ks->ids, k->owner, sizeof ks->ids - strlen(ks->ids) - 1);
    strncat(ks->ids, k->revoked ? "(r) " : " ", sizeof ks->ids - strlen(ks->ids) - 1);
    assert_int_equal(strlen(k->id), MCP_APIKEY_ID_LEN);
    assert_string_equal(k->label, "test");
    assert_true(k->created > 0);
    return true;
}

static void
apikey_list_filters_by_owner(void **state)
{
    tdir *t = *state;
    mcp_store *s = seeded_store(t, 1000);
    char id[MCP_APIKEY_ID_LEN + 1];
    free_key(new_key(s, "alice", 0, id));
    free_key(new_key(s, "bob", 0, id));
    assert_int_equal(mcp_store_key_revoke(s, id, NULL), MCP_OK);
    struct key_seen ks = { 0 };
    assert_int_equal(mcp_store_key_list(s, NULL, collect_key, &ks, NULL), MCP_OK);
    assert_int_equal(ks.n, 2);
    assert_string_equal(ks.ids, "alice bob(r) ");
    memset(&ks, 0, sizeof ks);
    assert_int_equal(mcp_store_key_list(s, "bob", collect_key, &ks, NULL), MCP_OK);
    assert_string_equal(ks.ids, "bob(r) ");
    memset(&ks, 0, sizeof ks);
    assert_int_equal(mcp_store_key_list(s, "nobody", collect_key, &ks, NULL), MCP_OK);
    assert_int_equal(ks.n, 0);
    mcp_store_close(s);
}

/* ---- other processes, failure, concurrency ---------------------------------------------- */

static void
apikey_cache_sees_mcp_admin_changes(void **state)
{
    tdir *t = *state;
    char path[512];
    if (bin_path("mcp-admin", path, sizeof path) == NULL) {
        if (ci_strict())                   /* in CI a missing program is a failure */
            fail_msg("MCP_CI=1: mcp-admin is required (MCP_BIN not set or mcp-admin not built)");
        fprintf(stderr, "MCP_BIN not set or mcp-admin not built: skipped\n");
        skip();
    }
    mcp_store *s = seeded_store(t, 50);
    char id[MCP_APIKEY_ID_LEN + 1], id2[MCP_APIKEY_ID_LEN + 1];
    char *key = new_key(s, "alice", 0, id);
    char *k2 = new_key(s, "bob", 0, id2);
    assert_int_equal(verify(s, key, NULL), MCP_OK); /* now cached */
    assert_int_equal(verify(s, k2, NULL), MCP_OK);

    assert_int_equal(run_admin(t->db, "key", "revoke", id, NULL), 0);
    assert_int_equal(run_admin(t->db, "user", "disable", "bob", NULL), 0);
    sleep_ms(60); /* > change_check_ms */
    expect_reject(s, key, "API key revoked");
    expect_reject(s, k2, "API key owner disabled");

    /* And permission changes reach the principal. */
    assert_int_equal(run_admin(t->db, "user", "enable", "bob", NULL), 0);
    assert_int_equal(run_admin(t->db, "role", "grant", "bob", "guest", NULL), 0);
    sleep_ms(60);
    const mcp_principal *p = NULL;
    assert_int_equal(mcp_store_key_verify(s, k2, strlen(k2), &p, NULL), MCP_OK);
    assert_true(mcp_principal_has(p, "Guest.Read"));
    mcp_principal_unref(p);
    free_key(key);
    free_key(k2);
    mcp_store_close(s);
}

static void
apikey_fails_closed_when_store_unreadable(void **state)
{
    tdir *t = *state;
    mcp_store *s = seeded_store(t, 0);
    char id[MCP_APIKEY_ID_LEN + 1];
    char *key = new_key(s, "alice", 0, id);
    assert_int_equal(verify(s, key, NULL), MCP_OK); /* cached as valid */
    raw_sql(t->db, "DROP TABLE api_keys");
    mcp_error err;
    assert_int_equal(verify(s, key, &err), MCP_ERR_STORE);
    assert_non_null(strstr(err.message, "store"));
    free_key(key);
    mcp_store_close(s);
}

struct race {
    mcp_store  *s;
    const char *stable;  /* alice's key: must verify every time */
    const char *flappy;  /* bob's key: bob is enabled and disabled meanwhile */
    atomic_bool stop;
    atomic_int  bad;
    atomic_long ok, disabled;
};

static void *
race_reader(void *arg)
{
    struct race *r = arg;
    while (!atomic_load(&r->stop)) {
        mcp_error err;
        const mcp_principal *p = NULL;
        if (mcp_store_key_verify(r->s, r->stable, strlen(r->stable), &p, &err) != MCP_OK
            || strcmp(mcp_principal_subject(p), "alice") != 0
            || mcp_principal_permission_count(p) != 3)
            atomic_fetch_add(&r->bad, 1);
        mcp_principal_unref(p);
        mcp_status rc = mcp_store_key_verify(r->s, r->flappy, strlen(r->flappy), &p, &err);
        if (rc == MCP_OK) {
            atomic_fetch_add(&r->ok, 1);
            if (strcmp(mcp_principal_subject(p), "bob") != 0)
                atomic_fetch_add(&r->bad, 1);
            mcp_principal_unref(p);
        } else if (rc == MCP_ERR_UNAUTHENTICATED
                   && strcmp(err.message, "API key owner disabled") == 0) {
            atomic_fetch_add(&r->disabled, 1);
        } else {
            atomic_fetch_add(&r->bad, 1);
        }
        mcp_store_user_info u;
        if (mcp_store_user_lookup(r->s, "alice", &u, &err) != MCP_OK || !u.enabled)
            atomic_fetch_add(&r->bad, 1);
        mcp_store_user_info_cleanup(&u);
    }
    return NULL;
}

static void
apikey_concurrent_verify_while_writing(void **state)
{
    tdir *t = *state;
    mcp_store *s = seeded_store(t, 0); /* check on every lookup: most contention */
    char id1[MCP_APIKEY_ID_LEN + 1], id2[MCP_APIKEY_ID_LEN + 1];
    char *k1 = new_key(s, "alice", 0, id1), *k2 = new_key(s, "bob", 0, id2);
    mcp_store *writer2 = open_store(t->db, 1000); /* a second handle, as another process */
    struct race r = { .s = s, .stable = k1, .flappy = k2 };
    atomic_init(&r.stop, false);
    atomic_init(&r.bad, 0);
    atomic_init(&r.ok, 0);
    atomic_init(&r.disabled, 0);

    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, race_reader, &r), 0);
    mcp_error err;
    for (int i = 0; i < 40; i++) {
        mcp_store *w = (i % 2) ? s : writer2;
        assert_int_equal(mcp_store_user_set_enabled(w, "bob", i % 4 < 2, &err), MCP_OK);
        char *extra = new_key(w, "alice", 0, id1);
        free_key(extra);
        assert_int_equal(mcp_store_key_revoke(w, id1, &err), MCP_OK);
        assert_int_equal(mcp_store_token_revoke(w, id1, 0, &err), MCP_OK);
        sleep_ms(2);
    }
    assert_int_equal(mcp_store_user_set_enabled(writer2, "bob", false, &err), MCP_OK);
    sleep_ms(5);
    atomic_store(&r.stop, true);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);

    fprintf(stderr, "concurrent: %ld accepted, %ld owner-disabled, %d wrong\n",
            atomic_load(&r.ok), atomic_load(&r.disabled), atomic_load(&r.bad));
    assert_int_equal(atomic_load(&r.bad), 0);
    assert_true(atomic_load(&r.ok) > 0);
    assert_true(atomic_load(&r.disabled) > 0);
    expect_reject(s, k2, "API key owner disabled"); /* the last write wins */
    free_key(k1);
    free_key(k2);
    mcp_store_close(writer2);
    mcp_store_close(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(apikey_has_documented_format, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(apikey_verify_builds_principal, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(apikey_rejects_malformed, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(apikey_rejects_unknown_id_and_wrong_secret, tdir_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(apikey_revoke_and_expire, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(apikey_rejects_disabled_or_unknown_owner, tdir_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(apikey_store_keeps_only_the_hash, tdir_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(apikey_list_filters_by_owner, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(apikey_cache_sees_mcp_admin_changes, tdir_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(apikey_fails_closed_when_store_unreadable, tdir_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(apikey_concurrent_verify_while_writing, tdir_setup,
                                        tdir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
