/* Allocation behind one replaceable allocator (libuv's uv_replace_allocator). */
#include "common/common.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static mcp_malloc_fn  alloc_fn = malloc;
static mcp_realloc_fn realloc_fn = realloc;
static mcp_free_fn    free_fn = free;

mcp_status
mcp_replace_allocator(mcp_malloc_fn m, mcp_realloc_fn r, mcp_free_fn f)
{
    if (m == NULL || r == NULL || f == NULL)
        return MCP_ERR_INVALID_ARG;
    alloc_fn = m;
    realloc_fn = r;
    free_fn = f;
    json_set_alloc_funcs(m, f);
    return MCP_OK;
}

void *
mcp__alloc(size_t n)
{
    return alloc_fn(n ? n : 1);
}

void *
mcp__calloc(size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    void *p = mcp__alloc(n * size);
    if (p != NULL)
        memset(p, 0, n * size);
    return p;
}

void *
mcp__realloc(void *p, size_t n)
{
    return realloc_fn(p, n ? n : 1);
}

void
mcp__free(void *p)
{
    if (p != NULL)
        free_fn(p);
}

void
mcp_free(void *p)
{
    mcp__free(p);
}

char *
mcp__strndup(const char *s, size_t n)
{
    if (s == NULL)
        return NULL;
    char *d = mcp__alloc(n + 1);
    if (d == NULL)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *
mcp__strdup(const char *s)
{
    return s == NULL ? NULL : mcp__strndup(s, strlen(s));
}

char *
mcp__aprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = mcp__alloc((size_t)n + 1);
    if (s == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}
