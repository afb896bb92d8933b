/*
 * The SQLite store: opening, migrations, connections, change detection and shared helpers.
 * Users/roles/tokens are in store_users.c, API keys in store_keys.c, the cache in store_cache.c.
 *
 * Connections. SQLite connections must not be used by two threads at once, so each has a mutex.
 * Lookups take any free connection of a small reader pool (WAL lets readers run in parallel with
 * each other and with the writer); writes go through one writer connection, since SQLite admits
 * one writer at a time anyway, and run in BEGIN IMMEDIATE transactions so two writers never
 * deadlock upgrading a read lock. One connection per thread (thread-local) was the alternative,
 * but the library does not own the server's threads and could not close those connections.
 *
 * Change detection. `PRAGMA data_version` on a connection changes whenever *another* connection
 * (in this process or any other, such as mcp-admin) commits. A dedicated "watch" connection that
 * never writes therefore sees every commit. It is asked at most every change_check_ms, so a cache
 * hit normally costs a clock read and a hash lookup; writes made through this mcp_store invalidate
 * the cache at once, without waiting for the next check.
 */
#include "store/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- migrations ------------------------------------------------------------------------- */

/*
 * Append-only: a released migration is never edited; a schema change is a new entry. Each runs in
 * the same transaction as its schema_migrations row, so a crash leaves either both or neither.
 */
static const struct migration {
    int         version;
    const char *description;
    const char *sql;
} migrations[] = {
    { 1, "users, roles, api keys, revoked tokens; default roles",
      "CREATE TABLE users ("
      "  subject TEXT PRIMARY KEY NOT NULL,"
      "  name    TEXT NOT NULL DEFAULT '',"
      "  enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),"
      "  created INTEGER NOT NULL);"
      "CREATE TABLE roles (name TEXT PRIMARY KEY NOT NULL);"
      "CREATE TABLE role_permissions ("
      "  role       TEXT NOT NULL REFERENCES roles(name) ON DELETE CASCADE,"
      "  permission TEXT NOT NULL,"
      "  PRIMARY KEY (role, permission));"
      "CREATE TABLE user_roles ("
      "  subject TEXT NOT NULL REFERENCES users(subject) ON DELETE CASCADE,"
      "  role    TEXT NOT NULL REFERENCES roles(name) ON DELETE CASCADE,"
      "  PRIMARY KEY (subject, role));"
      "CREATE INDEX user_roles_by_role ON user_roles(role);"
      "CREATE TABLE api_keys ("
      "  id      TEXT PRIMARY KEY NOT NULL,"
      "  hash    BLOB NOT NULL CHECK (length(hash) = 32),"
      "  owner   TEXT NOT NULL REFERENCES users(subject) ON DELETE CASCADE,"
      "  label   TEXT NOT NULL DEFAULT '',"
      "  created INTEGER NOT NULL,"
      "  expires INTEGER,"
      "  revoked INTEGER);"
      "CREATE INDEX api_keys_by_owner ON api_keys(owner);"
      "CREATE TABLE revoked_tokens ("
      "  jti     TEXT PRIMARY KEY NOT NULL,"
      "  expires INTEGER);"
      "INSERT INTO roles(name) VALUES ('admin'), ('user'), ('guest');"
      "INSERT INTO role_permissions(role, permission) VALUES"
      "  ('admin', 'Admin.Write'), ('admin', 'User.Write'), ('admin', 'User.Read'),"
      "  ('user', 'User.Write'), ('user', 'User.Read'),"
      "  ('guest', 'Guest.Read');" },
    /* The embedded authorization server's tables; the SQL is in store_as.c. */
    { 2, "authorization server: passwords, clients, codes, refresh families",
      mcp__store_as_migration_sql },
    { 3, "authorization server: private_key_jwt client keys, used assertion ids",
      mcp__store_as_migration3_sql },
};

#define N_MIGRATIONS (sizeof migrations / sizeof migrations[0])

/* ---- statements used on the hot path ---------------------------------------------------- */

/* One statement per lookup, so each answer comes from one consistent snapshot of the file.
 * ORDER BY the permission lets the reader drop duplicates (two roles granting the same one). */
static const char *const stmt_sql[MCP__ST_COUNT_] = {
    [MCP__ST_USER_GET] =
        "SELECT u.name, u.enabled, rp.permission FROM users u"
        " LEFT JOIN user_roles ur ON ur.subject = u.subject"
        " LEFT JOIN role_permissions rp ON rp.role = ur.role"
        " WHERE u.subject = ?1 ORDER BY rp.permission",
    [MCP__ST_KEY_GET] =
        "SELECT k.hash, k.owner, k.expires, k.revoked,"
        " CASE WHEN u.subject IS NULL THEN 0 ELSE 1 END, u.enabled, u.name,"
        " rp.permission FROM api_keys k"
        " LEFT JOIN users u ON u.subject = k.owner"
        " LEFT JOIN user_roles ur ON ur.subject = u.subject"
        " LEFT JOIN role_permissions rp ON rp.role = ur.role"
        " WHERE k.id = ?1 ORDER BY rp.permission",
    [MCP__ST_JTI_GET] = "SELECT 1 FROM revoked_tokens WHERE jti = ?1",
    [MCP__ST_DATA_VERSION] = "PRAGMA data_version",
};

const char *
mcp__store_stmt_sql(enum mcp__store_stmt id)
{
    return stmt_sql[id];
}

/* ---- helpers ---------------------------------------------------------------------------- */

mcp_status
mcp__store_db_error(mcp_error *err, sqlite3 *db, const char *what)
{
    return mcp_error_set(err, MCP_ERR_STORE, "store: %s: %s", what,
                         db != NULL ? sqlite3_errmsg(db) : "no connection");
}

mcp_status
mcp__store_conn_error(mcp_error *err, const mcp__store_conn *c, const char *what)
{
    if (c->pg != NULL)
        return mcp__store_pg_error(err, c, what);
    return mcp__store_db_error(err, c->db, what);
}

static mcp_status
bind_args(sqlite3_stmt *st, const char *types, va_list ap)
{
    for (int i = 0; types[i] != '\0'; i++) {
        int rc;
        switch (types[i]) {
        case 't': {
            const char *s = va_arg(ap, const char *);
            rc = s == NULL ? sqlite3_bind_null(st, i + 1)
                           : sqlite3_bind_text(st, i + 1, s, -1, SQLITE_STATIC);
            break;
        }
        case 'i':
            rc = sqlite3_bind_int64(st, i + 1, (sqlite3_int64)va_arg(ap, int64_t));
            break;
        case 'n':
            rc = sqlite3_bind_null(st, i + 1);
            break;
        case 'b': {
            const void *p = va_arg(ap, const void *);
            size_t n = va_arg(ap, size_t);
            rc = n > INT32_MAX ? SQLITE_TOOBIG
                               : sqlite3_bind_blob(st, i + 1, p, (int)n, SQLITE_STATIC);
            break;
        }
        default:
            return MCP_ERR_INTERNAL;
        }
        if (rc != SQLITE_OK)
            return MCP_ERR_STORE;
    }
    return MCP_OK;
}

static sqlite3_stmt *
prepare_v(mcp__store_conn *c, mcp_error *err, const char *sql, const char *types, va_list ap)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) {
        mcp__store_db_error(err, c->db, "prepare");
        sqlite3_finalize(st);
        return NULL;
    }
    if (bind_args(st, types, ap) != MCP_OK) {
        mcp__store_db_error(err, c->db, "bind");
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

sqlite3_stmt *
mcp__store_prepare(mcp__store_conn *c, mcp_error *err, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    sqlite3_stmt *st = prepare_v(c, err, sql, types, ap);
    va_end(ap);
    return st;
}

/* ---- result rows, either backend ------------------------------------------------------- */

mcp_status
mcp__store_query(mcp__store_conn *c, mcp__store_rows *r, mcp_error *err, const char *sql,
                 const char *types, ...)
{
    memset(r, 0, sizeof *r);
    r->c = c;
    va_list ap;
    va_start(ap, types);
    mcp_status rc = MCP_OK;
    if (c->pg != NULL) {
        rc = mcp__store_pg_query(c, r, err, sql, types, ap);
    } else {
        r->st = prepare_v(c, err, sql, types, ap);
        if (r->st == NULL)
            rc = MCP_ERR_STORE;
    }
    va_end(ap);
    return rc;
}

mcp_status
mcp__store_query_stmt(mcp__store_conn *c, mcp__store_rows *r, enum mcp__store_stmt id,
                      const char *key, mcp_error *err)
{
    memset(r, 0, sizeof *r);
    r->c = c;
    if (c->pg != NULL)
        return mcp__store_pg_query_stmt(c, r, id, key, err);
    r->st = mcp__store_stmt(c, id, err);
    if (r->st == NULL)
        return MCP_ERR_STORE;
    r->st_cached = true;
    if (sqlite3_bind_text(r->st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK)
        return mcp__store_db_error(err, c->db, "bind");
    return MCP_OK;
}

mcp_status
mcp__store_next(mcp__store_rows *r, bool *row, const char *what, mcp_error *err)
{
    *row = false;
    if (r->c->pg != NULL) {
        if (r->res == NULL)
            return mcp_error_set(err, MCP_ERR_STORE, "store: %s: no result", what);
        if (r->row + 1 < r->nrows) {
            r->row++;
            *row = true;
        } else {
            r->row = r->nrows;
        }
        return MCP_OK;
    }
    if (r->st == NULL)
        return mcp_error_set(err, MCP_ERR_STORE, "store: %s: no statement", what);
    int step = sqlite3_step(r->st);
    if (step == SQLITE_ROW) {
        *row = true;
        return MCP_OK;
    }
    if (step == SQLITE_DONE)
        return MCP_OK;
    return mcp__store_db_error(err, r->c->db, what);
}

const char *
mcp__store_text(const mcp__store_rows *r, int i)
{
    if (r->c->pg != NULL)
        return mcp__store_pg_text(r, i);
    return (const char *)sqlite3_column_text(r->st, i);
}

bool
mcp__store_is_null(const mcp__store_rows *r, int i)
{
    if (r->c->pg != NULL)
        return mcp__store_pg_text(r, i) == NULL;
    return sqlite3_column_type(r->st, i) == SQLITE_NULL;
}

int64_t
mcp__store_int(const mcp__store_rows *r, int i)
{
    if (r->c->pg == NULL)
        return sqlite3_column_int64(r->st, i);
    const char *t = mcp__store_pg_text(r, i);
    if (t == NULL)
        return 0;
    char *end = NULL;
    long long v = strtoll(t, &end, 10);
    return end != t && *end == '\0' ? (int64_t)v : 0;
}

const void *
mcp__store_blob(mcp__store_rows *r, int i, size_t *len)
{
    *len = 0;
    if (r->c->pg != NULL)
        return mcp__store_pg_blob(r, i, len);
    const void *p = sqlite3_column_blob(r->st, i);
    int n = sqlite3_column_bytes(r->st, i);
    *len = n > 0 ? (size_t)n : 0;
    return p;
}

void
mcp__store_rows_end(mcp__store_rows *r)
{
    if (r->c != NULL && r->c->pg != NULL) {
        mcp__store_pg_rows_end(r);
    } else if (r->st != NULL) {
        if (r->st_cached) {
            sqlite3_reset(r->st);
            sqlite3_clear_bindings(r->st);
        } else {
            sqlite3_finalize(r->st);
        }
    }
    r->st = NULL;
}

mcp_status
mcp__store_exec(mcp__store_conn *c, size_t *changes, mcp_error *err, const char *sql,
                const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    mcp__store_rows r;
    memset(&r, 0, sizeof r);
    r.c = c;
    mcp_status out = MCP_OK;
    if (c->pg != NULL) {
        out = mcp__store_pg_query(c, &r, err, sql, types, ap);
        if (out == MCP_OK && changes != NULL)
            *changes = mcp__store_pg_changes(&r);
        va_end(ap);
        mcp__store_rows_end(&r);
        return out;
    }
    sqlite3_stmt *st = prepare_v(c, err, sql, types, ap);
    va_end(ap);
    if (st == NULL)
        return MCP_ERR_STORE;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    if (rc != SQLITE_DONE)
        out = mcp__store_db_error(err, c->db, "write");
    else if (changes != NULL)
        *changes = (size_t)sqlite3_changes(c->db);
    sqlite3_finalize(st);
    return out;
}

mcp_status
mcp__store_exists(mcp__store_conn *c, bool *found, mcp_error *err, const char *sql,
                  const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    mcp__store_rows r;
    memset(&r, 0, sizeof r);
    r.c = c;
    mcp_status out = MCP_OK;
    *found = false;
    if (c->pg != NULL) {
        out = mcp__store_pg_query(c, &r, err, sql, types, ap);
    } else {
        r.st = prepare_v(c, err, sql, types, ap);
        if (r.st == NULL)
            out = MCP_ERR_STORE;
    }
    va_end(ap);
    if (out == MCP_OK)
        out = mcp__store_next(&r, found, "read", err);
    mcp__store_rows_end(&r);
    return out;
}

sqlite3_stmt *
mcp__store_stmt(mcp__store_conn *c, enum mcp__store_stmt id, mcp_error *err)
{
    if (c->stmts[id] == NULL) {
        /* PERSISTENT: these live as long as the connection. Prepared lazily, so a store whose
         * tables vanished still opens its pool and fails each lookup with MCP_ERR_STORE. */
        if (sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->stmts[id],
                               NULL) != SQLITE_OK) {
            mcp__store_db_error(err, c->db, "prepare");
            sqlite3_finalize(c->stmts[id]);
            c->stmts[id] = NULL;
            return NULL;
        }
    }
    return c->stmts[id];
}

mcp_status
mcp__store_check_text(const char *what, const char *s, size_t max, bool allow_empty,
                      mcp_error *err)
{
    if (s == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "%s is missing", what);
    size_t n = strnlen(s, max + 1);
    if (n == 0 && !allow_empty)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "%s is empty", what);
    if (n > max)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "%s is longer than %zu bytes", what, max);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f)
            return mcp_error_set(err, MCP_ERR_INVALID_ARG, "%s contains a control character",
                                 what);
    }
    return MCP_OK;
}

mcp_status
mcp__store_check_role(const char *role, mcp_error *err)
{
    mcp_status rc = mcp__store_check_text("role", role, MCP_STORE_ROLE_MAX, false, err);
    if (rc != MCP_OK)
        return rc;
    for (const char *p = role; *p != '\0'; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
                  || ch == '.' || ch == '_' || ch == ':' || ch == '-';
        if (!ok)
            return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                                 "role may contain only letters, digits and . _ : -");
    }
    return MCP_OK;
}

mcp_status
mcp__store_check_permission(const char *perm, mcp_error *err)
{
    mcp_status rc = mcp__store_check_text("permission", perm, MCP_STORE_PERMISSION_MAX, false, err);
    if (rc != MCP_OK)
        return rc;
    /* Permissions travel in space-separated OAuth scope strings: no spaces, printable ASCII. */
    for (const char *p = perm; *p != '\0'; p++) {
        if (*p <= ' ' || *p > '~')
            return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                                 "permission must be printable ASCII without spaces");
    }
    return MCP_OK;
}

void
mcp__store_strlist_init(mcp__store_strlist *l)
{
    mcp__buf_init(&l->bytes, 1u << 20);
    l->n = 0;
}

void
mcp__store_strlist_cleanup(mcp__store_strlist *l)
{
    mcp__buf_cleanup(&l->bytes);
    l->n = 0;
}

mcp_status
mcp__store_strlist_add(mcp__store_strlist *l, const char *s)
{
    size_t sl = strlen(s);
    if (l->n > 0) {
        /* The last entry ends at bytes.len - 1; find its start. */
        size_t end = l->bytes.len - 1, start = end;
        while (start > 0 && l->bytes.ptr[start - 1] != '\0')
            start--;
        if (end - start == sl && memcmp(l->bytes.ptr + start, s, sl) == 0)
            return MCP_OK;
    }
    mcp_status rc = mcp__buf_append(&l->bytes, s, sl + 1);
    if (rc == MCP_OK)
        l->n++;
    return rc;
}

const char **
mcp__store_strlist_array(const mcp__store_strlist *l)
{
    const char **a = mcp__calloc(l->n + 1, sizeof *a);
    if (a == NULL)
        return NULL;
    const char *p = l->bytes.ptr;
    for (size_t i = 0; i < l->n; i++) {
        a[i] = p;
        p += strlen(p) + 1;
    }
    return a;
}

/* ---- connections ------------------------------------------------------------------------ */

static void
conn_close(mcp__store_conn *c)
{
    if (c->pg != NULL) {
        mcp__store_pg_conn_close(c);
        return;
    }
    for (int i = 0; i < MCP__ST_COUNT_; i++) {
        sqlite3_finalize(c->stmts[i]);
        c->stmts[i] = NULL;
    }
    sqlite3_close_v2(c->db);
    c->db = NULL;
    pthread_mutex_destroy(&c->mu);
}

/* The file holds key hashes and the role table: create it 0600 ourselves (whatever the umask)
 * before SQLite opens it; SQLite gives its -wal and -shm files the database file's mode. An
 * existing file keeps its mode. A dangling symbolic link is refused rather than followed, as
 * SQLite would create its target under the umask. */
static mcp_status
precreate_private(const char *path, mcp_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0) {
        /* the umask only ever removes bits; fchmod makes 0600 exact either way */
        int rc = fchmod(fd, 0600);
        close(fd);
        if (rc != 0) {
            unlink(path);
            return mcp_error_set(err, MCP_ERR_STORE, "store: cannot set the file mode");
        }
        return MCP_OK;
    }
    if (errno != EEXIST)
        return mcp_error_set(err, MCP_ERR_STORE, "store: cannot create the file");
    struct stat sb;
    if (stat(path, &sb) != 0)
        return mcp_error_set(err, MCP_ERR_STORE, "store: the path is a dangling symbolic link");
    return MCP_OK;
}

/* The read lock-wait bound of o (read_timeout_ms, 0 = busy_timeout_ms), at least 1 ms. */
static unsigned
read_wait_ms(const mcp_store_opts *o)
{
    unsigned ms = o->read_timeout_ms != 0 ? o->read_timeout_ms : o->busy_timeout_ms;
    return ms != 0 ? ms : 1;
}

/* The write lock-wait bound of o: busy_timeout_ms, at least 1 ms. */
static unsigned
write_wait_ms(const mcp_store_opts *o)
{
    return o->busy_timeout_ms != 0 ? o->busy_timeout_ms : 1;
}

/* reader: a read connection (the pool, the watch), whose lock waits are bounded by
 * read_timeout_ms while a lookup holds it (store_vfs.c); else the writer, which waits up to
 * busy_timeout_ms for another writer. */
static mcp_status
conn_open(mcp__store_conn *c, const char *path, const mcp_store_opts *o, bool create,
          bool reader, mcp_error *err)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    const char *vfs = mcp__store_vfs(err);
    if (vfs == NULL)
        return MCP_ERR_STORE;
    /* NOMUTEX: our own mutex serializes each connection, so SQLite's would be redundant. */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path, &c->db, flags, vfs);
    if (rc != SQLITE_OK) {
        mcp_status st = c->db != NULL ? mcp__store_db_error(err, c->db, "open")
                                      : mcp_error_set(err, MCP_ERR_NOMEM, "store: open: no memory");
        return st;
    }
    sqlite3_extended_result_codes(c->db, 1);
    unsigned busy = reader ? read_wait_ms(o) : o->busy_timeout_ms;
    c->wait_ms = reader ? busy : 0;
    sqlite3_busy_timeout(c->db, (int)(busy > INT32_MAX ? INT32_MAX : busy));
    if (sqlite3_exec(c->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK)
        return mcp__store_db_error(err, c->db, "enable foreign keys");
    return MCP_OK;
}

mcp__store_conn *
mcp__store_reader_acquire(mcp_store *s)
{
    unsigned start = atomic_fetch_add_explicit(&s->next_reader, 1, memory_order_relaxed)
                     % s->nreaders;
    mcp__store_conn *c = NULL;
    for (unsigned i = 0; i < s->nreaders && c == NULL; i++) {
        mcp__store_conn *t = &s->readers[(start + i) % s->nreaders];
        if (pthread_mutex_trylock(&t->mu) == 0)
            c = t;
    }
    if (c == NULL) {
        c = &s->readers[start];
        pthread_mutex_lock(&c->mu);
    }
    /* from here on the lookup's own lock waits count, not the wait for the connection */
    c->wait_prev = c->wait_ms != 0 ? mcp__store_wait_begin(c->wait_ms) : 0;
    return c;
}

void
mcp__store_conn_release(mcp__store_conn *c)
{
    if (c->wait_ms != 0)
        mcp__store_wait_end(c->wait_prev);
    pthread_mutex_unlock(&c->mu);
}

/* ---- write transactions ----------------------------------------------------------------- */

void
mcp__store_bump(mcp_store *s)
{
    atomic_fetch_add(&s->gen, 1);
}

mcp_status
mcp__store_write_begin(mcp_store *s, mcp__store_conn **c, mcp_error *err)
{
    pthread_mutex_lock(&s->writer.mu);
    if (s->pg) {
        mcp_status rc = mcp__store_pg_write_begin(&s->writer, err);
        if (rc != MCP_OK) {
            pthread_mutex_unlock(&s->writer.mu);
            *c = NULL;
            return rc;
        }
        *c = &s->writer;
        return MCP_OK;
    }
    /* a write waits up to busy_timeout_ms for locks in all (the write lock, and the WAL read
     * locks, whose retry would otherwise take about 10 s whatever the busy timeout) */
    s->writer.wait_prev = mcp__store_wait_begin(write_wait_ms(&s->opts));
    if (sqlite3_exec(s->writer.db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        mcp_status rc = mcp__store_db_error(err, s->writer.db, "begin write");
        mcp__store_wait_end(s->writer.wait_prev);
        pthread_mutex_unlock(&s->writer.mu);
        *c = NULL;
        return rc;
    }
    *c = &s->writer;
    return MCP_OK;
}

mcp_status
mcp__store_write_end(mcp_store *s, mcp__store_conn *c, mcp_status rc, mcp_error *err)
{
    if (c == NULL)
        return rc;
    if (c->pg != NULL) {
        c->pg_in_tx = false;
        if (rc == MCP_OK) {
            rc = mcp__store_pg_simple(c, "COMMIT", err);
            if (rc == MCP_OK)
                mcp__store_bump(s);
        } else {
            (void)mcp__store_pg_simple(c, "ROLLBACK", NULL);
        }
        pthread_mutex_unlock(&c->mu);
        return rc;
    }
    if (rc == MCP_OK) {
        if (sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            rc = mcp__store_db_error(err, c->db, "commit");
            sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
        } else {
            mcp__store_bump(s);
        }
    } else {
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    }
    mcp__store_wait_end(c->wait_prev);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* ---- change detection ------------------------------------------------------------------- */

static mcp_status
read_data_version(mcp__store_conn *c, int64_t *out, mcp_error *err)
{
    sqlite3_stmt *st = mcp__store_stmt(c, MCP__ST_DATA_VERSION, err);
    if (st == NULL)
        return MCP_ERR_STORE;
    mcp_status rc = MCP_OK;
    if (sqlite3_step(st) == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        rc = mcp__store_db_error(err, c->db, "data_version");
    sqlite3_reset(st);
    return rc;
}

mcp_status
mcp__store_check_changes(mcp_store *s, mcp_error *err)
{
    uint64_t interval = s->opts.change_check_ms;
    bool healthy = atomic_load_explicit(&s->healthy, memory_order_acquire);
    uint64_t now = mcp_now_ms();

    if (healthy && interval > 0) {
        uint64_t last = atomic_load_explicit(&s->last_check_ms, memory_order_relaxed);
        if (now < last || now - last < interval)
            return MCP_OK;
        /* Another thread is checking right now; within the interval contract either way. */
        if (pthread_mutex_trylock(&s->watch.mu) != 0) {
            if (!atomic_load_explicit(&s->probing, memory_order_acquire))
                return MCP_OK;
            /* ... unless it is the readiness probe (mcp_store_check), which may have started
             * while the store was already failing: wait for its answer and take it, as this
             * lookup would have waited for its own check. */
            pthread_mutex_lock(&s->watch.mu);
            pthread_mutex_unlock(&s->watch.mu);
            return atomic_load_explicit(&s->healthy, memory_order_acquire)
                   ? MCP_OK
                   : mcp_error_set(err, MCP_ERR_STORE, "store: unavailable (checked just now)");
        }
    } else if (!healthy) {
        /* Failing: one thread rechecks at a time, at most every change_check_ms; the others fail
         * at once instead of queuing behind a check that waits for a lock (up to
         * read_timeout_ms: store_vfs.c). */
        uint64_t lf = atomic_load_explicit(&s->last_fail_ms, memory_order_relaxed);
        if (now >= lf && now - lf < interval)
            return mcp_error_set(err, MCP_ERR_STORE, "store: unavailable (rechecked every %u ms)",
                                 s->opts.change_check_ms);
        if (pthread_mutex_trylock(&s->watch.mu) != 0)
            return mcp_error_set(err, MCP_ERR_STORE, "store: unavailable (being rechecked)");
    } else {
        pthread_mutex_lock(&s->watch.mu);
    }

    mcp_status rc = MCP_OK;
    struct stat sb;
    if (s->pg) {
        rc = mcp__store_pg_check(s, err);
    } else if (stat(s->path, &sb) != 0 || sb.st_dev != s->file_dev
               || sb.st_ino != s->file_ino) {
        /* A file deleted or replaced (renamed over) since we opened it is no longer the store
         * the operator configured; answering from the old inode would, e.g., keep keys alive
         * that a restored backup does not have. Fail closed until the server is restarted. */
        rc = mcp_error_set(err, MCP_ERR_STORE, "store: file missing or replaced since open");
    } else {
        int64_t dv = 0;
        uint64_t prev = mcp__store_wait_begin(s->watch.wait_ms);
        rc = read_data_version(&s->watch, &dv, err);
        mcp__store_wait_end(prev);
        if (rc == MCP_OK && dv != s->data_version) {
            s->data_version = dv;
            mcp__store_bump(s);
        }
    }
    if (rc == MCP_OK) {
        atomic_store_explicit(&s->last_check_ms, now, memory_order_relaxed);
        atomic_store_explicit(&s->healthy, true, memory_order_release);
    } else {
        if (healthy)
            mcp__log(MCP__LOG_ERROR, "store", "%s", err != NULL ? err->message : "unreadable");
        atomic_store_explicit(&s->last_fail_ms, mcp_now_ms(), memory_order_relaxed);
        atomic_store_explicit(&s->healthy, false, memory_order_release);
        mcp__store_bump(s);
    }
    pthread_mutex_unlock(&s->watch.mu);
    return rc;
}

/* ---- open / close ----------------------------------------------------------------------- */

void
mcp_store_opts_default(mcp_store_opts *o)
{
    memset(o, 0, sizeof *o);
    o->busy_timeout_ms = 5000;
    o->read_timeout_ms = 500;
    o->change_check_ms = 1000;
    o->readers = 4;
    o->cache_max = 8192;
    o->create = true;
}

static mcp_status
migrate(mcp_store *s, mcp_error *err)
{
    sqlite3 *db = s->writer.db;
    mcp_status rc = MCP_OK;
    sqlite3_stmt *st = NULL;

    /* WAL: readers never block the writer or each other. Must be set outside a transaction;
     * it is persistent, so this is a no-op after the first open. */
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st, NULL) != SQLITE_OK
        || sqlite3_step(st) != SQLITE_ROW) {
        rc = mcp__store_db_error(err, db, "enable WAL");
        goto out;
    }
    const unsigned char *mode = sqlite3_column_text(st, 0);
    if (mode == NULL || mcp__strcasecmp((const char *)mode, "wal") != 0) {
        rc = mcp_error_set(err, MCP_ERR_STORE, "store: cannot switch to WAL mode");
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;

    mcp__store_conn *c;
    rc = mcp__store_write_begin(s, &c, err);
    if (rc != MCP_OK)
        goto out;
    rc = mcp__store_exec(c, NULL, err,
                         "CREATE TABLE IF NOT EXISTS schema_migrations ("
                         " version INTEGER PRIMARY KEY NOT NULL,"
                         " applied INTEGER NOT NULL,"
                         " description TEXT NOT NULL)", "");
    int cur = 0;
    if (rc == MCP_OK) {
        st = mcp__store_prepare(c, err, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                                "");
        if (st == NULL || sqlite3_step(st) != SQLITE_ROW)
            rc = mcp__store_db_error(err, db, "read schema version");
        else
            cur = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        st = NULL;
    }
    int latest = migrations[N_MIGRATIONS - 1].version;
    if (rc == MCP_OK && cur > latest)
        rc = mcp_error_set(err, MCP_ERR_STORE,
                           "store: schema version %d is newer than this library's %d", cur, latest);
    for (size_t i = 0; rc == MCP_OK && i < N_MIGRATIONS; i++) {
        const struct migration *m = &migrations[i];
        if (m->version <= cur)
            continue;
        if (sqlite3_exec(db, m->sql, NULL, NULL, NULL) != SQLITE_OK) {
            mcp_error_set(err, MCP_ERR_STORE, "store: migration %d failed: %s", m->version,
                          sqlite3_errmsg(db));
            rc = MCP_ERR_STORE;
            break;
        }
        rc = mcp__store_exec(c, NULL, err,
                             "INSERT INTO schema_migrations(version, applied, description)"
                             " VALUES (?, ?, ?)", "iit", (int64_t)m->version, mcp__unix_now(),
                             m->description);
        if (rc == MCP_OK)
            cur = m->version;
    }
    rc = mcp__store_write_end(s, c, rc, err);
    if (rc == MCP_OK)
        s->schema_version = cur;
out:
    sqlite3_finalize(st);
    return rc;
}

mcp_status
mcp_store_open(const char *path, const mcp_store_opts *opts, mcp_store **out, mcp_error *err)
{
    mcp_store_opts defaults;
    mcp_store *s = NULL;
    mcp_status rc = MCP_OK;
    bool writer_open = false, watch_open = false;
    unsigned readers_open = 0;

    if (out != NULL)
        *out = NULL;
    if (path == NULL || path[0] == '\0' || out == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "store path is missing");
    if (opts == NULL) {
        mcp_store_opts_default(&defaults);
        opts = &defaults;
    }
    if (opts->readers < 1 || opts->readers > 64)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "store readers must be 1..64");
    if (!sqlite3_threadsafe())
        return mcp_error_set(err, MCP_ERR_STORE, "store: SQLite was built without thread support");

    s = mcp__calloc(1, sizeof *s);
    if (s == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    s->opts = *opts;
    s->path = mcp__strdup(path);
    s->readers = mcp__calloc(opts->readers, sizeof *s->readers);
    if (s->path == NULL || s->readers == NULL) {
        rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    atomic_init(&s->gen, 1);
    atomic_init(&s->next_reader, 0);
    atomic_init(&s->healthy, true);
    atomic_init(&s->probing, false);

    uint64_t seed[3];
    rc = mcp_random_bytes(seed, sizeof seed, err);
    if (rc != MCP_OK)
        goto fail;
    if (mcp__store_cache_init(&s->users, opts->cache_max, seed[0]) != MCP_OK
        || mcp__store_cache_init(&s->keys, opts->cache_max, seed[1]) != MCP_OK
        || mcp__store_cache_init(&s->jtis, opts->cache_max, seed[2]) != MCP_OK) {
        rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        goto fail;
    }

    if (mcp__store_is_pg_uri(path)) {
        s->pg = true;
        writer_open = watch_open = true;
        readers_open = opts->readers;
        rc = mcp__store_pg_open(s, err);
        if (rc != MCP_OK)
            goto fail;
        atomic_init(&s->last_check_ms, mcp_now_ms());
        s->nreaders = opts->readers;
        *out = s;
        return MCP_OK;
    }
    if (opts->create) {
        rc = precreate_private(path, err);
        if (rc != MCP_OK)
            goto fail;
    }
    writer_open = true;
    rc = conn_open(&s->writer, path, opts, opts->create, false, err);
    if (rc != MCP_OK)
        goto fail;
    /* the open's lock waits (switching to WAL, the migrations) are bounded as a write's */
    uint64_t prev = mcp__store_wait_begin(write_wait_ms(opts));
    rc = migrate(s, err);
    mcp__store_wait_end(prev);
    if (rc != MCP_OK)
        goto fail;

    /* The other connections open the file that now exists (no CREATE: if it vanished in
     * between, fail instead of making an empty one). */
    watch_open = true;
    rc = conn_open(&s->watch, path, opts, false, true, err);
    if (rc == MCP_OK) {
        prev = mcp__store_wait_begin(s->watch.wait_ms);
        rc = read_data_version(&s->watch, &s->data_version, err);
        mcp__store_wait_end(prev);
    }
    for (; rc == MCP_OK && readers_open < opts->readers; ) {
        readers_open++;
        rc = conn_open(&s->readers[readers_open - 1], path, opts, false, true,
                       err);
    }
    if (rc != MCP_OK)
        goto fail;

    struct stat sb;
    if (stat(path, &sb) != 0) {
        rc = mcp_error_set(err, MCP_ERR_STORE, "store: cannot stat the file");
        goto fail;
    }
    s->file_dev = sb.st_dev;
    s->file_ino = sb.st_ino;
    atomic_init(&s->last_check_ms, mcp_now_ms());
    s->nreaders = opts->readers;
    *out = s;
    return MCP_OK;

fail:
    if (s != NULL) {
        for (unsigned i = 0; i < readers_open; i++)
            conn_close(&s->readers[i]);
        if (watch_open)
            conn_close(&s->watch);
        if (writer_open)
            conn_close(&s->writer);
        mcp__store_cache_cleanup(&s->users);
        mcp__store_cache_cleanup(&s->keys);
        mcp__store_cache_cleanup(&s->jtis);
        mcp__free(s->readers);
        if (s->pg && s->path != NULL)
            mcp_memzero(s->path, strlen(s->path));
        mcp__free(s->path);
        mcp__free(s);
    }
    return rc;
}

void
mcp_store_close(mcp_store *s)
{
    if (s == NULL)
        return;
    /* Cached principals and user snapshots may still be referenced by the caller's requests;
     * they are self-contained, so dropping the cache's references is enough. */
    mcp__store_cache_cleanup(&s->users);
    mcp__store_cache_cleanup(&s->keys);
    mcp__store_cache_cleanup(&s->jtis);
    for (unsigned i = 0; i < s->nreaders; i++)
        conn_close(&s->readers[i]);
    conn_close(&s->watch);
    conn_close(&s->writer);
    mcp__free(s->readers);
    if (s->pg)
        mcp_memzero(s->path, strlen(s->path)); /* a URI may hold a password */
    mcp__free(s->path);
    mcp__free(s);
}

void
mcp_store_invalidate(mcp_store *s)
{
    if (s != NULL)
        mcp__store_bump(s);
}

int
mcp_store_schema_version(const mcp_store *s)
{
    return s != NULL ? s->schema_version : 0;
}
