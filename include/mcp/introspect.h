/*
 * libmcp: OAuth 2.0 Token Introspection (RFC 7662) for opaque access tokens.
 *
 * An introspector POSTs `token=...&token_type_hint=access_token` to the authorization server's
 * introspection endpoint, authenticating itself with client_secret_basic (RFC 6749 section
 * 2.3.1), and turns an `active:true` answer into an mcp_principal of kind
 * MCP_CRED_INTROSPECTION after checking exp, nbf, iss and aud itself.
 *
 * Results are cached by the SHA-256 of the token (never the token itself): an entry lives at most
 * cache_ttl_s seconds and never past the token's `exp`. Rejections are cached briefly
 * (negative_cache_ttl_s). When the
 * endpoint cannot be used (unreachable, timeout, non-200, oversize or malformed answer), the
 * token is refused with MCP_ERR_STORE, which the server answers with 503 (see
 * docs/design/authentication.md for why 503 and not 401).
 *
 * Thread safety: once built, an introspector may be shared by any number of threads calling
 * mcp_introspect_verify() concurrently. It keeps a small pool of libcurl handles so connections
 * to the endpoint are reused.
 */
#ifndef MCP_INTROSPECT_H
#define MCP_INTROSPECT_H

#include <mcp/auth.h>
#include <mcp/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mcp_introspector mcp_introspector;

/** Options for mcp_introspector_new(). Fill with mcp_introspect_opts_default(), then override. */
typedef struct mcp_introspect_opts {
    const char *url;             /* introspection endpoint; https, or http to a loopback host */
    const char *client_id;       /* our client id at the authorization server (required) */
    const void *client_secret;   /* its secret, client_secret_len bytes (required); copied into
                                    the prepared Authorization header, which is wiped on free */
    size_t      client_secret_len;
    const char *issuer;          /* when set, the answer's `iss` must be present and equal it */
    const char *audience;        /* when set, `aud` (string or array) must contain it exactly */
    bool        allow_no_audience; /* must be true when audience is NULL (explicit opt-out) */
    unsigned    leeway_s;        /* clock skew allowed for exp/nbf (default 60) */
    unsigned    timeout_ms;      /* whole HTTP exchange, connect included (default 3000) */
    size_t      max_response;    /* larger answers are refused (default 65536 bytes) */
    size_t      max_token_len;   /* longer tokens are refused without a request (default 4096) */
    size_t      cache_size;      /* cached results; 0 disables the cache (default 4096) */
    unsigned    cache_ttl_s;     /* longest life of a cached result (default 60; 0 = no cache) */
    bool        allow_insecure_url; /* allow http:// to non-loopback hosts (default false) */
    /* Rejections the server answered (inactive, audience mismatch, expired, ...) are cached
     * by token hash for negative_cache_ttl_s (default 5; 0 = off; at most 3600) in a table of
     * negative_cache_size entries (default 1024; 0 = off; at most 2^20), so a replayed bad
     * token costs one introspection per ttl. An unusable endpoint (503) is never cached. */
    size_t      negative_cache_size;
    unsigned    negative_cache_ttl_s;
} mcp_introspect_opts;

/** Fill o with the defaults documented in mcp_introspect_opts. @since 0.1 */
MCP_EXTERN void mcp_introspect_opts_default(mcp_introspect_opts *o);

/**
 * Create an introspector. Nothing is fetched yet.
 * @param opts     Borrowed; strings and the secret are copied.
 * @param[out] out New introspector; release with mcp_introspector_free(). Set only on MCP_OK.
 * @return MCP_OK, MCP_ERR_INVALID_ARG (missing url/client, bad or insecure URL, no audience
 *         without allow_no_audience) or MCP_ERR_NOMEM.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_introspector_new(const mcp_introspect_opts *opts, mcp_introspector **out,
                                mcp_error *err);

/** Free the introspector, its cache and its connections; wipes the credentials. NULL is allowed.
 *  Principals returned earlier stay valid (they are reference counted). @since 0.1 */
MCP_EXTERN void mcp_introspector_free(mcp_introspector *in);

/**
 * Introspect a token (or answer from the cache) and build the caller's principal.
 * Checks, in order: length, cache, the HTTP exchange (status 200, size, JSON object), `active`
 * is true, `token_type` (when present) is Bearer, exp, nbf, iss, aud, and a subject (`sub`, or
 * `client_id` when there is no `sub`).
 *
 * @param in       Introspector; safe to share across threads.
 * @param token    Token bytes (need not be NUL-terminated); borrowed for this call only.
 * @param[out] out Set only on MCP_OK: a new reference the caller releases with
 *                 mcp_principal_unref(). kind MCP_CRED_INTROSPECTION, subject = sub (or
 *                 client_id), name = username, issuer = iss, client_id, jti, expires_at = exp,
 *                 claims_json = the whole answer, permissions = the words of `scope`.
 * @param[out] err Optional; names the failed check ("token inactive", "token expired",
 *                 "audience mismatch", "introspection unavailable: ..."), never the token.
 * @return MCP_OK; MCP_ERR_UNAUTHENTICATED (the server said no, or a check failed);
 *         MCP_ERR_TOO_LARGE (longer than max_token_len); MCP_ERR_STORE (the endpoint could not
 *         be used: fail closed, answer 503); MCP_ERR_NOMEM.
 * @since 0.1
 */
MCP_EXTERN MCP_NODISCARD mcp_status mcp_introspect_verify(mcp_introspector *in, const char *token, size_t len,
                                               mcp_principal **out, mcp_error *err);

/** Counters, for tests and diagnostics. */
typedef struct mcp_introspect_stats {
    uint64_t requests;    /* HTTP exchanges attempted */
    uint64_t cache_hits;  /* answers served from the cache */
    uint64_t negative_hits; /* rejections served from the negative cache */
    size_t   cached;      /* entries currently held (expired ones included until replaced) */
} mcp_introspect_stats;

/** Read the counters. Thread-safe. @since 0.1 */
MCP_EXTERN void mcp_introspector_stats(const mcp_introspector *in, mcp_introspect_stats *out);

/** Drop every cached result, accepted and rejected, now (e.g. after a revocation).
 *  Thread-safe. @since 0.1 */
MCP_EXTERN void mcp_introspector_flush(mcp_introspector *in);

#ifdef __cplusplus
}
#endif
#endif
