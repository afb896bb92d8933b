/*
 * The registry: tools, resources and prompts with their access rules (read-only once the
 * server runs), the installed middleware, and the one authorizer that decides both "may call"
 * (AUTHZ) and "may see" (list filters).
 */
#include "core/core.h"

#include <string.h>

static void
strv_free(char **v)
{
    for (char **p = v; p != NULL && *p != NULL; p++)
        mcp__free(*p);
    mcp__free(v);
}

static void
access_cleanup(mcp__access *a)
{
    strv_free(a->any_of);
    strv_free(a->all_of);
}

static char **
strv_dup(const char *const *v, bool *nomem)
{
    if (v == NULL)
        return NULL;
    size_t n = 0;
    while (v[n] != NULL)
        n++;
    char **d = mcp__calloc(n + 1, sizeof *d);
    if (d == NULL) {
        *nomem = true;
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if ((d[i] = mcp__strdup(v[i])) == NULL)
            *nomem = true;
    return d;
}

static mcp_status
access_copy(mcp__access *dst, const mcp_access *src, const char *what, const char *name,
            mcp_error *err)
{
    memset(dst, 0, sizeof *dst);
    bool has_any = src->any_of_perms != NULL && src->any_of_perms[0] != NULL;
    bool has_all = src->all_of_perms != NULL && src->all_of_perms[0] != NULL;
    if (!has_any && !has_all && !src->any_authenticated)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "%s '%s' declares no access rule: list permissions or set "
                             "any_authenticated (nothing is public by omission)", what, name);
    bool nomem = false;
    dst->any_of = has_any ? strv_dup(src->any_of_perms, &nomem) : NULL;
    dst->all_of = has_all ? strv_dup(src->all_of_perms, &nomem) : NULL;
    dst->any_authenticated = src->any_authenticated;
    if (nomem) {
        access_cleanup(dst);
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    }
    dst->view.any_of_perms = (const char *const *)dst->any_of;
    dst->view.all_of_perms = (const char *const *)dst->all_of;
    dst->view.any_authenticated = dst->any_authenticated;
    return MCP_OK;
}

static json_t *
parse_schema(const char *text, const char *fallback, mcp_error *err, const char *what)
{
    json_error_t je;
    json_t *v = json_loads(text ? text : fallback, JSON_REJECT_DUPLICATES, &je);
    if (v == NULL || !json_is_object(v)) {
        json_decref(v);
        mcp_error_set(err, MCP_ERR_INVALID_ARG, "%s is not a JSON object", what);
        return NULL;
    }
    return v;
}

/* Compile a tool schema with the protocol's compiler (installed by src/server). */
static mcp_status
compile_schema(mcp_server *srv, const json_t *schema, const char *root, const char *tool,
               void **out, mcp_error *err)
{
    *out = NULL;
    if (srv->handler.schema_compile == NULL)
        return MCP_OK;
    mcp_error e;
    mcp_error_clear(&e);
    mcp_status rc = srv->handler.schema_compile(schema, root, out, &e);
    if (rc != MCP_OK)
        mcp_error_set(err, rc, "tool '%s': %s", tool, e.message);
    return rc;
}

static bool
grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return true;
    size_t c = *cap ? *cap * 2 : 16;
    void *p = mcp__realloc(*arr, c * elem);
    if (p == NULL)
        return false;
    *arr = p;
    *cap = c;
    return true;
}

static void
set_opt_str(json_t *o, const char *k, const char *v)
{
    if (v != NULL)
        json_object_set_new(o, k, json_string(v));
}

mcp_status
mcp_server_add_tool(mcp_server *srv, const mcp_tool_def *def, void *udata, mcp_error *err)
{
    if (srv == NULL || def == NULL || def->name == NULL || def->name[0] == '\0' ||
        def->handler == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "tool needs a name and a handler");
    if (def->description == NULL || def->description[0] == '\0')
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "tool '%s' needs a description", def->name);
    if (atomic_load(&srv->running))
        return mcp_error_set(err, MCP_ERR_STATE, "cannot add tools while serving");
    for (size_t i = 0; i < srv->ntools; i++)
        if (strcmp(srv->tools[i].name, def->name) == 0)
            return mcp_error_set(err, MCP_ERR_INVALID_ARG, "tool '%s' already registered",
                                 def->name);
    mcp__tool t;
    memset(&t, 0, sizeof t);
    mcp_status rc = access_copy(&t.access, &def->access, "tool", def->name, err);
    if (rc != MCP_OK)
        return rc;
    json_t *in = parse_schema(def->input_schema, "{\"type\":\"object\",\"properties\":{}}", err,
                              "input_schema");
    if (in == NULL)
        goto fail;
    if (!json_is_string(json_object_get(in, "type")) ||
        strcmp(json_string_value(json_object_get(in, "type")), "object") != 0) {
        json_decref(in);
        mcp_error_set(err, MCP_ERR_INVALID_ARG, "input_schema of '%s' must have type object",
                      def->name);
        goto fail;
    }
    t.listing = json_pack("{s:s, s:s, s:o}", "name", def->name, "description", def->description,
                          "inputSchema", in);
    if (t.listing == NULL)
        goto nomem;
    t.input_schema = in;
    if (compile_schema(srv, in, "inputSchema", def->name, &t.input_check, err) != MCP_OK)
        goto fail;
    set_opt_str(t.listing, "title", def->title);
    if (def->output_schema != NULL) {
        json_t *o = parse_schema(def->output_schema, NULL, err, "output_schema");
        if (o == NULL)
            goto fail;
        json_object_set_new(t.listing, "outputSchema", o);
        if (compile_schema(srv, o, "outputSchema", def->name, &t.output_check, err) != MCP_OK)
            goto fail;
    }
    if (def->annotations != NULL) {
        json_t *a = parse_schema(def->annotations, NULL, err, "annotations");
        if (a == NULL)
            goto fail;
        json_object_set_new(t.listing, "annotations", a);
    }
    t.name = mcp__strdup(def->name);
    if (t.name == NULL || !grow((void **)&srv->tools, &srv->captools, srv->ntools, sizeof t))
        goto nomem;
    t.flags = def->flags;
    t.fn = def->handler;
    t.udata = udata;
    srv->tools[srv->ntools++] = t;
    mcp__lists_changed(srv);
    return MCP_OK;
nomem:
    mcp_error_set(err, MCP_ERR_NOMEM, NULL);
fail:
    if (srv->handler.schema_free != NULL) {
        srv->handler.schema_free(t.input_check);
        srv->handler.schema_free(t.output_check);
    }
    mcp__free(t.name);
    json_decref(t.listing);
    access_cleanup(&t.access);
    return err != NULL ? err->code : MCP_ERR_INVALID_ARG;
}

mcp_status
mcp_server_add_resource(mcp_server *srv, const mcp_resource_def *def, void *udata, mcp_error *err)
{
    if (srv == NULL || def == NULL || def->name == NULL || def->handler == NULL ||
        (def->uri == NULL) == (def->uri_template == NULL))
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "resource needs a name, a handler, and exactly one of uri/uri_template");
    if (atomic_load(&srv->running))
        return mcp_error_set(err, MCP_ERR_STATE, "cannot add resources while serving");
    mcp__resource r;
    memset(&r, 0, sizeof r);
    mcp_status rc = access_copy(&r.access, &def->access, "resource",
                                def->uri ? def->uri : def->uri_template, err);
    if (rc != MCP_OK)
        return rc;
    r.listing = json_pack("{s:s, s:s}", def->uri ? "uri" : "uriTemplate",
                          def->uri ? def->uri : def->uri_template, "name", def->name);
    r.uri = mcp__strdup(def->uri);
    r.tmpl = mcp__strdup(def->uri_template);
    r.name = mcp__strdup(def->name);
    if (r.listing == NULL || r.name == NULL || (def->uri && !r.uri) ||
        (def->uri_template && !r.tmpl) ||
        !grow((void **)&srv->resources, &srv->capresources, srv->nresources, sizeof r)) {
        mcp__free(r.uri);
        mcp__free(r.tmpl);
        mcp__free(r.name);
        json_decref(r.listing);
        access_cleanup(&r.access);
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    }
    set_opt_str(r.listing, "title", def->title);
    set_opt_str(r.listing, "description", def->description);
    set_opt_str(r.listing, "mimeType", def->mime_type);
    if (r.tmpl != NULL) {
        bool well_formed;         /* a malformed template never matches: specificity 0 */
        r.specificity = mcp__uri_template_specificity(r.tmpl, &well_formed);
    }
    r.fn = def->handler;
    r.udata = udata;
    srv->resources[srv->nresources++] = r;
    mcp__lists_changed(srv);
    return MCP_OK;
}

mcp_status
mcp_server_add_prompt(mcp_server *srv, const mcp_prompt_def *def, void *udata, mcp_error *err)
{
    if (srv == NULL || def == NULL || def->name == NULL || def->handler == NULL ||
        def->description == NULL || def->description[0] == '\0')
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "prompt needs a name, a description and a handler");
    if (atomic_load(&srv->running))
        return mcp_error_set(err, MCP_ERR_STATE, "cannot add prompts while serving");
    mcp__prompt p;
    memset(&p, 0, sizeof p);
    mcp_status rc = access_copy(&p.access, &def->access, "prompt", def->name, err);
    if (rc != MCP_OK)
        return rc;
    p.listing = json_pack("{s:s, s:s}", "name", def->name, "description", def->description);
    p.name = mcp__strdup(def->name);
    json_t *args = json_array();
    for (const mcp_prompt_arg *a = def->args; a != NULL && a->name != NULL; a++) {
        json_t *o = json_pack("{s:s, s:b}", "name", a->name, "required", a->required);
        set_opt_str(o, "description", a->description);
        json_array_append_new(args, o);
    }
    if (p.listing == NULL || p.name == NULL || args == NULL ||
        !grow((void **)&srv->prompts, &srv->capprompts, srv->nprompts, sizeof p)) {
        json_decref(args);
        json_decref(p.listing);
        mcp__free(p.name);
        access_cleanup(&p.access);
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    }
    json_object_set_new(p.listing, "arguments", args);
    set_opt_str(p.listing, "title", def->title);
    p.fn = def->handler;
    p.udata = udata;
    srv->prompts[srv->nprompts++] = p;
    mcp__lists_changed(srv);
    return MCP_OK;
}

void
mcp_server_set_completer(mcp_server *srv, mcp_complete_fn fn, void *udata)
{
    srv->completer = fn;
    srv->completer_udata = udata;
}

void
mcp_server_set_authorizer(mcp_server *srv, mcp_authz_fn fn, void *ctx)
{
    srv->authorizer = fn;
    srv->authorizer_ctx = ctx;
    srv->authorizer_gen = NULL;        /* a new authorizer says for itself what may be cached */
    mcp__lists_changed(srv);
}

void
mcp_server_set_authorizer_generation(mcp_server *srv, mcp_authz_generation_fn fn)
{
    srv->authorizer_gen = fn;
    mcp__lists_changed(srv);
}

void
mcp__lists_changed(mcp_server *srv)
{
    atomic_fetch_add(&srv->list_gen, 1);
}

bool
mcp__authorize_generation(mcp_server *srv, const mcp_principal *p, uint64_t *gen)
{
    *gen = 0;
    if (srv->authorizer == NULL)
        return true;                   /* the registration rules read p's permissions only */
    return srv->authorizer_gen != NULL && srv->authorizer_gen(srv->authorizer_ctx, p, gen);
}

mcp_status
mcp_server_use(mcp_server *srv, mcp_phase phase, mcp_middleware_fn fn, void *ctx, mcp_error *err)
{
    if (srv == NULL || fn == NULL || phase >= MCP_PHASE_HANDLER)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "bad phase or function");
    if (atomic_load(&srv->running))
        return mcp_error_set(err, MCP_ERR_STATE, "cannot add middleware while serving");
    if (srv->nmw[phase] == MCP__MW_MAX)
        return mcp_error_set(err, MCP_ERR_TOO_LARGE, "too many middleware items");
    srv->mw[phase][srv->nmw[phase]].fn = fn;
    srv->mw[phase][srv->nmw[phase]].ctx = ctx;
    srv->nmw[phase]++;
    return MCP_OK;
}

/* ---- authorization ----------------------------------------------------------------------- */

static void
append_missing(mcp_authz_result *res, char *const *perms)
{
    size_t off = strlen(res->missing);
    for (char *const *p = perms; p != NULL && *p != NULL; p++) {
        int n = snprintf(res->missing + off, sizeof res->missing - off, "%s%s",
                         off ? " " : "", *p);
        if (n < 0 || (size_t)n >= sizeof res->missing - off)
            break;
        off += (size_t)n;
    }
}

bool
mcp__authorize(mcp_server *srv, const mcp_principal *p, const char *kind, const char *name,
               const mcp__access *a, mcp_authz_result *res)
{
    res->allowed = false;
    res->not_granted = false;
    res->missing[0] = '\0';
    res->required[0] = '\0';
    if (srv->authorizer != NULL) {
        res->allowed = srv->authorizer(srv->authorizer_ctx, p, kind, name, &a->view, res);
        return res->allowed;
    }
    if (a->any_authenticated) {
        res->allowed = true;
        return true;
    }
    bool ok = true;
    if (a->any_of != NULL && !mcp_principal_has_any(p, (const char *const *)a->any_of)) {
        ok = false;
        append_missing(res, a->any_of);
    }
    if (a->all_of != NULL) {
        for (char **q = a->all_of; *q != NULL; q++) {
            if (!mcp_principal_has(p, *q)) {
                char *one[2] = { *q, NULL };
                append_missing(res, one);
                ok = false;
            }
        }
    }
    res->allowed = ok;
    return ok;
}

void
mcp__registry_free(mcp_server *srv)
{
    for (size_t i = 0; i < srv->ntools; i++) {
        mcp__free(srv->tools[i].name);
        json_decref(srv->tools[i].listing);
        if (srv->handler.schema_free != NULL) {
            srv->handler.schema_free(srv->tools[i].input_check);
            srv->handler.schema_free(srv->tools[i].output_check);
        }
        access_cleanup(&srv->tools[i].access);
    }
    for (size_t i = 0; i < srv->nresources; i++) {
        mcp__free(srv->resources[i].uri);
        mcp__free(srv->resources[i].tmpl);
        mcp__free(srv->resources[i].name);
        json_decref(srv->resources[i].listing);
        access_cleanup(&srv->resources[i].access);
    }
    for (size_t i = 0; i < srv->nprompts; i++) {
        mcp__free(srv->prompts[i].name);
        json_decref(srv->prompts[i].listing);
        access_cleanup(&srv->prompts[i].access);
    }
    mcp__free(srv->tools);
    mcp__free(srv->resources);
    mcp__free(srv->prompts);
}

/*
 * Without an AUTHN item every request has no principal, and a rule other than
 * any_authenticated can never be met: the server starts and denies those tools, which looks
 * like a broken server rather than a missing setting. Said once, at start, with the way out.
 */
void
mcp__registry_warn_unauthenticated(const mcp_server *srv)
{
    if (srv->nmw[MCP_PHASE_AUTHN] > 0)
        return;
    size_t gated = 0;
    for (size_t i = 0; i < srv->ntools; i++)
        gated += !srv->tools[i].access.any_authenticated;
    for (size_t i = 0; i < srv->nresources; i++)
        gated += !srv->resources[i].access.any_authenticated;
    for (size_t i = 0; i < srv->nprompts; i++)
        gated += !srv->prompts[i].access.any_authenticated;
    if (gated == 0)
        return;
    mcp__log(MCP__LOG_WARN, "auth",
             "no authentication: callers have no identity, so the %zu tool(s)/resource(s)/"
             "prompt(s) that require a permission are denied%s; install an AUTHN item "
             "(mcp_server_use) or, in the server programs, use --auth (HTTP) or --as-user "
             "(stdio)", gated,
             srv->authorizer != NULL ? " unless the authorizer grants them to anonymous callers"
                                     : " to every caller");
}
