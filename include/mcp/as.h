/*
 * libmcp: the embedded OAuth 2.1 authorization server.
 *
 * It turns the store (<mcp/store.h>: users, roles, their permissions) into an issuer at the
 * server's own origin: RFC 8414 metadata (also at the OpenID discovery path), a login and
 * consent page at /authorize for store users with a password, the authorization_code grant
 * with PKCE S256 (mandatory) and RFC 8707 resource indicators (the token's `aud` is exactly the
 * resource, and only this server's resource URLs are accepted), refresh tokens with rotation and
 * reuse detection (a refresh token presented twice revokes its whole family), client_credentials
 * for confidential clients bound to a store user, and short-lived ES256 access tokens
 * (`typ: at+jwt`, RFC 9068 claims) that the server's own JWT verifier accepts.
 *
 * Codes, refresh families, clients and password hashes live in the store, hashed, so a restart
 * keeps them. See docs/design/authorization-server.md.
 *
 * Wiring (what `--embedded-as` does in <mcp/app.h>):
 *
 *     mcp_as_opts ao; mcp_as_opts_default(&ao);
 *     ao.issuer = "http://127.0.0.1:8080"; ao.resources = (const char *[]){ url, NULL };
 *     ao.store = store; ao.key_file = "as-signing-key.pem";
 *     mcp_as_new(&ao, &as, &err);
 *     mcp_jwt_verifier_add_jwks(v, mcp_as_jwks_json(as), strlen(...), &err);  // alg ES256
 *     mcp_http_opts ho; mcp_http_opts_default(&ho); mcp_as_http_opts(as, &ho);
 *     mcp_server_listen_http(srv, &ho, &err);
 *
 * Thread safety: an mcp_as is read-only after mcp_as_new() except for its login throttle, which
 * has its own lock; its route may run on several HTTP threads at once.
 */
#ifndef MCP_AS_H
#define MCP_AS_H

#include <mcp/common.h>
#include <mcp/jwt.h>
#include <mcp/server.h>
#include <mcp/store.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mcp_as mcp_as;

/** Options for mcp_as_new(). Fill with mcp_as_opts_default(). @since 0.2 */
typedef struct mcp_as_opts {
    const char        *issuer;     /* required: the server's origin, "http(s)://host[:port]" with
                                      no path; copied */
    const char *const *resources;  /* required: NULL-terminated resource URLs tokens may be for
                                      (the first is the default when a request names none) */
    mcp_store         *store;      /* required; borrowed, must outlive the mcp_as */
    const char        *key_file;   /* required: ES256 private key (PEM); created (mode 0600) when
                                      it does not exist */
    unsigned access_ttl_s;         /* access token lifetime (default 300) */
    unsigned refresh_ttl_s;        /* refresh token lifetime, renewed on each rotation
                                      (default 1209600 = 14 days) */
    unsigned code_ttl_s;           /* authorization code lifetime (default 60, at most 600) */
    unsigned login_fail_limit;     /* failed logins per user per window (default 5) */
    unsigned login_fail_addr_limit; /* failed logins per client address per window (default 20) */
    unsigned login_fail_window_s;  /* default 300 */
    bool     registration;         /* serve RFC 7591 dynamic registration at /register
                                      (default false) */
    mcp_jwt_verifier *verifier;    /* the resource server's verifier of these tokens, or NULL:
                                      a signing key rotated while running (the key file
                                      replaced, mcp_as_rotate_key()) is added to it before the
                                      first token it signs. Borrowed. @since 0.2 */
    bool     cimd_allow_internal;  /* tests only: client ID metadata documents may be fetched
                                      from loopback/private addresses, and over http from a
                                      loopback host (default false: https, public addresses) */
} mcp_as_opts;

/** Fill o with the defaults documented in mcp_as_opts. @since 0.2 */
MCP_EXTERN void mcp_as_opts_default(mcp_as_opts *o);

/**
 * Create an authorization server: load (or create) the signing key and build the metadata.
 * @param[out] out Release with mcp_as_free(); set only on MCP_OK.
 * @return MCP_OK, MCP_ERR_INVALID_ARG (a missing or malformed option, a key that is not an
 *         EC P-256 private key), MCP_ERR_IO (the key file cannot be read or created),
 *         MCP_ERR_NOMEM.
 * @since 0.2
 */
MCP_EXTERN mcp_status mcp_as_new(const mcp_as_opts *opts, mcp_as **out, mcp_error *err);

/** Free (wiping the key). NULL is allowed. After the server that routes to it. @since 0.2 */
MCP_EXTERN void mcp_as_free(mcp_as *as);

/** The issuer URL. Borrowed until mcp_as_free(). @since 0.2 */
MCP_EXTERN const char *mcp_as_issuer(const mcp_as *as);

/** The public signing keys loaded at creation as a JWK Set ({"keys":[...]}, alg ES256): the
 *  current key, and retired keys whose tokens may still be valid, for a verifier. (/jwks
 *  serves the keys in force at each request.) Borrowed until mcp_as_free(). @since 0.2 */
MCP_EXTERN const char *mcp_as_jwks_json(const mcp_as *as);

/**
 * Serve the authorization server on an HTTP listener: sets ho->route and ho->route_ctx (the
 * endpoints /.well-known/oauth-authorization-server, /.well-known/openid-configuration,
 * /authorize, /token, /revoke, /jwks, and /register when enabled). Other fields of ho are left
 * as they are.
 * @since 0.2
 */
MCP_EXTERN void mcp_as_http_opts(mcp_as *as, mcp_http_opts *ho);

/**
 * The route itself (an mcp_http_route_fn; ctx = the mcp_as), for a program that combines it
 * with routes of its own.
 * @since 0.2
 */
MCP_EXTERN void mcp_as_route(void *as, const mcp_http_route_req *rq, mcp_http_route_resp *rs);

/**
 * Rotate the signing key (mcp-admin as rotate-key): a new EC P-256 key replaces key_file
 * (mode 0600, in one rename), and the old one is kept as "<key_file>.retired.<unix time>".
 * A running authorization server notices the replaced file within a second: it signs with the
 * new key from then on and keeps the old key in /jwks (and in its verifiers) for access_ttl_s
 * + 60 seconds, the lifetime of the last token it signed; a server started later loads the
 * retired keys still within that time and deletes the older ones.
 * @param[out] kid_out Optional: the new key's kid (release with mcp_free()).
 * @return MCP_OK, MCP_ERR_NOT_FOUND (no key file yet), MCP_ERR_IO (rotated twice within a
 *         second, or the directory is not writable), MCP_ERR_NOMEM.
 * @since 0.2
 */
MCP_EXTERN mcp_status mcp_as_rotate_key(const char *key_file, char **kid_out, mcp_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Administration (mcp-admin user passwd, client add|list|remove)                               */

/**
 * Set (or replace) a store user's password: stored as an scrypt hash (N = 2^15, r = 8, p = 1,
 * 16-byte random salt), never in clear.
 * @param password len bytes, 8..1024; borrowed (wipe it yourself).
 * @return MCP_OK, MCP_ERR_INVALID_ARG (too short or long), MCP_ERR_NOT_FOUND (no such user),
 *         MCP_ERR_STORE, MCP_ERR_NOMEM.
 * @since 0.2
 */
MCP_EXTERN mcp_status mcp_as_user_set_password(mcp_store *store, const char *subject,
                                               const char *password, size_t len,
                                               mcp_error *err);

/** A client to register with mcp_as_client_add(). @since 0.2 */
typedef struct mcp_as_client_def {
    const char        *id;            /* required: [A-Za-z0-9._:-], at most 128 bytes */
    const char        *name;          /* shown on the consent page (default: the id) */
    const char *const *redirect_uris; /* NULL-terminated; required for authorization_code.
                                         http://127.0.0.1, http://[::1] and http://localhost
                                         redirects match on any port (RFC 8252 section 7.3) */
    bool               confidential;  /* generate a secret (client_secret_basic / _post) */
    const char        *owner;         /* client_credentials: the store user whose roles bound
                                         the scopes (requires confidential or jwks); NULL =
                                         none */
    const char        *jwks;          /* private_key_jwt (RFC 7523): the client's public keys,
                                         a JWK Set {"keys":[...]} or one JWK (JSON, at most
                                         64 KiB; no private or symmetric keys). The client then
                                         authenticates with signed assertions instead of a
                                         secret (not together with confidential). NULL = none.
                                         @since 0.2 */
} mcp_as_client_def;

/**
 * Register a client. A confidential client's secret is returned once in *secret_out (43
 * base64url characters; the caller wipes it and releases it with mcp_free()); only its SHA-256
 * is stored. A client with jwks gets no secret: it authenticates at /token, /revoke and
 * /introspect with a client assertion (private_key_jwt) signed by one of those keys, each
 * key pinned to its algorithm (its `alg`, else the one its type implies).
 * @return MCP_OK, MCP_ERR_INVALID_ARG, MCP_ERR_STATE (the id exists), MCP_ERR_NOT_FOUND (owner),
 *         MCP_ERR_STORE, MCP_ERR_NOMEM.
 * @since 0.2
 */
MCP_EXTERN mcp_status mcp_as_client_add(mcp_store *store, const mcp_as_client_def *def,
                                        char **secret_out, mcp_error *err);

/** Remove a client; its refresh families are revoked. @return MCP_OK, MCP_ERR_NOT_FOUND, ...
 *  @since 0.2 */
MCP_EXTERN mcp_status mcp_as_client_remove(mcp_store *store, const char *id, mcp_error *err);

/** A client row for listing (never the secret); pointers borrowed for the callback. */
typedef struct mcp_as_client_info {
    const char *id;
    const char *name;
    const char *redirect_uris; /* space-separated */
    bool        confidential;
    const char *owner;         /* "" when none */
    int64_t     created;
    bool        private_key_jwt; /* authenticates with assertions signed by its registered
                                    keys (confidential is true too) @since 0.2 */
} mcp_as_client_info;

/** Call fn for every client, ordered by id; return false to stop. @since 0.2 */
MCP_EXTERN mcp_status mcp_as_client_list(mcp_store *store,
                                         bool (*fn)(void *ctx, const mcp_as_client_info *c),
                                         void *ctx, mcp_error *err);

#ifdef __cplusplus
}
#endif
#endif
