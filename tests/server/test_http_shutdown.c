/*
 * Shutdown with a handler in flight (issue 11, finding 1): every suspended connection is resumed
 * and answered before the HTTP daemon stops (libmicrohttpd aborts the process otherwise).
 * A POST parked for its JSON answer, a stateless SSE POST, and mcp_server_free() with a request
 * in flight: the client gets an answer (503 or the end of its stream), the process survives. A
 * handler waiting on the client gives up when the grace period is over (issue 11, faults).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>

#include "harness.h"

static mcp_status
sleepy(mcp_ctx *ctx, void *u, mcp_error *err)
{
    unsigned ms = *(unsigned *)u;
    (void)mcp_ctx_log(ctx, MCP_LOG_INFO, NULL, "started", err);
    usleep(ms * 1000u);
    return mcp_ctx_add_text(ctx, "slept", err);
}

static unsigned sleep_ms;

static mcp_server *
new_server(bool stateless, unsigned ms, char *url, size_t cap)
{
    mcp_server_opts so;
    mcp_server_opts_default(&so);
    so.stateless = stateless;
    mcp_server *srv;
    mcp_error err;
    assert_int_equal(mcp_server_new(&so, &srv, &err), MCP_OK);
    sleep_ms = ms;
    mcp_tool_def d = { .name = "sleepy", .description = "sleeps",
                       .access = { .any_authenticated = true }, .handler = sleepy };
    assert_int_equal(mcp_server_add_tool(srv, &d, &sleep_ms, &err), MCP_OK);
    assert_int_equal(th_listen(srv, 0, 0, url, cap), 0);
    return srv;
}

typedef struct call {
    char        url[128];
    const char *accept;
    http_resp   r;
    int         rc;
} call;

static void *
call_main(void *arg)
{
    call *c = arg;
    char acc[128];
    snprintf(acc, sizeof acc, "Accept: %s", c->accept);
    const char *h[] = { "Content-Type: application/json", acc, NULL };
    c->rc = th_request("POST", c->url,
                       "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\","
                       "\"params\":{\"name\":\"sleepy\",\"arguments\":{}}}", h, &c->r);
    return NULL;
}

/* The repro of the finding: a 3 s tool, grace 500 ms, Accept: application/json, stop at 0.5 s. */
static void
shutdown_answers_a_post_parked_for_json(void **state)
{
    (void)state;
    call c = { .accept = "application/json" };
    mcp_server *srv = new_server(true, 3000, c.url, sizeof c.url);
    th_runner rn = { srv, 500 };
    pthread_t rt, ct;
    pthread_create(&rt, NULL, th_run_main, &rn);
    pthread_create(&ct, NULL, call_main, &c);
    usleep(500 * 1000);
    mcp_server_stop(srv);
    pthread_join(rt, NULL);              /* returns: the daemon stopped without aborting */
    pthread_join(ct, NULL);
    assert_int_equal(c.rc, 0);
    assert_int_equal(c.r.status, 503);
    assert_non_null(c.r.body);
    assert_non_null(strstr(c.r.body, "shutting down"));
    assert_non_null(strstr(c.r.body, "\"id\":7"));
    th_resp_free(&c.r);
    mcp_server_free(srv);                /* joins the handler */
}

/* A stateless SSE POST (a notification went out first): its stream ends cleanly. */
static void
shutdown_ends_a_stateless_sse_post(void **state)
{
    (void)state;
    call c = { .accept = "application/json, text/event-stream" };
    mcp_server *srv = new_server(true, 1500, c.url, sizeof c.url);
    th_runner rn = { srv, 300 };
    pthread_t rt, ct;
    pthread_create(&rt, NULL, th_run_main, &rn);
    pthread_create(&ct, NULL, call_main, &c);
    usleep(400 * 1000);
    mcp_server_stop(srv);
    pthread_join(rt, NULL);
    pthread_join(ct, NULL);
    assert_int_equal(c.rc, 0);           /* a complete chunked response, not a reset */
    assert_int_equal(c.r.status, 200);
    assert_non_null(c.r.body);
    assert_non_null(strstr(c.r.body, "started"));
    th_resp_free(&c.r);
    mcp_server_free(srv);
}

/* mcp_server_free() with a request in flight (no run_until_signal, grace 0). */
static void
free_with_a_request_in_flight(void **state)
{
    (void)state;
    call c = { .accept = "application/json" };
    mcp_server *srv = new_server(true, 1500, c.url, sizeof c.url);
    pthread_t ct;
    pthread_create(&ct, NULL, call_main, &c);
    usleep(400 * 1000);
    mcp_server_free(srv);
    pthread_join(ct, NULL);
    assert_int_equal(c.rc, 0);
    assert_int_equal(c.r.status, 503);
    th_resp_free(&c.r);
}

/* A handler waiting on the client (a server->client request with a 30 s timeout that the
 * client never answers) gives up when the shutdown's grace period is over: mcp_server_free()
 * returns in about a second, not after the request timeout, and the caller gets the tool's
 * error answer on its stream. */
static atomic_bool asker_waiting;
static atomic_int asker_rc;

static mcp_status
asker(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    json_t *res = NULL;
    atomic_store(&asker_waiting, true);
    mcp_status rc = mcp_ctx_request(ctx, "roots/list", NULL, 30000, &res, err);
    atomic_store(&asker_rc, (int)rc);
    json_decref(res);
    return rc;
}

typedef struct sess_call {
    char      url[128];
    char      sid[128];
    http_resp r;
    int       rc;
} sess_call;

static void *
sess_call_main(void *arg)
{
    sess_call *c = arg;
    char sh[200];
    snprintf(sh, sizeof sh, "Mcp-Session-Id: %s", c->sid);
    const char *h[] = { "Content-Type: application/json",
                        "Accept: application/json, text/event-stream", sh, NULL };
    c->rc = th_request("POST", c->url,
                       "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\","
                       "\"params\":{\"name\":\"asker\",\"arguments\":{}}}", h, &c->r);
    return NULL;
}

static void
free_abandons_a_wait_on_the_client(void **state)
{
    (void)state;
    mcp_server_opts so;
    mcp_server_opts_default(&so);
    mcp_server *srv;
    mcp_error err;
    assert_int_equal(mcp_server_new(&so, &srv, &err), MCP_OK);
    mcp_tool_def d = { .name = "asker", .description = "asks the client",
                       .access = { .any_authenticated = true }, .handler = asker };
    assert_int_equal(mcp_server_add_tool(srv, &d, NULL, &err), MCP_OK);
    sess_call c;
    memset(&c, 0, sizeof c);
    assert_int_equal(th_listen(srv, 0, 0, c.url, sizeof c.url), 0);
    const char *h[] = { "Content-Type: application/json",
                        "Accept: application/json, text/event-stream", NULL };
    http_resp ir;
    assert_int_equal(th_request("POST", c.url,
                                "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\","
                                "\"params\":{\"protocolVersion\":\"2025-11-25\","
                                "\"capabilities\":{\"roots\":{}},\"clientInfo\":{\"name\":"
                                "\"t\",\"version\":\"1\"}}}", h, &ir), 0);
    assert_int_equal(ir.status, 200);
    assert_int_equal(th_header(&ir, "Mcp-Session-Id", c.sid, sizeof c.sid), 0);
    th_resp_free(&ir);
    atomic_store(&asker_waiting, false);
    atomic_store(&asker_rc, -1);
    pthread_t ct;
    pthread_create(&ct, NULL, sess_call_main, &c);
    for (int i = 0; i < 500 && !atomic_load(&asker_waiting); i++)
        usleep(10 * 1000);
    assert_true(atomic_load(&asker_waiting));
    usleep(100 * 1000);                         /* the request is out, the handler waits */
    uint64_t t0 = mcp_now_ms();
    mcp_server_free(srv);
    uint64_t took = mcp_now_ms() - t0;
    pthread_join(ct, NULL);
    assert_true(took < 5000);                   /* was the 30 s request timeout */
    assert_int_equal(atomic_load(&asker_rc), MCP_ERR_CANCELLED);
    assert_int_equal(c.rc, 0);
    assert_int_equal(c.r.status, 200);
    assert_non_null(c.r.body);
    assert_non_null(strstr(c.r.body, "\"id\":8"));   /* its answer, not just the stream's end */
    th_resp_free(&c.r);
}

/* A deferred authentication (an introspection call taking 2 s) does not hold the shutdown past
 * its grace period; its connection is closed or answered once it returns, without an abort. */
static atomic_bool authn_done;

static mcp_status
slow_authn(mcp_request *req, void *ctx, mcp_error *err)
{
    (void)ctx;
    if (!mcp_request_can_block(req))
        return MCP_ERR_WOULD_BLOCK;
    usleep(2000 * 1000);
    atomic_store(&authn_done, true);
    return mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "token inactive");
}

static void
shutdown_bounds_the_wait_for_a_deferred_authentication(void **state)
{
    (void)state;
    call c = { .accept = "application/json" };
    mcp_server_opts so;
    mcp_server_opts_default(&so);
    so.stateless = true;
    mcp_server *srv;
    mcp_error err;
    assert_int_equal(mcp_server_new(&so, &srv, &err), MCP_OK);
    assert_int_equal(mcp_server_use(srv, MCP_PHASE_AUTHN, slow_authn, NULL, &err), MCP_OK);
    assert_int_equal(th_listen(srv, 0, 0, c.url, sizeof c.url), 0);
    th_runner rn = { srv, 300 };
    pthread_t rt, ct;
    atomic_store(&authn_done, false);
    pthread_create(&rt, NULL, th_run_main, &rn);
    pthread_create(&ct, NULL, call_main, &c);
    usleep(300 * 1000);                  /* the call is parked on its authentication */
    mcp_server_stop(srv);
    pthread_join(rt, NULL);
    assert_false(atomic_load(&authn_done));   /* the shutdown did not wait for it */
    mcp_server_free(srv);                /* joins the worker, then stops the daemon */
    assert_true(atomic_load(&authn_done));
    pthread_join(ct, NULL);
    if (c.rc == 0)                       /* answered (not closed): never a success */
        assert_true(c.r.status == 503 || c.r.status == 401);
    th_resp_free(&c.r);
}

int
main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shutdown_answers_a_post_parked_for_json),
        cmocka_unit_test(shutdown_ends_a_stateless_sse_post),
        cmocka_unit_test(free_with_a_request_in_flight),
        cmocka_unit_test(free_abandons_a_wait_on_the_client),
        cmocka_unit_test(shutdown_bounds_the_wait_for_a_deferred_authentication),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
