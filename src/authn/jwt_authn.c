/*
 * mcp_jwt_authn: the bearer-token middleware for MCP_PHASE_AUTHN.
 *
 * Kept in its own file so that programs using only the verifier (mcp-token, tests, fuzzers)
 * do not pull in the server's request API when linking the static library.
 */
#include <mcp/jwt.h>
#include <mcp/server.h>

#include "authn/authn.h"
#include "common/common.h"

#include <string.h>
#include <strings.h>

static bool
token_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.';
}

mcp_status
mcp_jwt_authn(mcp_request *req, void *verifier, mcp_error *err)
{
    const mcp_jwt_verifier *v = verifier;
    const char *h = mcp_request_header(req, "Authorization");
    /* No bearer credentials (none at all, or another scheme's): no error code in the
     * challenge (RFC 6750 section 3.1). */
    if (h == NULL) {
        (void)mcp_request_set_challenge(req, "", NULL);
        return mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "missing Authorization header");
    }

    /* RFC 6750 section 2.1: "Bearer" 1*SP b64token; the scheme is case-insensitive (RFC 9110
     * section 11.1). We accept only the JWS alphabet: base64url and the two dots. */
    static const char scheme[] = "bearer";
    size_t sl = sizeof scheme - 1;
    size_t wl = strcspn(h, " ");
    if (wl != sl || strncasecmp(h, scheme, sl) != 0) {
        (void)mcp_request_set_challenge(req, "", NULL);
        return mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "unsupported Authorization scheme");
    }
    const char *t = h + sl;
    while (*t == ' ')
        t++;
    size_t tl = 0;
    while (token_char((unsigned char)t[tl]))
        tl++;
    if (tl == 0 || t[tl] != '\0') {
        (void)mcp_request_set_challenge(req, "invalid_request", NULL);
        return mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "malformed Authorization header");
    }

    if (mcp__authn_note_credential(req, t, tl, err) != MCP_OK)
        return MCP_ERR_RATE_LIMITED;
    mcp_principal *p = NULL;
    /* never a JWKS fetch on an HTTP IO thread: the phase reruns on a worker */
    mcp_status rc = mcp_request_can_block(req) ? mcp_jwt_verify(v, t, tl, &p, err)
                                               : mcp_jwt_verify_nowait(v, t, tl, &p, err);
    if (rc == MCP_ERR_NOMEM || rc == MCP_ERR_WOULD_BLOCK || rc == MCP_ERR_STORE)
        return rc;                   /* STORE: no signing keys fetched yet (503) */
    if (rc != MCP_OK) {
        (void)mcp_request_set_challenge(req, "invalid_token", NULL);
        /* An oversize token is a bad credential (401), not an oversize request body (413). */
        if (rc == MCP_ERR_TOO_LARGE)
            mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "token too large");
        return MCP_ERR_UNAUTHENTICATED;
    }
    mcp_request_set_principal(req, p);   /* takes its own reference */
    mcp_principal_unref(p);
    return MCP_OK;
}
