/* Direct unit tests for src/client/transport_stdio.c: newline-delimited JSON-RPC with a real
 * child process (small sh scripts, and the built mcp-conformance-server --stdio): round trips,
 * framing (split writes, CRLF, blank lines, batches), the size cap, a non-JSON line, exit and
 * signal reasons, writes to a dead child, and shutdown of a child that ignores SIGTERM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "client/internal.h"
#include "jsonrpc/jsonrpc.h"

typedef struct fx {
    mcp__evq q;
    mcp__tr *t;
} fx;

static void
start(fx *f, const char *script, size_t max_message)
{
    memset(f, 0, sizeof *f);
    const char *argv[] = {"sh", "-c", script, NULL};
    mcp_error err;
    mcp_error_clear(&err);
    mcp_status rc = mcp__stdio_tr_new(argv, max_message, &f->q, &f->t, &err);
    if (rc != MCP_OK)
        fprintf(stderr, "start: %s\n", err.message);
    assert_int_equal(rc, MCP_OK);
    assert_null(f->t->ops->session_id); /* no sessions, no abort, no version header on stdio */
    assert_null(f->t->ops->abort);
    assert_null(f->t->ops->set_protocol_version);
}

static void
drain(fx *f)
{
    mcp__event *ev;
    while ((ev = mcp__evq_pop(&f->q)) != NULL)
        mcp__event_free(ev);
}

static void
stop(fx *f)
{
    f->t->ops->close(f->t);
    drain(f);
}

/* Pump (at most ~10 s in 100 ms steps) until an event of type is queued; pop and return it.
 * Events of other types met on the way are freed. */
static mcp__event *
next_event(fx *f, mcp__ev_type type)
{
    mcp_error err;
    for (int i = 0; i < 100; i++) {
        mcp__event *ev;
        while ((ev = mcp__evq_pop(&f->q)) != NULL) {
            if (ev->type == type)
                return ev;
            mcp__event_free(ev);
        }
        assert_int_equal(f->t->ops->pump(f->t, 100, &err), MCP_OK);
    }
    fail_msg("no event of type %d", (int)type);
    return NULL;
}

static void
expect_closed(fx *f, mcp_status st, const char *msg)
{
    mcp__event *ev = next_event(f, MCP__EV_CLOSED);
    assert_int_equal(ev->status, st);
    assert_string_equal(ev->message, msg);
    mcp__event_free(ev);
}

static void
round_trip_with_cat(void **state)
{
    (void)state;
    fx f;
    start(&f, "exec cat", 0);
    mcp_error err;
    const char *req = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}";
    assert_int_equal(f.t->ops->send(f.t, 42, 7, req, "Authorization: Bearer x", NULL, &err), MCP_OK);
    /* DONE at once (not final: the answer comes on stdout). */
    mcp__event *done = mcp__evq_pop(&f.q);
    assert_non_null(done);
    assert_int_equal(done->type, MCP__EV_DONE);
    assert_int_equal(done->oid, 42);
    assert_int_equal(done->status, MCP_OK);
    assert_false(done->final);
    assert_int_equal(done->http_status, 0);
    mcp__event_free(done);
    mcp__event *m = next_event(&f, MCP__EV_MESSAGE);
    assert_int_equal(json_integer_value(json_object_get(m->msg, "id")), 7);
    assert_string_equal(json_string_value(json_object_get(m->msg, "method")), "ping");
    assert_null(json_object_get(m->msg, "Authorization")); /* credentials never go on stdio */
    mcp__event_free(m);
    /* A body with a newline would break framing: refused before writing. */
    mcp_error_clear(&err);
    assert_int_equal(f.t->ops->send(f.t, 43, 8, "{\"a\":\n1}", NULL, NULL, &err), MCP_ERR_INTERNAL);
    assert_string_equal(err.message, "message contains a newline");
    stop(&f);
}

static void
framing(void **state)
{
    (void)state;
    fx f;
    /* A message split over two writes, CRLF endings, blank lines, a batch, no final newline
     * before exit for the last (partial) line. */
    start(&f,
          "printf '{\"jsonrpc\":\"2.0\",'; sleep 0.2; printf '\"method\":\"a\"}\\r\\n';"
          "printf '\\n   \\n\\r\\n';"
          "printf '[{\"jsonrpc\":\"2.0\",\"method\":\"b\"},{\"jsonrpc\":\"2.0\",\"method\":\"c\"}]\\n';"
          "exec sleep 30",
          0);
    const char *want[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        mcp__event *m = next_event(&f, MCP__EV_MESSAGE);
        assert_string_equal(json_string_value(json_object_get(m->msg, "method")), want[i]);
        mcp__event_free(m);
    }
    assert_null(f.q.head); /* blank lines made no events */
    stop(&f);
}

static void
non_json_line_ends_transport(void **state)
{
    (void)state;
    fx f;
    start(&f, "echo 'starting server on stdio...'; exec sleep 30", 0);
    expect_closed(&f, MCP_ERR_PARSE, "server wrote a line to stdout that is not JSON-RPC");
    /* Dead: a send fails at once. */
    mcp_error err;
    mcp_error_clear(&err);
    assert_int_equal(f.t->ops->send(f.t, 1, 1, "{}", NULL, NULL, &err), MCP_ERR_IO);
    assert_string_equal(err.message, "the server process has exited");
    /* A bare scalar is not a JSON-RPC line either. */
    stop(&f);
    start(&f, "echo 42; exec sleep 30", 0);
    expect_closed(&f, MCP_ERR_PARSE, "server wrote a line to stdout that is not JSON-RPC");
    stop(&f);
}

static void
size_cap(void **state)
{
    (void)state;
    fx f;
    /* 64-byte cap; a 40-byte message passes, a longer one ends the transport. */
    start(&f,
          "printf '{\"jsonrpc\":\"2.0\",\"method\":\"short\"}\\n';"
          "printf '{\"jsonrpc\":\"2.0\",\"method\":\"a-method-name-long-enough-to-pass-the-cap\"}\\n';"
          "exec sleep 30",
          64);
    mcp__event *m = next_event(&f, MCP__EV_MESSAGE);
    assert_string_equal(json_string_value(json_object_get(m->msg, "method")), "short");
    mcp__event_free(m);
    expect_closed(&f, MCP_ERR_TOO_LARGE, "server message exceeds the size limit");
    stop(&f);
}

static void
exit_and_signal_reasons(void **state)
{
    (void)state;
    fx f;
    start(&f, "exit 3", 0);
    expect_closed(&f, MCP_ERR_IO, "the server process exited with status 3");
    stop(&f);
    start(&f, "kill -9 $$", 0);
    expect_closed(&f, MCP_ERR_IO, "the server process was killed by signal 9");
    stop(&f);
    /* Writing to a child that already exited: the exit reason, not a bare EPIPE (and no
     * SIGPIPE kills the test). */
    start(&f, "exec 0<&-; exit 5", 0);
    usleep(200 * 1000);
    mcp_error err;
    mcp_error_clear(&err);
    char big[70000];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[0] = '{';
    big[sizeof big - 2] = '}';
    assert_int_equal(f.t->ops->send(f.t, 1, 1, big, NULL, NULL, &err), MCP_ERR_IO);
    assert_string_equal(err.message, "the server process exited with status 5");
    stop(&f);
}

static void
spawn_errors(void **state)
{
    (void)state;
    mcp__evq q = {0};
    mcp__tr *t = (mcp__tr *)1;
    mcp_error err;
    const char *none[] = {NULL};
    assert_int_equal(mcp__stdio_tr_new(none, 0, &q, &t, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "no command to run");
    assert_null(t);
    const char *empty[] = {"", NULL};
    assert_int_equal(mcp__stdio_tr_new(empty, 0, &q, &t, &err), MCP_ERR_INVALID_ARG);
    const char *missing[] = {"/nonexistent/mcp-server", NULL};
    assert_int_equal(mcp__stdio_tr_new(missing, 0, &q, &t, &err), MCP_ERR_IO);
    assert_string_equal(err.message, "cannot start /nonexistent/mcp-server: No such file or directory");
    assert_null(t);
}

static void
close_kills_a_child_that_ignores_term(void **state)
{
    (void)state;
    char pidfile[] = "/tmp/mcp-stdio-test-XXXXXX";
    int fd = mkstemp(pidfile);
    assert_true(fd >= 0);
    close(fd);
    char script[256];
    snprintf(script, sizeof script, "echo $$ > %s; trap '' TERM; exec sleep 60", pidfile);
    fx f;
    start(&f, script, 0);
    pid_t pid = 0;
    for (int i = 0; i < 100 && pid == 0; i++) {
        FILE *p = fopen(pidfile, "r");
        int v = 0;
        if (p != NULL && fscanf(p, "%d", &v) == 1)
            pid = (pid_t)v;
        if (p != NULL)
            fclose(p);
        if (pid == 0)
            usleep(20 * 1000);
    }
    assert_true(pid > 0);
    stop(&f); /* stdin closed, 2 s, SIGTERM (ignored), 2 s, SIGKILL, reaped */
    errno = 0;
    assert_int_equal(kill(pid, 0), -1);
    assert_int_equal(errno, ESRCH);
    unlink(pidfile);
}

static void
conformance_server_initialize(void **state)
{
    (void)state;
    const char *bin = getenv("MCP_BIN");
    assert_non_null(bin); /* CTest sets it; the built server must be there */
    char path[512];
    snprintf(path, sizeof path, "%s/mcp-conformance-server", bin);
    const char *argv[] = {path, "--stdio", NULL};
    fx f;
    memset(&f, 0, sizeof f);
    mcp_error err;
    assert_int_equal(mcp__stdio_tr_new(argv, 0, &f.q, &f.t, &err), MCP_OK);
    const char *init = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
                       "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},"
                       "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";
    assert_int_equal(f.t->ops->send(f.t, 1, 1, init, NULL, NULL, &err), MCP_OK);
    mcp__event *m = next_event(&f, MCP__EV_MESSAGE);
    assert_true(mcp__rpc_is_response_to(m->msg, 1));
    json_t *res = json_object_get(m->msg, "result");
    assert_string_equal(json_string_value(json_object_get(res, "protocolVersion")), "2025-06-18");
    assert_non_null(json_object_get(res, "serverInfo"));
    mcp__event_free(m);
    /* Malformed JSON from us: the server answers -32700 on the same channel. */
    assert_int_equal(f.t->ops->send(f.t, 2, -1, "{\"jsonrpc\":", NULL, NULL, &err), MCP_OK);
    m = next_event(&f, MCP__EV_MESSAGE);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(m->msg, "error"), "code")),
                     -32700);
    assert_true(json_is_null(json_object_get(m->msg, "id")));
    mcp__event_free(m);
    stop(&f); /* closes stdin: the server exits by itself */
}

int
main(void)
{
    signal(SIGPIPE, SIG_DFL); /* a SIGPIPE reaching the process would fail the test */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_with_cat),
        cmocka_unit_test(framing),
        cmocka_unit_test(non_json_line_ends_transport),
        cmocka_unit_test(size_cap),
        cmocka_unit_test(exit_and_signal_reasons),
        cmocka_unit_test(spawn_errors),
        cmocka_unit_test(close_kills_a_child_that_ignores_term),
        cmocka_unit_test(conformance_server_initialize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
