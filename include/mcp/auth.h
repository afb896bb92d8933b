/*
 * libmcp: the authenticated caller (principal).
 *
 * A principal is produced by the authentication phase (API key, JWT, introspection) and read by
 * the authorization phase and by handlers. It is immutable once built and reference counted, so a
 * verified-token cache can hand the same principal to many concurrent requests.
 */
#ifndef MCP_AUTH_H
#define MCP_AUTH_H

#include <mcp/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mcp_cred_kind {
    MCP_CRED_NONE = 0,          /* no authentication configured (anonymous) */
    MCP_CRED_API_KEY = 1,
    MCP_CRED_JWT = 2,
    MCP_CRED_INTROSPECTION = 3,
    MCP_CRED_LOCAL = 4          /* a caller the program trusts without a credential (stdio
                                   --as-user: the process's own user) */
} mcp_cred_kind;

typedef struct mcp_principal mcp_principal;

/** Fields for mcp_principal_new(); every string is copied. */
typedef struct mcp_principal_fields {
    mcp_cred_kind kind;
    const char   *subject;     /* required for every kind except MCP_CRED_NONE */
    const char   *name;        /* display name, optional */
    const char   *issuer;      /* optional */
    const char   *client_id;   /* optional (azp / client_id claim) */
    const char   *key_id;      /* API key id or JWT kid, optional */
    const char   *jti;         /* token id, optional */
    const char   *claims_json; /* raw claims as JSON text, optional */
    int64_t       expires_at;  /* unix seconds; 0 = no expiry */
} mcp_principal_fields;

/**
 * Build a principal. Permissions are added with mcp_principal_add_permission() before the
 * principal is shared; after that it is read-only.
 * @param f        Borrowed; strings are copied.
 * @param[out] out New principal with one reference; release with mcp_principal_unref().
 * @return MCP_OK, MCP_ERR_INVALID_ARG or MCP_ERR_NOMEM.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_principal_new(const mcp_principal_fields *f, mcp_principal **out, mcp_error *err);
/** Add one permission (copied; duplicates ignored). Only before the principal is shared. */
MCP_EXTERN mcp_status mcp_principal_add_permission(mcp_principal *p, const char *perm, mcp_error *err);
/** Add every space-separated entry of an OAuth `scope` string as a permission. */
MCP_EXTERN mcp_status mcp_principal_add_scope_string(mcp_principal *p, const char *scope, mcp_error *err);
/** Take one more reference; returns p. Thread-safe. NULL is allowed. */
MCP_EXTERN mcp_principal *mcp_principal_ref(const mcp_principal *p);
/** Drop one reference; frees on the last. Thread-safe. NULL is allowed. */
MCP_EXTERN void mcp_principal_unref(const mcp_principal *p);

/* Getters: the returned strings live as long as the principal; NULL when absent. */
MCP_EXTERN mcp_cred_kind mcp_principal_kind(const mcp_principal *p);
MCP_EXTERN const char *mcp_principal_subject(const mcp_principal *p);
MCP_EXTERN const char *mcp_principal_name(const mcp_principal *p);
MCP_EXTERN const char *mcp_principal_issuer(const mcp_principal *p);
MCP_EXTERN const char *mcp_principal_client_id(const mcp_principal *p);
MCP_EXTERN const char *mcp_principal_key_id(const mcp_principal *p);
MCP_EXTERN const char *mcp_principal_jti(const mcp_principal *p);
MCP_EXTERN const char *mcp_principal_claims_json(const mcp_principal *p);
MCP_EXTERN int64_t mcp_principal_expires_at(const mcp_principal *p);
MCP_EXTERN size_t mcp_principal_permission_count(const mcp_principal *p);
/** The i-th permission, or NULL when i is out of range. */
MCP_EXTERN const char *mcp_principal_permission(const mcp_principal *p, size_t i);
/** Does p hold perm (exact, case-sensitive match)? */
MCP_EXTERN bool mcp_principal_has(const mcp_principal *p, const char *perm);
/** Does p hold at least one of the NULL-terminated list? An empty list gives false. */
MCP_EXTERN bool mcp_principal_has_any(const mcp_principal *p, const char *const *perms);
/** Does p hold all of the NULL-terminated list? An empty list gives true. */
MCP_EXTERN bool mcp_principal_has_all(const mcp_principal *p, const char *const *perms);
/** The owner identity used to bind sessions, stable for a principal:
 *  "kind|<len>:iss|<len>:sub|<len>:client" (each field length-prefixed, so unambiguous). */
MCP_EXTERN const char *mcp_principal_owner_key(const mcp_principal *p);
/** Kind as a lowercase word: "none", "api_key", "jwt", "introspection". */
MCP_EXTERN const char *mcp_cred_kind_name(mcp_cred_kind k);

#ifdef __cplusplus
}
#endif
#endif
