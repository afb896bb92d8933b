/*
 * mcp-products: catalog storage on SQLite. One connection, serialized by a mutex: handlers
 * run on the worker pool, and the catalog is small; a connection pool would add code without a
 * measurable gain for this example. The read statements are prepared once and reused (a
 * prepare per call was most of the cost of list_products in the benchmark).
 */
#include "catalog.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct catalog {
    pthread_mutex_t mu;
    sqlite3        *db;
    sqlite3_stmt   *get, *list, *count;    /* prepared on first use; guarded by mu */
};

static const char schema[] =
    "PRAGMA journal_mode = WAL;"
    "CREATE TABLE IF NOT EXISTS products ("
    "  id          INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  name        TEXT NOT NULL,"
    "  description TEXT NOT NULL DEFAULT '',"
    "  price_cents INTEGER NOT NULL CHECK (price_cents >= 0),"
    "  stock       INTEGER NOT NULL DEFAULT 0 CHECK (stock >= 0),"
    "  created_by  TEXT NOT NULL,"
    "  created_at  INTEGER NOT NULL,"
    "  updated_by  TEXT,"
    "  updated_at  INTEGER"
    ");";

static mcp_status
db_error(mcp_error *err, sqlite3 *db, const char *what)
{
    return mcp_error_set(err, MCP_ERR_IO, "catalog: %s: %s", what, sqlite3_errmsg(db));
}

mcp_status
catalog_open(const char *path, catalog **out, mcp_error *err)
{
    *out = NULL;
    catalog *c = calloc(1, sizeof *c);
    if (c == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    int rc = sqlite3_open_v2(path, &c->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        mcp_status s = mcp_error_set(err, MCP_ERR_IO, "catalog %.150s: %s", path,
                                     c->db ? sqlite3_errmsg(c->db) : "cannot open");
        sqlite3_close(c->db);
        free(c);
        return s;
    }
    sqlite3_busy_timeout(c->db, 5000);
    char *msg = NULL;
    if (sqlite3_exec(c->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
        mcp_status s = mcp_error_set(err, MCP_ERR_IO, "catalog %.150s: %s", path,
                                     msg ? msg : "schema");
        sqlite3_free(msg);
        sqlite3_close(c->db);
        free(c);
        return s;
    }
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return MCP_OK;
}

void
catalog_close(catalog *c)
{
    if (c == NULL)
        return;
    sqlite3_finalize(c->get);
    sqlite3_finalize(c->list);
    sqlite3_finalize(c->count);
    sqlite3_close(c->db);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static const char *
col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t != NULL ? (const char *)t : "";
}

/* The row at st (id, name, description, price_cents, stock, created_by, created_at,
 * updated_by, updated_at) as a JSON object. */
static json_t *
row_json(sqlite3_stmt *st)
{
    json_t *o = json_pack("{s:I, s:s, s:s, s:I, s:I, s:s, s:I}",
                          "id", (json_int_t)sqlite3_column_int64(st, 0),
                          "name", col_text(st, 1),
                          "description", col_text(st, 2),
                          "price_cents", (json_int_t)sqlite3_column_int64(st, 3),
                          "stock", (json_int_t)sqlite3_column_int64(st, 4),
                          "created_by", col_text(st, 5),
                          "created_at", (json_int_t)sqlite3_column_int64(st, 6));
    if (o != NULL && sqlite3_column_type(st, 7) != SQLITE_NULL) {
        json_object_set_new(o, "updated_by", json_string(col_text(st, 7)));
        json_object_set_new(o, "updated_at", json_integer(sqlite3_column_int64(st, 8)));
    }
    return o;
}

#define COLUMNS "id, name, description, price_cents, stock, created_by, created_at, " \
                "updated_by, updated_at"

/* A cached statement, reset and unbound for its next use; NULL when it cannot be prepared. */
static sqlite3_stmt *
cached(catalog *c, sqlite3_stmt **slot, const char *sql)
{
    if (*slot == NULL &&
        sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) != SQLITE_OK)
        *slot = NULL;
    return *slot;
}

static void
release(sqlite3_stmt *st)
{
    if (st != NULL) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

static mcp_status
get_locked(catalog *c, int64_t id, json_t **out, mcp_error *err)
{
    mcp_status s = MCP_OK;
    sqlite3_stmt *st = cached(c, &c->get, "SELECT " COLUMNS " FROM products WHERE id = ?");
    if (st == NULL)
        return db_error(err, c->db, "select");
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if ((*out = row_json(st)) == NULL)
            s = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    } else if (rc == SQLITE_DONE)
        s = mcp_error_set(err, MCP_ERR_NOT_FOUND, "product %lld not found", (long long)id);
    else
        s = db_error(err, c->db, "select");
    release(st);
    return s;
}

mcp_status
catalog_get(catalog *c, int64_t id, json_t **out, mcp_error *err)
{
    pthread_mutex_lock(&c->mu);
    mcp_status s = get_locked(c, id, out, err);
    pthread_mutex_unlock(&c->mu);
    return s;
}

mcp_status
catalog_create(catalog *c, const char *name, const char *description, int64_t price_cents,
               int64_t stock, const char *by, json_t **out, mcp_error *err)
{
    sqlite3_stmt *st = NULL;
    mcp_status s = MCP_OK;
    pthread_mutex_lock(&c->mu);
    if (sqlite3_prepare_v2(c->db,
                           "INSERT INTO products(name, description, price_cents, stock,"
                           " created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK) {
        s = db_error(err, c->db, "insert");
        goto out;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, description ? description : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, price_cents);
    sqlite3_bind_int64(st, 4, stock < 0 ? 0 : stock);
    sqlite3_bind_text(st, 5, by, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)time(NULL));
    if (sqlite3_step(st) != SQLITE_DONE) {
        s = db_error(err, c->db, "insert");
        goto out;
    }
    s = get_locked(c, sqlite3_last_insert_rowid(c->db), out, err);
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&c->mu);
    return s;
}

mcp_status
catalog_update(catalog *c, int64_t id, const char *name, const char *description,
               int64_t price_cents, int64_t stock, const char *by, json_t **out, mcp_error *err)
{
    sqlite3_stmt *st = NULL;
    mcp_status s = MCP_OK;
    pthread_mutex_lock(&c->mu);
    /* COALESCE keeps a field whose new value is NULL (not given) */
    if (sqlite3_prepare_v2(c->db,
                           "UPDATE products SET name = COALESCE(?1, name),"
                           " description = COALESCE(?2, description),"
                           " price_cents = COALESCE(?3, price_cents),"
                           " stock = COALESCE(?4, stock), updated_by = ?5, updated_at = ?6"
                           " WHERE id = ?7",
                           -1, &st, NULL) != SQLITE_OK) {
        s = db_error(err, c->db, "update");
        goto out;
    }
    if (name != NULL)
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    if (description != NULL)
        sqlite3_bind_text(st, 2, description, -1, SQLITE_TRANSIENT);
    if (price_cents >= 0)
        sqlite3_bind_int64(st, 3, price_cents);
    if (stock >= 0)
        sqlite3_bind_int64(st, 4, stock);
    sqlite3_bind_text(st, 5, by, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)time(NULL));
    sqlite3_bind_int64(st, 7, id);
    if (sqlite3_step(st) != SQLITE_DONE) {
        s = db_error(err, c->db, "update");
        goto out;
    }
    if (sqlite3_changes(c->db) == 0) {
        s = mcp_error_set(err, MCP_ERR_NOT_FOUND, "product %lld not found", (long long)id);
        goto out;
    }
    s = get_locked(c, id, out, err);
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&c->mu);
    return s;
}

mcp_status
catalog_delete(catalog *c, int64_t id, mcp_error *err)
{
    sqlite3_stmt *st = NULL;
    mcp_status s = MCP_OK;
    pthread_mutex_lock(&c->mu);
    if (sqlite3_prepare_v2(c->db, "DELETE FROM products WHERE id = ?", -1, &st, NULL) !=
        SQLITE_OK) {
        s = db_error(err, c->db, "delete");
        goto out;
    }
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) != SQLITE_DONE)
        s = db_error(err, c->db, "delete");
    else if (sqlite3_changes(c->db) == 0)
        s = mcp_error_set(err, MCP_ERR_NOT_FOUND, "product %lld not found", (long long)id);
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&c->mu);
    return s;
}

mcp_status
catalog_list(catalog *c, const char *query, int64_t limit, int64_t offset, json_t **out,
             mcp_error *err)
{
    sqlite3_stmt *st = NULL, *cnt = NULL;
    mcp_status s = MCP_OK;
    json_t *arr = json_array();
    *out = NULL;
    if (arr == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&c->mu);
    /* instr(lower()) rather than LIKE: the user's text is never a pattern */
    st = cached(c, &c->list, "SELECT " COLUMNS " FROM products"
                             " WHERE ?1 IS NULL OR instr(lower(name), lower(?1)) > 0"
                             " ORDER BY id LIMIT ?2 OFFSET ?3");
    cnt = cached(c, &c->count, "SELECT count(*) FROM products"
                               " WHERE ?1 IS NULL OR instr(lower(name), lower(?1)) > 0");
    if (st == NULL || cnt == NULL) {
        s = db_error(err, c->db, "list");
        goto out;
    }
    if (query != NULL) {
        sqlite3_bind_text(st, 1, query, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(cnt, 1, query, -1, SQLITE_TRANSIENT);
    }
    sqlite3_bind_int64(st, 2, limit);
    sqlite3_bind_int64(st, 3, offset);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(arr, row_json(st));
    if (rc != SQLITE_DONE || sqlite3_step(cnt) != SQLITE_ROW) {
        s = db_error(err, c->db, "list");
        goto out;
    }
    *out = json_pack("{s:O, s:I, s:I}", "products", arr, "total",
                     (json_int_t)sqlite3_column_int64(cnt, 0), "offset", (json_int_t)offset);
    if (*out == NULL)
        s = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
out:
    release(st);
    release(cnt);
    pthread_mutex_unlock(&c->mu);
    json_decref(arr);
    return s;
}

mcp_status
catalog_seed(catalog *c, int *added, mcp_error *err)
{
    static const struct {
        const char *name, *desc;
        int64_t     price, stock;
    } samples[] = {
        { "Espresso machine", "15-bar pump, steam wand, 1.5 l tank", 24900, 12 },
        { "Burr grinder", "40 mm conical burrs, 30 grind settings", 13900, 25 },
        { "Pour-over kettle", "1 l gooseneck kettle with thermometer", 4500, 40 },
        { "Milk frothing pitcher", "600 ml stainless steel", 1900, 80 },
        { "Coffee beans, house blend", "1 kg, medium roast", 2400, 150 },
    };
    json_t *list = NULL;
    *added = 0;
    mcp_status s = catalog_list(c, NULL, 1, 0, &list, err);
    if (s != MCP_OK)
        return s;
    json_int_t total = json_integer_value(json_object_get(list, "total"));
    json_decref(list);
    if (total > 0)
        return MCP_OK;
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        json_t *p = NULL;
        s = catalog_create(c, samples[i].name, samples[i].desc, samples[i].price,
                           samples[i].stock, "seed", &p, err);
        json_decref(p);
        if (s != MCP_OK)
            return s;
        (*added)++;
    }
    return MCP_OK;
}
