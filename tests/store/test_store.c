/* The SQLite store: migrations, users, roles, revoked tokens, cache invalidation and failing
 * closed. Every test uses a real store file in its own temporary directory. */
#include "test_store_util.h"
#include "test_store_pg.h"

#include "store/internal.h"

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
    assert_int_equal(mcp_store_schema_version(s), 2);
    mcp_store_close(s);
    s = open_store(t->db, 1000); /* second open: nothing to apply, nothing duplicated */
    assert_int_equal(mcp_store_schema_version(s), 2);

    struct role_seen seen = { .text = "" };
    assert_int_equal(mcp_store_role_list(s, collect_role, &seen, NULL), MCP_OK);
    assert_string_equal(seen.text, "admin:Admin.Write,User.Read,User.Write;"
                                   "guest:Guest.Read;user:User.Read,User.Write;");
    mcp_store_close(s);

    assert_int_equal(raw_int(t->db, "SELECT COUNT(*) FROM schema_migrations"), 2);
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
        if (ci_strict())                   /* in CI a missing program is a failure */
            fail_msg("MCP_CI=1: mcp-admin is required (MCP_BIN not set or mcp-admin not built)");
        fprintf(stderr, "MCP_BIN not set or mcp-admin not built: skipped\n");
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
        if (ci_strict())
            fail_msg("MCP_CI=1: mcp-admin is required (MCP_BIN not set or mcp-admin not built)");
        fprintf(stderr, "MCP_BIN not set or mcp-admin not built: mcp-admin part skipped\n");
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

/* ---- migrations on files made elsewhere, open with create off ---------------------------- */

/* A version-0 file: an SQLite database that some older tool made, without our schema. It is
 * migrated to the current version and keeps its own tables. */
static void
store_migrates_version0_file(void **state)
{
    tdir *t = *state;
    raw_sql(t->db, "CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('kept');");
    mcp_store *s = open_store(t->db, 1000);
    assert_int_equal(mcp_store_schema_version(s), 2);
    assert_int_equal(raw_int(t->db, "SELECT COUNT(*) FROM notes WHERE x = 'kept'"), 1);
    assert_int_equal(raw_int(t->db, "SELECT COUNT(*) FROM schema_migrations"), 2);
    assert_int_equal(raw_int(t->db, "SELECT COUNT(*) FROM schema_migrations WHERE version = 1 AND "
                                    "description = 'users, roles, api keys, revoked tokens; "
                                    "default roles'"),
                     1);
    /* The default roles and their permissions came with migration 1. */
    struct role_seen seen = {0};
    mcp_error err;
    assert_int_equal(mcp_store_role_list(s, collect_role, &seen, &err), MCP_OK);
    assert_string_equal(seen.text, "admin:Admin.Write,User.Read,User.Write;guest:Guest.Read;"
                                   "user:User.Read,User.Write;");
    mcp_store_close(s);
    assert_int_equal(mcp_store_schema_version(NULL), 0);
}

/* A migration that fails leaves the file exactly as it was: not even the schema_migrations
 * table is created (one transaction). */
static void
store_failed_migration_rolls_back(void **state)
{
    tdir *t = *state;
    raw_sql(t->db, "CREATE TABLE users (legacy INTEGER);");
    mcp_store *s = NULL;
    mcp_error err;
    mcp_error_clear(&err);
    assert_int_equal(mcp_store_open(t->db, NULL, &s, &err), MCP_ERR_STORE);
    assert_null(s);
    assert_string_equal(err.message, "store: migration 1 failed: table users already exists");
    assert_int_equal(raw_int(t->db, "SELECT COUNT(*) FROM sqlite_master WHERE name = "
                                    "'schema_migrations' OR name = 'roles'"),
                     0);
    assert_int_equal(raw_int(t->db, "SELECT COUNT(*) FROM pragma_table_info('users') WHERE "
                                    "name = 'legacy'"),
                     1);
}

static void
store_open_create_off_and_messages(void **state)
{
    tdir *t = *state;
    mcp_store_opts o;
    mcp_store_opts_default(&o);
    assert_true(o.create);
    assert_int_equal(o.readers, 4);
    assert_int_equal(o.cache_max, 8192);
    assert_int_equal(o.change_check_ms, 1000);
    o.create = false;
    mcp_store *s = (mcp_store *)1;
    mcp_error err;
    assert_int_equal(mcp_store_open(t->db, &o, &s, &err), MCP_ERR_STORE);
    assert_null(s);
    assert_string_equal(err.message, "store: open: unable to open database file");
    assert_int_equal(access(t->db, F_OK), -1);
    o.readers = 65;
    assert_int_equal(mcp_store_open(t->db, &o, &s, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "store readers must be 1..64");
    assert_int_equal(mcp_store_open("", NULL, &s, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "store path is missing");
    /* Created once, the same file opens with create off. */
    mcp_store_close(open_store(t->db, 1000));
    o.readers = 1;
    assert_int_equal(mcp_store_open(t->db, &o, &s, &err), MCP_OK);
    assert_int_equal(mcp_store_schema_version(s), 2);
    mcp_store_close(s);
    /* A dangling symbolic link is refused, not followed. */
    char link[160], target[160];
    snprintf(link, sizeof link, "%s/link.db", t->dir);
    snprintf(target, sizeof target, "%s/nowhere.db", t->dir);
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(mcp_store_open(link, NULL, &s, &err), MCP_ERR_STORE);
    assert_string_equal(err.message, "store: the path is a dangling symbolic link");
    assert_int_equal(access(target, F_OK), -1);
    unlink(link);
}

/* ---- CRUD round trips ------------------------------------------------------------------- */

struct key_seen {
    char    text[1024];
    int64_t expires[8];
    int64_t revoked[8];
    size_t  n;
};

static bool
collect_key(void *ctx, const mcp_store_key *k)
{
    struct key_seen *s = ctx;
    size_t len = strlen(s->text);
    snprintf(s->text + len, sizeof s->text - len, "%s:%s;", k->owner, k->label);
    if (s->n < 8) {
        s->expires[s->n] = k->expires;
        s->revoked[s->n] = k->revoked;
    }
    s->n++;
    return true;
}

static void
store_users_roles_keys_round_trip(void **state)
{
    tdir *t = *state;
    mcp_store *s = open_store(t->db, 0);
    mcp_error err;
    const char *ops[] = {"Ops.Read", "Ops.Write", NULL};
    assert_int_equal(mcp_store_role_set_permissions(s, "ops", ops, &err), MCP_OK);
    const char *roles[] = {"ops", "guest", NULL};
    assert_int_equal(mcp_store_user_add_with_roles(s, "bob", "Bob B", roles, &err), MCP_OK);
    assert_int_equal(mcp_store_user_add(s, "amy", NULL, &err), MCP_OK);
    mcp_error_clear(&err);
    assert_int_equal(mcp_store_user_add(s, "amy", "again", &err), MCP_ERR_STATE);
    assert_string_equal(err.message, "user already exists");

    struct user_seen us;
    memset(&us, 0, sizeof us);
    assert_int_equal(mcp_store_user_list(s, collect_user, &us, &err), MCP_OK);
    assert_string_equal(us.text, "amy(,on):;bob(Bob B,on):guest,ops;");

    /* Replace a role's permissions: the user's effective permissions follow. */
    const char *ops2[] = {"Ops.Admin", NULL};
    assert_int_equal(mcp_store_role_set_permissions(s, "ops", ops2, &err), MCP_OK);
    mcp_store_user_info u;
    assert_int_equal(mcp_store_user_lookup(s, "bob", &u, &err), MCP_OK);
    char buf[256];
    perms_text(&u, buf, sizeof buf);
    assert_string_equal(buf, "Guest.Read,Ops.Admin");
    assert_string_equal(u.name, "Bob B");
    mcp_store_user_info_cleanup(&u);

    /* Revoke a role not granted; grant idempotent; remove a role removes its grants. */
    mcp_error_clear(&err);
    assert_int_equal(mcp_store_role_revoke(s, "amy", "ops", &err), MCP_ERR_NOT_FOUND);
    assert_string_equal(err.message, "user does not have that role");
    assert_int_equal(mcp_store_role_grant(s, "amy", "ops", &err), MCP_OK);
    assert_int_equal(mcp_store_role_grant(s, "amy", "ops", &err), MCP_OK);
    mcp_error_clear(&err);
    assert_int_equal(mcp_store_role_grant(s, "amy", "nosuch", &err), MCP_ERR_NOT_FOUND);
    assert_string_equal(err.message, "no such role");
    mcp_error_clear(&err);
    assert_int_equal(mcp_store_role_grant(s, "zed", "ops", &err), MCP_ERR_NOT_FOUND);
    assert_string_equal(err.message, "no such user");
    assert_int_equal(mcp_store_role_remove(s, "ops", &err), MCP_OK);
    mcp_error_clear(&err);
    assert_int_equal(mcp_store_role_remove(s, "ops", &err), MCP_ERR_NOT_FOUND);
    assert_string_equal(err.message, "no such role");
    memset(&us, 0, sizeof us);
    assert_int_equal(mcp_store_user_list(s, collect_user, &us, &err), MCP_OK);
    assert_string_equal(us.text, "amy(,on):;bob(Bob B,on):guest;");

    /* Keys: create, list by owner and all, revoke, expire, owner removed. */
    char *k1 = NULL, *k2 = NULL, *k3 = NULL;
    char id1[MCP_APIKEY_ID_LEN + 1], id2[MCP_APIKEY_ID_LEN + 1];
    assert_int_equal(mcp_store_key_create(s, "bob", "laptop", 0, &k1, id1, &err), MCP_OK);
    assert_int_equal(mcp_store_key_create(s, "bob", "ci", 3600, &k2, id2, &err), MCP_OK);
    assert_int_equal(mcp_store_key_create(s, "amy", "", 0, &k3, NULL, &err), MCP_OK);
    assert_true(mcp_apikey_looks_like(k1));
    assert_int_equal(strncmp(k1 + 4, id1, strlen(id1)), 0); /* mcp_<id>_<secret> */
    mcp_error_clear(&err);
    char *kx = NULL;
    assert_int_equal(mcp_store_key_create(s, "zed", "x", 0, &kx, NULL, &err), MCP_ERR_NOT_FOUND);
    assert_string_equal(err.message, "no such user");
    assert_null(kx);
    /* Listed by owner, then creation time (pinned here: both were made in the same second). */
    char sql[256];
    snprintf(sql, sizeof sql, "UPDATE api_keys SET created = 100 WHERE id = '%s';"
                              "UPDATE api_keys SET created = 200 WHERE id = '%s'", id1, id2);
    raw_sql(t->db, sql);
    struct key_seen ks;
    memset(&ks, 0, sizeof ks);
    assert_int_equal(mcp_store_key_list(s, "bob", collect_key, &ks, &err), MCP_OK);
    assert_int_equal(ks.n, 2);
    assert_string_equal(ks.text, "bob:laptop;bob:ci;");
    assert_int_equal(ks.expires[0], 0);
    assert_true(ks.expires[1] > 0);
    memset(&ks, 0, sizeof ks);
    assert_int_equal(mcp_store_key_list(s, NULL, collect_key, &ks, &err), MCP_OK);
    assert_string_equal(ks.text, "amy:;bob:laptop;bob:ci;");
    /* No secret in the file: only its 32-byte hash. */
    assert_int_equal(raw_int(t->db, "SELECT COUNT(*) FROM api_keys WHERE length(hash) = 32"), 3);

    const mcp_principal *p = NULL;
    assert_int_equal(mcp_store_key_verify(s, k1, strlen(k1), &p, &err), MCP_OK);
    assert_string_equal(mcp_principal_subject(p), "bob");
    assert_string_equal(mcp_principal_name(p), "Bob B");
    mcp_principal_unref(p);
    assert_int_equal(mcp_store_key_revoke(s, id1, &err), MCP_OK);
    mcp_error_clear(&err);
    assert_int_equal(mcp_store_key_verify(s, k1, strlen(k1), &p, &err), MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "API key revoked");
    assert_null(strstr(err.message, k1 + 4)); /* never the key */
    memset(&ks, 0, sizeof ks);
    assert_int_equal(mcp_store_key_list(s, "bob", collect_key, &ks, &err), MCP_OK);
    assert_true(ks.revoked[0] > 0); /* the row stays, for listing */
    mcp_error_clear(&err);
    char other[MCP_APIKEY_ID_LEN + 1];
    memcpy(other, id1, sizeof other);
    other[0] = other[0] == 'a' ? 'b' : 'a';
    assert_int_equal(mcp_store_key_revoke(s, other, &err), MCP_ERR_NOT_FOUND);
    assert_string_equal(err.message, "no such key");
    mcp_error_clear(&err);
    assert_int_equal(mcp_store_key_revoke(s, "short", &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "key id malformed");

    snprintf(sql, sizeof sql, "UPDATE api_keys SET expires = 1 WHERE id = '%s'", id2);
    raw_sql(t->db, sql);
    mcp_error_clear(&err);
    assert_int_equal(mcp_store_key_verify(s, k2, strlen(k2), &p, &err), MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "API key expired");
    /* A wrong secret for a known id. */
    k3[strlen(k3) - 1] = k3[strlen(k3) - 1] == 'A' ? 'B' : 'A';
    mcp_error_clear(&err);
    assert_int_equal(mcp_store_key_verify(s, k3, strlen(k3), &p, &err), MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "API key secret does not match");

    /* Removing a user removes its keys (cascade) and its grants. */
    assert_int_equal(mcp_store_user_remove(s, "bob", &err), MCP_OK);
    mcp_error_clear(&err);
    assert_int_equal(mcp_store_user_remove(s, "bob", &err), MCP_ERR_NOT_FOUND);
    assert_string_equal(err.message, "no such user");
    assert_int_equal(raw_int(t->db, "SELECT COUNT(*) FROM api_keys WHERE owner = 'bob'"), 0);
    assert_int_equal(raw_int(t->db, "SELECT COUNT(*) FROM user_roles WHERE subject = 'bob'"), 0);
    mcp_error_clear(&err);
    assert_int_equal(mcp_store_key_verify(s, k2, strlen(k2), &p, &err), MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "API key unknown");
    for (char **k = (char *[]){k1, k2, k3, NULL}; *k != NULL; k++) {
        mcp_memzero(*k, strlen(*k));
        mcp_free(*k);
    }
    mcp_store_close(s);
}

static void
store_revoked_jti_expiry(void **state)
{
    tdir *t = *state;
    mcp_store *s = open_store(t->db, 1000);
    mcp_error err;
    /* A later revoke of the same jti updates its expiry (idempotent). */
    assert_int_equal(mcp_store_token_revoke(s, "j", 100, &err), MCP_OK);
    assert_int_equal(mcp_store_token_revoke(s, "j", 500, &err), MCP_OK);
    assert_int_equal(raw_int(t->db, "SELECT expires FROM revoked_tokens WHERE jti = 'j'"), 500);
    size_t n = 99;
    assert_int_equal(mcp_store_token_purge(s, 500, &n, &err), MCP_OK);
    assert_int_equal(n, 0); /* expires == now is not yet before now */
    assert_int_equal(mcp_store_token_purge(s, 501, NULL, &err), MCP_OK);
    bool r = true;
    assert_int_equal(mcp_store_token_is_revoked(s, "j", &r, &err), MCP_OK);
    assert_false(r);
    mcp_error_clear(&err);
    assert_int_equal(mcp_store_token_revoke(s, "j", -1, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "expires is negative");
    mcp_store_close(s);
}

/* ---- internal helpers of store.c ---------------------------------------------------------- */

static void
store_text_checks(void **state)
{
    (void)state;
    mcp_error err;
    assert_int_equal(mcp__store_check_text("subject", NULL, 10, false, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "subject is missing");
    assert_int_equal(mcp__store_check_text("subject", "", 10, false, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "subject is empty");
    assert_int_equal(mcp__store_check_text("name", "", 10, true, &err), MCP_OK);
    assert_int_equal(mcp__store_check_text("name", "0123456789", 10, false, &err), MCP_OK);
    assert_int_equal(mcp__store_check_text("name", "0123456789x", 10, false, &err),
                     MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "name is longer than 10 bytes");
    assert_int_equal(mcp__store_check_text("name", "a\nb", 10, false, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "name contains a control character");
    assert_int_equal(mcp__store_check_text("name", "a\x7f", 10, false, &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp__store_check_text("name", "caf\xc3\xa9", 10, false, &err), MCP_OK);

    assert_int_equal(mcp__store_check_role("team.ops:read-1_x", &err), MCP_OK);
    assert_int_equal(mcp__store_check_role("a b", &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "role may contain only letters, digits and . _ : -");
    char longrole[MCP_STORE_ROLE_MAX + 2];
    memset(longrole, 'r', sizeof longrole - 1);
    longrole[sizeof longrole - 1] = '\0';
    assert_int_equal(mcp__store_check_role(longrole, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "role is longer than 64 bytes");
    assert_int_equal(mcp__store_check_permission("tools:call/x*", &err), MCP_OK);
    assert_int_equal(mcp__store_check_permission("a b", &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "permission must be printable ASCII without spaces");
    assert_int_equal(mcp__store_check_permission("caf\xc3\xa9", &err), MCP_ERR_INVALID_ARG);
    assert_int_equal(mcp__store_check_permission("", &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "permission is empty");
}

static void
store_strlist(void **state)
{
    (void)state;
    mcp__store_strlist l;
    mcp__store_strlist_init(&l);
    /* Rows come ORDER BY permission: adjacent duplicates (two roles, one permission) go. */
    const char *in[] = {"A", "A", "B", "", "", "C", "A"};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
        assert_int_equal(mcp__store_strlist_add(&l, in[i]), MCP_OK);
    assert_int_equal(l.n, 5);
    const char **a = mcp__store_strlist_array(&l);
    assert_string_equal(a[0], "A");
    assert_string_equal(a[1], "B");
    assert_string_equal(a[2], "");
    assert_string_equal(a[3], "C");
    assert_string_equal(a[4], "A");
    assert_null(a[5]);
    mcp__free(a);
    mcp__store_strlist_cleanup(&l);
    assert_int_equal(l.n, 0);
}

static void
store_exec_helpers_and_rollback(void **state)
{
    tdir *t = *state;
    mcp_store *s = open_store(t->db, 1000);
    mcp_error err;
    mcp__store_conn *c = NULL;
    assert_int_equal(mcp__store_write_begin(s, &c, &err), MCP_OK);
    size_t changes = 0;
    assert_int_equal(mcp__store_exec(c, &changes, &err,
                                     "INSERT INTO users(subject, name, enabled, created)"
                                     " VALUES (?, ?, 1, ?)",
                                     "tti", "rolled", "back", (int64_t)5),
                     MCP_OK);
    assert_int_equal(changes, 1);
    bool found = false;
    assert_int_equal(mcp__store_exists(c, &found, &err, "SELECT 1 FROM users WHERE subject = ?",
                                       "t", "rolled"),
                     MCP_OK);
    assert_true(found);
    /* An unknown bind type is an error, not a guess. */
    assert_int_equal(mcp__store_exec(c, NULL, &err, "SELECT ?", "x", 1), MCP_ERR_STORE);
    assert_int_equal(strncmp(err.message, "store: bind: ", 13), 0);
    assert_int_equal(mcp__store_exec(c, NULL, &err, "SELEKT 1", ""), MCP_ERR_STORE);
    assert_string_equal(err.message, "store: prepare: near \"SELEKT\": syntax error");
    /* A constraint violation is reported as a failed write. */
    assert_int_equal(mcp__store_exec(c, NULL, &err,
                                     "INSERT INTO users(subject, created) VALUES (?, 1)", "t",
                                     "rolled"),
                     MCP_ERR_STORE);
    assert_string_equal(err.message, "store: write: UNIQUE constraint failed: users.subject");
    /* Ending with an error rolls everything back and leaves the generation alone. */
    uint64_t g = atomic_load(&s->gen);
    assert_int_equal(mcp__store_write_end(s, c, MCP_ERR_STORE, &err), MCP_ERR_STORE);
    assert_int_equal(atomic_load(&s->gen), g);
    assert_int_equal(raw_int(t->db, "SELECT COUNT(*) FROM users WHERE subject = 'rolled'"), 0);
    assert_int_equal(mcp__store_write_end(s, NULL, MCP_ERR_STATE, &err), MCP_ERR_STATE);
    /* NULL binds as NULL. */
    assert_int_equal(mcp__store_write_begin(s, &c, &err), MCP_OK);
    assert_int_equal(mcp__store_exists(c, &found, &err, "SELECT 1 WHERE ? IS NULL AND ? IS NULL",
                                       "tn", (const char *)NULL),
                     MCP_OK);
    assert_true(found);
    assert_int_equal(mcp__store_write_end(s, c, MCP_OK, &err), MCP_OK);
    assert_true(atomic_load(&s->gen) > g); /* a commit bumps it */
    mcp_store_invalidate(s);
    mcp_store_invalidate(NULL);
    mcp_store_close(s);
    mcp_store_close(NULL);
}

/* The row helpers both backends are driven through (here on SQLite): a query with every bind
 * type, each column accessor, the end of the rows, a hot-path statement prepared once and
 * reused, the error texts; the reader pool; the change check and the generation. */
static void
store_row_helpers_and_change_check(void **state)
{
    tdir *t = *state;
    mcp_store *s = open_store(t->db, 0);             /* 0: check for changes on every call */
    mcp_error err;
    mcp_error_clear(&err);
    mcp__store_conn *c = mcp__store_reader_acquire(s);
    assert_non_null(c);
    static const unsigned char bytes[] = { 0x00, 0xff, 0x10 };
    mcp__store_rows r;
    assert_int_equal(mcp__store_query(c, &r, &err, "SELECT ?, ?, ?, ?, ?", "tinbt", "text",
                                      (int64_t)-42, bytes, sizeof bytes, (const char *)NULL),
                     MCP_OK);
    bool row = false;
    assert_int_equal(mcp__store_next(&r, &row, "read", &err), MCP_OK);
    assert_true(row);
    assert_string_equal(mcp__store_text(&r, 0), "text");
    assert_false(mcp__store_is_null(&r, 0));
    assert_int_equal(mcp__store_int(&r, 1), -42);
    assert_true(mcp__store_is_null(&r, 2));          /* 'n' */
    assert_null(mcp__store_text(&r, 2));
    assert_int_equal(mcp__store_int(&r, 2), 0);
    size_t len = 99;
    const unsigned char *b = mcp__store_blob(&r, 3, &len);
    assert_int_equal(len, sizeof bytes);
    assert_memory_equal(b, bytes, sizeof bytes);
    assert_true(mcp__store_is_null(&r, 4));          /* a NULL 't' binds as NULL */
    assert_int_equal(mcp__store_next(&r, &row, "read", &err), MCP_OK);
    assert_false(row);                               /* one row only */
    mcp__store_rows_end(&r);
    mcp__store_rows_end(&r);                         /* twice is fine */
    mcp__store_rows z;
    memset(&z, 0, sizeof z);
    mcp__store_rows_end(&z);                         /* and on a zeroed one */

    /* errors: bad SQL, an unknown bind type, next without a statement */
    assert_int_equal(mcp__store_query(c, &r, &err, "SELEKT ?", "t", "x"), MCP_ERR_STORE);
    assert_string_equal(err.message, "store: prepare: near \"SELEKT\": syntax error");
    assert_null(r.st);
    mcp__store_rows_end(&r);
    assert_int_equal(mcp__store_query(c, &r, &err, "SELECT ?", "q", "x"), MCP_ERR_STORE);
    assert_int_equal(strncmp(err.message, "store: bind: ", 13), 0);
    mcp__store_rows_end(&r);
    z.c = c;
    assert_int_equal(mcp__store_next(&z, &row, "lookup", &err), MCP_ERR_STORE);
    assert_string_equal(err.message, "store: lookup: no statement");
    assert_false(row);
    assert_null(mcp__store_prepare(c, &err, "SELECT * FROM no_such_table", ""));
    assert_string_equal(err.message, "store: prepare: no such table: no_such_table");
    assert_int_equal(mcp__store_conn_error(&err, c, "probe"), MCP_ERR_STORE);
    assert_string_equal(err.message, "store: probe: no such table: no_such_table");
    assert_int_equal(mcp__store_db_error(&err, NULL, "open"), MCP_ERR_STORE);
    assert_string_equal(err.message, "store: open: no connection");
    sqlite3_stmt *st = mcp__store_prepare(c, &err, "SELECT ? + ?", "ii", (int64_t)2, (int64_t)3);
    assert_non_null(st);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(st, 0), 5);
    sqlite3_finalize(st);

    /* a hot-path statement: its SQL, prepared once, reset and unbound by rows_end */
    assert_string_equal(mcp__store_stmt_sql(MCP__ST_JTI_GET),
                        "SELECT 1 FROM revoked_tokens WHERE jti = ?1");
    sqlite3_stmt *hot = mcp__store_stmt(c, MCP__ST_JTI_GET, &err);
    assert_non_null(hot);
    assert_ptr_equal(mcp__store_stmt(c, MCP__ST_JTI_GET, &err), hot);
    assert_int_equal(mcp__store_query_stmt(c, &r, MCP__ST_JTI_GET, "jti-row", &err), MCP_OK);
    assert_ptr_equal(r.st, hot);
    assert_int_equal(mcp__store_next(&r, &row, "jti", &err), MCP_OK);
    assert_false(row);                               /* not revoked */
    mcp__store_rows_end(&r);
    char *x = sqlite3_expanded_sql(hot);             /* the key is no longer bound */
    assert_string_equal(x, "SELECT 1 FROM revoked_tokens WHERE jti = NULL");
    sqlite3_free(x);
    mcp__store_conn_release(c);
    assert_int_equal(mcp_store_token_revoke(s, "jti-row", 0, &err), MCP_OK);
    c = mcp__store_reader_acquire(s);
    assert_int_equal(mcp__store_query_stmt(c, &r, MCP__ST_JTI_GET, "jti-row", &err), MCP_OK);
    assert_int_equal(mcp__store_next(&r, &row, "jti", &err), MCP_OK);
    assert_true(row);                                /* the same statement, run again */
    assert_int_equal(mcp__store_int(&r, 0), 1);
    mcp__store_rows_end(&r);
    mcp__store_conn_release(c);

    /* the reader pool hands out distinct connections while each is held */
    mcp__store_conn *held[16];
    assert_true(s->nreaders >= 1 && s->nreaders <= 16);
    for (unsigned i = 0; i < s->nreaders; i++) {
        held[i] = mcp__store_reader_acquire(s);
        for (unsigned j = 0; j < i; j++)
            assert_ptr_not_equal(held[i], held[j]);
    }
    for (unsigned i = 0; i < s->nreaders; i++)
        mcp__store_conn_release(held[i]);

    /* the generation: bump adds one; the change check bumps it for another handle's commit,
     * (the revocation above counts too: the writer is another connection) and leaves it when
     * nothing changed */
    assert_int_equal(mcp__store_check_changes(s, &err), MCP_OK);
    uint64_t g = atomic_load(&s->gen);
    mcp__store_bump(s);
    assert_int_equal(atomic_load(&s->gen), g + 1);
    assert_int_equal(mcp__store_check_changes(s, &err), MCP_OK);
    assert_int_equal(atomic_load(&s->gen), g + 1);
    mcp_store *other = open_store(t->db, 0);
    assert_int_equal(mcp_store_user_add(other, "row-user", NULL, &err), MCP_OK);
    mcp_store_close(other);
    assert_int_equal(mcp__store_check_changes(s, &err), MCP_OK);
    assert_true(atomic_load(&s->gen) > g + 1);
    g = atomic_load(&s->gen);
    assert_int_equal(mcp__store_check_changes(s, &err), MCP_OK);
    assert_int_equal(atomic_load(&s->gen), g);
    /* the file removed: fail closed */
    assert_int_equal(unlink(t->db), 0);
    assert_int_equal(mcp__store_check_changes(s, &err), MCP_ERR_STORE);
    assert_string_equal(err.message, "store: file missing or replaced since open");
    assert_false(atomic_load(&s->healthy));
    mcp_store_close(s);
}

/* The same tests on PostgreSQL: *state is a tdir whose db is the cluster's URI, on an empty
 * store database. */
static int
pg_setup(void **state)
{
    if (!g_pg_up)
        return -1;
    tdir *t = calloc(1, sizeof *t);
    if (t == NULL)
        return -1;
    size_t n = strlen(g_pg_url);
    if (n >= sizeof t->db) {
        free(t);
        return -1;
    }
    tdir_make(t);
    pg_reset_schema();
    memcpy(t->db, g_pg_url, n + 1);
    *state = t;
    return 0;
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
        cmocka_unit_test_setup_teardown(store_migrates_version0_file, tdir_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(store_failed_migration_rolls_back, tdir_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(store_open_create_off_and_messages, tdir_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(store_users_roles_keys_round_trip, tdir_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(store_revoked_jti_expiry, tdir_setup, tdir_teardown),
        cmocka_unit_test(store_text_checks),
        cmocka_unit_test(store_strlist),
        cmocka_unit_test_setup_teardown(store_exec_helpers_and_rollback, tdir_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(store_row_helpers_and_change_check, tdir_setup,
                                        tdir_teardown),
    };
    int failed = cmocka_run_group_tests_name("store on SQLite", tests, NULL, NULL);

    /* Every test above that does not look inside the SQLite file, on PostgreSQL (the
     * PostgreSQL-specific ones are in test_store_backends.c). */
    const struct CMUnitTest on_pg[] = {
        cmocka_unit_test_setup_teardown(store_user_add_disable_enable, pg_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(store_rejects_bad_input, pg_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(store_user_list_and_atomic_add, pg_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(store_role_grant_revoke_and_union, pg_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(store_token_revoke_and_purge, pg_setup, tdir_teardown),
        cmocka_unit_test_setup_teardown(store_cache_sees_change_after_interval, pg_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(store_cache_sees_mcp_admin_changes, pg_setup,
                                        tdir_teardown),
        cmocka_unit_test_setup_teardown(store_snapshot_outlives_invalidation, pg_setup,
                                        tdir_teardown),
    };
    int up = pg_cluster_start("0");
    if (up != 0)
        return up < 0 ? 1 : failed;
    return failed + cmocka_run_group_tests_name("store on PostgreSQL", on_pg, NULL, NULL);
}
