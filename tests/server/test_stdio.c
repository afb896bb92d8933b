/* The stdio transport: newline-delimited JSON-RPC over pipes, errors per line, nothing on stdout
 * but protocol messages; its framing (split reads, CRLF, blank lines, the 4 MiB line cap). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <mcp/mcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stdio_harness.h"

static mcp_status
ask(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    json_t *res = NULL;
    mcp_status rc = mcp_ctx_request(ctx, "roots/list", NULL, 2000, &res, err);
    if (rc != MCP_OK)
        return mcp_ctx_set_error_result(ctx, "no roots", err);
    char buf[256];
    snprintf(buf, sizeof buf, "roots: %zu", json_array_size(json_object_get(res, "roots")));
    json_decref(res);
    return mcp_ctx_add_text(ctx, buf, err);
}

static mcp_status
secret_tool(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    return mcp_ctx_add_text(ctx, "should never run", err);
}

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    mcp_error err;
    static const char *const admin[] = { "Admin.Write", NULL };
    static const mcp_tool_def ask_def = { .name = "ask", .description = "asks for roots",
                                          .access = { .any_authenticated = true },
                                          .handler = ask };
    static const mcp_tool_def secret_def = { .name = "secret", .description = "admins only",
                                             .access = { .any_of_perms = admin },
                                             .handler = secret_tool };
    if (mcp_server_new(NULL, &f->srv, &err) != MCP_OK ||
        mcp_server_add_tool(f->srv, &ask_def, NULL, &err) != MCP_OK ||
        mcp_server_add_tool(f->srv, &secret_def, NULL, &err) != MCP_OK)
        return -1;
    if (stdio_fixture_start(f) != 0)
        return -1;
    *state = f;
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
    char line[65536];
    if (poll(&p, 1, 5000) <= 0 || fgets(line, sizeof line, f->in) == NULL)
        return NULL;
    return json_loads(line, 0, NULL);
}

static int
error_code(json_t *m)
{
    return (int)json_integer_value(json_object_get(json_object_get(m, "error"), "code"));
}

static void
stdio_full_exchange(void **state)
{
    fixture *f = *state;
    json_t *m;

    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    m = read_msg(f);
    assert_non_null(m);
    assert_int_equal(error_code(m), -32004);                /* before initialize: refused */
    json_decref(m);

    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"initialize\",\"params\":{"
                 "\"protocolVersion\":\"2025-06-18\",\"capabilities\":{\"roots\":{}},"
                 "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}");
    m = read_msg(f);
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "result"),
                                                          "protocolVersion")), "2025-06-18");
    json_decref(m);
    send_line(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");

    send_line(f, "this is not json");
    m = read_msg(f);
    assert_int_equal(error_code(m), -32700);
    assert_true(json_is_null(json_object_get(m, "id")));
    json_decref(m);

    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\"}");
    m = read_msg(f);
    json_t *tools = json_object_get(json_object_get(m, "result"), "tools");
    assert_int_equal(json_array_size(tools), 1);            /* 'secret' is hidden */
    assert_string_equal(json_string_value(json_object_get(json_array_get(tools, 0), "name")),
                        "ask");
    json_decref(m);

    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{"
                 "\"name\":\"secret\"}}");
    m = read_msg(f);
    assert_int_equal(error_code(m), -32003);                /* forbidden, as a JSON-RPC error */
    json_decref(m);

    /* server -> client request: the handler asks for roots, we answer, it finishes */
    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{"
                 "\"name\":\"ask\"}}");
    m = read_msg(f);
    assert_string_equal(json_string_value(json_object_get(m, "method")), "roots/list");
    char reply[256];
    snprintf(reply, sizeof reply, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"roots\":["
             "{\"uri\":\"file:///a\"},{\"uri\":\"file:///b\"}]}}",
             (long long)json_integer_value(json_object_get(m, "id")));
    json_decref(m);
    send_line(f, reply);
    m = read_msg(f);
    assert_int_equal(json_integer_value(json_object_get(m, "id")), 5);
    json_t *c0 = json_array_get(json_object_get(json_object_get(m, "result"), "content"), 0);
    assert_string_equal(json_string_value(json_object_get(c0, "text")), "roots: 2");
    json_decref(m);
}

static void
write_raw(fixture *f, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(f->to_srv[1], s, n);
        assert_true(w > 0);
        s += w;
        n -= (size_t)w;
    }
}

static void
expect_pong(fixture *f, int id)
{
    json_t *m = read_msg(f);
    if (m == NULL)
        fail_msg("no answer to ping %d", id);
    if (json_integer_value(json_object_get(m, "id")) != id ||
        !json_is_object(json_object_get(m, "result")))
        fail_msg("want the result of ping %d, got %s", id, json_dumps(m, JSON_COMPACT));
    json_decref(m);
}

/* The framing of src/transport/stdio.c: a message split across reads, CRLF and trailing blanks,
 * blank lines ignored, a notification never answered, and a line over the 4 MiB cap answered
 * once with "message exceeds the size limit" and dropped up to its newline (its tail is not
 * parsed as a message of its own), the next line served. */
static void
stdio_framing_and_size_cap(void **state)
{
    fixture *f = *state;
    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                 "\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},"
                 "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}");
    json_t *m = read_msg(f);
    assert_non_null(json_object_get(m, "result"));
    json_decref(m);
    send_line(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");

    static const char part1[] = "{\"jsonrpc\":\"2.0\",\"id\":2,\"met";
    write_raw(f, part1, sizeof part1 - 1);
    struct pollfd p = { .fd = f->from_srv[0], .events = POLLIN };
    assert_int_equal(poll(&p, 1, 100), 0);            /* half a line: nothing yet */
    write_raw(f, "hod\":\"ping\"}\n", 13);
    expect_pong(f, 2);

    static const char blanks[] = "\n\r\n   \n \r\n"
                                 "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}\r\n"
                                 "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\"}  \n"
                                 "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/no_such\"}\n"
                                 "{\"jsonrpc\":\"2.0\",\"method\":\"ping\"}\n"
                                 "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"ping\"}\n";
    write_raw(f, blanks, sizeof blanks - 1);
    expect_pong(f, 3);
    expect_pong(f, 4);
    expect_pong(f, 5);                                 /* nothing for the notifications */

    /* 4 MiB + 256 KiB in one line, a request that would be valid but for its size: the
     * server reads at most 64 KiB at a time, so the cap is crossed several reads before the
     * newline, and what follows must be dropped too */
    size_t big = (4u << 20) + (256u << 10);
    char *line = malloc(big + 1);
    assert_non_null(line);
    static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"ping\",\"params\":{"
                               "\"_meta\":{\"pad\":\"";
    memcpy(line, head, sizeof head - 1);
    memset(line + sizeof head - 1, 'x', big - (sizeof head - 1));
    memcpy(line + big - 5, "\"}}}\n", 5);
    line[big] = '\0';
    write_raw(f, line, big);
    free(line);
    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}");
    m = read_msg(f);
    assert_non_null(m);
    assert_true(json_is_null(json_object_get(m, "id")));
    assert_int_equal(error_code(m), -32600);
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "error"),
                                                          "message")),
                        "message exceeds the size limit");
    json_decref(m);
    expect_pong(f, 7);                                 /* and no error for the dropped tail */
    assert_int_equal(poll(&p, 1, 100), 0);
}

#define META26 "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"," \
               "\"io.modelcontextprotocol/clientCapabilities\":{}}"

/* 2026-07-28 over stdio: no headers, so each request's params._meta version chooses its era.
 * A 2026 request needs no initialize, a 2025 one on the same process still does, and a version
 * neither era speaks is refused -32022 with the supported list. */
static void
stdio_speaks_2026_07_28(void **state)
{
    fixture *f = *state;
    json_t *m;

    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"server/discover\",\"params\":{"
                 META26 "}}");
    m = read_msg(f);
    assert_non_null(m);
    json_t *r = json_object_get(m, "result");
    assert_non_null(r);
    json_t *sv = json_object_get(r, "supportedVersions");
    bool has26 = false;
    for (size_t i = 0; i < json_array_size(sv); i++)
        has26 = has26 || strcmp(json_string_value(json_array_get(sv, i)), "2026-07-28") == 0;
    assert_true(has26);
    json_decref(m);

    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\",\"params\":{"
                 META26 "}}");
    m = read_msg(f);
    r = json_object_get(m, "result");
    assert_string_equal(json_string_value(json_object_get(r, "resultType")), "complete");
    json_t *tools = json_object_get(r, "tools");
    assert_int_equal(json_array_size(tools), 1);            /* 'secret' is hidden here too */
    json_decref(m);

    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{"
                 "\"name\":\"secret\"," META26 "}}");
    m = read_msg(f);
    assert_int_equal(error_code(m), -32003);
    assert_int_equal(json_integer_value(json_object_get(m, "id")), 3);
    json_decref(m);

    /* removed in 2026-07-28: ping is "method not found" in that era */
    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\",\"params\":{" META26 "}}");
    m = read_msg(f);
    assert_int_equal(error_code(m), -32601);
    json_decref(m);

    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/list\",\"params\":{\"_meta\":{"
                 "\"io.modelcontextprotocol/protocolVersion\":\"2030-01-01\","
                 "\"io.modelcontextprotocol/clientCapabilities\":{}}}}");
    m = read_msg(f);
    assert_int_equal(error_code(m), -32022);
    json_t *sup = json_object_get(json_object_get(json_object_get(m, "error"), "data"),
                                  "supported");
    assert_true(json_array_size(sup) >= 1);
    json_decref(m);

    /* a 2026 request without clientCapabilities: -32602 naming the path */
    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/list\",\"params\":{\"_meta\":{"
                 "\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}");
    m = read_msg(f);
    assert_int_equal(error_code(m), -32602);
    assert_non_null(strstr(json_string_value(json_object_get(json_object_get(m, "error"),
                                                             "message")), "clientCapabilities"));
    json_decref(m);

    /* the same process still speaks 2025: without _meta, initialize comes first */
    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\"}");
    m = read_msg(f);
    assert_int_equal(error_code(m), -32004);
    json_decref(m);
    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"initialize\",\"params\":{"
                 "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
                 "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}");
    m = read_msg(f);
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "result"),
                                                          "protocolVersion")), "2025-11-25");
    json_decref(m);
}

/* An AUTHZ item that refuses with a status and no JSON-RPC code of its own. */
static mcp_status
refuse_item(mcp_request *req, void *ctx, mcp_error *err)
{
    (void)ctx;
    const char *m = mcp_request_rpc_method(req);
    if (m != NULL && strcmp(m, "ping") == 0)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "ping refused by a middleware item");
    if (m != NULL && strcmp(m, "tools/list") == 0)
        return mcp_error_set(err, MCP_ERR_STORE, "store down");
    return MCP_OK;
}

static int
setup_refusing(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    mcp_error err;
    if (mcp_server_new(NULL, &f->srv, &err) != MCP_OK ||
        mcp_server_use(f->srv, MCP_PHASE_AUTHZ, refuse_item, NULL, &err) != MCP_OK)
        return -1;
    if (stdio_fixture_start(f) != 0)
        return -1;
    *state = f;
    return 0;
}

/* A status without a JSON-RPC code is answered with the code of the one status table, the same
 * code HTTP sends (INVALID_ARG -> -32600 Invalid Request; STORE -> -32603). */
static void
stdio_status_codes_follow_the_table(void **state)
{
    fixture *f = *state;
    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
    json_t *m = read_msg(f);
    assert_non_null(m);
    assert_int_equal(json_integer_value(json_object_get(m, "id")), 1);
    assert_int_equal(error_code(m), -32600);
    assert_int_equal(error_code(m), mcp_status_rpc(MCP_ERR_INVALID_ARG));
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "error"),
                                                          "message")),
                        "ping refused by a middleware item");
    json_decref(m);

    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"initialize\",\"params\":{"
                 "\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},"
                 "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}");
    m = read_msg(f);
    assert_non_null(json_object_get(m, "result"));
    json_decref(m);
    send_line(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\"}");
    m = read_msg(f);
    assert_int_equal(json_integer_value(json_object_get(m, "id")), 3);
    assert_int_equal(error_code(m), -32603);
    json_decref(m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(stdio_full_exchange, setup, teardown),
        cmocka_unit_test_setup_teardown(stdio_framing_and_size_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(stdio_speaks_2026_07_28, setup, teardown),
        cmocka_unit_test_setup_teardown(stdio_status_codes_follow_the_table, setup_refusing,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
