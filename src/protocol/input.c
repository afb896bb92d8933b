/* The pure parts of input-required results (SEP-2322). Why validate answers at all: the client's
 * answer goes straight into a handler that expects an ElicitResult (or a CreateMessageResult, a
 * ListRootsResult); checking the shape once here means every handler can index it without
 * re-checking, and a malformed answer is a -32602 naming the key instead of a handler crash or a
 * silently "complete" result (scenario input-required-result-validate-input). */
#include "protocol/input.h"

#include <string.h>

#include "protocol/meta.h"

#define BAD(...) mcp_error_set_rpc(err, MCP_ERR_INVALID_ARG, -32602, __VA_ARGS__)

bool
mcp__input_allowed(const char *m)
{
    return m && (strcmp(m, "tools/call") == 0 || strcmp(m, "prompts/get") == 0 ||
                 strcmp(m, "resources/read") == 0);
}

unsigned
mcp__input_needed_caps(const char *ask_method, const json_t *ask_params)
{
    if (!ask_method)
        return 0;
    if (strcmp(ask_method, "elicitation/create") == 0) {
        const json_t *mode = json_object_get(ask_params, "mode");
        if (json_is_string(mode) && strcmp(json_string_value(mode), "url") == 0)
            return MCP__CAP_ELICIT_URL;
        return MCP__CAP_ELICIT_FORM;
    }
    if (strcmp(ask_method, "sampling/createMessage") == 0)
        return MCP__CAP_SAMPLING |
               (json_object_get(ask_params, "tools") ? MCP__CAP_SAMPLING_TOOLS : 0u);
    if (strcmp(ask_method, "roots/list") == 0)
        return MCP__CAP_ROOTS;
    return 0;
}

bool
mcp__input_key_ok(const char *key)
{
    if (!key)
        return false;
    size_t n = strlen(key);
    if (n == 0 || n > MCP__INPUT_MAX_KEY)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)key[i] < 0x20 || (unsigned char)key[i] > 0x7e)
            return false;
    return true;
}

mcp_status
mcp__input_responses_get(const json_t *params, const json_t **out, mcp_error *err)
{
    *out = NULL;
    if (!params || !json_is_object(params))
        return MCP_OK;
    const json_t *r = json_object_get(params, "inputResponses");
    if (!r)
        return MCP_OK;
    if (!json_is_object(r))
        return BAD("params.inputResponses: must be an object");
    *out = r;
    return MCP_OK;
}

static mcp_status
check_elicit(const char *key, const json_t *resp, mcp_error *err)
{
    const json_t *action = json_object_get(resp, "action");
    const char *a = json_is_string(action) ? json_string_value(action) : NULL;
    if (!a || (strcmp(a, "accept") != 0 && strcmp(a, "decline") != 0 &&
               strcmp(a, "cancel") != 0))
        return BAD("params.inputResponses.%s.action: must be accept, decline or cancel", key);
    const json_t *content = json_object_get(resp, "content");
    if (!content)
        return MCP_OK;
    if (!json_is_object(content))
        return BAD("params.inputResponses.%s.content: must be an object", key);
    const char *field;
    const json_t *v;
    json_object_foreach((json_t *)content, field, v) {
        bool ok = json_is_string(v) || json_is_number(v) || json_is_boolean(v);
        if (json_is_array(v)) {
            size_t i;
            const json_t *item;
            ok = true;
            json_array_foreach(v, i, item)
                ok = ok && json_is_string(item);
        }
        if (!ok)
            return BAD("params.inputResponses.%s.content.%.64s: must be a string, number, "
                       "boolean or an array of strings", key, field);
    }
    return MCP_OK;
}

static mcp_status
check_sampling(const char *key, const json_t *resp, mcp_error *err)
{
    const json_t *role = json_object_get(resp, "role");
    if (!json_is_string(role) || (strcmp(json_string_value(role), "assistant") != 0 &&
                                  strcmp(json_string_value(role), "user") != 0))
        return BAD("params.inputResponses.%s.role: must be user or assistant", key);
    if (!json_is_string(json_object_get(resp, "model")))
        return BAD("params.inputResponses.%s.model: required string", key);
    const json_t *content = json_object_get(resp, "content");
    if (!json_is_object(content) && !json_is_array(content))
        return BAD("params.inputResponses.%s.content: must be an object or an array", key);
    return MCP_OK;
}

static mcp_status
check_roots(const char *key, const json_t *resp, mcp_error *err)
{
    const json_t *roots = json_object_get(resp, "roots");
    if (!json_is_array(roots))
        return BAD("params.inputResponses.%s.roots: must be an array", key);
    size_t i;
    const json_t *r;
    json_array_foreach(roots, i, r) {
        if (!json_is_object(r) || !json_is_string(json_object_get(r, "uri")))
            return BAD("params.inputResponses.%s.roots[%zu].uri: required string", key, i);
    }
    return MCP_OK;
}

mcp_status
mcp__input_response_check(const char *ask_method, const char *key, const json_t *resp,
                          mcp_error *err)
{
    if (!key)
        key = "?";
    if (!resp || !json_is_object(resp))
        return BAD("params.inputResponses.%.128s: must be an object", key);
    if (ask_method && strcmp(ask_method, "elicitation/create") == 0)
        return check_elicit(key, resp, err);
    if (ask_method && strcmp(ask_method, "sampling/createMessage") == 0)
        return check_sampling(key, resp, err);
    if (ask_method && strcmp(ask_method, "roots/list") == 0)
        return check_roots(key, resp, err);
    return mcp_error_set(err, MCP_ERR_INVALID_ARG, "not an input request method");
}

mcp_status
mcp__input_required_result(const json_t *asks, const char *state, json_t **out, mcp_error *err)
{
    bool have_asks = asks && json_is_object(asks) && json_object_size(asks) > 0;
    if (!have_asks && !state)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "input_required needs inputRequests or requestState");
    json_t *r = json_pack("{s:s}", "resultType", "input_required");
    if (r && have_asks && json_object_set(r, "inputRequests", (json_t *)asks) != 0) {
        json_decref(r);
        r = NULL;
    }
    if (r && state && json_object_set_new(r, "requestState", json_string(state)) != 0) {
        json_decref(r);
        r = NULL;
    }
    if (!r)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    *out = r;
    return MCP_OK;
}
