/* Argument validation (JSON Schema, through schema.c) and list cursors. */
#include "protocol/internal.h"
#include "protocol/schema.h"

#include <stdio.h>
#include <string.h>

/* Cursor = base64url("o:<offset>"); opaque to clients, validated strictly here. */
bool
mcp__pr_parse_cursor(const json_t *params, size_t *offset)
{
    *offset = 0;
    json_t *c = json_object_get(params, "cursor");
    if (c == NULL || json_is_null(c))
        return true;
    if (!json_is_string(c))
        return false;
    unsigned char *raw;
    size_t n;
    if (mcp__b64url_decode(json_string_value(c), json_string_length(c), &raw, &n) != MCP_OK)
        return false;
    bool ok = n > 2 && n < 20 && raw[0] == 'o' && raw[1] == ':';
    size_t v = 0;
    for (size_t i = 2; ok && i < n; i++) {
        if (raw[i] < '0' || raw[i] > '9')
            ok = false;
        else
            v = v * 10 + (size_t)(raw[i] - '0');
    }
    mcp__free(raw);
    *offset = v;
    return ok;
}

void
mcp__pr_set_next_cursor(json_t *result, size_t next)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "o:%zu", next);
    char *enc = mcp__b64url_encode((const unsigned char *)buf, (size_t)n);
    if (enc != NULL) {
        json_object_set_new(result, "nextCursor", json_string(enc));
        mcp__free(enc);
    }
}

/* ---- argument validation: JSON Schema 2020-12 (schema.c), compiled at registration ------ */

mcp_status
mcp__pr_schema_compile(const json_t *schema, const char *root, void **out, mcp_error *err)
{
    char why[MCP_ERROR_MSG_MAX];
    mcp__schema *s = NULL;
    mcp_status rc = mcp__schema_compile(schema, root, &s, why, sizeof why);
    if (rc != MCP_OK)
        return mcp_error_set(err, rc == MCP_ERR_NOMEM ? rc : MCP_ERR_INVALID_ARG, "%s", why);
    *out = s;
    return MCP_OK;
}

void
mcp__pr_schema_free(void *compiled)
{
    mcp__schema_free(compiled);
}

bool
mcp__pr_validate_args(const mcp__tool *t, const json_t *args, char *why, size_t whylen)
{
    if (t->input_check == NULL) {
        /* every tool gets one at registration; without it nothing was checked: fail closed */
        snprintf(why, whylen, "arguments: tool has no compiled inputSchema");
        return false;
    }
    return mcp__schema_validate(t->input_check, args, "arguments", why, whylen);
}

bool
mcp__pr_validate_structured(const mcp__tool *t, const json_t *sc, char *why, size_t whylen)
{
    if (t->output_check == NULL)
        return true;            /* no outputSchema declared: structured content is free-form */
    return mcp__schema_validate(t->output_check, sc, "structuredContent", why, whylen);
}
