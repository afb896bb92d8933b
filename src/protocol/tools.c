/* tools/list and tools/call. */
#include "protocol/internal.h"

#include <string.h>

const mcp__tool *
mcp__pr_find_tool(mcp_server *srv, const char *name)
{
    for (size_t i = 0; name != NULL && i < srv->ntools; i++)
        if (strcmp(srv->tools[i].name, name) == 0)
            return &srv->tools[i];
    return NULL;
}

static json_t *
tool_at(mcp_server *srv, size_t i, const mcp_principal *p, bool *ok)
{
    mcp_authz_result res;
    *ok = mcp__authorize(srv, p, "tool", srv->tools[i].name, &srv->tools[i].access, &res);
    return srv->tools[i].listing;
}

mcp_status
mcp__m_tools_list(mcp_request *req, mcp_error *err)
{
    (void)err;
    return mcp__pr_list_reply(req, MCP__LIST_TOOLS, req->srv->ntools, tool_at, "tools");
}

mcp_status
mcp__m_tools_call(mcp_request *req, mcp_error *err)
{
    (void)err;
    char why[MCP_ERROR_MSG_MAX];
    const mcp__tool *t = mcp__pr_find_tool(req->srv, req->target);
    json_t *args = json_object_get(req->msg.params, "arguments");
    if (t == NULL)
        return mcp__pr_reply(req, NULL, MCP_RPC_INVALID_PARAMS,
                             req->target ? "unknown tool" : "tools/call needs a tool name");
    if (args != NULL && !json_is_object(args))
        return mcp__pr_reply(req, NULL, MCP_RPC_INVALID_PARAMS, "arguments must be an object");
    json_t *empty = args == NULL ? json_object() : NULL;
    bool ok = mcp__pr_validate_args(t, args ? args : empty, why, sizeof why);
    json_decref(empty);
    if (!ok)
        return mcp__pr_reply(req, NULL, MCP_RPC_INVALID_PARAMS, why);
    req->outcome = mcp__pr_start_handler(req, req->sink, CTX_TOOL, t,
                                         (t->flags & MCP_TOOL_INLINE) != 0);
    return MCP_OK;
}
