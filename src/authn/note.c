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
    static const char hex[] = "0123456789abcdef";
    char name[7 + 16 + 1] = "sha256:";
    for (int i = 0; i < 8; i++) {
        name[7 + 2 * i] = hex[h[i] >> 4];
        name[8 + 2 * i] = hex[h[i] & 15];
    }
    name[23] = '\0';
    return mcp_request_note_credential(req, name, err);
}

