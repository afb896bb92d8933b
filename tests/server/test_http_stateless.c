/* Stateless mode: no sessions, every POST stands alone, GET and DELETE answer 405. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness.h"

static mcp_server *srv;
static char url[128];

static const char *const HDRS[] = { "Content-Type: application/json",
                                    "Accept: application/json, text/event-stream",
                                    "MCP-Protocol-Version: 2025-06-18", NULL };

static mcp_status
echo(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    return mcp_ctx_add_text(ctx, mcp_ctx_arg_str(ctx, "text"), err);
}

static int
start(void **state)
{
    (void)state;
    mcp_server_opts so;
    mcp_server_opts_default(&so);
    so.stateless = true;
    mcp_error err;
    static const mcp_tool_def d = { .name = "echo", .description = "echo",
                                    .access = { .any_authenticated = true }, .handler = echo };
    if (mcp_server_new(&so, &srv, &err) != MCP_OK || mcp_server_add_tool(srv, &d, NULL, &err))
        return -1;
    return th_listen(srv, 0, 0, url, sizeof url);
}

static int
stop(void **state)
{
    (void)state;
    mcp_server_free(srv);
    return 0;
}

static void
stateless_call_without_initialize(void **state)
{
    (void)state;
    http_resp r;
    th_request("POST", url, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{"
               "\"name\":\"echo\",\"arguments\":{\"text\":\"hi\"}}}", HDRS, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"text\":\"hi\""));
    th_resp_free(&r);
}

static void
stateless_initialize_has_no_session(void **state)
{
    (void)state;
    http_resp r;
    th_request("POST", url, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
               "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
               "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}", HDRS, &r);
    assert_int_equal(r.status, 200);
    char v[64];
    assert_int_equal(th_header(&r, "Mcp-Session-Id", v, sizeof v), -1);
    th_resp_free(&r);
}

static void
stateless_get_and_delete_are_405(void **state)
{
    (void)state;
    http_resp r;
    const char *acc[] = { "Accept: text/event-stream", NULL };
    th_request("GET", url, NULL, acc, &r);
    assert_int_equal(r.status, 405);
    th_resp_free(&r);
    th_request("DELETE", url, NULL, HDRS, &r);
    assert_int_equal(r.status, 405);
    th_resp_free(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stateless_call_without_initialize),
        cmocka_unit_test(stateless_initialize_has_no_session),
        cmocka_unit_test(stateless_get_and_delete_are_405),
    };
    return cmocka_run_group_tests(tests, start, stop);
}
