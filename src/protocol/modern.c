/*
 * Protocol revision 2026-07-28 on the server, beside the 2025 revisions (docs/design/
 * protocol-2026.md): server/discover, result decoration (resultType, _meta serverInfo, cache
 * hints), the per-server requestState keyring, and the input-required round trip (SEP-2322)
 * behind mcp_ctx_input(). The era checks of a request are in methods.c (route).
 */
#include "protocol/internal.h"

#include "protocol/input.h"
#include "protocol/meta.h"
#include "protocol/request_state.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

typedef struct pr_state {
    mcp__rstate_keyring kr;
    int64_t             ttl_s;
} pr_state;

/* ---- per-server state -------------------------------------------------------------------- */

static mcp_status
load_key_file(mcp__rstate_key *slot, const char *path, mcp_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return mcp_error_set(err, MCP_ERR_IO, "request state key file '%.120s': cannot open",
                             path);
    unsigned char buf[MCP__RSTATE_MAX_SECRET + 1];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    mcp_status rc = n > MCP__RSTATE_MAX_SECRET
                    ? mcp_error_set(err, MCP_ERR_INVALID_ARG,
                                    "request state key file: longer than %u bytes",
                                    MCP__RSTATE_MAX_SECRET)
                    : mcp__rstate_key_derive(slot, buf, n, err);
    mcp_memzero(buf, sizeof buf);
    if (rc != MCP_OK && err != NULL && strncmp(err->message, "request state", 13) != 0) {
        char why[MCP_ERROR_MSG_MAX];
        snprintf(why, sizeof why, "%s", err->message);
        mcp_error_set(err, rc, "request state key file '%.80s': %s", path, why);
    }
    return rc;
}

mcp_status
mcp__pr_server_init(mcp_server *srv, mcp_error *err)
{
    pr_state *ps = mcp__calloc(1, sizeof *ps);
    if (ps == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    mcp__rstate_keyring_init(&ps->kr);
    ps->ttl_s = srv->opts.request_state_ttl_s ? srv->opts.request_state_ttl_s
                                              : MCP__RSTATE_DEFAULT_TTL;
    mcp_status rc = srv->opts.request_state_key_file != NULL
                    ? load_key_file(&ps->kr.current, srv->opts.request_state_key_file, err)
                    : mcp__rstate_key_random(&ps->kr.current, err);
    if (rc == MCP_OK && srv->opts.request_state_prev_key_file != NULL)
        rc = srv->opts.request_state_key_file == NULL
             ? mcp_error_set(err, MCP_ERR_INVALID_ARG, "a previous request state key needs a "
                             "current one (request_state_key_file)")
             : load_key_file(&ps->kr.previous, srv->opts.request_state_prev_key_file, err);
    if (rc != MCP_OK) {
        mcp__rstate_keyring_cleanup(&ps->kr);
        mcp__free(ps);
        return rc;
    }
    srv->proto = ps;
    return MCP_OK;
}

void
mcp__pr_server_free(mcp_server *srv)
{
    pr_state *ps = srv->proto;
    if (ps == NULL)
        return;
    mcp__rstate_keyring_cleanup(&ps->kr);
    mcp__free(ps);
    srv->proto = NULL;
}

/* ---- results ----------------------------------------------------------------------------- */

/* Results may differ between callers as soon as anything decides per caller. */
static bool
per_caller(const mcp_server *srv)
{
    return srv->nmw[MCP_PHASE_AUTHN] > 0 || srv->nmw[MCP_PHASE_AUTHZ] > 0 ||
           srv->authorizer != NULL;
}

void
mcp__pr_decorate(mcp_server *srv, json_t *result, int cache)
{
    if (!json_is_object(result))
        return;
    if (json_object_get(result, "resultType") == NULL)
        json_object_set_new(result, "resultType", json_string("complete"));
    json_t *meta = json_object_get(result, "_meta");
    if (!json_is_object(meta)) {
        meta = json_object();
        if (meta == NULL || json_object_set_new(result, "_meta", meta) != 0)
            return;
    }
    json_t *info = json_pack("{s:s, s:s}", "name", srv->name, "version", srv->version);
    if (info != NULL && srv->title != NULL)
        json_object_set_new(info, "title", json_string(srv->title));
    json_object_set_new(meta, MCP__META_SERVER_INFO, info);
    if (cache == MCP__PR_CACHE_NONE)
        return;
    /* ttlMs 0: stale at once (list_changed stays the invalidation signal); a result that can
     * differ between callers is never marked shareable. */
    json_object_set_new(result, "ttlMs", json_integer(0));
    json_object_set_new(result, "cacheScope",
                        json_string(cache == MCP__PR_CACHE_PUBLIC || !per_caller(srv)
                                    ? "public" : "private"));
}

json_t *
mcp__pr_server_caps(mcp_server *srv, bool modern)
{
    /* the same for both eras: a 2025 session gets the notifications on its GET stream, a
     * 2026 client on a subscriptions/listen stream */
    (void)modern;
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

mcp_status
mcp__m_discover(mcp_request *req, mcp_error *err)
{
    (void)err;
    mcp_server *srv = req->srv;
    json_t *r = json_pack("{s:o, s:o}", "supportedVersions", mcp__pv_supported_json(),
                          "capabilities", mcp__pr_server_caps(srv, true));
    if (r != NULL && srv->instructions != NULL)
        json_object_set_new(r, "instructions", json_string(srv->instructions));
    return mcp__pr_reply(req, r, MCP_RPC_INTERNAL_ERROR, "out of memory");
}

static void
listener_drop(mcp__listener *l)
{
    l->sink->release(l->sink);
    json_decref(l->sub_id);
    json_decref(l->uris);
    mcp__free(l->final_msg);
    mcp__free(l);
}

/* subscriptions/listen: acknowledge what is honoured (only kinds this server has; resource
 * URIs that exist and the caller may read, decided by the same policy as resources/read), then
 * keep the response stream open as a listener; it ends with a result at shutdown. */
mcp_status
mcp__m_listen(mcp_request *req, mcp_error *err)
{
    (void)err;
    mcp_server *srv = req->srv;
    json_t *want = json_object_get(req->msg.params, "notifications");
    const char *acc = mcp_request_header(req, "Accept");
    if (!json_is_object(want))
        return mcp__pr_reply(req, NULL, MCP_RPC_INVALID_PARAMS,
                             "params.notifications: must be an object");
    if (!(req->caps & MCP__CAP_HEADERLESS) &&          /* stdio: a stream by nature */
        (acc == NULL || strstr(acc, "text/event-stream") == NULL))
        return mcp__pr_reply(req, NULL, MCP_RPC_INVALID_REQUEST,
                             "subscriptions/listen needs Accept: text/event-stream");
    json_t *got = json_object();
    unsigned kinds = 0;
    if (json_is_true(json_object_get(want, "toolsListChanged")) && srv->ntools > 0) {
        kinds |= MCP__LISTEN_TOOLS;
        json_object_set_new(got, "toolsListChanged", json_true());
    }
    if (json_is_true(json_object_get(want, "promptsListChanged")) && srv->nprompts > 0) {
        kinds |= MCP__LISTEN_PROMPTS;
        json_object_set_new(got, "promptsListChanged", json_true());
    }
    if (json_is_true(json_object_get(want, "resourcesListChanged")) && srv->nresources > 0) {
        kinds |= MCP__LISTEN_RESOURCES;
        json_object_set_new(got, "resourcesListChanged", json_true());
    }
    json_t *uris = NULL, *asked = json_object_get(want, "resourceSubscriptions");
    if (json_is_array(asked)) {
        uris = json_array();
        size_t i;
        json_t *u;
        json_array_foreach(asked, i, u) {
            const char *uri = json_string_value(u);
            const mcp__resource *r = mcp__pr_find_resource(srv, uri, NULL);
            mcp_authz_result res;
            if (r != NULL && json_array_size(uris) < 256 &&
                mcp__authorize(srv, req->principal, "resource", r->tmpl ? r->tmpl : uri,
                               &r->access, &res))
                json_array_append_new(uris, json_string(uri));
        }
        json_object_set(got, "resourceSubscriptions", uris);
    }
    json_t *fin = json_pack("{s:s, s:{s:O}}", "resultType", "complete", "_meta",
                            MCP__META_SUB_ID, req->msg.id);
    mcp__pr_decorate(srv, fin, MCP__PR_CACHE_NONE);
    mcp__listener *l = mcp__calloc(1, sizeof *l);
    size_t flen = 0;
    char *fmsg = fin != NULL ? mcp__rpc_result(req->msg.id, fin, &flen) : NULL;  /* steals */
    json_t *ackp = json_pack("{s:o, s:{s:O}}", "notifications", got, "_meta", MCP__META_SUB_ID,
                             req->msg.id);
    size_t alen = 0;
    char *ack = ackp != NULL ? mcp__rpc_notification("notifications/subscriptions/acknowledged",
                                                     ackp, &alen) : NULL;
    if (l == NULL || fmsg == NULL || ack == NULL) {
        mcp__free(l);
        mcp__free(fmsg);
        mcp__free(ack);
        json_decref(uris);
        return mcp__pr_reply(req, NULL, MCP_RPC_INTERNAL_ERROR, "out of memory");
    }
    l->sink = req->sink;
    l->sink->retain(l->sink);
    l->sub_id = json_incref(req->msg.id);
    l->kinds = kinds;
    l->uris = uris;
    l->final_msg = fmsg;
    l->final_len = flen;
    req->sink->emit(req->sink, ack, alen, false);     /* first frame, before any notification */
    if (mcp__listener_add(srv, l) != MCP_OK) {
        listener_drop(l);
        return mcp__pr_reply(req, NULL, MCP_RPC_RATE_LIMITED, "too many listen streams");
    }
    req->outcome = MCP__DISPATCH_ASYNC;              /* the result comes when the server ends it */
    return MCP_OK;
}

void
mcp__pr_emit_error_data(mcp__sink *sink, const json_t *id, int32_t code, const char *message,
                        json_t *data)
{
    size_t len;
    char *msg = mcp__rpc_error(id, code, message, data, &len);
    if (msg != NULL)
        sink->emit(sink, msg, len, true);
}

json_t *
mcp__pr_missing_caps_data(const mcp_ctx *c)
{
    mcp__meta26 m;
    memset(&m, 0, sizeof m);
    json_t *data = NULL;
    mcp_error e;
    mcp_error_clear(&e);
    if (mcp__meta26_require_caps(&m, c->missing_caps, &data, &e) == MCP_OK)
        return NULL;                   /* nothing was missing */
    return data;
}

/* ---- input-required round trip (SEP-2322) ------------------------------------------------ */

static mcp_status
binding(const mcp_ctx *c, mcp__rstate_binding *b, mcp_error *err)
{
    const mcp_principal *p = c->principal;
    return mcp__rstate_bind(b, c->method, c->target, p ? mcp_principal_issuer(p) : NULL,
                            p ? mcp_principal_subject(p) : NULL,
                            c->kind == CTX_RESOURCE ? NULL : c->args, err);
}

mcp_status
mcp__pr_input_begin(mcp_ctx *c, mcp_error *err)
{
    json_t *params = json_object_get(c->root, "params");
    json_t *resp = json_object_get(params, "inputResponses");
    c->responses = json_is_object(resp) ? resp : NULL;
    c->answers = json_object();
    c->asks = json_object();
    if (c->answers == NULL || c->asks == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    json_t *token = json_object_get(params, "requestState");
    if (token == NULL)
        return MCP_OK;                 /* a retry may come without state (spec: optional) */
    if (!json_is_string(token))
        return mcp_error_set_rpc(err, MCP_ERR_INVALID_ARG, MCP_RPC_INVALID_PARAMS,
                                 "params.requestState: must be a string");
    mcp__rstate_binding b;
    mcp_status rc = binding(c, &b, err);
    if (rc != MCP_OK)
        return rc;
    const pr_state *ps = c->srv->proto;
    json_t *payload = NULL;
    rc = mcp__rstate_open(&ps->kr, &b, json_string_value(token), json_string_length(token),
                          (int64_t)time(NULL), &payload, err);
    if (rc != MCP_OK)
        return rc;
    json_t *a = json_object_get(payload, "a");
    if (json_is_object(a))
        json_object_update(c->answers, a);
    json_t *s = json_object_get(payload, "s");
    if (s != NULL && !json_is_null(s))
        c->state = json_incref(s);
    json_decref(payload);
    return MCP_OK;
}

json_t *
mcp__pr_input_result(mcp_ctx *c, mcp_error *err)
{
    if (json_object_size(c->asks) == 0) {
        mcp_error_set(err, MCP_ERR_INTERNAL, "handler returned MCP_ERR_INPUT_REQUIRED without "
                      "asking for input (mcp_ctx_input)");
        return NULL;
    }
    const pr_state *ps = c->srv->proto;
    mcp__rstate_binding b;
    if (binding(c, &b, err) != MCP_OK)
        return NULL;
    json_t *payload = json_pack("{s:O, s:O}", "a", c->answers, "s",
                                c->state ? c->state : json_null());
    char *token = NULL;
    mcp_status rc = payload == NULL ? mcp_error_set(err, MCP_ERR_NOMEM, NULL)
                    : mcp__rstate_seal(&ps->kr, &b, payload, ps->ttl_s, (int64_t)time(NULL),
                                       &token, err);
    json_decref(payload);
    json_t *r = NULL;
    if (rc == MCP_OK && mcp__input_required_result(c->asks, token, &r, err) != MCP_OK)
        r = NULL;
    mcp__free(token);
    return r;
}

bool
mcp_ctx_client_has(const mcp_ctx *ctx, unsigned caps)
{
    return (ctx->client_caps & caps) == caps;
}

const json_t *
mcp_ctx_state(const mcp_ctx *ctx)
{
    return ctx->state;
}

mcp_status
mcp_ctx_set_state_take(mcp_ctx *ctx, json_t *state, mcp_error *err)
{
    (void)err;
    json_decref(ctx->state);
    ctx->state = state;
    return MCP_OK;
}

mcp_status
mcp_ctx_input(mcp_ctx *ctx, const char *key, const char *method, const json_t *params,
              json_t **answer, mcp_error *err)
{
    *answer = NULL;
    if (method == NULL || !mcp__input_key_ok(key))
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "mcp_ctx_input: a key of 1-128 printable characters and a method");
    unsigned need = mcp__input_needed_caps(method, params);
    if (need == 0)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "mcp_ctx_input: '%.60s' is not an input "
                             "request", method);
    if (!mcp__input_allowed(ctx->method))
        return mcp_error_set(err, MCP_ERR_STATE, "%.40s may not ask the client for input",
                             ctx->method);
    if (!ctx->modern) {
        if (ctx->sess != NULL && (ctx->client_caps & need) != need)
            return mcp_error_set_rpc(err, MCP_ERR_UNSUPPORTED, MCP_RPC_INVALID_REQUEST,
                                     "the client did not declare the capability %.60s needs",
                                     method);
        return mcp_ctx_request(ctx, method, params, 0, answer, err);
    }
    if ((ctx->client_caps & need) != need) {
        ctx->missing_caps |= need & ~ctx->client_caps;
        return mcp_error_set_rpc(err, MCP_ERR_UNSUPPORTED, MCP__RPC_MISSING_CLIENT_CAP,
                                 "Missing required client capability for %.60s", method);
    }
    json_t *have = json_object_get(ctx->answers, key);
    if (have != NULL) {
        *answer = json_deep_copy(have);
        return *answer ? MCP_OK : mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    }
    json_t *resp = json_object_get(ctx->responses, key);
    if (resp != NULL) {
        mcp_status rc = mcp__input_response_check(method, key, resp, err);
        if (rc != MCP_OK)
            return rc;
        if (json_object_set(ctx->answers, key, resp) != 0 ||
            (*answer = json_deep_copy(resp)) == NULL)
            return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
        return MCP_OK;
    }
    json_t *ask = json_pack("{s:s, s:o}", "method", method, "params",
                            params ? json_deep_copy(params) : json_object());
    if (ask == NULL || json_object_set_new(ctx->asks, key, ask) != 0)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    return mcp_error_set(err, MCP_ERR_INPUT_REQUIRED, "input required: %.100s", key);
}
