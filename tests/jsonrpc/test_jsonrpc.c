/* Direct unit tests for src/jsonrpc/jsonrpc.c: the strict server-side envelope parser (every
 * rejection with its JSON-RPC code and message), the envelope writers, and the lenient
 * client-side classifier. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "common/common.h"
#include "jsonrpc/jsonrpc.h"

/* Parse s; expect failure with status st, rpc code and exact message. */
static void
expect_reject(const char *s, mcp_status st, int32_t rpc, const char *msg)
{
    mcp__rpc_msg m;
    mcp_error err;
    memset(&err, 0, sizeof err);
    json_t *id = NULL;
    assert_int_equal(mcp__rpc_parse(s, strlen(s), &m, &id, &err), st);
    assert_int_equal(err.code, st);
    assert_int_equal(err.rpc_code, rpc);
    assert_string_equal(err.message, msg);
    assert_null(m.root);
    json_decref(id);
}

static void
parse_request_notification_response(void **state)
{
    (void)state;
    mcp__rpc_msg m;
    mcp_error err;
    json_t *id = NULL;
    const char *req = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"a\":1}}";
    assert_int_equal(mcp__rpc_parse(req, strlen(req), &m, &id, &err), MCP_OK);
    assert_int_equal(m.kind, MCP__RPC_REQUEST);
    assert_string_equal(m.method, "tools/call");
    assert_int_equal(json_integer_value(m.id), 7);
    assert_int_equal(json_integer_value(json_object_get(m.params, "a")), 1);
    assert_non_null(id);
    assert_int_equal(json_integer_value(id), 7);
    json_decref(id);
    mcp__rpc_msg_cleanup(&m);
    assert_null(m.root);

    const char *note = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}";
    assert_int_equal(mcp__rpc_parse(note, strlen(note), &m, NULL, &err), MCP_OK);
    assert_int_equal(m.kind, MCP__RPC_NOTIFICATION);
    assert_null(m.id);
    assert_null(m.params);
    mcp__rpc_msg_cleanup(&m);

    const char *res = "{\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"result\":{}}";
    assert_int_equal(mcp__rpc_parse(res, strlen(res), &m, NULL, &err), MCP_OK);
    assert_int_equal(m.kind, MCP__RPC_RESPONSE);
    assert_string_equal(json_string_value(m.id), "s1");
    assert_non_null(m.result);
    assert_null(m.error);
    mcp__rpc_msg_cleanup(&m);

    const char *eres = "{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-1,\"message\":\"x\"}}";
    assert_int_equal(mcp__rpc_parse(eres, strlen(eres), &m, NULL, &err), MCP_OK);
    assert_int_equal(m.kind, MCP__RPC_RESPONSE);
    assert_non_null(m.error);
    assert_null(m.result);
    mcp__rpc_msg_cleanup(&m);
}

static void
parse_rejects_not_json(void **state)
{
    (void)state;
    mcp__rpc_msg m;
    mcp_error err;
    json_t *id = (json_t *)&err; /* must be reset to NULL */
    const char *s = "{\"jsonrpc\":";
    assert_int_equal(mcp__rpc_parse(s, strlen(s), &m, &id, &err), MCP_ERR_PARSE);
    assert_int_equal(err.rpc_code, MCP_RPC_PARSE_ERROR);
    assert_int_equal(err.rpc_code, -32700);
    assert_string_equal(err.message, "parse error: unexpected token near end of file");
    assert_null(id);
    /* An empty body is not JSON; nor is trailing garbage after a valid object. */
    expect_reject("", MCP_ERR_PARSE, -32700, "parse error: unexpected token near end of file");
    s = "{\"jsonrpc\":\"2.0\",\"method\":\"ping\"} x";
    assert_int_equal(mcp__rpc_parse(s, strlen(s), &m, NULL, &err), MCP_ERR_PARSE);
    assert_int_equal(err.rpc_code, -32700);
    assert_string_equal(err.message, "parse error: end of file expected near 'x'");
}

static void
parse_rejects_duplicates(void **state)
{
    (void)state;
    mcp__rpc_msg m;
    mcp_error err;
    /* A second "method" must not be smuggled past a reader of the first. */
    const char *s = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"method\":\"tools/call\"}";
    assert_int_equal(mcp__rpc_parse(s, strlen(s), &m, NULL, &err), MCP_ERR_PARSE);
    assert_int_equal(err.rpc_code, -32700);
    assert_non_null(strstr(err.message, "duplicate object key"));
}

static void
parse_rejects_shapes(void **state)
{
    (void)state;
    const int32_t IR = MCP_RPC_INVALID_REQUEST;
    assert_int_equal(IR, -32600);
    expect_reject("[{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":1}]", MCP_ERR_PARSE, IR,
                  "invalid request: JSON-RPC batches are not supported");
    expect_reject("42", MCP_ERR_PARSE, IR, "invalid request: message is not an object");
    expect_reject("\"ping\"", MCP_ERR_PARSE, IR, "invalid request: message is not an object");
    expect_reject("{\"id\":1,\"method\":\"ping\"}", MCP_ERR_PARSE, IR,
                  "invalid request: \"jsonrpc\" must be \"2.0\"");
    expect_reject("{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}", MCP_ERR_PARSE, IR,
                  "invalid request: \"jsonrpc\" must be \"2.0\"");
    expect_reject("{\"jsonrpc\":2.0,\"id\":1,\"method\":\"ping\"}", MCP_ERR_PARSE, IR,
                  "invalid request: \"jsonrpc\" must be \"2.0\"");
    expect_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\"}", MCP_ERR_PARSE, IR,
                  "invalid request: \"method\" must be a non-empty string");
    expect_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}", MCP_ERR_PARSE, IR,
                  "invalid request: \"method\" must be a non-empty string");
    expect_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"result\":{}}", MCP_ERR_PARSE,
                  IR, "invalid request: a request cannot carry \"result\" or \"error\"");
    expect_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":[1]}",
                  MCP_ERR_PARSE, IR, "invalid request: \"params\" must be an object");
    expect_reject("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", MCP_ERR_PARSE, IR,
                  "invalid request: \"id\" must be a string or an integer");
    expect_reject("{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}", MCP_ERR_PARSE, IR,
                  "invalid request: \"id\" must be a string or an integer");
    expect_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"error\":{\"code\":1}}",
                  MCP_ERR_PARSE, IR,
                  "invalid request: a response cannot carry both \"result\" and \"error\"");
    expect_reject("{\"jsonrpc\":\"2.0\",\"result\":{}}", MCP_ERR_PARSE, IR,
                  "invalid request: a response needs a string or integer \"id\"");
    expect_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":\"boom\"}", MCP_ERR_PARSE, IR,
                  "invalid request: \"error\" must be an object with an integer \"code\"");
    expect_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":\"x\"}}", MCP_ERR_PARSE, IR,
                  "invalid request: \"error\" must be an object with an integer \"code\"");
    expect_reject("{\"jsonrpc\":\"2.0\",\"id\":1}", MCP_ERR_PARSE, IR,
                  "invalid request: missing \"method\"");
}

static void
parse_recovers_id_for_error_reply(void **state)
{
    (void)state;
    mcp__rpc_msg m;
    mcp_error err;
    json_t *id = NULL;
    const char *s = "{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"method\":\"ping\",\"params\":7}";
    assert_int_equal(mcp__rpc_parse(s, strlen(s), &m, &id, &err), MCP_ERR_PARSE);
    assert_string_equal(err.message, "invalid request: \"params\" must be an object");
    assert_non_null(id);
    assert_string_equal(json_string_value(id), "abc");
    json_decref(id);
    /* A null / fractional id is not echoed. */
    id = NULL;
    s = "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}";
    assert_int_equal(mcp__rpc_parse(s, strlen(s), &m, &id, &err), MCP_ERR_PARSE);
    assert_null(id);
}

/* Nest n arrays inside "params":{"x": ...}. */
static char *
nested(int n)
{
    mcp_buf b;
    mcp__buf_init(&b, 0);
    assert_int_equal(mcp__buf_appends(&b, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"params\":{\"x\":"), MCP_OK);
    for (int i = 0; i < n; i++)
        assert_int_equal(mcp__buf_append(&b, "[", 1), MCP_OK);
    for (int i = 0; i < n; i++)
        assert_int_equal(mcp__buf_append(&b, "]", 1), MCP_OK);
    assert_int_equal(mcp__buf_appends(&b, "}}"), MCP_OK);
    size_t len;
    return mcp__buf_steal(&b, &len);
}

static void
parse_depth_cap(void **state)
{
    (void)state;
    mcp__rpc_msg m;
    mcp_error err;
    json_t *id = NULL;
    /* root object (1) + params (2) + n arrays: 62 arrays = depth 64, the cap. */
    char *ok = nested(MCP__JSON_MAX_DEPTH - 2);
    assert_int_equal(mcp__rpc_parse(ok, strlen(ok), &m, NULL, &err), MCP_OK);
    mcp__rpc_msg_cleanup(&m);
    mcp__free(ok);
    char *deep = nested(MCP__JSON_MAX_DEPTH - 1);
    assert_int_equal(mcp__rpc_parse(deep, strlen(deep), &m, &id, &err), MCP_ERR_TOO_LARGE);
    assert_int_equal(err.rpc_code, -32600);
    assert_string_equal(err.message, "invalid request: nesting deeper than 64");
    assert_non_null(id); /* the id is still echoed */
    assert_int_equal(json_integer_value(id), 1);
    json_decref(id);
    mcp__free(deep);
}

static void
json_depth_counts(void **state)
{
    (void)state;
    json_t *v = json_loads("{\"a\":[1,{\"b\":[]}],\"c\":2}", 0, NULL);
    assert_int_equal(mcp__json_depth(v, 100), 4);
    assert_int_equal(mcp__json_depth(v, 2), 3); /* stops counting past the limit */
    json_decref(v);
    json_t *n = json_integer(3);
    assert_int_equal(mcp__json_depth(n, 10), 0);
    json_decref(n);
}

static void
writers(void **state)
{
    (void)state;
    size_t len = 0;
    json_t *id = json_integer(5);
    char *s = mcp__rpc_result(id, json_pack("{s:b}", "ok", 1), &len);
    assert_string_equal(s, "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"ok\":true}}");
    assert_int_equal(len, strlen(s));
    mcp__free(s);
    assert_null(mcp__rpc_result(id, NULL, &len));

    s = mcp__rpc_error(id, -32602, "bad \"x\"", json_pack("{s:s}", "path", "/x"), &len);
    json_t *back = json_loads(s, 0, NULL);
    assert_non_null(back);
    assert_int_equal(json_integer_value(json_object_get(back, "id")), 5);
    json_t *e = json_object_get(back, "error");
    assert_int_equal(json_integer_value(json_object_get(e, "code")), -32602);
    assert_string_equal(json_string_value(json_object_get(e, "message")), "bad \"x\"");
    assert_string_equal(json_string_value(json_object_get(json_object_get(e, "data"), "path")), "/x");
    json_decref(back);
    mcp__free(s);

    /* No id recovered: "id":null, and no "data" member. */
    s = mcp__rpc_error(NULL, -32700, "parse error", NULL, &len);
    back = json_loads(s, 0, NULL);
    assert_true(json_is_null(json_object_get(back, "id")));
    assert_null(json_object_get(json_object_get(back, "error"), "data"));
    assert_string_equal(json_string_value(json_object_get(back, "jsonrpc")), "2.0");
    json_decref(back);
    mcp__free(s);

    /* 2026-07-28 has no null id: without one the member is left out; with one it is the same
     * envelope as mcp__rpc_error, data included (and stolen either way) */
    s = mcp__rpc_error_noid(NULL, -32600, "invalid request", NULL, &len);
    assert_string_equal(s, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,"
                           "\"message\":\"invalid request\"}}");
    assert_int_equal(len, strlen(s));
    mcp__free(s);
    s = mcp__rpc_error_noid(NULL, -32602, "bad", json_pack("{s:i}", "n", 1), &len);
    assert_string_equal(s, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32602,\"message\":\"bad\","
                           "\"data\":{\"n\":1}}}");
    mcp__free(s);
    s = mcp__rpc_error_noid(id, -32602, "bad", json_pack("{s:i}", "n", 2), &len);
    assert_string_equal(s, "{\"jsonrpc\":\"2.0\",\"id\":5,\"error\":{\"code\":-32602,"
                           "\"message\":\"bad\",\"data\":{\"n\":2}}}");
    mcp__free(s);

    s = mcp__rpc_notification("notifications/progress", NULL, &len);
    assert_string_equal(s, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}");
    mcp__free(s);
    s = mcp__rpc_request(id, "ping", json_object(), &len);
    back = json_loads(s, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(back, "id")), 5);
    assert_string_equal(json_string_value(json_object_get(back, "method")), "ping");
    assert_true(json_is_object(json_object_get(back, "params")));
    json_decref(back);
    mcp__free(s);

    /* What the writers produce, the strict parser accepts. */
    mcp__rpc_msg m;
    mcp_error err;
    s = mcp__rpc_request(id, "tools/list", NULL, &len);
    assert_int_equal(mcp__rpc_parse(s, len, &m, NULL, &err), MCP_OK);
    assert_int_equal(m.kind, MCP__RPC_REQUEST);
    mcp__rpc_msg_cleanup(&m);
    mcp__free(s);
    json_decref(id);

    json_t *str = json_string("h\xc3\xa9");
    s = mcp__json_dump(str, &len);
    assert_string_equal(s, "\"h\xc3\xa9\"");
    assert_int_equal(len, 5);
    mcp__free(s);
    json_decref(str);
}

static void
classify_lenient(void **state)
{
    (void)state;
    mcp__rpc_msg m;
    json_t *v = json_loads("{\"method\":\"sampling/createMessage\",\"id\":9,\"params\":[1]}", 0, NULL);
    assert_int_equal(mcp__rpc_classify(v, &m), MCP_OK);
    assert_int_equal(m.kind, MCP__RPC_REQUEST);
    assert_null(m.root);
    assert_true(json_is_array(m.params)); /* any params type is routed */
    json_decref(v);

    v = json_loads("{\"method\":\"notifications/message\",\"id\":null}", 0, NULL);
    assert_int_equal(mcp__rpc_classify(v, &m), MCP_OK);
    assert_int_equal(m.kind, MCP__RPC_NOTIFICATION);
    assert_null(m.id);
    json_decref(v);

    v = json_loads("{\"id\":4}", 0, NULL);
    assert_int_equal(mcp__rpc_classify(v, &m), MCP_OK);
    assert_int_equal(m.kind, MCP__RPC_RESPONSE);
    assert_null(m.result);
    assert_null(m.error);
    json_decref(v);

    v = json_loads("{\"result\":{}}", 0, NULL);
    assert_int_equal(mcp__rpc_classify(v, &m), MCP_ERR_PARSE);
    json_decref(v);
    v = json_loads("[1]", 0, NULL);
    assert_int_equal(mcp__rpc_classify(v, &m), MCP_ERR_PARSE);
    json_decref(v);
}

static void
response_matching_and_error_parts(void **state)
{
    (void)state;
    json_t *r = json_loads("{\"id\":3,\"result\":{}}", 0, NULL);
    assert_true(mcp__rpc_is_response_to(r, 3));
    assert_false(mcp__rpc_is_response_to(r, 4));
    json_decref(r);
    r = json_loads("{\"id\":\"3\",\"result\":{}}", 0, NULL);
    assert_false(mcp__rpc_is_response_to(r, 3)); /* string id never matches our integer */
    json_decref(r);
    r = json_loads("{\"id\":3}", 0, NULL);
    assert_false(mcp__rpc_is_response_to(r, 3)); /* neither result nor error */
    json_decref(r);
    r = json_loads("{\"id\":3,\"method\":\"x\",\"result\":1}", 0, NULL);
    assert_false(mcp__rpc_is_response_to(r, 3)); /* a request with our id is not an answer */
    json_decref(r);

    json_int_t code;
    const char *msg;
    json_t *e = json_loads("{\"code\":-32601,\"message\":\"Method not found\"}", 0, NULL);
    mcp__rpc_error_parts(e, &code, &msg);
    assert_int_equal(code, -32601);
    assert_string_equal(msg, "Method not found");
    json_decref(e);
    e = json_loads("{\"code\":\"x\",\"message\":7}", 0, NULL);
    mcp__rpc_error_parts(e, &code, &msg);
    assert_int_equal(code, -32603);
    assert_null(msg);
    json_decref(e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_request_notification_response),
        cmocka_unit_test(parse_rejects_not_json),
        cmocka_unit_test(parse_rejects_duplicates),
        cmocka_unit_test(parse_rejects_shapes),
        cmocka_unit_test(parse_recovers_id_for_error_reply),
        cmocka_unit_test(parse_depth_cap),
        cmocka_unit_test(json_depth_counts),
        cmocka_unit_test(writers),
        cmocka_unit_test(classify_lenient),
        cmocka_unit_test(response_matching_and_error_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
