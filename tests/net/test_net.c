/*
 * Unit tests for src/net: the one loopback predicate (exactly the names that cannot leave the
 * machine), the https-or-loopback rule with each caller's wording, and the fetcher's checks
 * that run before anything is sent (URL rule, cap, timeout) and its report of a refused
 * connection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "net/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void
loopback_predicate_is_exact(void **state)
{
    (void)state;
    static const struct {
        const char *host;
        bool        loopback;
    } rows[] = {
        { "localhost", true },
        { "LocalHost", true },
        { "127.0.0.1", true },
        { "127.1.2.3", true },
        { "127.255.255.254", true },
        { "::1", true },
        { "[::1]", true },
        { "[0:0:0:0:0:0:0:1]", true },
        { "127.0.0.1.nip.io", false },
        { "127.attacker.example", false },
        { "localhost.", false },
        { "localhost.attacker.example", false },
        { "mylocalhost", false },
        { "128.0.0.1", false },
        { "126.255.255.255", false },
        { "0.0.0.0", false },
        { "127.1", false },              /* not a dotted quad */
        { "::2", false },
        { "[::ffff:127.0.0.1]", false },
        { "[::1", false },
        { "", false },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (mcp__host_is_loopback(rows[i].host) != rows[i].loopback)
            fail_msg("%s: loopback should be %d", rows[i].host, rows[i].loopback);
    assert_false(mcp__host_is_loopback(NULL));
}

static const mcp__net_url_msgs msgs = {
    .invalid = "bad url",
    .not_http = "not http",
    .insecure = "needs https",
};

static void
url_check_words_each_failure(void **state)
{
    (void)state;
    mcp_error e;
    mcp_error_clear(&e);
    assert_int_equal(mcp__net_url_check("https://idp.example/jwks", false, &msgs, &e), MCP_OK);
    assert_int_equal(mcp__net_url_check("HTTP://127.0.0.1:9/jwks", false, &msgs, &e), MCP_OK);
    assert_int_equal(mcp__net_url_check("http://[::1]:9/jwks", false, &msgs, &e), MCP_OK);
    assert_int_equal(mcp__net_url_check("http://idp.example/jwks", true, &msgs, &e), MCP_OK);

    assert_int_equal(mcp__net_url_check("http://idp.example/jwks", false, &msgs, &e),
                     MCP_ERR_INVALID_ARG);
    assert_string_equal(e.message, "needs https");
    assert_int_equal(mcp__net_url_check("http://127.0.0.1.nip.io/jwks", false, &msgs, &e),
                     MCP_ERR_INVALID_ARG);
    assert_string_equal(e.message, "needs https");
    assert_int_equal(mcp__net_url_check("ftp://idp.example/jwks", true, &msgs, &e),
                     MCP_ERR_INVALID_ARG);
    assert_string_equal(e.message, "not http");
    assert_int_equal(mcp__net_url_check("not a url", true, &msgs, &e), MCP_ERR_INVALID_ARG);
    assert_string_equal(e.message, "bad url");

    /* the yes/no form the client uses is the same rule */
    assert_true(mcp__url_is_secure("http://localhost:1/t", false));
    assert_false(mcp__url_is_secure("http://idp.example/t", false));
    assert_true(mcp__url_is_secure("http://idp.example/t", true));
    assert_false(mcp__url_is_secure("file:///etc/passwd", true));
}

static void
fetch_checks_before_sending(void **state)
{
    (void)state;
    mcp__net_resp rs;
    mcp__net_req rq = {
        .url = "http://idp.example/jwks",
        .max_body = 1024,
        .timeout_ms = 1000,
        .rule = MCP__NET_HTTPS_OR_LOOPBACK,
    };
    assert_int_equal(mcp__net_fetch(&rq, &rs, NULL), MCP_ERR_INVALID_ARG);
    assert_null(rs.body);
    rq.url = "https://idp.example/jwks";
    rq.max_body = 0;
    assert_int_equal(mcp__net_fetch(&rq, &rs, NULL), MCP_ERR_INVALID_ARG);
    rq.max_body = 1024;
    rq.timeout_ms = 0;
    assert_int_equal(mcp__net_fetch(&rq, &rs, NULL), MCP_ERR_INVALID_ARG);
    mcp__net_resp_cleanup(&rs);
}

/* A loopback port nobody listens on: bind to port 0, learn the port, close. */
static unsigned
closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static void
fetch_reports_a_refused_connection(void **state)
{
    (void)state;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/x", closed_port());
    mcp__net_pool *pool = mcp__net_pool_new(2);
    assert_non_null(pool);
    mcp__net_req rq = {
        .url = url,
        .max_body = 1024,
        .timeout_ms = 2000,
        .rule = MCP__NET_HTTPS_OR_LOOPBACK,
        .pool = pool,
    };
    mcp__net_resp rs;
    mcp_error e;
    mcp_error_clear(&e);
    assert_int_equal(mcp__net_fetch(&rq, &rs, &e), MCP_ERR_IO);
    assert_null(rs.body);
    assert_non_null(rs.reason);
    assert_true(rs.detail[0] != '\0');
    assert_non_null(strstr(e.message, url));
    mcp__net_resp_cleanup(&rs);
    mcp__net_pool_free(pool);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loopback_predicate_is_exact),
        cmocka_unit_test(url_check_words_each_failure),
        cmocka_unit_test(fetch_checks_before_sending),
        cmocka_unit_test(fetch_reports_a_refused_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
