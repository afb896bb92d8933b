/*
 * The Streamable HTTP transport against a real server on loopback: every malformed input gets
 * its exact error, nothing crashes, and slow handlers do not stall others.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <time.h>

#include "harness.h"

static mcp_server *srv;
static char url[128];
static uint16_t port;
static char sid[64];

static const char *const JSON_HDRS[] = { "Content-Type: application/json",
                                         "Accept: application/json, text/event-stream", NULL };

static mcp_status
echo(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    char buf[256];
    snprintf(buf, sizeof buf, "echo: %s", mcp_ctx_arg_str(ctx, "text"));
    return mcp_ctx_add_text(ctx, buf, err);
}

static mcp_status
slow(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    for (int i = 0; i < 40 && !mcp_ctx_is_cancelled(ctx); i++)
        usleep(10000);
    return mcp_ctx_add_text(ctx, "slow done", err);
}

static mcp_status
chatty(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    mcp_status rc = mcp_ctx_log(ctx, MCP_LOG_INFO, NULL, "one", err);
    if (rc == MCP_OK)
        rc = mcp_ctx_progress(ctx, 1, 2, NULL, err);
    return rc == MCP_OK ? mcp_ctx_add_text(ctx, "chatty done", err) : rc;
}

static mcp_status
failing(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    (void)ctx;
    return mcp_error_set(err, MCP_ERR_IO, "secret-internal-detail");
}

static int
start(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_ALL);
    mcp_server_opts so;
    mcp_server_opts_default(&so);
    mcp_error err;
    if (mcp_server_new(&so, &srv, &err) != MCP_OK)
        return -1;
    static const mcp_tool_def defs[] = {
        { .name = "echo", .description = "echo",
          .input_schema = "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}},"
                          "\"required\":[\"text\"]}",
          .access = { .any_authenticated = true }, .flags = MCP_TOOL_INLINE, .handler = echo },
        { .name = "slow", .description = "sleeps 400 ms",
          .access = { .any_authenticated = true }, .handler = slow },
        { .name = "chatty", .description = "logs and reports progress",
          .access = { .any_authenticated = true }, .handler = chatty },
        { .name = "failing", .description = "fails with an internal error",
          .access = { .any_authenticated = true }, .handler = failing },
    };
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++)
        if (mcp_server_add_tool(srv, &defs[i], NULL, &err) != MCP_OK)
            return -1;
    if (th_listen(srv, 2048, 0, url, sizeof url) != 0)
        return -1;
    port = mcp_server_http_port(srv);
    http_resp r;
    th_request("POST", url,
               "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
               "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
               "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}", JSON_HDRS, &r);
    int rc = th_header(&r, "Mcp-Session-Id", sid, sizeof sid);
    th_resp_free(&r);
    return rc;
}

static int
stop(void **state)
{
    (void)state;
    mcp_server_free(srv);
    curl_global_cleanup();
    return 0;
}

/* POST body on the session; returns the parsed JSON body (or NULL). */
static json_t *
post(const char *body, long *status, http_resp *keep)
{
    char sh[128];
    snprintf(sh, sizeof sh, "Mcp-Session-Id: %s", sid);
    const char *h[] = { JSON_HDRS[0], JSON_HDRS[1], sh, "MCP-Protocol-Version: 2025-11-25", NULL };
    http_resp r;
    assert_int_equal(th_request("POST", url, body, h, &r), 0);
    *status = r.status;
    json_t *v = r.body ? json_loads(r.body, 0, NULL) : NULL;
    if (keep != NULL)
        *keep = r;
    else
        th_resp_free(&r);
    return v;
}

static void
expect_error(const char *body, long want_status, int want_code, const char *want_id_json)
{
    long status;
    json_t *v = post(body, &status, NULL);
    assert_int_equal(status, want_status);
    assert_non_null(v);
    json_t *e = json_object_get(v, "error");
    assert_non_null(e);
    assert_int_equal(json_integer_value(json_object_get(e, "code")), want_code);
    assert_true(json_is_string(json_object_get(e, "message")));
    char *id = json_dumps(json_object_get(v, "id"), JSON_ENCODE_ANY);
    assert_string_equal(id, want_id_json);
    free(id);
    json_decref(v);
}

static void
http_malformed_json_is_parse_error(void **state)
{
    (void)state;
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1,", 400, -32700, "null");
    expect_error("not json at all", 400, -32700, "null");
    expect_error("", 400, -32700, "null");
}

static void
http_wrong_shapes_are_invalid_request(void **state)
{
    (void)state;
    expect_error("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", 400, -32600, "null");
    expect_error("{\"id\":7,\"method\":\"ping\"}", 400, -32600, "7");
    expect_error("{\"jsonrpc\":\"1.0\",\"id\":7,\"method\":\"ping\"}", 400, -32600, "7");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":5}", 400, -32600, "7");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\",\"params\":[1]}", 400, -32600,
                 "7");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", 400, -32600, "null");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}", 400, -32600, "null");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\",\"method\":\"x\"}", 400,
                 -32700, "null");                          /* duplicate key: rejected by parser */
    expect_error("42", 400, -32600, "null");
}

static void
http_unknown_method_echoes_id_exactly(void **state)
{
    (void)state;
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":\"abc-1\",\"method\":\"no/such\"}", 200, -32601,
                 "\"abc-1\"");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":9007199254740993,\"method\":\"no/such\"}", 200,
                 -32601, "9007199254740993");
}

static void
http_bad_params_are_invalid_params(void **state)
{
    (void)state;
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{"
                 "\"name\":\"nope\"}}", 200, -32602, "2");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{"
                 "\"name\":\"echo\",\"arguments\":{}}}", 200, -32602, "3");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{"
                 "\"name\":\"echo\",\"arguments\":{\"text\":5}}}", 200, -32602, "4");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{"
                 "\"name\":\"echo\",\"arguments\":[]}}", 200, -32602, "5");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/list\",\"params\":{"
                 "\"cursor\":\"!!\"}}", 200, -32602, "6");
    expect_error("{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"logging/setLevel\",\"params\":{"
                 "\"level\":\"loud\"}}", 200, -32602, "8");
}

static void
http_handler_failure_hides_internal_message(void **state)
{
    (void)state;
    long status;
    http_resp r;
    json_t *v = post("{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{"
                     "\"name\":\"failing\"}}", &status, &r);
    assert_int_equal(status, 200);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(v, "error"), "code")),
                     -32603);
    assert_null(strstr(r.body, "secret-internal-detail"));
    th_resp_free(&r);
    json_decref(v);
}

static void
http_oversize_body_is_413(void **state)
{
    (void)state;
    char big[4096];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", 39);
    long status;
    json_t *v = post(big, &status, NULL);
    assert_int_equal(status, 413);
    json_decref(v);
    /* the server still answers afterwards */
    v = post("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", &status, NULL);
    assert_int_equal(status, 200);
    assert_true(json_is_object(json_object_get(v, "result")));
    json_decref(v);
}

static void
http_session_errors(void **state)
{
    (void)state;
    const char *ping = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";
    http_resp r;
    const char *unknown[] = { JSON_HDRS[0], JSON_HDRS[1], "Mcp-Session-Id: not-a-session", NULL };
    th_request("POST", url, ping, unknown, &r);
    assert_int_equal(r.status, 404);
    th_resp_free(&r);
    th_request("POST", url, ping, JSON_HDRS, &r);          /* no session id */
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "Mcp-Session-Id"));
    th_resp_free(&r);
    char sh[128];
    snprintf(sh, sizeof sh, "Mcp-Session-Id: %s", sid);
    const char *bad_ver[] = { JSON_HDRS[0], JSON_HDRS[1], sh, "MCP-Protocol-Version: 1999-01-01",
                              NULL };
    th_request("POST", url, ping, bad_ver, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "MCP-Protocol-Version"));
    th_resp_free(&r);
    const char *old_ver[] = { JSON_HDRS[0], JSON_HDRS[1], sh, "MCP-Protocol-Version: 2025-03-26",
                              NULL };
    th_request("POST", url, ping, old_ver, &r);             /* any supported version is fine */
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
    const char *text[] = { "Content-Type: text/plain", sh, NULL };
    th_request("POST", url, ping, text, &r);
    assert_int_equal(r.status, 415);
    th_resp_free(&r);
    th_request("PUT", url, ping, JSON_HDRS, &r);
    assert_int_equal(r.status, 405);
    th_resp_free(&r);
}

static void
http_notification_is_202_and_empty(void **state)
{
    (void)state;
    long status;
    http_resp r;
    json_t *v = post("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &status,
                     &r);
    assert_int_equal(status, 202);
    assert_int_equal(r.len, 0);
    assert_null(v);
    th_resp_free(&r);
}

static void
http_rejects_ambiguous_framing(void **state)
{
    (void)state;
    char req[512], reply[2048];
    snprintf(req, sizeof req,
             "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nContent-Type: application/json\r\n"
             "Content-Length: 40\r\nContent-Length: 5\r\n\r\n"
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", port);
    assert_int_equal(th_raw(port, req, reply, sizeof reply), 400);
    snprintf(req, sizeof req,
             "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nContent-Type: application/json\r\n"
             "Content-Length: 39\r\nTransfer-Encoding: chunked\r\n\r\n"
             "27\r\n{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r\n0\r\n\r\n", port);
    assert_int_equal(th_raw(port, req, reply, sizeof reply), 400);
}

static void
http_dns_rebinding_is_403(void **state)
{
    (void)state;
    const char *init = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                       "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
                       "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";
    http_resp r;
    const char *evil[] = { JSON_HDRS[0], JSON_HDRS[1], "Host: evil.example.com",
                           "Origin: http://evil.example.com", NULL };
    th_request("POST", url, init, evil, &r);
    assert_int_equal(r.status, 403);
    th_resp_free(&r);
    const char *evil_origin[] = { JSON_HDRS[0], JSON_HDRS[1], "Origin: http://evil.example.com",
                                  NULL };
    th_request("POST", url, init, evil_origin, &r);
    assert_int_equal(r.status, 403);
    th_resp_free(&r);
    char host[64];
    snprintf(host, sizeof host, "Origin: http://localhost:%u", port);
    const char *good[] = { JSON_HDRS[0], JSON_HDRS[1], host, NULL };
    th_request("POST", url, init, good, &r);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
}

static void
http_notifications_switch_to_sse(void **state)
{
    (void)state;
    long status;
    http_resp r;
    json_t *v = post("{\"jsonrpc\":\"2.0\",\"id\":\"c1\",\"method\":\"tools/call\",\"params\":{"
                     "\"name\":\"chatty\",\"_meta\":{\"progressToken\":\"tok\"}}}", &status, &r);
    assert_null(v);                                    /* SSE, not one JSON body */
    assert_int_equal(status, 200);
    char ct[64];
    assert_int_equal(th_header(&r, "Content-Type", ct, sizeof ct), 0);
    assert_string_equal(ct, "text/event-stream");
    const char *log = strstr(r.body, "notifications/message");
    const char *prog = strstr(r.body, "notifications/progress");
    const char *res = strstr(r.body, "chatty done");
    assert_non_null(log);
    assert_non_null(prog);
    assert_non_null(res);
    assert_true(log < prog && prog < res);             /* notifications precede the response */
    assert_non_null(strstr(r.body, "\"progressToken\":\"tok\""));
    th_resp_free(&r);
}

typedef struct slow_arg {
    long     status;
    char     body[256];
    uint64_t done_ms;              /* when its answer arrived */
} slow_arg;

static void *
call_slow(void *arg)
{
    slow_arg *a = arg;
    long status;
    http_resp r;
    json_t *v = post("{\"jsonrpc\":\"2.0\",\"id\":77,\"method\":\"tools/call\",\"params\":{"
                     "\"name\":\"slow\"}}", &status, &r);
    a->done_ms = mcp_now_ms();
    a->status = status;
    snprintf(a->body, sizeof a->body, "%s", r.body ? r.body : "");
    th_resp_free(&r);
    json_decref(v);
    return NULL;
}

static void
http_slow_handler_does_not_stall_others(void **state)
{
    (void)state;
    pthread_t t[3];
    slow_arg a[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, call_slow, &a[i]);
    usleep(50000);
    uint64_t t0 = mcp_now_ms();
    for (int i = 0; i < 5; i++) {
        long status;
        json_t *v = post("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{"
                         "\"name\":\"echo\",\"arguments\":{\"text\":\"hi\"}}}", &status, NULL);
        assert_int_equal(status, 200);
        json_decref(v);
    }
    /* five fast calls finished while three slow handlers were still running */
    uint64_t fast_ms = mcp_now_ms() - t0;
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].status, 200);
        assert_non_null(strstr(a[i].body, "slow done"));
    }
    uint64_t all_ms = mcp_now_ms() - t0;
    assert_true(fast_ms < all_ms);
    /* ... that is, before the first slow answer arrived (each slow handler takes 400 ms) */
    for (int i = 0; i < 3; i++)
        if (t0 + fast_ms > a[i].done_ms)
            fail_msg("slow call %d answered %llu ms after the start, before the five fast calls "
                     "were done (%llu ms)", i, (unsigned long long)(a[i].done_ms - t0),
                     (unsigned long long)fast_ms);
}

static void
http_idle_connections_do_not_block_service(void **state)
{
    (void)state;
    enum { N = 200 };                         /* below the per-address cap (256) */
    int *fds = calloc(N, sizeof *fds);
    int opened = 0;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    for (int i = 0; i < N; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&sa, sizeof sa) != 0)
            break;
        if (i % 2 == 0)                       /* half send a partial header and stall */
            (void)!write(fds[i], "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n", 38);
        opened++;
    }
    assert_int_equal(opened, N);
    long status;
    json_t *v = post("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", &status, NULL);
    assert_int_equal(status, 200);
    json_decref(v);
    for (int i = 0; i < opened; i++)
        close(fds[i]);
    free(fds);
}

static void
http_delete_ends_session(void **state)
{
    (void)state;
    http_resp r;
    th_request("POST", url,
               "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
               "\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},"
               "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}", JSON_HDRS, &r);
    char other[64], sh[128];
    assert_int_equal(th_header(&r, "Mcp-Session-Id", other, sizeof other), 0);
    assert_non_null(strstr(r.body, "\"protocolVersion\":\"2025-06-18\""));
    th_resp_free(&r);
    snprintf(sh, sizeof sh, "Mcp-Session-Id: %s", other);
    const char *h[] = { JSON_HDRS[0], JSON_HDRS[1], sh, NULL };
    th_request("DELETE", url, NULL, h, &r);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
    th_request("POST", url, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", h, &r);
    assert_int_equal(r.status, 404);
    th_resp_free(&r);
}

static void
http_version_negotiation_offers_latest(void **state)
{
    (void)state;
    http_resp r;
    th_request("POST", url,
               "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
               "\"protocolVersion\":\"2099-01-01\",\"capabilities\":{},"
               "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}", JSON_HDRS, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"protocolVersion\":\"2025-11-25\""));
    th_resp_free(&r);
}

typedef struct get_arg {
    http_resp r;
    const char *last_event_id;
} get_arg;

static void *
open_get(void *arg)
{
    get_arg *g = arg;
    char sh[128], le[128];
    snprintf(sh, sizeof sh, "Mcp-Session-Id: %s", sid);
    snprintf(le, sizeof le, "Last-Event-ID: %s", g->last_event_id ? g->last_event_id : "");
    const char *h[] = { "Accept: text/event-stream", sh, g->last_event_id ? le : NULL, NULL };
    memset(&g->r, 0, sizeof g->r);
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL;
    for (const char *const *p = h; *p; p++)
        hl = curl_slist_append(hl, *p);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, th_body_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &g->r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 800L);        /* the stream stays open: cut it */
    curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g->r.status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return NULL;
}

static void
http_get_stream_receives_and_replays_notifications(void **state)
{
    (void)state;
    get_arg g = { .last_event_id = NULL };
    pthread_t t;
    pthread_create(&t, NULL, open_get, &g);
    usleep(200000);
    mcp_server_notify_list_changed(srv, "tools");
    pthread_join(t, NULL);
    assert_int_equal(g.r.status, 200);
    assert_non_null(g.r.body);
    assert_non_null(strstr(g.r.body, "notifications/tools/list_changed"));
    /* the event id of the notification lets a reconnecting client replay what it missed */
    const char *idl = strstr(g.r.body, "id: ");
    assert_non_null(idl);
    char first_id[32];
    sscanf(idl + 4, "%31s", first_id);                     /* the priming event's id */
    th_resp_free(&g.r);
    mcp_server_notify_list_changed(srv, "prompts");        /* sent while disconnected */
    get_arg g2 = { .last_event_id = first_id };
    pthread_create(&t, NULL, open_get, &g2);
    pthread_join(t, NULL);
    assert_int_equal(g2.r.status, 200);
    assert_non_null(g2.r.body);
    assert_non_null(strstr(g2.r.body, "notifications/tools/list_changed"));
    assert_non_null(strstr(g2.r.body, "notifications/prompts/list_changed"));
    th_resp_free(&g2.r);
}

/* Issue 14: the liveness endpoint answers without a credential; other methods get 405; off
 * when health_path is NULL. */
static void
http_health_endpoint(void **state)
{
    (void)state;
    char hurl[160];
    snprintf(hurl, sizeof hurl, "http://127.0.0.1:%u/health", (unsigned)port);
    http_resp r;
    th_request("GET", hurl, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"status\":\"ok\"}");
    th_resp_free(&r);
    th_request("POST", hurl, "{}", JSON_HDRS, &r);
    assert_int_equal(r.status, 405);
    th_resp_free(&r);
    snprintf(hurl, sizeof hurl, "http://127.0.0.1:%u/healthz", (unsigned)port);
    th_request("GET", hurl, NULL, NULL, &r);
    assert_int_equal(r.status, 404);
    th_resp_free(&r);

    mcp_server_opts so;
    mcp_server_opts_default(&so);
    so.workers = 1;
    mcp_server *s = NULL;
    mcp_error err;
    assert_int_equal(mcp_server_new(&so, &s, &err), MCP_OK);
    mcp_http_opts o;
    mcp_http_opts_default(&o);
    o.port = 0;
    o.health_path = NULL;
    assert_int_equal(mcp_server_listen_http(s, &o, &err), MCP_OK);
    snprintf(hurl, sizeof hurl, "http://127.0.0.1:%u/health", (unsigned)mcp_server_http_port(s));
    th_request("GET", hurl, NULL, NULL, &r);
    assert_int_equal(r.status, 404);
    th_resp_free(&r);
    mcp_server_free(s);
}

/* Issue 14: the readiness endpoint reports ready_fn (its reason JSON-escaped), 200 without one,
 * 405 for other methods, at a configured path, and 404 when ready_path is NULL. */
static bool
not_ready(void *ctx, char *reason, size_t cap)
{
    int *calls = ctx;
    (*calls)++;
    snprintf(reason, cap, "store: \"quoted\" down");
    return false;
}

static void
http_ready_endpoint(void **state)
{
    (void)state;
    char rurl[160];
    http_resp r;
    snprintf(rurl, sizeof rurl, "http://127.0.0.1:%u/ready", (unsigned)port);
    th_request("GET", rurl, NULL, NULL, &r);          /* the shared server: no ready_fn */
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"status\":\"ready\"}");
    th_resp_free(&r);

    int calls = 0;
    mcp_server_opts so;
    mcp_server_opts_default(&so);
    so.workers = 1;
    mcp_server *s = NULL;
    mcp_error err;
    assert_int_equal(mcp_server_new(&so, &s, &err), MCP_OK);
    mcp_http_opts o;
    mcp_http_opts_default(&o);
    o.port = 0;
    o.ready_path = "/readyz";
    o.ready_fn = not_ready;
    o.ready_ctx = &calls;
    assert_int_equal(mcp_server_listen_http(s, &o, &err), MCP_OK);
    unsigned p = mcp_server_http_port(s);
    snprintf(rurl, sizeof rurl, "http://127.0.0.1:%u/readyz", p);
    th_request("GET", rurl, NULL, NULL, &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body,
                        "{\"status\":\"not ready\",\"reason\":\"store: \\\"quoted\\\" down\"}");
    th_resp_free(&r);
    assert_int_equal(calls, 1);
    th_request("POST", rurl, "{}", JSON_HDRS, &r);
    assert_int_equal(r.status, 405);
    th_resp_free(&r);
    assert_int_equal(calls, 1);                       /* not asked for a refused method */
    snprintf(rurl, sizeof rurl, "http://127.0.0.1:%u/ready", p);
    th_request("GET", rurl, NULL, NULL, &r);          /* moved: the default path is not served */
    assert_int_equal(r.status, 404);
    th_resp_free(&r);
    mcp_server_free(s);

    assert_int_equal(mcp_server_new(&so, &s, &err), MCP_OK);
    mcp_http_opts_default(&o);
    o.port = 0;
    o.ready_path = NULL;
    assert_int_equal(mcp_server_listen_http(s, &o, &err), MCP_OK);
    snprintf(rurl, sizeof rurl, "http://127.0.0.1:%u/ready", (unsigned)mcp_server_http_port(s));
    th_request("GET", rurl, NULL, NULL, &r);
    assert_int_equal(r.status, 404);
    th_resp_free(&r);
    mcp_server_free(s);
}

static mcp_status
try_listen(const mcp_http_opts *o, mcp_server **out, mcp_error *err)
{
    mcp_server_opts so;
    mcp_server_opts_default(&so);
    so.workers = 1;
    assert_int_equal(mcp_server_new(&so, out, err), MCP_OK);
    mcp_error_clear(err);
    return mcp_server_listen_http(*out, o, err);
}

/* Issue 14: a port another server listens on is refused with the address and the reason (no
 * SO_REUSEPORT unless asked); reuse_port lets servers that all ask share one; the TLS options
 * are checked before anything listens. */
static void
http_busy_port_is_refused(void **state)
{
    (void)state;
    mcp_http_opts o;
    mcp_http_opts_default(&o);
    o.port = port;                                       /* the group's server has it */
    mcp_server *s = NULL;
    mcp_error err;
    assert_int_equal(try_listen(&o, &s, &err), MCP_ERR_IO);
    char want[96];
    snprintf(want, sizeof want, "cannot listen on 127.0.0.1:%u: address already in use",
             (unsigned)port);
    assert_string_equal(err.message, want);
    mcp_server_free(s);

    /* a free port, then two servers with reuse_port on it, and a third without */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sl = sizeof sin;
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
    close(fd);
    o.port = ntohs(sin.sin_port);
    o.reuse_port = true;
    mcp_server *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(try_listen(&o, &a, &err), MCP_OK);
    assert_int_equal(try_listen(&o, &b, &err), MCP_OK);
    o.reuse_port = false;
    assert_int_equal(try_listen(&o, &c, &err), MCP_ERR_IO);
    assert_non_null(strstr(err.message, "address already in use"));
    mcp_server_free(c);
    mcp_server_free(b);
    mcp_server_free(a);

    /* TLS: both files or neither; a missing file and a non-PEM file are named */
    mcp_http_opts_default(&o);
    o.port = 0;
    o.tls_cert_file = "/nonexistent/cert.pem";
    assert_int_equal(try_listen(&o, &s, &err), MCP_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "both a certificate and a key"));
    mcp_server_free(s);
    o.tls_key_file = "/nonexistent/key.pem";
    assert_int_equal(try_listen(&o, &s, &err), MCP_ERR_IO);
    assert_non_null(strstr(err.message, "/nonexistent/cert.pem"));
    mcp_server_free(s);
    char path[64];
    snprintf(path, sizeof path, "/tmp/mcp-test-notpem-%d", (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("not a certificate\n", f);
    fclose(f);
    o.tls_cert_file = path;
    assert_int_equal(try_listen(&o, &s, &err), MCP_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "not a PEM file"));
    mcp_server_free(s);
    unlink(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(http_malformed_json_is_parse_error),
        cmocka_unit_test(http_wrong_shapes_are_invalid_request),
        cmocka_unit_test(http_unknown_method_echoes_id_exactly),
        cmocka_unit_test(http_bad_params_are_invalid_params),
        cmocka_unit_test(http_handler_failure_hides_internal_message),
        cmocka_unit_test(http_oversize_body_is_413),
        cmocka_unit_test(http_session_errors),
        cmocka_unit_test(http_notification_is_202_and_empty),
        cmocka_unit_test(http_rejects_ambiguous_framing),
        cmocka_unit_test(http_dns_rebinding_is_403),
        cmocka_unit_test(http_notifications_switch_to_sse),
        cmocka_unit_test(http_slow_handler_does_not_stall_others),
        cmocka_unit_test(http_idle_connections_do_not_block_service),
        cmocka_unit_test(http_delete_ends_session),
        cmocka_unit_test(http_version_negotiation_offers_latest),
        cmocka_unit_test(http_get_stream_receives_and_replays_notifications),
        cmocka_unit_test(http_busy_port_is_refused),
        cmocka_unit_test(http_health_endpoint),
        cmocka_unit_test(http_ready_endpoint),
    };
    return cmocka_run_group_tests(tests, start, stop);
}
