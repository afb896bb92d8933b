/* base64url (strict, unpadded, for JWS) and standard base64 (for blobs). */
#include "common/common.h"

#include <string.h>

static const char b64url_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char b64_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
b64url_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

mcp_status
mcp__b64url_decode(const char *in, size_t inlen, unsigned char **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    if (inlen % 4 == 1)
        return MCP_ERR_PARSE;             /* impossible length */
    size_t n = inlen / 4 * 3 + (inlen % 4 ? inlen % 4 - 1 : 0);
    unsigned char *buf = mcp__alloc(n + 1);
    if (buf == NULL)
        return MCP_ERR_NOMEM;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < inlen; i++) {
        int v = b64url_val((unsigned char)in[i]);
        if (v < 0) {
            mcp__free(buf);
            return MCP_ERR_PARSE;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) {                       /* non-canonical: leftover bits must be zero */
        mcp__free(buf);
        return MCP_ERR_PARSE;
    }
    buf[o] = '\0';
    *out = buf;
    *outlen = o;
    return MCP_OK;
}

static char *
encode(const unsigned char *in, size_t len, const char *alpha, bool pad)
{
    size_t n = (len + 2) / 3 * 4;
    char *s = mcp__alloc(n + 1);
    if (s == NULL)
        return NULL;
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        s[o++] = alpha[v >> 18];
        s[o++] = alpha[(v >> 12) & 63];
        s[o++] = alpha[(v >> 6) & 63];
        s[o++] = alpha[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
        s[o++] = alpha[v >> 18];
        s[o++] = alpha[(v >> 12) & 63];
        if (i + 1 < len)
            s[o++] = alpha[(v >> 6) & 63];
        else if (pad)
            s[o++] = '=';
        if (pad)
            s[o++] = '=';
    }
    s[o] = '\0';
    return s;
}

char *
mcp__b64url_encode(const unsigned char *in, size_t len)
{
    return encode(in, len, b64url_alpha, false);
}

char *
mcp__b64_encode(const unsigned char *in, size_t len)
{
    return encode(in, len, b64_alpha, true);
}
