/*
 * The handler context (mcp_ctx): what a tool, resource, prompt or completion handler sees of its
 * request, the result it builds, its messages while it runs (log, progress, server->client
 * requests), and running it inline or on the worker pool.
 */
#include "protocol/internal.h"

#include "protocol/input.h"
#include "protocol/meta.h"

#include <math.h>
#include <string.h>

void
mcp__pr_emit_result(mcp__sink *sink, const json_t *id, json_t *result)
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

void
mcp__pr_emit_error(mcp__sink *sink, const json_t *id, int32_t code, const char *message)
{
    size_t len;
    char *msg = mcp__rpc_error(id, code, message, NULL, &len);
    if (msg != NULL)
        sink->emit(sink, msg, len, true);
}

/* ---- the handler context ----------------------------------------------------------------- */

mcp_ctx *
mcp__pr_ctx_new(mcp_request *req, mcp__sink *sink, ctx_kind kind)
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
    c->modern = req->era == MCP__REQ_MODERN;
    c->cache = c->modern ? mcp__pr_method_cache(req) : MCP__PR_CACHE_NONE;
    c->log_threshold = -1;
    snprintf(c->method, sizeof c->method, "%s", req->msg.method ? req->msg.method : "");
    if (c->modern) {
        /* everything about the client comes from this request's _meta (checked by route) */
        mcp__meta26 m;
        mcp_error e;
        mcp_error_clear(&e);
        if (req->meta_read) {
            c->client_caps = req->meta_caps;
            c->log_threshold = req->meta_log_level;
        } else if (mcp__meta26_parse(req->msg.params, &m, &e) == MCP_OK) {
            c->client_caps = m.caps;
            c->log_threshold = m.log_level;
        }
        snprintf(c->version, sizeof c->version, "%s", MCP__PV_2026);
    } else if (req->session != NULL) {
        c->sess = req->session;
        mcp__session_ref(c->sess);
        pthread_mutex_lock(&c->sess->mu);
        snprintf(c->version, sizeof c->version, "%s", c->sess->version);
        c->client_caps = mcp__meta_caps_bits(c->sess->client_caps);
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

void
mcp__pr_ctx_free(mcp_ctx *c)
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
    json_decref(c->answers);
    json_decref(c->asks);
    json_decref(c->state);
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
mcp_ctx_add_structured_text(mcp_ctx *ctx, mcp_error *err)
{
    if (ctx->kind != CTX_TOOL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "structured content is for tool results");
    if (ctx->mirror != NULL)
        return mcp_error_set(err, MCP_ERR_STATE, "the structured content text is added already");
    json_t *item = json_pack("{s:s, s:s}", "type", "text", "text", "");
    mcp_status rc = add_item(ctx, item, err);
    if (rc == MCP_OK)
        ctx->mirror = item;               /* its text is written when the result is sent */
    return rc;
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
    /* ctx->list points into the old result: rebind it to the new one before the old one goes,
     * so a later mcp_ctx_add_* or mcp_ctx_set_error_result adds to the result that is sent. */
    const char *listkey = ctx->kind == CTX_TOOL ? "content" : ctx->kind == CTX_RESOURCE
                          ? "contents" : ctx->kind == CTX_PROMPT ? "messages" : NULL;
    json_t *holder = listkey != NULL ? result : json_object_get(result, "completion");
    if (listkey == NULL && !json_is_object(holder)) {
        holder = json_pack("{s:[], s:b}", "values", "hasMore", 0);
        if (holder == NULL || json_object_set_new(result, "completion", holder) != 0) {
            json_decref(result);
            return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
        }
    }
    const char *key = listkey != NULL ? listkey : "values";
    json_t *list = json_object_get(holder, key);
    if (!json_is_array(list)) {
        list = json_array();
        if (list == NULL || json_object_set_new(holder, key, list) != 0) {
            json_decref(result);
            return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
        }
    }
    ctx->list = list;
    ctx->mirror = NULL;                   /* it was an item of the old result */
    json_decref(ctx->result);
    ctx->result = result;
    ctx->custom_result = true;
    return MCP_OK;
}

static const char *const level_names[] = { "debug", "info", "notice", "warning", "error",
                                           "critical", "alert", "emergency" };

int
mcp__pr_level_from_name(const char *s)
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
    if (ctx->modern) {
        /* 2026: no notifications/message unless this request asked for them (_meta logLevel) */
        if (ctx->log_threshold < 0)
            return MCP_OK;
        min = ctx->log_threshold;
    } else if (ctx->sess != NULL) {
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

mcp_status
mcp_ctx_request(mcp_ctx *ctx, const char *method, const json_t *params, unsigned timeout_ms,
                json_t **result, mcp_error *err)
{
    *result = NULL;
    if (ctx->modern && mcp__input_needed_caps(method, params) != 0) {
        /* 2026 has no server->client requests: the same call becomes an input request keyed
         * by call order */
        char key[16];
        snprintf(key, sizeof key, "r%u", ++ctx->auto_key);
        return mcp_ctx_input(ctx, key, method, params, result, err);
    }
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
        if (atomic_load(&ctx->srv->waits_aborted)) {
            rc = mcp_error_set(err, MCP_ERR_CANCELLED, "%s abandoned: the server is shutting down",
                               method);
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

/* 2026: the cache kind of c's result (a read answered after input rounds is never shared) */
static int
result_cache(const mcp_ctx *c)
{
    bool retry = json_object_size(c->answers) > 0 || c->state != NULL;
    return retry && c->cache != MCP__PR_CACHE_NONE ? MCP__PR_CACHE_PRIVATE : c->cache;
}

/* The text item that mirrors structuredContent, built the plain way: the structured content
 * dumped into a new string (an added item without structured content is dropped). */
static void
fill_structured_text(mcp_ctx *c, json_t *sc, bool auto_text)
{
    char *text = sc != NULL ? mcp__json_dump(sc, NULL) : NULL;
    if (auto_text) {
        if (text != NULL)
            json_array_append_new(c->list, json_pack("{s:s, s:s}", "type", "text", "text", text));
    } else if (text != NULL) {
        json_object_set_new(c->mirror, "text", json_string(text));
    } else {
        size_t i;
        json_t *item;
        json_array_foreach(c->list, i, item) {
            if (item == c->mirror) {
                json_array_remove(c->list, i);
                break;
            }
        }
    }
    c->mirror = NULL;
    mcp__free(text);
}

/*
 * A tool result whose content carries its structuredContent as text (issue 15): the structured
 * content is serialized once and those bytes are written twice, as the value of
 * "structuredContent" and, escaped, as the text item, after the result's other members:
 * {<other members>,"content":[...],"structuredContent":...[,<2026 decoration>]}. false when this
 * cannot apply (nothing was emitted; the caller takes the plain path).
 */
static bool
emit_with_structured_text(mcp_ctx *c, json_t *sc, bool auto_text)
{
    if (sc == NULL || c->custom_result || !json_is_array(c->list) ||
        json_object_get(c->result, "content") != c->list)
        return false;
    const char *dec = NULL;
    size_t dlen = 0;
    if (c->modern && !mcp__pr_decoration(c->srv, c->result, result_cache(c), &dec, &dlen))
        return false;
    size_t slen = 0;
    char *s = mcp__json_dump(sc, &slen);
    if (s == NULL)
        return false;
    mcp_buf t;
    mcp__buf_init(&t, 0);
    static const char item_head[] = "{\"type\":\"text\",\"text\":\"";
    bool ok = mcp__buf_appends(&t, "\"content\":[") == MCP_OK;
    size_t i, n = json_array_size(c->list);
    for (i = 0; ok && i <= n; i++) {
        json_t *item = i < n ? json_array_get(c->list, i) : NULL;
        bool text = i < n ? item == c->mirror : auto_text;
        if (i == n && !text)
            break;
        ok = (i == 0 || mcp__buf_append(&t, ",", 1) == MCP_OK) &&
             (text ? mcp__buf_appends(&t, item_head) == MCP_OK &&
                     mcp__json_escape_into(&t, s, slen) == MCP_OK &&
                     mcp__buf_append(&t, "\"}", 2) == MCP_OK
                   : mcp__json_dump_into(&t, item));
    }
    ok = ok && mcp__buf_appends(&t, "],\"structuredContent\":") == MCP_OK &&
         mcp__buf_append(&t, s, slen) == MCP_OK &&
         (dec == NULL || (mcp__buf_append(&t, ",", 1) == MCP_OK &&
                          mcp__buf_append(&t, dec, dlen) == MCP_OK));
    mcp__free(s);
    json_t *rest = ok ? json_copy(c->result) : NULL;     /* the other members (shallow) */
    if (rest == NULL) {
        mcp__buf_cleanup(&t);
        return false;
    }
    json_object_del(rest, "content");
    json_object_del(rest, "structuredContent");
    size_t len = 0;
    char *msg = mcp__rpc_result_tail(c->id, rest, t.ptr, t.len, &len);      /* steals rest */
    mcp__buf_cleanup(&t);
    if (msg == NULL)
        return false;
    c->mirror = NULL;
    c->sink->emit(c->sink, msg, len, true);
    return true;
}

void
mcp__pr_finish_handler(mcp_ctx *c, mcp_status rc, mcp_error *err)
{
    if (atomic_load(&c->cancelled)) {
        /* The receiver of a cancellation SHOULD NOT answer; end the stream without a result. */
        c->sink->emit(c->sink, NULL, 0, true);
        return;
    }
    if (rc == MCP_ERR_INPUT_REQUIRED && c->modern) {
        json_t *r = mcp__pr_input_result(c, err);
        if (r != NULL) {
            mcp__pr_emit_decorated(c->srv, c->sink, c->id, r, MCP__PR_CACHE_NONE);
            return;
        }
        rc = err->code != MCP_OK ? err->code : MCP_ERR_INTERNAL;
        err->rpc_code = 0;
    }
    if (rc == MCP_ERR_INPUT_REQUIRED) {            /* legacy: mcp_ctx_input never says so */
        rc = MCP_ERR_INTERNAL;
        err->rpc_code = 0;
    }
    if (rc != MCP_OK && c->modern && err->rpc_code == MCP__RPC_MISSING_CLIENT_CAP) {
        mcp__pr_emit_error_data(c->sink, c->id, err->rpc_code, err->message,
                                mcp__pr_missing_caps_data(c));
        return;
    }
    if (rc != MCP_OK) {
        int32_t code = err->rpc_code;
        const char *msg = err->message;
        if (code == 0) {
            if (rc == MCP_ERR_INVALID_ARG || rc == MCP_ERR_NOT_FOUND)
                code = c->kind == CTX_RESOURCE && rc == MCP_ERR_NOT_FOUND && !c->modern
                       ? MCP_RPC_RESOURCE_NOT_FOUND : MCP_RPC_INVALID_PARAMS;
            else
                code = MCP_RPC_INTERNAL_ERROR;
        }
        if (code == MCP_RPC_INTERNAL_ERROR) {
            mcp__log(MCP__LOG_WARN, "handler", "'%s' failed: %s", c->target ? c->target : "?",
                     err->message);
            msg = "internal error";
        }
        mcp__pr_emit_error(c->sink, c->id, code, msg[0] ? msg : mcp_status_str(rc));
        return;
    }
    if (c->kind == CTX_TOOL) {
        json_t *sc = json_object_get(c->result, "structuredContent");
        bool auto_text = !c->custom_result && sc != NULL && json_array_size(c->list) == 0;
        if ((auto_text || c->mirror != NULL) && emit_with_structured_text(c, sc, auto_text))
            return;
        if (auto_text || c->mirror != NULL)
            fill_structured_text(c, sc, auto_text);
    }
    if (c->modern) {
        mcp__pr_emit_decorated(c->srv, c->sink, c->id, json_incref(c->result), result_cache(c));
        return;
    }
    mcp__pr_emit_result(c->sink, c->id, json_incref(c->result));
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
    mcp__pr_finish_handler(c, rc, &err);
}

static void
job_main(void *arg)
{
    mcp_ctx *c = arg;
    run_handler(c);
    atomic_fetch_sub(&c->srv->inflight, 1);
    mcp__pr_ctx_free(c);
}

mcp__dispatch_result
mcp__pr_start_handler(mcp_request *req, mcp__sink *sink, ctx_kind kind, const void *entry, bool inline_ok)
{
    mcp_ctx *c = mcp__pr_ctx_new(req, sink, kind);
    if (c == NULL || c->result == NULL || c->args == NULL) {
        if (c != NULL)
            mcp__pr_ctx_free(c);
        mcp__pr_emit_error(sink, req->msg.id, MCP_RPC_INTERNAL_ERROR, "internal error: out of memory");
        return MCP__DISPATCH_DONE;
    }
    c->target = req->target;
    if (c->modern && mcp__input_allowed(c->method)) {
        mcp_error e;
        mcp_error_clear(&e);
        if (mcp__pr_input_begin(c, &e) != MCP_OK) {
            mcp__pr_emit_error(sink, req->msg.id, e.rpc_code ? e.rpc_code
                               : MCP_RPC_INTERNAL_ERROR, e.message);
            mcp__pr_ctx_free(c);
            return MCP__DISPATCH_DONE;
        }
    }
    if (kind == CTX_TOOL)
        c->tool = entry;
    else if (kind == CTX_RESOURCE) {
        c->resource = entry;
        mcp__pr_find_resource(req->srv, req->target, c);      /* fills template variables */
    } else
        c->prompt = entry;
    if (inline_ok) {
        run_handler(c);
        mcp__pr_ctx_free(c);
        return MCP__DISPATCH_DONE;
    }
    atomic_fetch_add(&req->srv->inflight, 1);
    if (mcp__pool_submit(req->srv, job_main, c) != MCP_OK) {
        atomic_fetch_sub(&req->srv->inflight, 1);
        mcp__pr_emit_error(sink, req->msg.id, MCP_RPC_INTERNAL_ERROR, "server is shutting down");
        mcp__pr_ctx_free(c);
        return MCP__DISPATCH_DONE;
    }
    return MCP__DISPATCH_ASYNC;
}

mcp_status
mcp__pr_reply(mcp_request *req, json_t *result, int32_t code, const char *msg)
{
    if (result != NULL && req->era == MCP__REQ_MODERN)
        mcp__pr_emit_decorated(req->srv, req->sink, req->msg.id, result,
                               mcp__pr_method_cache(req));
    else if (result != NULL)
        mcp__pr_emit_result(req->sink, req->msg.id, result);
    else
        mcp__pr_emit_error(req->sink, req->msg.id, code ? code : MCP_RPC_INTERNAL_ERROR,
                           msg ? msg : "internal error");
    return MCP_OK;
}
