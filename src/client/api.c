/* The MCP methods on top of mcp_client_request(): pagination, argument shapes, helpers. */
#include "client/internal.h"

#include <string.h>

#define MAX_PAGES 1000

static mcp_status
list_all(mcp_client *c, const char *method, const char *key, json_t **out, mcp_error *err)
{
    *out = NULL;
    json_t *all = json_array();
    char *cursor = NULL;
    if (all == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    mcp_status rc = MCP_OK;
    int page;
    for (page = 0; page < MAX_PAGES; page++) {
        json_t *params = cursor ? json_pack("{s:s}", "cursor", cursor) : NULL;
        json_t *res = NULL;
        rc = mcp_client_request(c, method, params, &res, err);
        json_decref(params);
        if (rc != MCP_OK)
            break;
        const json_t *items = json_object_get(res, key);
        if (!json_is_array(items)) {
            json_decref(res);
            rc = mcp_error_set(err, MCP_ERR_PROTOCOL, "%s result has no \"%s\" array", method,
                               key);
            break;
        }
        json_array_extend(all, (json_t *)items);
        const json_t *next = json_object_get(res, "nextCursor");
        mcp__free(cursor);
        cursor = json_is_string(next) && json_string_length(next) > 0
                     ? mcp__strdup(json_string_value(next))
                     : NULL;
        json_decref(res);
        if (cursor == NULL)
            break;
    }
    if (rc == MCP_OK && page == MAX_PAGES)
        rc = mcp_error_set(err, MCP_ERR_TOO_LARGE, "%s: more than %d pages", method, MAX_PAGES);
    mcp__free(cursor);
    if (rc != MCP_OK) {
        json_decref(all);
        return rc;
    }
    *out = all;
    return MCP_OK;
}

static mcp_status
request_empty(mcp_client *c, const char *method, json_t *params_owned, mcp_error *err)
{
    json_t *res = NULL;
    mcp_status rc = mcp_client_request(c, method, params_owned, &res, err);
    json_decref(params_owned);
    json_decref(res);
    return rc;
}

mcp_status
mcp_client_ping(mcp_client *c, mcp_error *err)
{
    /* 2026-07-28 has no ping; server/discover is the cheap request every server answers. */
    return request_empty(c, c != NULL && c->modern ? "server/discover" : "ping", NULL, err);
}

mcp_status
mcp_client_list_tools(mcp_client *c, json_t **tools, mcp_error *err)
{
    mcp_status rc = list_all(c, "tools/list", "tools", tools, err);
    /* 2026-07-28: tools whose x-mcp-header annotations are invalid are left out (SEP-2243),
     * the others' schemas say which arguments become Mcp-Param-* headers. */
    if (rc == MCP_OK && c->modern && mcp__modern_filter_tools(c, *tools) != MCP_OK) {
        json_decref(*tools);
        *tools = NULL;
        rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    }
    return rc;
}

mcp_status
mcp_client_call_tool(mcp_client *c, const char *name, const json_t *args, json_t **result,
                     mcp_error *err)
{
    *result = NULL;
    if (name == NULL || name[0] == '\0')
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no tool name");
    if (args != NULL && !json_is_object(args))
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "tool arguments must be a JSON object");
    json_t *params = json_pack("{s:s}", "name", name);
    if (params == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    if (args != NULL)
        json_object_set(params, "arguments", (json_t *)args);
    mcp_status rc = mcp__client_request_progress(c, "tools/call", params, result, err);
    json_decref(params);
    if (rc == MCP_OK && !json_is_array(json_object_get(*result, "content"))) {
        json_decref(*result);
        *result = NULL;
        rc = mcp_error_set(err, MCP_ERR_PROTOCOL, "tools/call result has no content array");
    }
    return rc;
}

bool
mcp_client_result_is_error(const json_t *result)
{
    return json_is_true(json_object_get(result, "isError"));
}

mcp_status
mcp_client_list_resources(mcp_client *c, json_t **resources, mcp_error *err)
{
    return list_all(c, "resources/list", "resources", resources, err);
}

mcp_status
mcp_client_list_resource_templates(mcp_client *c, json_t **templates, mcp_error *err)
{
    return list_all(c, "resources/templates/list", "resourceTemplates", templates, err);
}

mcp_status
mcp_client_read_resource(mcp_client *c, const char *uri, json_t **result, mcp_error *err)
{
    *result = NULL;
    if (uri == NULL || uri[0] == '\0')
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no resource URI");
    json_t *params = json_pack("{s:s}", "uri", uri);
    if (params == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    mcp_status rc = mcp_client_request(c, "resources/read", params, result, err);
    json_decref(params);
    if (rc == MCP_OK && !json_is_array(json_object_get(*result, "contents"))) {
        json_decref(*result);
        *result = NULL;
        rc = mcp_error_set(err, MCP_ERR_PROTOCOL, "resources/read result has no contents array");
    }
    return rc;
}

mcp_status
mcp_client_subscribe(mcp_client *c, const char *uri, mcp_error *err)
{
    if (uri == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no resource URI");
    return request_empty(c, "resources/subscribe", json_pack("{s:s}", "uri", uri), err);
}

mcp_status
mcp_client_unsubscribe(mcp_client *c, const char *uri, mcp_error *err)
{
    if (uri == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no resource URI");
    return request_empty(c, "resources/unsubscribe", json_pack("{s:s}", "uri", uri), err);
}

mcp_status
mcp_client_list_prompts(mcp_client *c, json_t **prompts, mcp_error *err)
{
    return list_all(c, "prompts/list", "prompts", prompts, err);
}

mcp_status
mcp_client_get_prompt(mcp_client *c, const char *name, const json_t *args, json_t **result,
                      mcp_error *err)
{
    *result = NULL;
    if (name == NULL || name[0] == '\0')
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no prompt name");
    if (args != NULL) {
        const char *k;
        const json_t *v;
        if (!json_is_object(args))
            return mcp_error_set(err, MCP_ERR_INVALID_ARG, "prompt arguments must be an object");
        json_object_foreach((json_t *)args, k, v)
            if (!json_is_string(v))
                return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                                     "prompt argument %s must be a string", k);
    }
    json_t *params = json_pack("{s:s}", "name", name);
    if (params == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    if (args != NULL)
        json_object_set(params, "arguments", (json_t *)args);
    mcp_status rc = mcp_client_request(c, "prompts/get", params, result, err);
    json_decref(params);
    if (rc == MCP_OK && !json_is_array(json_object_get(*result, "messages"))) {
        json_decref(*result);
        *result = NULL;
        rc = mcp_error_set(err, MCP_ERR_PROTOCOL, "prompts/get result has no messages array");
    }
    return rc;
}

mcp_status
mcp_client_complete(mcp_client *c, const char *ref_type, const char *ref_name,
                    const char *arg_name, const char *arg_value, json_t **result,
                    mcp_error *err)
{
    *result = NULL;
    if (ref_type == NULL || ref_name == NULL || arg_name == NULL || arg_value == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "completion needs ref and argument");
    bool prompt = strcmp(ref_type, "ref/prompt") == 0;
    if (!prompt && strcmp(ref_type, "ref/resource") != 0)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "ref_type is ref/prompt or ref/resource");
    json_t *params = json_pack("{s:{s:s, s:s}, s:{s:s, s:s}}", "ref", "type", ref_type,
                               prompt ? "name" : "uri", ref_name, "argument", "name", arg_name,
                               "value", arg_value);
    if (params == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    mcp_status rc = mcp_client_request(c, "completion/complete", params, result, err);
    json_decref(params);
    return rc;
}

mcp_status
mcp_client_set_log_level(mcp_client *c, const char *level, mcp_error *err)
{
    static const char *const levels[] = { "debug", "info", "notice", "warning", "error",
                                          "critical", "alert", "emergency", NULL };
    bool ok = false;
    for (size_t i = 0; level != NULL && levels[i] != NULL; i++)
        ok |= strcmp(level, levels[i]) == 0;
    if (!ok)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "unknown log level");
    return request_empty(c, "logging/setLevel", json_pack("{s:s}", "level", level), err);
}

mcp_status
mcp_client_notify_roots_changed(mcp_client *c, mcp_error *err)
{
    return mcp_client_notify(c, "notifications/roots/list_changed", NULL, err);
}

mcp_status
mcp_client_elicit_defaults(const json_t *requested_schema, json_t **content, mcp_error *err)
{
    *content = NULL;
    const json_t *props = json_object_get(requested_schema, "properties");
    if (!json_is_object(props))
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "requestedSchema has no properties");
    json_t *out = json_object();
    if (out == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    const char *name;
    const json_t *p;
    json_object_foreach((json_t *)props, name, p) {
        const json_t *d = json_object_get(p, "default");
        if (d != NULL && json_object_set_new(out, name, json_deep_copy(d)) != 0) {
            json_decref(out);
            return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        }
    }
    const json_t *req = json_object_get(requested_schema, "required");
    size_t i;
    const json_t *r;
    json_array_foreach(req, i, r) {
        if (json_is_string(r) && json_object_get(out, json_string_value(r)) == NULL) {
            char safe[96];
            mcp__sanitize(json_string_value(r), safe, sizeof safe);
            json_decref(out);
            return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                                 "required field %s has no default value", safe);
        }
    }
    *content = out;
    return MCP_OK;
}
