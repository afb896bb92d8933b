/* The core's pipeline driver, transport ops and the status table, without a network: the order
 * of the head and body pipelines, fail closed, the deferred AUTHN continuation, the session
 * owner check, per-server transport ops. (Tests src/core; moves to tests/core with that folder.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/core.h"

static char trace[256];

static void
mark(const char *what)
{
    size_t n = strlen(trace);
    snprintf(trace + n, sizeof trace - n, "%s%s", n ? " " : "", what);
}

static mcp_status
step(mcp_request *req, void *ctx, mcp_error *err)
{
    (void)req;
    (void)err;
    mark(ctx);
    return MCP_OK;
}

static mcp_status
reject_check(mcp_request *req, void *ctx, mcp_error *err)
{
    mark(ctx);
    return mcp__reject(req, err, MCP_ERR_PROTOCOL, 415, "Unsupported Media Type");
}

static bool authn_blocks;

static mcp_status
blocking_authn(mcp_request *req, void *ctx, mcp_error *err)
{
    mark(ctx);
    if (authn_blocks && !mcp_request_can_block(req))
        return mcp_error_set(err, MCP_ERR_WOULD_BLOCK, NULL);
    return MCP_OK;
}

static mcp_server *
new_server(bool stateless)
{
    mcp_server_opts o;
    mcp_server_opts_default(&o);
    o.stateless = stateless;
    o.workers = 1;
    mcp_server *srv = NULL;
    assert_int_equal(mcp_server_new(&o, &srv, NULL), MCP_OK);
    return srv;
}

static void
head_runs_checks_transport_authn_then_authz_without_body(void **state)
{
    (void)state;
    mcp_server *srv = new_server(false);
    assert_int_equal(mcp_server_use(srv, MCP_PHASE_TRANSPORT, step, "T", NULL), MCP_OK);
    assert_int_equal(mcp_server_use(srv, MCP_PHASE_AUTHN, step, "A", NULL), MCP_OK);
    assert_int_equal(mcp_server_use(srv, MCP_PHASE_AUTHZ, step, "Z", NULL), MCP_OK);
    const mcp__mw checks[] = { { step, "c1" }, { step, "c2" } };
    for (int body = 0; body < 2; body++) {
        mcp_request req;
        mcp_error err;
        mcp_error_clear(&err);
        mcp__request_init(&req, srv);
        req.http_method = body ? "POST" : "GET";
        req.has_body = body;
        req.checks = checks;
        req.nchecks = 2;
        trace[0] = '\0';
        assert_int_equal(mcp__run_head(&req, &err), MCP_OK);
        assert_string_equal(trace, body ? "c1 c2 T A" : "c1 c2 T A Z");
        mcp__request_cleanup(&req);
    }
    mcp_server_free(srv);
}

static void
failed_check_stops_the_request_with_its_status(void **state)
{
    (void)state;
    mcp_server *srv = new_server(false);
    assert_int_equal(mcp_server_use(srv, MCP_PHASE_TRANSPORT, step, "T", NULL), MCP_OK);
    const mcp__mw checks[] = { { step, "c1" }, { reject_check, "c2" }, { step, "c3" } };
    mcp_request req;
    mcp_error err;
    mcp_error_clear(&err);
    mcp__request_init(&req, srv);
    req.http_method = "POST";
    req.has_body = true;
    req.checks = checks;
    req.nchecks = 3;
    trace[0] = '\0';
    assert_int_equal(mcp__run_head(&req, &err), MCP_ERR_PROTOCOL);
    assert_string_equal(trace, "c1 c2");                 /* fail closed: c3 and T never run */
    assert_int_equal(req.http_status, 415);
    assert_int_equal(err.rpc_code, MCP_RPC_INVALID_REQUEST);
    assert_string_equal(err.message, "Unsupported Media Type");
    mcp__request_cleanup(&req);
    mcp_server_free(srv);
}

static void
deferred_authn_continues_after_authn(void **state)
{
    (void)state;
    mcp_server *srv = new_server(false);
    assert_int_equal(mcp_server_use(srv, MCP_PHASE_TRANSPORT, step, "T", NULL), MCP_OK);
    assert_int_equal(mcp_server_use(srv, MCP_PHASE_AUTHN, blocking_authn, "A", NULL), MCP_OK);
    assert_int_equal(mcp_server_use(srv, MCP_PHASE_AUTHZ, step, "Z", NULL), MCP_OK);
    mcp_request req;
    mcp_error err;
    mcp_error_clear(&err);
    mcp__request_init(&req, srv);
    req.http_method = "GET";
    authn_blocks = true;
    trace[0] = '\0';
    assert_int_equal(mcp__run_head(&req, &err), MCP_ERR_WOULD_BLOCK);
    assert_string_equal(trace, "T A");
    req.can_block = true;                                 /* now on a worker */
    mcp_error_clear(&err);
    assert_int_equal(mcp__run_head_authn(&req, &err), MCP_OK);
    req.can_block = false;                                /* back on the IO thread */
    assert_int_equal(mcp__run_head(&req, &err), MCP_OK);
    assert_string_equal(trace, "T A A Z");                /* TRANSPORT is not run twice */
    authn_blocks = false;
    mcp__request_cleanup(&req);
    mcp_server_free(srv);
}

static void
session_owner_is_checked_only_for_header_sessions(void **state)
{
    (void)state;
    mcp_server *srv = new_server(false);
    mcp__session *s = mcp__session_new(srv, "someone");
    assert_non_null(s);
    for (int caps = 0; caps < 2; caps++) {
        mcp_request req;
        mcp_error err;
        mcp_error_clear(&err);
        mcp__request_init(&req, srv);
        req.http_method = caps ? "POST" : "STDIO";
        req.caps = caps ? MCP__CAP_HEADER_SESSIONS : 0;
        req.has_body = true;
        req.session = s;                       /* no principal: not the owner */
        mcp_status rc = mcp__run_head(&req, &err);
        if (caps) {
            assert_int_equal(rc, MCP_ERR_NOT_FOUND);
            assert_int_equal(req.http_status, 404);
            assert_string_equal(err.message, "Not Found: unknown or expired session");
        } else {
            assert_int_equal(rc, MCP_OK);
        }
        mcp__request_cleanup(&req);
    }
    mcp__session_unref(s);
    mcp_server_free(srv);
}

/* ---- transport ops ------------------------------------------------------------------------ */

typedef struct fake_tr {
    int stops, frees, closed;
} fake_tr;

static void fake_stop(void *tr, unsigned ms) { (void)ms; ((fake_tr *)tr)->stops++; }
static void fake_free(void *tr) { ((fake_tr *)tr)->frees++; }
static void fake_closed(void *tr, mcp__session *s) { (void)s; ((fake_tr *)tr)->closed++; }

static const mcp__transport_ops fake_ops = { fake_stop, fake_free, fake_closed, NULL, NULL };

static void
transport_ops_are_per_server(void **state)
{
    (void)state;
    fake_tr a = { 0, 0, 0 };
    mcp_server *sa = new_server(false), *sb = new_server(false);
    assert_int_equal(mcp__server_set_transport(sa, &fake_ops, &a, NULL), MCP_OK);
    assert_int_equal(mcp__server_set_transport(sa, &fake_ops, &a, NULL), MCP_ERR_STATE);
    mcp__session *s1 = mcp__session_new(sa, NULL), *s2 = mcp__session_new(sb, NULL);
    assert_non_null(s1);
    assert_non_null(s2);
    mcp__session_remove(sb, s2);                /* another server's session: not a's business */
    assert_int_equal(a.closed, 0);
    mcp__session_remove(sa, s1);
    assert_int_equal(a.closed, 1);
    mcp__session_unref(s1);
    mcp__session_unref(s2);
    assert_int_equal(mcp_server_http_port(sa), 0);       /* not the HTTP transport */
    mcp_server_free(sb);
    mcp_server_free(sa);
    assert_int_equal(a.stops, 1);
    assert_int_equal(a.frees, 1);
}

/* ---- body pipeline ------------------------------------------------------------------------ */

typedef struct capture {
    mcp__sink sink;
    char      last[512];
    int       n;
} capture;

static void
cap_emit(mcp__sink *s, char *msg, size_t len, bool final)
{
    (void)final;
    capture *c = (capture *)s;
    snprintf(c->last, sizeof c->last, "%.*s", (int)len, msg ? msg : "");
    c->n++;
    mcp__free(msg);
}

static bool cap_stream(mcp__sink *s) { (void)s; return false; }
static void cap_noop(mcp__sink *s) { (void)s; }

static mcp__dispatch_result
body(mcp_server *srv, capture *c, const char *msg, mcp_status *rc)
{
    mcp_request req;
    mcp_error err;
    mcp_error_clear(&err);
    mcp__request_init(&req, srv);
    req.http_method = "POST";
    req.caps = MCP__CAP_HEADER_SESSIONS;
    req.has_body = true;
    json_t *id = NULL;
    mcp__dispatch_result res;
    *rc = mcp__run_body(&req, msg, strlen(msg), &c->sink, &res, NULL, &id, &err);
    json_decref(id);
    mcp__request_cleanup(&req);
    return res;
}

static void
body_runs_route_authz_handler(void **state)
{
    (void)state;
    mcp_server *srv = new_server(true);
    assert_int_equal(mcp_server_use(srv, MCP_PHASE_AUTHZ, step, "Z", NULL), MCP_OK);
    capture c = { { cap_emit, NULL, cap_stream, cap_noop, cap_noop, NULL }, "", 0 };
    mcp_status rc;
    trace[0] = '\0';
    assert_int_equal(body(srv, &c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", &rc),
                     MCP__DISPATCH_DONE);
    assert_int_equal(rc, MCP_OK);
    assert_string_equal(trace, "Z");
    assert_non_null(strstr(c.last, "\"result\":{}"));
    assert_int_equal(body(srv, &c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"nope/nope\"}",
                          &rc), MCP__DISPATCH_DONE);
    assert_non_null(strstr(c.last, "-32601"));
    int before = c.n;
    trace[0] = '\0';
    assert_int_equal(body(srv, &c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"}", &rc),
                     MCP__DISPATCH_ACCEPTED);
    assert_int_equal(c.n, before);                        /* nothing to send */
    assert_string_equal(trace, "");                       /* and no AUTHZ for a notification */
    mcp_server_free(srv);
}

/* ---- the status table ----------------------------------------------------------------------- */

static void
status_table(void **state)
{
    (void)state;
    static const struct { mcp_status s; int http; int32_t rpc; } want[] = {
        { MCP_ERR_NOMEM, 500, MCP_RPC_INTERNAL_ERROR },
        { MCP_ERR_INVALID_ARG, 400, MCP_RPC_INVALID_REQUEST },
        { MCP_ERR_PARSE, 400, MCP_RPC_PARSE_ERROR },
        { MCP_ERR_TOO_LARGE, 413, MCP_RPC_INVALID_REQUEST },
        { MCP_ERR_UNAUTHENTICATED, 401, MCP_RPC_UNAUTHENTICATED },
        { MCP_ERR_FORBIDDEN, 403, MCP_RPC_FORBIDDEN },
        { MCP_ERR_NOT_FOUND, 404, MCP_RPC_INVALID_REQUEST },
        { MCP_ERR_RATE_LIMITED, 429, MCP_RPC_RATE_LIMITED },
        { MCP_ERR_INTERNAL, 500, MCP_RPC_INTERNAL_ERROR },
        { MCP_ERR_STORE, 503, MCP_RPC_INTERNAL_ERROR },
        { MCP_ERR_WOULD_BLOCK, 503, MCP_RPC_INVALID_REQUEST },
        { MCP_ERR_STATE, 400, MCP_RPC_INVALID_REQUEST },
        { (mcp_status)999, 400, MCP_RPC_INVALID_REQUEST },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(mcp_status_http(want[i].s), want[i].http);
        assert_int_equal(mcp__status_http(want[i].s), want[i].http);
        assert_int_equal(mcp_status_rpc(want[i].s), want[i].rpc);
    }
    assert_int_equal(mcp_status_rpc(MCP_OK), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(head_runs_checks_transport_authn_then_authz_without_body),
        cmocka_unit_test(failed_check_stops_the_request_with_its_status),
        cmocka_unit_test(deferred_authn_continues_after_authn),
        cmocka_unit_test(session_owner_is_checked_only_for_header_sessions),
        cmocka_unit_test(transport_ops_are_per_server),
        cmocka_unit_test(body_runs_route_authz_handler),
        cmocka_unit_test(status_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
