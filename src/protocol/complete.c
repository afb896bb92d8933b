/* completion/complete: only for a prompt or resource the caller may see. */
#include "protocol/internal.h"

#include <string.h>

static mcp__dispatch_result
do_complete(mcp_request *req, mcp__sink *sink)
{
    json_t *params = req->msg.params;
    json_t *ref = json_object_get(params, "ref");
    json_t *arg = json_object_get(params, "argument");
    const char *type = mcp__pr_str_param(ref, "type");
    const char *name = mcp__pr_str_param(ref, strcmp(type ? type : "", "ref/resource") == 0 ? "uri"
                                                                                    : "name");
    const char *an = mcp__pr_str_param(arg, "name"), *av = mcp__pr_str_param(arg, "value");
    if (type == NULL || name == NULL || an == NULL || av == NULL ||
        (strcmp(type, "ref/prompt") != 0 && strcmp(type, "ref/resource") != 0)) {
        mcp__pr_emit_error(sink, req->msg.id, MCP_RPC_INVALID_PARAMS,
                   "completion/complete needs ref {type, name|uri} and argument {name, value}");
        return MCP__DISPATCH_DONE;
    }
    mcp_authz_result res;
    if (strcmp(type, "ref/prompt") == 0) {
        const mcp__prompt *p = mcp__pr_find_prompt(req->srv, name);
        if (p == NULL || !mcp__authorize(req->srv, req->principal, "prompt", name, &p->access,
                                         &res)) {
            mcp__pr_emit_error(sink, req->msg.id, MCP_RPC_INVALID_PARAMS, "unknown prompt");
            return MCP__DISPATCH_DONE;
        }
    } else {
        /* ref/resource names a template or a URI: complete only what the caller may list */
        const mcp__resource *r = NULL;
        for (size_t i = 0; i < req->srv->nresources && r == NULL; i++) {
            const mcp__resource *c = &req->srv->resources[i];
            if ((c->tmpl != NULL && strcmp(c->tmpl, name) == 0) ||
                (c->uri != NULL && strcmp(c->uri, name) == 0))
                r = c;
        }
        if (r == NULL || !mcp__authorize(req->srv, req->principal, "resource", name, &r->access,
                                         &res)) {
            mcp__pr_emit_error(sink, req->msg.id, MCP_RPC_INVALID_PARAMS, "unknown resource");
            return MCP__DISPATCH_DONE;
        }
    }
    mcp_ctx *c = mcp__pr_ctx_new(req, sink, CTX_COMPLETE);
    if (c == NULL) {
        mcp__pr_emit_error(sink, req->msg.id, MCP_RPC_INTERNAL_ERROR, "out of memory");
        return MCP__DISPATCH_DONE;
    }
    mcp_error err;
    mcp_error_clear(&err);
    mcp_status rc = MCP_OK;
    if (req->srv->completer != NULL)
        rc = req->srv->completer(c, type, name, an, av, req->srv->completer_udata, &err);
    if (rc == MCP_OK) {
        json_t *comp = json_object_get(c->result, "completion");
        json_object_set_new(comp, "total", json_integer((json_int_t)json_array_size(c->list)));
    }
    mcp__pr_finish_handler(c, rc, &err);
    mcp__pr_ctx_free(c);
    return MCP__DISPATCH_DONE;
}

mcp_status
mcp__m_complete(mcp_request *req, mcp_error *err)
{
    (void)err;
    req->outcome = do_complete(req, req->sink);
    return MCP_OK;
}
