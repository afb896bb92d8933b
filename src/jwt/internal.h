/* JWT internals shared by the files of src/jwt (and the JWT tests). Not part of the public API. */
#ifndef MCP_SRC_JWT_INTERNAL_H
#define MCP_SRC_JWT_INTERNAL_H

#include <mcp/jwt.h>

#include "common/common.h"
#include "jwt/jwt.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>

/* ------------------------------------------------------------------------------------------ */
/* Algorithms                                                                                 */

typedef enum mcp__jwt_alg {
    MCP__JWT_ALG_INVALID = -1,
    MCP__JWT_HS256 = 0,
    MCP__JWT_HS384,
    MCP__JWT_HS512,
    MCP__JWT_RS256,
    MCP__JWT_RS384,
    MCP__JWT_RS512,
    MCP__JWT_PS256,
    MCP__JWT_PS384,
    MCP__JWT_PS512,
    MCP__JWT_ES256,
    MCP__JWT_ES384,
    MCP__JWT_EDDSA,
    MCP__JWT_ALG_COUNT
} mcp__jwt_alg;

typedef enum mcp__jwt_family {
    MCP__JWT_FAM_HMAC,
    MCP__JWT_FAM_RSA,   /* RSASSA-PKCS1-v1_5 */
    MCP__JWT_FAM_PSS,   /* RSASSA-PSS, salt length = hash length, MGF1 with the same hash */
    MCP__JWT_FAM_EC,    /* ECDSA with JOSE r||s signatures */
    MCP__JWT_FAM_ED     /* Ed25519 */
} mcp__jwt_family;

typedef struct mcp__jwt_alg_info {
    const char     *name;     /* JOSE name, e.g. "ES256" */
    mcp__jwt_family family;
    const char     *md;       /* OpenSSL digest name; NULL for EdDSA */
    size_t          size;     /* HMAC: MAC and minimum secret length; EC: length of r (and s) */
    const char     *curve;    /* EC: JOSE curve name ("P-256"); NULL otherwise */
} mcp__jwt_alg_info;

/* Exact (case-sensitive) JOSE name -> alg; MCP__JWT_ALG_INVALID for anything else, incl. "none". */
mcp__jwt_alg mcp__jwt_alg_parse(const char *name);
const mcp__jwt_alg_info *mcp__jwt_alg_get(mcp__jwt_alg alg);

/* ------------------------------------------------------------------------------------------ */
/* Keys and key sets                                                                          */

typedef struct mcp__jwt_key {
    char          *kid;        /* NULL: matches tokens with any (or no) kid */
    mcp__jwt_alg   alg;        /* the one algorithm this key may be used with */
    unsigned char *secret;     /* HMAC secret (wiped on cleanup) */
    size_t         secret_len;
    EVP_PKEY      *pkey;       /* public key for every other family */
} mcp__jwt_key;

/* An immutable, reference-counted array of keys: built completely, then published. */
typedef struct mcp__jwt_keyset {
    atomic_int    refs;
    size_t        n, cap;
    mcp__jwt_key *keys;
} mcp__jwt_keyset;

#define MCP__JWT_MAX_KEYS 256     /* per set; JWKS documents with more keys are rejected */

void mcp__jwt_key_cleanup(mcp__jwt_key *k);
mcp__jwt_keyset *mcp__jwt_keyset_new(void);
mcp__jwt_keyset *mcp__jwt_keyset_ref(mcp__jwt_keyset *s);
void mcp__jwt_keyset_unref(mcp__jwt_keyset *s);
/* Append k, taking ownership of its contents (also on failure, when k is cleaned up). */
mcp_status mcp__jwt_keyset_take(mcp__jwt_keyset *s, mcp__jwt_key *k);
/* Append copies (EVP_PKEY_up_ref, secret copied) of every key of src. */
mcp_status mcp__jwt_keyset_copy_from(mcp__jwt_keyset *s, const mcp__jwt_keyset *src);

mcp_status mcp__jwt_key_from_hmac(const char *kid, const char *alg, const void *secret, size_t len,
                                  mcp__jwt_key *out, mcp_error *err);
mcp_status mcp__jwt_key_from_pem(const char *kid, const char *alg, const char *pem, size_t len,
                                 mcp__jwt_key *out, mcp_error *err);
/* Does pkey's type (and curve) fit alg? RSA also needs >= 2048 bits. */
bool mcp__jwt_pkey_fits(EVP_PKEY *pkey, mcp__jwt_alg alg);
/* The algorithm inferred for pkey, or MCP__JWT_ALG_INVALID when it is not unambiguous. */
mcp__jwt_alg mcp__jwt_pkey_default_alg(EVP_PKEY *pkey);
/* *alg == MCP__JWT_ALG_INVALID: infer it; then require that pkey fits it (INVALID_ARG). */
mcp_status mcp__jwt_pkey_resolve_alg(EVP_PKEY *pkey, mcp__jwt_alg *alg, mcp_error *err);
/* Parse a JWK Set; allow_oct = false skips symmetric keys (used for fetched documents). */
mcp_status mcp__jwt_jwks_parse(const char *json, size_t len, bool allow_oct,
                               mcp__jwt_keyset **out, mcp_error *err);
/* Read a whole file of at most max bytes into a NUL-terminated buffer (free with mcp__free,
 * after mcp_memzero when it held a secret). */
mcp_status mcp__jwt_read_file(const char *path, size_t max, char **out, size_t *len,
                              mcp_error *err);
/* Nesting depth of a JSON text (counting [ and { outside strings) is at most max. */
bool mcp__jwt_json_depth_ok(const unsigned char *s, size_t n, unsigned max);

/* ------------------------------------------------------------------------------------------ */
/* Signatures (jwt_sig.c)                                                                     */

/* Verify sig over data with key k (whose alg is the token's alg). Lengths are checked here:
 * HMAC = MAC size, RSA = modulus size, EC = 2 x coordinate size, Ed25519 = 64. */
bool mcp__jwt_sig_verify(const mcp__jwt_key *k, const unsigned char *data, size_t len,
                         const unsigned char *sig, size_t siglen);

/* Sign input as-is with alg (NULL: inferred from a PEM key); *sig_out is JOSE-encoded (raw r||s
 * for ECDSA) and freed with mcp__free. Lets tests sign crafted headers and payloads. */
mcp_status mcp__jwt_sign_raw(const char *alg, const void *key, size_t key_len, const char *input,
                             size_t ilen, unsigned char **sig_out, size_t *siglen_out,
                             mcp_error *err);

/* ------------------------------------------------------------------------------------------ */
/* The verified-token cache (jwt_cache.c)                                                     */

typedef struct mcp__jwt_cache mcp__jwt_cache;

#define MCP__JWT_HASH_LEN 32      /* SHA-256 */

mcp__jwt_cache *mcp__jwt_cache_new(size_t capacity);
void mcp__jwt_cache_free(mcp__jwt_cache *c);
/* A new reference to the cached principal when hash is present and now < its expiry. */
mcp_principal *mcp__jwt_cache_get(mcp__jwt_cache *c, const unsigned char *hash, int64_t now);
/* Insert (takes a new reference to p) unless the cache generation moved past gen. */
void mcp__jwt_cache_put(mcp__jwt_cache *c, const unsigned char *hash, const mcp_principal *p,
                        int64_t expires, uint64_t gen);
/* Drop every entry and set the generation to gen (called after a key set change). */
void mcp__jwt_cache_clear(mcp__jwt_cache *c, uint64_t gen);

typedef struct mcp__jwt_cache_stats {
    uint64_t hits, misses, inserts, evictions;
    size_t   entries;
} mcp__jwt_cache_stats;
void mcp__jwt_cache_get_stats(mcp__jwt_cache *c, mcp__jwt_cache_stats *st);

/* ------------------------------------------------------------------------------------------ */
/* A JWKS URL (jwks_fetch.c)                                                                  */

/* The fetcher knows nothing of the verifier: it hands each newly fetched key set to the
 * callback it was created with, and jwt.c installs it. jwt.c -> jwks_fetch.c -> jwk.c, never
 * back. */
typedef struct mcp__jwks_src mcp__jwks_src;

/* Publish a new key set (the callback owns set). Called from mcp__jwks_src_refresh, with the
 * source's fetch lock held: one call at a time, in fetch order. */
typedef void (*mcp__jwks_install_fn)(void *ctx, mcp__jwt_keyset *set);

/* Check url (https, or http to loopback unless opts->allow_insecure_jwks_url) and keep it with
 * the jwks_* limits of opts. Nothing is fetched yet. url NULL: discovery mode, the URL is the
 * jwks_uri of opts->issuer's metadata, looked up by the first successful refresh. */
mcp_status mcp__jwks_src_new(const char *url, const mcp_jwt_opts *opts,
                             mcp__jwks_install_fn install, void *ctx, mcp__jwks_src **out,
                             mcp_error *err);
/* Fetch, parse and (when the document changed) install. force ignores the throttle and waits
 * for a fetch in progress; otherwise a fetch in progress or one started less than
 * jwks_min_interval_s ago gives MCP_ERR_RATE_LIMITED at once. Called with no lock held. */
mcp_status mcp__jwks_src_refresh(mcp__jwks_src *s, bool force, mcp_error *err);
/* Would mcp__jwks_src_refresh(s, false, ...) fetch now (no fetch running, not throttled)? */
bool mcp__jwks_src_would_fetch(mcp__jwks_src *s);
/* Start the periodic refresh thread (jwks_refresh_s > 0); a failure to start only logs. */
void mcp__jwks_src_start(mcp__jwks_src *s);
/* Stop and join the refresh thread, abort a transfer in progress, free. NULL is fine. */
void mcp__jwks_src_free(mcp__jwks_src *s);
/* Has a key set been installed? When not, why (the last failure) into why. Thread safe. */
bool mcp__jwks_src_status(mcp__jwks_src *s, char *why, size_t cap);
/* Longest wait between attempts while no key set has arrived yet. */
#define MCP__JWKS_BACKOFF_MAX_S 30u

/* jwt_discover.c: the jwks_uri (and, when introspection is not NULL, the
 * introspection_endpoint; NULL when absent) of an issuer's metadata, by OIDC Discovery then
 * RFC 8414. The document's issuer must equal issuer. New strings (mcp__free). */
mcp_status mcp__jwt_discover(const char *issuer, bool allow_insecure, unsigned timeout_ms,
                             bool (*abort_fn)(void *), void *abort_ctx, char **jwks_uri,
                             char **introspection, mcp_error *err);

/* ------------------------------------------------------------------------------------------ */
/* The verifier                                                                               */

typedef int64_t (*mcp__jwt_clock_fn)(void *ctx);

/* Claims profiles (jwt_claims.c). */
typedef enum mcp__jwt_profile {
    MCP__JWT_PROFILE_NONE,
    MCP__JWT_PROFILE_ENTRA,
    MCP__JWT_PROFILE_KEYCLOAK,
    MCP__JWT_PROFILE_AUTH0,
    MCP__JWT_PROFILE_OKTA,
    MCP__JWT_PROFILE_COUNT
} mcp__jwt_profile;

/* A parsed claim path (jwt_claims.c): n segments, unescaped, NUL-separated in buf. */
#define MCP__CLAIM_PATH_SEGS 16
#define MCP__CLAIM_PATH_MAX  256
#define MCP__CLAIM_PATHS_MAX 16
typedef struct mcp__claim_path {
    char       *text;                      /* as configured (error messages) */
    char       *buf;
    const char *seg[MCP__CLAIM_PATH_SEGS];
    size_t      n;                         /* 0: not configured */
} mcp__claim_path;

struct mcp_jwt_verifier {
    mcp_jwt_opts     opts;          /* strings below are owned copies */
    char            *issuer, *audience, *typ;
    mcp__jwt_profile profile;       /* claims profile */
    char            *claims_client; /* keycloak: whose resource_access roles; NULL = azp */
    char           **tenants;       /* allowed `tid`s (n_tenants; 0 = any) */
    char           **perm_map;      /* from, to pairs (n_map pairs) */
    size_t           n_map;
    size_t           n_tenants;
    mcp__claim_path  sub_path, name_path, client_path; /* opts.*_claim; n 0 = not set */
    mcp__claim_path *perm_paths;    /* opts.permission_claims (n_perm_paths) */
    size_t           n_perm_paths;
    mcp_jwt_verifier **issuers;     /* further trusted issuers (owned; add_issuer) */
    size_t           n_issuers;

    pthread_mutex_t  lock;          /* guards local, remote, gen */
    mcp__jwt_keyset *local;         /* keys added with mcp_jwt_verifier_add_* */
    mcp__jwt_keyset *remote;        /* keys fetched from jwks_url (may be NULL) */
    uint64_t         gen;           /* bumped on every key set change */

    mcp__jwt_cache  *cache;         /* NULL when disabled */

    mcp__jwt_clock_fn clock;        /* unix seconds; tests may replace it */
    void            *clock_ctx;

    mcp__jwks_src   *jwks;          /* set once by mcp_jwt_verifier_set_jwks_url, or NULL */
};

/* jwt_claims.c: parse the profile options into v (verifier_new), free them (verifier_free). */
mcp_status mcp__jwt_profile_parse(const char *name, mcp__jwt_profile *out, mcp_error *err);
const char *mcp__jwt_profile_name(mcp__jwt_profile p);
mcp_status mcp__jwt_claims_setup(mcp_jwt_verifier *v, const mcp_jwt_opts *o, mcp_error *err);
void mcp__jwt_claims_cleanup(mcp_jwt_verifier *v);
/* The profile's subject / name / client id (each replaced only when the profile says so). */
mcp_status mcp__jwt_claims_identity(const mcp_jwt_verifier *v, const json_t *claims,
                                    const char **sub, const char **name, const char **client_id,
                                    mcp_error *err);
/* The profile's permissions beyond the generic permissions/scope/scp. */
mcp_status mcp__jwt_claims_permissions(const mcp_jwt_verifier *v, const json_t *claims,
                                       mcp_principal *p, mcp_error *err);
/* With a permission map: *p replaced by a principal of the same fields (f) whose permissions
 * are mapped. Without one, nothing happens. */
mcp_status mcp__jwt_claims_map(const mcp_jwt_verifier *v, const mcp_principal_fields *f,
                               mcp_principal **p, mcp_error *err);
/* iss against the configured issuer (exact, or the {tenantid} template), and tid against the
 * allowed tenants. */
mcp_status mcp__jwt_check_issuer(const mcp_jwt_verifier *v, const json_t *claims, const char *iss,
                                 mcp_error *err);

/* Parse a claim path (see mcp_jwt_opts.subject_claim); MCP_ERR_INVALID_ARG naming what when
 * malformed. Free with mcp__claim_path_cleanup(). */
mcp_status mcp__claim_path_parse(const char *text, const char *what, mcp__claim_path *cp,
                                 mcp_error *err);
void mcp__claim_path_cleanup(mcp__claim_path *cp);
/* The value at cp in claims: 0 found (*out), 1 absent, -1 a value of the wrong type on the way
 * (not an object or array, or a non-index segment on an array). */
int mcp__claim_path_get(const mcp__claim_path *cp, const json_t *claims, const json_t **out);

/* Replace the wall clock (tests). */
void mcp__jwt_verifier_set_clock(mcp_jwt_verifier *v, mcp__jwt_clock_fn fn, void *ctx);
/* Cache statistics (zeros when the cache is disabled). */
void mcp__jwt_verifier_cache_stats(const mcp_jwt_verifier *v, mcp__jwt_cache_stats *st);

#endif
