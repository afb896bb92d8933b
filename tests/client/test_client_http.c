/*
 * The client over Streamable HTTP against a real libmicrohttpd server on 127.0.0.1:0 that this
 * test runs in-process. The server follows a per-test script: a well-behaved exchange (JSON and
 * SSE in small chunks, a server->client request answered mid-stream, session and version
 * headers, DELETE on close, resumption with Last-Event-ID), and misbehaviour that must produce a
 * clear error and never a hang: invalid JSON, a dropped SSE stream, HTTP 500, an oversize
 * response, an unreachable host, a server that never answers, 401/403, an unknown protocol
 * version, and a session the server forgot. Every wait is bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mcp/client.h>

#include "test_mhd_util.h"

/* ------------------------------------------------------------------------------------------ */
/* the scripted server                                                                        */

typedef enum {
    M_GOOD, M_BAD_JSON, M_SSE_DROP, M_500, M_BIG_JSON, M_BIG_SSE, M_HANG, M_401, M_403,
    M_BAD_VERSION, M_RESUME, M_FORGET_SESSION, M_STREAM
} mode;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    mode            m;
    int             posts, gets, deletes;
    char            last_auth[256];
    char            last_version[64];
    char            delete_session[64];
    char            last_event_id[64];
    bool            saw_session_on_call;
    bool            saw_cancel;
    char            elicit_answer[512];
    uint64_t        stream_closed_ms, get_ms;
    bool            stop;
} S;

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A streamed response: pieces written one per callback, with pauses and markers. */
typedef struct script {
    const char *piece[16];
    int         n, next;
    size_t      off;          /* bytes of piece[next] already sent */
} script;

#define WAIT_ANSWER "@wait-answer"
#define CLOSE_MARK "@close"

static ssize_t
script_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    script *s = cls;
    if (s->next >= s->n)
        return MHD_CONTENT_READER_END_OF_STREAM;
    const char *p = s->piece[s->next++];
    if (strcmp(p, WAIT_ANSWER) == 0) {
        /* Block this connection's thread until the client POSTed its answer (bounded). */
        pthread_mutex_lock(&S.mu);
        uint64_t end = now_ms() + 5000;
        while (S.elicit_answer[0] == '\0' && !S.stop && now_ms() < end) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 20 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&S.cv, &S.mu, &ts);
        }
        pthread_mutex_unlock(&S.mu);
        p = s->piece[s->next++];
    }
    if (strcmp(p, CLOSE_MARK) == 0) {
        pthread_mutex_lock(&S.mu);
        S.stream_closed_ms = now_ms();
        pthread_mutex_unlock(&S.mu);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    if (s->off == 0)
        usleep(3000);                          /* make chunk boundaries likely */
    size_t n = strlen(p) - s->off;
    if (n > max) {                             /* a large piece goes out over several calls */
        memcpy(buf, p + s->off, max);
        s->off += max;
        s->next--;
        return (ssize_t)max;
    }
    memcpy(buf, p + s->off, n);
    s->off = 0;
    return (ssize_t)n;
}

static void
script_free(void *cls)
{
    free(cls);
}

static enum MHD_Result
send_script(struct MHD_Connection *conn, unsigned status, const char *const *pieces)
{
    script *s = calloc(1, sizeof *s);
    while (pieces[s->n] != NULL)
        s->piece[s->n] = pieces[s->n], s->n++;
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 256,
                                                               script_reader, s, script_free);
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Mcp-Session-Id", "sess-1");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result
send_body(struct MHD_Connection *conn, unsigned status, const char *ctype, const char *body,
          const char *www)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
                                                             MHD_RESPMEM_MUST_COPY);
    if (ctype != NULL)
        MHD_add_response_header(r, "Content-Type", ctype);
    if (www != NULL)
        MHD_add_response_header(r, "WWW-Authenticate", www);
    MHD_add_response_header(r, "Mcp-Session-Id", "sess-1");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static char big_body[200 * 1024];

static enum MHD_Result
handle_post(struct MHD_Connection *conn, json_t *msg)
{
    const char *method = json_string_value(json_object_get(msg, "method"));
    json_t *id = json_object_get(msg, "id");
    char out[2048];
    char idtxt[64] = "null";
    if (json_is_integer(id))
        snprintf(idtxt, sizeof idtxt, "%lld", (long long)json_integer_value(id));

    if (method == NULL) {                      /* the client's answer to our request */
        char *t = json_dumps(json_object_get(msg, "result"), JSON_COMPACT | JSON_SORT_KEYS);
        pthread_mutex_lock(&S.mu);
        snprintf(S.elicit_answer, sizeof S.elicit_answer, "%s", t ? t : "null");
        pthread_cond_broadcast(&S.cv);
        pthread_mutex_unlock(&S.mu);
        free(t);
        return send_body(conn, 202, NULL, "", NULL);
    }
    if (strcmp(method, "notifications/cancelled") == 0) {
        pthread_mutex_lock(&S.mu);
        S.saw_cancel = true;
        pthread_mutex_unlock(&S.mu);
    }
    if (strncmp(method, "notifications/", 14) == 0)
        return send_body(conn, 202, NULL, "", NULL);
    if (strcmp(method, "initialize") == 0) {
        if (S.m == M_401)
            return send_body(conn, 401, "application/json", "{\"error\":\"invalid_token\"}",
                             "Bearer error=\"invalid_token\", error_description=\"bad token\"");
        const char *pv = S.m == M_BAD_VERSION ? "1999-01-01" : "2025-06-18";
        snprintf(out, sizeof out,
                 "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"protocolVersion\":\"%s\","
                 "\"capabilities\":{\"tools\":{}},\"serverInfo\":{\"name\":\"mock\","
                 "\"version\":\"1\"},\"instructions\":\"be nice\"}}",
                 idtxt, pv);
        return send_body(conn, 200, "application/json", out, NULL);
    }
    if (strcmp(method, "tools/list") == 0) {
        switch (S.m) {
        case M_BAD_JSON:
            return send_body(conn, 200, "application/json", "{\"jsonrpc\":\"2.0\",\"id\":", NULL);
        case M_500:
            return send_body(conn, 500, "text/plain", "boom", NULL);
        case M_403:
            return send_body(conn, 403, "application/json", "{}",
                             "Bearer error=\"insufficient_scope\", scope=\"admin\"");
        case M_FORGET_SESSION:
            return send_body(conn, 404, "text/plain", "no such session", NULL);
        case M_BIG_JSON:
            return send_body(conn, 200, "application/json", big_body, NULL);
        case M_BIG_SSE: {
            static char ev[100 * 1024];
            memset(ev, 'x', sizeof ev - 1);
            memcpy(ev, "data: ", 6);
            const char *p[] = { ev, "\n\n", NULL };
            return send_script(conn, 200, p);
        }
        case M_SSE_DROP: {
            const char *p[] = { "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\","
                                "\"params\":{\"level\":\"info\",\"data\":\"x\"}}\n\n",
                                CLOSE_MARK, NULL };
            return send_script(conn, 200, p);
        }
        case M_HANG: {
            const char *p[] = { ": keep-alive\n\n", WAIT_ANSWER, CLOSE_MARK, NULL };
            return send_script(conn, 200, p);
        }
        default: {
            /* A log notification, then the result split mid-line and mid-CRLF. */
            static char res[256];
            snprintf(res, sizeof res,
                     "\"result\":{\"tools\":[{\"name\":\"t1\",\"inputSchema\":"
                     "{\"type\":\"object\"}}]}}\r\n\r\n");
            static char head[128];
            snprintf(head, sizeof head, "data: {\"jsonrpc\":\"2.0\",\"id\":%s,", idtxt);
            const char *p[] = { "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",",
                                "\"params\":{\"level\":\"info\",\"data\":\"hello\"}}\n",
                                "\n", head, res, NULL };
            return send_script(conn, 200, p);
        }
        }
    }
    if (strcmp(method, "tools/call") == 0) {
        pthread_mutex_lock(&S.mu);
        S.saw_session_on_call =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Mcp-Session-Id") != NULL;
        pthread_mutex_unlock(&S.mu);
        static char result[256];
        snprintf(result, sizeof result,
                 "data: {\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"content\":[{\"type\":"
                 "\"text\",\"text\":\"done\"}]}}\n\n", idtxt);
        if (S.m == M_RESUME) {
            const char *p[] = { "id: e1\nretry: 150\ndata: \n\n", CLOSE_MARK, NULL };
            return send_script(conn, 200, p);
        }
        const char *p[] = {
            "data: {\"jsonrpc\":\"2.0\",\"id\":\"srv-1\",\"method\":\"elicitation/create\","
            "\"params\":{\"message\":\"m\",\"requestedSchema\":{\"type\":\"object\","
            "\"properties\":{\"n\":{\"type\":\"integer\",\"default\":7}}}}}\n\n",
            "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":"
            "{\"progressToken\":2,\"progress\":50,\"total\":100}}\n\n",
            WAIT_ANSWER, result, NULL };
        return send_script(conn, 200, p);
    }
    snprintf(out, sizeof out,
             "{\"jsonrpc\":\"2.0\",\"id\":%s,\"error\":{\"code\":-32601,\"message\":"
             "\"Method not found\"}}", idtxt);
    return send_body(conn, 200, "application/json", out, NULL);
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
        const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)url;
    (void)version;
    if (req_collect(con_cls, upload, upload_size))
        return MHD_YES;
    req_ctx *c = *con_cls;
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    const char *pv = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "MCP-Protocol-Version");
    const char *sid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Mcp-Session-Id");
    pthread_mutex_lock(&S.mu);
    snprintf(S.last_auth, sizeof S.last_auth, "%s", auth ? auth : "");
    if (pv != NULL)
        snprintf(S.last_version, sizeof S.last_version, "%s", pv);
    pthread_mutex_unlock(&S.mu);

    if (strcmp(method, "DELETE") == 0) {
        pthread_mutex_lock(&S.mu);
        S.deletes++;
        snprintf(S.delete_session, sizeof S.delete_session, "%s", sid ? sid : "");
        pthread_mutex_unlock(&S.mu);
        return send_body(conn, 200, NULL, "", NULL);
    }
    if (strcmp(method, "GET") == 0) {
        const char *lei = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Last-Event-ID");
        pthread_mutex_lock(&S.mu);
        S.gets++;
        S.get_ms = now_ms();
        snprintf(S.last_event_id, sizeof S.last_event_id, "%s", lei ? lei : "");
        pthread_mutex_unlock(&S.mu);
        if (S.m == M_STREAM) {
            /* the standalone stream: one notification, then stay open until the test ends */
            const char *p[] = { "id: s1\ndata: {\"jsonrpc\":\"2.0\",\"method\":"
                                "\"notifications/tools/list_changed\"}\n\n",
                                WAIT_ANSWER, CLOSE_MARK, NULL };
            return send_script(conn, 200, p);
        }
        if (S.m != M_RESUME || lei == NULL)
            return send_body(conn, 405, NULL, "", NULL);
        const char *p[] = { "id: e2\ndata: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":"
                            "{\"content\":[{\"type\":\"text\",\"text\":\"resumed\"}]}}\n\n",
                            NULL };
        return send_script(conn, 200, p);
    }
    pthread_mutex_lock(&S.mu);
    S.posts++;
    pthread_mutex_unlock(&S.mu);
    json_error_t je;
    json_t *msg = json_loadb(c->body ? c->body : "", c->len, 0, &je);
    if (msg == NULL)
        return send_body(conn, 400, "text/plain", "bad json", NULL);
    enum MHD_Result r = handle_post(conn, msg);
    json_decref(msg);
    return r;
}

static struct MHD_Daemon *daemon_;
static char url_[128];

static void
server_start(mode m)
{
    pthread_mutex_lock(&S.mu);
    S.m = m;
    S.posts = S.gets = S.deletes = 0;
    S.last_auth[0] = S.last_version[0] = S.delete_session[0] = S.last_event_id[0] = '\0';
    S.elicit_answer[0] = '\0';
    S.saw_cancel = S.saw_session_on_call = S.stop = false;
    S.stream_closed_ms = S.get_ms = 0;
    pthread_mutex_unlock(&S.mu);
    daemon_ = mhd_start_loopback(handler);
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(url_, sizeof url_, "http://127.0.0.1:%u/mcp", (unsigned)i->port);
}

static void
server_stop(void)
{
    pthread_mutex_lock(&S.mu);
    S.stop = true;
    pthread_cond_broadcast(&S.cv);
    pthread_mutex_unlock(&S.mu);
    MHD_stop_daemon(daemon_);
    daemon_ = NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* client side                                                                                */

typedef struct cb_seen {
    int  logs, progress;
    char elicit_method[64];
} cb_seen;

static void
on_log(mcp_client *c, const char *level, const char *logger, const json_t *data, void *ud)
{
    (void)c;
    (void)level;
    (void)logger;
    (void)data;
    ((cb_seen *)ud)->logs++;
}

static void
on_progress(mcp_client *c, const json_t *tok, double p, double t, const char *m, void *ud)
{
    (void)c;
    (void)tok;
    (void)m;
    assert_true(p == 50.0 && t == 100.0);
    ((cb_seen *)ud)->progress++;
}

static mcp_status
on_elicit(mcp_client *c, const char *method, const json_t *params, void *ud, json_t **result,
          mcp_error *err)
{
    cb_seen *s = ud;
    snprintf(s->elicit_method, sizeof s->elicit_method, "%s", method);
    /* requests from inside a callback are refused */
    json_t *r = NULL;
    assert_int_equal(mcp_client_request(c, "ping", NULL, &r, err), MCP_ERR_STATE);
    json_t *content = NULL;
    mcp_status rc = mcp_client_elicit_defaults(json_object_get(params, "requestedSchema"),
                                               &content, err);
    if (rc != MCP_OK)
        return rc;
    *result = json_pack("{s:s, s:o}", "action", "accept", "content", content);
    return MCP_OK;
}

static mcp_client *
new_client(cb_seen *seen, size_t max_message, unsigned timeout_ms, const char *token)
{
    mcp_client_opts o;
    mcp_client_opts_default(&o);
    o.protocol = MCP_CLIENT_PROTOCOL_LEGACY; /* a scripted 2025 server */
    o.bearer_token = token;
    o.max_message = max_message;
    o.request_timeout_ms = timeout_ms;
    o.cb.log = on_log;
    o.cb.progress = on_progress;
    o.cb.elicitation = on_elicit;
    o.cb.udata = seen;
    mcp_client *c = NULL;
    mcp_error err;
    assert_int_equal(mcp_client_new(&o, &c, &err), MCP_OK);
    return c;
}

static void
http_good_exchange(void **state)
{
    (void)state;
    server_start(M_GOOD);
    cb_seen seen;
    memset(&seen, 0, sizeof seen);
    mcp_client *c = new_client(&seen, 0, 5000, "tok-123");
    mcp_error err;
    assert_int_equal(mcp_client_connect_http(c, url_, &err), MCP_OK);
    assert_string_equal(mcp_client_protocol_version(c), "2025-06-18");
    assert_string_equal(mcp_client_session_id(c), "sess-1");
    assert_string_equal(mcp_client_instructions(c), "be nice");
    assert_string_equal(json_string_value(json_object_get(mcp_client_server_info(c), "name")),
                        "mock");

    json_t *tools = NULL;
    assert_int_equal(mcp_client_list_tools(c, &tools, &err), MCP_OK);
    assert_int_equal(json_array_size(tools), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(tools, 0), "name")),
                        "t1");
    json_decref(tools);
    assert_int_equal(seen.logs, 1);
    assert_string_equal(S.last_auth, "Bearer tok-123");
    assert_string_equal(S.last_version, "2025-06-18");

    json_t *res = NULL;
    assert_int_equal(mcp_client_call_tool(c, "x", NULL, &res, &err), MCP_OK);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(res, "content"), 0), "text")),
                        "done");
    json_decref(res);
    assert_string_equal(seen.elicit_method, "elicitation/create");
    assert_int_equal(seen.progress, 1);
    assert_string_equal(S.elicit_answer, "{\"action\":\"accept\",\"content\":{\"n\":7}}");
    assert_true(S.saw_session_on_call);

    /* unknown method: JSON-RPC error mapped to a status, with the server's message */
    assert_int_equal(mcp_client_request(c, "nope/nope", NULL, &res, &err), MCP_ERR_NOT_FOUND);
    assert_int_equal(err.rpc_code, -32601);
    assert_string_equal(err.message, "Method not found");

    mcp_client_free(c);                        /* DELETE with the session id */
    assert_int_equal(S.deletes, 1);
    assert_string_equal(S.delete_session, "sess-1");
    server_stop();
}

/* Connect, then run tools/list and return its status (err filled). */
static mcp_status
list_against(mode m, size_t max_message, unsigned timeout_ms, mcp_error *err, uint64_t *ms)
{
    server_start(m);
    cb_seen seen;
    memset(&seen, 0, sizeof seen);
    mcp_client *c = new_client(&seen, max_message, timeout_ms, NULL);
    assert_int_equal(mcp_client_connect_http(c, url_, err), MCP_OK);
    json_t *tools = NULL;
    uint64_t t0 = now_ms();
    mcp_status rc = mcp_client_list_tools(c, &tools, err);
    if (ms)
        *ms = now_ms() - t0;
    assert_null(tools);
    mcp_client_free(c);
    server_stop();
    return rc;
}

static void
http_invalid_json_is_a_parse_error(void **state)
{
    (void)state;
    mcp_error err;
    assert_int_equal(list_against(M_BAD_JSON, 0, 5000, &err, NULL), MCP_ERR_PARSE);
    assert_non_null(strstr(err.message, "not valid JSON"));
}

static void
http_dropped_sse_stream_is_an_io_error(void **state)
{
    (void)state;
    mcp_error err;
    uint64_t ms;
    assert_int_equal(list_against(M_SSE_DROP, 0, 5000, &err, &ms), MCP_ERR_IO);
    assert_non_null(strstr(err.message, "closed before the response"));
    assert_true(ms < 3000);                    /* reported at once, not at the timeout */
}

static void
http_500_is_an_io_error(void **state)
{
    (void)state;
    mcp_error err;
    assert_int_equal(list_against(M_500, 0, 5000, &err, NULL), MCP_ERR_IO);
    assert_non_null(strstr(err.message, "HTTP 500"));
}

static void
http_oversize_responses_are_refused(void **state)
{
    (void)state;
    mcp_error err;
    memset(big_body, ' ', sizeof big_body - 1);
    big_body[0] = '[';
    big_body[sizeof big_body - 2] = ']';
    assert_int_equal(list_against(M_BIG_JSON, 64 * 1024, 5000, &err, NULL), MCP_ERR_TOO_LARGE);
    assert_non_null(strstr(err.message, "65536"));
    assert_int_equal(list_against(M_BIG_SSE, 64 * 1024, 5000, &err, NULL), MCP_ERR_TOO_LARGE);
    /* the same body fits under the default 16 MiB cap (and is then not a tools/list result) */
    assert_int_equal(list_against(M_BIG_JSON, 0, 5000, &err, NULL), MCP_ERR_PROTOCOL);
}

static void
http_silent_server_times_out_and_cancels(void **state)
{
    (void)state;
    mcp_error err;
    uint64_t ms;
    assert_int_equal(list_against(M_HANG, 0, 300, &err, &ms), MCP_ERR_TIMEOUT);
    assert_true(ms >= 250 && ms < 3000);
    assert_true(S.saw_cancel);                 /* notifications/cancelled was POSTed */
}

static void
http_unreachable_host_fails_fast(void **state)
{
    (void)state;
    /* A port nothing listens on: bind, learn the port, close. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    close(fd);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/mcp", (unsigned)ntohs(sa.sin_port));
    cb_seen seen;
    mcp_client *c = new_client(&seen, 0, 5000, NULL);
    mcp_error err;
    uint64_t t0 = now_ms();
    assert_int_equal(mcp_client_connect_http(c, url, &err), MCP_ERR_IO);
    assert_true(now_ms() - t0 < 3000);
    assert_non_null(strstr(err.message, "cannot reach"));
    /* not connected: requests are refused, not hung */
    json_t *r = NULL;
    assert_int_equal(mcp_client_request(c, "ping", NULL, &r, &err), MCP_ERR_STATE);
    mcp_client_free(c);

    c = new_client(&seen, 0, 5000, NULL);
    assert_int_equal(mcp_client_connect_http(c, "ftp://127.0.0.1/x", &err), MCP_ERR_INVALID_ARG);
    mcp_client_free(c);
}

static void
http_401_and_403_keep_their_meaning(void **state)
{
    (void)state;
    server_start(M_401);
    cb_seen seen;
    mcp_client *c = new_client(&seen, 0, 5000, "wrong");
    mcp_error err;
    assert_int_equal(mcp_client_connect_http(c, url_, &err), MCP_ERR_UNAUTHENTICATED);
    assert_non_null(strstr(err.message, "401"));
    assert_null(strstr(err.message, "wrong"));  /* the token never appears in messages */
    mcp_client_free(c);
    server_stop();

    mcp_error e2;
    assert_int_equal(list_against(M_403, 0, 5000, &e2, NULL), MCP_ERR_FORBIDDEN);
    assert_non_null(strstr(e2.message, "403"));
}

static void
http_unknown_protocol_version_is_refused(void **state)
{
    (void)state;
    server_start(M_BAD_VERSION);
    cb_seen seen;
    mcp_client *c = new_client(&seen, 0, 5000, NULL);
    mcp_error err;
    assert_int_equal(mcp_client_connect_http(c, url_, &err), MCP_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.message, "1999-01-01"));
    mcp_client_free(c);
    server_stop();
}

static void
http_resumes_with_last_event_id_after_retry(void **state)
{
    (void)state;
    server_start(M_RESUME);
    cb_seen seen;
    memset(&seen, 0, sizeof seen);
    mcp_client *c = new_client(&seen, 0, 5000, NULL);
    mcp_error err;
    assert_int_equal(mcp_client_connect_http(c, url_, &err), MCP_OK);
    json_t *res = NULL;
    assert_int_equal(mcp_client_call_tool(c, "x", NULL, &res, &err), MCP_OK);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(res, "content"), 0), "text")),
                        "resumed");
    json_decref(res);
    assert_string_equal(S.last_event_id, "e1");
    uint64_t waited = S.get_ms - S.stream_closed_ms;
    assert_true(waited >= 140 && waited < 1000);   /* honoured retry: 150 */
    mcp_client_free(c);
    server_stop();
}

static void
http_forgotten_session_is_a_state_error(void **state)
{
    (void)state;
    mcp_error err;
    assert_int_equal(list_against(M_FORGET_SESSION, 0, 5000, &err, NULL), MCP_ERR_STATE);
    assert_non_null(strstr(err.message, "404"));
}

static int notified;

static void
on_notification(mcp_client *c, const char *method, const json_t *params, void *ud)
{
    (void)c;
    (void)params;
    (void)ud;
    if (strcmp(method, "notifications/tools/list_changed") == 0)
        notified++;
}

static void
http_get_stream_delivers_notifications_to_poll(void **state)
{
    (void)state;
    server_start(M_STREAM);
    notified = 0;
    mcp_client_opts o;
    mcp_client_opts_default(&o);
    o.protocol = MCP_CLIENT_PROTOCOL_LEGACY; /* a scripted 2025 server */
    o.get_stream = true;
    o.cb.notification = on_notification;
    mcp_client *c = NULL;
    mcp_error err;
    assert_int_equal(mcp_client_new(&o, &c, &err), MCP_OK);
    assert_int_equal(mcp_client_connect_http(c, url_, &err), MCP_OK);
    assert_int_equal(S.gets, 1);               /* opened (and answered) before connect returned */
    uint64_t t0 = now_ms();
    while (notified == 0 && now_ms() - t0 < 3000)
        assert_int_equal(mcp_client_poll(c, 100, &err), MCP_OK);
    assert_int_equal(notified, 1);
    mcp_client_free(c);
    server_stop();
}

static int
setup(void **state)
{
    (void)state;
    pthread_mutex_init(&S.mu, NULL);
    pthread_cond_init(&S.cv, NULL);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(http_good_exchange),
        cmocka_unit_test(http_invalid_json_is_a_parse_error),
        cmocka_unit_test(http_dropped_sse_stream_is_an_io_error),
        cmocka_unit_test(http_500_is_an_io_error),
        cmocka_unit_test(http_oversize_responses_are_refused),
        cmocka_unit_test(http_silent_server_times_out_and_cancels),
        cmocka_unit_test(http_unreachable_host_fails_fast),
        cmocka_unit_test(http_401_and_403_keep_their_meaning),
        cmocka_unit_test(http_unknown_protocol_version_is_refused),
        cmocka_unit_test(http_resumes_with_last_event_id_after_retry),
        cmocka_unit_test(http_forgotten_session_is_a_state_error),
        cmocka_unit_test(http_get_stream_delivers_notifications_to_poll),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
