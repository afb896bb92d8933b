/* prompts/list and prompts/get. */
#include "protocol/internal.h"

#include <string.h>

const mcp__prompt *
mcp__pr_find_prompt(mcp_server *srv, const char *name)
{
    for (size_t i = 0; name != NULL && i < srv->nprompts; i++)
        if (strcmp(srv->prompts[i].name, name) == 0)
            return &srv->prompts[i];
    return NULL;
}

static json_t *
prompt_at(mcp_server *srv, size_t i, const mcp_principal *p, bool *ok)
{
    mcp_authz_result res;
    *ok = mcp__authorize(srv, p, "prompt", srv->prompts[i].name, &srv->prompts[i].access, &res);
    return srv->prompts[i].listing;
}

mcp_status
mcp__m_prompts_list(mcp_request *req, mcp_error *err)
{
    (void)err;
    return mcp__pr_list_reply(req, MCP__LIST_PROMPTS, req->srv->nprompts, prompt_at, "prompts");
}

mcp_status
mcp__m_prompts_get(mcp_request *req, mcp_error *err)
{
    (void)err;
    const mcp__prompt *p = mcp__pr_find_prompt(req->srv, req->target);
    json_t *args = json_object_get(req->msg.params, "arguments");
    if (p == NULL)
        return mcp__pr_reply(req, NULL, MCP_RPC_INVALID_PARAMS,
                             req->target ? "unknown prompt" : "prompts/get needs a prompt name");
    if (args != NULL && !json_is_object(args))
        return mcp__pr_reply(req, NULL, MCP_RPC_INVALID_PARAMS, "arguments must be an object");
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(p->listing, "arguments"), i, a) {
        const char *an = mcp__pr_str_param(a, "name");
        if (json_is_true(json_object_get(a, "required")) &&
            !json_is_string(json_object_get(args, an)))
            return mcp__pr_reply(req, NULL, MCP_RPC_INVALID_PARAMS,
                                 "missing required prompt argument");
    }
    req->outcome = mcp__pr_start_handler(req, req->sink, CTX_PROMPT, p, false);
    return MCP_OK;
}
