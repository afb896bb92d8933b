/*
 * The store's behaviour on both backends: every test here runs once on a SQLite file and once
 * on a real PostgreSQL 15 cluster that this test starts itself (tests/integration/lib/
 * pg_cluster.sh: initdb in a temporary directory, 127.0.0.1 on a free port, run as the postgres user
 * when we are root) and stops at exit. Each test gets an empty store: a new file, or the
 * PostgreSQL database with its public schema dropped and recreated.
 *
 * Without PostgreSQL the PostgreSQL half is skipped, except under MCP_CI=1, where it fails.
 * The last PostgreSQL tests stop and restart the server (fail closed, then recover).
 */
#include "test_store_util.h"

#include "test_store_pg.h"

#include "store/internal.h"

#include <dirent.h>
#include <signal.h>

typedef struct backend {
    bool pg;
    tdir t;         /* SQLite: the file; PostgreSQL: scratch */
    char url[512];  /* what mcp_store_open gets */
} backend;

static bool g_use_pg; /* the group being run */

static void
raw(const backend *b, const char *sql)
{
    if (b->pg)
        pg_raw(sql);
    else
        raw_sql(b->t.db, sql);
}

static int
be_setup(void **state)
{
    backend *b = calloc(1, sizeof *b);
    if (b == NULL)
        return -1;
    b->pg = g_use_pg;
    tdir_make(&b->t);
    if (b->pg) {
        if (!g_pg_up) {
            free(b);
            return -1;
        }
        pg_reset_schema();
        snprintf(b->url, sizeof b->url, "%s", g_pg_url);
    } else {
        snprintf(b->url, sizeof b->url, "%s", b->t.db);
    }
    *state = b;
    return 0;
}

static int
be_teardown(void **state)
{
    backend *b = *state;
    tdir_remove(&b->t);
    free(b);
    return 0;
}

static mcp_store *
open_be(const backend *b, unsigned check_ms)
{
    return open_store(b->url, check_ms);
}

/* ---- users and roles ------------------------------------------------------------------- */

typedef struct user_seen {
    char   text[1024];
    size_t n;
} user_seen;

static bool
collect_user(void *ctx, const mcp_store_user *u)
{
    user_seen *s = ctx;
    size_t len = strlen(s->text);
    len += (size_t)snprintf(s->text + len, sizeof s->text - len, "%s:%s:%d:", u->subject, u->name,
                            u->enabled ? 1 : 0);
    for (size_t i = 0; i < u->n_roles; i++)
        len += (size_t)snprintf(s->text + len, sizeof s->text - len, "%s%s", i ? "," : "",
                                u->roles[i]);
    snprintf(s->text + len, sizeof s->text - len, ";");
    s->n++;
    return true;
}

static bool
collect_role(void *ctx, const mcp_store_role *r)
{
    user_seen *s = ctx;
    size_t len = strlen(s->text);
    len += (size_t)snprintf(s->text + len, sizeof s->text - len, "%s=", r->name);
    for (size_t i = 0; i < r->n_permissions; i++)
        len += (size_t)snprintf(s->text + len, sizeof s->text - len, "%s%s", i ? " " : "",
                                r->permissions[i]);
    snprintf(s->text + len, sizeof s->text - len, ";");
    s->n++;
    return true;
}

static void
expect_perms(mcp_store *s, const char *subject, bool exists, bool enabled, const char *want)
{
    mcp_store_user_info u;
    mcp_error err;
    assert_int_equal(mcp_store_user_lookup(s, subject, &u, &err), MCP_OK);
    assert_int_equal(u.exists, exists);
    assert_int_equal(u.enabled, enabled);
    char got[512] = "";
    for (size_t i = 0; i < u.n_permissions; i++) {
        size_t len = strlen(got);
        snprintf(got + len, sizeof got - len, "%s%s", i ? " " : "", u.permissions[i]);
    }
    assert_string_equal(got, want);
    mcp_store_user_info_cleanup(&u);
}

static void
be_users_and_roles(void **state)
{
    backend *b = *state;
    mcp_store *s = open_be(b, 0);
    mcp_error err;
    assert_int_equal(mcp_store_schema_version(s), b->pg ? 4 : 3); /* PostgreSQL: + rate windows (3) */
    const char *const admin[] = { "admin", NULL };
    const char *const two[] = { "user", "guest", NULL };
    const char *const bad[] = { "user", "nosuch", NULL };
    assert_int_equal(mcp_store_user_add_with_roles(s, "alice", "Alice A", admin, &err), MCP_OK);
    assert_int_equal(mcp_store_user_add_with_roles(s, "bob", NULL, two, &err), MCP_OK);
    assert_int_equal(mcp_store_user_add(s, "bob", NULL, &err), MCP_ERR_STATE);
    assert_string_equal(err.message, "user already exists");
    assert_int_equal(mcp_store_user_add_with_roles(s, "carol", NULL, bad, &err), MCP_ERR_NOT_FOUND);
    assert_string_equal(err.message, "no such role");
    assert_int_equal(mcp_store_user_add(s, "", NULL, &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp_store_user_add(s, "Zed", NULL, &err), MCP_OK);

    expect_perms(s, "alice", true, true, "Admin.Write User.Read User.Write");
    expect_perms(s, "bob", true, true, "Guest.Read User.Read User.Write"); /* union, no dups */
    expect_perms(s, "carol", false, false, "");                            /* not half-made */

    user_seen seen = { "", 0 };
    assert_int_equal(mcp_store_user_list(s, collect_user, &seen, &err), MCP_OK);
    /* byte order, as SQLite sorts: upper case first */
    assert_string_equal(seen.text, "Zed::1:;alice:Alice A:1:admin;bob::1:guest,user;");

    assert_int_equal(mcp_store_role_grant(s, "Zed", "guest", &err), MCP_OK);
    assert_int_equal(mcp_store_role_grant(s, "Zed", "guest", &err), MCP_OK); /* idempotent */
    assert_int_equal(mcp_store_role_grant(s, "nobody", "guest", &err), MCP_ERR_NOT_FOUND);
    assert_int_equal(mcp_store_role_revoke(s, "Zed", "admin", &err), MCP_ERR_NOT_FOUND);
    assert_string_equal(err.message, "user does not have that role");
    expect_perms(s, "Zed", true, true, "Guest.Read");

    const char *const perms[] = { "Ops.Run", "User.Read", "Ops.Run", NULL };
    assert_int_equal(mcp_store_role_set_permissions(s, "ops", perms, &err), MCP_OK);
    assert_int_equal(mcp_store_role_grant(s, "Zed", "ops", &err), MCP_OK);
    expect_perms(s, "Zed", true, true, "Guest.Read Ops.Run User.Read");
    const char *const bad_perm[] = { "has space", NULL };
    assert_int_equal(mcp_store_role_set_permissions(s, "ops", bad_perm, &err),
                     MCP_ERR_INVALID_ARG);
    memset(&seen, 0, sizeof seen);
    assert_int_equal(mcp_store_role_list(s, collect_role, &seen, &err), MCP_OK);
    assert_string_equal(seen.text, "admin=Admin.Write User.Read User.Write;guest=Guest.Read;"
                                   "ops=Ops.Run User.Read;user=User.Read User.Write;");
    assert_int_equal(mcp_store_role_remove(s, "ops", &err), MCP_OK); /* cascades to grants */
    assert_int_equal(mcp_store_role_remove(s, "ops", &err), MCP_ERR_NOT_FOUND);
    expect_perms(s, "Zed", true, true, "Guest.Read");

    assert_int_equal(mcp_store_user_set_enabled(s, "bob", false, &err), MCP_OK);
    expect_perms(s, "bob", true, false, "Guest.Read User.Read User.Write");
    assert_int_equal(mcp_store_user_set_enabled(s, "nobody", false, &err), MCP_ERR_NOT_FOUND);
    assert_int_equal(mcp_store_user_remove(s, "bob", &err), MCP_OK);
    assert_int_equal(mcp_store_user_remove(s, "bob", &err), MCP_ERR_NOT_FOUND);
    expect_perms(s, "bob", false, false, "");
    mcp_store_close(s);
}

/* ---- API keys --------------------------------------------------------------------------- */

static bool
count_keys(void *ctx, const mcp_store_key *k)
{
    user_seen *s = ctx;
    size_t len = strlen(s->text);
    snprintf(s->text + len, sizeof s->text - len, "%s:%s:%s:%d;", k->owner, k->label,
             k->expires ? "exp" : "-", k->revoked ? 1 : 0);
    s->n++;
    return true;
}

static void
be_api_keys(void **state)
{
    backend *b = *state;
    mcp_store *s = open_be(b, 0);
    mcp_error err;
    const char *const admin[] = { "admin", NULL };
    assert_int_equal(mcp_store_user_add_with_roles(s, "alice", "Alice", admin, &err), MCP_OK);
    char *key = NULL, *key2 = NULL, *key3 = NULL;
    char id[MCP_APIKEY_ID_LEN + 1], id2[MCP_APIKEY_ID_LEN + 1];
    assert_int_equal(mcp_store_key_create(s, "nobody", NULL, 0, &key, id, &err),
                     MCP_ERR_NOT_FOUND);
    assert_int_equal(mcp_store_key_create(s, "alice", "one", 0, &key, id, &err), MCP_OK);
    assert_int_equal(mcp_store_key_create(s, "alice", "two", 3600, &key2, id2, &err), MCP_OK);
    assert_int_equal(mcp_store_key_create(s, "alice", "three", 0, &key3, NULL, &err), MCP_OK);

    const mcp_principal *p = NULL;
    assert_int_equal(mcp_store_key_verify(s, key, strlen(key), &p, &err), MCP_OK);
    assert_string_equal(mcp_principal_subject(p), "alice");
    assert_true(mcp_principal_has(p, "Admin.Write"));
    mcp_principal_unref(p);
    /* a second verification is a cache hit, same answer */
    assert_int_equal(mcp_store_key_verify(s, key, strlen(key), &p, &err), MCP_OK);
    mcp_principal_unref(p);

    char forged[MCP_APIKEY_LEN + 1];
    memcpy(forged, key, sizeof forged);
    forged[MCP_APIKEY_LEN - 1] = forged[MCP_APIKEY_LEN - 1] == 'A' ? 'B' : 'A';
    assert_int_equal(mcp_store_key_verify(s, forged, strlen(forged), &p, &err),
                     MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "API key secret does not match");
    assert_int_equal(mcp_store_key_verify(s, "mcp_aaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
                                             "bbbbbbbb", MCP_APIKEY_LEN, &p, &err),
                     MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "API key unknown");

    user_seen seen = { "", 0 };
    assert_int_equal(mcp_store_key_list(s, NULL, count_keys, &seen, &err), MCP_OK);
    assert_int_equal(seen.n, 3);
    assert_non_null(strstr(seen.text, "alice:two:exp:0;"));

    assert_int_equal(mcp_store_key_revoke(s, id, &err), MCP_OK);
    assert_int_equal(mcp_store_key_revoke(s, "aaaaaaaaaaaa", &err), MCP_ERR_NOT_FOUND);
    assert_int_equal(mcp_store_key_revoke(s, "bad", &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp_store_key_verify(s, key, strlen(key), &p, &err), MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "API key revoked");

    /* expiry (set in the past by another client) and a disabled owner */
    char sql[160];
    snprintf(sql, sizeof sql, "UPDATE api_keys SET expires = 1 WHERE id = '%s'", id2);
    raw(b, sql);
    assert_int_equal(mcp_store_key_verify(s, key2, strlen(key2), &p, &err),
                     MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "API key expired");
    assert_int_equal(mcp_store_user_set_enabled(s, "alice", false, &err), MCP_OK);
    assert_int_equal(mcp_store_key_verify(s, key3, strlen(key3), &p, &err),
                     MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "API key owner disabled");
    /* removing the owner removes the keys */
    assert_int_equal(mcp_store_user_remove(s, "alice", &err), MCP_OK);
    assert_int_equal(mcp_store_key_verify(s, key3, strlen(key3), &p, &err),
                     MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "API key unknown");

    for (char **k = (char *[]){ key, key2, key3, NULL }; *k != NULL; k++) {
        mcp_memzero(*k, strlen(*k));
        mcp_free(*k);
    }
    mcp_store_close(s);
}

/* ---- revoked token ids ------------------------------------------------------------------ */

static void
be_tokens(void **state)
{
    backend *b = *state;
    mcp_store *s = open_be(b, 0);
    mcp_error err;
    bool rev = true;
    assert_int_equal(mcp_store_token_is_revoked(s, "j1", &rev, &err), MCP_OK);
    assert_false(rev);
    assert_int_equal(mcp_store_token_revoke(s, "j1", 0, &err), MCP_OK);
    assert_int_equal(mcp_store_token_revoke(s, "j2", 100, &err), MCP_OK);
    assert_int_equal(mcp_store_token_revoke(s, "j3", 100, &err), MCP_OK);
    assert_int_equal(mcp_store_token_revoke(s, "j3", 0, &err), MCP_OK); /* update: keep */
    assert_int_equal(mcp_store_token_revoke(s, "j4", 5000000000, &err), MCP_OK);
    assert_int_equal(mcp_store_token_revoke(s, "j5", -1, &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp_store_token_is_revoked(s, "j1", &rev, &err), MCP_OK);
    assert_true(rev);
    size_t n = 99;
    assert_int_equal(mcp_store_token_purge(s, 1000, &n, &err), MCP_OK);
    assert_int_equal(n, 1); /* j2 only */
    assert_int_equal(mcp_store_token_is_revoked(s, "j2", &rev, &err), MCP_OK);
    assert_false(rev);
    for (const char *const *j = (const char *const[]){ "j1", "j3", "j4", NULL }; *j; j++) {
        assert_int_equal(mcp_store_token_is_revoked(s, *j, &rev, &err), MCP_OK);
        assert_true(rev);
    }
    mcp_store_close(s);
}

/* ---- changes by others are seen within change_check_ms -------------------------------------- */

/* Milliseconds until check() turns true, polling every 10 ms, at most limit_ms (then -1). */
static long
wait_until(bool (*check)(mcp_store *, const char *), mcp_store *s, const char *arg,
           unsigned limit_ms)
{
    uint64_t t0 = mcp_now_ms();
    for (;;) {
        if (check(s, arg))
            return (long)(mcp_now_ms() - t0);
        if (mcp_now_ms() - t0 > limit_ms)
            return -1;
        sleep_ms(10);
    }
}

static bool
key_refused(mcp_store *s, const char *key)
{
    const mcp_principal *p = NULL;
    mcp_error err;
    mcp_status rc = mcp_store_key_verify(s, key, strlen(key), &p, &err);
    mcp_principal_unref(p);
    return rc == MCP_ERR_UNAUTHENTICATED;
}

static bool
user_disabled(mcp_store *s, const char *subject)
{
    mcp_store_user_info u;
    mcp_error err;
    bool out = mcp_store_user_lookup(s, subject, &u, &err) == MCP_OK && u.exists && !u.enabled;
    mcp_store_user_info_cleanup(&u);
    return out;
}

static bool
jti_revoked(mcp_store *s, const char *jti)
{
    bool rev = false;
    mcp_error err;
    return mcp_store_token_is_revoked(s, jti, &rev, &err) == MCP_OK && rev;
}

static void
be_two_instances_see_changes(void **state)
{
    backend *b = *state;
    mcp_store *a = open_be(b, 0);
    mcp_store *c = open_be(b, 200); /* the other instance: checks at most every 200 ms */
    mcp_error err;
    assert_int_equal(mcp_store_user_add(a, "alice", NULL, &err), MCP_OK);
    assert_int_equal(mcp_store_user_add(a, "bob", NULL, &err), MCP_OK);
    char *key = NULL;
    char id[MCP_APIKEY_ID_LEN + 1];
    assert_int_equal(mcp_store_key_create(a, "alice", NULL, 0, &key, id, &err), MCP_OK);
    long ms = wait_until(key_refused, c, key, 100);
    assert_int_equal(ms, -1); /* valid on the other instance (now cached there) */
    assert_false(jti_revoked(c, "jx"));
    assert_false(user_disabled(c, "bob"));

    /* through the library on instance a (bound: c's 200 ms, plus slack for a loaded machine) */
    assert_int_equal(mcp_store_key_revoke(a, id, &err), MCP_OK);
    assert_true(key_refused(a, key)); /* the writer sees its own change at once */
    ms = wait_until(key_refused, c, key, 2000);
    assert_true(ms >= 0 && ms <= 200 + 800);

    /* by another client altogether (psql / sqlite3): the triggers / data_version */
    raw(b, "UPDATE users SET enabled = 0 WHERE subject = 'bob'");
    ms = wait_until(user_disabled, c, "bob", 2000);
    assert_true(ms >= 0 && ms <= 200 + 800);
    assert_true(user_disabled(a, "bob")); /* check_ms 0: the very next lookup */

    /* by mcp-admin, another process */
    char admin[512];
    if (bin_path("mcp-admin", admin, sizeof admin) != NULL) {
        assert_int_equal(run_admin(b->url, "token", "revoke", "jx", NULL), 0);
        ms = wait_until(jti_revoked, c, "jx", 2000);
        assert_true(ms >= 0 && ms <= 200 + 800);
        assert_int_equal(run_admin(b->url, "user", "enable", "bob", NULL), 0);
        assert_false(user_disabled(a, "bob"));
    } else if (getenv("MCP_CI") != NULL && strcmp(getenv("MCP_CI"), "1") == 0) {
        fail_msg("MCP_BIN does not hold mcp-admin");
    }
    mcp_memzero(key, strlen(key));
    mcp_free(key);
    mcp_store_close(c);
    mcp_store_close(a);
}

/* ---- opening ---------------------------------------------------------------------------- */

static void
be_open_create_off_and_schema(void **state)
{
    backend *b = *state;
    mcp_store_opts o;
    mcp_store_opts_default(&o);
    o.create = false;
    mcp_store *s = (mcp_store *)1;
    mcp_error err;
    assert_int_equal(mcp_store_open(b->url, &o, &s, &err), MCP_ERR_STORE);
    assert_null(s);
    if (b->pg)
        assert_string_equal(err.message, "store: the database holds no store");
    s = open_be(b, 0); /* creates */
    mcp_store_close(s);
    assert_int_equal(mcp_store_open(b->url, &o, &s, &err), MCP_OK); /* migrations idempotent */
    assert_int_equal(mcp_store_schema_version(s), b->pg ? 4 : 3); /* PostgreSQL: + rate windows (3) */
    mcp_store_close(s);
    raw(b, "INSERT INTO schema_migrations(version, applied, description) VALUES (99, 0, 'x')");
    assert_int_equal(mcp_store_open(b->url, &o, &s, &err), MCP_ERR_STORE);
    assert_string_equal(err.message, b->pg ? "store: schema version 99 is newer than this library's 4"
                                           : "store: schema version 99 is newer than this library's 3");
}

/* ---- PostgreSQL only -------------------------------------------------------------------- */

static void
pg_display_name_hides_password(void **state)
{
    (void)state;
    char buf[256];
    assert_string_equal(mcp_store_display_name("postgresql://u:s3cr3t@h:5/db?sslmode=require", buf,
                                               sizeof buf),
                        "postgresql://u:***@h:5/db?sslmode=require");
    assert_string_equal(mcp_store_display_name("postgres://h/db?user=u&password=s3cr3t&x=1", buf,
                                               sizeof buf),
                        "postgres://h/db?user=u&password=***&x=1");
    assert_string_equal(mcp_store_display_name("postgresql://u@h/db", buf, sizeof buf),
                        "postgresql://u@h/db");
    assert_string_equal(mcp_store_display_name("/var/lib/mcp.db", buf, sizeof buf),
                        "/var/lib/mcp.db");
    assert_string_equal(mcp_store_display_name("postgresql://u:pw@host/d", buf, 18),
                        "postgresql://u:**"); /* truncated, still no password */
    assert_string_equal(mcp_store_display_name(NULL, buf, sizeof buf), "");
}

static void
pg_unreachable_server(void **state)
{
    (void)state;
    mcp_store *s = (mcp_store *)1;
    mcp_error err;
    assert_int_equal(mcp_store_open("postgresql://mcp:pw-not-shown@127.0.0.1:1/x", NULL, &s, &err),
                     MCP_ERR_STORE);
    assert_null(s);
    assert_non_null(strstr(err.message, "store: cannot connect:"));
    assert_null(strstr(err.message, "pw-not-shown"));
}

/* Stop the server under an open store: every lookup fails closed (no cached "valid" answer),
 * then the store recovers by itself once the server is back. */
static void
pg_fails_closed_and_recovers(void **state)
{
    backend *b = *state;
    mcp_store *s = open_be(b, 0);
    mcp_error err;
    assert_int_equal(mcp_store_user_add(s, "alice", NULL, &err), MCP_OK);
    char *key = NULL;
    assert_int_equal(mcp_store_key_create(s, "alice", NULL, 0, &key, NULL, &err), MCP_OK);
    const mcp_principal *p = NULL;
    assert_int_equal(mcp_store_key_verify(s, key, strlen(key), &p, &err), MCP_OK); /* cached */
    mcp_principal_unref(p);

    assert_int_equal(run_cluster("stop", NULL, 0), 0);
    g_pg_up = false;
    p = NULL;
    assert_int_equal(mcp_store_key_verify(s, key, strlen(key), &p, &err), MCP_ERR_STORE);
    assert_null(p);
    mcp_store_user_info u;
    assert_int_equal(mcp_store_user_lookup(s, "alice", &u, &err), MCP_ERR_STORE);
    bool rev = false;
    assert_int_equal(mcp_store_token_is_revoked(s, "j", &rev, &err), MCP_ERR_STORE);
    assert_int_equal(mcp_store_user_add(s, "bob", NULL, &err), MCP_ERR_STORE);

    assert_int_equal(run_cluster("resume", NULL, 0), 0);
    g_pg_up = true;
    assert_int_equal(mcp_store_key_verify(s, key, strlen(key), &p, &err), MCP_OK);
    mcp_principal_unref(p);
    assert_int_equal(mcp_store_user_add(s, "bob", NULL, &err), MCP_OK);
    mcp_memzero(key, strlen(key));
    mcp_free(key);
    mcp_store_close(s);
}

/* The internal helpers on PostgreSQL: placeholders, typed binds, the row count, messages that
 * name the failure but not the row (a unique violation's DETAIL quotes the values), and
 * rollback after an error inside a transaction. */
static void
pg_exec_helpers_and_errors(void **state)
{
    backend *b = *state;
    mcp_store *s = open_be(b, 1000);
    mcp_error err;
    mcp__store_conn *c = NULL;
    assert_int_equal(mcp__store_write_begin(s, &c, &err), MCP_OK);
    size_t changes = 0;
    assert_int_equal(mcp__store_exec(c, &changes, &err,
                                     "INSERT INTO users(subject, name, enabled, created)"
                                     " VALUES (?, ?, 1, ?)", "tti", "secret-subject", "x",
                                     (int64_t)5000000000),
                     MCP_OK);
    assert_int_equal(changes, 1);
    bool found = false;
    assert_int_equal(mcp__store_exists(c, &found, &err,
                                       "SELECT 1 FROM users WHERE subject = ?1 AND name = ?2"
                                       " AND created = ?3 AND '?' = '?'", "tti",
                                       "secret-subject", "x", (int64_t)5000000000),
                     MCP_OK);
    assert_true(found);
    assert_int_equal(mcp__store_exec(c, NULL, &err,
                                     "INSERT INTO users(subject, created) VALUES (?, 1)", "t",
                                     "secret-subject"),
                     MCP_ERR_STORE);
    assert_string_equal(err.message, "store: query: duplicate key value violates unique "
                                     "constraint \"users_pkey\"");
    assert_int_equal(mcp__store_write_end(s, c, MCP_ERR_STORE, &err), MCP_ERR_STORE);
    assert_int_equal(mcp__store_write_begin(s, &c, &err), MCP_OK); /* usable again */
    assert_int_equal(mcp__store_exists(c, &found, &err, "SELECT 1 FROM users WHERE subject = ?",
                                       "t", "secret-subject"),
                     MCP_OK);
    assert_false(found); /* rolled back */
    assert_int_equal(mcp__store_exec(c, NULL, &err, "SELECT ?", "x", 1), MCP_ERR_INTERNAL);
    assert_int_equal(mcp__store_exec(c, NULL, &err, "SELEKT 1", ""), MCP_ERR_STORE);
    assert_string_equal(err.message, "store: query: syntax error at or near \"SELEKT\"");
    assert_int_equal(mcp__store_write_end(s, c, MCP_ERR_STORE, &err), MCP_ERR_STORE);
    mcp_store_close(s);
}

/* Send sig to the cluster's postmaster and every child of it (our own cluster only). */
static int
signal_cluster(int sig)
{
    char path[128], line[64];
    snprintf(path, sizeof path, "%s/data/postmaster.pid", g_pg_dir);
    FILE *f = fopen(path, "r");
    if (f == NULL || fgets(line, sizeof line, f) == NULL) {
        if (f != NULL)
            fclose(f);
        return 0;
    }
    fclose(f);
    pid_t pm = (pid_t)atol(line);
    int n = 0;
    if (pm > 1 && kill(pm, sig) == 0)
        n++;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        char st[300], buf[512];
        snprintf(st, sizeof st, "/proc/%s/stat", e->d_name);
        FILE *sf = fopen(st, "r");
        if (sf == NULL)
            continue;
        size_t got = fread(buf, 1, sizeof buf - 1, sf);
        fclose(sf);
        buf[got] = '\0';
        const char *rp = strrchr(buf, ')'); /* "pid (comm) state ppid ..." */
        char state = 0;
        long ppid = 0;
        if (rp != NULL && sscanf(rp + 1, " %c %ld", &state, &ppid) == 2 && ppid == (long)pm
            && kill((pid_t)atol(e->d_name), sig) == 0)
            n++;
    }
    if (d != NULL)
        closedir(d);
    return n;
}

/* A server that hangs instead of closing its connections: the change check gives up after
 * busy_timeout_ms, so a cached key is not served while the store cannot be asked. */
static void
pg_fails_closed_when_server_hangs(void **state)
{
    backend *b = *state;
    mcp_store_opts o;
    mcp_store_opts_default(&o);
    o.change_check_ms = 0;
    o.busy_timeout_ms = 400;
    mcp_store *s = NULL;
    mcp_error err;
    assert_int_equal(mcp_store_open(b->url, &o, &s, &err), MCP_OK);
    assert_int_equal(mcp_store_user_add(s, "alice", NULL, &err), MCP_OK);
    char *key = NULL;
    assert_int_equal(mcp_store_key_create(s, "alice", NULL, 0, &key, NULL, &err), MCP_OK);
    const mcp_principal *p = NULL;
    assert_int_equal(mcp_store_key_verify(s, key, strlen(key), &p, &err), MCP_OK); /* cached */
    mcp_principal_unref(p);

    assert_true(signal_cluster(SIGSTOP) >= 2); /* the postmaster and the backends */
    uint64_t t0 = mcp_now_ms();
    p = NULL;
    mcp_status rc = mcp_store_key_verify(s, key, strlen(key), &p, &err);
    uint64_t took = mcp_now_ms() - t0;
    signal_cluster(SIGCONT);
    assert_int_equal(rc, MCP_ERR_STORE);
    assert_null(p);
    assert_string_equal(err.message, "store: change check: no answer from the server in 400 ms");
    assert_true(took >= 350 && took < 3000);
    /* back: the next check reconnects, and the key is valid again */
    assert_int_equal(mcp_store_key_verify(s, key, strlen(key), &p, &err), MCP_OK);
    mcp_principal_unref(p);
    mcp_memzero(key, strlen(key));
    mcp_free(key);
    mcp_store_close(s);
}

/* ---- the embedded authorization server's tables (src/store/store_as.c) ------------------ */

static bool
count_client(void *ctx, const mcp__store_as_client *c)
{
    (void)c;
    (*(size_t *)ctx)++;
    return true;
}

static void
be_as_tables(void **state)
{
    backend *b = *state;
    mcp_store *s = open_be(b, 0);
    mcp_error err;
    assert_int_equal(mcp_store_user_add(s, "alice", "Alice", &err), MCP_OK);
    /* passwords */
    char *h = NULL;
    assert_int_equal(mcp__store_as_password_get(s, "alice", &h, &err), MCP_OK);
    assert_null(h);
    assert_int_equal(mcp__store_as_password_set(s, "bob", "$x", &err), MCP_ERR_NOT_FOUND);
    assert_int_equal(mcp__store_as_password_set(s, "alice", "$scrypt$1", &err), MCP_OK);
    assert_int_equal(mcp__store_as_password_set(s, "alice", "$scrypt$2", &err), MCP_OK);
    assert_int_equal(mcp__store_as_password_get(s, "alice", &h, &err), MCP_OK);
    assert_string_equal(h, "$scrypt$2");
    mcp__free(h);
    /* clients */
    mcp__store_as_client c = { .id = "app", .secret_hash = "", .name = "App",
                               .redirect_uris = "http://127.0.0.1/cb", .scope = "",
                               .owner = "" };
    assert_int_equal(mcp__store_as_client_add(s, &c, &err), MCP_OK);
    assert_int_equal(mcp__store_as_client_add(s, &c, &err), MCP_ERR_STATE);
    mcp__store_as_client got;
    assert_int_equal(mcp__store_as_client_get(s, "app", &got, &err), MCP_OK);
    assert_string_equal(got.redirect_uris, "http://127.0.0.1/cb");
    assert_true(got.created > 0);
    mcp__store_as_client_cleanup(&got);
    assert_int_equal(mcp__store_as_client_get(s, "nope", &got, &err), MCP_ERR_NOT_FOUND);
    size_t n = 0;
    assert_int_equal(mcp__store_as_client_list(s, count_client, &n, &err), MCP_OK);
    assert_int_equal(n, 1);
    /* codes: single use, times past 2038 fit */
    int64_t now = mcp__unix_now(), far = (int64_t)1 << 33;
    mcp__store_as_grant g = { .client_id = "app", .subject = "alice", .redirect_uri = "r",
                              .challenge = "ch", .resource = "http://x/mcp", .scope = "a b",
                              .expires = far };
    assert_int_equal(mcp__store_as_code_put(s, "code1", &g, &err), MCP_OK);
    mcp__store_as_take res;
    mcp__store_as_grant out;
    assert_int_equal(mcp__store_as_code_take(s, "code1", now, &res, &out, &err), MCP_OK);
    assert_int_equal(res, MCP__AS_TAKE_OK);
    assert_int_equal(out.expires, far);
    assert_string_equal(out.scope, "a b");
    mcp__store_as_grant_cleanup(&out);
    assert_int_equal(mcp__store_as_code_set_family(s, "code1", "fam", &err), MCP_OK);
    /* refresh tokens: rotation, then reuse revokes the family and its access tokens */
    g.family = "fam";
    assert_int_equal(mcp__store_as_refresh_put(s, "rt1", &g, "jti1", far, now, &err), MCP_OK);
    assert_int_equal(mcp__store_as_refresh_take(s, "rt1", now, &res, &out, &err), MCP_OK);
    assert_int_equal(res, MCP__AS_TAKE_OK);
    mcp__store_as_grant_cleanup(&out);
    assert_int_equal(mcp__store_as_refresh_put(s, "rt2", &g, "jti2", far, now, &err), MCP_OK);
    char *fam = NULL, *cid = NULL;
    assert_int_equal(mcp__store_as_refresh_owner(s, "rt2", &fam, &cid, &err), MCP_OK);
    assert_string_equal(fam, "fam");
    assert_string_equal(cid, "app");
    mcp__free(fam);
    mcp__free(cid);
    /* the code presented again revokes the family it started */
    assert_int_equal(mcp__store_as_code_take(s, "code1", now, &res, &out, &err), MCP_OK);
    assert_int_equal(res, MCP__AS_TAKE_REUSED);
    bool revoked = false;
    assert_int_equal(mcp__store_as_family_is_revoked(s, "fam", &revoked, &err), MCP_OK);
    assert_true(revoked);
    assert_int_equal(mcp__store_as_refresh_take(s, "rt2", now, &res, &out, &err), MCP_OK);
    assert_int_equal(res, MCP__AS_TAKE_REUSED);
    mcp__store_as_grant_cleanup(&out);
    assert_int_equal(mcp_store_token_is_revoked(s, "jti1", &revoked, &err), MCP_OK);
    assert_true(revoked);
    assert_int_equal(mcp_store_token_is_revoked(s, "jti2", &revoked, &err), MCP_OK);
    assert_true(revoked);
    assert_int_equal(mcp__store_as_client_remove(s, "app", &err), MCP_OK);
    assert_int_equal(mcp__store_as_client_remove(s, "app", &err), MCP_ERR_NOT_FOUND);
    mcp_store_close(s);
}

int
main(void)
{
    const struct CMUnitTest both[] = {
        cmocka_unit_test_setup_teardown(be_users_and_roles, be_setup, be_teardown),
        cmocka_unit_test_setup_teardown(be_api_keys, be_setup, be_teardown),
        cmocka_unit_test_setup_teardown(be_tokens, be_setup, be_teardown),
        cmocka_unit_test_setup_teardown(be_two_instances_see_changes, be_setup, be_teardown),
        cmocka_unit_test_setup_teardown(be_open_create_off_and_schema, be_setup, be_teardown),
        cmocka_unit_test_setup_teardown(be_as_tables, be_setup, be_teardown),
    };
    const struct CMUnitTest pg_only[] = {
        cmocka_unit_test(pg_display_name_hides_password),
        cmocka_unit_test(pg_unreachable_server),
        cmocka_unit_test_setup_teardown(pg_exec_helpers_and_errors, be_setup, be_teardown),
        cmocka_unit_test_setup_teardown(pg_fails_closed_when_server_hangs, be_setup, be_teardown),
        cmocka_unit_test_setup_teardown(pg_fails_closed_and_recovers, be_setup, be_teardown),
    };
    signal(SIGPIPE, SIG_IGN);
    int failed = cmocka_run_group_tests_name("store on SQLite", both, NULL, NULL);
    int up = pg_cluster_start("0");
    if (up != 0)
        return up < 0 ? 1 : failed;
    g_use_pg = true;
    failed += cmocka_run_group_tests_name("store on PostgreSQL", both, NULL, NULL);
    failed += cmocka_run_group_tests_name("PostgreSQL only", pg_only, NULL, NULL);
    return failed;
}
