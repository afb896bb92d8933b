/*
 * Protocol features over the stdio transport (no HTTP in the way): pagination cursors,
 * cancellation, subscriptions and resources/updated, list_changed, prompts and completion,
 * logging levels, resource templates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <mcp/mcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stdio_harness.h"

static atomic_int cancelled_seen;

static mcp_status
noop(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    return mcp_ctx_add_text(ctx, mcp_ctx_target(ctx), err);
}

static mcp_status
waits(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    for (int i = 0; i < 300 && !mcp_ctx_is_cancelled(ctx); i++)
        usleep(10000);
    if (mcp_ctx_is_cancelled(ctx))
        atomic_store(&cancelled_seen, 1);
    return mcp_ctx_add_text(ctx, "finished", err);
}

static mcp_status
logs(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    mcp_ctx_log(ctx, MCP_LOG_DEBUG, NULL, "debug line", err);
    mcp_ctx_log(ctx, MCP_LOG_ERROR, NULL, "error line", err);
    return mcp_ctx_add_text(ctx, "logged", err);
}

static mcp_status
structured(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    return mcp_ctx_set_structured_take(ctx, json_pack("{s:i}", "sum", 3), err);
}

static mcp_status
item(mcp_ctx *ctx, const char *uri, void *u, mcp_error *err)
{
    (void)u;
    char buf[128];
    snprintf(buf, sizeof buf, "item %s", mcp_ctx_uri_var(ctx, "id"));
    return mcp_ctx_add_resource_text(ctx, uri, "text/plain", buf, err);
}

static mcp_status
greet(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    char buf[128];
    snprintf(buf, sizeof buf, "hello %s", mcp_ctx_arg_str(ctx, "who"));
    return mcp_ctx_add_prompt_message_take(ctx, "user",
                                           json_pack("{s:s, s:s}", "type", "text", "text", buf),
                                           err);
}

static mcp_status
complete(mcp_ctx *ctx, const char *rt, const char *rn, const char *an, const char *av, void *u,
         mcp_error *err)
{
    (void)rt;
    (void)rn;
    (void)an;
    (void)u;
    static const char *const names[] = { "alice", "albert", "bob", NULL };
    for (const char *const *n = names; *n; n++)
        if (strncmp(*n, av, strlen(av)) == 0 && mcp_ctx_add_completion(ctx, *n, err) != MCP_OK)
            return err->code;
    return MCP_OK;
}

static json_t *read_msg(fixture *f);

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    mcp_error err;
    if (mcp_server_new(NULL, &f->srv, &err) != MCP_OK)
        return -1;
    char names[150][16];
    for (int i = 0; i < 150; i++) {
        snprintf(names[i], sizeof names[i], "tool%03d", i);
        mcp_tool_def d = { .name = names[i], .description = "numbered tool",
                           .access = { .any_authenticated = true }, .handler = noop };
        if (mcp_server_add_tool(f->srv, &d, NULL, &err) != MCP_OK)
            return -1;
    }
    mcp_tool_def w = { .name = "waits", .description = "waits until cancelled",
                       .access = { .any_authenticated = true }, .handler = waits };
    mcp_tool_def l = { .name = "logs", .description = "logs at debug and error",
                       .access = { .any_authenticated = true }, .handler = logs };
    mcp_tool_def s = { .name = "structured", .description = "structured output",
                       .output_schema = "{\"type\":\"object\",\"properties\":{\"sum\":"
                                        "{\"type\":\"integer\"}}}",
                       .access = { .any_authenticated = true }, .handler = structured };
    mcp_resource_def r = { .uri_template = "items://{id}", .name = "item",
                           .access = { .any_authenticated = true }, .handler = item };
    mcp_resource_def r2 = { .uri = "items://fixed", .name = "fixed",
                            .access = { .any_authenticated = true }, .handler = item };
    static const mcp_prompt_arg pa[] = { { "who", "whom to greet", true }, { 0 } };
    mcp_prompt_def p = { .name = "greet", .description = "greets", .args = pa,
                         .access = { .any_authenticated = true }, .handler = greet };
    mcp_tool_def nopolicy = { .name = "oops", .description = "forgot its access rule",
                              .handler = noop };
    assert_int_equal(mcp_server_add_tool(f->srv, &nopolicy, NULL, &err), MCP_ERR_INVALID_ARG);
    if (mcp_server_add_tool(f->srv, &w, NULL, &err) != MCP_OK ||
        mcp_server_add_tool(f->srv, &l, NULL, &err) != MCP_OK ||
        mcp_server_add_tool(f->srv, &s, NULL, &err) != MCP_OK ||
        mcp_server_add_resource(f->srv, &r, NULL, &err) != MCP_OK ||
        mcp_server_add_resource(f->srv, &r2, NULL, &err) != MCP_OK ||
        mcp_server_add_prompt(f->srv, &p, NULL, &err) != MCP_OK)
        return -1;
    mcp_server_set_completer(f->srv, complete, NULL);
    if (stdio_fixture_start(f) != 0)
        return -1;
    *state = f;
    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{"
                 "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
                 "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}");
    json_decref(read_msg(f));
    return 0;
}

static int
teardown(void **state)
{
    stdio_fixture_stop(*state);
    return 0;
}

static json_t *
read_msg(fixture *f)
{
    struct pollfd p = { .fd = f->from_srv[0], .events = POLLIN };
    static char line[1 << 20];
    if (poll(&p, 1, 5000) <= 0 || fgets(line, sizeof line, f->in) == NULL)
        return NULL;
    return json_loads(line, 0, NULL);
}

static json_t *
result_of(json_t *m)
{
    return json_object_get(m, "result");
}

static void
protocol_paginates_tools_list(void **state)
{
    fixture *f = *state;
    size_t total = 0;
    char req[512];
    char cursor[256] = "";
    for (int page = 0; page < 10; page++) {
        if (cursor[0])
            snprintf(req, sizeof req, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/list\","
                     "\"params\":{\"cursor\":\"%s\"}}", page + 1, cursor);
        else
            snprintf(req, sizeof req, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/list\"}",
                     page + 1);
        send_line(f, req);
        json_t *m = read_msg(f);
        json_t *r = result_of(m);
        size_t n = json_array_size(json_object_get(r, "tools"));
        assert_true(n > 0 && n <= 100);
        if (page == 0)
            assert_string_equal(json_string_value(json_object_get(
                json_array_get(json_object_get(r, "tools"), 0), "name")), "tool000");
        total += n;
        const char *next = json_string_value(json_object_get(r, "nextCursor"));
        snprintf(cursor, sizeof cursor, "%s", next ? next : "");
        json_decref(m);
        if (!cursor[0])
            break;
    }
    assert_int_equal(total, 153);                  /* 150 numbered + waits + logs + structured */
    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":99,\"method\":\"tools/list\",\"params\":{"
                 "\"cursor\":\"bm9wZQ\"}}");        /* base64url("nope") */
    json_t *m = read_msg(f);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "error"), "code")),
                     -32602);
    json_decref(m);
}

static void
protocol_cancellation_suppresses_response(void **state)
{
    fixture *f = *state;
    atomic_store(&cancelled_seen, 0);
    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":\"w1\",\"method\":\"tools/call\",\"params\":{"
                 "\"name\":\"waits\"}}");
    usleep(50000);
    send_line(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{"
                 "\"requestId\":\"w1\",\"reason\":\"user\"}}");
    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":\"p1\",\"method\":\"ping\"}");
    json_t *m = read_msg(f);
    assert_string_equal(json_string_value(json_object_get(m, "id")), "p1");
    json_decref(m);
    for (int i = 0; i < 100 && !atomic_load(&cancelled_seen); i++)
        usleep(10000);
    assert_int_equal(atomic_load(&cancelled_seen), 1);
    /* no response for w1 may follow: the next message is the answer to p2 */
    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":\"p2\",\"method\":\"ping\"}");
    m = read_msg(f);
    assert_string_equal(json_string_value(json_object_get(m, "id")), "p2");
    json_decref(m);
}

static void
protocol_subscribe_gets_updates(void **state)
{
    fixture *f = *state;
    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/subscribe\",\"params\":{"
                 "\"uri\":\"items://42\"}}");
    json_t *m = read_msg(f);
    assert_true(json_is_object(result_of(m)));
    json_decref(m);
    mcp_server_notify_resource_updated(f->srv, "items://42");
    mcp_server_notify_resource_updated(f->srv, "items://43");     /* not subscribed */
    mcp_server_notify_list_changed(f->srv, "tools");
    m = read_msg(f);
    assert_string_equal(json_string_value(json_object_get(m, "method")),
                        "notifications/resources/updated");
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "params"), "uri")),
                        "items://42");
    json_decref(m);
    m = read_msg(f);
    assert_string_equal(json_string_value(json_object_get(m, "method")),
                        "notifications/tools/list_changed");
    json_decref(m);
    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/subscribe\",\"params\":{"
                 "\"uri\":\"nothing://here\"}}");
    m = read_msg(f);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "error"), "code")),
                     -32002);
    json_decref(m);
}

static void
protocol_templates_prompts_completion(void **state)
{
    fixture *f = *state;
    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/read\",\"params\":{"
                 "\"uri\":\"items://7\"}}");
    json_t *m = read_msg(f);
    json_t *c0 = json_array_get(json_object_get(result_of(m), "contents"), 0);
    assert_string_equal(json_string_value(json_object_get(c0, "text")), "item 7");
    json_decref(m);
    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/templates/list\"}");
    m = read_msg(f);
    json_t *t = json_object_get(result_of(m), "resourceTemplates");
    assert_int_equal(json_array_size(t), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(t, 0), "uriTemplate")),
                        "items://{id}");
    json_decref(m);
    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"prompts/get\",\"params\":{"
                 "\"name\":\"greet\"}}");
    m = read_msg(f);                                  /* required argument missing */
    assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "error"), "code")),
                     -32602);
    json_decref(m);
    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"prompts/get\",\"params\":{"
                 "\"name\":\"greet\",\"arguments\":{\"who\":\"ann\"}}}");
    m = read_msg(f);
    json_t *msg0 = json_array_get(json_object_get(result_of(m), "messages"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(msg0, "content"),
                                                          "text")), "hello ann");
    json_decref(m);
    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"completion/complete\",\"params\":{"
                 "\"ref\":{\"type\":\"ref/prompt\",\"name\":\"greet\"},"
                 "\"argument\":{\"name\":\"who\",\"value\":\"al\"}}}");
    m = read_msg(f);
    json_t *comp = json_object_get(result_of(m), "completion");
    assert_int_equal(json_array_size(json_object_get(comp, "values")), 2);
    assert_int_equal(json_integer_value(json_object_get(comp, "total")), 2);
    json_decref(m);
}

static void
protocol_log_level_filters_and_structured_output(void **state)
{
    fixture *f = *state;
    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"logging/setLevel\",\"params\":{"
                 "\"level\":\"warning\"}}");
    json_t *m = read_msg(f);
    assert_int_equal(json_object_size(result_of(m)), 0);
    json_decref(m);
    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{"
                 "\"name\":\"logs\"}}");
    m = read_msg(f);                                  /* only the error line passes */
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "params"), "data")),
                        "error line");
    json_decref(m);
    m = read_msg(f);
    assert_int_equal(json_integer_value(json_object_get(m, "id")), 2);
    json_decref(m);
    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{"
                 "\"name\":\"structured\"}}");
    m = read_msg(f);
    json_t *r = result_of(m);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "structuredContent"),
                                                        "sum")), 3);
    json_t *c0 = json_array_get(json_object_get(r, "content"), 0);
    assert_string_equal(json_string_value(json_object_get(c0, "text")), "{\"sum\":3}");
    json_decref(m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(protocol_paginates_tools_list, setup, teardown),
        cmocka_unit_test_setup_teardown(protocol_cancellation_suppresses_response, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(protocol_subscribe_gets_updates, setup, teardown),
        cmocka_unit_test_setup_teardown(protocol_templates_prompts_completion, setup, teardown),
        cmocka_unit_test_setup_teardown(protocol_log_level_filters_and_structured_output, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
