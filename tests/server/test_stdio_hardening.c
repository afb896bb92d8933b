/*
 * Two reviewer findings of issue 11, over the stdio transport:
 *   - mcp_ctx_set_result_take() freed the old result while the context still pointed into its
 *     content list: a later mcp_ctx_add_* / mcp_ctx_set_error_result touched freed memory and
 *     the added content never reached the response (run under ASan to see the use-after-free);
 *   - the stdio session was reaped after session_idle_s although in use: only the HTTP owner
 *     check refreshed its activity.
 */
#include "stdio_harness.h"

#include <poll.h>

/* One line from the server within 5 s, or NULL. */
static char *
read_line(fixture *f, char *line, size_t cap)
{
    struct pollfd p = { .fd = fileno(f->in), .events = POLLIN };
    if (poll(&p, 1, 5000) <= 0 || fgets(line, (int)cap, f->in) == NULL)
        return NULL;
    return line;
}

static mcp_status
custom_then_add(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    json_t *res = json_pack("{s:[{s:s, s:s}], s:{s:i}}", "content", "type", "text", "text",
                            "first", "_meta", "n", 1);
    mcp_status rc = mcp_ctx_set_result_take(ctx, res, err);
    if (rc == MCP_OK)
        rc = mcp_ctx_add_text(ctx, "added-after", err);
    if (rc == MCP_OK)
        rc = mcp_ctx_set_error_result(ctx, "error-after", err);
    return rc;
}

static mcp_status
custom_without_content(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    mcp_status rc = mcp_ctx_set_result_take(ctx, json_pack("{s:b}", "isError", 0), err);
    return rc == MCP_OK ? mcp_ctx_add_text(ctx, "into-new-list", err) : rc;
}

static fixture *
start(unsigned idle_s)
{
    fixture *f = calloc(1, sizeof *f);
    mcp_server_opts so;
    mcp_server_opts_default(&so);
    so.session_idle_s = idle_s;
    mcp_error err;
    static const mcp_tool_def a = { .name = "a", .description = "custom result, then adds",
                                    .access = { .any_authenticated = true },
                                    .handler = custom_then_add };
    static const mcp_tool_def b = { .name = "b", .description = "custom result, no content",
                                    .access = { .any_authenticated = true },
                                    .handler = custom_without_content };
    assert_int_equal(mcp_server_new(&so, &f->srv, &err), MCP_OK);
    assert_int_equal(mcp_server_add_tool(f->srv, &a, NULL, &err), MCP_OK);
    assert_int_equal(mcp_server_add_tool(f->srv, &b, NULL, &err), MCP_OK);
    assert_int_equal(stdio_fixture_start(f), 0);
    char line[4096];
    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                 "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
                 "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}");
    assert_non_null(read_line(f, line, sizeof line));
    send_line(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    return f;
}

static void
set_result_take_keeps_later_content(void **state)
{
    (void)state;
    fixture *f = start(0);
    char line[4096];
    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\","
                 "\"params\":{\"name\":\"a\",\"arguments\":{}}}");
    assert_non_null(read_line(f, line, sizeof line));
    json_t *v = json_loads(line, 0, NULL);
    assert_non_null(v);
    json_t *content = json_object_get(json_object_get(v, "result"), "content");
    assert_int_equal(json_array_size(content), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(content, 0), "text")),
                        "first");
    assert_string_equal(json_string_value(json_object_get(json_array_get(content, 1), "text")),
                        "added-after");
    assert_string_equal(json_string_value(json_object_get(json_array_get(content, 2), "text")),
                        "error-after");
    assert_true(json_is_true(json_object_get(json_object_get(v, "result"), "isError")));
    json_decref(v);
    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\","
                 "\"params\":{\"name\":\"b\",\"arguments\":{}}}");
    assert_non_null(read_line(f, line, sizeof line));
    assert_non_null(strstr(line, "into-new-list"));
    stdio_fixture_stop(f);
}

static void
stdio_session_in_use_is_not_reaped(void **state)
{
    (void)state;
    fixture *f = start(1);                        /* session_idle_s = 1 */
    char line[4096];
    for (int i = 0; i < 10; i++) {                /* 3 s of use, a message every 300 ms */
        usleep(300 * 1000);
        send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"ping\"}");
        assert_non_null(read_line(f, line, sizeof line));
    }
    /* the session is still there: a list change reaches it */
    mcp_server_notify_list_changed(f->srv, "tools");
    assert_non_null(read_line(f, line, sizeof line));
    assert_non_null(strstr(line, "notifications/tools/list_changed"));
    stdio_fixture_stop(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(set_result_take_keeps_later_content),
        cmocka_unit_test(stdio_session_in_use_is_not_reaped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
