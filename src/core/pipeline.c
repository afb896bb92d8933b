/*
 * The one pipeline driver (STYLE.md section 10, nginx's ngx_http_core_run_phases).
 *
 * A phase is an array of entries run in order by run_phase(): the built-in steps are entries of
 * the same shape as the installed middleware (the transport's checks head the TRANSPORT phase,
 * the protocol's built-in AUTHZ entry closes the AUTHZ phase, the protocol's handler is the
 * HANDLER phase). Entries never call "next": any status other than OK stops the request (fail
 * closed), and an entry that answered early marks the request finished, which ends it too.
 *
 * Transports call two functions: mcp__run_head() once the headers are in (the body is not read
 * before the caller is known), and mcp__run_body() with the message. stdio calls both per line.
 */
#include "core/core.h"

#include <string.h>

/* Head stages (mcp_request.head_stage): where mcp__run_head() continues. */
enum { HEAD_TRANSPORT, HEAD_AUTHN, HEAD_AFTER_AUTHN, HEAD_DONE };

static mcp_status
run_entries(mcp_request *req, const mcp__mw *e, size_t n, mcp_error *err)
{
    for (size_t i = 0; i < n; i++) {
        if (e[i].fn == NULL)
            continue;
        mcp_status rc = e[i].fn(req, e[i].ctx, err);
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

/* One phase: its built-in head entries, the installed items, its built-in tail entries. */
static mcp_status
run_phase(mcp_request *req, mcp_phase ph, mcp_error *err)
{
    mcp_server *srv = req->srv;
    mcp_status rc = MCP_OK;
    if (ph == MCP_PHASE_TRANSPORT && req->checks != NULL)
        rc = run_entries(req, req->checks, req->nchecks, err);
    if (rc == MCP_OK && !req->finished && ph != MCP_PHASE_HANDLER)
        rc = run_entries(req, srv->mw[ph], srv->nmw[ph], err);
    if (rc == MCP_OK && !req->finished && ph == MCP_PHASE_AUTHZ)
        rc = run_entries(req, &srv->handler.authorize, 1, err);
    if (rc == MCP_OK && !req->finished && ph == MCP_PHASE_HANDLER)
        rc = run_entries(req, &srv->handler.handler, 1, err);
    return rc;
}

/* The head of the AUTHN phase: an address that failed to authenticate too often is refused
 * before any of its credentials is looked at (no verification work, no introspection call). */
static mcp_status
check_authn_failures(mcp_request *req, mcp_error *err)
{
    unsigned wait = mcp__authn_fail_blocked(req->srv, req->peer);
    if (wait == 0)
        return MCP_OK;
    req->retry_after = wait;
    mcp_error_set_rpc(err, MCP_ERR_RATE_LIMITED, MCP_RPC_RATE_LIMITED,
                      "too many failed authentications from this address; retry later");
    mcp__decide(req, "authn", MCP_ERR_RATE_LIMITED, err->message, "");
    return MCP_ERR_RATE_LIMITED;
}

static mcp_status
run_authn(mcp_request *req, mcp_error *err)
{
    if (req->srv->nmw[MCP_PHASE_AUTHN] == 0)
        return MCP_OK;
    mcp_status rc = check_authn_failures(req, err);
    if (rc != MCP_OK)
        return rc;
    rc = run_phase(req, MCP_PHASE_AUTHN, err);
    if (rc == MCP_ERR_WOULD_BLOCK && req->can_block)      /* an item that always says so */
        rc = mcp_error_set(err, MCP_ERR_INTERNAL, "authentication item cannot complete");
    if (rc != MCP_ERR_WOULD_BLOCK)
        mcp__decide(req, "authn", rc, rc != MCP_OK && err != NULL ? err->message : "", "");
    return rc;
}

/* AUTHZ items, then the built-in entry; one decision is reported either way. */
static mcp_status
run_authz(mcp_request *req, mcp_error *err)
{
    mcp_status rc = run_phase(req, MCP_PHASE_AUTHZ, err);
    mcp__decide(req, "authz", rc, rc != MCP_OK ? err->message : "",
                rc == MCP_ERR_FORBIDDEN ? req->missing : "");
    return rc;
}

/* The session the request names is looked up only now, after AUTHN: an unauthenticated caller
 * gets 401 whatever id it sends (no existence oracle). A session is bound to the principal that
 * created it; another caller's credential gets the same answer as an unknown session (it must
 * not learn that the id exists). */
static mcp_status
check_session_owner(mcp_request *req, mcp_error *err)
{
    if (!(req->caps & MCP__CAP_HEADER_SESSIONS))
        return MCP_OK;
    if (req->session == NULL && req->session_id != NULL) {
        req->session = mcp__session_find(req->srv, req->session_id);   /* the transport unrefs */
        if (req->session == NULL)
            return mcp__reject(req, err, MCP_ERR_NOT_FOUND, 404,
                               "Not Found: unknown or expired session");
    }
    if (req->session == NULL)
        return MCP_OK;
    const char *owner = req->session->owner;
    const char *me = req->principal ? mcp_principal_owner_key(req->principal) : NULL;
    if ((owner == NULL) != (me == NULL) || (owner != NULL && strcmp(owner, me) != 0))
        return mcp__reject(req, err, MCP_ERR_NOT_FOUND, 404,
                           "Not Found: unknown or expired session");
    mcp__session_touch(req->session);
    return MCP_OK;
}

mcp_status
mcp__run_head(mcp_request *req, mcp_error *err)
{
    mcp_status rc = MCP_OK;
    if (req->head_stage == HEAD_TRANSPORT) {
        rc = run_phase(req, MCP_PHASE_TRANSPORT, err);
        if (rc != MCP_OK || req->finished)
            return rc;
        req->head_stage = HEAD_AUTHN;
    }
    if (req->head_stage == HEAD_AUTHN) {
        rc = run_authn(req, err);
        if (rc != MCP_OK || req->finished)
            return rc;                   /* WOULD_BLOCK: mcp__run_head_authn() on a worker */
        req->head_stage = HEAD_AFTER_AUTHN;
    }
    if (req->head_stage == HEAD_AFTER_AUTHN) {
        rc = check_session_owner(req, err);
        /* No JSON-RPC message follows (GET, DELETE), so no target, but the AUTHZ items still
         * apply (a disabled user must not open or keep using a stream; rate limits count
         * these requests too). */
        if (rc == MCP_OK && !req->has_body)
            rc = run_authz(req, err);
        /* A request whose headers name its method and target (2026-07-28) is authorized now,
         * before its body is read: a forbidden call costs no upload and no parse. The body
         * phase then refuses a body that says anything else (the protocol's route). */
        const mcp__mw *hr = &req->srv->handler.head_route;
        if (rc == MCP_OK && req->has_body && hr->fn != NULL) {
            rc = run_entries(req, hr, 1, err);
            if (rc == MCP_OK && !req->finished && req->head_method[0] != '\0') {
                rc = run_authz(req, err);
                req->authz_done = true;
            }
        }
        req->head_stage = HEAD_DONE;
    }
    return rc;
}

mcp_status
mcp__run_head_authn(mcp_request *req, mcp_error *err)
{
    mcp_status rc = run_authn(req, err);
    if (rc == MCP_OK)
        req->head_stage = HEAD_AFTER_AUTHN;
    return rc;
}

mcp_status
mcp__run_body(mcp_request *req, const char *body, size_t len, mcp__sink *sink,
              mcp__dispatch_result *res, mcp__session **created, json_t **rpc_id,
              mcp_error *err)
{
    mcp_server *srv = req->srv;
    req->sink = sink;
    req->outcome = MCP__DISPATCH_DONE;
    req->created = NULL;
    if (created != NULL)
        *created = NULL;
    mcp_status rc = mcp__rpc_parse(body, len, &req->msg, rpc_id, err);
    if (rc == MCP_OK)
        rc = run_entries(req, &srv->handler.route, 1, err);
    if (rc == MCP_OK && !req->finished && !req->authz_done)     /* one decision per request */
        rc = run_authz(req, err);
    if (rc == MCP_OK && !req->finished)
        rc = run_phase(req, MCP_PHASE_HANDLER, err);
    *res = req->outcome;
    if (req->created != NULL) {
        if (created != NULL)
            *created = req->created;     /* the reference moves to the caller */
        else {
            mcp__session_remove(srv, req->created);
            mcp__session_unref(req->created);
        }
        req->created = NULL;
    }
    req->sink = NULL;
    return rc;
}

void
mcp__server_set_handler(mcp_server *srv, const mcp__handler_entries *h)
{
    srv->handler = *h;
}

mcp_status
mcp__server_set_transport(mcp_server *srv, const mcp__transport_ops *ops, void *tr,
                          mcp_error *err)
{
    if (srv->tr_ops != NULL)
        return mcp_error_set(err, MCP_ERR_STATE, "a transport is already registered");
    srv->tr_ops = ops;
    srv->tr = tr;
    return MCP_OK;
}
