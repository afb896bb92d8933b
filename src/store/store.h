/*
 * src/store: the API of the SQLite user store for other folders. The store plugs into the server
 * and into src/authn through <mcp/store.h>; the embedded authorization server (src/as) keeps its
 * clients, codes, refresh-token families and password hashes here, through the mcp__store_as_*
 * functions below (store_as.c). The store's private pieces are in store/internal.h (STYLE.md
 * section 8).
 */
#ifndef MCP_SRC_STORE_STORE_H
#define MCP_SRC_STORE_STORE_H

#include <mcp/store.h>

/* ---- authorization-server tables (store_as.c) ------------------------------------------- */

/* The SQL of the store migration that creates the authorization server's tables (store.c
 * lists it among its migrations). Plain SQL types (TEXT, INTEGER) only. */
extern const char mcp__store_as_migration_sql[];
/* The same for the PostgreSQL backend (store_pg.c lists it as its migration 2). */
extern const char mcp__store_as_migration_sql_pg[];
extern const char mcp__store_as_migration3_sql[];
extern const char mcp__store_as_migration3_sql_pg[];

/* Password hash of subject (a self-describing string such as "$scrypt$..."), set or replaced.
 * MCP_ERR_NOT_FOUND when the user does not exist. */
mcp_status mcp__store_as_password_set(mcp_store *s, const char *subject, const char *hash,
                                      mcp_error *err);
/* *hash (caller mcp__free()s) is NULL when the user has no password or does not exist. */
mcp_status mcp__store_as_password_get(mcp_store *s, const char *subject, char **hash,
                                      mcp_error *err);

/* A registered client. Strings owned by the row (mcp__store_as_client_cleanup). */
typedef struct mcp__store_as_client {
    char   *id;
    char   *secret_hash;   /* hex SHA-256 of the secret; "" for a public client */
    char   *name;
    char   *redirect_uris; /* space-separated */
    char   *scope;         /* client_credentials: the scopes it may get ("" = none) */
    char   *owner;         /* client_credentials: the subject whose roles bound them ("" none) */
    char   *jwks;          /* private_key_jwt: the client's public JWK Set ("" = none) */
    int64_t created;
} mcp__store_as_client;

void mcp__store_as_client_cleanup(mcp__store_as_client *c);
/* MCP_ERR_STATE when the id exists. */
mcp_status mcp__store_as_client_add(mcp_store *s, const mcp__store_as_client *c, mcp_error *err);
/* MCP_ERR_NOT_FOUND when unknown; out is filled only on MCP_OK. */
mcp_status mcp__store_as_client_get(mcp_store *s, const char *id, mcp__store_as_client *out,
                                    mcp_error *err);
mcp_status mcp__store_as_client_remove(mcp_store *s, const char *id, mcp_error *err);
/* fn gets each client (ordered by id), borrowed for the call; return false to stop. */
mcp_status mcp__store_as_client_list(mcp_store *s,
                                     bool (*fn)(void *ctx, const mcp__store_as_client *c),
                                     void *ctx, mcp_error *err);

/* Record the jti of a client assertion (RFC 7523) until expires: *fresh is false when the
 * client used it before (a replay). Expired entries are dropped on the way. */
mcp_status mcp__store_as_assertion_use(mcp_store *s, const char *client_id, const char *jti,
                                       int64_t expires, int64_t now, bool *fresh,
                                       mcp_error *err);

/* What an authorization code or a refresh token stands for. Strings owned by the row. */
typedef struct mcp__store_as_grant {
    char   *client_id;
    char   *subject;
    char   *redirect_uri;  /* codes only */
    char   *challenge;     /* codes only: the S256 code_challenge */
    char   *resource;
    char   *scope;
    char   *family;        /* refresh tokens; for a redeemed code, the family it started */
    int64_t expires;       /* unix seconds */
} mcp__store_as_grant;

void mcp__store_as_grant_cleanup(mcp__store_as_grant *g);

/* Store a new code under the hex SHA-256 of its value. */
mcp_status mcp__store_as_code_put(mcp_store *s, const char *hash, const mcp__store_as_grant *g,
                                  mcp_error *err);

typedef enum mcp__store_as_take {
    MCP__AS_TAKE_OK,      /* the grant, now marked used */
    MCP__AS_TAKE_UNKNOWN, /* no such code / token */
    MCP__AS_TAKE_EXPIRED,
    MCP__AS_TAKE_REUSED   /* presented before: for a code, the family it started (if any) was
                             revoked; for a refresh token, its whole family was revoked */
} mcp__store_as_take;

/* Redeem a code: one transaction marks it used, so two racing redemptions cannot both win.
 * On MCP__AS_TAKE_OK *g is filled (clean it up). */
mcp_status mcp__store_as_code_take(mcp_store *s, const char *hash, int64_t now,
                                   mcp__store_as_take *res, mcp__store_as_grant *g,
                                   mcp_error *err);
/* Remember which refresh family a redeemed code started (a replayed code revokes it). */
mcp_status mcp__store_as_code_set_family(mcp_store *s, const char *hash, const char *family,
                                         mcp_error *err);

/* Store a refresh token (hex SHA-256) of g->family, creating the family when new. jti is the
 * access token issued with it (revoked with the family). */
mcp_status mcp__store_as_refresh_put(mcp_store *s, const char *hash, const mcp__store_as_grant *g,
                                     const char *jti, int64_t jti_expires, int64_t now,
                                     mcp_error *err);
/* Use a refresh token once: marks it used (rotation). A token already used, or of a revoked
 * family, revokes the family (MCP__AS_TAKE_REUSED). On MCP__AS_TAKE_OK *g is filled. */
mcp_status mcp__store_as_refresh_take(mcp_store *s, const char *hash, int64_t now,
                                      mcp__store_as_take *res, mcp__store_as_grant *g,
                                      mcp_error *err);
/* The family and client of a refresh token, without using it (RFC 7009 revocation). *family
 * and *client_id (caller frees) stay NULL when the token is unknown. */
mcp_status mcp__store_as_refresh_owner(mcp_store *s, const char *hash, char **family,
                                       char **client_id, mcp_error *err);
/* Revoke a family: its refresh tokens stop working and the jti of every access token issued
 * with them is recorded as revoked. */
mcp_status mcp__store_as_family_revoke(mcp_store *s, const char *family, int64_t now,
                                       mcp_error *err);
/* Is the family revoked? (false for an unknown family) */
mcp_status mcp__store_as_family_is_revoked(mcp_store *s, const char *family, bool *out,
                                           mcp_error *err);

#endif
