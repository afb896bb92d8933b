/* PKCE (RFC 7636) with S256 only, and random URL-safe strings for state / jti. */
#include "client/internal.h"

#include <openssl/evp.h>
#include <string.h>

mcp_status
mcp__pkce_challenge(const char *verifier, char out[44])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    size_t n = strlen(verifier);
    /* RFC 7636 section 4.1: 43..128 characters of [A-Z a-z 0-9 - . _ ~]. */
    if (n < 43 || n > 128)
        return MCP_ERR_INVALID_ARG;
    for (size_t i = 0; i < n; i++) {
        char c = verifier[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_' || c == '~'))
            return MCP_ERR_INVALID_ARG;
    }
    if (EVP_Digest(verifier, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != sizeof md)
        return MCP_ERR_INTERNAL;
    char *enc = mcp__b64url_encode(md, sizeof md);
    if (enc == NULL)
        return MCP_ERR_NOMEM;
    memcpy(out, enc, 44);                   /* 32 bytes -> 43 chars + NUL */
    mcp__free(enc);
    return MCP_OK;
}

mcp_status
mcp__pkce_verifier(char out[MCP__PKCE_VERIFIER_LEN + 1], mcp_error *err)
{
    unsigned char rnd[32];
    mcp_status rc = mcp_random_bytes(rnd, sizeof rnd, err);
    if (rc != MCP_OK)
        return rc;
    char *enc = mcp__b64url_encode(rnd, sizeof rnd);
    mcp_memzero(rnd, sizeof rnd);
    if (enc == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    memcpy(out, enc, MCP__PKCE_VERIFIER_LEN + 1);
    mcp_memzero(enc, MCP__PKCE_VERIFIER_LEN);
    mcp__free(enc);
    return MCP_OK;
}

char *
mcp__random_token(size_t n)
{
    unsigned char rnd[64];
    if (n == 0 || n > sizeof rnd)
        return NULL;
    if (mcp_random_bytes(rnd, n, NULL) != MCP_OK)
        return NULL;
    char *s = mcp__b64url_encode(rnd, n);
    mcp_memzero(rnd, sizeof rnd);
    return s;
}
