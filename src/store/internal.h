/*
 * Private to the files of src/store: the store object, its connections and its cache.
 * Symbols shared between those files use the mcp__store_ prefix (STYLE.md section 2).
 */
#ifndef MCP_SRC_STORE_INTERNAL_H
#define MCP_SRC_STORE_INTERNAL_H

#include <mcp/store.h>

#include "common/common.h"
#include "store/store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <sys/types.h>

/* ---- reference-counted cache values ---------------------------------------------------- */

typedef struct mcp__store_ref mcp__store_ref;
struct mcp__store_ref {
    atomic_uint refs;
    void      (*destroy)(mcp__store_ref *r); /* NULL: static object, never freed */
};

void mcp__store_ref_init(mcp__store_ref *r, void (*destroy)(mcp__store_ref *r));
mcp__store_ref *mcp__store_ref_take(mcp__store_ref *r);
void mcp__store_ref_drop(mcp__store_ref *r);

/* ---- the cache: sharded hash tables with generation-tagged entries ---------------------- */

#define MCP__STORE_CACHE_SHARDS 16

typedef struct mcp__store_cache_entry mcp__store_cache_entry;

typedef struct mcp__store_cache_shard {
    pthread_mutex_t          mu;
    mcp__store_cache_entry **buckets;
    size_t                   count;
} mcp__store_cache_shard;

typedef struct mcp__store_cache {
    mcp__store_cache_shard shards[MCP__STORE_CACHE_SHARDS];
    size_t                 nbuckets;      /* per shard; power of two; 0 = cache disabled */
    size_t                 max_per_shard;
    uint64_t               seed;          /* random per store: hash flooding resistance */
    bool                   ready;         /* init ran: cleanup has something to release */
} mcp__store_cache;

mcp_status mcp__store_cache_init(mcp__store_cache *c, size_t max_entries, uint64_t seed);
void mcp__store_cache_cleanup(mcp__store_cache *c);
/* The value cached under key with generation gen (a new reference), or NULL. */
mcp__store_ref *mcp__store_cache_get(mcp__store_cache *c, const char *key, size_t klen,
                                     uint64_t gen);
/* Cache v (takes its own reference) under key, tagged gen; skipped when gen is no longer the
 * current generation (*cur), so a value read before an invalidation is never cached after it. */
void mcp__store_cache_put(mcp__store_cache *c, const char *key, size_t klen, uint64_t gen,
                          const _Atomic uint64_t *cur, mcp__store_ref *v);

/* ---- connections ------------------------------------------------------------------------ */

enum mcp__store_stmt {
    MCP__ST_USER_GET,     /* subject -> name, enabled, permission (one row per permission) */
    MCP__ST_KEY_GET,      /* key id -> hash, owner, expires, revoked, owner state, perms */
    MCP__ST_JTI_GET,      /* jti -> 1 */
    MCP__ST_DATA_VERSION, /* PRAGMA data_version */
    MCP__ST_COUNT_
};

/* A connection of either backend: SQLite (db) or PostgreSQL (pg, see store_pg.c). */
typedef struct mcp__store_conn {
    pthread_mutex_t mu;
    sqlite3        *db;
    sqlite3_stmt   *stmts[MCP__ST_COUNT_];
    struct pg_conn *pg;                       /* libpq's PGconn */
    bool            pg_prepared[MCP__ST_COUNT_];
    bool            pg_in_tx;                 /* a write transaction is open: never retry */
    bool            pg_stale;                 /* a round trip timed out: reconnect first */
    unsigned        wait_ms;                  /* readers, watch: bound on lock waits while
                                                 held (store_vfs.c); 0 = none (the writer) */
    uint64_t        wait_prev;                /* the thread's deadline before this hold */
} mcp__store_conn;

/* ---- bounded lock waits (store_vfs.c) --------------------------------------------------- */

/* The name of the VFS the store opens its SQLite files with (registered on first use), or
 * NULL with err set. */
const char *mcp__store_vfs(mcp_error *err);
/* Bound this thread's SQLite lock waits (busy handler and WAL read-lock retries) to ms from
 * now, or to an earlier bound already set; returns the previous one for mcp__store_wait_end. */
uint64_t mcp__store_wait_begin(unsigned ms);
void mcp__store_wait_end(uint64_t prev);

struct mcp_store {
    char           *path;    /* file name, or the postgresql:// URI (never logged: a password) */
    bool            pg;      /* the PostgreSQL backend (store_pg.c) */
    mcp_store_opts  opts;
    int             schema_version;
    mcp__store_conn writer;  /* every write, in BEGIN IMMEDIATE transactions */
    mcp__store_conn watch;   /* only asks PRAGMA data_version: sees others' commits */
    mcp__store_conn *readers;
    unsigned        nreaders;
    atomic_uint     next_reader;

    _Atomic uint64_t gen;           /* bumped on every change seen; cache entries carry it */
    _Atomic uint64_t last_check_ms; /* monotonic time of the last successful change check */
    atomic_bool      healthy;       /* false after a failed check: check on every lookup */
    atomic_bool      probing;       /* mcp_store_check() is checking (store_check.c) */
    _Atomic uint64_t last_fail_ms;  /* monotonic time a failed check ended */
    int64_t          data_version;  /* under watch.mu (SQLite) */
    dev_t            file_dev;      /* the file we opened; a replaced file fails closed */
    ino_t            file_ino;

    mcp__store_cache users; /* subject -> user snapshot */
    mcp__store_cache keys;  /* key id -> key entry (found keys only) */
    mcp__store_cache jtis;  /* jti -> revoked or not */
};

/* Lock a read connection from the pool / the writer. */
mcp__store_conn *mcp__store_reader_acquire(mcp_store *s);
void mcp__store_conn_release(mcp__store_conn *c);

/* The prepared statement id on c (prepared on first use, reset and unbound). NULL on failure,
 * with err filled. */
sqlite3_stmt *mcp__store_stmt(mcp__store_conn *c, enum mcp__store_stmt id, mcp_error *err);

/*
 * Result rows of one query, whichever the backend. Both backends are driven through these and
 * mcp__store_exec/_exists, so store_users.c and store_keys.c hold one copy of each operation.
 * SQL is written with ? placeholders (?1 for a reused one) in the dialect both engines accept;
 * the PostgreSQL side rewrites the placeholders to $n.
 */
typedef struct mcp__store_rows {
    mcp__store_conn  *c;
    sqlite3_stmt     *st;
    bool              st_cached;  /* a hot-path statement: reset and kept, not finalized */
    struct pg_result *res;        /* libpq's PGresult */
    int               row, nrows;
    unsigned char    *blob;       /* PostgreSQL: the last bytea value decoded */
} mcp__store_rows;

/* Run sql with args (types as for mcp__store_prepare) on c; rows come from mcp__store_next. */
mcp_status mcp__store_query(mcp__store_conn *c, mcp__store_rows *r, mcp_error *err,
                            const char *sql, const char *types, ...);
/* A hot-path statement by id with one text parameter (borrowed until rows_end). */
mcp_status mcp__store_query_stmt(mcp__store_conn *c, mcp__store_rows *r, enum mcp__store_stmt id,
                                 const char *key, mcp_error *err);
/* Advance to the next row: *row tells whether there is one. MCP_ERR_STORE naming what. */
mcp_status mcp__store_next(mcp__store_rows *r, bool *row, const char *what, mcp_error *err);
/* Column i of the current row: text (NULL for SQL NULL), integer (0 for NULL), blob. */
const char *mcp__store_text(const mcp__store_rows *r, int i);
int64_t mcp__store_int(const mcp__store_rows *r, int i);
bool mcp__store_is_null(const mcp__store_rows *r, int i);
const void *mcp__store_blob(mcp__store_rows *r, int i, size_t *len);
/* Release the rows (safe on a zeroed struct, and twice). */
void mcp__store_rows_end(mcp__store_rows *r);

/* Make sure the cache reflects changes by other connections (at most every change_check_ms).
 * MCP_ERR_STORE when the file cannot be read or was replaced: fail closed. */
mcp_status mcp__store_check_changes(mcp_store *s, mcp_error *err);
/* Invalidate every cached entry (an O(1) generation bump). */
void mcp__store_bump(mcp_store *s);

/* Write transactions: begin locks the writer and runs BEGIN IMMEDIATE; end commits when
 * rc == MCP_OK (and invalidates the cache) or rolls back; returns the final status. */
mcp_status mcp__store_write_begin(mcp_store *s, mcp__store_conn **c, mcp_error *err);
mcp_status mcp__store_write_end(mcp_store *s, mcp__store_conn *c, mcp_status rc, mcp_error *err);

/* MCP_ERR_STORE with "store: <what>: <sqlite message>" (SQLite's messages carry no values). */
mcp_status mcp__store_db_error(mcp_error *err, sqlite3 *db, const char *what);
/* The same for c, whichever its backend. */
mcp_status mcp__store_conn_error(mcp_error *err, const mcp__store_conn *c, const char *what);

/* ---- the PostgreSQL backend (store_pg.c) ------------------------------------------------ */

/* Is path a PostgreSQL connection URI (postgresql:// or postgres://)? */
bool mcp__store_is_pg_uri(const char *path);
/* Open s->writer, run the migrations, open watch (LISTEN) and the readers. */
mcp_status mcp__store_pg_open(mcp_store *s, mcp_error *err);
void mcp__store_pg_conn_close(mcp__store_conn *c);
/* The change check of the PostgreSQL backend (under watch.mu): drain notifications. */
mcp_status mcp__store_pg_check(mcp_store *s, mcp_error *err);
mcp_status mcp__store_pg_query(mcp__store_conn *c, mcp__store_rows *r, mcp_error *err,
                               const char *sql, const char *types, va_list ap);
mcp_status mcp__store_pg_query_stmt(mcp__store_conn *c, mcp__store_rows *r,
                                    enum mcp__store_stmt id, const char *key, mcp_error *err);
/* Rows changed by the last command of r (an UPDATE/INSERT/DELETE). */
size_t mcp__store_pg_changes(const mcp__store_rows *r);
const char *mcp__store_pg_text(const mcp__store_rows *r, int i);
const void *mcp__store_pg_blob(mcp__store_rows *r, int i, size_t *len);
void mcp__store_pg_rows_end(mcp__store_rows *r);
mcp_status mcp__store_pg_error(mcp_error *err, const mcp__store_conn *c, const char *what);
/* The SQL of a hot-path statement (store.c's table). */
const char *mcp__store_stmt_sql(enum mcp__store_stmt id);
mcp_status mcp__store_pg_write_begin(mcp__store_conn *c, mcp_error *err);
mcp_status mcp__store_pg_simple(mcp__store_conn *c, const char *sql, mcp_error *err);

/*
 * Prepare sql on c, bind args described by types ('t' const char *, 'i' int64_t, 'n' NULL,
 * 'b' a blob as two arguments const void *, size_t; any other character is an error) and
 * return the statement (caller finalizes), or NULL with err set.
 */
sqlite3_stmt *mcp__store_prepare(mcp__store_conn *c, mcp_error *err, const char *sql,
                                 const char *types, ...);
/* Prepare, bind, step to completion. *changes (optional) gets sqlite3_changes(). */
mcp_status mcp__store_exec(mcp__store_conn *c, size_t *changes, mcp_error *err, const char *sql,
                           const char *types, ...);
/* Prepare, bind, step once: *found is whether a row came back. */
mcp_status mcp__store_exists(mcp__store_conn *c, bool *found, mcp_error *err, const char *sql,
                             const char *types, ...);

/* Input validation: MCP_OK or MCP_ERR_INVALID_ARG naming what is wrong (never echoing it). */
mcp_status mcp__store_check_text(const char *what, const char *s, size_t max, bool allow_empty,
                                 mcp_error *err);
mcp_status mcp__store_check_role(const char *role, mcp_error *err);
mcp_status mcp__store_check_permission(const char *perm, mcp_error *err);

/* The user-snapshot builder shared by user lookups and key verification. */
typedef struct mcp__store_strlist {
    mcp_buf bytes;  /* NUL-separated strings */
    size_t  n;
} mcp__store_strlist;

void mcp__store_strlist_init(mcp__store_strlist *l);
void mcp__store_strlist_cleanup(mcp__store_strlist *l);
/* Append s unless it equals the last entry (inputs arrive sorted). */
mcp_status mcp__store_strlist_add(mcp__store_strlist *l, const char *s);
/* A NULL-terminated pointer array into l's bytes (caller mcp__free()s the array only). */
const char **mcp__store_strlist_array(const mcp__store_strlist *l);

#endif
