/* The lifecycle: initialize (version negotiation, capabilities), ping, logging/setLevel, and
 * the messages that get no answer (responses to our requests, notifications). */
#include "protocol/internal.h"

#include <string.h>

static json_t *
do_initialize(mcp_request *req, mcp__session *sess, int32_t *code, const char **msg)
{
    mcp_server *srv = req->srv;
    json_t *params = req->msg.params;
    const char *want = mcp__pr_str_param(params, "protocolVersion");
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
                          mcp__pr_server_caps(srv, false), "serverInfo", info);
    if (r != NULL && srv->instructions != NULL)
        json_object_set_new(r, "instructions", json_string(srv->instructions));
    return r;
}

static json_t *
do_set_level(mcp_request *req, int32_t *code, const char **msg)
{
    int lvl = mcp__pr_level_from_name(mcp__pr_str_param(req->msg.params, "level"));
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

void
mcp__pr_handle_response(mcp_request *req)
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

void
mcp__pr_handle_notification(mcp_request *req)
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

mcp_status
mcp__m_initialize(mcp_request *req, mcp_error *err)
{
    mcp_server *srv = req->srv;
    int32_t code = 0;
    const char *msg = NULL;
    mcp__session *s = req->session;
    if ((req->caps & MCP__CAP_HEADER_SESSIONS) && !srv->opts.stateless) {
        s = mcp__session_new(srv, req->principal ? mcp_principal_owner_key(req->principal)
                                                 : NULL);
        if (s == NULL) {
            mcp_request_set_retry_after(req, 5);
            return mcp_error_set_rpc(err, MCP_ERR_RATE_LIMITED, MCP_RPC_RATE_LIMITED,
                                     "too many sessions; retry later");
        }
    }
    json_t *result = do_initialize(req, s, &code, &msg);
    if (s != NULL && s != req->session) {
        if (result != NULL)
            req->created = s;            /* the driver hands it to the transport */
        else {
            mcp__session_remove(srv, s);
            mcp__session_unref(s);
        }
    }
    return mcp__pr_reply(req, result, code, msg);
}

mcp_status
mcp__m_ping(mcp_request *req, mcp_error *err)
{
    (void)err;
    return mcp__pr_reply(req, json_object(), 0, NULL);
}

mcp_status
mcp__m_set_level(mcp_request *req, mcp_error *err)
{
    (void)err;
    int32_t code = 0;
    const char *msg = NULL;
    json_t *r = do_set_level(req, &code, &msg);
    return mcp__pr_reply(req, r, code, msg);
}
