/*
 * The API-key authentication middleware (MCP_PHASE_AUTHN). Kept apart from the store so that
 * programs using only the store (mcp-admin) do not link the server.
 */
#include <mcp/store.h>

#include "authn/authn.h"
#include "common/common.h"

#include <string.h>

/* Longest credential header value we look at; an API key is MCP_APIKEY_LEN bytes. */
#define AUTH_HEADER_MAX 4096

static mcp_status
unauthenticated(mcp_request *req, const char *challenge, mcp_error *err, const char *msg)
{
    if (challenge != NULL)
        (void)mcp_request_set_challenge(req, challenge, NULL);
    return mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "%s", msg);
}

/* Trim spaces and tabs at both ends of [*p, *p + *n). */
static void
trim(const char **p, size_t *n)
{
    while (*n > 0 && (**p == ' ' || **p == '\t')) {
        (*p)++;
        (*n)--;
    }
    while (*n > 0 && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
}

mcp_status
mcp_apikey_authn(mcp_request *req, void *ctx, mcp_error *err)
{
    mcp_store *store = ctx;
    if (req == NULL || store == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "API key authentication not configured");

    const char *authz = mcp_request_header(req, "Authorization");
    const char *xkey = mcp_request_header(req, "X-API-Key");
    const char *tok;
    size_t len;

    if (authz == NULL && xkey == NULL)
        /* no error code in the challenge (RFC 6750 section 3.1) */
        return unauthenticated(req, "", err, "missing Authorization header");
    /* Two credentials would leave it unclear which one the caller meant: refuse both. */
    if (authz != NULL && xkey != NULL)
        return unauthenticated(req, "invalid_request", err,
                               "both Authorization and X-API-Key headers present");
    if (authz != NULL) {
        size_t n = strnlen(authz, AUTH_HEADER_MAX + 1);
        if (n > AUTH_HEADER_MAX)
            return unauthenticated(req, "invalid_request", err, "Authorization header too long");
        trim(&authz, &n);
        /* RFC 6750 section 2.1: "Bearer" (case-insensitive) 1*SP token. */
        char scheme[7] = "";
        if (n >= 6)
            memcpy(scheme, authz, 6);
        if (n < 6 || mcp__strcasecmp(scheme, "bearer") != 0
            || (n > 6 && authz[6] != ' ' && authz[6] != '\t'))
            return unauthenticated(req, "invalid_request", err,
                                   "Authorization scheme is not Bearer");
        if (n == 6)
            return unauthenticated(req, "invalid_request", err, "empty credential");
        tok = authz + 7;
        len = n - 7;
        trim(&tok, &len);
    } else {
        len = strnlen(xkey, AUTH_HEADER_MAX + 1);
        if (len > AUTH_HEADER_MAX)
            return unauthenticated(req, "invalid_request", err, "X-API-Key header too long");
        tok = xkey;
        trim(&tok, &len);
    }
    if (len == 0)
        return unauthenticated(req, "invalid_request", err, "empty credential");
    if (len < 4 || memcmp(tok, MCP_APIKEY_PREFIX, 4) != 0)
        return unauthenticated(req, "invalid_token", err, "credential is not an API key");
    if (mcp__authn_note_credential(req, tok, len, err) != MCP_OK)
        return MCP_ERR_RATE_LIMITED;     /* this key failed too often: not verified again */

    const mcp_principal *who = NULL;
    mcp_status rc = mcp_store_key_verify(store, tok, len, &who, err);
    if (rc == MCP_ERR_UNAUTHENTICATED) {
        (void)mcp_request_set_challenge(req, "invalid_token", NULL);
        return rc;
    }
    if (rc != MCP_OK)
        return rc; /* MCP_ERR_STORE -> 503: no challenge, the credential may be fine */
    mcp_request_set_principal(req, who); /* takes its own reference */
    mcp_principal_unref(who);
    return MCP_OK;
}
