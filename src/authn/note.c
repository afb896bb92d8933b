/*
 * The credential name the AUTHN items give the failed-authentication limiter (authn/authn.h).
 * Its own file so that linking one item does not pull in the others.
 */
#include "authn/authn.h"
#include "common/common.h"

mcp_status
mcp__authn_note_credential(mcp_request *req, const char *cred, size_t len, mcp_error *err)
{
    unsigned char h[32];
    if (cred == NULL || len == 0 || !mcp__sha256(cred, len, h))
        return MCP_OK;                  /* no name: the address limit still applies */
    return mcp__authn_note_digest(req, h, err);
}

mcp_status
mcp__authn_note_jwt_digest(void *ctx, const unsigned char *sha256, mcp_error *err)
{
    mcp__authn_note *n = ctx;
    if (mcp__authn_note_digest(n->req, sha256, err) == MCP_OK)
        return MCP_OK;
    n->limited = true;
    return MCP_ERR_RATE_LIMITED;
}

mcp_status
mcp__authn_note_digest(mcp_request *req, const unsigned char *h, mcp_error *err)
{
    if (h == NULL)
        return MCP_OK;                  /* no name: the address limit still applies */
    static const char hex[] = "0123456789abcdef";
    char name[7 + 16 + 1] = "sha256:";
    for (int i = 0; i < 8; i++) {
        name[7 + 2 * i] = hex[h[i] >> 4];
        name[8 + 2 * i] = hex[h[i] & 15];
    }
    name[23] = '\0';
    return mcp_request_note_credential(req, name, err);
}

