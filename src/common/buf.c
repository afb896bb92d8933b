/* Bounded growable buffer: every buffer filled from the network has a hard maximum. */
#include "common/common.h"

#include <string.h>

void
mcp__buf_init(mcp_buf *b, size_t max)
{
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max ? max : SIZE_MAX / 2;
}

void
mcp__buf_cleanup(mcp_buf *b)
{
    mcp__free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
}

void
mcp__buf_reset(mcp_buf *b)
{
    b->len = 0;
    if (b->ptr != NULL)
        b->ptr[0] = '\0';
}

mcp_status
mcp__buf_append(mcp_buf *b, const void *data, size_t len)
{
    if (len > b->max || b->len > b->max - len)
        return MCP_ERR_TOO_LARGE;
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *p = mcp__realloc(b->ptr, cap);
        if (p == NULL)
            return MCP_ERR_NOMEM;
        b->ptr = p;
        b->cap = cap;
    }
    if (len > 0)
        memcpy(b->ptr + b->len, data, len);
    b->len += len;
    b->ptr[b->len] = '\0';
    return MCP_OK;
}

mcp_status
mcp__buf_appends(mcp_buf *b, const char *s)
{
    return mcp__buf_append(b, s, strlen(s));
}

mcp_status
mcp__buf_printf(mcp_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return MCP_ERR_INVALID_ARG;
    if ((size_t)n < sizeof small)
        return mcp__buf_append(b, small, (size_t)n);
    char *big = mcp__alloc((size_t)n + 1);
    if (big == NULL)
        return MCP_ERR_NOMEM;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    mcp_status rc = mcp__buf_append(b, big, (size_t)n);
    mcp__free(big);
    return rc;
}

char *
mcp__buf_steal(mcp_buf *b, size_t *len)
{
    char *p = b->ptr;
    if (p == NULL)
        p = mcp__strdup("");
    if (len != NULL)
        *len = b->len;
    b->ptr = NULL;
    b->len = b->cap = 0;
    return p;
}
