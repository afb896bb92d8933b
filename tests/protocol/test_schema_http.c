/*
 * tools/call over real HTTP on loopback: arguments that break the tool's inputSchema deep
 * inside (a nested array item) get JSON-RPC -32602 naming the instance path, and the handler
 * never runs; valid arguments reach it. A tool whose schema does not compile is refused at
 * registration with the schema path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "server/harness.h"

#include <stdatomic.h>

static mcp_server *srv;
static char url[128];
static atomic_int calls;

static const char *const HDRS[] = { "Content-Type: application/json",
                                    "Accept: application/json, text/event-stream",
                                    "MCP-Protocol-Version: 2025-06-18", NULL };

static const char ORDER_SCHEMA[] =
    "{\"type\":\"object\",\"$defs\":{\"sku\":{\"type\":\"string\",\"pattern\":\"^[A-Z]{3}-\\\\d+$\"}},"
    "\"properties\":{\"items\":{\"type\":\"array\",\"minItems\":1,\"items\":{\"type\":\"object\","
    "\"properties\":{\"sku\":{\"$ref\":\"#/$defs/sku\"},\"qty\":{\"type\":\"integer\",\"minimum\":1}},"
    "\"required\":[\"sku\",\"qty\"],\"additionalProperties\":false}},"
    "\"priority\":{\"enum\":[\"low\",\"high\"]}},\"required\":[\"items\"]}";

static mcp_status
order(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    atomic_fetch_add(&calls, 1);
    return mcp_ctx_add_text(ctx, "ordered", err);
}

static int
start(void **state)
{
    (void)state;
    mcp_server_opts so;
    mcp_server_opts_default(&so);
    so.stateless = true;
    mcp_error err;
    static const mcp_tool_def d = { .name = "order", .description = "place an order",
                                    .input_schema = ORDER_SCHEMA,
                                    .access = { .any_authenticated = true }, .handler = order };
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
call(const char *args, http_resp *r)
{
    char body[1024];
    snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\","
             "\"params\":{\"name\":\"order\",\"arguments\":%s}}", args);
    assert_int_equal(th_request("POST", url, body, HDRS, r), 0);
    assert_int_equal(r->status, 200);
}

static void
expect_error(const char *args, const char *message)
{
    int before = atomic_load(&calls);
    http_resp r;
    call(args, &r);
    json_t *m = json_loads(r.body, 0, NULL);
    assert_non_null(m);
    json_t *e = json_object_get(m, "error");
    assert_non_null(e);
    assert_int_equal(json_integer_value(json_object_get(e, "code")), -32602);
    assert_string_equal(json_string_value(json_object_get(e, "message")), message);
    json_decref(m);
    th_resp_free(&r);
    assert_int_equal(atomic_load(&calls), before);       /* the handler did not run */
}

static void
nested_bad_argument_is_32602_with_path(void **state)
{
    (void)state;
    expect_error("{\"items\":[{\"sku\":\"ABC-1\",\"qty\":1},{\"sku\":\"ABC-2\",\"qty\":2},"
                 "{\"sku\":\"ABC-3\",\"qty\":\"3\"}]}",
                 "arguments/items/2/qty: expected integer");
    expect_error("{\"items\":[{\"sku\":\"abc-1\",\"qty\":1}]}",
                 "arguments/items/0/sku: does not match the pattern");
    expect_error("{\"items\":[{\"sku\":\"ABC-1\",\"qty\":0}]}",
                 "arguments/items/0/qty: less than minimum 1");
    expect_error("{\"items\":[{\"sku\":\"ABC-1\",\"qty\":1,\"price\":0}]}",
                 "arguments/items/0: unexpected property 'price'");
    expect_error("{\"items\":[]}", "arguments/items: fewer than minItems 1 items");
    expect_error("{\"items\":[{\"sku\":\"ABC-1\",\"qty\":1}],\"priority\":\"urgent\"}",
                 "arguments/priority: not one of the enum values");
    expect_error("{}", "arguments: missing required property 'items'");
}

static void
valid_arguments_reach_the_handler(void **state)
{
    (void)state;
    int before = atomic_load(&calls);
    http_resp r;
    call("{\"items\":[{\"sku\":\"ABC-1\",\"qty\":2}],\"priority\":\"high\"}", &r);
    assert_non_null(strstr(r.body, "\"ordered\""));
    assert_null(strstr(r.body, "\"error\""));
    th_resp_free(&r);
    assert_int_equal(atomic_load(&calls), before + 1);
}

static void
bad_schema_is_a_registration_error(void **state)
{
    (void)state;
    mcp_server *s2;
    mcp_error err;
    assert_int_equal(mcp_server_new(NULL, &s2, &err), MCP_OK);
    mcp_tool_def d = { .name = "bad", .description = "bad schema",
                       .input_schema = "{\"type\":\"object\",\"properties\":{\"q\":"
                                       "{\"type\":\"string\",\"pattern\":\"(?<=x)y\"}}}",
                       .access = { .any_authenticated = true }, .handler = order };
    assert_int_equal(mcp_server_add_tool(s2, &d, NULL, &err), MCP_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "tool 'bad': inputSchema/properties/q/pattern: "));
    d.input_schema = "{\"type\":\"object\"}";
    d.output_schema = "{\"type\":\"object\",\"properties\":{\"n\":{\"$ref\":\"#/$defs/none\"}}}";
    assert_int_equal(mcp_server_add_tool(s2, &d, NULL, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "tool 'bad': outputSchema/properties/n/$ref: "
                                     "'#/$defs/none' does not resolve in this document");
    mcp_server_free(s2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nested_bad_argument_is_32602_with_path),
        cmocka_unit_test(valid_arguments_reach_the_handler),
        cmocka_unit_test(bad_schema_is_a_registration_error),
    };
    return cmocka_run_group_tests(tests, start, stop);
}
