/* The server object: registry, phase runner, worker pool, session table, lifecycle. */
#include "server/server.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

void (*mcp__session_close_hook)(mcp__session *s);
void (*mcp__session_keepalive_hook)(mcp__session *s);

static const char *const supported_versions[] = { "2025-11-25", "2025-06-18", "2025-03-26", NULL };

bool
mcp__version_supported(const char *v)
{
    for (const char *const *p = supported_versions; *p; p++)
        if (strcmp(*p, v) == 0)
            return true;
    return false;
}

void
mcp_server_opts_default(mcp_server_opts *o)
{
    memset(o, 0, sizeof *o);
    o->name = "libmcp";
    o->version = MCP_VERSION_STRING;
    o->workers = 2 * mcp__ncpus();
    o->request_timeout_ms = 60000;
    o->max_sessions = 10000;
    o->max_sessions_per_owner = 64;
    o->session_idle_s = 1800;
}

mcp_status
mcp_server_new(const mcp_server_opts *opts, mcp_server **out, mcp_error *err)
{
    mcp_server_opts def;
    if (opts == NULL) {
        mcp_server_opts_default(&def);
        opts = &def;
    }
    *out = NULL;
    mcp_server *srv = mcp__calloc(1, sizeof *srv);
    if (srv == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    srv->opts = *opts;
    if (srv->opts.workers == 0)
        srv->opts.workers = 2 * mcp__ncpus();
    if (srv->opts.request_timeout_ms == 0)
        srv->opts.request_timeout_ms = 60000;
    if (srv->opts.max_sessions == 0)
        srv->opts.max_sessions = 10000;
    srv->name = mcp__strdup(opts->name ? opts->name : "libmcp");
    srv->version = mcp__strdup(opts->version ? opts->version : MCP_VERSION_STRING);
    srv->title = mcp__strdup(opts->title);
    srv->instructions = mcp__strdup(opts->instructions);
    srv->page_size = 100;
    srv->stop_pipe[0] = srv->stop_pipe[1] = -1;
    pthread_mutex_init(&srv->sess_mu, NULL);
    pthread_mutex_init(&srv->pool_mu, NULL);
    pthread_cond_init(&srv->pool_cv, NULL);
    pthread_cond_init(&srv->pool_idle_cv, NULL);
    srv->sess_cap = 1024;
    srv->sess_tab = mcp__calloc(srv->sess_cap, sizeof *srv->sess_tab);
    if (srv->name == NULL || srv->version == NULL || srv->sess_tab == NULL ||
        pipe(srv->stop_pipe) != 0) {
        mcp_server_free(srv);
        return mcp_error_set(err, MCP_ERR_NOMEM, "cannot allocate server");
    }
    *out = srv;
    return MCP_OK;
}

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

mcp_status
mcp_server_set_workers(mcp_server *srv, unsigned workers, mcp_error *err)
{
    if (srv == NULL || workers == 0)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no server or no workers");
    if (atomic_load(&srv->running))
        return mcp_error_set(err, MCP_ERR_STATE, "the server is already running");
    srv->opts.workers = workers;
    return MCP_OK;
}

static void pool_stop(mcp_server *srv);

void
mcp_server_free(mcp_server *srv)
{
    if (srv == NULL)
        return;
    atomic_store(&srv->stop_requested, true);
    /* Order matters: stop HTTP (no new work, connections closed), then join the workers (they
     * may still hold streams that point at the HTTP state), then free the HTTP state. */
    if (srv->http != NULL)
        mcp__http_stop(srv->http, 0);
    if (srv->reaper_started) {
        if (srv->stop_pipe[1] >= 0)
            (void)!write(srv->stop_pipe[1], "x", 1);
        pthread_join(srv->reaper, NULL);
    }
    pool_stop(srv);
    /* drop every session */
    for (size_t i = 0; srv->sess_tab != NULL && i < srv->sess_cap; i++) {
        while (srv->sess_tab[i] != NULL) {
            mcp__session *s = srv->sess_tab[i];
            mcp__session_remove(srv, s);
        }
    }
    for (size_t i = 0; i < srv->ntools; i++) {
        mcp__free(srv->tools[i].name);
        json_decref(srv->tools[i].listing);
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
    if (srv->http != NULL) {
        mcp__http_free(srv->http);
        srv->http = NULL;
    }
    mcp__free(srv->tools);
    mcp__free(srv->resources);
    mcp__free(srv->prompts);
    mcp__free(srv->sess_tab);
    mcp__free(srv->name);
    mcp__free(srv->version);
    mcp__free(srv->title);
    mcp__free(srv->instructions);
    if (srv->stop_pipe[0] >= 0)
        close(srv->stop_pipe[0]);
    if (srv->stop_pipe[1] >= 0)
        close(srv->stop_pipe[1]);
    pthread_mutex_destroy(&srv->sess_mu);
    pthread_mutex_destroy(&srv->pool_mu);
    pthread_cond_destroy(&srv->pool_cv);
    pthread_cond_destroy(&srv->pool_idle_cv);
    mcp__free(srv);
}

/* ---- registry ---------------------------------------------------------------------------- */

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
    set_opt_str(t.listing, "title", def->title);
    if (def->output_schema != NULL) {
        json_t *o = parse_schema(def->output_schema, NULL, err, "output_schema");
        if (o == NULL)
            goto fail;
        json_object_set_new(t.listing, "outputSchema", o);
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
    return MCP_OK;
nomem:
    mcp_error_set(err, MCP_ERR_NOMEM, NULL);
fail:
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

/* ---- requests ---------------------------------------------------------------------------- */

void
mcp__request_init(mcp_request *req, mcp_server *srv)
{
    memset(req, 0, sizeof *req);
    req->srv = srv;
    req->peer = "";
}

void
mcp__request_cleanup(mcp_request *req)
{
    mcp_principal_unref(req->principal);
    mcp__rpc_msg_cleanup(&req->msg);
    mcp__free(req->challenge_error);
    mcp__free(req->challenge_scope);
    req->principal = NULL;
    req->challenge_error = req->challenge_scope = NULL;
}

const char *
mcp_request_header(const mcp_request *req, const char *name)
{
    return req->header != NULL ? req->header(req->tctx, name) : NULL;
}

const char *mcp_request_http_method(const mcp_request *req) { return req->http_method; }
const char *mcp_request_rpc_method(const mcp_request *req) { return req->msg.method; }
const char *mcp_request_target(const mcp_request *req) { return req->target; }
bool mcp_request_target_known(const mcp_request *req) { return req->target_known; }
const char *mcp_request_session_id(const mcp_request *req) { return req->session_id; }
const char *mcp_request_peer(const mcp_request *req) { return req->peer; }
const mcp_principal *mcp_request_principal(const mcp_request *req) { return req->principal; }

void
mcp_request_set_principal(mcp_request *req, const mcp_principal *p)
{
    const mcp_principal *old = req->principal;
    req->principal = mcp_principal_ref(p);
    mcp_principal_unref(old);
}

mcp_status
mcp_request_set_challenge(mcp_request *req, const char *error, const char *scope)
{
    if (error != NULL) {
        mcp__free(req->challenge_error);
        if ((req->challenge_error = mcp__strdup(error)) == NULL)
            return MCP_ERR_NOMEM;
    }
    if (scope != NULL) {
        mcp__free(req->challenge_scope);
        if ((req->challenge_scope = mcp__strdup(scope)) == NULL)
            return MCP_ERR_NOMEM;
    }
    return MCP_OK;
}

void
mcp_request_set_retry_after(mcp_request *req, unsigned seconds)
{
    req->retry_after = seconds;
}

static mcp_status
run_phase(mcp_request *req, mcp_phase ph, mcp_error *err)
{
    mcp_server *srv = req->srv;
    for (size_t i = 0; i < srv->nmw[ph]; i++) {
        mcp_status rc = srv->mw[ph][i].fn(req, srv->mw[ph][i].ctx, err);
        if (rc != MCP_OK) {
            if (err != NULL && err->code == MCP_OK)
                mcp_error_set(err, rc, NULL);
            return rc;                   /* fail closed: nothing after a failed item runs */
        }
        if (req->finished)
            return MCP_OK;
    }
    return MCP_OK;
}

mcp_status
mcp__run_authn_phase(mcp_request *req, mcp_error *err)
{
    if (req->srv->nmw[MCP_PHASE_AUTHN] == 0)
        return MCP_OK;
    mcp_status rc = run_phase(req, MCP_PHASE_AUTHN, err);
    if (rc == MCP_ERR_WOULD_BLOCK && req->can_block)      /* an item that always says so */
        rc = mcp_error_set(err, MCP_ERR_INTERNAL, "authentication item cannot complete");
    if (rc != MCP_ERR_WOULD_BLOCK)
        mcp__decide(req, "authn", rc, rc != MCP_OK && err != NULL ? err->message : "", "");
    return rc;
}

mcp_status
mcp__run_pre_phases(mcp_request *req, mcp_error *err)
{
    mcp_status rc = run_phase(req, MCP_PHASE_TRANSPORT, err);
    if (rc == MCP_OK && !req->finished)
        rc = mcp__run_authn_phase(req, err);
    return rc;
}

bool
mcp_request_can_block(const mcp_request *req)
{
    return req->can_block;
}

void
mcp_server_set_decision_hook(mcp_server *srv, mcp_decision_fn fn, void *ctx)
{
    srv->decision_fn = fn;
    srv->decision_ctx = ctx;
}

void
mcp__decide(mcp_request *req, const char *phase, mcp_status rc, const char *reason,
            const char *missing)
{
    if (req->srv->decision_fn == NULL)
        return;
    mcp_decision d = { phase, rc == MCP_OK, rc, reason ? reason : "", missing ? missing : "",
                       req->msg.method, req->target };
    req->srv->decision_fn(req->srv->decision_ctx, req, &d);
}

void
mcp_request_rpc_id_text(const mcp_request *req, char *buf, size_t cap)
{
    if (cap == 0)
        return;
    buf[0] = '\0';
    if (json_is_integer(req->msg.id))
        snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(req->msg.id));
    else if (json_is_string(req->msg.id))
        snprintf(buf, cap, "\"%s\"", json_string_value(req->msg.id));
}

mcp_status
mcp__run_authz_phase(mcp_request *req, mcp_error *err)
{
    return run_phase(req, MCP_PHASE_AUTHZ, err);
}

int
mcp__status_http(mcp_status rc)
{
    switch (rc) {
    case MCP_ERR_UNAUTHENTICATED: return 401;
    case MCP_ERR_FORBIDDEN: return 403;
    case MCP_ERR_NOT_FOUND: return 404;
    case MCP_ERR_TOO_LARGE: return 413;
    case MCP_ERR_RATE_LIMITED: return 429;
    case MCP_ERR_STORE:
    case MCP_ERR_WOULD_BLOCK: return 503;
    case MCP_ERR_NOMEM:
    case MCP_ERR_INTERNAL: return 500;
    default: return 400;
    }
}

/* ---- worker pool ------------------------------------------------------------------------- */

struct mcp__job {
    struct mcp__job *next;
    mcp__job_fn      fn;
    void            *arg;
};

static void *
worker_main(void *arg)
{
    mcp_server *srv = arg;
    pthread_mutex_lock(&srv->pool_mu);
    for (;;) {
        while (srv->jobs_head == NULL && !srv->pool_stop)
            pthread_cond_wait(&srv->pool_cv, &srv->pool_mu);
        if (srv->jobs_head == NULL && srv->pool_stop)
            break;
        struct mcp__job *j = srv->jobs_head;
        srv->jobs_head = j->next;
        if (srv->jobs_head == NULL)
            srv->jobs_tail = NULL;
        srv->busy++;
        pthread_mutex_unlock(&srv->pool_mu);
        j->fn(j->arg);
        mcp__free(j);
        pthread_mutex_lock(&srv->pool_mu);
        srv->busy--;
        if (srv->busy == 0 && srv->jobs_head == NULL)
            pthread_cond_broadcast(&srv->pool_idle_cv);
    }
    pthread_mutex_unlock(&srv->pool_mu);
    return NULL;
}

mcp_status
mcp__pool_submit(mcp_server *srv, mcp__job_fn fn, void *arg)
{
    struct mcp__job *j = mcp__alloc(sizeof *j);
    if (j == NULL)
        return MCP_ERR_NOMEM;
    j->next = NULL;
    j->fn = fn;
    j->arg = arg;
    pthread_mutex_lock(&srv->pool_mu);
    if (srv->pool_stop) {
        pthread_mutex_unlock(&srv->pool_mu);
        mcp__free(j);
        return MCP_ERR_STATE;
    }
    if (srv->jobs_tail != NULL)
        srv->jobs_tail->next = j;
    else
        srv->jobs_head = j;
    srv->jobs_tail = j;
    pthread_cond_signal(&srv->pool_cv);
    pthread_mutex_unlock(&srv->pool_mu);
    return MCP_OK;
}

static void
pool_stop(mcp_server *srv)
{
    pthread_mutex_lock(&srv->pool_mu);
    srv->pool_stop = true;
    pthread_cond_broadcast(&srv->pool_cv);
    pthread_mutex_unlock(&srv->pool_mu);
    for (unsigned i = 0; i < srv->nthreads; i++)
        pthread_join(srv->threads[i], NULL);
    mcp__free(srv->threads);
    srv->threads = NULL;
    srv->nthreads = 0;
}

bool
mcp__pool_wait_idle(mcp_server *srv, unsigned ms)
{
    uint64_t deadline = mcp_now_ms() + ms;
    pthread_mutex_lock(&srv->pool_mu);
    while ((srv->busy > 0 || srv->jobs_head != NULL) && mcp_now_ms() < deadline) {
        pthread_mutex_unlock(&srv->pool_mu);
        usleep(10000);
        pthread_mutex_lock(&srv->pool_mu);
    }
    bool idle = srv->busy == 0 && srv->jobs_head == NULL;
    pthread_mutex_unlock(&srv->pool_mu);
    return idle;
}

/* ---- sessions ---------------------------------------------------------------------------- */

static size_t
sess_hash(const char *id, size_t cap)
{
    uint64_t h = 1469598103934665603ull;
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 1099511628211ull;
    return (size_t)(h % cap);
}

mcp__session *
mcp__session_new(mcp_server *srv, const char *owner)
{
    unsigned char rnd[16];
    if (mcp_random_bytes(rnd, sizeof rnd, NULL) != MCP_OK)
        return NULL;
    mcp__session *s = mcp__calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    char *id = mcp__b64url_encode(rnd, sizeof rnd);
    if (id == NULL) {
        mcp__free(s);
        return NULL;
    }
    snprintf(s->id, sizeof s->id, "%s", id);
    mcp__free(id);
    if (owner != NULL && (s->owner = mcp__strdup(owner)) == NULL) {
        mcp__free(s);
        return NULL;
    }
    atomic_init(&s->refs, 1);               /* the table's reference */
    pthread_mutex_init(&s->mu, NULL);
    s->log_level = MCP_LOG_DEBUG;
    s->next_req_id = 1;
    s->last_active_ms = mcp_now_ms();
    snprintf(s->version, sizeof s->version, "%s", MCP_PROTOCOL_LATEST);
    pthread_mutex_lock(&srv->sess_mu);
    /* One principal may hold at most max_sessions_per_owner sessions: past it, its own least
     * recently active idle session makes room, so one caller cannot fill the table for all. */
    mcp__session *evict = NULL;
    if (owner != NULL && srv->opts.max_sessions_per_owner > 0) {
        size_t mine = 0;
        uint64_t best_active = 0, best_seq = 0;
        for (size_t i = 0; i < srv->sess_cap; i++)
            for (mcp__session *o = srv->sess_tab[i]; o != NULL; o = o->hnext) {
                if (o->owner == NULL || strcmp(o->owner, owner) != 0)
                    continue;
                mine++;
                pthread_mutex_lock(&o->mu);
                if (o->inflight == NULL &&
                    (evict == NULL || o->last_active_ms < best_active ||
                     (o->last_active_ms == best_active && o->seq < best_seq))) {
                    evict = o;
                    best_active = o->last_active_ms;
                    best_seq = o->seq;
                }
                pthread_mutex_unlock(&o->mu);
            }
        if (mine < srv->opts.max_sessions_per_owner)
            evict = NULL;
        else if (evict != NULL)
            atomic_fetch_add(&evict->refs, 1);
        else {
            pthread_mutex_unlock(&srv->sess_mu);       /* all busy: refuse */
            goto refuse;
        }
    }
    if (evict == NULL && srv->nsessions >= srv->opts.max_sessions) {
        pthread_mutex_unlock(&srv->sess_mu);
        goto refuse;
    }
    s->seq = ++srv->sess_seq;
    size_t b = sess_hash(s->id, srv->sess_cap);
    s->hnext = srv->sess_tab[b];
    srv->sess_tab[b] = s;
    srv->nsessions++;
    atomic_fetch_add(&s->refs, 1);          /* the caller's reference */
    pthread_mutex_unlock(&srv->sess_mu);
    if (evict != NULL) {
        mcp__log(MCP__LOG_INFO, "session", "principal reached its session limit: closing its "
                 "least recently active session");
        mcp__session_remove(srv, evict);
        mcp__session_unref(evict);
    }
    return s;
refuse:
    mcp__free(s->owner);
    pthread_mutex_destroy(&s->mu);
    mcp__free(s);
    return NULL;
}

mcp__session *
mcp__session_find(mcp_server *srv, const char *id)
{
    if (id == NULL || strlen(id) >= sizeof ((mcp__session *)0)->id)
        return NULL;
    pthread_mutex_lock(&srv->sess_mu);
    mcp__session *s = srv->sess_tab[sess_hash(id, srv->sess_cap)];
    while (s != NULL && strcmp(s->id, id) != 0)
        s = s->hnext;
    if (s != NULL)
        atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&srv->sess_mu);
    return s;
}

void
mcp__session_ref(mcp__session *s)
{
    atomic_fetch_add(&s->refs, 1);
}

void
mcp__session_unref(mcp__session *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    for (size_t i = 0; i < s->nsubs; i++)
        mcp__free(s->subs[i]);
    mcp__free(s->subs);
    mcp__free(s->owner);
    json_decref(s->client_caps);
    pthread_mutex_destroy(&s->mu);
    mcp__free(s);
}

void
mcp__session_touch(mcp__session *s)
{
    pthread_mutex_lock(&s->mu);
    s->last_active_ms = mcp_now_ms();
    pthread_mutex_unlock(&s->mu);
}

void
mcp__session_remove(mcp_server *srv, mcp__session *s)
{
    bool found = false;
    pthread_mutex_lock(&srv->sess_mu);
    mcp__session **pp = &srv->sess_tab[sess_hash(s->id, srv->sess_cap)];
    for (; *pp != NULL; pp = &(*pp)->hnext) {
        if (*pp == s) {
            *pp = s->hnext;
            srv->nsessions--;
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&srv->sess_mu);
    if (!found)
        return;
    pthread_mutex_lock(&s->mu);
    s->closed = true;
    mcp__sink *sa = s->standalone;
    s->standalone = NULL;
    pthread_mutex_unlock(&s->mu);
    mcp__session_wake_pending(s);
    if (mcp__session_close_hook != NULL)
        mcp__session_close_hook(s);
    if (sa != NULL)
        sa->release(sa);
    mcp__session_unref(s);                 /* the table's reference */
}

void
mcp__session_notify(mcp__session *s, const char *method, json_t *params)
{
    pthread_mutex_lock(&s->mu);
    mcp__sink *sink = s->standalone;
    if (sink != NULL)
        sink->retain(sink);
    pthread_mutex_unlock(&s->mu);
    if (sink == NULL) {
        json_decref(params);
        return;
    }
    size_t len;
    char *msg = mcp__rpc_notification(method, params, &len);
    if (msg != NULL)
        sink->emit(sink, msg, len, false);
    sink->release(sink);
}

static void
for_each_session(mcp_server *srv, void (*fn)(mcp__session *, void *), void *arg)
{
    /* Collect references under the table lock, call fn outside it. */
    pthread_mutex_lock(&srv->sess_mu);
    size_t n = srv->nsessions, k = 0;
    mcp__session **list = mcp__calloc(n ? n : 1, sizeof *list);
    for (size_t i = 0; list != NULL && i < srv->sess_cap; i++)
        for (mcp__session *s = srv->sess_tab[i]; s != NULL && k < n; s = s->hnext) {
            atomic_fetch_add(&s->refs, 1);
            list[k++] = s;
        }
    pthread_mutex_unlock(&srv->sess_mu);
    for (size_t i = 0; i < k; i++) {
        fn(list[i], arg);
        mcp__session_unref(list[i]);
    }
    mcp__free(list);
}

static void
notify_updated(mcp__session *s, void *arg)
{
    const char *uri = arg;
    bool sub = false;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nsubs && !sub; i++)
        sub = strcmp(s->subs[i], uri) == 0;
    pthread_mutex_unlock(&s->mu);
    if (sub)
        mcp__session_notify(s, "notifications/resources/updated", json_pack("{s:s}", "uri", uri));
}

void
mcp_server_notify_resource_updated(mcp_server *srv, const char *uri)
{
    for_each_session(srv, notify_updated, (void *)uri);
}

static void
notify_list_changed(mcp__session *s, void *arg)
{
    mcp__session_notify(s, arg, NULL);
}

void
mcp_server_notify_list_changed(mcp_server *srv, const char *kind)
{
    char method[64];
    if (strcmp(kind, "tools") != 0 && strcmp(kind, "resources") != 0 &&
        strcmp(kind, "prompts") != 0)
        return;
    snprintf(method, sizeof method, "notifications/%s/list_changed", kind);
    for_each_session(srv, notify_list_changed, method);
}

typedef struct reap_arg {
    mcp_server *srv;
    uint64_t    now;
} reap_arg;

static void
maybe_reap(mcp__session *s, void *arg)
{
    reap_arg *ra = arg;
    pthread_mutex_lock(&s->mu);
    bool idle = ra->srv->opts.session_idle_s > 0 && s->inflight == NULL &&
                ra->now - s->last_active_ms > (uint64_t)ra->srv->opts.session_idle_s * 1000u;
    pthread_mutex_unlock(&s->mu);
    if (idle) {
        mcp__log(MCP__LOG_INFO, "session", "reaping idle session");
        mcp__session_remove(ra->srv, s);
    }
}

static void
keepalive(mcp__session *s, void *arg)
{
    (void)arg;
    if (mcp__session_keepalive_hook != NULL)
        mcp__session_keepalive_hook(s);
}

static void *
reaper_main(void *arg)
{
    mcp_server *srv = arg;
    struct pollfd pfd = { .fd = srv->stop_pipe[0], .events = POLLIN };
    uint64_t last_ka = mcp_now_ms();
    while (!atomic_load(&srv->stop_requested)) {
        if (poll(&pfd, 1, 1000) > 0)
            break;
        reap_arg ra = { srv, mcp_now_ms() };
        for_each_session(srv, maybe_reap, &ra);
        if (ra.now - last_ka >= MCP__KEEPALIVE_S * 1000u) {
            last_ka = ra.now;
            for_each_session(srv, keepalive, NULL);
        }
    }
    return NULL;
}

mcp_status
mcp__server_start(mcp_server *srv, mcp_error *err)
{
    if (srv->threads != NULL)
        return MCP_OK;
    srv->threads = mcp__calloc(srv->opts.workers, sizeof *srv->threads);
    if (srv->threads == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    for (unsigned i = 0; i < srv->opts.workers; i++) {
        if (pthread_create(&srv->threads[i], NULL, worker_main, srv) != 0)
            return mcp_error_set(err, MCP_ERR_INTERNAL, "cannot start worker thread");
        srv->nthreads++;
    }
    if (!srv->opts.stateless) {
        if (pthread_create(&srv->reaper, NULL, reaper_main, srv) != 0)
            return mcp_error_set(err, MCP_ERR_INTERNAL, "cannot start reaper thread");
        srv->reaper_started = true;
    }
    atomic_store(&srv->running, true);
    return MCP_OK;
}

/* ---- lifecycle --------------------------------------------------------------------------- */

static mcp_server *volatile signal_target;

static void
on_signal(int sig)
{
    (void)sig;
    if (signal_target != NULL)
        mcp_server_stop(signal_target);
}

void
mcp_server_stop(mcp_server *srv)
{
    atomic_store(&srv->stop_requested, true);
    if (srv->stop_pipe[1] >= 0)
        (void)!write(srv->stop_pipe[1], "x", 1);
}

mcp_status
mcp_server_run_until_signal(mcp_server *srv, unsigned grace_ms, mcp_error *err)
{
    (void)err;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    signal_target = srv;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct pollfd pfd = { .fd = srv->stop_pipe[0], .events = POLLIN };
    while (!atomic_load(&srv->stop_requested)) {
        int r = poll(&pfd, 1, 1000);
        if (r < 0 && errno != EINTR)
            break;
    }
    mcp__log(MCP__LOG_INFO, "server", "shutting down (grace %u ms)", grace_ms);
    if (srv->http != NULL)
        mcp__http_stop(srv->http, grace_ms);
    mcp__pool_wait_idle(srv, grace_ms);
    signal_target = NULL;
    fflush(stderr);
    return MCP_OK;
}
