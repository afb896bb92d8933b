/*
 * libFuzzer target: the client's Server-Sent Events parser (src/client/sse.c). The first
 * byte picks a chunk size, so CR/LF pairs, the BOM and multi-byte sequences get split across
 * feeds the way a network delivers them; the rest is the stream. An event's data must be
 * NUL-terminated at its length and never longer than the parser's cap.
 */
#include "client/internal.h"

#include <stdlib.h>
#include <string.h>

#define CAP 4096

static mcp_status
on_event(void *ctx, const char *event, const char *data, size_t len, const char *id)
{
    size_t *n = ctx;
    if (event == NULL || data == NULL || len > CAP || data[len] != '\0' || len == 0)
        abort();
    if (id != NULL && strlen(id) > CAP)
        abort();
    (*n)++;
    return *n > 100000 ? MCP_ERR_TOO_LARGE : MCP_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t chunk = (size_t)(data[0] % 17) + 1;
    const char *p = (const char *)data + 1;
    size_t left = size - 1;
    size_t events = 0;
    mcp__sse sse;
    mcp__sse_init(&sse, CAP, on_event, &events);
    while (left > 0) {
        size_t k = left < chunk ? left : chunk;
        if (mcp__sse_feed(&sse, p, k) != MCP_OK)
            break;
        p += k;
        left -= k;
    }
    mcp__sse_cleanup(&sse);
    return 0;
}
