/*
 * libFuzzer target, differential: our writer for outgoing JSON (mcp__json_dump, jsonrpc.c)
 * against jansson's compact dump of the same value. Any JSON value jansson reads (strings with
 * NUL bytes included) must come out byte for byte the same, or both must fail. A difference
 * aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/common.h"
#include "jsonrpc/jsonrpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t e;
    json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (v == NULL)
        return 0;
    const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
    size_t want = json_dumpb(v, NULL, 0, flags);
    char *theirs = want > 0 ? malloc(want) : NULL;
    if (theirs != NULL && json_dumpb(v, theirs, want, flags) != want)
        abort();
    size_t n = 0;
    char *ours = mcp__json_dump(v, &n);
    if ((ours == NULL) != (theirs == NULL))
        abort();
    if (ours != NULL && (n != want || memcmp(ours, theirs, n) != 0))
        abort();
    mcp__free(ours);
    free(theirs);
    json_decref(v);
    return 0;
}
