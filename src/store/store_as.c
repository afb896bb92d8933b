/*
 * The embedded authorization server's tables (src/as): password hashes, registered clients,
 * authorization codes and refresh-token families. Secrets are never stored: codes and refresh
 * tokens by the hex SHA-256 of their value (they are 256-bit random, so a fast hash is enough,
 * as for API keys), passwords by a memory-hard hash computed in src/as.
 *
 * Portability: the statements run unchanged on both backends (mcp__store_query/_exec/_exists:
 * ? placeholders, hex text instead of BLOB, no INSERT OR REPLACE, no AUTOINCREMENT); only the
 * CREATE TABLEs differ (INTEGER vs BIGINT times), one migration text per backend.
 */
#include "store/internal.h"

#include <stddef.h>
#include <string.h>

const char mcp__store_as_migration_sql[] =
    "CREATE TABLE user_passwords ("
    "  subject TEXT PRIMARY KEY NOT NULL REFERENCES users(subject) ON DELETE CASCADE,"
    "  hash    TEXT NOT NULL,"
    "  updated INTEGER NOT NULL);"
    "CREATE TABLE oauth_clients ("
    "  id            TEXT PRIMARY KEY NOT NULL,"
    "  secret_hash   TEXT NOT NULL DEFAULT '',"
    "  name          TEXT NOT NULL DEFAULT '',"
    "  redirect_uris TEXT NOT NULL DEFAULT '',"
    "  scope         TEXT NOT NULL DEFAULT '',"
    "  owner         TEXT NOT NULL DEFAULT '',"
    "  created       INTEGER NOT NULL);"
    "CREATE TABLE oauth_codes ("
    "  hash         TEXT PRIMARY KEY NOT NULL,"
    "  client_id    TEXT NOT NULL,"
    "  subject      TEXT NOT NULL,"
    "  redirect_uri TEXT NOT NULL,"
    "  challenge    TEXT NOT NULL,"
    "  resource     TEXT NOT NULL,"
    "  scope        TEXT NOT NULL,"
    "  expires      INTEGER NOT NULL,"
    "  used         INTEGER NOT NULL DEFAULT 0,"
    "  family       TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE oauth_families ("
    "  id        TEXT PRIMARY KEY NOT NULL,"
    "  client_id TEXT NOT NULL,"
    "  subject   TEXT NOT NULL,"
    "  created   INTEGER NOT NULL,"
    "  revoked   INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE oauth_refresh_tokens ("
    "  hash        TEXT PRIMARY KEY NOT NULL,"
    "  family      TEXT NOT NULL REFERENCES oauth_families(id) ON DELETE CASCADE,"
    "  resource    TEXT NOT NULL,"
    "  scope       TEXT NOT NULL,"
    "  jti         TEXT NOT NULL,"
    "  jti_expires INTEGER NOT NULL,"
    "  created     INTEGER NOT NULL,"
    "  expires     INTEGER NOT NULL,"
    "  used        INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX oauth_refresh_by_family ON oauth_refresh_tokens(family);";

/* Migration 3 (PostgreSQL: 4): private_key_jwt clients (RFC 7523) register a public JWK Set,
 * and the jti of each client assertion is kept until its exp, so an assertion is used once. */
const char mcp__store_as_migration3_sql[] =
    "ALTER TABLE oauth_clients ADD COLUMN jwks TEXT NOT NULL DEFAULT '';"
    "CREATE TABLE oauth_assertions ("
    "  client_id TEXT NOT NULL,"
    "  jti       TEXT NOT NULL,"
    "  expires   INTEGER NOT NULL,"
    "  PRIMARY KEY (client_id, jti));"
    "CREATE INDEX oauth_assertions_by_expiry ON oauth_assertions(expires);";

const char mcp__store_as_migration3_sql_pg[] =
    "ALTER TABLE oauth_clients ADD COLUMN jwks TEXT NOT NULL DEFAULT '';"
    "CREATE TABLE oauth_assertions ("
    "  client_id TEXT COLLATE \"C\" NOT NULL,"
    "  jti       TEXT COLLATE \"C\" NOT NULL,"
    "  expires   BIGINT NOT NULL,"
    "  PRIMARY KEY (client_id, jti));"
    "CREATE INDEX oauth_assertions_by_expiry ON oauth_assertions(expires);";

/* The same tables for the PostgreSQL backend (store_pg.c): BIGINT times, byte-wise ("C")
 * collation for the keys, as its migration 1 does. */
const char mcp__store_as_migration_sql_pg[] =
    "CREATE TABLE user_passwords ("
    "  subject TEXT COLLATE \"C\" PRIMARY KEY NOT NULL REFERENCES users(subject)"
    "    ON DELETE CASCADE,"
    "  hash    TEXT NOT NULL,"
    "  updated BIGINT NOT NULL);"
    "CREATE TABLE oauth_clients ("
    "  id            TEXT COLLATE \"C\" PRIMARY KEY NOT NULL,"
    "  secret_hash   TEXT NOT NULL DEFAULT '',"
    "  name          TEXT NOT NULL DEFAULT '',"
    "  redirect_uris TEXT NOT NULL DEFAULT '',"
    "  scope         TEXT NOT NULL DEFAULT '',"
    "  owner         TEXT NOT NULL DEFAULT '',"
    "  created       BIGINT NOT NULL);"
    "CREATE TABLE oauth_codes ("
    "  hash         TEXT COLLATE \"C\" PRIMARY KEY NOT NULL,"
    "  client_id    TEXT NOT NULL,"
    "  subject      TEXT NOT NULL,"
    "  redirect_uri TEXT NOT NULL,"
    "  challenge    TEXT NOT NULL,"
    "  resource     TEXT NOT NULL,"
    "  scope        TEXT NOT NULL,"
    "  expires      BIGINT NOT NULL,"
    "  used         INTEGER NOT NULL DEFAULT 0,"
    "  family       TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE oauth_families ("
    "  id        TEXT COLLATE \"C\" PRIMARY KEY NOT NULL,"
    "  client_id TEXT NOT NULL,"
    "  subject   TEXT NOT NULL,"
    "  created   BIGINT NOT NULL,"
    "  revoked   BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE oauth_refresh_tokens ("
    "  hash        TEXT COLLATE \"C\" PRIMARY KEY NOT NULL,"
    "  family      TEXT COLLATE \"C\" NOT NULL REFERENCES oauth_families(id)"
    "    ON DELETE CASCADE,"
    "  resource    TEXT NOT NULL,"
    "  scope       TEXT NOT NULL,"
    "  jti         TEXT NOT NULL,"
    "  jti_expires BIGINT NOT NULL,"
    "  created     BIGINT NOT NULL,"
    "  expires     BIGINT NOT NULL,"
    "  used        BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX oauth_refresh_by_family ON oauth_refresh_tokens(family);";

static char *
col_dup(const mcp__store_rows *r, int i)
{
    const char *t = mcp__store_text(r, i);
    return mcp__strdup(t != NULL ? t : "");
}

/*
 * The rows are read into structs of owned strings, described by the offsets of their string
 * fields: one reader and one cleanup for clients, codes and refresh tokens alike.
 */
#define FIELD(type, f) offsetof(type, f)

static char **
field_at(void *obj, size_t off)
{
    return (char **)(void *)((char *)obj + off);
}

static void
fields_free(void *obj, const size_t *offs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char **f = field_at(obj, offs[i]);
        mcp__free(*f);
        *f = NULL;
    }
}

/* Columns 0..n-1 of the current row into the fields at offs (MCP_ERR_NOMEM: none kept). */
static mcp_status
fields_read(const mcp__store_rows *r, void *obj, const size_t *offs, size_t n, mcp_error *err)
{
    bool ok = true;
    for (size_t i = 0; i < n; i++)
        ok = (*field_at(obj, offs[i]) = col_dup(r, (int)i)) != NULL && ok;
    if (!ok) {
        fields_free(obj, offs, n);
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    }
    return MCP_OK;
}

#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

/* The client's string columns, in CLIENT_COLS order (created follows them). */
static const size_t CLIENT_FIELDS[] = {
    FIELD(mcp__store_as_client, id),          FIELD(mcp__store_as_client, secret_hash),
    FIELD(mcp__store_as_client, name),        FIELD(mcp__store_as_client, redirect_uris),
    FIELD(mcp__store_as_client, scope),       FIELD(mcp__store_as_client, owner),
    FIELD(mcp__store_as_client, jwks),
};
#define CLIENT_COLS "id, secret_hash, name, redirect_uris, scope, owner, jwks, created"

/* Every string of a grant (cleanup), and those a code row and a refresh row read. */
static const size_t GRANT_FIELDS[] = {
    FIELD(mcp__store_as_grant, client_id), FIELD(mcp__store_as_grant, subject),
    FIELD(mcp__store_as_grant, resource),  FIELD(mcp__store_as_grant, scope),
    FIELD(mcp__store_as_grant, family),    FIELD(mcp__store_as_grant, redirect_uri),
    FIELD(mcp__store_as_grant, challenge),
};
#define REFRESH_NFIELDS 5   /* the first five of GRANT_FIELDS */

/* Run a query expected to give at most one row on c: *row tells whether it did; the caller
 * reads it and ends r (also on failure: rows_end is safe on a failed query). */
static mcp_status
query_row(mcp__store_conn *c, mcp__store_rows *r, bool *row, mcp_error *err, const char *sql,
          const char *types, const char *a1)
{
    *row = false;
    mcp_status rc = mcp__store_query(c, r, err, sql, types, a1);
    if (rc == MCP_OK)
        rc = mcp__store_next(r, row, "read", err);
    return rc;
}

static mcp_status
need(mcp_store *s, const char *what, const char *v, mcp_error *err)
{
    if (s == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "store is missing");
    return mcp__store_check_text(what, v, 4096, false, err);
}

/* ---- passwords -------------------------------------------------------------------------- */

mcp_status
mcp__store_as_password_set(mcp_store *s, const char *subject, const char *hash, mcp_error *err)
{
    mcp_status rc = need(s, "subject", subject, err);
    if (rc == MCP_OK)
        rc = need(s, "password hash", hash, err);
    if (rc != MCP_OK)
        return rc;
    mcp__store_conn *c;
    if ((rc = mcp__store_write_begin(s, &c, err)) != MCP_OK)
        return rc;
    bool found = false;
    rc = mcp__store_exists(c, &found, err, "SELECT 1 FROM users WHERE subject = ?", "t", subject);
    if (rc == MCP_OK && !found)
        rc = mcp_error_set(err, MCP_ERR_NOT_FOUND, "no such user");
    if (rc == MCP_OK)
        rc = mcp__store_exec(c, NULL, err, "DELETE FROM user_passwords WHERE subject = ?", "t",
                             subject);
    if (rc == MCP_OK)
        rc = mcp__store_exec(c, NULL, err,
                             "INSERT INTO user_passwords(subject, hash, updated) VALUES (?, ?, ?)",
                             "tti", subject, hash, mcp__unix_now());
    return mcp__store_write_end(s, c, rc, err);
}

mcp_status
mcp__store_as_password_get(mcp_store *s, const char *subject, char **hash, mcp_error *err)
{
    *hash = NULL;
    mcp_status rc = need(s, "subject", subject, err);
    if (rc != MCP_OK)
        return rc;
    mcp__store_conn *c = mcp__store_reader_acquire(s);
    mcp__store_rows r;
    bool row = false;
    rc = query_row(c, &r, &row, err,
                   "SELECT p.hash FROM user_passwords p"
                   " JOIN users u ON u.subject = p.subject"
                   " WHERE p.subject = ?", "t", subject);
    if (rc == MCP_OK && row && (*hash = col_dup(&r, 0)) == NULL)
        rc = mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    mcp__store_rows_end(&r);
    mcp__store_conn_release(c);
    return rc;
}

/* ---- clients ---------------------------------------------------------------------------- */

void
mcp__store_as_client_cleanup(mcp__store_as_client *c)
{
    if (c == NULL)
        return;
    fields_free(c, CLIENT_FIELDS, NFIELDS(CLIENT_FIELDS));
    memset(c, 0, sizeof *c);
}

static const char *
orempty(const char *s)
{
    return s != NULL ? s : "";
}

mcp_status
mcp__store_as_client_add(mcp_store *s, const mcp__store_as_client *cl, mcp_error *err)
{
    mcp_status rc = need(s, "client id", cl != NULL ? cl->id : NULL, err);
    if (rc != MCP_OK)
        return rc;
    mcp__store_conn *c;
    if ((rc = mcp__store_write_begin(s, &c, err)) != MCP_OK)
        return rc;
    bool found = false;
    rc = mcp__store_exists(c, &found, err, "SELECT 1 FROM oauth_clients WHERE id = ?", "t",
                           cl->id);
    if (rc == MCP_OK && found)
        rc = mcp_error_set(err, MCP_ERR_STATE, "client id exists");
    if (rc == MCP_OK)
        rc = mcp__store_exec(c, NULL, err,
                             "INSERT INTO oauth_clients(id, secret_hash, name, redirect_uris,"
                             " scope, owner, jwks, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             "ttttttti", cl->id, orempty(cl->secret_hash), orempty(cl->name),
                             orempty(cl->redirect_uris), orempty(cl->scope), orempty(cl->owner),
                             orempty(cl->jwks), mcp__unix_now());
    return mcp__store_write_end(s, c, rc, err);
}

static mcp_status
client_row(const mcp__store_rows *st, mcp__store_as_client *out, mcp_error *err)
{
    memset(out, 0, sizeof *out);
    mcp_status rc = fields_read(st, out, CLIENT_FIELDS, NFIELDS(CLIENT_FIELDS), err);
    out->created = mcp__store_int(st, (int)NFIELDS(CLIENT_FIELDS));
    return rc;
}

mcp_status
mcp__store_as_client_get(mcp_store *s, const char *id, mcp__store_as_client *out, mcp_error *err)
{
    mcp_status rc = need(s, "client id", id, err);
    if (rc != MCP_OK)
        return rc;
    mcp__store_conn *c = mcp__store_reader_acquire(s);
    mcp__store_rows r;
    bool row = false;
    rc = query_row(c, &r, &row, err, "SELECT " CLIENT_COLS " FROM oauth_clients WHERE id = ?",
                   "t", id);
    if (rc == MCP_OK)
        rc = row ? client_row(&r, out, err)
                 : mcp_error_set(err, MCP_ERR_NOT_FOUND, "unknown client");
    mcp__store_rows_end(&r);
    mcp__store_conn_release(c);
    return rc;
}

mcp_status
mcp__store_as_client_remove(mcp_store *s, const char *id, mcp_error *err)
{
    mcp_status rc = need(s, "client id", id, err);
    if (rc != MCP_OK)
        return rc;
    mcp__store_conn *c;
    if ((rc = mcp__store_write_begin(s, &c, err)) != MCP_OK)
        return rc;
    size_t n = 0;
    rc = mcp__store_exec(c, &n, err, "DELETE FROM oauth_clients WHERE id = ?", "t", id);
    if (rc == MCP_OK && n == 0)
        rc = mcp_error_set(err, MCP_ERR_NOT_FOUND, "unknown client");
    /* the client's refresh families die with it */
    if (rc == MCP_OK)
        rc = mcp__store_exec(c, NULL, err,
                             "UPDATE oauth_families SET revoked = ? WHERE client_id = ?", "it",
                             mcp__unix_now(), id);
    return mcp__store_write_end(s, c, rc, err);
}

mcp_status
mcp__store_as_client_list(mcp_store *s, bool (*fn)(void *ctx, const mcp__store_as_client *c),
                          void *ctx, mcp_error *err)
{
    if (s == NULL || fn == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "missing argument");
    /* Read every row first, so fn may call the store (as mcp_store_user_list does). */
    mcp__store_as_client *rows = NULL;
    size_t n = 0, cap = 0;
    mcp_status rc = MCP_OK;
    mcp__store_conn *c = mcp__store_reader_acquire(s);
    mcp__store_rows r;
    bool row = false;
    rc = mcp__store_query(c, &r, err, "SELECT " CLIENT_COLS " FROM oauth_clients ORDER BY id",
                          "");
    while (rc == MCP_OK && (rc = mcp__store_next(&r, &row, "read", err)) == MCP_OK && row) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            mcp__store_as_client *nr = mcp__realloc(rows, ncap * sizeof *rows);
            if (nr == NULL) {
                rc = mcp_error_set(err, MCP_ERR_NOMEM, NULL);
                break;
            }
            rows = nr;
            cap = ncap;
        }
        if ((rc = client_row(&r, &rows[n], err)) == MCP_OK)
            n++;
    }
    mcp__store_rows_end(&r);
    mcp__store_conn_release(c);
    bool go = rc == MCP_OK;
    for (size_t i = 0; i < n; i++) {
        if (go)
            go = fn(ctx, &rows[i]);
        mcp__store_as_client_cleanup(&rows[i]);
    }
    mcp__free(rows);
    return rc;
}

/* ---- codes ------------------------------------------------------------------------------ */

void
mcp__store_as_grant_cleanup(mcp__store_as_grant *g)
{
    if (g == NULL)
        return;
    fields_free(g, GRANT_FIELDS, NFIELDS(GRANT_FIELDS));
    memset(g, 0, sizeof *g);
}

mcp_status
mcp__store_as_code_put(mcp_store *s, const char *hash, const mcp__store_as_grant *g,
                       mcp_error *err)
{
    mcp_status rc = need(s, "code", hash, err);
    if (rc != MCP_OK)
        return rc;
    mcp__store_conn *c;
    if ((rc = mcp__store_write_begin(s, &c, err)) != MCP_OK)
        return rc;
    /* Expired codes are useless: drop them here, so the table stays small without a timer. */
    rc = mcp__store_exec(c, NULL, err, "DELETE FROM oauth_codes WHERE expires < ?", "i",
                         mcp__unix_now() - 3600);
    if (rc == MCP_OK)
        rc = mcp__store_exec(c, NULL, err,
                             "INSERT INTO oauth_codes(hash, client_id, subject, redirect_uri,"
                             " challenge, resource, scope, expires) VALUES (?,?,?,?,?,?,?,?)",
                             "ttttttti", hash, g->client_id,
                             g->subject, g->redirect_uri, g->challenge, g->resource,
                             orempty(g->scope), g->expires);
    return mcp__store_write_end(s, c, rc, err);
}

static mcp_status
revoke_family_in(mcp__store_conn *c, const char *family, int64_t now, mcp_error *err)
{
    mcp_status rc = mcp__store_exec(c, NULL, err,
                                    "UPDATE oauth_families SET revoked = ? WHERE id = ?"
                                    " AND revoked = 0", "it", now, family);
    /* Access tokens issued in the family are short-lived, but a reuse means one may be in an
     * attacker's hands: their jti go to the revocation list the resource server checks. */
    if (rc == MCP_OK)
        rc = mcp__store_exec(c, NULL, err,
                             "INSERT INTO revoked_tokens(jti, expires)"
                             " SELECT r.jti, r.jti_expires FROM oauth_refresh_tokens r"
                             " WHERE r.family = ? AND r.jti <> '' AND NOT EXISTS"
                             " (SELECT 1 FROM revoked_tokens t WHERE t.jti = r.jti)", "t",
                             family);
    return rc;
}

mcp_status
mcp__store_as_code_take(mcp_store *s, const char *hash, int64_t now, mcp__store_as_take *res,
                        mcp__store_as_grant *g, mcp_error *err)
{
    *res = MCP__AS_TAKE_UNKNOWN;
    memset(g, 0, sizeof *g);
    mcp_status rc = need(s, "code", hash, err);
    if (rc != MCP_OK)
        return rc;
    mcp__store_conn *c;
    if ((rc = mcp__store_write_begin(s, &c, err)) != MCP_OK)
        return rc;
    mcp__store_rows st;
    bool used = false, row = false;
    rc = query_row(c, &st, &row, err,
                   "SELECT client_id, subject, resource, scope, family, redirect_uri, challenge,"
                   " expires, used FROM oauth_codes WHERE hash = ?", "t", hash);
    if (rc == MCP_OK && row &&
        (rc = fields_read(&st, g, GRANT_FIELDS, NFIELDS(GRANT_FIELDS), err)) == MCP_OK) {
        g->expires = mcp__store_int(&st, 7);
        used = mcp__store_int(&st, 8) != 0;
        if (used)
            *res = MCP__AS_TAKE_REUSED;
        else if (g->expires <= now)
            *res = MCP__AS_TAKE_EXPIRED;
        else
            *res = MCP__AS_TAKE_OK;
    }
    mcp__store_rows_end(&st);
    if (rc == MCP_OK && *res == MCP__AS_TAKE_OK)
        rc = mcp__store_exec(c, NULL, err, "UPDATE oauth_codes SET used = 1 WHERE hash = ?", "t",
                             hash);
    /* RFC 6749 section 4.1.2: a code used twice revokes what it was exchanged for. */
    if (rc == MCP_OK && *res == MCP__AS_TAKE_REUSED && g->family[0] != '\0')
        rc = revoke_family_in(c, g->family, now, err);
    rc = mcp__store_write_end(s, c, rc, err);
    if (rc != MCP_OK || *res != MCP__AS_TAKE_OK)
        mcp__store_as_grant_cleanup(g);
    return rc;
}

mcp_status
mcp__store_as_code_set_family(mcp_store *s, const char *hash, const char *family,
                              mcp_error *err)
{
    mcp_status rc = need(s, "code", hash, err);
    if (rc != MCP_OK)
        return rc;
    mcp__store_conn *c;
    if ((rc = mcp__store_write_begin(s, &c, err)) != MCP_OK)
        return rc;
    rc = mcp__store_exec(c, NULL, err, "UPDATE oauth_codes SET family = ? WHERE hash = ?", "tt",
                         family, hash);
    return mcp__store_write_end(s, c, rc, err);
}

/* ---- refresh tokens --------------------------------------------------------------------- */

mcp_status
mcp__store_as_refresh_put(mcp_store *s, const char *hash, const mcp__store_as_grant *g,
                          const char *jti, int64_t jti_expires, int64_t now, mcp_error *err)
{
    mcp_status rc = need(s, "refresh token", hash, err);
    if (rc == MCP_OK)
        rc = need(s, "family", g->family, err);
    if (rc != MCP_OK)
        return rc;
    mcp__store_conn *c;
    if ((rc = mcp__store_write_begin(s, &c, err)) != MCP_OK)
        return rc;
    bool found = false;
    rc = mcp__store_exists(c, &found, err, "SELECT 1 FROM oauth_families WHERE id = ?", "t",
                           g->family);
    if (rc == MCP_OK && !found)
        rc = mcp__store_exec(c, NULL, err,
                             "INSERT INTO oauth_families(id, client_id, subject, created)"
                             " VALUES (?, ?, ?, ?)", "ttti", g->family, g->client_id, g->subject,
                             now);
    if (rc == MCP_OK)
        rc = mcp__store_exec(c, NULL, err,
                             "INSERT INTO oauth_refresh_tokens(hash, family, resource, scope, jti,"
                             " jti_expires, created, expires) VALUES (?,?,?,?,?,?,?,?)",
                             "tttttiii", hash, g->family, g->resource, orempty(g->scope),
                             orempty(jti), jti_expires, now, g->expires);
    return mcp__store_write_end(s, c, rc, err);
}

mcp_status
mcp__store_as_refresh_take(mcp_store *s, const char *hash, int64_t now, mcp__store_as_take *res,
                           mcp__store_as_grant *g, mcp_error *err)
{
    *res = MCP__AS_TAKE_UNKNOWN;
    memset(g, 0, sizeof *g);
    mcp_status rc = need(s, "refresh token", hash, err);
    if (rc != MCP_OK)
        return rc;
    mcp__store_conn *c;
    if ((rc = mcp__store_write_begin(s, &c, err)) != MCP_OK)
        return rc;
    mcp__store_rows st;
    bool row = false;
    rc = query_row(c, &st, &row, err,
                   "SELECT f.client_id, f.subject, r.resource, r.scope,"
                   " r.family, r.expires, r.used, f.revoked"
                   " FROM oauth_refresh_tokens r"
                   " JOIN oauth_families f ON f.id = r.family"
                   " WHERE r.hash = ?", "t", hash);
    if (rc == MCP_OK && row &&
        (rc = fields_read(&st, g, GRANT_FIELDS, REFRESH_NFIELDS, err)) == MCP_OK) {
        g->expires = mcp__store_int(&st, 5);
        bool used = mcp__store_int(&st, 6) != 0;
        bool revoked = mcp__store_int(&st, 7) != 0;
        if (used || revoked)
            *res = MCP__AS_TAKE_REUSED;
        else if (g->expires <= now)
            *res = MCP__AS_TAKE_EXPIRED;
        else
            *res = MCP__AS_TAKE_OK;
    }
    mcp__store_rows_end(&st);
    if (rc == MCP_OK && *res == MCP__AS_TAKE_OK)
        rc = mcp__store_exec(c, NULL, err,
                             "UPDATE oauth_refresh_tokens SET used = ? WHERE hash = ?", "it", now,
                             hash);
    if (rc == MCP_OK && *res == MCP__AS_TAKE_REUSED)
        rc = revoke_family_in(c, g->family, now, err);
    rc = mcp__store_write_end(s, c, rc, err);
    if (rc != MCP_OK || *res != MCP__AS_TAKE_OK) {
        /* keep the family id for the audit line of a reuse */
        if (rc == MCP_OK && *res == MCP__AS_TAKE_REUSED) {
            char *fam = g->family;
            g->family = NULL;
            mcp__store_as_grant_cleanup(g);
            g->family = fam;
        } else {
            mcp__store_as_grant_cleanup(g);
        }
    }
    return rc;
}

mcp_status
mcp__store_as_refresh_owner(mcp_store *s, const char *hash, char **family, char **client_id,
                            mcp_error *err)
{
    *family = *client_id = NULL;
    mcp_status rc = need(s, "refresh token", hash, err);
    if (rc != MCP_OK)
        return rc;
    mcp__store_conn *c = mcp__store_reader_acquire(s);
    mcp__store_rows st;
    bool row = false;
    rc = query_row(c, &st, &row, err,
                   "SELECT r.family, f.client_id FROM oauth_refresh_tokens r"
                   " JOIN oauth_families f ON f.id = r.family"
                   " WHERE r.hash = ?", "t", hash);
    if (rc == MCP_OK && row) {
        *family = col_dup(&st, 0);
        *client_id = col_dup(&st, 1);
        if (*family == NULL || *client_id == NULL) {
            mcp__free(*family);
            mcp__free(*client_id);
            *family = *client_id = NULL;
            rc = mcp_error_set(err, MCP_ERR_NOMEM, NULL);
        }
    }
    mcp__store_rows_end(&st);
    mcp__store_conn_release(c);
    return rc;
}

mcp_status
mcp__store_as_family_revoke(mcp_store *s, const char *family, int64_t now, mcp_error *err)
{
    mcp_status rc = need(s, "family", family, err);
    if (rc != MCP_OK)
        return rc;
    mcp__store_conn *c;
    if ((rc = mcp__store_write_begin(s, &c, err)) != MCP_OK)
        return rc;
    rc = revoke_family_in(c, family, now, err);
    return mcp__store_write_end(s, c, rc, err);
}

mcp_status
mcp__store_as_family_is_revoked(mcp_store *s, const char *family, bool *out, mcp_error *err)
{
    *out = false;
    mcp_status rc = need(s, "family", family, err);
    if (rc != MCP_OK)
        return rc;
    mcp__store_conn *c = mcp__store_reader_acquire(s);
    rc = mcp__store_exists(c, out, err,
                           "SELECT 1 FROM oauth_families WHERE id = ? AND revoked <> 0", "t",
                           family);
    mcp__store_conn_release(c);
    return rc;
}

/* ---- client assertions (RFC 7523) ------------------------------------------------------- */

mcp_status
mcp__store_as_assertion_use(mcp_store *s, const char *client_id, const char *jti,
                            int64_t expires, int64_t now, bool *fresh, mcp_error *err)
{
    *fresh = false;
    mcp_status rc = need(s, "client id", client_id, err);
    if (rc == MCP_OK)
        rc = mcp__store_check_text("assertion jti", jti, 256, false, err);
    if (rc != MCP_OK)
        return rc;
    mcp__store_conn *c;
    if ((rc = mcp__store_write_begin(s, &c, err)) != MCP_OK)
        return rc;
    /* an assertion past its exp is refused anyway: its jti need not be kept */
    rc = mcp__store_exec(c, NULL, err, "DELETE FROM oauth_assertions WHERE expires < ?", "i",
                         now);
    bool seen = false;
    if (rc == MCP_OK)
        rc = mcp__store_exists(c, &seen, err,
                               "SELECT 1 FROM oauth_assertions WHERE client_id = ? AND jti = ?",
                               "tt", client_id, jti);
    if (rc == MCP_OK && !seen)
        rc = mcp__store_exec(c, NULL, err,
                             "INSERT INTO oauth_assertions(client_id, jti, expires)"
                             " VALUES (?, ?, ?)", "tti", client_id, jti, expires);
    rc = mcp__store_write_end(s, c, rc, err);
    *fresh = rc == MCP_OK && !seen;
    return rc;
}
