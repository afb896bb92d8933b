/* mcp-client: human-readable rendering of MCP results (the --json flag bypasses this). */
#include "cli.h"

#include <string.h>

void
out_json(FILE *f, const json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (s != NULL) {
        fprintf(f, "%s\n", s);
        mcp_free(s);
    }
}

static const char *
str(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* First line of a possibly multi-line description. */
static void
print_first_line(FILE *f, const char *s)
{
    if (s == NULL)
        return;
    const char *nl = strchr(s, '\n');
    int n = nl ? (int)(nl - s) : (int)strlen(s);
    fprintf(f, "%.*s", n, s);
}

void
out_tools(FILE *f, const json_t *tools)
{
    size_t i;
    const json_t *t;
    if (json_array_size(tools) == 0) {
        fprintf(f, "(no tools)\n");
        return;
    }
    json_array_foreach(tools, i, t) {
        fprintf(f, "%s", str(t, "name") ? str(t, "name") : "?");
        if (str(t, "description") != NULL) {
            fprintf(f, " - ");
            print_first_line(f, str(t, "description"));
        }
        fprintf(f, "\n");
        const json_t *schema = json_object_get(t, "inputSchema");
        const json_t *props = json_object_get(schema, "properties");
        const json_t *req = json_object_get(schema, "required");
        if (json_object_size(props) > 0) {
            fprintf(f, "    args:");
            const char *k;
            const json_t *p;
            bool first = true;
            json_object_foreach((json_t *)props, k, p) {
                bool required = false;
                size_t j;
                const json_t *r;
                json_array_foreach(req, j, r)
                    if (json_is_string(r) && strcmp(json_string_value(r), k) == 0)
                        required = true;
                const char *type = str(p, "type");
                fprintf(f, "%s %s%s%s%s", first ? "" : ",", k, type ? ":" : "", type ? type : "",
                        required ? " (required)" : "");
                first = false;
            }
            fprintf(f, "\n");
        }
    }
}

static void
out_content_item(FILE *f, const json_t *c)
{
    const char *type = str(c, "type");
    if (type == NULL) {
        out_json(f, c);
        return;
    }
    if (strcmp(type, "text") == 0) {
        fprintf(f, "%s\n", str(c, "text") ? str(c, "text") : "");
    } else if (strcmp(type, "image") == 0 || strcmp(type, "audio") == 0) {
        const char *data = str(c, "data");
        fprintf(f, "[%s %s, %zu bytes base64]\n", type,
                str(c, "mimeType") ? str(c, "mimeType") : "?", data ? strlen(data) : 0);
    } else if (strcmp(type, "resource") == 0) {
        const json_t *r = json_object_get(c, "resource");
        fprintf(f, "[resource %s]\n", str(r, "uri") ? str(r, "uri") : "?");
        if (str(r, "text") != NULL)
            fprintf(f, "%s\n", str(r, "text"));
        else if (str(r, "blob") != NULL)
            fprintf(f, "[blob, %zu bytes base64]\n", strlen(str(r, "blob")));
    } else if (strcmp(type, "resource_link") == 0) {
        fprintf(f, "[link %s]\n", str(c, "uri") ? str(c, "uri") : "?");
    } else {
        out_json(f, c);
    }
}

void
out_call_result(FILE *f, const json_t *result)
{
    size_t i;
    const json_t *c;
    const json_t *content = json_object_get(result, "content");
    json_array_foreach(content, i, c)
        out_content_item(f, c);
    const json_t *sc = json_object_get(result, "structuredContent");
    if (sc != NULL && json_array_size(content) == 0)
        out_json(f, sc);
}

void
out_resources(FILE *f, const json_t *resources, const json_t *templates)
{
    size_t i;
    const json_t *r;
    if (json_array_size(resources) == 0 && json_array_size(templates) == 0) {
        fprintf(f, "(no resources)\n");
        return;
    }
    json_array_foreach(resources, i, r) {
        fprintf(f, "%s", str(r, "uri") ? str(r, "uri") : "?");
        if (str(r, "name") != NULL)
            fprintf(f, "  %s", str(r, "name"));
        if (str(r, "mimeType") != NULL)
            fprintf(f, "  (%s)", str(r, "mimeType"));
        fprintf(f, "\n");
    }
    json_array_foreach(templates, i, r) {
        fprintf(f, "%s  %s  (template)\n", str(r, "uriTemplate") ? str(r, "uriTemplate") : "?",
                str(r, "name") ? str(r, "name") : "");
    }
}

void
out_read_result(FILE *f, const json_t *result)
{
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(result, "contents"), i, c) {
        if (str(c, "text") != NULL)
            fprintf(f, "%s\n", str(c, "text"));
        else
            fprintf(f, "[blob %s %s, %zu bytes base64]\n", str(c, "uri") ? str(c, "uri") : "?",
                    str(c, "mimeType") ? str(c, "mimeType") : "",
                    str(c, "blob") ? strlen(str(c, "blob")) : 0);
    }
}

void
out_prompts(FILE *f, const json_t *prompts)
{
    size_t i;
    const json_t *p;
    if (json_array_size(prompts) == 0) {
        fprintf(f, "(no prompts)\n");
        return;
    }
    json_array_foreach(prompts, i, p) {
        fprintf(f, "%s", str(p, "name") ? str(p, "name") : "?");
        if (str(p, "description") != NULL) {
            fprintf(f, " - ");
            print_first_line(f, str(p, "description"));
        }
        fprintf(f, "\n");
        const json_t *args = json_object_get(p, "arguments");
        if (json_array_size(args) > 0) {
            fprintf(f, "    args:");
            size_t j;
            const json_t *a;
            json_array_foreach(args, j, a)
                fprintf(f, "%s %s%s", j ? "," : "", str(a, "name") ? str(a, "name") : "?",
                        json_is_true(json_object_get(a, "required")) ? " (required)" : "");
            fprintf(f, "\n");
        }
    }
}

void
out_prompt(FILE *f, const json_t *result)
{
    size_t i;
    const json_t *m;
    if (str(result, "description") != NULL)
        fprintf(f, "# %s\n", str(result, "description"));
    json_array_foreach(json_object_get(result, "messages"), i, m) {
        fprintf(f, "%s: ", str(m, "role") ? str(m, "role") : "?");
        out_content_item(f, json_object_get(m, "content"));
    }
}
