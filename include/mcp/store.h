/*
 * libmcp: the user and credential store (SQLite, or PostgreSQL), API keys, and the API-key
 * authentication middleware.
 *
 * One SQLite file holds users, roles and their permissions, API keys (hashed) and revoked token
 * ids. The server reads it on the hot path through an in-memory cache; every change to the file,
 * including changes made by another process such as `mcp-admin`, invalidates the whole cache
 * within mcp_store_opts.change_check_ms (see docs/design/store.md).
 *
 * Thread safety: every function may be called on one mcp_store from any number of threads at
 * once, except mcp_store_close(), which must be the last call (as for any object).
 *
 * Fail closed: when the file cannot be read, every lookup returns MCP_ERR_STORE (the server
 * answers 503). An error is never reported as "user exists" or "key valid".
 */
#ifndef MCP_STORE_H
#define MCP_STORE_H

#include <mcp/auth.h>
#include <mcp/common.h>
#include <mcp/server.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mcp_store mcp_store;

/* Limits enforced on every input (longer or malformed values give MCP_ERR_INVALID_ARG). */
#define MCP_STORE_SUBJECT_MAX    255 /* bytes; no control characters */
#define MCP_STORE_NAME_MAX       255 /* display name / key label; no control characters */
#define MCP_STORE_ROLE_MAX       64  /* [A-Za-z0-9._:-] */
#define MCP_STORE_PERMISSION_MAX 128 /* printable ASCII, no spaces */
#define MCP_STORE_JTI_MAX        255 /* no control characters */

/* API keys look like "mcp_<id>_<secret>": a 12-character id (a-z, 2-7) and a 43-character
 * base64url secret (32 random bytes, 256 bits). */
#define MCP_APIKEY_PREFIX     "mcp_"
#define MCP_APIKEY_ID_LEN     12
#define MCP_APIKEY_SECRET_LEN 43
#define MCP_APIKEY_LEN        (4 + MCP_APIKEY_ID_LEN + 1 + MCP_APIKEY_SECRET_LEN)

/* ------------------------------------------------------------------------------------------ */
/* Opening                                                                                    */

typedef struct mcp_store_opts {
    unsigned busy_timeout_ms; /* a write waits this long for another writer's lock
                                 (default 5000) */
    unsigned change_check_ms; /* look for changes by other processes at most this often
                                 (default 1000; 0 = before every lookup) */
    unsigned readers;         /* read connections in the pool (default 4, 1..64) */
    size_t   cache_max;       /* cached entries per kind (users, keys, token ids);
                                 default 8192; 0 = no cache, every lookup reads the file */
    bool     create;          /* create the file when missing (default true) */
    unsigned read_timeout_ms; /* SQLite: the longest a lookup or list waits for a lock another
                                 connection holds (busy, or every WAL read lock taken) before
                                 it fails with MCP_ERR_STORE (default 500; 0 = busy_timeout_ms).
                                 Writes wait busy_timeout_ms. @since 0.2 */
} mcp_store_opts;

/** Fill o with the defaults above. @since 0.1 */
MCP_EXTERN void mcp_store_opts_default(mcp_store_opts *o);

/**
 * Open (and create, unless opts->create is false) a store file, switch it to WAL mode and apply
 * any pending schema migrations in one transaction. A file whose schema is newer than this
 * library knows is refused.
 *
 * A path starting with postgresql:// or postgres:// is a libpq connection URI instead: the
 * store then lives in that PostgreSQL database (same tables and behaviour; create = false
 * refuses a database without the store's tables; changes by any client are seen through
 * LISTEN/NOTIFY within change_check_ms; see docs/design/store.md).
 *
 * @param path     File name or PostgreSQL URI; borrowed, copied.
 * @param opts     Borrowed; NULL means the defaults.
 * @param[out] out New store; release with mcp_store_close(). Set only on MCP_OK.
 * @param[out] err Optional.
 * @return MCP_OK, MCP_ERR_INVALID_ARG, MCP_ERR_NOMEM, or MCP_ERR_STORE (cannot open, not a
 *         database, corrupt, migration failed, schema too new).
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_store_open(const char *path, const mcp_store_opts *opts, mcp_store **out,
                          mcp_error *err);

/**
 * path as it may be shown to people (in messages and logs): a PostgreSQL URI with its password
 * (user:PASSWORD@ or password=PASSWORD) replaced by "***"; a file name unchanged. Writes at
 * most cap bytes (truncated, always NUL-terminated when cap > 0) and returns buf.
 * @since 0.2
 */
MCP_EXTERN const char *mcp_store_display_name(const char *path, char *buf, size_t cap);

/** Close every connection and free the cache. NULL is allowed. @since 0.1 */
MCP_EXTERN void mcp_store_close(mcp_store *store);

/** Drop every cached entry now (e.g. on SIGHUP). Thread-safe. @since 0.1 */
MCP_EXTERN void mcp_store_invalidate(mcp_store *store);

/**
 * Is the store reachable? The same check lookups make (SQLite: the file is still the one
 * opened and answers; PostgreSQL: the server answers), at most once per change_check_ms while
 * it succeeds. For readiness probes. May block (up to the store's timeouts): not on an event
 * loop. Thread-safe.
 * @return MCP_OK or MCP_ERR_STORE (err says why, without credentials).
 * @since 0.2
 */
MCP_EXTERN mcp_status mcp_store_check(mcp_store *store, mcp_error *err);

/** Highest schema migration applied to the file (for diagnostics). @since 0.1 */
MCP_EXTERN int mcp_store_schema_version(const mcp_store *store);

/** Is store shared between processes on several machines (the PostgreSQL backend)?
 * @since 0.2 */
MCP_EXTERN bool mcp_store_is_shared(const mcp_store *store);
/**
 * Shared rate-limit windows (the RBAC engine's mcp_rbac_opts.shared_rate_limits): add n to the
 * counter of bucket (1..1024 bytes, no control characters) in the fixed window starting at
 * window_start (unix ms), kept until expires (unix ms); *total gets the count after the
 * addition. One round trip, atomic across instances. MCP_ERR_UNSUPPORTED on SQLite,
 * MCP_ERR_STORE when the server is unreachable. Thread-safe. @since 0.2
 */
MCP_EXTERN MCP_NODISCARD mcp_status mcp_store_rate_add(mcp_store *store, const char *bucket,
                                                       int64_t window_start, int64_t expires,
                                                       int64_t n, int64_t *total,
                                                       mcp_error *err);
/** Delete the rate windows that expired before now (unix ms); MCP_OK, doing nothing, on
 * SQLite. Thread-safe. @since 0.2 */
MCP_EXTERN mcp_status mcp_store_rate_expire(mcp_store *store, int64_t now, mcp_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Users                                                                                      */

/**
 * Add an enabled user. name may be NULL (stored as "").
 * @return MCP_OK, MCP_ERR_INVALID_ARG, MCP_ERR_STATE (subject exists), MCP_ERR_STORE.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_store_user_add(mcp_store *store, const char *subject, const char *name,
                              mcp_error *err);

/**
 * Add a user and grant it roles in one transaction (either all or nothing).
 * @param roles NULL-terminated list (NULL = none); borrowed.
 * @return As mcp_store_user_add(), plus MCP_ERR_NOT_FOUND when a role does not exist.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_store_user_add_with_roles(mcp_store *store, const char *subject, const char *name,
                                         const char *const *roles, mcp_error *err);

/** Remove a user with its role grants and API keys. @return MCP_OK, MCP_ERR_NOT_FOUND, ... */
MCP_EXTERN mcp_status mcp_store_user_remove(mcp_store *store, const char *subject, mcp_error *err);

/** Enable or disable a user. @return MCP_OK, MCP_ERR_NOT_FOUND, MCP_ERR_STORE, ... @since 0.1 */
MCP_EXTERN mcp_status mcp_store_user_set_enabled(mcp_store *store, const char *subject, bool enabled,
                                      mcp_error *err);

/** A user row as passed to list callbacks. Every pointer is borrowed for the callback only. */
typedef struct mcp_store_user {
    const char        *subject;
    const char        *name;     /* "" when none */
    bool               enabled;
    int64_t            created;  /* unix seconds */
    const char *const *roles;    /* NULL-terminated, sorted */
    size_t             n_roles;
} mcp_store_user;

/** List callback: return false to stop early. */
typedef bool (*mcp_store_user_fn)(void *ctx, const mcp_store_user *user);

/**
 * Call fn for every user, ordered by subject. The rows are read first and the store is not
 * locked while fn runs, so fn may call the store.
 * @return MCP_OK, MCP_ERR_NOMEM or MCP_ERR_STORE.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_store_user_list(mcp_store *store, mcp_store_user_fn fn, void *ctx, mcp_error *err);

/**
 * The hot-path view of one user. Filled by mcp_store_user_lookup(); the strings and the
 * permission array belong to an immutable, reference-counted snapshot shared with the cache, so a
 * cache hit allocates nothing. Release with mcp_store_user_info_cleanup() when done; the pointers
 * stay valid until then, even if the store changes, is invalidated or is closed meanwhile.
 */
typedef struct mcp_store_user_info {
    bool               exists;
    bool               enabled;        /* false when !exists */
    const char        *subject;        /* never NULL after a successful lookup */
    const char        *name;           /* "" when none or !exists */
    const char *const *permissions;    /* union over the user's roles; NULL-terminated, sorted,
                                          no duplicates; empty when !exists */
    size_t             n_permissions;
    const void        *snapshot_;      /* private */
} mcp_store_user_info;

/** Initialize to an empty state that mcp_store_user_info_cleanup() accepts. @since 0.1 */
MCP_EXTERN void mcp_store_user_info_init(mcp_store_user_info *info);
/** Release the snapshot and reset info to the init state. NULL is allowed. @since 0.1 */
MCP_EXTERN void mcp_store_user_info_cleanup(mcp_store_user_info *info);

/**
 * Look up a subject: does it exist, is it enabled, which permissions do its roles give.
 * A subject not in the store is a successful lookup with out->exists == false.
 *
 * @param[out] out Overwritten (whatever it held is NOT released). On MCP_OK call
 *                 mcp_store_user_info_cleanup(); on failure it is left in the init state.
 * @return MCP_OK, MCP_ERR_INVALID_ARG, MCP_ERR_NOMEM, or MCP_ERR_STORE (store unreadable: the
 *         caller must refuse the request).
 * @since 0.1
 */
MCP_EXTERN MCP_NODISCARD mcp_status mcp_store_user_lookup(mcp_store *store, const char *subject,
                                               mcp_store_user_info *out, mcp_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Roles                                                                                      */

/** Give subject a role (idempotent). @return MCP_OK, MCP_ERR_NOT_FOUND (user or role), ... */
MCP_EXTERN mcp_status mcp_store_role_grant(mcp_store *store, const char *subject, const char *role,
                                mcp_error *err);
/** Take a role away. @return MCP_OK, MCP_ERR_NOT_FOUND (user/role unknown or not granted), ... */
MCP_EXTERN mcp_status mcp_store_role_revoke(mcp_store *store, const char *subject, const char *role,
                                 mcp_error *err);

/**
 * Create role if missing and replace its permissions with perms (NULL-terminated; NULL or empty
 * leaves the role without permissions). One transaction. @since 0.1
 */
MCP_EXTERN mcp_status mcp_store_role_set_permissions(mcp_store *store, const char *role,
                                          const char *const *perms, mcp_error *err);

/** Delete a role and every grant of it. @return MCP_OK, MCP_ERR_NOT_FOUND, ... @since 0.1 */
MCP_EXTERN mcp_status mcp_store_role_remove(mcp_store *store, const char *role, mcp_error *err);

/** A role as passed to list callbacks; pointers borrowed for the callback only. */
typedef struct mcp_store_role {
    const char        *name;
    const char *const *permissions; /* NULL-terminated, sorted */
    size_t             n_permissions;
} mcp_store_role;

typedef bool (*mcp_store_role_fn)(void *ctx, const mcp_store_role *role);

/** Call fn for every role, ordered by name (same locking rules as mcp_store_user_list()). */
MCP_EXTERN mcp_status mcp_store_role_list(mcp_store *store, mcp_store_role_fn fn, void *ctx, mcp_error *err);

/* ------------------------------------------------------------------------------------------ */
/* API keys                                                                                   */

/**
 * Create an API key for owner. Only the SHA-256 of the secret is stored; the plaintext key is
 * returned here once and is never stored or logged.
 *
 * @param owner    Existing user's subject.
 * @param label    Free text for humans (NULL = "").
 * @param ttl_s    Lifetime in seconds; 0 = never expires.
 * @param[out] key_out The key "mcp_<id>_<secret>"; the caller owns it: wipe it with
 *                 mcp_memzero(*key_out, strlen(*key_out)) and release it with mcp_free().
 * @param[out] key_id  Optional (NULL allowed): receives the NUL-terminated key id.
 * @return MCP_OK, MCP_ERR_INVALID_ARG, MCP_ERR_NOT_FOUND (owner), MCP_ERR_NOMEM, MCP_ERR_STORE.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_store_key_create(mcp_store *store, const char *owner, const char *label,
                                int64_t ttl_s, char **key_out, char key_id[MCP_APIKEY_ID_LEN + 1],
                                mcp_error *err);

/** Revoke a key by id (the row stays, for listing). @return MCP_OK, MCP_ERR_NOT_FOUND, ... */
MCP_EXTERN mcp_status mcp_store_key_revoke(mcp_store *store, const char *key_id, mcp_error *err);

/** A key row as passed to list callbacks (never the secret); pointers borrowed for the call. */
typedef struct mcp_store_key {
    const char *id;
    const char *owner;
    const char *label;
    int64_t     created;  /* unix seconds */
    int64_t     expires;  /* unix seconds; 0 = never */
    int64_t     revoked;  /* unix seconds of revocation; 0 = not revoked */
} mcp_store_key;

typedef bool (*mcp_store_key_fn)(void *ctx, const mcp_store_key *key);

/** Call fn for every key (of owner, or all when owner is NULL), ordered by owner, created. */
MCP_EXTERN mcp_status mcp_store_key_list(mcp_store *store, const char *owner, mcp_store_key_fn fn, void *ctx,
                              mcp_error *err);

/**
 * Verify an API key and produce the caller's principal: kind MCP_CRED_API_KEY, subject = owner,
 * name = the owner's name, key_id, expires_at = the key's expiry, permissions = the union of the
 * owner's role permissions. Checks, in order: format, key id known, secret (constant-time compare
 * of SHA-256), not revoked, not expired, owner known, owner enabled. err names the failed check,
 * never the key.
 *
 * The principal is shared with the cache (immutable); a cache hit costs a hash-table lookup, one
 * SHA-256 and a reference count increment.
 *
 * @param key      The presented key, len bytes (need not be NUL-terminated); borrowed.
 * @param[out] out One reference for the caller: release with mcp_principal_unref(). Set only on
 *                 MCP_OK.
 * @return MCP_OK, MCP_ERR_UNAUTHENTICATED, MCP_ERR_NOMEM, or MCP_ERR_STORE.
 * @since 0.1
 */
MCP_EXTERN MCP_NODISCARD mcp_status mcp_store_key_verify(mcp_store *store, const char *key, size_t len,
                                              const mcp_principal **out, mcp_error *err);

/**
 * Does s look like an API key, i.e. start with "mcp_"? Says nothing about validity; lets a
 * combined API-key/JWT authenticator pick the verifier. NULL gives false. @since 0.1
 */
MCP_EXTERN bool mcp_apikey_looks_like(const char *s);

/* ------------------------------------------------------------------------------------------ */
/* Revoked tokens (JWT ids)                                                                   */

/**
 * Record jti as revoked (idempotent; a later call updates expires).
 * @param expires Unix seconds after which the row may be purged (the token's exp); 0 = keep.
 */
MCP_EXTERN mcp_status mcp_store_token_revoke(mcp_store *store, const char *jti, int64_t expires,
                                  mcp_error *err);

/**
 * Is jti revoked? Cached like the other lookups.
 * @param[out] out Set only on MCP_OK.
 * @return MCP_OK, MCP_ERR_INVALID_ARG or MCP_ERR_STORE.
 */
MCP_EXTERN MCP_NODISCARD mcp_status mcp_store_token_is_revoked(mcp_store *store, const char *jti, bool *out,
                                                    mcp_error *err);

/** Delete revocations whose expires is non-zero and before now. @param[out] n Optional count. */
MCP_EXTERN mcp_status mcp_store_token_purge(mcp_store *store, int64_t now, size_t *n, mcp_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Authentication middleware                                                                  */

/**
 * MCP_PHASE_AUTHN middleware: `mcp_server_use(srv, MCP_PHASE_AUTHN, mcp_apikey_authn, store, &e)`.
 * Reads the key from `Authorization: Bearer mcp_...` or `X-API-Key: mcp_...`, verifies it and
 * sets the request's principal.
 *
 * Failures: no credential -> MCP_ERR_UNAUTHENTICATED "missing Authorization header" (no error
 * code in the challenge, RFC 6750 section 3.1); both headers, another scheme or a token that is
 * not an API key -> MCP_ERR_UNAUTHENTICATED with challenge "invalid_request" / "invalid_token";
 * a bad key -> MCP_ERR_UNAUTHENTICATED naming the check, challenge "invalid_token"; the store
 * unreadable -> MCP_ERR_STORE (503).
 *
 * @param store An mcp_store * (void * to match mcp_middleware_fn); must outlive the server.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_apikey_authn(mcp_request *req, void *store, mcp_error *err);

#ifdef __cplusplus
}
#endif
#endif
