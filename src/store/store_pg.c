/*
 * The PostgreSQL backend of the store (libpq): `mcp_store_open("postgresql://...")`.
 *
 * Same tables, columns and semantics as the SQLite file (store.c), with PostgreSQL types (BIGINT
 * times, BYTEA hashes, text in the "C" collation so listings sort byte-wise as SQLite's do), and
 * its own append-only migration list. store_users.c and store_keys.c run the same SQL on both
 * backends through mcp__store_query()/_exec()/_exists(); this file turns their ? placeholders
 * into $n, binds typed parameters and reads text results.
 *
 * Connections: one writer, one watch connection and opts.readers readers, each behind its mutex
 * as for SQLite. Writes run in a transaction holding a transaction-scoped advisory lock, so
 * writers on every instance (and mcp-admin) are serialized as SQLite's single writer is; the
 * check-then-write operations (user add, key create) keep their meaning across instances.
 *
 * Change detection: migration 1 installs statement-level triggers on every table that call
 * pg_notify('mcp_store', <table>) — inside the writing transaction, so the notification is sent
 * on commit, by whichever client wrote (an instance, mcp-admin, or psql). The watch connection
 * LISTENs on that channel. At most every change_check_ms a lookup makes one round trip on it (an
 * empty query): the server delivers the notifications of every transaction committed before
 * that round trip, so a change is seen by every instance within change_check_ms, and the round
 * trip also proves the server is reachable (fail closed otherwise). A lost watch connection is
 * re-established and LISTENs again; since notifications may have been missed meanwhile, the
 * whole cache is invalidated.
 */
#include "store/internal.h"

#include <libpq-fe.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define PG_CHANNEL  "mcp_store"
#define PG_MAX_ARGS 16
/* The advisory lock every store writer holds for its transaction ("mcp" "st"). */
#define PG_WRITE_LOCK "SELECT pg_advisory_xact_lock(7171120173740)"

/* OIDs of the built-in types we bind (pg_type.h is a server header). */
#define OID_BYTEA 17
#define OID_INT8  20
#define OID_TEXT  25

/* ---- migrations (PostgreSQL dialect; append-only like store.c's) ------------------------- */

static const struct pg_migration {
    int         version;
    const char *description;
    const char *sql;
} pg_migrations[] = {
    { 1, "users, roles, api keys, revoked tokens; default roles; change notifications",
      "CREATE TABLE users ("
      "  subject TEXT COLLATE \"C\" PRIMARY KEY NOT NULL,"
      "  name    TEXT NOT NULL DEFAULT '',"
      "  enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),"
      "  created BIGINT NOT NULL);"
      "CREATE TABLE roles (name TEXT COLLATE \"C\" PRIMARY KEY NOT NULL);"
      "CREATE TABLE role_permissions ("
      "  role       TEXT COLLATE \"C\" NOT NULL REFERENCES roles(name) ON DELETE CASCADE,"
      "  permission TEXT COLLATE \"C\" NOT NULL,"
      "  PRIMARY KEY (role, permission));"
      "CREATE TABLE user_roles ("
      "  subject TEXT COLLATE \"C\" NOT NULL REFERENCES users(subject) ON DELETE CASCADE,"
      "  role    TEXT COLLATE \"C\" NOT NULL REFERENCES roles(name) ON DELETE CASCADE,"
      "  PRIMARY KEY (subject, role));"
      "CREATE INDEX user_roles_by_role ON user_roles(role);"
      "CREATE TABLE api_keys ("
      "  id      TEXT COLLATE \"C\" PRIMARY KEY NOT NULL,"
      "  hash    BYTEA NOT NULL CHECK (octet_length(hash) = 32),"
      "  owner   TEXT COLLATE \"C\" NOT NULL REFERENCES users(subject) ON DELETE CASCADE,"
      "  label   TEXT NOT NULL DEFAULT '',"
      "  created BIGINT NOT NULL,"
      "  expires BIGINT,"
      "  revoked BIGINT);"
      "CREATE INDEX api_keys_by_owner ON api_keys(owner);"
      "CREATE TABLE revoked_tokens ("
      "  jti     TEXT COLLATE \"C\" PRIMARY KEY NOT NULL,"
      "  expires BIGINT);"
      "INSERT INTO roles(name) VALUES ('admin'), ('user'), ('guest');"
      "INSERT INTO role_permissions(role, permission) VALUES"
      "  ('admin', 'Admin.Write'), ('admin', 'User.Write'), ('admin', 'User.Read'),"
      "  ('user', 'User.Write'), ('user', 'User.Read'),"
      "  ('guest', 'Guest.Read');"
      "CREATE FUNCTION mcp_store_notify() RETURNS trigger LANGUAGE plpgsql AS"
      "  $$BEGIN PERFORM pg_notify('" PG_CHANNEL "', TG_TABLE_NAME); RETURN NULL; END$$;"
      "CREATE TRIGGER users_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON users"
      "  FOR EACH STATEMENT EXECUTE FUNCTION mcp_store_notify();"
      "CREATE TRIGGER roles_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON roles"
      "  FOR EACH STATEMENT EXECUTE FUNCTION mcp_store_notify();"
      "CREATE TRIGGER role_permissions_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE"
      "  ON role_permissions FOR EACH STATEMENT EXECUTE FUNCTION mcp_store_notify();"
      "CREATE TRIGGER user_roles_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE"
      "  ON user_roles FOR EACH STATEMENT EXECUTE FUNCTION mcp_store_notify();"
      "CREATE TRIGGER api_keys_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON api_keys"
      "  FOR EACH STATEMENT EXECUTE FUNCTION mcp_store_notify();"
      "CREATE TRIGGER revoked_tokens_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE"
      "  ON revoked_tokens FOR EACH STATEMENT EXECUTE FUNCTION mcp_store_notify();" },
    /* The embedded authorization server's tables; the SQL is in store_as.c. */
    { 2, "authorization server: passwords, clients, codes, refresh families",
      mcp__store_as_migration_sql_pg },
    /* Shared rate-limit windows (authz's shared limits, mcp_store_rate_add): no notify
     * trigger, they are written on the request path and read by no cache. */
    { 3, "shared rate-limit windows",
      "CREATE TABLE rate_windows ("
      "  bucket       TEXT COLLATE \"C\" NOT NULL,"
      "  window_start BIGINT NOT NULL,"
      "  count        BIGINT NOT NULL,"
      "  expires      BIGINT NOT NULL,"
      "  PRIMARY KEY (bucket, window_start));"
      "CREATE INDEX rate_windows_by_expiry ON rate_windows(expires);" },
    { 4, "authorization server: private_key_jwt client keys, used assertion ids",
      mcp__store_as_migration3_sql_pg },
};

#define N_PG_MIGRATIONS (sizeof pg_migrations / sizeof pg_migrations[0])

bool
mcp__store_is_pg_uri(const char *path)
{
    return path != NULL
           && (strncmp(path, "postgresql://", 13) == 0 || strncmp(path, "postgres://", 11) == 0);
}

const char *
mcp_store_display_name(const char *path, char *buf, size_t cap)
{
    if (buf == NULL || cap == 0)
        return buf;
    buf[0] = '\0';
    if (path == NULL)
        return buf;
    size_t o = 0;
    const char *p = path;
#define PUT(ch) do { if (o + 1 < cap) buf[o++] = (ch); } while (0)
    if (mcp__store_is_pg_uri(path)) {
        const char *auth = strstr(path, "://") + 3;
        size_t alen = strcspn(auth, "/?#");
        const char *at = NULL;
        for (size_t i = 0; i < alen; i++)
            if (auth[i] == '@')
                at = auth + i;
        const char *colon = at != NULL ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        for (; p < auth; p++)
            PUT(*p);
        if (colon != NULL) {
            for (; p <= colon; p++)
                PUT(*p);
            for (int i = 0; i < 3; i++)
                PUT('*');
            p = at;
        }
        /* the rest, with any password=... parameter value hidden */
        while (*p != '\0') {
            bool start = p > path && (p[-1] == '?' || p[-1] == '&');
            if (start && strncasecmp(p, "password=", 9) == 0) {
                for (int i = 0; i < 9; i++)
                    PUT(p[i]);
                for (int i = 0; i < 3; i++)
                PUT('*');
                p += 9;
                while (*p != '\0' && *p != '&' && *p != '#')
                    p++;
                continue;
            }
            PUT(*p);
            p++;
        }
    } else {
        for (; *p != '\0'; p++)
            PUT(*p);
    }
#undef PUT
    buf[o] = '\0';
    return buf;
}

/* ---- errors ------------------------------------------------------------------------------ */

/* The first line of a libpq message, into buf. Server messages are taken from the primary field
 * only: the DETAIL of, e.g., a unique violation quotes the row's values. */
static const char *
first_line(const char *msg, char *buf, size_t cap)
{
    if (msg == NULL || msg[0] == '\0')
        return "no message";
    size_t n = strcspn(msg, "\n");
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, msg, n);
    buf[n] = '\0';
    return buf;
}

static mcp_status
res_error(mcp_error *err, const mcp__store_conn *c, const PGresult *res, const char *what)
{
    char buf[200];
    const char *m = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (m == NULL)
        m = PQerrorMessage(c->pg);
    return mcp_error_set(err, MCP_ERR_STORE, "store: %s: %s", what, first_line(m, buf, sizeof buf));
}

mcp_status
mcp__store_pg_error(mcp_error *err, const mcp__store_conn *c, const char *what)
{
    return res_error(err, c, NULL, what);
}

/* ---- connections ------------------------------------------------------------------------- */

static mcp_status
pg_connect(mcp__store_conn *c, const mcp_store *s, mcp_error *err)
{
    char lock_opt[64];
    snprintf(lock_opt, sizeof lock_opt, "-c lock_timeout=%u", s->opts.busy_timeout_ms);
    /* Ours first: with expand_dbname the URI's own settings (later) override them. */
    const char *const keys[] = { "connect_timeout", "application_name", "options", "dbname",
                                 NULL };
    const char *const vals[] = { "5", "libmcp", lock_opt, s->path, NULL };
    c->pg = PQconnectdbParams(keys, vals, 1);
    if (c->pg == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "store: connect: out of memory");
    if (PQstatus(c->pg) != CONNECTION_OK) {
        char buf[200];
        /* libpq's connection messages name host and port, never the password. */
        return mcp_error_set(err, MCP_ERR_STORE, "store: cannot connect: %s",
                             first_line(PQerrorMessage(c->pg), buf, sizeof buf));
    }
    return MCP_OK;
}

void
mcp__store_pg_conn_close(mcp__store_conn *c)
{
    PQfinish(c->pg);
    c->pg = NULL;
    pthread_mutex_destroy(&c->mu);
}

/* Reconnect a broken connection; the server forgot its prepared statements. */
static bool
pg_reset(mcp__store_conn *c)
{
    PQreset(c->pg);
    memset(c->pg_prepared, 0, sizeof c->pg_prepared);
    return PQstatus(c->pg) == CONNECTION_OK;
}

mcp_status
mcp__store_pg_simple(mcp__store_conn *c, const char *sql, mcp_error *err)
{
    PGresult *res = PQexec(c->pg, sql);
    ExecStatusType st = PQresultStatus(res);
    mcp_status rc = MCP_OK;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY)
        rc = res_error(err, c, res, "query");
    PQclear(res);
    return rc;
}

mcp_status
mcp__store_pg_write_begin(mcp__store_conn *c, mcp_error *err)
{
    if (PQstatus(c->pg) != CONNECTION_OK && !pg_reset(c))
        return mcp__store_pg_error(err, c, "begin write");
    mcp_status rc = mcp__store_pg_simple(c, "BEGIN", err);
    if (rc == MCP_OK) {
        c->pg_in_tx = true;
        rc = mcp__store_pg_simple(c, PG_WRITE_LOCK, err);
        if (rc != MCP_OK) {
            (void)mcp__store_pg_simple(c, "ROLLBACK", NULL);
            c->pg_in_tx = false;
        }
    }
    return rc;
}

/* ---- queries ------------------------------------------------------------------------------ */

/* sql with ? / ?N placeholders rewritten to $n (outside quoted literals), into buf. */
static bool
rewrite_placeholders(const char *sql, char *buf, size_t cap)
{
    size_t o = 0;
    int next = 0;
    char quote = 0;
    for (const char *p = sql; *p != '\0'; p++) {
        char tmp[16];
        const char *piece = NULL;
        size_t plen = 1;
        if (quote != 0) {
            if (*p == quote)
                quote = 0;
        } else if (*p == '\'' || *p == '"') {
            quote = *p;
        } else if (*p == '?') {
            if (p[1] >= '0' && p[1] <= '9') {
                tmp[0] = '$';
                size_t k = 1;
                while (p[1] >= '0' && p[1] <= '9' && k < sizeof tmp - 1)
                    tmp[k++] = *++p;
                tmp[k] = '\0';
            } else {
                snprintf(tmp, sizeof tmp, "$%d", ++next);
            }
            piece = tmp;
            plen = strlen(tmp);
        }
        if (o + plen >= cap)
            return false;
        memcpy(buf + o, piece != NULL ? piece : p, plen);
        o += plen;
    }
    buf[o] = '\0';
    return true;
}

typedef struct pg_args {
    int         n;
    Oid         types[PG_MAX_ARGS];
    const char *vals[PG_MAX_ARGS];
    int         lens[PG_MAX_ARGS];
    int         fmts[PG_MAX_ARGS];
    char        ints[PG_MAX_ARGS][24];
} pg_args;

static bool
collect_args(pg_args *a, const char *types, va_list ap)
{
    memset(a, 0, sizeof *a);
    for (int i = 0; types[i] != '\0'; i++) {
        if (i >= PG_MAX_ARGS)
            return false;
        switch (types[i]) {
        case 't':
            a->types[i] = OID_TEXT;
            a->vals[i] = va_arg(ap, const char *);
            break;
        case 'i':
            a->types[i] = OID_INT8;
            snprintf(a->ints[i], sizeof a->ints[i], "%lld", (long long)va_arg(ap, int64_t));
            a->vals[i] = a->ints[i];
            break;
        case 'n':
            a->types[i] = 0;
            a->vals[i] = NULL;
            break;
        case 'b': {
            const void *p = va_arg(ap, const void *);
            size_t n = va_arg(ap, size_t);
            if (n > INT32_MAX)
                return false;
            a->types[i] = OID_BYTEA;
            a->vals[i] = p;
            a->lens[i] = (int)n;
            a->fmts[i] = 1;
            break;
        }
        default:
            return false;
        }
        a->n = i + 1;
    }
    return true;
}

static bool
res_ok(const PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    return st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
}

/* Run once; on a broken connection outside a transaction, reconnect and run once more. */
static PGresult *
exec_params(mcp__store_conn *c, const char *sql, const pg_args *a)
{
    for (int attempt = 0;; attempt++) {
        PGresult *res = PQexecParams(c->pg, sql, a->n, a->types, a->vals, a->lens, a->fmts, 0);
        if (res_ok(res) || attempt > 0 || c->pg_in_tx || PQstatus(c->pg) == CONNECTION_OK)
            return res;
        PQclear(res);
        if (!pg_reset(c))
            return NULL;
    }
}

mcp_status
mcp__store_pg_query(mcp__store_conn *c, mcp__store_rows *r, mcp_error *err, const char *sql,
                    const char *types, va_list ap)
{
    char buf[2048];
    pg_args a;
    r->row = -1;
    if (!rewrite_placeholders(sql, buf, sizeof buf) || !collect_args(&a, types, ap))
        return mcp_error_set(err, MCP_ERR_INTERNAL, "store: statement too long or bad arguments");
    PGresult *res = exec_params(c, buf, &a);
    if (!res_ok(res)) {
        mcp_status rc = res_error(err, c, res, "query");
        PQclear(res);
        return rc;
    }
    r->res = res;
    r->nrows = PQntuples(res);
    return MCP_OK;
}

mcp_status
mcp__store_pg_query_stmt(mcp__store_conn *c, mcp__store_rows *r, enum mcp__store_stmt id,
                         const char *key, mcp_error *err)
{
    char name[24];
    snprintf(name, sizeof name, "mcp_st_%d", (int)id);
    r->row = -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (PQstatus(c->pg) != CONNECTION_OK && !pg_reset(c))
            break;
        if (!c->pg_prepared[id]) {
            char buf[2048];
            if (!rewrite_placeholders(mcp__store_stmt_sql(id), buf, sizeof buf))
                return mcp_error_set(err, MCP_ERR_INTERNAL, "store: statement too long");
            const Oid types[1] = { OID_TEXT };
            PGresult *pr = PQprepare(c->pg, name, buf, 1, types);
            bool ok = PQresultStatus(pr) == PGRES_COMMAND_OK;
            if (!ok && PQstatus(c->pg) == CONNECTION_OK) {
                mcp_status rc = res_error(err, c, pr, "prepare");
                PQclear(pr);
                return rc;
            }
            PQclear(pr);
            if (!ok)
                continue; /* the connection broke: reset and try again */
            c->pg_prepared[id] = true;
        }
        const char *vals[1] = { key };
        PGresult *res = PQexecPrepared(c->pg, name, 1, vals, NULL, NULL, 0);
        if (res_ok(res)) {
            r->res = res;
            r->nrows = PQntuples(res);
            return MCP_OK;
        }
        if (PQstatus(c->pg) == CONNECTION_OK) {
            mcp_status rc = res_error(err, c, res, "read");
            PQclear(res);
            return rc;
        }
        PQclear(res);
    }
    return mcp__store_pg_error(err, c, "read");
}

size_t
mcp__store_pg_changes(const mcp__store_rows *r)
{
    const char *t = r->res != NULL ? PQcmdTuples(r->res) : "";
    return t[0] != '\0' ? (size_t)strtoull(t, NULL, 10) : 0;
}

const char *
mcp__store_pg_text(const mcp__store_rows *r, int i)
{
    if (r->res == NULL || r->row < 0 || r->row >= r->nrows || i >= PQnfields(r->res)
        || PQgetisnull(r->res, r->row, i))
        return NULL;
    return PQgetvalue(r->res, r->row, i);
}

const void *
mcp__store_pg_blob(mcp__store_rows *r, int i, size_t *len)
{
    *len = 0;
    const char *t = mcp__store_pg_text(r, i);
    if (t == NULL)
        return NULL;
    if (r->blob != NULL) {
        PQfreemem(r->blob);
        r->blob = NULL;
    }
    size_t n = 0;
    r->blob = PQunescapeBytea((const unsigned char *)t, &n);
    if (r->blob == NULL)
        return NULL;
    *len = n;
    return r->blob;
}

void
mcp__store_pg_rows_end(mcp__store_rows *r)
{
    if (r->blob != NULL) {
        PQfreemem(r->blob);
        r->blob = NULL;
    }
    PQclear(r->res);
    r->res = NULL;
    r->nrows = 0;
}

/* ---- change detection -------------------------------------------------------------------- */

static mcp_status
watch_listen(mcp__store_conn *c, mcp_error *err)
{
    return mcp__store_pg_simple(c, "LISTEN " PG_CHANNEL, err);
}

/* Drain the notifications libpq has read; true when there was any. */
static bool
drain_notifies(mcp__store_conn *c)
{
    bool any = false;
    PGnotify *n;
    while ((n = PQnotifies(c->pg)) != NULL) {
        any = true;
        PQfreemem(n);
    }
    return any;
}

/*
 * The empty query on the watch connection, bounded by timeout_ms: a server that hangs (rather
 * than closing the connection) must not keep a lookup waiting, nor let the other threads serve
 * the cache past the bound. On a timeout the query is left outstanding and the connection is
 * marked stale: the next check reconnects first.
 */
static bool
watch_round_trip(mcp__store_conn *c, unsigned timeout_ms)
{
    if (PQsendQuery(c->pg, "") != 1)
        return false;
    uint64_t deadline = mcp_now_ms() + timeout_ms;
    bool ok = false;
    for (;;) {
        if (PQconsumeInput(c->pg) != 1)
            return false;
        while (!PQisBusy(c->pg)) {
            PGresult *r = PQgetResult(c->pg);
            if (r == NULL)
                return ok;
            ok = PQresultStatus(r) == PGRES_EMPTY_QUERY;
            PQclear(r);
        }
        uint64_t now = mcp_now_ms();
        if (now >= deadline) {
            c->pg_stale = true;
            return false;
        }
        struct pollfd pfd = { .fd = PQsocket(c->pg), .events = POLLIN, .revents = 0 };
        if (pfd.fd < 0 || poll(&pfd, 1, (int)(deadline - now)) < 0)
            return false;
    }
}

mcp_status
mcp__store_pg_check(mcp_store *s, mcp_error *err)
{
    mcp__store_conn *c = &s->watch;
    unsigned timeout = s->opts.busy_timeout_ms > 0 ? s->opts.busy_timeout_ms : 5000;
    bool ok = false;
    if (c->pg_stale) {
        /* the last round trip never answered: a fresh connection, then a full invalidation */
        c->pg_stale = false;
        if (!pg_reset(c) || watch_listen(c, NULL) != MCP_OK)
            return mcp__store_pg_error(err, c, "change check: reconnect");
        mcp__store_bump(s);
    }
    /* The round trip: every notification of a commit before it arrives before its answer. */
    ok = watch_round_trip(c, timeout);
    if (!ok) {
        if (c->pg_stale)
            return mcp_error_set(err, MCP_ERR_STORE,
                                 "store: change check: no answer from the server in %u ms",
                                 timeout);
        if (PQstatus(c->pg) == CONNECTION_OK)
            return mcp__store_pg_error(err, c, "change check");
        /* Reconnected: notifications may have been lost meanwhile, so drop everything. */
        if (!pg_reset(c) || watch_listen(c, NULL) != MCP_OK)
            return mcp__store_pg_error(err, c, "change check");
        (void)drain_notifies(c);
        mcp__store_bump(s);
        return MCP_OK;
    }
    if (drain_notifies(c))
        mcp__store_bump(s);
    return MCP_OK;
}

/* ---- open and migrate -------------------------------------------------------------------- */

static mcp_status
pg_migrate(mcp_store *s, mcp_error *err)
{
    mcp__store_conn *c;
    mcp_status rc = mcp__store_write_begin(s, &c, err);
    if (rc != MCP_OK)
        return rc;
    bool have = false;
    rc = mcp__store_exists(c, &have, err,
                           "SELECT 1 WHERE to_regclass('schema_migrations') IS NOT NULL", "");
    if (rc == MCP_OK && !have && !s->opts.create)
        rc = mcp_error_set(err, MCP_ERR_STORE, "store: the database holds no store");
    if (rc == MCP_OK && !have)
        rc = mcp__store_exec(c, NULL, err,
                             "CREATE TABLE schema_migrations ("
                             " version INTEGER PRIMARY KEY NOT NULL,"
                             " applied BIGINT NOT NULL,"
                             " description TEXT NOT NULL)", "");
    int cur = 0;
    if (rc == MCP_OK) {
        mcp__store_rows r;
        bool row = false;
        rc = mcp__store_query(c, &r, err, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                              "");
        if (rc == MCP_OK)
            rc = mcp__store_next(&r, &row, "read schema version", err);
        if (rc == MCP_OK && row)
            cur = (int)mcp__store_int(&r, 0);
        mcp__store_rows_end(&r);
    }
    int latest = pg_migrations[N_PG_MIGRATIONS - 1].version;
    if (rc == MCP_OK && cur > latest)
        rc = mcp_error_set(err, MCP_ERR_STORE,
                           "store: schema version %d is newer than this library's %d", cur, latest);
    for (size_t i = 0; rc == MCP_OK && i < N_PG_MIGRATIONS; i++) {
        const struct pg_migration *m = &pg_migrations[i];
        if (m->version <= cur)
            continue;
        PGresult *res = PQexec(c->pg, m->sql);
        if (!res_ok(res)) {
            char buf[200];
            const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
            rc = mcp_error_set(err, MCP_ERR_STORE, "store: migration %d failed: %s", m->version,
                               first_line(msg != NULL ? msg : PQerrorMessage(c->pg), buf,
                                          sizeof buf));
        }
        PQclear(res);
        if (rc == MCP_OK)
            rc = mcp__store_exec(c, NULL, err,
                                 "INSERT INTO schema_migrations(version, applied, description)"
                                 " VALUES (?, ?, ?)", "iit", (int64_t)m->version,
                                 mcp__unix_now(), m->description);
        if (rc == MCP_OK)
            cur = m->version;
    }
    rc = mcp__store_write_end(s, c, rc, err);
    if (rc == MCP_OK)
        s->schema_version = cur;
    return rc;
}

mcp_status
mcp__store_pg_open(mcp_store *s, mcp_error *err)
{
    /* Every mutex first, so the caller's cleanup may close all connections whatever failed. */
    mcp__store_conn *all[2] = { &s->writer, &s->watch };
    for (int i = 0; i < 2; i++) {
        memset(all[i], 0, sizeof *all[i]);
        pthread_mutex_init(&all[i]->mu, NULL);
    }
    for (unsigned i = 0; i < s->opts.readers; i++) {
        memset(&s->readers[i], 0, sizeof s->readers[i]);
        pthread_mutex_init(&s->readers[i].mu, NULL);
    }
    if (!PQisthreadsafe())
        return mcp_error_set(err, MCP_ERR_STORE, "store: libpq was built without thread support");
    mcp_status rc = pg_connect(&s->writer, s, err);
    if (rc == MCP_OK)
        rc = pg_migrate(s, err);
    if (rc == MCP_OK)
        rc = pg_connect(&s->watch, s, err);
    if (rc == MCP_OK)
        rc = watch_listen(&s->watch, err);
    for (unsigned i = 0; rc == MCP_OK && i < s->opts.readers; i++)
        rc = pg_connect(&s->readers[i], s, err);
    return rc;
}

/* ---- shared rate-limit windows ---------------------------------------------------------- */

bool
mcp_store_is_shared(const mcp_store *s)
{
    return s != NULL && s->pg;
}

mcp_status
mcp_store_rate_add(mcp_store *s, const char *bucket, int64_t window_start, int64_t expires,
                    int64_t n, int64_t *total, mcp_error *err)
{
    *total = 0;
    if (!mcp_store_is_shared(s))
        return mcp_error_set(err, MCP_ERR_UNSUPPORTED,
                             "store: shared rate limits need the PostgreSQL store");
    mcp_status rc = mcp__store_check_text("rate bucket", bucket, 1024, false, err);
    if (rc != MCP_OK)
        return rc;
    mcp__store_conn *c = mcp__store_reader_acquire(s);
    mcp__store_rows r;
    /* One autocommitted statement: the row lock serializes the instances' increments. A retry
     * after a lost connection may count n twice, which only refuses sooner (fail closed). */
    rc = mcp__store_query(c, &r, err,
                          "INSERT INTO rate_windows(bucket, window_start, count, expires)"
                          " VALUES (?, ?, ?, ?) ON CONFLICT (bucket, window_start)"
                          " DO UPDATE SET count = rate_windows.count + EXCLUDED.count"
                          " RETURNING count",
                          "tiii", bucket, window_start, n, expires);
    bool row = false;
    if (rc == MCP_OK)
        rc = mcp__store_next(&r, &row, "rate window", err);
    if (rc == MCP_OK && !row)
        rc = mcp_error_set(err, MCP_ERR_STORE, "store: rate window: no row");
    if (rc == MCP_OK)
        *total = mcp__store_int(&r, 0);
    mcp__store_rows_end(&r);
    mcp__store_conn_release(c);
    return rc;
}

mcp_status
mcp_store_rate_expire(mcp_store *s, int64_t now, mcp_error *err)
{
    if (!mcp_store_is_shared(s))
        return MCP_OK;
    mcp__store_conn *c = mcp__store_reader_acquire(s);
    mcp_status rc = mcp__store_exec(c, NULL, err, "DELETE FROM rate_windows WHERE expires < ?",
                                    "i", now);
    mcp__store_conn_release(c);
    return rc;
}
