/* Direct unit tests for src/client/http_fetch.c: the client's one-shot OAuth fetches against a
 * real libmicrohttpd server on 127.0.0.1: body caps (Content-Length and chunked), a timeout,
 * WWW-Authenticate collection (several headers joined, the cap), non-2xx answers returned as
 * statuses, redirects not followed, Basic credentials, and the header helpers. */
#include "client/test_mhd_util.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "client/internal.h"

static struct MHD_Daemon *d;
static char base[64];

static void
sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static ssize_t
chunk_gen(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    if (pos >= 4096)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = max < 512 ? max : 512;
    memset(buf, 'c', n);
    return (ssize_t)n;
}

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned status, const char *ctype, const char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
                                                             MHD_RESPMEM_MUST_COPY);
    if (ctype != NULL)
        MHD_add_response_header(r, "Content-Type", ctype);
    enum MHD_Result ok = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
        const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)version;
    if (req_collect(con_cls, upload, upload_size))
        return MHD_YES;
    req_ctx *rc = *con_cls;
    if (strcmp(url, "/echo") == 0) {
        /* What the client sent: method, Accept, Content-Type, Authorization, User-Agent, body. */
        const char *acc = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept");
        const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
        const char *au = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
        const char *ua = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "User-Agent");
        char out[2048];
        snprintf(out, sizeof out, "%s|%s|%s|%s|%s|%s", method, acc ? acc : "-", ct ? ct : "-",
                 au ? au : "-", ua ? ua : "-", rc->body ? rc->body : "");
        return reply(conn, 200, "text/plain", out);
    }
    if (strcmp(url, "/big") == 0) {
        static char big[2048];
        memset(big, 'b', sizeof big - 1);
        return reply(conn, 200, "text/plain", big);
    }
    if (strcmp(url, "/chunked") == 0) {
        struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 512,
                                                                   chunk_gen, NULL, NULL);
        enum MHD_Result ok = MHD_queue_response(conn, 200, r);
        MHD_destroy_response(r);
        return ok;
    }
    if (strcmp(url, "/slow") == 0) {
        sleep_ms(1500);
        return reply(conn, 200, "text/plain", "late");
    }
    if (strcmp(url, "/challenge") == 0) {
        struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"",
                                                                 MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer resource_metadata=\"http://x/prm\"");
        MHD_add_response_header(r, "www-authenticate", "Basic realm=\"r\"");
        enum MHD_Result ok = MHD_queue_response(conn, 401, r);
        MHD_destroy_response(r);
        return ok;
    }
    if (strcmp(url, "/hugechallenge") == 0) {
        static char v[MCP__WWW_AUTH_MAX + 64];
        memcpy(v, "Bearer x=\"", 10);
        memset(v + 10, 'a', sizeof v - 12);
        v[sizeof v - 2] = '"';
        struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"",
                                                                 MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "WWW-Authenticate", v);
        enum MHD_Result ok = MHD_queue_response(conn, 401, r);
        MHD_destroy_response(r);
        return ok;
    }
    if (strcmp(url, "/redirect") == 0) {
        struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"",
                                                                 MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Location", "/echo?from=redirect");
        enum MHD_Result ok = MHD_queue_response(conn, 302, r);
        MHD_destroy_response(r);
        return ok;
    }
    if (strcmp(url, "/error") == 0)
        return reply(conn, 500, "application/json", "{\"error\":\"server_error\"}");
    return reply(conn, 404, "text/plain", "no such page");
}

static mcp_oauth *g_oauth;

static int
setup(void **state)
{
    (void)state;
    d = mhd_start_loopback(handler);
    /* Every OAuth fetch is made for a client (its options decide the address rule); this test
     * is about the fetch itself, so the client allows the loopback test server. */
    mcp_oauth_opts o;
    mcp_oauth_opts_default(&o);
    o.allow_internal_as = true;
    mcp_error err;
    if (mcp_oauth_new(&o, &g_oauth, &err) != MCP_OK)
        return -1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(base, sizeof base, "http://127.0.0.1:%u", (unsigned)info->port);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    MHD_stop_daemon(d);
    mcp_oauth_free(g_oauth);
    return 0;
}

static void
get_and_post_round_trip(void **state)
{
    (void)state;
    char url[128];
    snprintf(url, sizeof url, "%s/echo", base);
    mcp__http_req rq = {.oauth = g_oauth, .method = "GET", .url = url, .accept = "application/json"};
    mcp__http_resp rs;
    mcp_error err;
    assert_int_equal(mcp__http_fetch(&rq, &rs, &err), MCP_OK);
    assert_int_equal(rs.status, 200);
    assert_string_equal(rs.content_type, "text/plain");
    assert_string_equal(rs.body, "GET|application/json|-|-|libmcp-client/" MCP_VERSION_STRING "|");
    assert_int_equal(rs.body_len, strlen(rs.body));
    assert_null(rs.www_auth);
    assert_null(rs.location);
    mcp__http_resp_cleanup(&rs);
    assert_null(rs.body);

    /* POST form with client_secret_basic. */
    mcp__http_req post = {.oauth = g_oauth, .method = "POST", .url = url, .body = "grant_type=client_credentials",
                          .content_type = "application/x-www-form-urlencoded",
                          .basic_user = "client", .basic_pass = "s3cret"};
    assert_int_equal(mcp__http_fetch(&post, &rs, &err), MCP_OK);
    assert_int_equal(rs.status, 200);
    /* base64("client:s3cret") */
    assert_string_equal(rs.body, "POST|*/*|application/x-www-form-urlencoded|Basic Y2xpZW50OnMzY3JldA==|"
                                 "libmcp-client/" MCP_VERSION_STRING "|grant_type=client_credentials");
    mcp__http_resp_cleanup(&rs);

    /* A body without a content type is sent as JSON. */
    mcp__http_req pj = {.oauth = g_oauth, .method = "POST", .url = url, .body = "{}"};
    assert_int_equal(mcp__http_fetch(&pj, &rs, &err), MCP_OK);
    assert_string_equal(rs.body, "POST|*/*|application/json|-|libmcp-client/" MCP_VERSION_STRING "|{}");
    mcp__http_resp_cleanup(&rs);
}

static void
non_2xx_is_a_status_not_an_error(void **state)
{
    (void)state;
    char url[128];
    snprintf(url, sizeof url, "%s/error", base);
    mcp__http_req rq = {.oauth = g_oauth, .method = "GET", .url = url};
    mcp__http_resp rs;
    mcp_error err;
    assert_int_equal(mcp__http_fetch(&rq, &rs, &err), MCP_OK);
    assert_int_equal(rs.status, 500);
    assert_string_equal(rs.body, "{\"error\":\"server_error\"}");
    assert_string_equal(rs.content_type, "application/json");
    mcp__http_resp_cleanup(&rs);
    snprintf(url, sizeof url, "%s/nothing", base);
    assert_int_equal(mcp__http_fetch(&rq, &rs, &err), MCP_OK);
    assert_int_equal(rs.status, 404);
    mcp__http_resp_cleanup(&rs);
}

static void
redirect_not_followed(void **state)
{
    (void)state;
    char url[128], want[160];
    snprintf(url, sizeof url, "%s/redirect", base);
    snprintf(want, sizeof want, "%s/echo?from=redirect", base);
    mcp__http_req rq = {.oauth = g_oauth, .method = "GET", .url = url};
    mcp__http_resp rs;
    mcp_error err;
    assert_int_equal(mcp__http_fetch(&rq, &rs, &err), MCP_OK);
    assert_int_equal(rs.status, 302);
    assert_string_equal(rs.location, want); /* made absolute, left for the caller to check */
    mcp__http_resp_cleanup(&rs);
}

static void
www_authenticate_collected(void **state)
{
    (void)state;
    char url[128];
    snprintf(url, sizeof url, "%s/challenge", base);
    mcp__http_req rq = {.oauth = g_oauth, .method = "GET", .url = url};
    mcp__http_resp rs;
    mcp_error err;
    assert_int_equal(mcp__http_fetch(&rq, &rs, &err), MCP_OK);
    assert_int_equal(rs.status, 401);
    assert_string_equal(rs.www_auth, "Bearer resource_metadata=\"http://x/prm\", Basic realm=\"r\"");
    mcp__http_resp_cleanup(&rs);

    /* Past the cap: the fetch fails instead of keeping an unbounded header. */
    snprintf(url, sizeof url, "%s/hugechallenge", base);
    mcp_error_clear(&err);
    assert_int_equal(mcp__http_fetch(&rq, &rs, &err), MCP_ERR_IO);
    char want[256];
    snprintf(want, sizeof want, "GET %s failed: ", url);
    assert_int_equal(strncmp(err.message, want, strlen(want)), 0);
    assert_null(rs.body);
    assert_null(rs.www_auth);
}

static void
body_caps(void **state)
{
    (void)state;
    char url[128], want[200];
    mcp__http_resp rs;
    mcp_error err;
    snprintf(url, sizeof url, "%s/big", base);
    mcp__http_req rq = {.oauth = g_oauth, .method = "GET", .url = url, .max_body = 1024};
    mcp_error_clear(&err);
    assert_int_equal(mcp__http_fetch(&rq, &rs, &err), MCP_ERR_TOO_LARGE);
    snprintf(want, sizeof want, "response from %s exceeds 1024 bytes", url);
    assert_string_equal(err.message, want);
    assert_null(rs.body);
    /* Exactly at the cap is fine. */
    rq.max_body = 2047;
    assert_int_equal(mcp__http_fetch(&rq, &rs, &err), MCP_OK);
    assert_int_equal(rs.body_len, 2047);
    mcp__http_resp_cleanup(&rs);

    /* No Content-Length (chunked): the cap holds while reading. */
    snprintf(url, sizeof url, "%s/chunked", base);
    rq.max_body = 1000;
    mcp_error_clear(&err);
    assert_int_equal(mcp__http_fetch(&rq, &rs, &err), MCP_ERR_TOO_LARGE);
    snprintf(want, sizeof want, "response from %s exceeds 1000 bytes", url);
    assert_string_equal(err.message, want);
    rq.max_body = 0; /* default cap 1 MiB */
    assert_int_equal(mcp__http_fetch(&rq, &rs, &err), MCP_OK);
    assert_int_equal(rs.body_len, 4096);
    mcp__http_resp_cleanup(&rs);
}

static void
timeout_and_refused(void **state)
{
    (void)state;
    char url[128], want[200];
    mcp__http_resp rs;
    mcp_error err;
    snprintf(url, sizeof url, "%s/slow", base);
    mcp__http_req rq = {.oauth = g_oauth, .method = "GET", .url = url, .timeout_ms = 200};
    mcp_error_clear(&err);
    assert_int_equal(mcp__http_fetch(&rq, &rs, &err), MCP_ERR_TIMEOUT);
    snprintf(want, sizeof want, "GET %s failed: Operation timed out after ", url);
    assert_int_equal(strncmp(err.message, want, strlen(want)), 0);
    assert_null(rs.body);

    /* A port nobody listens on (a server we start and stop). */
    struct MHD_Daemon *gone = mhd_start_loopback(handler);
    unsigned port = MHD_get_daemon_info(gone, MHD_DAEMON_INFO_BIND_PORT)->port;
    MHD_stop_daemon(gone);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/echo", port);
    mcp__http_req post = {.oauth = g_oauth, .method = "POST", .url = url, .body = "x=1", .timeout_ms = 2000};
    mcp_error_clear(&err);
    assert_int_equal(mcp__http_fetch(&post, &rs, &err), MCP_ERR_IO);
    snprintf(want, sizeof want, "POST %s failed: ", url);
    assert_int_equal(strncmp(err.message, want, strlen(want)), 0);
    assert_non_null(strstr(err.message, "onnect")); /* curl's "Failed to connect ..." */
}

static void
header_helpers(void **state)
{
    (void)state;
    const char *v;
    size_t vl;
    const char l1[] = "WWW-Authenticate:  Bearer realm=\"x\" \r\n";
    assert_true(mcp__http_header_is(l1, strlen(l1), "www-authenticate", &v, &vl));
    assert_int_equal(vl, strlen("Bearer realm=\"x\""));
    assert_memory_equal(v, "Bearer realm=\"x\"", vl);
    const char l2[] = "WWW-Authenticate-Extra: y\r\n";
    assert_false(mcp__http_header_is(l2, strlen(l2), "www-authenticate", &v, &vl));
    const char l3[] = "Mcp-Session-Id:\r\n";
    assert_true(mcp__http_header_is(l3, strlen(l3), "mcp-session-id", &v, &vl));
    assert_int_equal(vl, 0);
    assert_false(mcp__http_header_is("Mcp", 3, "mcp-session-id", &v, &vl));

    mcp_buf b;
    mcp__buf_init(&b, 16);
    assert_int_equal(mcp__http_www_auth_add(&b, "Bearer a", 8), MCP_OK);
    assert_int_equal(mcp__http_www_auth_add(&b, "Basic", 5), MCP_OK);
    assert_int_equal(b.len, strlen("Bearer a, Basic"));
    assert_memory_equal(b.ptr, "Bearer a, Basic", b.len);
    assert_int_equal(mcp__http_www_auth_add(&b, "Digest", 6), MCP_ERR_TOO_LARGE);
    mcp__buf_cleanup(&b);

    char out[8];
    mcp__sanitize("a\x01" "b\xc3\xa9zzzzzz", out, sizeof out);
    assert_string_equal(out, "a?b??zz");
    mcp__sanitize(NULL, out, sizeof out);
    assert_string_equal(out, "");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(get_and_post_round_trip),
        cmocka_unit_test(non_2xx_is_a_status_not_an_error),
        cmocka_unit_test(redirect_not_followed),
        cmocka_unit_test(www_authenticate_collected),
        cmocka_unit_test(body_caps),
        cmocka_unit_test(timeout_and_refused),
        cmocka_unit_test(header_helpers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
