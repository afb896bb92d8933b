/*
 * The protocol layer: lifecycle, tools, resources, prompts, completion, logging, progress,
 * cancellation and server->client requests. Transport-neutral: messages go to an mcp__sink.
 */
#include "server/server.h"

#include <math.h>
#include <string.h>

#define MAX_URI_VARS 8

typedef enum ctx_kind { CTX_TOOL, CTX_RESOURCE, CTX_PROMPT, CTX_COMPLETE } ctx_kind;

struct mcp_ctx {
    mcp_server          *srv;
    mcp__session        *sess;        /* reference or NULL */
    const mcp_principal *principal;   /* reference or NULL */
    mcp__sink           *sink;        /* retained */
    json_t              *root;        /* the request message (reference) */
    json_t              *id;          /* borrowed from root */
    json_t              *args;        /* borrowed or owned empty object */
    json_t              *progress_token;
    ctx_kind             kind;
    const mcp__tool     *tool;
    const mcp__resource *resource;
    const mcp__prompt   *prompt;
    const char          *target;
    json_t              *result;      /* the result object being built */
    json_t              *list;        /* content / contents / messages / values (borrowed) */
    bool                 custom_result;
    atomic_bool          cancelled;
    struct mcp_ctx      *next_inflight;
    size_t               nvars;
    char                *var_names[MAX_URI_VARS];
    char                *var_values[MAX_URI_VARS];
    char                 version[16];
};

/* ---- small helpers ----------------------------------------------------------------------- */

static void
emit_result(mcp__sink *sink, const json_t *id, json_t *result)
{
    size_t len;
    char *msg = mcp__rpc_result(id, result, &len);
    if (msg == NULL) {
        msg = mcp__rpc_error(id, MCP_RPC_INTERNAL_ERROR, "internal error: out of memory", NULL,
                             &len);
        if (msg == NULL)
            return;
    }
    sink->emit(sink, msg, len, true);
}

static void
emit_error(mcp__sink *sink, const json_t *id, int32_t code, const char *message)
{
    size_t len;
    char *msg = mcp__rpc_error(id, code, message, NULL, &len);
    if (msg != NULL)
        sink->emit(sink, msg, len, true);
}

static const char *
str_param(const json_t *params, const char *k)
{
    return json_string_value(json_object_get(params, k));
}

/* Cursor = base64url("o:<offset>"); opaque to clients, validated strictly here. */
static bool
parse_cursor(const json_t *params, size_t *offset)
{
    *offset = 0;
    json_t *c = json_object_get(params, "cursor");
    if (c == NULL || json_is_null(c))
        return true;
    if (!json_is_string(c))
        return false;
    unsigned char *raw;
    size_t n;
    if (mcp__b64url_decode(json_string_value(c), json_string_length(c), &raw, &n) != MCP_OK)
        return false;
    bool ok = n > 2 && n < 20 && raw[0] == 'o' && raw[1] == ':';
    size_t v = 0;
    for (size_t i = 2; ok && i < n; i++) {
        if (raw[i] < '0' || raw[i] > '9')
            ok = false;
        else
            v = v * 10 + (size_t)(raw[i] - '0');
    }
    mcp__free(raw);
    *offset = v;
    return ok;
}

static void
set_next_cursor(json_t *result, size_t next)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "o:%zu", next);
    char *enc = mcp__b64url_encode((const unsigned char *)buf, (size_t)n);
    if (enc != NULL) {
        json_object_set_new(result, "nextCursor", json_string(enc));
        mcp__free(enc);
    }
}

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

static const mcp__resource *
find_resource(mcp_server *srv, const char *uri, mcp_ctx *ctx)
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

static const mcp__tool *
find_tool(mcp_server *srv, const char *name)
{
    for (size_t i = 0; name != NULL && i < srv->ntools; i++)
        if (strcmp(srv->tools[i].name, name) == 0)
            return &srv->tools[i];
    return NULL;
}

static const mcp__prompt *
find_prompt(mcp_server *srv, const char *name)
{
    for (size_t i = 0; name != NULL && i < srv->nprompts; i++)
        if (strcmp(srv->prompts[i].name, name) == 0)
            return &srv->prompts[i];
    return NULL;
}

/* ---- the handler context ----------------------------------------------------------------- */

static mcp_ctx *
ctx_new(mcp_request *req, mcp__sink *sink, ctx_kind kind)
{
    mcp_ctx *c = mcp__calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->srv = req->srv;
    c->kind = kind;
    c->root = json_incref(req->msg.root);
    c->id = req->msg.id;
    c->principal = mcp_principal_ref(req->principal);
    c->sink = sink;
    sink->retain(sink);
    if (req->session != NULL) {
        c->sess = req->session;
        mcp__session_ref(c->sess);
        pthread_mutex_lock(&c->sess->mu);
        snprintf(c->version, sizeof c->version, "%s", c->sess->version);
        c->next_inflight = c->sess->inflight;
        c->sess->inflight = c;
        pthread_mutex_unlock(&c->sess->mu);
    } else {
        const char *v = mcp_request_header(req, "MCP-Protocol-Version");
        snprintf(c->version, sizeof c->version, "%s", v && mcp__version_supported(v) ? v :
                 "2025-03-26");
    }
    atomic_init(&c->cancelled, false);
    json_t *params = req->msg.params;
    json_t *meta = json_object_get(params, "_meta");
    json_t *tok = json_object_get(meta, "progressToken");
    if (json_is_string(tok) || json_is_integer(tok))
        c->progress_token = tok;
    json_t *args = json_object_get(params, "arguments");
    c->args = json_is_object(args) ? json_incref(args) : json_object();
    c->result = json_object();
    const char *listkey = kind == CTX_TOOL ? "content" : kind == CTX_RESOURCE ? "contents"
                          : kind == CTX_PROMPT ? "messages" : NULL;
    if (listkey != NULL) {
        c->list = json_array();
        json_object_set_new(c->result, listkey, c->list);
    } else {
        c->list = json_array();
        json_object_set_new(c->result, "completion",
                            json_pack("{s:o, s:b}", "values", c->list, "hasMore", 0));
    }
    return c;
}

static void
ctx_free(mcp_ctx *c)
{
    if (c->sess != NULL) {
        pthread_mutex_lock(&c->sess->mu);
        for (mcp_ctx **pp = &c->sess->inflight; *pp != NULL; pp = &(*pp)->next_inflight) {
            if (*pp == c) {
                *pp = c->next_inflight;
                break;
            }
        }
        pthread_mutex_unlock(&c->sess->mu);
        mcp__session_unref(c->sess);
    }
    for (size_t i = 0; i < c->nvars; i++) {
        mcp__free(c->var_names[i]);
        mcp__free(c->var_values[i]);
    }
    mcp_principal_unref(c->principal);
    c->sink->release(c->sink);
    json_decref(c->args);
    json_decref(c->result);
    json_decref(c->root);
    mcp__free(c);
}

const json_t *mcp_ctx_args(const mcp_ctx *ctx) { return ctx->args; }
const mcp_principal *mcp_ctx_principal(const mcp_ctx *ctx) { return ctx->principal; }
const char *mcp_ctx_session_id(const mcp_ctx *ctx) { return ctx->sess ? ctx->sess->id : NULL; }
const char *mcp_ctx_target(const mcp_ctx *ctx) { return ctx->target; }
const char *mcp_ctx_protocol_version(const mcp_ctx *ctx) { return ctx->version; }
bool mcp_ctx_is_cancelled(const mcp_ctx *ctx) { return atomic_load(&ctx->cancelled); }

const char *
mcp_ctx_arg_str(const mcp_ctx *ctx, const char *name)
{
    return json_string_value(json_object_get(ctx->args, name));
}

mcp_status
mcp_ctx_arg_int(const mcp_ctx *ctx, const char *name, int64_t *out, mcp_error *err)
{
    json_t *v = json_object_get(ctx->args, name);
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return MCP_OK;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d == floor(d) && fabs(d) < 9.0e15) {
            *out = (int64_t)d;
            return MCP_OK;
        }
    }
    return mcp_error_set(err, MCP_ERR_INVALID_ARG, "argument '%s' must be an integer", name);
}

const char *
mcp_ctx_uri_var(const mcp_ctx *ctx, const char *name)
{
    for (size_t i = 0; i < ctx->nvars; i++)
        if (ctx->var_names[i] != NULL && strcmp(ctx->var_names[i], name) == 0)
            return ctx->var_values[i];
    return NULL;
}

static mcp_status
add_item(mcp_ctx *ctx, json_t *item, mcp_error *err)
{
    if (item == NULL || json_array_append_new(ctx->list, item) != 0)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    return MCP_OK;
}

mcp_status
mcp_ctx_add_text(mcp_ctx *ctx, const char *text, mcp_error *err)
{
    return add_item(ctx, json_pack("{s:s, s:s}", "type", "text", "text", text ? text : ""), err);
}

mcp_status
mcp_ctx_add_image(mcp_ctx *ctx, const char *b64, const char *mime, mcp_error *err)
{
    return add_item(ctx, json_pack("{s:s, s:s, s:s}", "type", "image", "data", b64, "mimeType",
                                   mime), err);
}

mcp_status
mcp_ctx_add_audio(mcp_ctx *ctx, const char *b64, const char *mime, mcp_error *err)
{
    return add_item(ctx, json_pack("{s:s, s:s, s:s}", "type", "audio", "data", b64, "mimeType",
                                   mime), err);
}

mcp_status
mcp_ctx_add_embedded(mcp_ctx *ctx, const char *uri, const char *mime, const char *data, bool blob,
                     mcp_error *err)
{
    json_t *r = json_pack("{s:s, s:s}", "uri", uri, blob ? "blob" : "text", data);
    if (r != NULL && mime != NULL)
        json_object_set_new(r, "mimeType", json_string(mime));
    return add_item(ctx, json_pack("{s:s, s:o}", "type", "resource", "resource", r), err);
}

mcp_status
mcp_ctx_add_content_take(mcp_ctx *ctx, json_t *item, mcp_error *err)
{
    return add_item(ctx, item, err);
}

mcp_status
mcp_ctx_set_structured_take(mcp_ctx *ctx, json_t *value, mcp_error *err)
{
    if (value == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "structured content is NULL");
    json_object_set_new(ctx->result, "structuredContent", value);
    return MCP_OK;
}

mcp_status
mcp_ctx_set_error_result(mcp_ctx *ctx, const char *text, mcp_error *err)
{
    json_object_set_new(ctx->result, "isError", json_true());
    return mcp_ctx_add_text(ctx, text, err);
}

mcp_status
mcp_ctx_add_resource_text(mcp_ctx *ctx, const char *uri, const char *mime, const char *text,
                          mcp_error *err)
{
    json_t *r = json_pack("{s:s, s:s}", "uri", uri, "text", text ? text : "");
    if (r != NULL && mime != NULL)
        json_object_set_new(r, "mimeType", json_string(mime));
    return add_item(ctx, r, err);
}

mcp_status
mcp_ctx_add_resource_blob(mcp_ctx *ctx, const char *uri, const char *mime, const char *b64,
                          mcp_error *err)
{
    json_t *r = json_pack("{s:s, s:s}", "uri", uri, "blob", b64 ? b64 : "");
    if (r != NULL && mime != NULL)
        json_object_set_new(r, "mimeType", json_string(mime));
    return add_item(ctx, r, err);
}

mcp_status
mcp_ctx_add_prompt_message_take(mcp_ctx *ctx, const char *role, json_t *content, mcp_error *err)
{
    if (content == NULL || role == NULL ||
        (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0)) {
        json_decref(content);
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "role must be user or assistant");
    }
    return add_item(ctx, json_pack("{s:s, s:o}", "role", role, "content", content), err);
}

mcp_status
mcp_ctx_add_completion(mcp_ctx *ctx, const char *value, mcp_error *err)
{
    if (json_array_size(ctx->list) >= 100)       /* the spec caps one response at 100 values */
        return mcp_error_set(err, MCP_ERR_TOO_LARGE, "at most 100 completion values");
    return add_item(ctx, json_string(value), err);
}

mcp_status
mcp_ctx_set_result_take(mcp_ctx *ctx, json_t *result, mcp_error *err)
{
    if (!json_is_object(result)) {
        json_decref(result);
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "result must be an object");
    }
    json_decref(ctx->result);
    ctx->result = result;
    ctx->custom_result = true;
    return MCP_OK;
}

static const char *const level_names[] = { "debug", "info", "notice", "warning", "error",
                                           "critical", "alert", "emergency" };

static int
level_from_name(const char *s)
{
    for (int i = 0; s != NULL && i < 8; i++)
        if (strcmp(level_names[i], s) == 0)
            return i;
    return -1;
}

static void
emit_notification(mcp_ctx *ctx, const char *method, json_t *params)
{
    size_t len;
    char *msg = mcp__rpc_notification(method, params, &len);
    if (msg != NULL)
        ctx->sink->emit(ctx->sink, msg, len, false);
}

mcp_status
mcp_ctx_log(mcp_ctx *ctx, mcp_log_level level, const char *logger, const char *text,
            mcp_error *err)
{
    int min = MCP_LOG_DEBUG;
    if (ctx->sess != NULL) {
        pthread_mutex_lock(&ctx->sess->mu);
        min = ctx->sess->log_level;
        pthread_mutex_unlock(&ctx->sess->mu);
    }
    if ((int)level < min || (unsigned)level > MCP_LOG_EMERGENCY)
        return MCP_OK;
    json_t *p = json_pack("{s:s, s:s}", "level", level_names[level], "data", text ? text : "");
    if (p == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    if (logger != NULL)
        json_object_set_new(p, "logger", json_string(logger));
    emit_notification(ctx, "notifications/message", p);
    return MCP_OK;
}

mcp_status
mcp_ctx_progress(mcp_ctx *ctx, double progress, double total, const char *message, mcp_error *err)
{
    if (ctx->progress_token == NULL)
        return MCP_OK;
    json_t *p = json_pack("{s:O, s:f}", "progressToken", ctx->progress_token, "progress", progress);
    if (p == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    if (total > 0)
        json_object_set_new(p, "total", json_real(total));
    if (message != NULL)
        json_object_set_new(p, "message", json_string(message));
    emit_notification(ctx, "notifications/progress", p);
    return MCP_OK;
}

void
mcp_ctx_close_stream(mcp_ctx *ctx)
{
    if (ctx->sink->close_early != NULL)
        ctx->sink->close_early(ctx->sink);
}

void
mcp__session_wake_pending(mcp__session *s)
{
    pthread_mutex_lock(&s->mu);
    for (mcp__pending *p = s->pending; p != NULL; p = p->next)
        pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&s->mu);
}

mcp_status
mcp_ctx_request(mcp_ctx *ctx, const char *method, const json_t *params, unsigned timeout_ms,
                json_t **result, mcp_error *err)
{
    *result = NULL;
    mcp__session *s = ctx->sess;
    if (s == NULL || !ctx->sink->can_stream(ctx->sink))
        return mcp_error_set(err, MCP_ERR_STATE,
                             "server->client requests need a session (not in stateless mode)");
    if (timeout_ms == 0)
        timeout_ms = ctx->srv->opts.request_timeout_ms;
    mcp__pending pend;
    memset(&pend, 0, sizeof pend);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&pend.cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_lock(&s->mu);
    pend.id = s->next_req_id++;
    pend.next = s->pending;
    s->pending = &pend;
    pthread_mutex_unlock(&s->mu);

    json_t *id = json_integer(pend.id);
    size_t len;
    char *msg = mcp__rpc_request(id, method, params ? json_deep_copy(params) : NULL, &len);
    json_decref(id);
    mcp_status rc = MCP_OK;
    if (msg == NULL)
        rc = mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    else
        ctx->sink->emit(ctx->sink, msg, len, false);

    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    while (rc == MCP_OK && !pend.done) {
        if (atomic_load(&ctx->cancelled)) {
            rc = mcp_error_set(err, MCP_ERR_CANCELLED, "request cancelled");
            break;
        }
        if (s->closed) {
            rc = mcp_error_set(err, MCP_ERR_STATE, "session closed");
            break;
        }
        if (pthread_cond_timedwait(&pend.cond, &s->mu, &ts) != 0 && !pend.done) {
            rc = mcp_error_set(err, MCP_ERR_TIMEOUT, "%s timed out after %u ms", method,
                               timeout_ms);
            break;
        }
    }
    for (mcp__pending **pp = &s->pending; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == &pend) {
            *pp = pend.next;
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    pthread_cond_destroy(&pend.cond);
    if (rc == MCP_OK && pend.error != NULL) {
        const char *m = json_string_value(json_object_get(pend.error, "message"));
        rc = mcp_error_set(err, MCP_ERR_PROTOCOL, "client answered %s with an error: %.120s",
                           method, m ? m : "(no message)");
    } else if (rc == MCP_OK) {
        *result = pend.result;
        pend.result = NULL;
    }
    json_decref(pend.result);
    json_decref(pend.error);
    return rc;
}

/* ---- running handlers -------------------------------------------------------------------- */

static void
finish_handler(mcp_ctx *c, mcp_status rc, mcp_error *err)
{
    if (atomic_load(&c->cancelled)) {
        /* The receiver of a cancellation SHOULD NOT answer; end the stream without a result. */
        c->sink->emit(c->sink, NULL, 0, true);
        return;
    }
    if (rc != MCP_OK) {
        int32_t code = err->rpc_code;
        const char *msg = err->message;
        if (code == 0) {
            if (rc == MCP_ERR_INVALID_ARG || rc == MCP_ERR_NOT_FOUND)
                code = c->kind == CTX_RESOURCE && rc == MCP_ERR_NOT_FOUND
                       ? MCP_RPC_RESOURCE_NOT_FOUND : MCP_RPC_INVALID_PARAMS;
            else
                code = MCP_RPC_INTERNAL_ERROR;
        }
        if (code == MCP_RPC_INTERNAL_ERROR) {
            mcp__log(MCP__LOG_WARN, "handler", "'%s' failed: %s", c->target ? c->target : "?",
                     err->message);
            msg = "internal error";
        }
        emit_error(c->sink, c->id, code, msg[0] ? msg : mcp_status_str(rc));
        return;
    }
    if (c->kind == CTX_TOOL && !c->custom_result) {
        json_t *sc = json_object_get(c->result, "structuredContent");
        if (sc != NULL && json_array_size(c->list) == 0) {
            char *text = mcp__json_dump(sc, NULL);
            if (text != NULL) {
                json_array_append_new(c->list, json_pack("{s:s, s:s}", "type", "text", "text",
                                                         text));
                mcp__free(text);
            }
        }
    }
    emit_result(c->sink, c->id, json_incref(c->result));
}

static void
run_handler(mcp_ctx *c)
{
    mcp_error err;
    mcp_error_clear(&err);
    mcp_status rc;
    switch (c->kind) {
    case CTX_TOOL:
        rc = c->tool->fn(c, c->tool->udata, &err);
        break;
    case CTX_RESOURCE:
        rc = c->resource->fn(c, c->target, c->resource->udata, &err);
        break;
    case CTX_PROMPT:
        rc = c->prompt->fn(c, c->prompt->udata, &err);
        break;
    default:
        rc = mcp_error_set(&err, MCP_ERR_INTERNAL, "bad handler kind");
    }
    finish_handler(c, rc, &err);
}

static void
job_main(void *arg)
{
    mcp_ctx *c = arg;
    run_handler(c);
    atomic_fetch_sub(&c->srv->inflight, 1);
    ctx_free(c);
}

static mcp__dispatch_result
start_handler(mcp_request *req, mcp__sink *sink, ctx_kind kind, const void *entry, bool inline_ok)
{
    mcp_ctx *c = ctx_new(req, sink, kind);
    if (c == NULL || c->result == NULL || c->args == NULL) {
        if (c != NULL)
            ctx_free(c);
        emit_error(sink, req->msg.id, MCP_RPC_INTERNAL_ERROR, "internal error: out of memory");
        return MCP__DISPATCH_DONE;
    }
    c->target = req->target;
    if (kind == CTX_TOOL)
        c->tool = entry;
    else if (kind == CTX_RESOURCE) {
        c->resource = entry;
        find_resource(req->srv, req->target, c);      /* fills template variables */
    } else
        c->prompt = entry;
    if (inline_ok) {
        run_handler(c);
        ctx_free(c);
        return MCP__DISPATCH_DONE;
    }
    atomic_fetch_add(&req->srv->inflight, 1);
    if (mcp__pool_submit(req->srv, job_main, c) != MCP_OK) {
        atomic_fetch_sub(&req->srv->inflight, 1);
        emit_error(sink, req->msg.id, MCP_RPC_INTERNAL_ERROR, "server is shutting down");
        ctx_free(c);
        return MCP__DISPATCH_DONE;
    }
    return MCP__DISPATCH_ASYNC;
}

/* ---- argument validation (the subset of JSON Schema every tool relies on) ---------------- */

static bool
type_ok(const char *type, const json_t *v)
{
    if (strcmp(type, "string") == 0) return json_is_string(v);
    if (strcmp(type, "integer") == 0)
        return json_is_integer(v) || (json_is_real(v) && json_real_value(v) ==
                                      floor(json_real_value(v)));
    if (strcmp(type, "number") == 0) return json_is_number(v);
    if (strcmp(type, "boolean") == 0) return json_is_boolean(v);
    if (strcmp(type, "object") == 0) return json_is_object(v);
    if (strcmp(type, "array") == 0) return json_is_array(v);
    if (strcmp(type, "null") == 0) return json_is_null(v);
    return true;
}

static bool
validate_args(const json_t *schema, const json_t *args, char *why, size_t whylen)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(schema, "required"), i, r) {
        if (json_is_string(r) && json_object_get(args, json_string_value(r)) == NULL) {
            snprintf(why, whylen, "missing required argument '%s'", json_string_value(r));
            return false;
        }
    }
    json_t *props = json_object_get(schema, "properties");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)args, k, v) {
        json_t *ps = json_object_get(props, k);
        if (ps == NULL) {
            if (json_is_false(json_object_get(schema, "additionalProperties"))) {
                snprintf(why, whylen, "unexpected argument '%.64s'", k);
                return false;
            }
            continue;
        }
        json_t *t = json_object_get(ps, "type");
        if (json_is_string(t) && !type_ok(json_string_value(t), v)) {
            snprintf(why, whylen, "argument '%.64s' must be of type %s", k, json_string_value(t));
            return false;
        }
    }
    return true;
}

/* ---- methods ----------------------------------------------------------------------------- */

static json_t *
server_capabilities(mcp_server *srv)
{
    json_t *caps = json_pack("{s:{}, s:{}}", "logging", "completions");
    if (srv->ntools > 0)
        json_object_set_new(caps, "tools", json_pack("{s:b}", "listChanged", 1));
    if (srv->nresources > 0)
        json_object_set_new(caps, "resources", json_pack("{s:b, s:b}", "subscribe", 1,
                                                         "listChanged", 1));
    if (srv->nprompts > 0)
        json_object_set_new(caps, "prompts", json_pack("{s:b}", "listChanged", 1));
    return caps;
}

static json_t *
do_initialize(mcp_request *req, mcp__session *sess, int32_t *code, const char **msg)
{
    mcp_server *srv = req->srv;
    json_t *params = req->msg.params;
    const char *want = str_param(params, "protocolVersion");
    if (want == NULL || !json_is_object(json_object_get(params, "capabilities")) ||
        !json_is_object(json_object_get(params, "clientInfo"))) {
        *code = MCP_RPC_INVALID_PARAMS;
        *msg = "initialize needs protocolVersion, capabilities and clientInfo";
        return NULL;
    }
    /* Version negotiation: echo the client's version when we speak it, else offer our latest. */
    const char *ver = mcp__version_supported(want) ? want : MCP_PROTOCOL_LATEST;
    if (sess != NULL) {
        pthread_mutex_lock(&sess->mu);
        snprintf(sess->version, sizeof sess->version, "%s", ver);
        json_decref(sess->client_caps);
        sess->client_caps = json_incref(json_object_get(params, "capabilities"));
        pthread_mutex_unlock(&sess->mu);
    }
    json_t *info = json_pack("{s:s, s:s}", "name", srv->name, "version", srv->version);
    if (srv->title != NULL)
        json_object_set_new(info, "title", json_string(srv->title));
    json_t *r = json_pack("{s:s, s:o, s:o}", "protocolVersion", ver, "capabilities",
                          server_capabilities(srv), "serverInfo", info);
    if (r != NULL && srv->instructions != NULL)
        json_object_set_new(r, "instructions", json_string(srv->instructions));
    return r;
}

typedef json_t *(*listing_at_fn)(mcp_server *srv, size_t i, const mcp_principal *p, bool *ok);

static json_t *
tool_at(mcp_server *srv, size_t i, const mcp_principal *p, bool *ok)
{
    mcp_authz_result res;
    *ok = mcp__authorize(srv, p, "tool", srv->tools[i].name, &srv->tools[i].access, &res);
    return srv->tools[i].listing;
}

static json_t *
prompt_at(mcp_server *srv, size_t i, const mcp_principal *p, bool *ok)
{
    mcp_authz_result res;
    *ok = mcp__authorize(srv, p, "prompt", srv->prompts[i].name, &srv->prompts[i].access, &res);
    return srv->prompts[i].listing;
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

/*
 * One function serves "may see" for every list: the entries are filtered by the same
 * mcp__authorize() that guards calls, then paginated.
 */
static json_t *
do_list(mcp_request *req, size_t n, listing_at_fn at, const char *key, int32_t *code,
        const char **msg)
{
    size_t offset;
    if (!parse_cursor(req->msg.params, &offset)) {
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
            set_next_cursor(r, offset + page);
            break;
        }
        json_array_append(arr, entry);
    }
    return r;
}

static json_t *
do_set_level(mcp_request *req, int32_t *code, const char **msg)
{
    int lvl = level_from_name(str_param(req->msg.params, "level"));
    if (lvl < 0) {
        *code = MCP_RPC_INVALID_PARAMS;
        *msg = "unknown logging level";
        return NULL;
    }
    if (req->session != NULL) {
        pthread_mutex_lock(&req->session->mu);
        req->session->log_level = lvl;
        pthread_mutex_unlock(&req->session->mu);
    }
    return json_object();
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
    if (find_resource(req->srv, uri, NULL) == NULL) {
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

static mcp__dispatch_result
do_complete(mcp_request *req, mcp__sink *sink)
{
    json_t *params = req->msg.params;
    json_t *ref = json_object_get(params, "ref");
    json_t *arg = json_object_get(params, "argument");
    const char *type = str_param(ref, "type");
    const char *name = str_param(ref, strcmp(type ? type : "", "ref/resource") == 0 ? "uri"
                                                                                    : "name");
    const char *an = str_param(arg, "name"), *av = str_param(arg, "value");
    if (type == NULL || name == NULL || an == NULL || av == NULL ||
        (strcmp(type, "ref/prompt") != 0 && strcmp(type, "ref/resource") != 0)) {
        emit_error(sink, req->msg.id, MCP_RPC_INVALID_PARAMS,
                   "completion/complete needs ref {type, name|uri} and argument {name, value}");
        return MCP__DISPATCH_DONE;
    }
    mcp_authz_result res;
    if (strcmp(type, "ref/prompt") == 0) {
        const mcp__prompt *p = find_prompt(req->srv, name);
        if (p == NULL || !mcp__authorize(req->srv, req->principal, "prompt", name, &p->access,
                                         &res)) {
            emit_error(sink, req->msg.id, MCP_RPC_INVALID_PARAMS, "unknown prompt");
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
            emit_error(sink, req->msg.id, MCP_RPC_INVALID_PARAMS, "unknown resource");
            return MCP__DISPATCH_DONE;
        }
    }
    mcp_ctx *c = ctx_new(req, sink, CTX_COMPLETE);
    if (c == NULL) {
        emit_error(sink, req->msg.id, MCP_RPC_INTERNAL_ERROR, "out of memory");
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
    finish_handler(c, rc, &err);
    ctx_free(c);
    return MCP__DISPATCH_DONE;
}

static void
handle_response(mcp_request *req)
{
    mcp__session *s = req->session;
    if (s == NULL || !json_is_integer(req->msg.id))
        return;
    json_int_t id = json_integer_value(req->msg.id);
    pthread_mutex_lock(&s->mu);
    for (mcp__pending *p = s->pending; p != NULL; p = p->next) {
        if (p->id == id && !p->done) {
            p->result = json_incref(req->msg.result);
            p->error = json_incref(req->msg.error);
            p->done = true;
            pthread_cond_broadcast(&p->cond);
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

static void
handle_notification(mcp_request *req)
{
    mcp__session *s = req->session;
    const char *m = req->msg.method;
    if (s == NULL)
        return;
    if (strcmp(m, "notifications/initialized") == 0) {
        pthread_mutex_lock(&s->mu);
        s->initialized = true;
        pthread_mutex_unlock(&s->mu);
    } else if (strcmp(m, "notifications/cancelled") == 0) {
        json_t *rid = json_object_get(req->msg.params, "requestId");
        pthread_mutex_lock(&s->mu);
        for (mcp_ctx *c = s->inflight; c != NULL; c = c->next_inflight)
            if (rid != NULL && json_equal(c->id, rid))
                atomic_store(&c->cancelled, true);
        for (mcp__pending *p = s->pending; p != NULL; p = p->next)
            pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&s->mu);
    }
}

static void
set_target(mcp_request *req)
{
    const char *m = req->msg.method;
    json_t *params = req->msg.params;
    if (strcmp(m, "tools/call") == 0) {
        req->target = str_param(params, "name");
        req->target_known = find_tool(req->srv, req->target) != NULL;
    } else if (strcmp(m, "prompts/get") == 0) {
        req->target = str_param(params, "name");
        req->target_known = find_prompt(req->srv, req->target) != NULL;
    } else if (strcmp(m, "resources/read") == 0 || strcmp(m, "resources/subscribe") == 0 ||
               strcmp(m, "resources/unsubscribe") == 0) {
        req->target = str_param(params, "uri");
        req->target_known = find_resource(req->srv, req->target, NULL) != NULL;
    }
}

/* Built-in AUTHZ item: the registered access rule (or the installed policy) of the target. */
static mcp_status
authorize_target(mcp_request *req, mcp_error *err)
{
    const char *m = req->msg.method, *kind = NULL, *name = req->target;
    const mcp__access *a = NULL;
    if (req->target == NULL)
        return MCP_OK;
    if (strcmp(m, "tools/call") == 0) {
        const mcp__tool *t = find_tool(req->srv, req->target);
        kind = "tool";
        a = t ? &t->access : NULL;
    } else if (strcmp(m, "prompts/get") == 0) {
        const mcp__prompt *p = find_prompt(req->srv, req->target);
        kind = "prompt";
        a = p ? &p->access : NULL;
    } else if (strcmp(m, "resources/read") == 0 || strcmp(m, "resources/subscribe") == 0) {
        const mcp__resource *r = find_resource(req->srv, req->target, NULL);
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

mcp_status
mcp__dispatch(mcp_request *req, const char *body, size_t len, mcp__sink *sink,
              mcp__dispatch_result *res, mcp__session **created, json_t **rpc_id, mcp_error *err)
{
    mcp_server *srv = req->srv;
    *res = MCP__DISPATCH_DONE;
    if (created != NULL)
        *created = NULL;
    mcp_status rc = mcp__rpc_parse(body, len, &req->msg, rpc_id, err);
    if (rc != MCP_OK)
        return rc;
    if (req->msg.kind == MCP__RPC_RESPONSE) {
        handle_response(req);
        *res = MCP__DISPATCH_ACCEPTED;
        return MCP_OK;
    }
    if (req->msg.kind == MCP__RPC_NOTIFICATION) {
        handle_notification(req);
        *res = MCP__DISPATCH_ACCEPTED;
        return MCP_OK;
    }
    const char *m = req->msg.method;
    bool is_init = strcmp(m, "initialize") == 0;
    bool http = strcmp(req->http_method, "STDIO") != 0;
    if (http && !srv->opts.stateless) {
        if (req->session == NULL && !is_init)
            return mcp_error_set_rpc(err, MCP_ERR_INVALID_ARG, MCP_RPC_INVALID_REQUEST,
                                     "Bad Request: Mcp-Session-Id header is required");
        if (req->session != NULL && is_init)
            return mcp_error_set_rpc(err, MCP_ERR_INVALID_ARG, MCP_RPC_INVALID_REQUEST,
                                     "Bad Request: session already initialized");
    }
    if (!http && req->session != NULL && !is_init && strcmp(m, "ping") != 0) {
        pthread_mutex_lock(&req->session->mu);
        bool ready = req->session->client_caps != NULL;
        pthread_mutex_unlock(&req->session->mu);
        if (!ready) {
            emit_error(sink, req->msg.id, MCP_RPC_NOT_INITIALIZED,
                       "server not initialized: send initialize first");
            return MCP_OK;
        }
    }
    set_target(req);
    rc = mcp__run_authz_phase(req, err);
    if (rc == MCP_OK)
        rc = authorize_target(req, err);
    mcp__decide(req, "authz", rc, rc != MCP_OK ? err->message : "",
                rc == MCP_ERR_FORBIDDEN ? req->missing : "");
    if (rc != MCP_OK)
        return rc;

    json_t *result = NULL;
    int32_t code = 0;
    const char *msg = NULL;
    char why[160];                /* msg may point here: must outlive the emit below */
    json_t *params = req->msg.params;
    if (is_init) {
        mcp__session *s = req->session;
        if (http && !srv->opts.stateless) {
            s = mcp__session_new(srv, req->principal ? mcp_principal_owner_key(req->principal)
                                                     : NULL);
            if (s == NULL)
            {
                mcp_request_set_retry_after(req, 5);
                return mcp_error_set_rpc(err, MCP_ERR_RATE_LIMITED, MCP_RPC_RATE_LIMITED,
                                         "too many sessions; retry later");
            }
        }
        result = do_initialize(req, s, &code, &msg);
        if (s != NULL && s != req->session) {
            if (result != NULL && created != NULL)
                *created = s;
            else {
                mcp__session_remove(srv, s);
                mcp__session_unref(s);
            }
        }
    } else if (strcmp(m, "ping") == 0) {
        result = json_object();
    } else if (strcmp(m, "tools/list") == 0) {
        result = do_list(req, srv->ntools, tool_at, "tools", &code, &msg);
    } else if (strcmp(m, "tools/call") == 0) {
        const mcp__tool *t = find_tool(srv, req->target);
        json_t *args = json_object_get(params, "arguments");
        if (t == NULL) {
            code = MCP_RPC_INVALID_PARAMS;
            msg = req->target ? "unknown tool" : "tools/call needs a tool name";
        } else if (args != NULL && !json_is_object(args)) {
            code = MCP_RPC_INVALID_PARAMS;
            msg = "arguments must be an object";
        } else {
            json_t *empty = args == NULL ? json_object() : NULL;
            bool ok = validate_args(t->input_schema, args ? args : empty, why, sizeof why);
            json_decref(empty);
            if (!ok) {
                code = MCP_RPC_INVALID_PARAMS;
                msg = why;
            } else {
                *res = start_handler(req, sink, CTX_TOOL, t, (t->flags & MCP_TOOL_INLINE) != 0);
                return MCP_OK;
            }
        }
    } else if (strcmp(m, "resources/list") == 0) {
        result = do_list(req, srv->nresources, resource_at, "resources", &code, &msg);
    } else if (strcmp(m, "resources/templates/list") == 0) {
        result = do_list(req, srv->nresources, template_at, "resourceTemplates", &code, &msg);
    } else if (strcmp(m, "resources/read") == 0) {
        const mcp__resource *r = find_resource(srv, req->target, NULL);
        if (r == NULL) {
            code = req->target ? MCP_RPC_RESOURCE_NOT_FOUND : MCP_RPC_INVALID_PARAMS;
            msg = req->target ? "resource not found" : "resources/read needs a uri";
        } else {
            *res = start_handler(req, sink, CTX_RESOURCE, r, false);
            return MCP_OK;
        }
    } else if (strcmp(m, "resources/subscribe") == 0) {
        result = do_subscribe(req, true, &code, &msg);
    } else if (strcmp(m, "resources/unsubscribe") == 0) {
        result = do_subscribe(req, false, &code, &msg);
    } else if (strcmp(m, "prompts/list") == 0) {
        result = do_list(req, srv->nprompts, prompt_at, "prompts", &code, &msg);
    } else if (strcmp(m, "prompts/get") == 0) {
        const mcp__prompt *p = find_prompt(srv, req->target);
        json_t *args = json_object_get(params, "arguments");
        if (p == NULL) {
            code = MCP_RPC_INVALID_PARAMS;
            msg = req->target ? "unknown prompt" : "prompts/get needs a prompt name";
        } else if (args != NULL && !json_is_object(args)) {
            code = MCP_RPC_INVALID_PARAMS;
            msg = "arguments must be an object";
        } else {
            size_t i;
            json_t *a;
            json_array_foreach(json_object_get(p->listing, "arguments"), i, a) {
                const char *an = str_param(a, "name");
                if (json_is_true(json_object_get(a, "required")) &&
                    !json_is_string(json_object_get(args, an))) {
                    code = MCP_RPC_INVALID_PARAMS;
                    msg = "missing required prompt argument";
                    break;
                }
            }
            if (code == 0) {
                *res = start_handler(req, sink, CTX_PROMPT, p, false);
                return MCP_OK;
            }
        }
    } else if (strcmp(m, "completion/complete") == 0) {
        *res = do_complete(req, sink);
        return MCP_OK;
    } else if (strcmp(m, "logging/setLevel") == 0) {
        result = do_set_level(req, &code, &msg);
    } else {
        code = MCP_RPC_METHOD_NOT_FOUND;
        msg = "method not found";
    }
    if (result != NULL)
        emit_result(sink, req->msg.id, result);
    else
        emit_error(sink, req->msg.id, code ? code : MCP_RPC_INTERNAL_ERROR,
                   msg ? msg : "internal error");
    return MCP_OK;
}
