/* Direct unit tests for src/client/transport_http_recv.c: how one Streamable HTTP answer is read,
 * against a real libmicrohttpd server on 127.0.0.1 (tests/client/test_htr_server.h): JSON and
 * SSE bodies, resumption with Last-Event-ID and its limits, a stream closed or dropped before
 * the response, caps, non-2xx statuses with their messages, WWW-Authenticate, and a bad
 * Content-Type. Each DONE event is checked for its exact status and message. */
#include "client/test_htr_server.h"

static int
setup(void **state)
{
    (void)state;
    htr_start();
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    htr_stop();
    return 0;
}

static void
expect_done(mcp__event *ev, mcp_status st, long http, const char *msg)
{
    assert_int_equal(ev->status, st);
    assert_int_equal(ev->http_status, http);
    assert_string_equal(ev->message, msg);
}

static void
json_answer(void **state)
{
    (void)state;
    htr_fx f;
    htr_open(&f, "/json", 0, NULL);
    mcp__evq msgs = {0};
    mcp__event *done = htr_call(&f, 1, 3, "tools/list", &msgs);
    expect_done(done, MCP_OK, 200, "");
    assert_null(done->www_auth);
    mcp__event_free(done);
    assert_int_equal(htr_evq_len(&msgs), 1);
    assert_true(mcp__rpc_is_response_to(msgs.head->msg, 3));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(msgs.head->msg, "result"), "echo")),
        "tools/list");
    htr_evq_free(&msgs);
    /* A notification: 202, DONE without a message. */
    mcp_error err;
    assert_int_equal(f.t->ops->send(f.t, 2, -1, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", NULL, NULL, &err), MCP_OK);
    done = htr_next(&f, MCP__EV_DONE, &msgs);
    expect_done(done, MCP_OK, 202, "");
    assert_int_equal(htr_evq_len(&msgs), 0);
    mcp__event_free(done);
    htr_close(&f);
}

static void
sse_answer(void **state)
{
    (void)state;
    htr_fx f;
    htr_open(&f, "/sse", 0, NULL);
    mcp__evq msgs = {0};
    mcp__event *done = htr_call(&f, 1, 4, "tools/call", &msgs);
    expect_done(done, MCP_OK, 200, "");
    mcp__event_free(done);
    /* The notification, then the response; the comment and the "ping" event are not messages. */
    assert_int_equal(htr_evq_len(&msgs), 2);
    assert_string_equal(json_string_value(json_object_get(msgs.head->msg, "method")),
                        "notifications/message");
    assert_true(mcp__rpc_is_response_to(msgs.head->next->msg, 4));
    htr_evq_free(&msgs);
    /* The session id came on the SSE answer of a POST: adopted. */
    assert_string_equal(f.t->ops->session_id(f.t), "sess-2");
    htr_close(&f);
}

static void
resumes_with_last_event_id(void **state)
{
    (void)state;
    htr_fx f;
    htr_open(&f, "/resume", 0, NULL);
    mcp__evq msgs = {0};
    mcp__event *done = htr_call(&f, 9, 5, "tools/call", &msgs);
    /* One DONE for the exchange, after the resumed GET delivered the response. */
    expect_done(done, MCP_OK, 200, "");
    mcp__event_free(done);
    assert_int_equal(htr_evq_len(&msgs), 2);
    assert_true(mcp__rpc_is_response_to(msgs.head->next->msg, 5));
    htr_evq_free(&msgs);
    assert_int_equal(htr_count("POST", "/resume"), 1);
    assert_int_equal(htr_count("GET", "/resume"), 1);
    htr_seen g = htr_get("GET", "/resume", 0);
    assert_string_equal(g.last_event_id, "e1");
    assert_string_equal(g.accept, "text/event-stream");
    htr_close(&f);
}

static void
resume_limit(void **state)
{
    (void)state;
    htr_fx f;
    htr_open(&f, "/resume-never", 0, NULL);
    mcp__evq msgs = {0};
    mcp__event *done = htr_call(&f, 1, 6, "tools/call", &msgs);
    expect_done(done, MCP_ERR_IO, 200, "SSE stream kept closing before the response arrived");
    mcp__event_free(done);
    /* MAX_RESUMES reconnects, then it gives up; each delivered its notification. */
    assert_int_equal(htr_count("GET", "/resume-never"), MAX_RESUMES);
    assert_int_equal(htr_evq_len(&msgs), 1 + MAX_RESUMES);
    htr_evq_free(&msgs);
    htr_close(&f);
}

static void
resume_refused(void **state)
{
    (void)state;
    htr_fx f;
    htr_open(&f, "/resume-404", 0, NULL);
    mcp__event *done = htr_call(&f, 1, 7, "tools/call", NULL);
    expect_done(done, MCP_ERR_IO, 404, "cannot resume the SSE stream: HTTP 404: stream expired");
    mcp__event_free(done);
    htr_close(&f);
}

static void
stream_closed_or_dropped_before_response(void **state)
{
    (void)state;
    htr_fx f;
    htr_open(&f, "/close-noid", 0, NULL);
    mcp__evq msgs = {0};
    mcp__event *done = htr_call(&f, 1, 8, "tools/call", &msgs);
    /* No event id: nothing to resume from. */
    expect_done(done, MCP_ERR_IO, 200, "SSE stream closed before the response arrived");
    mcp__event_free(done);
    assert_int_equal(htr_evq_len(&msgs), 1);
    htr_evq_free(&msgs);
    htr_close(&f);

    /* The connection cut mid-stream (chunked body never terminated) after an event with an id:
     * what arrived before the cut is delivered, and the stream is resumed with Last-Event-ID
     * like one closed cleanly, so the response still arrives: one DONE, MCP_OK. */
    htr_open(&f, "/drop", 0, NULL);
    done = htr_call(&f, 2, 5, "tools/call", &msgs);
    expect_done(done, MCP_OK, 200, "");
    assert_int_equal(htr_evq_len(&msgs), 2);
    assert_string_equal(json_string_value(json_object_get(msgs.head->msg, "method")),
                        "notifications/message");
    assert_true(mcp__rpc_is_response_to(msgs.head->next->msg, 5));
    htr_evq_free(&msgs);
    mcp__event_free(done);
    assert_int_equal(htr_count("GET", "/drop"), 1);
    htr_seen g = htr_get("GET", "/drop", 0);
    assert_string_equal(g.last_event_id, "d1");
    htr_close(&f);
}

static void
caps(void **state)
{
    (void)state;
    htr_fx f;
    htr_open(&f, "/bigjson", 1024, NULL);
    mcp__evq msgs = {0};
    mcp__event *done = htr_call(&f, 1, 1, "x", &msgs);
    expect_done(done, MCP_ERR_TOO_LARGE, 200, "server response exceeds the 1024-byte limit");
    assert_int_equal(htr_evq_len(&msgs), 0);
    mcp__event_free(done);
    htr_close(&f);
    htr_open(&f, "/bigsse", 1024, NULL);
    done = htr_call(&f, 1, 1, "x", &msgs);
    expect_done(done, MCP_ERR_TOO_LARGE, 200, "server SSE event exceeds the 1024-byte limit");
    mcp__event_free(done);
    htr_close(&f);
    /* The same answers fit a larger cap. */
    htr_open(&f, "/bigjson", 4096, NULL);
    done = htr_call(&f, 1, 1, "x", &msgs);
    expect_done(done, MCP_OK, 200, "");
    assert_int_equal(htr_evq_len(&msgs), 1);
    assert_true(mcp__rpc_is_response_to(msgs.head->msg, 1));
    assert_int_equal(json_string_length(json_object_get(json_object_get(msgs.head->msg, "result"), "s")), 2000);
    htr_evq_free(&msgs);
    mcp__event_free(done);
    htr_close(&f);
}

static void
bad_bodies(void **state)
{
    (void)state;
    htr_fx f;
    htr_open(&f, "/badjson", 0, NULL);
    mcp__event *done = htr_call(&f, 1, 1, "x", NULL);
    expect_done(done, MCP_ERR_PARSE, 200, "server response is not valid JSON");
    mcp__event_free(done);
    htr_close(&f);
    htr_open(&f, "/badsse", 0, NULL);
    done = htr_call(&f, 1, 1, "x", NULL);
    expect_done(done, MCP_ERR_PARSE, 200, "server sent an SSE event that is not valid JSON");
    mcp__event_free(done);
    htr_close(&f);
    /* An unexpected Content-Type, named with its control character made safe. */
    htr_open(&f, "/html", 0, NULL);
    done = htr_call(&f, 1, 1, "x", NULL);
    expect_done(done, MCP_ERR_PROTOCOL, 200, "server answered with unexpected Content-Type text/html?");
    mcp__event_free(done);
    htr_close(&f);
}

static void
statuses_and_challenges(void **state)
{
    (void)state;
    htr_fx f;
    htr_open(&f, "/401", 0, NULL);
    mcp__event *done = htr_call(&f, 1, 1, "x", NULL);
    expect_done(done, MCP_ERR_UNAUTHENTICATED, 401, "server answered HTTP 401: token expired");
    assert_string_equal(done->www_auth, "Bearer error=\"invalid_token\", "
                                        "Bearer resource_metadata=\"http://127.0.0.1/prm\"");
    mcp__event_free(done);
    htr_close(&f);

    htr_open(&f, "/403", 0, NULL);
    done = htr_call(&f, 1, 1, "x", NULL);
    expect_done(done, MCP_ERR_FORBIDDEN, 403, "server answered HTTP 403");
    assert_string_equal(done->www_auth, "Bearer error=\"insufficient_scope\", scope=\"tools:call\"");
    mcp__event_free(done);
    htr_close(&f);

    /* 500 with a JSON-RPC error for our id: the error is delivered, then the IO failure. */
    htr_open(&f, "/500", 0, NULL);
    mcp__evq msgs = {0};
    done = htr_call(&f, 1, 12, "x", &msgs);
    expect_done(done, MCP_ERR_IO, 500, "server answered HTTP 500: boom");
    assert_null(done->www_auth);
    assert_int_equal(htr_evq_len(&msgs), 1);
    assert_true(mcp__rpc_is_response_to(msgs.head->msg, 12));
    htr_evq_free(&msgs);
    mcp__event_free(done);
    htr_close(&f);

    htr_open(&f, "/400", 0, NULL);
    done = htr_call(&f, 1, 1, "x", NULL);
    expect_done(done, MCP_ERR_PROTOCOL, 400, "server answered HTTP 400");
    mcp__event_free(done);
    htr_close(&f);
}

static void
forgotten_session(void **state)
{
    (void)state;
    htr_fx f;
    htr_open(&f, "/forget", 0, NULL);
    mcp__event *done = htr_call(&f, 1, 1, "initialize", NULL);
    expect_done(done, MCP_OK, 200, "");
    mcp__event_free(done);
    assert_string_equal(f.t->ops->session_id(f.t), "sess-1");
    done = htr_call(&f, 2, 2, "tools/list", NULL);
    expect_done(done, MCP_ERR_STATE, 404, "the server no longer knows this session (HTTP 404)");
    mcp__event_free(done);
    htr_close(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_answer),
        cmocka_unit_test(sse_answer),
        cmocka_unit_test(resumes_with_last_event_id),
        cmocka_unit_test(resume_limit),
        cmocka_unit_test(resume_refused),
        cmocka_unit_test(stream_closed_or_dropped_before_response),
        cmocka_unit_test(caps),
        cmocka_unit_test(bad_bodies),
        cmocka_unit_test(statuses_and_challenges),
        cmocka_unit_test(forgotten_session),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
