/* Argument validation: the subset of JSON Schema every tool relies on, and list cursors. */
#include "protocol/internal.h"

#include <math.h>
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

/* ---- argument validation (the subset of JSON Schema every tool relies on) ---------------- */

static bool
type_ok(const char *type, const json_t *v)
{
    if (strcmp(type, "string") == 0) return json_is_string(v);
    if (strcmp(type, "integer") == 0)
        return json_is_integer(v) || (json_is_real(v) && json_real_value(v) ==
                                      floor(json_real_value(v)));
    if (strcmp(type, "number") == 0) return json_is_number(v);
    if (strcmp(type, "boolean") == 0) return json_is_boolean(v);
    if (strcmp(type, "object") == 0) return json_is_object(v);
    if (strcmp(type, "array") == 0) return json_is_array(v);
    if (strcmp(type, "null") == 0) return json_is_null(v);
    return true;
}

bool
mcp__pr_validate_args(const json_t *schema, const json_t *args, char *why, size_t whylen)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(schema, "required"), i, r) {
        if (json_is_string(r) && json_object_get(args, json_string_value(r)) == NULL) {
            snprintf(why, whylen, "missing required argument '%s'", json_string_value(r));
            return false;
        }
    }
    json_t *props = json_object_get(schema, "properties");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)args, k, v) {
        json_t *ps = json_object_get(props, k);
        if (ps == NULL) {
            if (json_is_false(json_object_get(schema, "additionalProperties"))) {
                snprintf(why, whylen, "unexpected argument '%.64s'", k);
                return false;
            }
            continue;
        }
        json_t *t = json_object_get(ps, "type");
        if (json_is_string(t) && !type_ok(json_string_value(t), v)) {
            snprintf(why, whylen, "argument '%.64s' must be of type %s", k, json_string_value(t));
            return false;
        }
    }
    return true;
}

