/*
 * The client session's exchanges: JSON-RPC ids and the table of outbound exchanges, dispatch of
 * incoming messages to callbacks, and re-authorization on 401/403 (client.c creates the session,
 * connects and runs the initialize handshake through the functions here).
 *
 * Every message we send is an "outbound" record. A request is finished by its response; a
 * notification or a response we send is finished when the transport reports it delivered.
 * When the transport reports 401/403 the record waits in NEED_AUTH; the pump runs the OAuth
 * flow (blocking, on the caller's thread) and sends the same body again with the new token.
 * Each record may be re-authorized at most max_authorizations times, which bounds step-up
 * loops against a server that never accepts our scopes.
 */
#include "client/internal.h"

#include "jsonrpc/jsonrpc.h"

#include <string.h>

typedef enum { OB_REQUEST, OB_NOTIFY, OB_RESPONSE } ob_kind;
typedef enum { OB_SENT, OB_NEED_AUTH, OB_DONE } ob_state;

typedef struct mcp__outbound {
    uint64_t         oid;
    int64_t          rpc_id;       /* requests only, else -1 */
    ob_kind          kind;
    char            *method;
    char            *body;
    ob_state         state;
    mcp_status       rc;
    mcp_error        err;
    json_t          *result;
    long             auth_status;
    char            *www_auth;
    char           **hdrs;         /* 2026-07-28 header lines of this message, or NULL */
    char            *dpop_nonce;   /* DPoP-Nonce of the last 401/403, or NULL */
    json_t          *err_data;     /* "data" of a JSON-RPC error answer, or NULL */
    unsigned         auth_attempts;
    uint64_t         deadline_ms;
    bool             abandoned;    /* nobody waits: free once done */
    struct mcp__outbound *next;
} outbound;

static void
ob_free(outbound *ob)
{
    if (ob == NULL)
        return;
    mcp__free(ob->method);
    if (ob->body != NULL) {
        mcp_memzero(ob->body, strlen(ob->body));
        mcp__free(ob->body);
    }
    json_decref(ob->result);
    json_decref(ob->err_data);
    mcp__free(ob->www_auth);
    mcp__header_list_free(ob->hdrs);
    mcp__free(ob->dpop_nonce);
    mcp__free(ob);
}

static void
ob_unlink(mcp_client *c, outbound *ob)
{
    for (outbound **pp = &c->obs; *pp != NULL; pp = &(*pp)->next)
        if (*pp == ob) {
            *pp = ob->next;
            return;
        }
}

static mcp_status pump_once(mcp_client *c, unsigned timeout_ms, mcp_error *err);

/* Give messages nobody waits for (a cancellation after a timeout, an answer to the server)
 * a bounded chance to leave before the transport is torn down. */
void
mcp__client_flush_detached(mcp_client *c, unsigned max_ms)
{
    uint64_t end = mcp_now_ms() + max_ms;
    for (;;) {
        bool pending = false;
        for (outbound *ob = c->obs; ob != NULL; ob = ob->next)
            pending |= ob->abandoned && ob->state == OB_SENT;
        uint64_t now = mcp_now_ms();
        if (!pending || c->dead || now >= end)
            return;
        mcp_error e;
        (void)pump_once(c, (unsigned)(end - now > 50 ? 50 : end - now), &e);
    }
}

void
mcp__client_free_outbounds(mcp_client *c)
{
    while (c->obs != NULL) {
        outbound *ob = c->obs;
        c->obs = ob->next;
        ob_free(ob);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* sending                                                                                    */

static char *
auth_line(mcp_client *c)
{
    if (!c->is_http)
        return NULL;
    if (c->oauth != NULL) {
        char *v = mcp__oauth_auth_value(c->oauth, c->url);
        if (v != NULL) {
            char *line = mcp__aprintf("Authorization: %s", v);
            mcp_memzero(v, strlen(v));
            mcp__free(v);
            return line;
        }
    }
    if (c->bearer == NULL)
        return NULL;
    if (c->auth_header == NULL || mcp__strcasecmp(c->auth_header, "authorization") == 0)
        return mcp__aprintf("Authorization: Bearer %s", c->bearer);
    return mcp__aprintf("%s: %s", c->auth_header, c->bearer);
}

/* The message's own header lines plus, with a DPoP-bound token, a fresh proof (RFC 9449
 * section 7: one per request). *extra is what to free afterwards. */
static const char *const *
message_headers(mcp_client *c, outbound *ob, char ***extra)
{
    *extra = NULL;
    char *dpop = c->is_http && c->oauth != NULL ? mcp__oauth_dpop_line(c->oauth, c->url) : NULL;
    if (dpop == NULL)
        return (const char *const *)ob->hdrs;
    size_t n = 0;
    while (ob->hdrs != NULL && ob->hdrs[n] != NULL)
        n++;
    char **all = mcp__calloc(n + 2, sizeof *all);
    if (all == NULL) {
        mcp__free(dpop);
        return (const char *const *)ob->hdrs;    /* the server will ask again */
    }
    for (size_t i = 0; i < n; i++)
        all[i] = ob->hdrs[i];
    all[n] = dpop;
    *extra = all;
    return (const char *const *)all;
}

static mcp_status
ob_send(mcp_client *c, outbound *ob, mcp_error *err)
{
    ob->oid = ++c->next_oid;
    ob->state = OB_SENT;
    char *line = auth_line(c);
    char **extra = NULL;
    const char *const *hdrs = message_headers(c, ob, &extra);
    mcp_status rc = c->tr->ops->send(c->tr, ob->oid, ob->rpc_id, ob->body, line, hdrs, err);
    if (line != NULL) {
        mcp_memzero(line, strlen(line));
        mcp__free(line);
    }
    if (extra != NULL) {
        size_t n = 0;
        while (extra[n] != NULL)
            n++;
        mcp__free(extra[n - 1]);                  /* the proof; the rest belongs to ob */
        mcp__free(extra);
    }
    return rc;
}

/* A record for one message; takes body (a serialized envelope from src/jsonrpc, may be NULL
 * when building it failed: then NULL is returned). method and params (borrowed) give the
 * 2026-07-28 headers over HTTP. */
static outbound *
ob_new(mcp_client *c, ob_kind kind, int64_t rpc_id, const char *method, const json_t *params,
       char *body)
{
    outbound *ob = body != NULL ? mcp__calloc(1, sizeof *ob) : NULL;
    if (ob == NULL) {
        mcp__free(body);
        return NULL;
    }
    ob->kind = kind;
    ob->rpc_id = rpc_id;
    ob->method = mcp__strdup(method ? method : "");
    ob->body = body;
    ob->deadline_ms = mcp_now_ms() + c->request_timeout_ms;
    bool hdr_ok = true;
    if (c->modern && c->is_http && method != NULL && kind != OB_RESPONSE)
        hdr_ok = mcp__modern_headers(c, method, params, &ob->hdrs) == MCP_OK;
    if (ob->method == NULL || ob->body == NULL || !hdr_ok) {
        ob_free(ob);
        return NULL;
    }
    return ob;
}

static void
ob_finish(outbound *ob, mcp_status rc, const mcp_error *e, const char *msg)
{
    if (ob->state == OB_DONE)
        return;
    ob->state = OB_DONE;
    ob->rc = rc;
    if (rc != MCP_OK) {
        if (e != NULL)
            ob->err = *e;
        else
            mcp_error_set(&ob->err, rc, "%s", msg ? msg : mcp_status_str(rc));
        ob->err.code = rc;
    }
}

/* Queue a message nobody waits for (a response to the server, a cancellation). */
static void
send_detached(mcp_client *c, ob_kind kind, const char *method, char *body)
{
    outbound *ob = ob_new(c, kind, -1, method, NULL, body);
    if (ob == NULL)
        return;
    ob->abandoned = true;
    ob->next = c->obs;
    c->obs = ob;
    mcp_error e;
    if (ob_send(c, ob, &e) != MCP_OK) {
        mcp__log(MCP__LOG_WARN, "client", "cannot send a message to the server: %s", e.message);
        ob_finish(ob, e.code, &e, NULL);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* receiving                                                                                  */

static outbound *
find_oid(mcp_client *c, uint64_t oid)
{
    for (outbound *ob = c->obs; ob != NULL; ob = ob->next)
        if (ob->oid == oid)
            return ob;
    return NULL;
}

static outbound *
find_request(mcp_client *c, int64_t id)
{
    for (outbound *ob = c->obs; ob != NULL; ob = ob->next)
        if (ob->kind == OB_REQUEST && ob->rpc_id == id)
            return ob;
    return NULL;
}

static void
handle_response(mcp_client *c, const mcp__rpc_msg *r)
{
    if (!json_is_integer(r->id))
        return;                               /* not one of ours (we only use integer ids) */
    outbound *ob = find_request(c, (int64_t)json_integer_value(r->id));
    if (ob == NULL || ob->state == OB_DONE)
        return;                               /* late answer to a cancelled request */
    if (r->result != NULL && r->error == NULL) {
        ob->result = json_incref(r->result);
        ob_finish(ob, MCP_OK, NULL, NULL);
        return;
    }
    json_int_t ic;
    const char *m;
    mcp__rpc_error_parts(r->error, &ic, &m);
    char safe[200];
    mcp__sanitize(m != NULL ? m : "error without message", safe, sizeof safe);
    mcp_error er;
    mcp_status st = mcp__rpc_code_status(ic);
    mcp_error_set_rpc(&er, st, (int32_t)ic, "%s", safe);
    const json_t *data = json_object_get(r->error, "data");
    if (data != NULL) {
        json_decref(ob->err_data);
        ob->err_data = json_incref((json_t *)data);
    }
    ob_finish(ob, st, &er, NULL);
}

/* Answer a server request: result (taken) or, when NULL, the error e. */
static void
respond(mcp_client *c, const json_t *id, json_t *result, const mcp_error *e)
{
    char *body;
    if (result != NULL)
        body = mcp__rpc_result(id, result, NULL);
    else
        body = mcp__rpc_error(id, e->rpc_code != 0 ? e->rpc_code : MCP_RPC_INTERNAL_ERROR,
                              e->message[0] ? e->message : "internal error", NULL, NULL);
    send_detached(c, OB_RESPONSE, NULL, body);
}

mcp_status
mcp__client_call_handler(mcp_client *c, const char *method, const json_t *params,
                         json_t **result, mcp_error *e)
{
    mcp_client_request_fn fn = NULL;
    *result = NULL;
    mcp_error_clear(e);
    if (strcmp(method, "ping") == 0) {
        *result = json_object();
        return *result ? MCP_OK : mcp_error_set_rpc(e, MCP_ERR_NOMEM, -32603, "out of memory");
    }
    if (strcmp(method, "sampling/createMessage") == 0)
        fn = c->cb.sampling;
    else if (strcmp(method, "elicitation/create") == 0)
        fn = c->cb.elicitation;
    else if (strcmp(method, "roots/list") == 0)
        fn = c->cb.roots;
    if (fn == NULL)
        return mcp_error_set_rpc(e, MCP_ERR_NOT_FOUND, -32601, "Method not found");
    json_t *res = NULL;
    c->in_callback++;
    mcp_status rc = fn(c, method, params, c->cb.udata, &res, e);
    c->in_callback--;
    if (rc == MCP_OK && !json_is_object(res)) {
        json_decref(res);
        res = NULL;
        mcp_error_set_rpc(e, MCP_ERR_INTERNAL, -32603, "client handler returned no result");
        rc = MCP_ERR_INTERNAL;
    }
    if (rc != MCP_OK) {
        json_decref(res);
        if (e->code == MCP_OK)
            mcp_error_set(e, rc, "%s", mcp_status_str(rc));
        e->code = rc;
        if (e->rpc_code == 0)
            e->rpc_code = rc == MCP_ERR_INVALID_ARG ? -32602 : -32603;
        return rc;
    }
    *result = res;
    return MCP_OK;
}

static void
handle_server_request(mcp_client *c, const char *method, const json_t *id,
                      const json_t *params)
{
    mcp_error e;
    json_t *result = NULL;
    if (mcp__client_call_handler(c, method, params, &result, &e) != MCP_OK) {
        respond(c, id, NULL, &e);
        return;
    }
    respond(c, id, result, NULL);
}

static void
handle_notification(mcp_client *c, const char *method, const json_t *params)
{
    c->in_callback++;
    if (strcmp(method, "notifications/progress") == 0 && c->cb.progress != NULL) {
        const json_t *tok = json_object_get(params, "progressToken");
        const json_t *p = json_object_get(params, "progress");
        const json_t *t = json_object_get(params, "total");
        const json_t *m = json_object_get(params, "message");
        if (tok != NULL && json_is_number(p))
            c->cb.progress(c, tok, json_number_value(p), json_is_number(t) ? json_number_value(t)
                                                                           : -1.0,
                           json_is_string(m) ? json_string_value(m) : NULL, c->cb.udata);
    } else if (strcmp(method, "notifications/message") == 0 && c->cb.log != NULL) {
        const json_t *lvl = json_object_get(params, "level");
        const json_t *lg = json_object_get(params, "logger");
        c->cb.log(c, json_is_string(lvl) ? json_string_value(lvl) : "info",
                  json_is_string(lg) ? json_string_value(lg) : NULL,
                  json_object_get(params, "data"), c->cb.udata);
    } else if (c->cb.notification != NULL && strcmp(method, "notifications/progress") != 0 &&
               strcmp(method, "notifications/message") != 0) {
        c->cb.notification(c, method, params, c->cb.udata);
    }
    c->in_callback--;
}

static void
handle_message(mcp_client *c, const json_t *msg)
{
    if (!json_is_object(msg)) {
        mcp__log(MCP__LOG_WARN, "client", "ignoring a non-object JSON-RPC message");
        return;
    }
    mcp__rpc_msg r;
    if (mcp__rpc_classify(msg, &r) != MCP_OK)
        return;                               /* neither a method nor an id: nothing to do */
    if (r.kind == MCP__RPC_REQUEST)
        handle_server_request(c, r.method, r.id, r.params);
    else if (r.kind == MCP__RPC_NOTIFICATION)
        handle_notification(c, r.method, r.params);
    else
        handle_response(c, &r);
}

static void
handle_event(mcp_client *c, mcp__event *ev)
{
    if (ev->type == MCP__EV_MESSAGE) {
        handle_message(c, ev->msg);
        return;
    }
    if (ev->type == MCP__EV_CLOSED) {
        c->dead = true;
        mcp_error e;
        mcp_error_set(&e, ev->status, "%s", ev->message);
        for (outbound *ob = c->obs; ob != NULL; ob = ob->next)
            ob_finish(ob, ev->status, &e, NULL);
        return;
    }
    outbound *ob = find_oid(c, ev->oid);
    if (ob == NULL || ob->state != OB_SENT)
        return;
    if (ev->status == MCP_OK) {
        if (ob->kind != OB_REQUEST)
            ob_finish(ob, MCP_OK, NULL, NULL);
        else if (ev->final)
            ob_finish(ob, MCP_ERR_PROTOCOL, NULL,
                      "the server ended the exchange without a JSON-RPC response");
        return;
    }
    if ((ev->http_status == 401 || ev->http_status == 403) &&
        (ev->status == MCP_ERR_UNAUTHENTICATED || ev->status == MCP_ERR_FORBIDDEN)) {
        ob->state = OB_NEED_AUTH;
        ob->auth_status = ev->http_status;
        mcp__free(ob->www_auth);
        ob->www_auth = ev->www_auth;
        ev->www_auth = NULL;
        mcp__free(ob->dpop_nonce);
        ob->dpop_nonce = ev->dpop_nonce;
        ev->dpop_nonce = NULL;
        mcp_error_set(&ob->err, ev->status, "%s", ev->message);
        return;
    }
    mcp_error e;
    mcp_error_set(&e, ev->status, "%s", ev->message);
    ob_finish(ob, ev->status, &e, NULL);
}

static void
service_auth(mcp_client *c)
{
    for (outbound *ob = c->obs; ob != NULL; ob = ob->next) {
        if (ob->state != OB_NEED_AUTH)
            continue;
        mcp_status st = ob->auth_status == 401 ? MCP_ERR_UNAUTHENTICATED : MCP_ERR_FORBIDDEN;
        if (c->oauth == NULL) {
            mcp_error e = ob->err;
            if (c->bearer == NULL && st == MCP_ERR_UNAUTHENTICATED)
                mcp_error_set(&e, st, "%s (no credentials configured)", ob->err.message);
            ob_finish(ob, st, &e, NULL);
            continue;
        }
        unsigned max = mcp__oauth_max_authorizations(c->oauth);
        if (++ob->auth_attempts > max) {
            mcp_error e;
            mcp_error_set(&e, st, "%s after %u authorization attempts",
                          st == MCP_ERR_UNAUTHENTICATED ? "still unauthorized"
                                                        : "still forbidden (insufficient scope)",
                          max);
            ob_finish(ob, st, &e, NULL);
            continue;
        }
        mcp_error e;
        if (ob->dpop_nonce != NULL)
            mcp__oauth_dpop_nonce(c->oauth, false, ob->dpop_nonce);
        mcp_status rc = mcp__oauth_handle_challenge(c->oauth, c->url, ob->auth_status,
                                                    ob->www_auth, &e);
        if (rc != MCP_OK) {
            ob_finish(ob, rc, &e, NULL);
            continue;
        }
        /* The login may have taken minutes; the timeout covers the exchange, not the user. */
        ob->deadline_ms = mcp_now_ms() + c->request_timeout_ms;
        if (ob_send(c, ob, &e) != MCP_OK)
            ob_finish(ob, e.code, &e, NULL);
    }
}

static void
collect_garbage(mcp_client *c)
{
    for (outbound **pp = &c->obs; *pp != NULL;) {
        outbound *ob = *pp;
        if (ob->abandoned && ob->state == OB_DONE) {
            if (ob->rc != MCP_OK)
                mcp__log(MCP__LOG_WARN, "client", "message to the server failed: %s",
                         ob->err.message);
            *pp = ob->next;
            ob_free(ob);
        } else {
            pp = &ob->next;
        }
    }
}

static mcp_status
pump_once(mcp_client *c, unsigned timeout_ms, mcp_error *err)
{
    mcp_status rc = c->tr->ops->pump(c->tr, timeout_ms, err);
    mcp__event *ev;
    while ((ev = mcp__evq_pop(&c->q)) != NULL) {
        handle_event(c, ev);
        mcp__event_free(ev);
    }
    service_auth(c);
    collect_garbage(c);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* requests                                                                                   */

static mcp_status
check_usable(const mcp_client *c, bool need_connected, mcp_error *err)
{
    if (c == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no client");
    if (c->in_callback > 0)
        return mcp_error_set(err, MCP_ERR_STATE, "client requests are not allowed in callbacks");
    if (c->tr == NULL || (need_connected && !c->connected))
        return mcp_error_set(err, MCP_ERR_STATE, "client is not connected");
    if (c->dead)
        return mcp_error_set(err, MCP_ERR_IO, "the connection to the server is gone");
    return MCP_OK;
}

/* Enter a new record (from ob_new, NULL when that failed) in the table and send it; on failure
 * it is gone again. */
static mcp_status
ob_start(mcp_client *c, outbound *ob, mcp_error *err)
{
    if (ob == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    ob->next = c->obs;
    c->obs = ob;
    mcp_status rc = ob_send(c, ob, err);
    if (rc != MCP_OK) {
        ob_unlink(c, ob);
        ob_free(ob);
    }
    return rc;
}

static mcp_status
start_request(mcp_client *c, const char *method, const json_t *params, bool progress,
              outbound **out, mcp_error *err)
{
    *out = NULL;
    int64_t id = ++c->next_id;
    json_t *p = NULL;
    if (params != NULL || progress || c->modern) {
        p = params ? json_deep_copy(params) : json_object();
        if (!json_is_object(p)) {
            json_decref(p);
            return mcp_error_set(err, MCP_ERR_INVALID_ARG, "params must be a JSON object");
        }
        if (progress) {
            json_t *meta = json_object_get(p, "_meta");
            if (!json_is_object(meta)) {
                meta = json_object();
                json_object_set_new(p, "_meta", meta);
            }
            json_object_set_new(meta, "progressToken", json_integer((json_int_t)id));
        }
        if (c->modern && mcp__modern_add_meta(c, p) != MCP_OK) {
            json_decref(p);
            return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        }
    }
    json_t *jid = json_integer((json_int_t)id);
    json_t *hp = p != NULL ? json_incref(p) : NULL;  /* the headers read it after the build */
    outbound *ob = jid != NULL ? ob_new(c, OB_REQUEST, id, method, hp,
                                        mcp__rpc_request(jid, method, p, NULL))
                               : NULL;
    json_decref(hp);
    if (jid == NULL)
        json_decref(p);                       /* mcp__rpc_request took it otherwise */
    json_decref(jid);
    mcp_status rc = ob_start(c, ob, err);
    if (rc == MCP_OK)
        *out = ob;
    return rc;
}

static void
send_cancel(mcp_client *c, int64_t id, const char *reason)
{
    json_t *params = json_pack("{s:I, s:s}", "requestId", (json_int_t)id, "reason",
                               reason ? reason : "cancelled by the client");
    if (params != NULL)
        send_detached(c, OB_NOTIFY, "notifications/cancelled",
                      mcp__rpc_notification("notifications/cancelled", params, NULL));
}

/* Wait for ob. forget_on_timeout: cancel + drop it (synchronous API). err_data: see
 * mcp__client_rpc_once (may be NULL). */
static mcp_status
wait_ob(mcp_client *c, outbound *ob, uint64_t deadline, bool forget_on_timeout,
        json_t **result, json_t **err_data, mcp_error *err)
{
    if (result != NULL)
        *result = NULL;
    if (err_data != NULL)
        *err_data = NULL;
    for (;;) {
        if (ob->state == OB_DONE)
            break;
        uint64_t now = mcp_now_ms();
        /* ob->deadline_ms moves forward after a re-authorization (see service_auth). */
        uint64_t dl = deadline ? deadline : ob->deadline_ms;
        if (now >= dl) {
            if (!forget_on_timeout)
                return mcp_error_set(err, MCP_ERR_TIMEOUT, "no response to %s yet", ob->method);
            mcp_error_set(err, MCP_ERR_TIMEOUT, "no response to %s within %u ms", ob->method,
                          c->request_timeout_ms);
            if (c->tr->ops->abort != NULL)
                c->tr->ops->abort(c->tr, ob->oid);
            if (ob->kind == OB_REQUEST && strcmp(ob->method, "initialize") != 0 && !c->dead)
                send_cancel(c, ob->rpc_id, "request timed out");
            ob_unlink(c, ob);
            ob_free(ob);
            return MCP_ERR_TIMEOUT;
        }
        uint64_t left = dl - now;
        mcp_error pe;
        (void)pump_once(c, (unsigned)(left > 250 ? 250 : left), &pe);
    }
    mcp_status rc = ob->rc;
    if (rc == MCP_OK) {
        if (result != NULL) {
            *result = ob->result;
            ob->result = NULL;
        }
    } else {
        if (err != NULL) {
            *err = ob->err;
            err->code = rc;
        }
        if (err_data != NULL) {
            *err_data = ob->err_data;
            ob->err_data = NULL;
        }
    }
    ob_unlink(c, ob);
    ob_free(ob);
    return rc;
}

mcp_status
mcp__client_rpc_once(mcp_client *c, const char *method, const json_t *params, bool progress,
                     json_t **result, json_t **err_data, mcp_error *err)
{
    if (err_data != NULL)
        *err_data = NULL;
    outbound *ob;
    mcp_status rc = start_request(c, method, params, progress, &ob, err);
    if (rc != MCP_OK)
        return rc;
    return wait_ob(c, ob, 0, true, result, err_data, err);
}

/* inputResponses for an input_required result (SEP-2322): each input request is answered by
 * the callback for its method, as a server->client request would have been. */
static mcp_status
answer_inputs(mcp_client *c, const json_t *requests, json_t **responses, mcp_error *err)
{
    *responses = NULL;
    if (!json_is_object(requests) || json_object_size(requests) == 0)
        return mcp_error_set(err, MCP_ERR_PROTOCOL,
                             "input_required result without inputRequests");
    json_t *out = json_object();
    if (out == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    const char *key;
    const json_t *rq;
    json_object_foreach((json_t *)requests, key, rq) {
        const char *m = mcp__json_str(rq, "method");
        if (m == NULL || strcmp(m, "ping") == 0) {
            json_decref(out);
            return mcp_error_set(err, MCP_ERR_PROTOCOL, "input request without a method");
        }
        json_t *res = NULL;
        mcp_error e;
        if (mcp__client_call_handler(c, m, json_object_get(rq, "params"), &res, &e) != MCP_OK) {
            char safe[64];
            mcp__sanitize(m, safe, sizeof safe);
            json_decref(out);
            return mcp_error_set(err, e.code == MCP_ERR_NOT_FOUND ? MCP_ERR_UNSUPPORTED : e.code,
                                 "the server asked for %s, which this client %s: %s", safe,
                                 e.code == MCP_ERR_NOT_FOUND ? "does not handle"
                                                             : "could not answer",
                                 e.message);
        }
        json_object_set_new(out, key, res);
    }
    *responses = out;
    return MCP_OK;
}

mcp_status
mcp__client_rpc(mcp_client *c, const char *method, const json_t *params, bool progress,
                 json_t **result, mcp_error *err)
{
    json_t *res = NULL;
    mcp_status rc = mcp__client_rpc_once(c, method, params, progress, &res, NULL, err);
    for (unsigned round = 0; rc == MCP_OK && c->modern; round++) {
        const json_t *rt = json_object_get(res, "resultType");
        if (!json_is_string(rt) || strcmp(json_string_value(rt), "input_required") != 0)
            break;                            /* absent means complete (SEP-2322) */
        if (round >= MCP__MAX_INPUT_ROUNDS) {
            json_decref(res);
            return mcp_error_set(err, MCP_ERR_PROTOCOL,
                                 "%s still needs input after %d rounds", method,
                                 MCP__MAX_INPUT_ROUNDS);
        }
        json_t *responses = NULL;
        rc = answer_inputs(c, json_object_get(res, "inputRequests"), &responses, err);
        json_t *again = rc == MCP_OK ? (params ? json_deep_copy(params) : json_object()) : NULL;
        if (rc == MCP_OK && again == NULL)
            rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        if (rc != MCP_OK) {
            json_decref(responses);
            json_decref(res);
            return rc;
        }
        /* The retry is the original request plus this round's answers and, only when the
         * server sent one, its requestState unchanged; a new id (start_request). */
        json_object_set_new(again, "inputResponses", responses);
        const json_t *state = json_object_get(res, "requestState");
        if (json_is_string(state))
            json_object_set(again, "requestState", (json_t *)state);
        json_decref(res);
        res = NULL;
        rc = mcp__client_rpc_once(c, method, again, progress, &res, NULL, err);
        json_decref(again);
    }
    if (rc != MCP_OK)
        return rc;
    *result = res;
    return MCP_OK;
}

mcp_status
mcp__client_notify(mcp_client *c, const char *method, const json_t *params, mcp_error *err)
{
    json_t *p = params != NULL ? json_incref((json_t *)params) : NULL;
    outbound *ob = ob_new(c, OB_NOTIFY, -1, method, params,
                          mcp__rpc_notification(method, p, NULL));
    mcp_status rc = ob_start(c, ob, err);
    if (rc != MCP_OK)
        return rc;
    return wait_ob(c, ob, 0, true, NULL, NULL, err);
}

mcp_status
mcp_client_request(mcp_client *c, const char *method, const json_t *params, json_t **result,
                   mcp_error *err)
{
    if (result != NULL)
        *result = NULL;
    mcp_status rc = check_usable(c, true, err);
    if (rc != MCP_OK)
        return rc;
    if (method == NULL || method[0] == '\0')
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no method");
    return mcp__client_rpc(c, method, params, false, result, err);
}

mcp_status
mcp__client_request_progress(mcp_client *c, const char *method, const json_t *params,
                             json_t **result, mcp_error *err)
{
    if (result != NULL)
        *result = NULL;
    mcp_status rc = check_usable(c, true, err);
    if (rc != MCP_OK)
        return rc;
    return mcp__client_rpc(c, method, params, c->cb.progress != NULL, result, err);
}

mcp_status
mcp_client_request_async(mcp_client *c, const char *method, const json_t *params, int64_t *id,
                         mcp_error *err)
{
    mcp_status rc = check_usable(c, true, err);
    if (rc != MCP_OK)
        return rc;
    if (method == NULL || id == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no method or id");
    outbound *ob;
    rc = start_request(c, method, params, false, &ob, err);
    if (rc == MCP_OK)
        *id = ob->rpc_id;
    return rc;
}

/* The usable client's outstanding request id (for wait and cancel). */
static mcp_status
find_outstanding(mcp_client *c, int64_t id, outbound **ob, mcp_error *err)
{
    mcp_status rc = check_usable(c, true, err);
    if (rc != MCP_OK)
        return rc;
    *ob = find_request(c, id);
    if (*ob == NULL)
        return mcp_error_set(err, MCP_ERR_NOT_FOUND, "no outstanding request %lld",
                             (long long)id);
    return MCP_OK;
}

mcp_status
mcp_client_wait(mcp_client *c, int64_t id, unsigned timeout_ms, json_t **result,
                mcp_error *err)
{
    if (result != NULL)
        *result = NULL;
    outbound *ob;
    mcp_status rc = find_outstanding(c, id, &ob, err);
    if (rc != MCP_OK)
        return rc;
    uint64_t deadline = mcp_now_ms() + (timeout_ms ? timeout_ms : c->request_timeout_ms);
    return wait_ob(c, ob, deadline, false, result, NULL, err);
}

mcp_status
mcp_client_cancel(mcp_client *c, int64_t id, const char *reason, mcp_error *err)
{
    outbound *ob;
    mcp_status rc = find_outstanding(c, id, &ob, err);
    if (rc != MCP_OK)
        return rc;
    if (c->tr->ops->abort != NULL)
        c->tr->ops->abort(c->tr, ob->oid);
    ob_unlink(c, ob);
    ob_free(ob);
    send_cancel(c, id, reason);
    return MCP_OK;
}

mcp_status
mcp_client_notify(mcp_client *c, const char *method, const json_t *params, mcp_error *err)
{
    mcp_status rc = check_usable(c, true, err);
    if (rc != MCP_OK)
        return rc;
    if (method == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no method");
    return mcp__client_notify(c, method, params, err);
}

mcp_status
mcp_client_poll(mcp_client *c, unsigned timeout_ms, mcp_error *err)
{
    mcp_status rc = check_usable(c, true, err);
    if (rc != MCP_OK)
        return rc;
    uint64_t end = mcp_now_ms() + timeout_ms;
    do {
        uint64_t now = mcp_now_ms();
        unsigned left = now >= end ? 0 : (unsigned)(end - now);
        rc = pump_once(c, left, err);
    } while (rc == MCP_OK && mcp_now_ms() < end && !c->dead);
    return c->dead ? mcp_error_set(err, MCP_ERR_IO, "the connection to the server is gone") : rc;
}
