/*
 * Private to src/as: the authorization server object and the helpers its endpoints share.
 * Symbols shared between its files use the mcp__as_ prefix.
 */
#ifndef MCP_SRC_AS_INTERNAL_H
#define MCP_SRC_AS_INTERNAL_H

#include <mcp/as.h>
#include <mcp/jwt.h>

#include "common/common.h"
#include "jwt/jwt.h"
#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#define MCP__AS_THROTTLE_SLOTS 1024

typedef struct mcp__as_slot {
    char     key[160];   /* "u:<subject>" or "a:<address>"; "" = free */
    unsigned fails;
    int64_t  window_start;
} mcp__as_slot;

#define MCP__AS_CIMD_SLOTS 64
#define MCP__AS_CIMD_TTL   300

typedef struct mcp__as_cimd_slot {
    mcp__store_as_client client;   /* id NULL = free */
    int64_t              expires;
} mcp__as_cimd_slot;

#define MCP__AS_OLD_KEYS 8

/* A retired signing key: published in /jwks until drop_at, never used to sign. */
typedef struct mcp__as_old_key {
    char   *kid;
    json_t *jwk;
    int64_t drop_at;
} mcp__as_old_key;

struct mcp_as {
    mcp_as_opts   opts;
    char         *issuer;
    char        **resources;     /* NULL-terminated copies */
    char         *key_path;      /* the signing key file */
    pthread_rwlock_t key_mu;     /* key_pem, kid, cur_jwk, old[] (a rotation swaps them) */
    char         *key_pem;       /* the private key (wiped on free) */
    struct evp_pkey_st *pkey;    /* the same, parsed once (signing only reads it) */
    char         *kid;
    json_t       *cur_jwk;
    mcp__as_old_key old[MCP__AS_OLD_KEYS];
    size_t        nold;
    ino_t         key_ino;       /* the key file as last loaded (a rotation replaces it) */
    int64_t       key_mtime;     /* ns */
    _Atomic int64_t key_checked; /* unix second of the last look at the file */
    char         *jwks_json;     /* every key loaded at creation (mcp_as_jwks_json) */
    char         *metadata_json;
    mcp_jwt_verifier *verifier;  /* our own access tokens, for /revoke */
    unsigned char csrf_key[32];  /* HMAC key of the login form tokens (from the signing key) */
    pthread_mutex_t throttle_mu;
    mcp__as_slot    throttle[MCP__AS_THROTTLE_SLOTS];
    pthread_mutex_t cimd_mu;     /* client metadata documents fetched lately */
    mcp__as_cimd_slot cimd[MCP__AS_CIMD_SLOTS];
};

/* ---- clients (as_cimd.c) ---------------------------------------------------------------- */

/* Is id a URL (a client ID metadata document) rather than a registered client id? */
bool mcp__as_cimd_id(const char *id);
/* The client for id: a URL is fetched (or taken from the cache) and checked, any other id is
 * read from the store. MCP_ERR_NOT_FOUND / MCP_ERR_INVALID_ARG: no such (valid) client. */
mcp_status mcp__as_client_get(mcp_as *as, const char *id, mcp__store_as_client *cl,
                              mcp_error *err);
void mcp__as_cimd_cleanup(mcp_as *as);
/* Does the client authenticate (a secret, or keys for private_key_jwt)? */
bool mcp__as_client_confidential(const mcp__store_as_client *cl);
/* Check a client's public keys for private_key_jwt (a JWK Set or one JWK: public, not oct,
 * each usable by the JWT verifier) and give the set to store in *out (caller frees). */
mcp_status mcp__as_client_jwks_check(const char *json, size_t len, char **out, mcp_error *err);

/* ---- form / query parameters (as_util.c) ------------------------------------------------ */

#define MCP__AS_FORM_MAX 32

typedef struct mcp__as_form {
    size_t n;
    char  *name[MCP__AS_FORM_MAX];
    char  *value[MCP__AS_FORM_MAX];
    bool   dup;                    /* a name appeared twice (OAuth: invalid_request) */
} mcp__as_form;

/* Parse application/x-www-form-urlencoded bytes. MCP_ERR_PARSE on bad encoding or too many
 * fields, MCP_ERR_NOMEM. */
mcp_status mcp__as_form_parse(mcp__as_form *f, const char *body, size_t len);
const char *mcp__as_form_get(const mcp__as_form *f, const char *name);
void mcp__as_form_cleanup(mcp__as_form *f);
/* Percent-decode (and '+' as space) into a new string; NULL on bad encoding / NUL / memory. */
char *mcp__as_urldecode(const char *s, size_t n);
/* Append s percent-encoded (RFC 3986 unreserved kept). */
mcp_status mcp__as_urlencode(mcp_buf *b, const char *s);
/* Append s HTML-escaped. */
mcp_status mcp__as_html(mcp_buf *b, const char *s);

/* 32 random bytes, base64url (43 characters). NULL on failure. */
char *mcp__as_random_token(void);
/* Lower-case hex SHA-256 of s (65 bytes with the NUL). */
bool mcp__as_sha256_hex(const char *s, size_t n, char out[65]);
/* base64url(SHA-256(verifier)) == challenge, in constant time; verifier checked against
 * RFC 7636 section 4.1 (43..128 unreserved characters). */
bool mcp__as_pkce_ok(const char *verifier, const char *challenge);

/* scrypt password hashing: "$scrypt$ln=15,r=8,p=1$<salt b64url>$<hash b64url>". */
char *mcp__as_password_hash(const char *pw, size_t len, unsigned log2n);
/* Constant-time check of pw against stored (NULL stored: a dummy hash is computed, so an
 * unknown user costs the same time, and false is returned). */
bool mcp__as_password_check(const char *pw, size_t len, const char *stored);

/* Is `uri` an allowed redirect for a client registered with `registered` (space-separated):
 * exact string match, or a loopback http redirect matching but for the port (RFC 8252). */
bool mcp__as_redirect_ok(const char *registered, const char *uri);
/* Is s a scope string (space-separated printable tokens, no quotes or backslash)? */
bool mcp__as_scope_ok(const char *s);
/* Words of `want` that are in `have` (both space-separated, have may be a NULL-terminated
 * array instead when have_arr != NULL); want NULL/"" = all of have. New string. */
char *mcp__as_scope_grant(const char *want, const char *const *have_arr, const char *have_str);

/* ---- throttle (as_util.c) --------------------------------------------------------------- */

/* Seconds to wait (0 = go ahead) for key, limit failures per window. */
unsigned mcp__as_throttle_wait(mcp_as *as, const char *key, unsigned limit, int64_t now);
void mcp__as_throttle_fail(mcp_as *as, const char *key, int64_t now);
void mcp__as_throttle_reset(mcp_as *as, const char *key);

/* ---- responses (as.c) -------------------------------------------------------------------- */

/* A JSON answer (Cache-Control: no-store) with body taken from doc (stolen). */
void mcp__as_json(mcp_http_route_resp *rs, unsigned status, json_t *doc);
/* An OAuth error answer {"error":..., "error_description":...}. */
void mcp__as_oauth_error(mcp_http_route_resp *rs, unsigned status, const char *code,
                         const char *desc);
/* Add a response header (value copied). */
void mcp__as_header(mcp_http_route_resp *rs, const char *name, const char *value);
/* Is r one of the resources this server issues tokens for? */
bool mcp__as_resource_ok(const mcp_as *as, const char *r);
/* Mint an access token; *jti_out (optional) gets its jti (caller frees). */
mcp_status mcp__as_mint(mcp_as *as, const char *subject, const char *client_id,
                        const char *resource, const char *scope, int64_t now, char **token,
                        char **jti_out, mcp_error *err);

/* The JWK Set of the keys in force at now (INT64_MIN: every key loaded). New string. */
char *mcp__as_jwks_at(mcp_as *as, int64_t now);
/* Look at the key file (at most once a second unless force) and take a rotated key. */
void mcp__as_key_check(mcp_as *as, int64_t now, bool force);

/* ---- endpoints -------------------------------------------------------------------------- */

void mcp__as_authorize(mcp_as *as, const mcp_http_route_req *rq, mcp_http_route_resp *rs);
void mcp__as_token(mcp_as *as, const mcp_http_route_req *rq, mcp_http_route_resp *rs);
void mcp__as_register(mcp_as *as, const mcp_http_route_req *rq, mcp_http_route_resp *rs);
/* A redirect URI's form: absolute, no fragment, no spaces or quotes, printable ASCII. */
bool mcp__as_redirect_form_ok(const char *u);
void mcp__as_introspect(mcp_as *as, const mcp_http_route_req *rq, mcp_http_route_resp *rs);
void mcp__as_revoke(mcp_as *as, const mcp_http_route_req *rq, mcp_http_route_resp *rs);

#endif
