/*
 * The client over stdio. The server is this test binary itself, re-executed with
 * "--fake-server MODE": a real child process speaking newline-delimited JSON-RPC, well or badly.
 * Checked: the exchange (incl. a server->client request answered through a callback), a
 * non-JSON line, a server that exits, an oversize line, a silent server (timeout), and that
 * closing the client ends even a child that ignores EOF. All waits are bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mcp/client.h>

static char self_path[4096];

/* ------------------------------------------------------------------------------------------ */
/* the fake server (child process)                                                            */

static void
say(const char *line)
{
    fputs(line, stdout);
    fputc('\n', stdout);
    fflush(stdout);
}

static int
fake_server(const char *mode)
{
    static char line[1 << 16];
    signal(SIGPIPE, SIG_IGN);
    if (strcmp(mode, "ignore-eof") == 0)
        signal(SIGTERM, SIG_IGN);              /* only SIGKILL ends this one */
    while (fgets(line, sizeof line, stdin) != NULL) {
        json_error_t je;
        json_t *m = json_loads(line, 0, &je);
        if (m == NULL)
            return 9;
        const char *method = json_string_value(json_object_get(m, "method"));
        json_int_t id = json_integer_value(json_object_get(m, "id"));
        char out[1024];
        if (method != NULL && strcmp(method, "initialize") == 0) {
            snprintf(out, sizeof out,
                     "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"protocolVersion\":"
                     "\"2025-11-25\",\"capabilities\":{},\"serverInfo\":{\"name\":\"fake\","
                     "\"version\":\"0\"}}}", (long long)id);
            say(out);
        } else if (method != NULL && strcmp(method, "tools/list") == 0) {
            if (strcmp(mode, "badjson") == 0) {
                say("this is a log line, not JSON");
            } else if (strcmp(mode, "exit") == 0) {
                return 3;
            } else if (strcmp(mode, "bigline") == 0) {
                static char big[200 * 1024];
                memset(big, 'a', sizeof big - 1);
                big[0] = '"';
                big[sizeof big - 2] = '"';
                say(big);
            } else if (strcmp(mode, "good") == 0) {
                say("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":"
                    "{\"level\":\"info\",\"data\":\"hi\"}}");
                say("{\"jsonrpc\":\"2.0\",\"id\":\"r1\",\"method\":\"roots/list\"}");
                if (fgets(line, sizeof line, stdin) == NULL)   /* the client's answer */
                    return 8;
                json_t *ans = json_loads(line, 0, &je);
                const char *uri = json_string_value(json_object_get(
                    json_array_get(json_object_get(json_object_get(ans, "result"), "roots"), 0),
                    "uri"));
                snprintf(out, sizeof out,
                         "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"tools\":[{\"name\":"
                         "\"%s\",\"inputSchema\":{\"type\":\"object\"}}]}}",
                         (long long)id, uri ? uri : "none");
                json_decref(ans);
                say(out);
            }
            /* "hang" and "ignore-eof": no answer */
        } else if (method != NULL && strcmp(method, "ping") == 0) {
            snprintf(out, sizeof out, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{}}",
                     (long long)id);
            say(out);
        }
        json_decref(m);
    }
    if (strcmp(mode, "ignore-eof") == 0)
        for (;;)
            pause();
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* tests                                                                                      */

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int logs_seen;

static void
on_log(mcp_client *c, const char *level, const char *logger, const json_t *data, void *ud)
{
    (void)c;
    (void)level;
    (void)logger;
    (void)ud;
    assert_string_equal(json_string_value(data), "hi");
    logs_seen++;
}

static mcp_status
on_roots(mcp_client *c, const char *method, const json_t *params, void *ud, json_t **result,
         mcp_error *err)
{
    (void)c;
    (void)params;
    (void)ud;
    (void)err;
    assert_string_equal(method, "roots/list");
    *result = json_pack("{s:[{s:s}]}", "roots", "uri", "file:///work");
    return MCP_OK;
}

static mcp_client *
connect_fake(const char *mode, size_t max_message, unsigned timeout_ms, mcp_status want)
{
    mcp_client_opts o;
    mcp_client_opts_default(&o);
    o.protocol = MCP_CLIENT_PROTOCOL_LEGACY; /* a scripted 2025 server */
    o.max_message = max_message;
    o.request_timeout_ms = timeout_ms;
    o.cb.log = on_log;
    o.cb.roots = on_roots;
    mcp_client *c = NULL;
    mcp_error err;
    assert_int_equal(mcp_client_new(&o, &c, &err), MCP_OK);
    const char *argv[] = { self_path, "--fake-server", mode, NULL };
    assert_int_equal(mcp_client_connect_stdio(c, argv, &err), want);
    return c;
}

static void
stdio_good_exchange_with_server_request(void **state)
{
    (void)state;
    logs_seen = 0;
    mcp_client *c = connect_fake("good", 0, 5000, MCP_OK);
    assert_string_equal(mcp_client_protocol_version(c), "2025-11-25");
    assert_null(mcp_client_session_id(c));
    mcp_error err;
    assert_int_equal(mcp_client_ping(c, &err), MCP_OK);
    json_t *tools = NULL;
    assert_int_equal(mcp_client_list_tools(c, &tools, &err), MCP_OK);
    /* the fake server named the tool after the root our callback returned */
    assert_string_equal(json_string_value(json_object_get(json_array_get(tools, 0), "name")),
                        "file:///work");
    json_decref(tools);
    assert_int_equal(logs_seen, 1);
    mcp_client_free(c);
}

static void
stdio_non_json_line_is_a_parse_error(void **state)
{
    (void)state;
    mcp_client *c = connect_fake("badjson", 0, 5000, MCP_OK);
    mcp_error err;
    json_t *tools = NULL;
    assert_int_equal(mcp_client_list_tools(c, &tools, &err), MCP_ERR_PARSE);
    assert_non_null(strstr(err.message, "not JSON"));
    /* the transport is closed for good: later calls fail at once */
    assert_int_equal(mcp_client_ping(c, &err), MCP_ERR_IO);
    mcp_client_free(c);
}

static void
stdio_server_exit_is_reported_with_status(void **state)
{
    (void)state;
    mcp_client *c = connect_fake("exit", 0, 5000, MCP_OK);
    mcp_error err;
    json_t *tools = NULL;
    uint64_t t0 = now_ms();
    assert_int_equal(mcp_client_list_tools(c, &tools, &err), MCP_ERR_IO);
    assert_true(now_ms() - t0 < 3000);
    assert_non_null(strstr(err.message, "exited with status 3"));
    mcp_client_free(c);

    mcp_client_opts o;
    mcp_client_opts_default(&o);
    assert_int_equal(mcp_client_new(&o, &c, &err), MCP_OK);
    const char *argv[] = { "/nonexistent/mcp-server", NULL };
    assert_int_equal(mcp_client_connect_stdio(c, argv, &err), MCP_ERR_IO);
    mcp_client_free(c);
}

static void
stdio_oversize_line_is_refused(void **state)
{
    (void)state;
    mcp_client *c = connect_fake("bigline", 64 * 1024, 5000, MCP_OK);
    mcp_error err;
    json_t *tools = NULL;
    assert_int_equal(mcp_client_list_tools(c, &tools, &err), MCP_ERR_TOO_LARGE);
    mcp_client_free(c);
}

static void
stdio_silent_server_times_out(void **state)
{
    (void)state;
    mcp_client *c = connect_fake("hang", 0, 300, MCP_OK);
    mcp_error err;
    json_t *tools = NULL;
    uint64_t t0 = now_ms();
    assert_int_equal(mcp_client_list_tools(c, &tools, &err), MCP_ERR_TIMEOUT);
    uint64_t ms = now_ms() - t0;
    assert_true(ms >= 250 && ms < 3000);
    /* async API: a timed-out wait keeps the request; cancel forgets it */
    int64_t id;
    assert_int_equal(mcp_client_request_async(c, "tools/list", NULL, &id, &err), MCP_OK);
    assert_int_equal(mcp_client_wait(c, id, 100, &tools, &err), MCP_ERR_TIMEOUT);
    assert_int_equal(mcp_client_cancel(c, id, "test", &err), MCP_OK);
    assert_int_equal(mcp_client_wait(c, id, 100, &tools, &err), MCP_ERR_NOT_FOUND);
    mcp_client_free(c);
}

static void
stdio_close_kills_a_child_that_ignores_eof(void **state)
{
    (void)state;
    mcp_client *c = connect_fake("ignore-eof", 0, 5000, MCP_OK);
    uint64_t t0 = now_ms();
    mcp_client_free(c);                        /* EOF, 2 s, SIGTERM (ignored), 2 s, SIGKILL */
    uint64_t ms = now_ms() - t0;
    assert_true(ms >= 1900 && ms < 8000);
    /* reaped: no zombie child left */
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
}

int
main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--fake-server") == 0) {
        /* _exit: the fake server's exit status is part of the test (under ASan, an atexit
         * leak report would replace it). */
        int code = fake_server(argv[2]);
        fflush(stdout);
        _exit(code);
    }
    ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    if (n <= 0)
        return 1;
    self_path[n] = '\0';
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stdio_good_exchange_with_server_request),
        cmocka_unit_test(stdio_non_json_line_is_a_parse_error),
        cmocka_unit_test(stdio_server_exit_is_reported_with_status),
        cmocka_unit_test(stdio_oversize_line_is_refused),
        cmocka_unit_test(stdio_silent_server_times_out),
        cmocka_unit_test(stdio_close_kills_a_child_that_ignores_eof),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
