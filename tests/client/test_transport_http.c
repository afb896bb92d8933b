/* Direct unit tests for src/client/transport_http.c: the Streamable HTTP transport's requests,
 * against a real libmicrohttpd server on 127.0.0.1 (tests/client/test_htr_server.h): the
 * headers every POST carries (Content-Type, Accept, session id once given, protocol version once
 * set, the credential line, extra headers), DELETE of the session on close, abort, several
 * exchanges in flight, the GET stream, an unreachable server, and bad options. */
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
session_version_auth_and_extra_headers(void **state)
{
    (void)state;
    htr_fx f;
    const char *extra[] = {"X-Extra: tenant-7", NULL};
    htr_open(&f, "/json", 0, extra);
    assert_null(f.t->ops->session_id(f.t));
    mcp_error err;
    const char *init = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\"}";
    assert_int_equal(f.t->ops->send(f.t, 1, 1, init, "Authorization: Bearer tok-1", NULL, &err), MCP_OK);
    mcp__event *done = htr_next(&f, MCP__EV_DONE, NULL);
    assert_int_equal(done->status, MCP_OK);
    mcp__event_free(done);
    assert_string_equal(f.t->ops->session_id(f.t), "sess-1");
    f.t->ops->set_protocol_version(f.t, "2025-06-18", false);

    /* The next request carries the session, the version and the new credential. */
    const char *call = "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}";
    assert_int_equal(f.t->ops->send(f.t, 2, 2, call, "Authorization: Bearer tok-2", NULL, &err), MCP_OK);
    done = htr_next(&f, MCP__EV_DONE, NULL);
    assert_int_equal(done->status, MCP_OK);
    mcp__event_free(done);

    htr_seen a = htr_get("POST", "/json", 0), b = htr_get("POST", "/json", 1);
    assert_string_equal(a.ctype, "application/json");
    assert_string_equal(a.accept, "application/json, text/event-stream");
    assert_string_equal(a.session, "");   /* none before the server gave one */
    assert_string_equal(a.version, "");   /* none before initialize finished */
    assert_string_equal(a.auth, "Bearer tok-1");
    assert_string_equal(a.extra, "tenant-7");
    assert_string_equal(a.body, init);
    assert_string_equal(b.session, "sess-1");
    assert_string_equal(b.version, "2025-06-18");
    assert_string_equal(b.auth, "Bearer tok-2");
    assert_string_equal(b.extra, "tenant-7");

    /* No credential: the header is dropped, not resent from before. */
    assert_int_equal(f.t->ops->send(f.t, 3, 3, call, NULL, NULL, &err), MCP_OK);
    done = htr_next(&f, MCP__EV_DONE, NULL);
    mcp__event_free(done);
    assert_string_equal(htr_get("POST", "/json", 2).auth, "");

    /* Close ends the session with DELETE, carrying its id. */
    htr_close(&f);
    assert_int_equal(htr_count("DELETE", "/json"), 1);
    htr_seen d = htr_get("DELETE", "/json", 0);
    assert_string_equal(d.session, "sess-1");
    assert_string_equal(d.version, "2025-06-18");
}

static void
no_session_no_delete(void **state)
{
    (void)state;
    int before = htr_count("DELETE", "/400");
    htr_fx f;
    htr_open(&f, "/400", 0, NULL);
    mcp__event *done = htr_call(&f, 1, 1, "x", NULL);
    mcp__event_free(done);
    htr_close(&f);
    assert_int_equal(htr_count("DELETE", "/400"), before);
}

static void
several_in_flight_and_abort(void **state)
{
    (void)state;
    htr_fx f;
    htr_open(&f, "/hang", 0, NULL);
    mcp_error err;
    /* Two slow exchanges; the first is aborted: only the second's DONE arrives. */
    assert_int_equal(f.t->ops->send(f.t, 1, 1, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\"}",
                                    NULL, NULL, &err),
                     MCP_OK);
    assert_int_equal(f.t->ops->send(f.t, 2, 2, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"b\"}",
                                    NULL, NULL, &err),
                     MCP_OK);
    assert_int_equal(f.t->ops->pump(f.t, 100, &err), MCP_OK);
    f.t->ops->abort(f.t, 1);
    mcp__evq msgs = {0};
    mcp__event *done = htr_next(&f, MCP__EV_DONE, &msgs);
    assert_int_equal(done->oid, 2);
    assert_int_equal(done->status, MCP_OK);
    mcp__event_free(done);
    assert_int_equal(htr_evq_len(&msgs), 1);
    assert_true(mcp__rpc_is_response_to(msgs.head->msg, 2));
    htr_evq_free(&msgs);
    /* Pump past the time the aborted one would have answered: nothing for oid 1. */
    for (int i = 0; i < 20; i++)
        assert_int_equal(f.t->ops->pump(f.t, 100, &err), MCP_OK);
    assert_null(f.q.head);
    f.t->ops->abort(f.t, 77); /* unknown: harmless */
    htr_close(&f);
}

static void
get_stream_not_offered(void **state)
{
    (void)state;
    htr_fx f;
    htr_open(&f, "/json", 0, NULL);
    int before = htr_count("GET", "/json");
    f.t->ops->open_stream(f.t, NULL);
    mcp_error err;
    for (int i = 0; i < 5; i++)
        assert_int_equal(f.t->ops->pump(f.t, 100, &err), MCP_OK);
    /* 405: the server offers no stream; it is not retried. */
    assert_int_equal(htr_count("GET", "/json"), before + 1);
    htr_seen g = htr_get("GET", "/json", before);
    assert_string_equal(g.accept, "text/event-stream");
    assert_null(f.q.head);
    htr_close(&f);
}

static void
unreachable_server(void **state)
{
    (void)state;
    struct MHD_Daemon *gone = mhd_start_loopback(htr_handler);
    unsigned port = MHD_get_daemon_info(gone, MHD_DAEMON_INFO_BIND_PORT)->port;
    MHD_stop_daemon(gone);
    htr_fx f;
    memset(&f, 0, sizeof f);
    snprintf(f.url, sizeof f.url, "http://127.0.0.1:%u/mcp", port);
    mcp__http_tr_opts o = {.url = f.url, .connect_timeout_ms = 2000};
    mcp_error err;
    assert_int_equal(mcp__http_tr_new(&o, &f.q, &f.t, &err), MCP_OK);
    mcp__event *done = htr_call(&f, 1, 1, "ping", NULL);
    assert_int_equal(done->status, MCP_ERR_IO);
    assert_int_equal(done->http_status, 0);
    char want[200];
    snprintf(want, sizeof want, "cannot reach %s: ", f.url);
    assert_int_equal(strncmp(done->message, want, strlen(want)), 0);
    mcp__event_free(done);
    htr_close(&f);
}

static void
bad_options(void **state)
{
    (void)state;
    mcp__evq q = {0};
    mcp__tr *t = (mcp__tr *)1;
    mcp_error err;
    mcp__http_tr_opts o = {.url = "ftp://127.0.0.1/mcp"};
    assert_int_equal(mcp__http_tr_new(&o, &q, &t, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "not an http(s) URL: ftp://127.0.0.1/mcp");
    assert_null(t);
    o.url = NULL;
    assert_int_equal(mcp__http_tr_new(&o, &q, &t, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "not an http(s) URL: (null)");
    /* A header with CR/LF would smuggle more headers; one without a colon is not a header. */
    o.url = "http://127.0.0.1:1/mcp";
    const char *smuggle[] = {"X-A: 1\r\nX-Injected: 2", NULL};
    o.headers = smuggle;
    assert_int_equal(mcp__http_tr_new(&o, &q, &t, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "bad extra header (want Name: value)");
    const char *nocolon[] = {"X-A 1", NULL};
    o.headers = nocolon;
    assert_int_equal(mcp__http_tr_new(&o, &q, &t, &err), MCP_ERR_INVALID_ARG);
    assert_string_equal(err.message, "bad extra header (want Name: value)");
    assert_null(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(session_version_auth_and_extra_headers),
        cmocka_unit_test(no_session_no_delete),
        cmocka_unit_test(several_in_flight_and_abort),
        cmocka_unit_test(get_stream_not_offered),
        cmocka_unit_test(unreachable_server),
        cmocka_unit_test(bad_options),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
