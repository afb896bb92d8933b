/*
 * libFuzzer target: the JSON Schema 2020-12 validator (src/protocol/schema.c, schema_check.c,
 * schema_re.c) on a schema and an instance. The input is "<schema JSON>\n\n<instance JSON>"
 * (no blank line: the whole input is the schema, and it is also validated against itself). A
 * tool's inputSchema comes from the server's author, its arguments from any client; both are
 * fuzzed so the compile limits (depth, nodes, pattern size and expansion) and the validation
 * step budget are exercised. Invariants: no crash, leak or hang; `why` is a bounded string that
 * is set when a schema is refused or an instance fails; validation is deterministic.
 */
#include "protocol/schema.h"

#include <stdlib.h>
#include <string.h>

static void
check_why(const char *why, size_t cap)
{
    if (strnlen(why, cap) >= cap || why[0] == '\0')
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *d = (const char *)data;
    size_t slen = size;
    const char *inst = NULL;
    size_t ilen = 0;
    for (size_t i = 0; i + 1 < size; i++)
        if (d[i] == '\n' && d[i + 1] == '\n') {
            slen = i;
            inst = d + i + 2;
            ilen = size - i - 2;
            break;
        }
    json_error_t je;
    json_t *schema = json_loadb(d, slen, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (schema == NULL)
        return 0;
    json_t *instance = inst != NULL ? json_loadb(inst, ilen, JSON_DECODE_ANY, &je) : NULL;
    char why[256];
    why[0] = '\0';
    mcp__schema *s = NULL;
    mcp_status rc = mcp__schema_compile(schema, "inputSchema", &s, why, sizeof why);
    if (rc == MCP_OK) {
        if (s == NULL)
            abort();
        const json_t *target = instance != NULL ? instance : schema;
        char why2[256];
        why[0] = why2[0] = '\0';
        bool ok = mcp__schema_validate(s, target, "arguments", why, sizeof why);
        if (!ok)
            check_why(why, sizeof why);
        bool again = mcp__schema_validate(s, target, "arguments", why2, sizeof why2);
        if (ok != again || (!ok && strcmp(why, why2) != 0))
            abort();                    /* validation must not depend on earlier calls */
        mcp__schema_free(s);
    } else {
        if (s != NULL)
            abort();
        check_why(why, sizeof why);
    }
    json_decref(instance);
    json_decref(schema);
    return 0;
}
