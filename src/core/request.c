/* The request: its accessors for middleware, challenge details, decisions. */
#include "core/core.h"

#include <string.h>

static const char *const supported_versions[] = { "2025-11-25", "2025-06-18", "2025-03-26", NULL };

bool
mcp__version_supported(const char *v)
{
    for (const char *const *p = supported_versions; *p; p++)
        if (strcmp(*p, v) == 0)
            return true;
    return false;
}

unsigned
mcp__era_of_header(const char *pv)
{
    if (pv == NULL || mcp__version_supported(pv))
        return MCP__REQ_LEGACY;
    return strcmp(pv, MCP__PV_MODERN) == 0 ? MCP__REQ_MODERN : MCP__REQ_UNSUPPORTED;
}

void
mcp__request_init(mcp_request *req, mcp_server *srv)
{
    memset(req, 0, sizeof *req);
    req->srv = srv;
    req->peer = "";
}

mcp_status
mcp__reject(mcp_request *req, mcp_error *err, mcp_status code, unsigned http_status,
            const char *message)
{
    req->http_status = http_status;
    return mcp_error_set_rpc(err, code, MCP_RPC_INVALID_REQUEST, "%s", message);
}

void
mcp__request_cleanup(mcp_request *req)
{
    mcp_principal_unref(req->principal);
    mcp__rpc_msg_cleanup(&req->msg);
    mcp__free(req->challenge_error);
    mcp__free(req->challenge_scope);
    json_decref(req->err_data);
    req->err_data = NULL;
    mcp__free(req->head_target);
    req->head_target = NULL;
    req->principal = NULL;
    req->challenge_error = req->challenge_scope = NULL;
}

const char *
mcp_request_header(const mcp_request *req, const char *name)
{
    return req->header != NULL ? req->header(req->tctx, name) : NULL;
}

const char *mcp_request_http_method(const mcp_request *req) { return req->http_method; }
const char *
mcp_request_rpc_method(const mcp_request *req)
{
    if (req->msg.method != NULL)
        return req->msg.method;
    return req->head_method[0] ? req->head_method : NULL;   /* decided from the headers */
}
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
mcp_status
mcp_request_note_credential(mcp_request *req, const char *name, mcp_error *err)
{
    if (req == NULL || name == NULL || name[0] == '\0')
        return MCP_OK;
    snprintf(req->cred_key, sizeof req->cred_key, "cred:%.63s", name);
    unsigned wait = mcp__authn_fail_blocked(req->srv, req->cred_key);
    if (wait == 0)
        return MCP_OK;
    req->retry_after = wait;
    mcp_error tmp;
    mcp_error *e = err != NULL ? err : &tmp;
    mcp_error_set_rpc(e, MCP_ERR_RATE_LIMITED, MCP_RPC_RATE_LIMITED,
                      "too many failed authentications with this credential; retry later");
    return MCP_ERR_RATE_LIMITED;
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
    if (strcmp(phase, "authn") == 0 && rc == MCP_ERR_UNAUTHENTICATED) {
        mcp__authn_fail_record(req->srv, req->peer);      /* suspicious activity counters */
        if (req->cred_key[0] != '\0')
            mcp__authn_fail_record(req->srv, req->cred_key);
    }
    if (req->srv->decision_fn == NULL)
        return;
    mcp_decision d = { phase, rc == MCP_OK, rc, reason ? reason : "", missing ? missing : "",
                       mcp_request_rpc_method(req), req->target };
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

int
mcp__status_http(mcp_status rc)
{
    return mcp_status_http(rc);
}
