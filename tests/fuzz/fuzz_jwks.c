/*
 * libFuzzer target: JWK Set documents (src/jwt/jwk.c) as a JWKS URL would serve them
 * (symmetric keys refused) and as a local file may hold them (oct allowed). Must never crash,
 * leak a key or accept a document whose keys cannot be used.
 */
#include "jwt/internal.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int oct = 0; oct < 2; oct++) {
        mcp__jwt_keyset *ks = NULL;
        mcp_error err;
        mcp_status rc = mcp__jwt_jwks_parse((const char *)data, size, oct != 0, &ks, &err);
        if (rc == MCP_OK && ks == NULL)
            abort();
        if (rc != MCP_OK && ks != NULL)
            abort();
        mcp__jwt_keyset_unref(ks);
    }
    return 0;
}
