/*
 * The method table: one static row per JSON-RPC method (name -> target kind, authorization rule,
 * handler, protocol revisions), read by the three protocol entries of the pipeline: route
 * (after parsing: responses, notifications, lifecycle checks, the target), the built-in AUTHZ
 * entry, and the handler. Before it there were three string chains (set_target,
 * authorize_target, the dispatcher) that disagreed on resources/unsubscribe: it had a target
 * but was not decided by the built-in AUTHZ entry. Every method with a target is now decided
 * by its target's rule, unsubscribe included: one policy for every method that names a
 * resource, and no answer ("{}" or "not found") for one the caller may not read.
 */
#include "protocol/internal.h"

#include "protocol/input.h"
#include "protocol/mcp_headers.h"
#include "protocol/meta.h"

#include <string.h>

typedef enum target_kind { T_NONE, T_TOOL, T_PROMPT, T_RESOURCE } target_kind;

/* Protocol revisions a method exists in. A 2026-07-28 request for a method without REV_2026
 * (removed: initialize, ping, logging/setLevel, resources/subscribe|unsubscribe) is answered
 * 404 -32601; a 2025 request for a 2026-only method (server/discover) is "method not found". */
enum {
    REV_2025_03_26 = 1u << 0,
    REV_2025_06_18 = 1u << 1,
    REV_2025_11_25 = 1u << 2,
    REV_2026_07_28 = 1u << 3,
    REV_LEGACY = REV_2025_03_26 | REV_2025_06_18 | REV_2025_11_25,
    REV_ALL = REV_LEGACY | REV_2026_07_28,
};

/* Cache hints of a 2026 result (SEP-2549). */
enum { C_NO = MCP__PR_CACHE_NONE, C_CALLER = MCP__PR_CACHE_CALLER, C_PUB = MCP__PR_CACHE_PUBLIC };

typedef struct method {
    const char     *name;
    target_kind     target;      /* what params names: tool/prompt "name" or resource "uri" */
    bool            authorize;   /* the built-in AUTHZ entry decides for the target */
    unsigned        revisions;   /* REV_* the method belongs to */
    int             cache;       /* C_*: ttlMs/cacheScope on its 2026 result */
    mcp__method_fn  fn;
} method;

static const method methods[] = {
    { "initialize",               T_NONE,     false, REV_LEGACY, C_NO, mcp__m_initialize },
    { "ping",                     T_NONE,     false, REV_LEGACY, C_NO, mcp__m_ping },
    { "server/discover",          T_NONE,     false, REV_2026_07_28, C_PUB, mcp__m_discover },
    { "subscriptions/listen",     T_NONE,     false, REV_2026_07_28, C_NO, mcp__m_listen },
    { "tools/list",               T_NONE,     false, REV_ALL, C_CALLER, mcp__m_tools_list },
    { "tools/call",               T_TOOL,     true,  REV_ALL, C_NO, mcp__m_tools_call },
    { "resources/list",           T_NONE,     false, REV_ALL, C_CALLER, mcp__m_resources_list },
    { "resources/templates/list", T_NONE,     false, REV_ALL, C_CALLER, mcp__m_templates_list },
    { "resources/read",           T_RESOURCE, true,  REV_ALL, C_CALLER, mcp__m_resources_read },
    { "resources/subscribe",      T_RESOURCE, true,  REV_LEGACY, C_NO, mcp__m_subscribe },
    { "resources/unsubscribe",    T_RESOURCE, true,  REV_LEGACY, C_NO, mcp__m_unsubscribe },
    { "prompts/list",             T_NONE,     false, REV_ALL, C_CALLER, mcp__m_prompts_list },
    { "prompts/get",              T_PROMPT,   true,  REV_ALL, C_NO, mcp__m_prompts_get },
    { "completion/complete",      T_NONE,     false, REV_ALL, C_NO, mcp__m_complete },
    { "logging/setLevel",         T_NONE,     false, REV_LEGACY, C_NO, mcp__m_set_level },
};

static const method *
find_method(const char *name, unsigned rev)
{
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strcmp(methods[i].name, name) == 0)
            return (methods[i].revisions & rev) ? &methods[i] : NULL;
    return NULL;
}

int
mcp__pr_method_cache(const mcp_request *req)
{
    const method *m = req->method;
    return m != NULL ? m->cache : MCP__PR_CACHE_NONE;
}

/* A 2026 refusal before the handler: its HTTP status, and err (code, message) if not set. */
static mcp_status
refuse(mcp_request *req, unsigned http_status, mcp_status rc, mcp_error *err)
{
    req->http_status = http_status;
    if (err != NULL && err->code == MCP_OK)
        mcp_error_set(err, rc, NULL);
    return rc;
}

/*
 * The checks of a 2026-07-28 request after parsing, in the order of docs/design/
 * protocol-2026.md 4.2 (steps 6-10): the version the header named, the per-request _meta,
 * header == _meta version, Mcp-Method/Mcp-Name == the body, the method in this revision, and
 * the shape of a retry's inputResponses/requestState. Every refusal carries the request id
 * (the transport answers with it) and its 2026 HTTP status.
 */
static mcp_status check_param_headers(mcp_request *req, mcp_error *err);

/* The version params._meta names, or NULL. */
static const char *
meta_version(const mcp_request *req)
{
    return json_string_value(json_object_get(json_object_get(req->msg.params, "_meta"),
                                             MCP__META_PV));
}

static mcp_status
modern_checks(mcp_request *req, const method **out, mcp_error *err)
{
    bool headerless = (req->caps & MCP__CAP_HEADERLESS) != 0;
    const char *pv = headerless ? meta_version(req) : mcp_request_header(req,
                                                                         "MCP-Protocol-Version");
    const char *m = req->msg.method;
    json_t *params = req->msg.params;
    mcp_status rc;
    *out = NULL;
    if (req->era == MCP__REQ_UNSUPPORTED) {
        req->err_data = mcp__pv_unsupported_data(pv);
        mcp_error_set_rpc(err, MCP_ERR_UNSUPPORTED, MCP__RPC_UNSUPPORTED_VERSION,
                          headerless ? "Bad Request: unsupported protocol version %.40s"
                                     : "Bad Request: unsupported MCP-Protocol-Version %.40s",
                          pv ? pv : "");
        return refuse(req, 400, MCP_ERR_UNSUPPORTED, err);
    }
    mcp__meta26 meta;
    if ((rc = mcp__meta26_parse(params, &meta, err)) != MCP_OK ||
        (!headerless && (rc = mcp__meta26_header_check(pv, &meta, err)) != MCP_OK))
        return refuse(req, 400, rc, err);
    if (!headerless) {
        mcp__hdr_target t;
        memset(&t, 0, sizeof t);
        rc = mcp__hdr_target_read(mcp_request_header(req, "Mcp-Method"),
                                  mcp_request_header(req, "Mcp-Name"), &t, err);
        if (rc == MCP_OK)
            rc = mcp__hdr_verify_body(&t, m, params, err);
        mcp__hdr_target_cleanup(&t);
        if (rc != MCP_OK)
            return refuse(req, 400, rc, err);
    }
    const method *me = find_method(m, REV_2026_07_28);
    if (me == NULL) {
        mcp_error_set_rpc(err, MCP_ERR_NOT_FOUND, MCP_RPC_METHOD_NOT_FOUND,
                          "Method not found: %.60s", m);
        return refuse(req, 404, MCP_ERR_NOT_FOUND, err);
    }
    if (!headerless && me->target == T_TOOL && (rc = check_param_headers(req, err)) != MCP_OK)
        return refuse(req, 400, rc, err);
    if (mcp__input_allowed(m)) {
        const json_t *resp;
        json_t *st = json_object_get(params, "requestState");
        if ((rc = mcp__input_responses_get(params, &resp, err)) != MCP_OK)
            return refuse(req, 400, rc, err);
        if (st != NULL && !json_is_string(st)) {
            mcp_error_set_rpc(err, MCP_ERR_INVALID_ARG, MCP_RPC_INVALID_PARAMS,
                              "params.requestState: must be a string");
            return refuse(req, 400, MCP_ERR_INVALID_ARG, err);
        }
    }
    *out = me;
    return MCP_OK;
}

/* Mcp-Param-{Name} (SEP-2243): every tools/call argument whose inputSchema property carries
 * "x-mcp-header": Name must be mirrored in that header (decoded, then compared by type:
 * mcp__hdr_param_matches). A value present in the body with its header missing, a header that
 * does not decode, or one that says something else is -32020. null or absent: no header
 * expected (a header then is ignored, as any unknown header). */
static mcp_status
check_param_headers(mcp_request *req, mcp_error *err)
{
    json_t *params = req->msg.params;
    const mcp__tool *t = mcp__pr_find_tool(req->srv, mcp__pr_str_param(params, "name"));
    json_t *props = t != NULL ? json_object_get(t->input_schema, "properties") : NULL;
    json_t *args = json_object_get(params, "arguments");
    const char *key;
    json_t *prop;
    json_object_foreach(props, key, prop) {
        const char *hname = json_string_value(json_object_get(prop, "x-mcp-header"));
        json_t *v = json_object_get(args, key);
        if (hname == NULL || !mcp__hdr_token_ok(hname, strlen(hname)) || v == NULL ||
            json_is_null(v))
            continue;
        char full[160];
        snprintf(full, sizeof full, "Mcp-Param-%.128s", hname);
        const char *hv = mcp_request_header(req, full);
        if (hv == NULL)
            return mcp_error_set_rpc(err, MCP_ERR_INVALID_ARG, MCP__RPC_HEADER_MISMATCH,
                                     "Header mismatch: %s is required (arguments.%.60s is set)",
                                     full, key);
        char *dec = NULL;
        size_t dlen = 0;
        mcp_status rc = mcp__hdr_decode(hv, strlen(hv), &dec, &dlen, err);
        if (rc != MCP_OK) {
            if (err->rpc_code != MCP__RPC_HEADER_MISMATCH)
                mcp_error_set_rpc(err, rc, MCP__RPC_HEADER_MISMATCH, "Header mismatch: %s: "
                                  "malformed value", full);
            return rc;
        }
        bool same = mcp__hdr_param_matches(dec, v);
        mcp__free(dec);
        if (!same)
            return mcp_error_set_rpc(err, MCP_ERR_INVALID_ARG, MCP__RPC_HEADER_MISMATCH,
                                     "Header mismatch: %s does not match arguments.%.60s", full,
                                     key);
    }
    return MCP_OK;
}

/* A body that carries 2026 _meta without the version header: the header is required. */
static bool
modern_body_without_header(const mcp_request *req)
{
    json_t *meta = json_object_get(req->msg.params, "_meta");
    return mcp_request_header(req, "MCP-Protocol-Version") == NULL &&
           json_object_get(meta, MCP__META_PV) != NULL && !(req->caps & MCP__CAP_HEADERLESS);
}

/*
 * One function serves "may see" for every list: the entries are filtered by the same
 * mcp__authorize() that guards calls, then paginated.
 */
json_t *
mcp__pr_list(mcp_request *req, size_t n, listing_at_fn at, const char *key, int32_t *code,
             const char **msg)
{
    size_t offset;
    if (!mcp__pr_parse_cursor(req->msg.params, &offset)) {
        *code = MCP_RPC_INVALID_PARAMS;
        *msg = "invalid cursor";
        return NULL;
    }
    json_t *arr = json_array();
    json_t *r = json_pack("{s:o}", key, arr);
    size_t visible = 0, page = req->srv->page_size;
    for (size_t i = 0; r != NULL && i < n; i++) {
        bool ok;
        json_t *entry = at(req->srv, i, req->principal, &ok);
        if (!ok)
            continue;
        if (visible++ < offset)
            continue;
        if (json_array_size(arr) == page) {
            mcp__pr_set_next_cursor(r, offset + page);
            break;
        }
        json_array_append(arr, entry);
    }
    return r;
}

/* ---- the pipeline entries --------------------------------------------------------------- */

/* After parsing, before AUTHZ: answer what needs no authorization, refuse what breaks the
 * lifecycle, and name the target for the AUTHZ items. */
static mcp_status
route(mcp_request *req, void *unused, mcp_error *err)
{
    (void)unused;
    mcp_server *srv = req->srv;
    if (req->msg.kind == MCP__RPC_RESPONSE || req->msg.kind == MCP__RPC_NOTIFICATION) {
        if (req->msg.kind == MCP__RPC_RESPONSE)
            mcp__pr_handle_response(req);
        else
            mcp__pr_handle_notification(req);
        req->outcome = MCP__DISPATCH_ACCEPTED;
        req->finished = true;
        return MCP_OK;
    }
    const char *m = req->msg.method;
    const method *me = NULL;
    if ((req->caps & MCP__CAP_HEADERLESS) && req->era == MCP__REQ_LEGACY) {
        /* No headers (stdio): the version in params._meta chooses the era of each request. A
         * 2025 client sends none (its session's initialize decides); a version that is
         * neither 2026-07-28 nor a 2025 revision is refused -32022. */
        const char *pv = meta_version(req);
        if (pv != NULL && strcmp(pv, MCP__PV_MODERN) == 0)
            req->era = MCP__REQ_MODERN;
        else if (pv != NULL && !mcp__version_supported(pv))
            req->era = MCP__REQ_UNSUPPORTED;
    }
    if (req->era != MCP__REQ_LEGACY) {
        mcp_status rc = modern_checks(req, &me, err);
        if (rc != MCP_OK)
            return rc;
        req->method = me;
        goto target;                     /* no session, no initialize: stateless */
    }
    if (modern_body_without_header(req)) {
        mcp_error_set_rpc(err, MCP_ERR_INVALID_ARG, MCP__RPC_HEADER_MISMATCH,
                          "Bad Request: MCP-Protocol-Version header is required");
        return refuse(req, 400, MCP_ERR_INVALID_ARG, err);
    }
    bool is_init = strcmp(m, "initialize") == 0;
    bool header_sessions = (req->caps & MCP__CAP_HEADER_SESSIONS) != 0;
    if (header_sessions && !srv->opts.stateless) {
        if (req->session == NULL && !is_init)
            return mcp_error_set_rpc(err, MCP_ERR_INVALID_ARG, MCP_RPC_INVALID_REQUEST,
                                     "Bad Request: Mcp-Session-Id header is required");
        if (req->session != NULL && is_init)
            return mcp_error_set_rpc(err, MCP_ERR_INVALID_ARG, MCP_RPC_INVALID_REQUEST,
                                     "Bad Request: session already initialized");
    }
    if (!header_sessions && req->session != NULL && !is_init && strcmp(m, "ping") != 0) {
        pthread_mutex_lock(&req->session->mu);
        bool ready = req->session->client_caps != NULL;
        pthread_mutex_unlock(&req->session->mu);
        if (!ready) {
            mcp__pr_emit_error(req->sink, req->msg.id, MCP_RPC_NOT_INITIALIZED,
                               "server not initialized: send initialize first");
            req->finished = true;
            return MCP_OK;
        }
    }
    me = find_method(m, REV_LEGACY);
    req->method = me;
target:
    if (me == NULL || me->target == T_NONE)
        return MCP_OK;
    json_t *params = req->msg.params;
    if (me->target == T_TOOL) {
        req->target = mcp__pr_str_param(params, "name");
        req->target_known = mcp__pr_find_tool(srv, req->target) != NULL;
    } else if (me->target == T_PROMPT) {
        req->target = mcp__pr_str_param(params, "name");
        req->target_known = mcp__pr_find_prompt(srv, req->target) != NULL;
    } else {
        req->target = mcp__pr_str_param(params, "uri");
        req->target_known = mcp__pr_find_resource(srv, req->target, NULL) != NULL;
    }
    return MCP_OK;
}

/* Head phase, 2026-07-28: the method and target the Mcp-Method / Mcp-Name headers name, so
 * AUTHZ decides before the body is read (docs/design/protocol-2026.md 4.5). Headers that are
 * missing, malformed or name no 2026 method decide nothing here: the body phase then refuses
 * the request (-32020 / 404, with its id) before any authorization or handler. */
static mcp_status
head_route(mcp_request *req, void *unused, mcp_error *err)
{
    (void)unused;
    (void)err;
    if (req->era != MCP__REQ_MODERN)
        return MCP_OK;
    mcp__hdr_target t;
    mcp_error e;
    mcp_error_clear(&e);
    memset(&t, 0, sizeof t);
    if (mcp__hdr_target_read(mcp_request_header(req, "Mcp-Method"),
                             mcp_request_header(req, "Mcp-Name"), &t, &e) != MCP_OK) {
        mcp__hdr_target_cleanup(&t);
        return MCP_OK;
    }
    const method *me = find_method(t.method, REV_2026_07_28);
    if (me == NULL || (me->target != T_NONE && t.name == NULL)) {
        mcp__hdr_target_cleanup(&t);
        return MCP_OK;
    }
    snprintf(req->head_method, sizeof req->head_method, "%s", t.method);
    req->method = me;
    if (me->target != T_NONE) {
        req->head_target = t.name;          /* the request owns it now */
        t.name = NULL;
        req->target = req->head_target;
        req->target_known = me->target == T_TOOL ? mcp__pr_find_tool(req->srv, req->target) != NULL
                            : me->target == T_PROMPT
                            ? mcp__pr_find_prompt(req->srv, req->target) != NULL
                            : mcp__pr_find_resource(req->srv, req->target, NULL) != NULL;
    }
    mcp__hdr_target_cleanup(&t);
    return MCP_OK;
}

/* Built-in AUTHZ entry: the registered access rule (or the installed policy) of the target.
 * Only methods whose table row says so are decided here (those that name a target). */
static mcp_status
authorize_target(mcp_request *req, void *unused, mcp_error *err)
{
    (void)unused;
    const method *m = req->method;
    const char *kind = NULL, *name = req->target;
    const mcp__access *a = NULL;
    if (req->target == NULL || m == NULL || !m->authorize)
        return MCP_OK;
    if (m->target == T_TOOL) {
        const mcp__tool *t = mcp__pr_find_tool(req->srv, req->target);
        kind = "tool";
        a = t ? &t->access : NULL;
    } else if (m->target == T_PROMPT) {
        const mcp__prompt *p = mcp__pr_find_prompt(req->srv, req->target);
        kind = "prompt";
        a = p ? &p->access : NULL;
    } else if (m->target == T_RESOURCE) {
        const mcp__resource *r = mcp__pr_find_resource(req->srv, req->target, NULL);
        kind = "resource";
        a = r ? &r->access : NULL;
        if (r != NULL && r->tmpl != NULL)
            name = r->tmpl;            /* decide for the entry that will serve the URI */
    }
    if (a == NULL)
        return MCP_OK;                 /* unknown target: the method answers "not found" */
    mcp_authz_result res;
    if (mcp__authorize(req->srv, req->principal, kind, name, a, &res))
        return MCP_OK;
    if (res.not_granted) {
        /* The user does not hold it (the store's roles): asking the authorization server for
         * a wider token cannot help, so no challenge names a scope to request (an empty error
         * code: the transport sends no step-up challenge). */
        mcp_request_set_challenge(req, "", NULL);
        req->missing[0] = '\0';
        if (strncmp(res.required, "any of", 6) != 0 && strncmp(res.required, "all of", 6) != 0 &&
            res.required[0] != '\0')
            return mcp_error_set_rpc(err, MCP_ERR_FORBIDDEN, MCP_RPC_FORBIDDEN,
                                     "%s '%.80s' is allowed to %.120s", kind, req->target,
                                     res.required);
        return mcp_error_set_rpc(err, MCP_ERR_FORBIDDEN, MCP_RPC_FORBIDDEN,
                                 "%s '%.80s' requires %.120s, which this user is not granted",
                                 kind, req->target,
                                 res.required[0] ? res.required : "a permission");
    }
    /* scope = what the caller has plus what the target needs (MCP step-up authorization) */
    mcp_buf scope;
    mcp__buf_init(&scope, 4096);
    for (size_t i = 0; i < mcp_principal_permission_count(req->principal); i++)
        mcp__buf_printf(&scope, "%s%s", scope.len ? " " : "",
                        mcp_principal_permission(req->principal, i));
    if (res.missing[0])
        mcp__buf_printf(&scope, "%s%s", scope.len ? " " : "", res.missing);
    mcp_request_set_challenge(req, "insufficient_scope", scope.ptr ? scope.ptr : "");
    snprintf(req->missing, sizeof req->missing, "%s", res.missing);
    mcp__buf_cleanup(&scope);
    /* Word the rule that decided: the installed policy says which one it applied (it may
     * differ from the registration rule); otherwise the registration rule. */
    const char *mode = a->all_of && !a->any_of ? "all of: " : "any of: ";
    if (strncmp(res.required, "all of", 6) == 0)
        mode = "all of: ";
    else if (strncmp(res.required, "any of", 6) == 0)
        mode = "any of: ";
    else if (res.required[0] != '\0' && res.missing[0] == '\0')
        return mcp_error_set_rpc(err, MCP_ERR_FORBIDDEN, MCP_RPC_FORBIDDEN,
                                 "%s '%.80s' is allowed to %.120s", kind, req->target,
                                 res.required);
    return mcp_error_set_rpc(err, MCP_ERR_FORBIDDEN, MCP_RPC_FORBIDDEN,
                             "%s '%.80s' requires %s%.120s", kind, req->target, mode,
                             res.missing[0] ? res.missing : "a permission the caller lacks");
}

/* The HANDLER phase: the method's row runs it; an unknown method is answered here. */
static mcp_status
handle(mcp_request *req, void *unused, mcp_error *err)
{
    (void)unused;
    const method *m = req->method;
    if (m == NULL)
        return mcp__pr_reply(req, NULL, MCP_RPC_METHOD_NOT_FOUND, "method not found");
    return m->fn(req, err);
}

const mcp__handler_entries mcp__protocol_entries = {
    .route = { route, NULL },
    .authorize = { authorize_target, NULL },
    .handler = { handle, NULL },
    .head_route = { head_route, NULL },
    .schema_compile = mcp__pr_schema_compile,
    .schema_free = mcp__pr_schema_free,
};
