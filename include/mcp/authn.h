/*
 * libmcp: combined authentication for MCP_PHASE_AUTHN.
 *
 * One middleware item reads the caller's credential and routes it by its shape to the verifier
 * configured for that kind:
 *   - `mcp_<id>_<secret>` (an API key)        -> the store (mcp_store_key_verify)
 *   - three dot-separated segments (a JWS)    -> the JWT verifier (mcp_jwt_verify); when no JWT
 *                                                verifier is configured but introspection is,
 *                                                the authorization server decides instead
 *   - anything else (an opaque token)         -> token introspection (mcp_introspect_verify)
 * The credential comes from `Authorization: Bearer <token>` (scheme case-insensitive, RFC 6750
 * section 2.1) or, for API keys only, `X-API-Key: <key>`. What each failure answers is listed in
 * docs/design/authentication.md. The credential is never logged or echoed.
 */
#ifndef MCP_AUTHN_H
#define MCP_AUTHN_H

#include <mcp/introspect.h>
#include <mcp/jwt.h>
#include <mcp/server.h>
#include <mcp/store.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mcp_authn mcp_authn;

/** What mcp_authn_new() wires together. Every pointer is borrowed and must outlive the server. */
typedef struct mcp_authn_opts {
    mcp_store        *store;        /* API keys (and JWT `jti` revocations); NULL = no API keys */
    bool              api_keys;     /* accept API keys (needs store) */
    mcp_jwt_verifier *jwt;          /* NULL = no JWTs */
    mcp_introspector *introspector; /* NULL = no opaque tokens */
    bool              check_jwt_revocation; /* with store and jwt: refuse revoked `jti`s
                                               (default true) */
} mcp_authn_opts;

/** Fill o with defaults: nothing enabled, check_jwt_revocation true. @since 0.1 */
MCP_EXTERN void mcp_authn_opts_default(mcp_authn_opts *o);

/**
 * Build the authenticator.
 * @param opts     Borrowed; the pointers in it are kept (borrowed) and must outlive *out.
 * @param[out] out Release with mcp_authn_free() after the server is freed. Set only on MCP_OK.
 * @return MCP_OK, MCP_ERR_INVALID_ARG (no kind enabled, or api_keys without a store) or
 *         MCP_ERR_NOMEM.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_authn_new(const mcp_authn_opts *opts, mcp_authn **out, mcp_error *err);

/** Free the authenticator (not the verifiers it borrows). NULL is allowed. @since 0.1 */
MCP_EXTERN void mcp_authn_free(mcp_authn *a);

/**
 * The MCP_PHASE_AUTHN middleware: `mcp_server_use(srv, MCP_PHASE_AUTHN, mcp_authn_middleware,
 * authn, &err)`. Sets the request's principal on success.
 * @return MCP_OK; MCP_ERR_UNAUTHENTICATED (401; the challenge error is invalid_request for a
 *         malformed header, invalid_token otherwise); MCP_ERR_STORE (503: the store or the
 *         introspection endpoint is unusable); MCP_ERR_NOMEM.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_authn_middleware(mcp_request *req, void *authn, mcp_error *err);

/** Shapes of credentials, as mcp_authn_classify() reports them. */
typedef enum mcp_credential_shape {
    MCP_CREDENTIAL_API_KEY = 1,  /* starts with "mcp_" */
    MCP_CREDENTIAL_JWS = 2,      /* three non-empty base64url segments */
    MCP_CREDENTIAL_OPAQUE = 3    /* anything else */
} mcp_credential_shape;

/** Classify a credential by its shape only (nothing is verified). @since 0.1 */
MCP_EXTERN mcp_credential_shape mcp_authn_classify(const char *token, size_t len);

#ifdef __cplusplus
}
#endif
#endif
