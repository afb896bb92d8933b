/*
 * Protocol revision 2026-07-28 on the client side: what every request carries (SEP-2575
 * per-request _meta; SEP-2243 Mcp-Method / Mcp-Name / Mcp-Param-* headers) and the x-mcp-header
 * rules for tool definitions.
 *
 * The negotiation itself (server/discover, falling back to initialize) is in client.c; the
 * input-required round trip (SEP-2322) in exchange.c.
 */
#include "client/internal.h"
#include "jsonrpc/jsonrpc.h"

#include <string.h>

#define META_VERSION "io.modelcontextprotocol/protocolVersion"
#define META_INFO "io.modelcontextprotocol/clientInfo"
#define META_CAPS "io.modelcontextprotocol/clientCapabilities"
#define META_LOG_LEVEL "io.modelcontextprotocol/logLevel"

/* Longest x-mcp-header name accepted (the header line stays bounded). */
#define MAX_HEADER_NAME 64

json_t *
mcp__client_capabilities(const mcp_client *c)
{
    json_t *caps = json_object();
    if (caps == NULL)
        return NULL;
    if (c->cb.sampling)
        json_object_set_new(caps, "sampling", json_object());
    if (c->cb.elicitation)
        json_object_set_new(caps, "elicitation", json_object());
    if (c->cb.roots)
        json_object_set_new(caps, "roots", json_pack("{s:b}", "listChanged", 1));
    return caps;
}

json_t *
mcp__client_info(const mcp_client *c)
{
    json_t *info = json_pack("{s:s, s:s}", "name", c->name, "version", c->version);
    if (info != NULL && c->title != NULL)
        json_object_set_new(info, "title", json_string(c->title));
    return info;
}

mcp_status
mcp__modern_add_meta(const mcp_client *c, json_t *params)
{
    json_t *meta = json_object_get(params, "_meta");
    if (!json_is_object(meta)) {
        meta = json_object();
        if (meta == NULL || json_object_set_new(params, "_meta", meta) != 0)
            return MCP_ERR_NOMEM;
    }
    json_t *caps = mcp__client_capabilities(c);
    json_t *info = mcp__client_info(c);
    if (caps == NULL || info == NULL) {
        json_decref(caps);
        json_decref(info);
        return MCP_ERR_NOMEM;
    }
    if (json_object_set_new(meta, META_VERSION, json_string(MCP_PROTOCOL_2026)) != 0 ||
        json_object_set_new(meta, META_INFO, info) != 0 ||
        json_object_set_new(meta, META_CAPS, caps) != 0)
        return MCP_ERR_NOMEM;
    /* 2026 has no logging/setLevel: a client that takes log messages asks for them on each
     * request, at the level last set (default "debug": everything, as a 2025 server sends) */
    if (c->cb.log != NULL &&
        json_object_set_new(meta, META_LOG_LEVEL,
                            json_string(c->log_level ? c->log_level : "debug")) != 0)
        return MCP_ERR_NOMEM;
    return MCP_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* header values (SEP-2243 "Value encoding")                                                  */

bool
mcp__header_value_needs_b64(const char *v)
{
    size_t n = strlen(v);
    if (n > 0 && (v[0] == ' ' || v[0] == '\t' || v[n - 1] == ' ' || v[n - 1] == '\t'))
        return true;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (ch < 0x20 || ch > 0x7e)
            return true;
    }
    return false;
}

char *
mcp__header_value_encode(const char *v)
{
    if (!mcp__header_value_needs_b64(v))
        return mcp__strdup(v);
    char *b = mcp__b64_encode((const unsigned char *)v, strlen(v));
    if (b == NULL)
        return NULL;
    char *out = mcp__aprintf("=?base64?%s?=", b);
    mcp__free(b);
    return out;
}

/* "Name: value", or "Name;" for an empty value (libcurl sends "Name:" with no value then;
 * "Name:" alone would remove the header). */
static char *
header_line(const char *name, const char *value)
{
    if (value[0] == '\0')
        return mcp__aprintf("%s;", name);
    return mcp__aprintf("%s: %s", name, value);
}

/* ------------------------------------------------------------------------------------------ */
/* x-mcp-header in tool input schemas                                                          */

static bool
is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* The one primitive type of a property that may carry x-mcp-header, or NULL. */
static const char *
header_prop_type(const json_t *prop)
{
    const json_t *t = json_object_get(prop, "type");
    const char *one = NULL;
    if (json_is_string(t)) {
        one = json_string_value(t);
    } else if (json_is_array(t)) {
        size_t i;
        const json_t *e;
        json_array_foreach(t, i, e) {
            if (!json_is_string(e))
                return NULL;
            if (strcmp(json_string_value(e), "null") == 0)
                continue;
            if (one != NULL)
                return NULL;
            one = json_string_value(e);
        }
    }
    if (one == NULL)
        return NULL;
    if (strcmp(one, "string") == 0 || strcmp(one, "integer") == 0 ||
        strcmp(one, "boolean") == 0)
        return one;
    return NULL;
}

bool
mcp__tool_headers_valid(const json_t *tool, char *why, size_t whysz)
{
    const json_t *props = json_object_get(json_object_get(tool, "inputSchema"), "properties");
    if (!json_is_object(props))
        return true;
    const char *names[64];
    size_t n = 0;
    const char *key;
    const json_t *prop;
    json_object_foreach((json_t *)props, key, prop) {
        const json_t *h = json_object_get(prop, "x-mcp-header");
        if (h == NULL)
            continue;
        if (!json_is_string(h) || json_string_length(h) == 0 ||
            json_string_length(h) > MAX_HEADER_NAME) {
            snprintf(why, whysz, "property \"%.40s\": x-mcp-header is empty, too long or not "
                     "a string", key);
            return false;
        }
        const char *hn = json_string_value(h);
        for (const char *p = hn; *p != '\0'; p++)
            if (!is_tchar((unsigned char)*p)) {
                snprintf(why, whysz, "property \"%.40s\": x-mcp-header has a character a "
                         "header name may not have", key);
                return false;
            }
        if (header_prop_type(prop) == NULL) {
            snprintf(why, whysz, "property \"%.40s\": x-mcp-header on a type other than "
                     "string, integer or boolean", key);
            return false;
        }
        for (size_t i = 0; i < n; i++)
            if (mcp__strcasecmp(names[i], hn) == 0) {
                snprintf(why, whysz, "x-mcp-header \"%s\" is used twice", hn);
                return false;
            }
        if (n == sizeof names / sizeof names[0]) {
            snprintf(why, whysz, "more than %zu x-mcp-header properties", n);
            return false;
        }
        names[n++] = hn;
    }
    return true;
}

/* The header value for one argument, or NULL to omit it (null, absent, wrong type). */
static char *
param_value(const json_t *v, const char *type)
{
    if (strcmp(type, "string") == 0 && json_is_string(v))
        return mcp__header_value_encode(json_string_value(v));
    if (strcmp(type, "integer") == 0 && json_is_integer(v))
        return mcp__aprintf("%lld", (long long)json_integer_value(v));
    if (strcmp(type, "boolean") == 0 && json_is_boolean(v))
        return mcp__strdup(json_is_true(v) ? "true" : "false");
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* the headers of one message                                                                  */

typedef struct hlist {
    char  **v;
    size_t  n, cap;
    bool    fail;
} hlist;

static void
hl_add(hlist *l, char *line)
{
    if (line == NULL || l->fail) {
        mcp__free(line);
        l->fail = true;
        return;
    }
    if (l->n + 2 > l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        char **nv = mcp__realloc(l->v, cap * sizeof *nv);
        if (nv == NULL) {
            mcp__free(line);
            l->fail = true;
            return;
        }
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = line;
    l->v[l->n] = NULL;
}

void
mcp__header_list_free(char **h)
{
    for (size_t i = 0; h != NULL && h[i] != NULL; i++)
        mcp__free(h[i]);
    mcp__free(h);
}

mcp_status
mcp__modern_headers(const mcp_client *c, const char *method, const json_t *params,
                    char ***out)
{
    *out = NULL;
    hlist l = { 0 };
    char *m = mcp__header_value_encode(method);
    hl_add(&l, m ? header_line("Mcp-Method", m) : NULL);
    mcp__free(m);
    const char *nm = mcp__rpc_name_member(method);
    const json_t *nv = nm ? json_object_get(params, nm) : NULL;
    if (json_is_string(nv)) {
        char *v = mcp__header_value_encode(json_string_value(nv));
        hl_add(&l, v ? header_line("Mcp-Name", v) : NULL);
        mcp__free(v);
    }
    const json_t *schema = strcmp(method, "tools/call") == 0 && json_is_string(nv)
                               ? json_object_get(c->tool_schemas, json_string_value(nv))
                               : NULL;
    const json_t *props = json_object_get(schema, "properties");
    const json_t *args = json_object_get(params, "arguments");
    const char *key;
    const json_t *prop;
    if (json_is_object(props) && json_is_object(args)) {
        json_object_foreach((json_t *)props, key, prop) {
            const json_t *h = json_object_get(prop, "x-mcp-header");
            const char *type = header_prop_type(prop);
            if (!json_is_string(h) || type == NULL)
                continue;
            char *v = param_value(json_object_get(args, key), type);
            if (v == NULL)
                continue;
            char *name = mcp__aprintf("Mcp-Param-%s", json_string_value(h));
            hl_add(&l, name ? header_line(name, v) : NULL);
            mcp__free(name);
            mcp__free(v);
        }
    }
    if (l.fail) {
        mcp__header_list_free(l.v);
        return MCP_ERR_NOMEM;
    }
    *out = l.v;
    return MCP_OK;
}

mcp_status
mcp__modern_filter_tools(mcp_client *c, json_t *tools)
{
    json_t *schemas = json_object();
    if (schemas == NULL)
        return MCP_ERR_NOMEM;
    for (size_t i = 0; i < json_array_size(tools);) {
        json_t *t = json_array_get(tools, i);
        const char *name = mcp__json_str(t, "name");
        char why[160];
        if (name != NULL && !mcp__tool_headers_valid(t, why, sizeof why)) {
            char safe[80];
            mcp__sanitize(name, safe, sizeof safe);
            mcp__log(MCP__LOG_WARN, "client", "ignoring tool \"%s\": %s", safe, why);
            json_array_remove(tools, i);
            continue;
        }
        const json_t *s = json_object_get(t, "inputSchema");
        if (name != NULL && json_is_object(s))
            json_object_set(schemas, name, (json_t *)s);
        i++;
    }
    json_decref(c->tool_schemas);
    c->tool_schemas = schemas;
    return MCP_OK;
}
