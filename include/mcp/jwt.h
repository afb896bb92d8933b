/*
 * libmcp: JSON Web Token (compact JWS) verification and minting, on OpenSSL 3 EVP.
 *
 * A verifier holds a set of keys, each pinned to exactly one algorithm. A token's `alg` (and
 * `kid`, when present) only selects among the configured keys whose algorithm equals it; the
 * token can never choose a key or an algorithm that was not configured for it. `alg:none`,
 * `crit` extensions, and the key-carrying headers `jku`, `x5u`, `x5c` and `jwk` are never
 * honoured. Claims are checked (exp, nbf, iat, iss, aud, sub) and the result is an
 * mcp_principal of kind MCP_CRED_JWT. See docs/design/jwt.md for the exact order of checks.
 *
 * Thread safety: once built, a verifier may be shared by any number of threads calling
 * mcp_jwt_verify() concurrently. Adding keys (mcp_jwt_verifier_add_*) is also safe while other
 * threads verify: each change builds a new key set and swaps it in atomically.
 */
#ifndef MCP_JWT_H
#define MCP_JWT_H

#include <mcp/auth.h>
#include <mcp/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mcp_jwt_verifier mcp_jwt_verifier;
struct mcp_request; /* from <mcp/server.h>; only used by mcp_jwt_authn() */

/** Options for mcp_jwt_verifier_new(). Fill with mcp_jwt_opts_default(), then override. */
typedef struct mcp_jwt_opts {
    /* Required `iss` value (exact match). Required unless allow_no_issuer is true. */
    const char *issuer;
    /* This server's canonical resource URI (RFC 8707); `aud` must equal it or, when `aud` is
     * an array, contain it (exact match). Required unless allow_no_audience is true. */
    const char *audience;
    bool        allow_no_issuer;   /* opt out of the iss check (default false) */
    bool        allow_no_audience; /* opt out of the aud check (default false) */
    /* When non-NULL, the header `typ` must be present and equal it, ignoring ASCII case and an
     * "application/" prefix (RFC 8725 section 3.11), e.g. "at+jwt". Default NULL: not checked. */
    const char *typ;
    unsigned    leeway_s;          /* clock skew allowed for exp/nbf/iat (default 60) */
    size_t      max_token_len;     /* longer tokens fail with MCP_ERR_TOO_LARGE (default 8192) */
    unsigned    max_json_depth;    /* nesting limit of header and payload (default 16) */
    size_t      cache_size;        /* verified-token cache entries; 0 disables (default 10000) */
    unsigned    jwks_refresh_s;    /* background JWKS URL refresh; 0 disables (default 300) */
    unsigned    jwks_min_interval_s; /* unknown-kid refresh throttle (default 30; 0 = none) */
    unsigned    jwks_timeout_ms;   /* JWKS HTTP timeout (default 5000) */
    size_t      jwks_max_bytes;    /* JWKS response cap (default 256 KiB) */
    /* Allow http:// JWKS URLs to hosts other than loopback (default false: https only). */
    bool        allow_insecure_jwks_url;
    /* Where the provider puts subject, client id and permissions: NULL or "none" (permissions,
     * scope, scp), "entra" (+ roles; subject = oid), "keycloak" (+ realm_access.roles and
     * resource_access.<client>.roles), "auth0", "okta" (client = cid). Unknown names are
     * refused by mcp_jwt_verifier_new(). See docs/design/authentication.md. @since 0.2 */
    const char *claims_profile;
    /* keycloak: the client whose resource_access roles count (default NULL: the token's azp). */
    const char *claims_client;
    /* Accepted `tid` values (NULL-terminated, copied; NULL = any). Required when issuer holds
     * the "{tenantid}" template (Entra's multi-tenant issuer form). */
    const char *const *allowed_tenants;
    /* The provider's role/scope names to ours, as NULL-terminated pairs
     * { "Products.Admin", "Admin.Write", from, to, ..., NULL } (copied; NULL = none). A mapped
     * name is replaced by its target, others are kept. A bad pair (empty, a target with spaces
     * or control characters, a name mapped twice) is refused by mcp_jwt_verifier_new(). */
    const char *const *permission_map;
    /* Claim paths (@since 0.2; docs/design/authentication.md#claim-paths): where the subject,
     * name, client id and further permissions come from, each a claim name or a dotted path
     * into nested objects and arrays: "oid", "realm_access.roles",
     * "resource_access.my-client.roles", "groups.0" (a decimal segment indexes an array). In
     * a name, \. is a dot and \\ a backslash (as text; in C source "https://example\\.com/roles"
     * is the one claim "https://example.com/roles"); another backslash, an empty segment, more
     * than 16 segments or more than 256 bytes are refused by mcp_jwt_verifier_new(). NULL:
     * the profile's choice. A value of the wrong JSON type along the path is "malformed token:
     * <path>". */
    const char *subject_claim;   /* a non-empty string; absent from a token: refused */
    const char *name_claim;      /* a string; absent: the profile's name */
    const char *client_id_claim; /* a string; absent: the profile's client id */
    /* NULL-terminated (copied; at most 16): each path's value, a string of space-separated
     * words or an array of strings, adds permissions to the profile's (before permission_map). */
    const char *const *permission_claims;
} mcp_jwt_opts;

/** Fill o with the defaults documented in mcp_jwt_opts. @since 0.1 */
MCP_EXTERN void mcp_jwt_opts_default(mcp_jwt_opts *o);

/**
 * Create a verifier with no keys.
 * @param opts     Borrowed; strings are copied.
 * @param[out] out New verifier; release with mcp_jwt_verifier_free().
 * @return MCP_OK, MCP_ERR_INVALID_ARG (e.g. no issuer and allow_no_issuer not set) or
 *         MCP_ERR_NOMEM.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_jwt_verifier_new(const mcp_jwt_opts *opts, mcp_jwt_verifier **out, mcp_error *err);

/**
 * Trust a further issuer: a token whose `iss` is issuer's configured issuer (exact, or its
 * {tenantid} template filled with the token's `tid`) is verified by issuer alone — its keys,
 * audience, claims profile and tenants — so a token naming issuer A is never checked against
 * issuer B's keys. A token naming none of v's issuers (v's own included) is refused ("issuer
 * not trusted"). v takes ownership of issuer (also on failure). Call before v is used.
 * @return MCP_OK, MCP_ERR_INVALID_ARG (NULL, no issuer, or an issuer v already trusts),
 *         MCP_ERR_NOMEM.
 * @since 0.2
 */
MCP_EXTERN mcp_status mcp_jwt_verifier_add_issuer(mcp_jwt_verifier *v, mcp_jwt_verifier *issuer,
                                                  mcp_error *err);

/**
 * Stop the JWKS refresh thread (if any) and free the verifier, its keys and its cache.
 * Principals returned earlier stay valid (they are reference counted). NULL is allowed.
 * @since 0.1
 */
MCP_EXTERN void mcp_jwt_verifier_free(mcp_jwt_verifier *v);

/**
 * Add an HMAC key. alg is "HS256", "HS384" or "HS512"; the secret must be at least as long as
 * the hash output (32, 48, 64 bytes; RFC 7518 section 3.2) and must not be a PEM document.
 * @param kid    Key id the token must carry, or NULL (then any token with this alg may use it).
 * @param secret Borrowed; copied, and the copy is wiped when the key is dropped.
 * @return MCP_OK, MCP_ERR_INVALID_ARG or MCP_ERR_NOMEM.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_jwt_verifier_add_hmac(mcp_jwt_verifier *v, const char *kid, const char *alg,
                                     const void *secret, size_t len, mcp_error *err);

/** As mcp_jwt_verifier_add_hmac() with the secret read from a file: the file's bytes, with one
 *  trailing "\n" ignored. Read buffers are wiped. @return also MCP_ERR_IO. @since 0.1 */
MCP_EXTERN mcp_status mcp_jwt_verifier_add_hmac_file(mcp_jwt_verifier *v, const char *kid, const char *alg,
                                          const char *path, mcp_error *err);

/**
 * Add a public key from PEM (SubjectPublicKeyInfo "PUBLIC KEY", or an X.509 "CERTIFICATE").
 * alg may be NULL to infer it: RSA -> RS256, EC P-256 -> ES256, EC P-384 -> ES384,
 * Ed25519 -> EdDSA. A key whose type does not fit alg is rejected, as are RSA keys below 2048
 * bits and other curves.
 * @param pem Borrowed; parsed once into a cached EVP_PKEY.
 * @return MCP_OK, MCP_ERR_INVALID_ARG or MCP_ERR_NOMEM.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_jwt_verifier_add_pem(mcp_jwt_verifier *v, const char *kid, const char *alg,
                                    const char *pem, size_t len, mcp_error *err);

/** As mcp_jwt_verifier_add_pem() with the PEM read from path. @return also MCP_ERR_IO. */
MCP_EXTERN mcp_status mcp_jwt_verifier_add_pem_file(mcp_jwt_verifier *v, const char *kid, const char *alg,
                                         const char *path, mcp_error *err);

/**
 * Add every usable key of a JWK Set document ({"keys":[...]}): kty RSA, EC (P-256, P-384),
 * OKP (Ed25519) and oct (only with an explicit HS* `alg`). A key's algorithm is its `alg`
 * member, else inferred (RSA -> RS256, P-256 -> ES256, P-384 -> ES384, Ed25519 -> EdDSA).
 * Keys with `use` other than "sig", `key_ops` without "verify", or an unknown kty/alg/crv are
 * skipped; a malformed member of a supported key fails the whole call.
 * @param json Borrowed.
 * @return MCP_OK, MCP_ERR_INVALID_ARG (malformed, or no usable key), MCP_ERR_NOMEM.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_jwt_verifier_add_jwks(mcp_jwt_verifier *v, const char *json, size_t len,
                                     mcp_error *err);

/** As mcp_jwt_verifier_add_jwks() with the document read from path. @return also MCP_ERR_IO. */
MCP_EXTERN mcp_status mcp_jwt_verifier_add_jwks_file(mcp_jwt_verifier *v, const char *path, mcp_error *err);

/**
 * Fetch keys from a JWKS URL (libcurl) now, and keep them current: a background thread
 * refreshes every jwks_refresh_s seconds, and a token with an unknown `kid` triggers a refresh
 * at most once per jwks_min_interval_s. When a refresh fails (unreachable, non-200, oversize,
 * malformed), the previous key set keeps serving. https:// is required except for loopback
 * hosts (or with allow_insecure_jwks_url). oct keys in a fetched set are ignored.
 * Call once per verifier, during setup (before other threads use it).
 * @param url Borrowed; copied.
 * @return MCP_OK; MCP_ERR_INVALID_ARG (bad URL, already set, or the first document has no
 *         usable key); MCP_ERR_IO (first fetch failed: unreachable, non-200, over
 *         jwks_max_bytes); MCP_ERR_NOMEM. On failure no URL is configured.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_jwt_verifier_set_jwks_url(mcp_jwt_verifier *v, const char *url, mcp_error *err);

/**
 * As mcp_jwt_verifier_set_jwks_url(), but a first fetch that fails (the provider is down at
 * start-up) is not an error: it is logged, and a background thread retries with backoff
 * (1 s, doubling, at most 30 s) until a key set arrives, then refreshes as usual. Until then a
 * token that no local key verifies fails with MCP_ERR_STORE (503: "signing keys unavailable"),
 * not MCP_ERR_UNAUTHENTICATED; mcp_jwt_verifier_keys_ready() says when keys are there.
 * @return MCP_OK; MCP_ERR_INVALID_ARG (bad URL, or already set); MCP_ERR_NOMEM.
 * @since 0.2
 */
MCP_EXTERN mcp_status mcp_jwt_verifier_start_jwks_url(mcp_jwt_verifier *v, const char *url,
                                                      mcp_error *err);

/**
 * As mcp_jwt_verifier_start_jwks_url() with the URL discovered from the verifier's issuer
 * (mcp_jwt_discover()) by the first attempt that succeeds, and retried the same way.
 * @return MCP_OK; MCP_ERR_INVALID_ARG (no issuer, or a JWKS URL already set); MCP_ERR_NOMEM.
 * @since 0.2
 */
MCP_EXTERN mcp_status mcp_jwt_verifier_discover_jwks(mcp_jwt_verifier *v, mcp_error *err);

/**
 * True when every JWKS URL of v (and of the issuers added with mcp_jwt_verifier_add_issuer())
 * has been fetched at least once; a verifier without one is ready. When not, the last failure
 * (no secret) goes into why (cap bytes, may be NULL). Never blocks. Thread: any thread.
 * @since 0.2
 */
MCP_EXTERN bool mcp_jwt_verifier_keys_ready(const mcp_jwt_verifier *v, char *why, size_t cap);

/**
 * Authorization server metadata discovery: fetch ISSUER/.well-known/openid-configuration
 * (OpenID Connect Discovery 1.0), and when that fails the RFC 8414 document
 * (/.well-known/oauth-authorization-server inserted before the issuer's path). The document's
 * "issuer" must equal issuer exactly. Its URLs follow the JWKS URL rule (https, or http to
 * loopback unless opts->allow_insecure_jwks_url); opts->jwks_timeout_ms bounds each request.
 * Blocks (network I/O).
 * @param opts NULL: mcp_jwt_opts_default().
 * @param[out] jwks_uri Set on MCP_OK (NULL when the document has none); free with mcp_free().
 * @param[out] introspection_endpoint May be NULL; else as jwks_uri for that member.
 * @return MCP_OK; MCP_ERR_IO (unreachable, non-200; err names the URLs tried);
 *         MCP_ERR_INVALID_ARG (bad issuer URL, not JSON, issuer mismatch, a URL breaking the
 *         rule); MCP_ERR_NOMEM.
 * @since 0.2
 */
MCP_EXTERN mcp_status mcp_jwt_discover(const char *issuer, const mcp_jwt_opts *opts,
                                       char **jwks_uri, char **introspection_endpoint,
                                       mcp_error *err);

/**
 * Re-fetch the JWKS URL now, ignoring the throttle. On failure the old keys stay.
 * @return MCP_OK, MCP_ERR_STATE (no URL set), MCP_ERR_IO, MCP_ERR_INVALID_ARG (bad document).
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_jwt_verifier_refresh_jwks(mcp_jwt_verifier *v, mcp_error *err);

/** Number of keys currently configured (local and fetched). Thread-safe. @since 0.1 */
MCP_EXTERN size_t mcp_jwt_verifier_key_count(const mcp_jwt_verifier *v);

/**
 * Verify a compact JWS and build the caller's principal from its claims.
 * Checks, in order: size, the verified-token cache, structure and encodings, header (alg, crit,
 * typ), key selection by (alg, kid), signature, claims (exp, nbf, iat, iss, aud, sub).
 * Successful results are cached until the token's exp; rejections are not cached.
 *
 * @param v        Verifier; safe to share across threads.
 * @param token    Token bytes (need not be NUL-terminated); borrowed for this call only.
 * @param[out] out Set only on MCP_OK: a new reference the caller releases with
 *                 mcp_principal_unref(). subject = sub, name, issuer = iss,
 *                 client_id = client_id or azp, key_id = kid, jti, expires_at = exp,
 *                 claims_json = the payload; permissions = `permissions` array, the words of
 *                 `scope`, and `scp` (array or string).
 * @param[out] err Optional; names the failed check, never token, claim or key bytes.
 * @return MCP_OK, MCP_ERR_UNAUTHENTICATED, MCP_ERR_TOO_LARGE (token longer than
 *         max_token_len), MCP_ERR_STORE (a JWKS URL is configured but no key set has been
 *         fetched yet and no local key verifies the token: 503, retry later) or MCP_ERR_NOMEM.
 * @since 0.1
 */
MCP_EXTERN MCP_NODISCARD mcp_status mcp_jwt_verify(const mcp_jwt_verifier *v, const char *token, size_t len,
                                        mcp_principal **out, mcp_error *err);

/**
 * As mcp_jwt_verify(), but never waits on the network: where mcp_jwt_verify() would fetch the
 * JWKS URL for an unknown `kid` (no fetch running, not throttled by jwks_min_interval_s), it
 * returns MCP_ERR_WOULD_BLOCK instead, having cached nothing; call mcp_jwt_verify() on a thread
 * that may block. For callers on an event loop (the HTTP IO threads: mcp_jwt_authn and
 * mcp_authn_middleware use it when mcp_request_can_block() is false).
 * @return as mcp_jwt_verify(), and MCP_ERR_WOULD_BLOCK.
 * @since 0.1
 */
MCP_EXTERN MCP_NODISCARD mcp_status mcp_jwt_verify_nowait(const mcp_jwt_verifier *v,
                                               const char *token, size_t len,
                                               mcp_principal **out, mcp_error *err);

/**
 * Mint a compact JWS (used by the mcp-token CLI and by tests).
 * @param alg     "HS256".."HS512", "RS256".."RS512", "PS256".."PS512", "ES256", "ES384",
 *                "EdDSA"; NULL infers it from a PEM private key like mcp_jwt_verifier_add_pem().
 * @param key     For HS*: the secret bytes (same minimum length as for verification). Otherwise
 *                a PEM private key (PKCS#8 or traditional). Borrowed.
 * @param claims_json The payload: one JSON object (borrowed); written compactly.
 * @param kid     Optional `kid` header, or NULL.
 * @param[out] token_out Set only on MCP_OK; NUL-terminated; the caller frees it with
 *                mcp_free().
 * @return MCP_OK, MCP_ERR_INVALID_ARG or MCP_ERR_NOMEM.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_jwt_sign(const char *alg, const void *key, size_t key_len, const char *claims_json,
                        const char *kid, char **token_out, mcp_error *err);

/**
 * Decode a token's header and payload WITHOUT verifying anything (for inspection tools).
 * Both must be JSON objects. Never use the result for an access decision.
 * @param[out] header_json  Set only on MCP_OK; caller frees with mcp_free().
 * @param[out] payload_json Set only on MCP_OK; caller frees with mcp_free().
 * @return MCP_OK, MCP_ERR_PARSE, MCP_ERR_TOO_LARGE (over 64 KiB) or MCP_ERR_NOMEM.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_jwt_decode_unverified(const char *token, size_t len, char **header_json,
                                     char **payload_json, mcp_error *err);

/**
 * Authentication middleware for MCP_PHASE_AUTHN (an mcp_middleware_fn; ctx = the verifier):
 * reads `Authorization: Bearer <token>` (scheme case-insensitive, one token of base64url
 * characters and dots), verifies it and sets the request's principal.
 * Missing header -> MCP_ERR_UNAUTHENTICATED "missing Authorization header"; another scheme ->
 * MCP_ERR_UNAUTHENTICATED; malformed header -> MCP_ERR_UNAUTHENTICATED with challenge error
 * "invalid_request"; a token that fails verification (including one that is too large) ->
 * MCP_ERR_UNAUTHENTICATED with challenge error "invalid_token".
 * @param verifier A mcp_jwt_verifier *; must outlive the server.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_jwt_authn(struct mcp_request *req, void *verifier, mcp_error *err);

#ifdef __cplusplus
}
#endif
#endif
