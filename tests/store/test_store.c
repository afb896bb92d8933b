/* The SQLite store: migrations, users, roles, revoked tokens, cache invalidation and failing
 * closed. Every test uses a real store file in its own temporary directory. */
#include "test_store_util.h"

#include <sys/stat.h>

struct role_seen {
    char   text[512];
    size_t n;
    size_t stop_after;
};

static bool
collect_role(void *ctx, const mcp_store_role *r)
{
    struct role_seen *s = ctx;
    size_t len = strlen(s->text);
    len += (size_t)snprintf(s->text + len, sizeof s->text - len, "%s:", r->name);
    for (size_t i = 0; i < r->n_permissions; i++)
        len += (size_t)snprintf(s->text + len, sizeof s->text - len, "%s%s", i ? "," : "",
                                r->permissions[i]);
    assert_null(r->permissions[r->n_permissions]);
    snprintf(s->text + len, sizeof s->text - len, ";");
    s->n++;
    return s->stop_after == 0 || s->n < s->stop_after;
}

static void
perms_text(const mcp_store_user_info *u, char *buf, size_t cap)
{
    buf[0] = '\0';
    size_t len = 0;
    for (size_t i = 0; i < u->n_permissions; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? "," : "", u->permissions[i]);
    assert_null(u->permissions[u->n_permissions]);
}

/* ---- migrations ------------------------------------------------------------------------- */

static void
store_migrations_are_idempotent(void **state)
{
    tdir *t = *state;
    mcp_store *s = open_store(t->db, 1000);
    assert_int_equal(mcp_store_schema_version(s), 1);
    mcp_store_close(s);
    s = open_store(t->db, 1000); /* second open: nothing to apply, nothing duplicated */
    assert_int_equal(mcp_store_schema_version(s), 1);

    struct role_seen seen = { .text = "" };
    assert_int_equal(mcp_store_role_list(s, collect_role, &seen, NULL), MCP_OK);
    assert_string_equal(seen.text, "admin:Admin.Write,User.Read,User.Write;"
                                   "guest:Guest.Read;user:User.Read,User.Write;");
    mcp_store_close(s);

    assert_int_equal(raw_int(t->db, "SELECT COUNT(*) FROM schema_migrations"), 1);
    assert_int_equal(raw_int(t->db, "SELECT COUNT(*) FROM role_permissions"), 6);
}

static void
store_uses_wal_and_foreign_keys(void **state)
{
    tdir *t = *state;
    mcp_store *s = open_store(t->db, 1000);
    sqlite3 *h;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(t->db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(h);

    /* Foreign keys on the store's connections: removing a role removes its grants. */
    mcp_error err;
    assert_int_equal(mcp_store_user_add_with_roles(s, "u1", NULL,
                                                   (const char *const[]){ "guest", NULL }, &err),
                     MCP_OK);
    assert_int_equal(mcp_store_role_remove(s, "guest", &err), MCP_OK);
    assert_int_equal(raw_int(t->db, "SELECT COUNT(*) FROM user_roles"), 0);
    assert_int_equal(mcp_store_role_remove(s, "guest", &err), MCP_ERR_NOT_FOUND);
    mcp_store_close(s);
}

static void
store_refuses_newer_schema(void **state)
{
    tdir *t = *state;
    mcp_store_close(open_store(t->db, 1000));
    raw_sql(t->db, "INSERT INTO schema_migrations VALUES (99, 0, 'from the future')");
    mcp_store *s = NULL;
    mcp_error err;
    assert_int_equal(mcp_store_open(t->db, NULL, &s, &err), MCP_ERR_STORE);
    assert_null(s);
    assert_non_null(strstr(err.message, "newer"));
}

/* ---- users ------------------------------------------------------------------------------ */

static void
store_user_add_disable_enable(void **state)
{
    tdir *t = *state;
    mcp_store *s = open_store(t->db, 0);
    mcp_error err;
    mcp_store_user_info u;

    assert_int_equal(mcp_store_user_add(s, "alice", "Alice", &err), MCP_OK);
    assert_int_equal(mcp_store_user_add(s, "alice", "Again", &err), MCP_ERR_STATE);
    assert_string_equal(err.message, "user already exists");

    assert_int_equal(mcp_store_user_lookup(s, "alice", &u, &err), MCP_OK);
    assert_true(u.exists);
    assert_true(u.enabled);
    assert_string_equal(u.subject, "alice");
    assert_string_equal(u.name, "Alice");
    assert_int_equal(u.n_permissions, 0);
    mcp_store_user_info_cleanup(&u);

    assert_int_equal(mcp_store_user_set_enabled(s, "alice", false, &err), MCP_OK);
    assert_int_equal(mcp_store_user_lookup(s, "alice", &u, &err), MCP_OK);
    assert_true(u.exists);
    assert_false(u.enabled);
    mcp_store_user_info_cleanup(&u);

    assert_int_equal(mcp_store_user_set_enabled(s, "alice", true, &err), MCP_OK);
    assert_int_equal(mcp_store_user_lookup(s, "alice", &u, &err), MCP_OK);
    assert_true(u.enabled);
    mcp_store_user_info_cleanup(&u);

    assert_int_equal(mcp_store_user_set_enabled(s, "nobody", false, &err), MCP_ERR_NOT_FOUND);
    assert_string_equal(err.message, "no such user");

    /* Unknown subjects are a successful lookup saying "does not exist". */
    assert_int_equal(mcp_store_user_lookup(s, "nobody", &u, &err), MCP_OK);
    assert_false(u.exists);
    assert_false(u.enabled);
    assert_string_equal(u.subject, "nobody");
    mcp_store_user_info_cleanup(&u);

    assert_int_equal(mcp_store_user_remove(s, "alice", &err), MCP_OK);
    assert_int_equal(mcp_store_user_remove(s, "alice", &err), MCP_ERR_NOT_FOUND);
    assert_int_equal(mcp_store_user_lookup(s, "alice", &u, &err), MCP_OK);
    assert_false(u.exists);
    mcp_store_user_info_cleanup(&u);
    mcp_store_close(s);
}

static void
store_rejects_bad_input(void **state)
{
    tdir *t = *state;
    mcp_store *s = open_store(t->db, 1000);
    mcp_error err;
    char longsub[MCP_STORE_SUBJECT_MAX + 2];
    memset(longsub, 'a', sizeof longsub - 1);
    longsub[sizeof longsub - 1] = '\0';
    mcp_store_user_info u;

    assert_int_equal(mcp_store_user_add(s, "", NULL, &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp_store_user_add(s, NULL, NULL, &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp_store_user_add(s, "a\nb", NULL, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "subject contains a control character");
    assert_int_equal(mcp_store_user_add(s, longsub, NULL, &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp_store_user_lookup(s, longsub, &u, &err), MCP_ERR_INVALID_ARG);
    assert_false(u.exists); /* left in the init state */
    mcp_store_user_info_cleanup(&u);
    longsub[MCP_STORE_SUBJECT_MAX] = '\0'; /* exactly the maximum is fine */
    assert_int_equal(mcp_store_user_add(s, longsub, "x", &err), MCP_OK);
    assert_int_equal(mcp_store_user_add(s, "ok", "tab\there", &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp_store_role_set_permissions(s, "bad role", NULL, &err),
                     MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp_store_role_set_permissions(s, "ops",
                                                    (const char *const[]){ "a b", NULL }, &err),
                     MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp_store_token_revoke(s, "", 0, &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp_store_token_revoke(s, "j", -1, &err), MCP_ERR_INVALID_ARG);
    mcp_store_close(s);
}

struct user_seen {
    char   text[512];
    size_t n;
};

static bool
collect_user(void *ctx, const mcp_store_user *u)
{
    struct user_seen *s = ctx;
    size_t len = strlen(s->text);
    len += (size_t)snprintf(s->text + len, sizeof s->text - len, "%s(%s,%s):", u->subject,
                            u->name, u->enabled ? "on" : "off");
    for (size_t i = 0; i < u->n_roles; i++)
        len += (size_t)snprintf(s->text + len, sizeof s->text - len, "%s%s", i ? "," : "",
                                u->roles[i]);
    assert_null(u->roles[u->n_roles]);
    assert_true(u->created > 0);
    snprintf(s->text + len, sizeof s->text - len, ";");
    s->n++;
    return true;
}

static void
store_user_list_and_atomic_add(void **state)
{
    tdir *t = *state;
    mcp_store *s = open_store(t->db, 1000);
    mcp_error err;
    assert_int_equal(mcp_store_user_add_with_roles(s, "zed", "Zed",
                                                   (const char *const[]){ "user", "admin", NULL },
                                                   &err), MCP_OK);
    assert_int_equal(mcp_store_user_add(s, "amy", NULL, &err), MCP_OK);
    assert_int_equal(mcp_store_user_set_enabled(s, "amy", false, &err), MCP_OK);
    /* An unknown role undoes the whole add. */
    assert_int_equal(mcp_store_user_add_with_roles(s, "bob", NULL,
                                                   (const char *const[]){ "user", "nope", NULL },
                                                   &err), MCP_ERR_NOT_FOUND);
    assert_string_equal(err.message, "no such role");

    struct user_seen seen = { .text = "" };
    assert_int_equal(mcp_store_user_list(s, collect_user, &seen, &err), MCP_OK);
    assert_string_equal(seen.text, "amy(,off):;zed(Zed,on):admin,user;");

    struct role_seen rs = { .text = "", .stop_after = 1 };
    assert_int_equal(mcp_store_role_list(s, collect_role, &rs, &err), MCP_OK);
    assert_int_equal(rs.n, 1); /* the callback stopped the iteration */
    mcp_store_close(s);
}

/* ---- roles ------------------------------------------------------------------------------ */

static void
store_role_grant_revoke_and_union(void **state)
{
    tdir *t = *state;
    mcp_store *s = open_store(t->db, 1000);
    mcp_error err;
    mcp_store_user_info u;
    char perms[256];

    assert_int_equal(mcp_store_user_add(s, "carol", NULL, &err), MCP_OK);
    assert_int_equal(mcp_store_role_set_permissions(
                         s, "ops", (const char *const[]){ "Ops.Run", "User.Read", NULL }, &err),
                     MCP_OK);
    assert_int_equal(mcp_store_role_grant(s, "carol", "user", &err), MCP_OK);
    assert_int_equal(mcp_store_role_grant(s, "carol", "ops", &err), MCP_OK);
    assert_int_equal(mcp_store_role_grant(s, "carol", "ops", &err), MCP_OK); /* idempotent */

    assert_int_equal(mcp_store_user_lookup(s, "carol", &u, &err), MCP_OK);
    perms_text(&u, perms, sizeof perms);
    assert_string_equal(perms, "Ops.Run,User.Read,User.Write"); /* union, sorted, no dups */
    mcp_store_user_info_cleanup(&u);

    assert_int_equal(mcp_store_role_revoke(s, "carol", "user", &err), MCP_OK);
    assert_int_equal(mcp_store_user_lookup(s, "carol", &u, &err), MCP_OK);
    perms_text(&u, perms, sizeof perms);
    assert_string_equal(perms, "Ops.Run,User.Read");
    mcp_store_user_info_cleanup(&u);

    /* Changing a role's permissions changes every holder's. */
    assert_int_equal(mcp_store_role_set_permissions(s, "ops",
                                                    (const char *const[]){ "Ops.Admin", NULL },
                                                    &err), MCP_OK);
    assert_int_equal(mcp_store_user_lookup(s, "carol", &u, &err), MCP_OK);
    perms_text(&u, perms, sizeof perms);
    assert_string_equal(perms, "Ops.Admin");
    mcp_store_user_info_cleanup(&u);

    assert_int_equal(mcp_store_role_revoke(s, "carol", "user", &err), MCP_ERR_NOT_FOUND);
    assert_string_equal(err.message, "user does not have that role");
    assert_int_equal(mcp_store_role_grant(s, "carol", "nope", &err), MCP_ERR_NOT_FOUND);
    assert_string_equal(err.message, "no such role");
    assert_int_equal(mcp_store_role_grant(s, "dave", "user", &err), MCP_ERR_NOT_FOUND);
    assert_string_equal(err.message, "no such user");
    mcp_store_close(s);
}

/* ---- revoked tokens --------------------------------------------------------------------- */

static void
store_token_revoke_and_purge(void **state)
{
    tdir *t = *state;
    mcp_store *s = open_store(t->db, 1000);
    mcp_error err;
    bool r = true;
    assert_int_equal(mcp_store_token_is_revoked(s, "jti-1", &r, &err), MCP_OK);
    assert_false(r); /* and now cached as "not revoked" */
    assert_int_equal(mcp_store_token_revoke(s, "jti-1", 1000, &err), MCP_OK);
    assert_int_equal(mcp_store_token_revoke(s, "jti-2", 0, &err), MCP_OK);
    assert_int_equal(mcp_store_token_revoke(s, "jti-3", 4000000000, &err), MCP_OK);
    /* Our own write invalidated the cache at once, interval or not. */
    assert_int_equal(mcp_store_token_is_revoked(s, "jti-1", &r, &err), MCP_OK);
    assert_true(r);
    assert_int_equal(mcp_store_token_is_revoked(s, "jti-2", &r, &err), MCP_OK);
    assert_true(r);

    size_t n = 99;
    assert_int_equal(mcp_store_token_purge(s, 2000, &n, &err), MCP_OK);
    assert_int_equal(n, 1); /* only jti-1: expired; jti-2 has no expiry; jti-3 is in the future */
    assert_int_equal(mcp_store_token_is_revoked(s, "jti-1", &r, &err), MCP_OK);
    assert_false(r);
    assert_int_equal(mcp_store_token_is_revoked(s, "jti-3", &r, &err), MCP_OK);
    assert_true(r);
    mcp_store_close(s);
}

/* ---- cache invalidation ----------------------------------------------------------------- */

static bool
lookup_enabled(mcp_store *s, const char *subject)
{
    mcp_store_user_info u;
    mcp_error err;
    assert_int_equal(mcp_store_user_lookup(s, subject, &u, &err), MCP_OK);
    bool on = u.exists && u.enabled;
    mcp_store_user_info_cleanup(&u);
    return on;
}

static void
store_cache_sees_other_connection_changes(void **state)
{
    tdir *t = *state;
    mcp_store *a = open_store(t->db, 0);      /* checks for changes before every lookup */
    mcp_store *slow = open_store(t->db, 60000); /* checks once a minute */
    mcp_store *b = open_store(t->db, 1000);   /* the "other process" */
    mcp_error err;

    assert_int_equal(mcp_store_user_add(b, "bob", NULL, &err), MCP_OK);
    assert_true(lookup_enabled(a, "bob"));
    assert_true(lookup_enabled(slow, "bob"));  /* cached from here on */

    assert_int_equal(mcp_store_user_set_enabled(b, "bob", false, &err), MCP_OK);
    assert_false(lookup_enabled(a, "bob"));    /* data_version changed: cache dropped */
    /* The slow store keeps answering from its cache within its interval: proves lookups are
     * cached rather than read from the file each time... */
    assert_true(lookup_enabled(slow, "bob"));
    /* ...until it is invalidated. */
    mcp_store_invalidate(slow);
    assert_false(lookup_enabled(slow, "bob"));

    /* Changes made with the sqlite3 shell are seen too. */
    raw_sql(t->db, "UPDATE users SET enabled = 1 WHERE subject = 'bob'");
    assert_true(lookup_enabled(a, "bob"));
    mcp_store_close(a);
    mcp_store_close(slow);
    mcp_store_close(b);
}

static void
store_cache_sees_change_after_interval(void **state)
{
    tdir *t = *state;
    mcp_store *a = open_store(t->db, 50);
    mcp_store *b = open_store(t->db, 50);
    mcp_error err;
    assert_int_equal(mcp_store_user_add(b, "eve", NULL, &err), MCP_OK);
    sleep_ms(60);
    assert_true(lookup_enabled(a, "eve"));
    assert_int_equal(mcp_store_user_set_enabled(b, "eve", false, &err), MCP_OK);
    sleep_ms(60);
    assert_false(lookup_enabled(a, "eve"));
    mcp_store_close(a);
    mcp_store_close(b);
}

static void
store_cache_sees_mcp_admin_changes(void **state)
{
    tdir *t = *state;
    char path[512];
    if (bin_path("mcp-admin", path, sizeof path) == NULL) {
        fprintf(stderr, "MCP_BIN not set or mcp-admin not built: skipped\n");
        if (getenv("MCP_CI") != NULL)      /* in CI a missing program is a failure */
            fail_msg("MCP_CI is set: mcp-admin is required");
        skip();
    }
    mcp_store *s = open_store(t->db, 0);
    mcp_error err;
    mcp_store_user_info u;
    assert_int_equal(mcp_store_user_lookup(s, "frank", &u, &err), MCP_OK);
    assert_false(u.exists); /* negative answer cached */
    mcp_store_user_info_cleanup(&u);

    assert_int_equal(run_admin(t->db, "user", "add", "frank", "--role", "guest", NULL), 0);
    assert_int_equal(mcp_store_user_lookup(s, "frank", &u, &err), MCP_OK);
    assert_true(u.exists && u.enabled);
    assert_int_equal(u.n_permissions, 1);
    assert_string_equal(u.permissions[0], "Guest.Read");
    mcp_store_user_info_cleanup(&u);

    assert_int_equal(run_admin(t->db, "user", "disable", "frank", NULL), 0);
    assert_false(lookup_enabled(s, "frank"));
    assert_int_equal(run_admin(t->db, "token", "revoke", "jti-x", NULL), 0);
    bool r = false;
    assert_int_equal(mcp_store_token_is_revoked(s, "jti-x", &r, &err), MCP_OK);
    assert_true(r);
    mcp_store_close(s);
}

static void
store_snapshot_outlives_invalidation(void **state)
{
    tdir *t = *state;
    mcp_store *s = open_store(t->db, 0);
    mcp_error err;
    assert_int_equal(mcp_store_user_add_with_roles(s, "gina", "Gina",
                                                   (const char *const[]){ "user", NULL }, &err),
                     MCP_OK);
    mcp_store_user_info u;
    assert_int_equal(mcp_store_user_lookup(s, "gina", &u, &err), MCP_OK);
    /* The store changes and the cache entry is dropped; the caller's view stays intact. */
    assert_int_equal(mcp_store_user_remove(s, "gina", &err), MCP_OK);
    assert_false(lookup_enabled(s, "gina"));
    assert_string_equal(u.name, "Gina");
    assert_int_equal(u.n_permissions, 2);
    assert_string_equal(u.permissions[1], "User.Write");
    mcp_store_user_info_cleanup(&u);
    mcp_store_user_info_cleanup(&u); /* cleanup twice is harmless */
    mcp_store_user_info_cleanup(NULL);
    mcp_store_close(s);
}

/* ---- failing closed --------------------------------------------------------------------- */

static void
store_open_fails_on_garbage_or_missing_file(void **state)
{
    tdir *t = *state;
    FILE *f = fopen(t->db, "wb");
    assert_non_null(f);
    for (int i = 0; i < 4096; i++)
        fputc((i * 7919) & 0xff, f);
    fclose(f);
    mcp_store *s = NULL;
    mcp_error err;
    assert_int_equal(mcp_store_open(t->db, NULL, &s, &err), MCP_ERR_STORE);
    assert_null(s);
    unlink(t->db);

    mcp_store_opts o;
    mcp_store_opts_default(&o);
    o.create = false;
    assert_int_equal(mcp_store_open(t->db, &o, &s, &err), MCP_ERR_STORE);
    assert_int_equal(access(t->db, F_OK), -1); /* and it did not create one */

    o.readers = 0;
    assert_int_equal(mcp_store_open(t->db, &o, &s, &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp_store_open(NULL, NULL, &s, &err), MCP_ERR_INVALID_ARG);

    /* A file we may not read (root ignores file modes, so only as a normal user). */
    mcp_store_close(open_store(t->db, 1000));
    if (geteuid() != 0) {
        assert_int_equal(chmod(t->db, 0), 0);
        assert_int_equal(mcp_store_open(t->db, NULL, &s, &err), MCP_ERR_STORE);
        assert_int_equal(chmod(t->db, 0600), 0);
    }
}

static void
assert_mode_0600(const char *path)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    if ((sb.st_mode & 0777) != 0600)
        fprintf(stderr, "%s: mode %o, want 600\n", path, (unsigned)(sb.st_mode & 0777));
    assert_int_equal(sb.st_mode & 0777, 0600);
}

/* A new store file holds credential hashes: it is created 0600 whatever the umask, and so are
 * its WAL and shared-memory files; mcp-admin creating a file does the same. */
static void
store_file_created_private(void **state)
{
    tdir *t = *state;
    mode_t old = umask(022);
    mcp_store *s = open_store(t->db, 1000);
    mcp_error err;
    assert_int_equal(mcp_store_user_add_with_roles(s, "pat", "Pat", NULL, &err), MCP_OK);
    assert_mode_0600(t->db);
    char side[160];
    snprintf(side, sizeof side, "%s-wal", t->db);
    assert_mode_0600(side);
    snprintf(side, sizeof side, "%s-shm", t->db);
    assert_mode_0600(side);
    mcp_store_close(s);

    /* an existing file keeps the mode its owner gave it */
    assert_int_equal(chmod(t->db, 0640), 0);
    mcp_store_close(open_store(t->db, 1000));
    struct stat sb;
    assert_int_equal(stat(t->db, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0640);
    tdir_remove(t);

    /* a dangling symbolic link is refused instead of creating its target under the umask */
    tdir_make(t);
    char target[160];
    snprintf(target, sizeof target, "%s/elsewhere.db", t->dir);
    assert_int_equal(symlink(target, t->db), 0);
    s = NULL;
    assert_int_equal(mcp_store_open(t->db, NULL, &s, &err), MCP_ERR_STORE);
    assert_null(s);
    assert_int_equal(access(target, F_OK), -1);
    unlink(t->db);

    /* mcp-admin on a new file */
    char path[512];
    if (bin_path("mcp-admin", path, sizeof path) != NULL) {
        assert_int_equal(run_admin(t->db, "user", "add", "quinn", NULL), 0);
        assert_mode_0600(t->db);
    } else {
        fprintf(stderr, "MCP_BIN not set or mcp-admin not built: mcp-admin part skipped\n");
        if (getenv("MCP_CI") != NULL)
            fail_msg("MCP_CI is set: mcp-admin is required");
    }
    umask(old);
}

static void
store_lookup_fails_closed_when_unreadable(void **state)
{
    tdir *t = *state;
    mcp_store *s = open_store(t->db, 0);
    mcp_error err;
    mcp_store_user_info u;
    assert_int_equal(mcp_store_user_add(s, "hank", NULL, &err), MCP_OK);
    assert_true(lookup_enabled(s, "hank")); /* cached as enabled */

    /* The tables disappear under the running server: the cached "enabled" must not be served. */
    raw_sql(t->db, "PRAGMA foreign_keys = OFF; DROP TABLE user_roles; DROP TABLE api_keys;"
                   " DROP TABLE users;");
    assert_int_equal(mcp_store_user_lookup(s, "hank", &u, &err), MCP_ERR_STORE);
    assert_false(u.exists);
    assert_false(u.enabled);
    assert_non_null(strstr(err.message, "store"));
    bool r = false;
    assert_int_equal(mcp_store_token_is_revoked(s, "j", &r, &err), MCP_OK); /* that table is fine */
    mcp_store_close(s);
}

static void
store_fails_closed_when_file_replaced(void **state)
{
    tdir *t = *state;
    mcp_store *s = open_store(t->db, 0);
    mcp_error err;
    mcp_store_user_info u;
    assert_int_equal(mcp_store_user_add(s, "ivan", NULL, &err), MCP_OK);
    assert_true(lookup_enabled(s, "ivan"));

    char moved[160];
    snprintf(moved, sizeof moved, "%s.moved", t->db);
    assert_int_equal(rename(t->db, moved), 0);
    assert_int_equal(mcp_store_user_lookup(s, "ivan", &u, &err), MCP_ERR_STORE);
    assert_false(u.enabled);
    assert_string_equal(err.message, "store: file missing or replaced since open");
    bool r = false;
    assert_int_equal(mcp_store_token_is_revoked(s, "j", &r, &err), MCP_ERR_STORE);

    /* Back in place: healthy again. */
    assert_int_equal(rename(moved, t->db), 0);
    assert_true(lookup_enabled(s, "ivan"));
    mcp_store_close(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(store_migrations_are_idempotent, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(store_uses_wal_and_foreign_keys, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(store_refuses_newer_schema, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(store_user_add_disable_enable, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(store_rejects_bad_input, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(store_user_list_and_atomic_add, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(store_role_grant_revoke_and_union, tdir_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(store_token_revoke_and_purge, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(store_cache_sees_other_connection_changes, tdir_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(store_cache_sees_change_after_interval, tdir_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(store_cache_sees_mcp_admin_changes, tdir_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(store_snapshot_outlives_invalidation, tdir_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(store_open_fails_on_garbage_or_missing_file, tdir_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(store_file_created_private, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(store_lookup_fails_closed_when_unreadable, tdir_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(store_fails_closed_when_file_replaced, tdir_setup,
                                        tdir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
