/* resources/list, resources/templates/list, resources/read, resources/subscribe and
 * resources/unsubscribe, and the URI template lookup that decides which entry serves a URI. */
#include "protocol/internal.h"

#include <string.h>

/* ---- URI templates (RFC 6570 level 1, one path segment per variable) --------------------- */

/* Keep a matched variable in the request context (up to MAX_URI_VARS). */
static void
keep_var(void *vctx, const char *name, size_t nlen, const char *val, size_t vlen)
{
    mcp_ctx *ctx = vctx;
    if (ctx->nvars < MAX_URI_VARS) {
        ctx->var_names[ctx->nvars] = mcp__strndup(name, nlen);
        ctx->var_values[ctx->nvars] = mcp__strndup(val, vlen);
        ctx->nvars++;
    }
}

static bool
template_match(const char *tmpl, const char *uri, mcp_ctx *ctx)
{
    return mcp__uri_template_match_vars(tmpl, uri, ctx != NULL ? keep_var : NULL, ctx);
}

const mcp__resource *
mcp__pr_find_resource(mcp_server *srv, const char *uri, mcp_ctx *ctx)
{
    if (uri == NULL)
        return NULL;
    for (size_t i = 0; i < srv->nresources; i++)
        if (srv->resources[i].uri != NULL && strcmp(srv->resources[i].uri, uri) == 0)
            return &srv->resources[i];
    /* Several templates may match: the most specific one (most literal characters; ties go to
     * the first registered) serves the URI, and authorization is decided for that same entry
     * (authorize_target), so a URI can never be allowed under one template and served by
     * another. */
    const mcp__resource *best = NULL;
    for (size_t i = 0; i < srv->nresources; i++) {
        const mcp__resource *r = &srv->resources[i];
        if (r->tmpl != NULL && (best == NULL || r->specificity > best->specificity) &&
            template_match(r->tmpl, uri, NULL))
            best = r;
    }
    if (best != NULL && ctx != NULL)
        template_match(best->tmpl, uri, ctx);
    return best;
}

static json_t *
resource_at(mcp_server *srv, size_t i, const mcp_principal *p, bool *ok)
{
    mcp_authz_result res;
    const mcp__resource *r = &srv->resources[i];
    *ok = r->uri != NULL && mcp__authorize(srv, p, "resource", r->uri, &r->access, &res);
    return r->listing;
}

static json_t *
template_at(mcp_server *srv, size_t i, const mcp_principal *p, bool *ok)
{
    mcp_authz_result res;
    const mcp__resource *r = &srv->resources[i];
    *ok = r->tmpl != NULL && mcp__authorize(srv, p, "resource", r->tmpl, &r->access, &res);
    return r->listing;
}

static json_t *
do_subscribe(mcp_request *req, bool sub, int32_t *code, const char **msg)
{
    const char *uri = req->target;
    if (uri == NULL) {
        *code = MCP_RPC_INVALID_PARAMS;
        *msg = "missing uri";
        return NULL;
    }
    if (mcp__pr_find_resource(req->srv, uri, NULL) == NULL) {
        *code = MCP_RPC_RESOURCE_NOT_FOUND;
        *msg = "resource not found";
        return NULL;
    }
    mcp__session *s = req->session;
    if (s == NULL)
        return json_object();          /* stateless: nothing to remember, nothing to notify */
    pthread_mutex_lock(&s->mu);
    size_t i = 0;
    while (i < s->nsubs && strcmp(s->subs[i], uri) != 0)
        i++;
    if (sub && i == s->nsubs && s->nsubs < 1024) {
        char **n = mcp__realloc(s->subs, (s->nsubs + 1) * sizeof *n);
        if (n != NULL) {
            s->subs = n;
            if ((s->subs[s->nsubs] = mcp__strdup(uri)) != NULL)
                s->nsubs++;
        }
    } else if (!sub && i < s->nsubs) {
        mcp__free(s->subs[i]);
        s->subs[i] = s->subs[--s->nsubs];
    }
    pthread_mutex_unlock(&s->mu);
    return json_object();
}

mcp_status
mcp__m_resources_list(mcp_request *req, mcp_error *err)
{
    (void)err;
    return mcp__pr_list_reply(req, MCP__LIST_RESOURCES, req->srv->nresources, resource_at,
                              "resources");
}

mcp_status
mcp__m_templates_list(mcp_request *req, mcp_error *err)
{
    (void)err;
    return mcp__pr_list_reply(req, MCP__LIST_TEMPLATES, req->srv->nresources, template_at,
                              "resourceTemplates");
}

mcp_status
mcp__m_resources_read(mcp_request *req, mcp_error *err)
{
    (void)err;
    const mcp__resource *r = mcp__pr_find_resource(req->srv, req->target, NULL);
    if (r == NULL && req->target != NULL && req->era == MCP__REQ_MODERN) {
        /* SEP-2164: 2026 answers an unknown resource -32602 naming the URI (2025: -32002) */
        mcp__pr_emit_error_data(req->sink, req->msg.id, MCP_RPC_INVALID_PARAMS,
                                "Resource not found", json_pack("{s:s}", "uri", req->target));
        return MCP_OK;
    }
    if (r == NULL)
        return mcp__pr_reply(req, NULL,
                             req->target ? MCP_RPC_RESOURCE_NOT_FOUND : MCP_RPC_INVALID_PARAMS,
                             req->target ? "resource not found" : "resources/read needs a uri");
    req->outcome = mcp__pr_start_handler(req, req->sink, CTX_RESOURCE, r, false);
    return MCP_OK;
}

mcp_status
mcp__m_subscribe(mcp_request *req, mcp_error *err)
{
    (void)err;
    int32_t code = 0;
    const char *msg = NULL;
    json_t *r = do_subscribe(req, true, &code, &msg);
    return mcp__pr_reply(req, r, code, msg);
}

mcp_status
mcp__m_unsubscribe(mcp_request *req, mcp_error *err)
{
    (void)err;
    int32_t code = 0;
    const char *msg = NULL;
    json_t *r = do_subscribe(req, false, &code, &msg);
    return mcp__pr_reply(req, r, code, msg);
}
