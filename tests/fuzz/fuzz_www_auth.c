/*
 * libFuzzer target: the client's WWW-Authenticate parser (src/client/www_auth.c) on a header
 * value from an untrusted server, plus the joining of several header lines
 * (mcp__http_www_auth_add). Parsed parameters must be NUL-terminated strings no longer than
 * the header; the parser must never crash, hang or leak.
 */
#include "client/internal.h"

#include <stdlib.h>
#include <string.h>

static void
check(const char *v, size_t max)
{
    if (v != NULL && strlen(v) > max)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *h = malloc(size + 1);
    if (h == NULL)
        return 0;
    memcpy(h, data, size);
    h[size] = '\0';
    mcp__bearer_challenge c;
    memset(&c, 0, sizeof c);
    mcp_status rc = mcp__www_auth_parse(h, &c);
    if (rc == MCP_OK) {
        size_t n = strlen(h);
        check(c.error, n);
        check(c.error_description, n);
        check(c.scope, n);
        check(c.resource_metadata, n);
        check(c.realm, n);
    }
    mcp__bearer_challenge_cleanup(&c);

    /* the same bytes as two header lines joined the way the transport joins them */
    mcp_buf www;
    mcp__buf_init(&www, MCP__WWW_AUTH_MAX);
    size_t half = size / 2;
    if (mcp__http_www_auth_add(&www, h, half) == MCP_OK &&
        mcp__http_www_auth_add(&www, h + half, size - half) == MCP_OK && www.ptr != NULL) {
        memset(&c, 0, sizeof c);
        (void)mcp__www_auth_parse(www.ptr, &c);
        mcp__bearer_challenge_cleanup(&c);
    }
    mcp__buf_cleanup(&www);
    free(h);
    return 0;
}
