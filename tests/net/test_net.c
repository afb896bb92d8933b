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
#include <poll.h>
#include <pthread.h>
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

/* url.c's parser (curl's URL API underneath): the parts, lowercased where case does not count,
 * "" for no path, NULL for no port or query; anything but an http(s) URL of at most 8192
 * bytes refused with u left empty; the origin. */
static void
url_parse_parts_and_refusals(void **state)
{
    (void)state;
    mcp__url u;
    assert_int_equal(mcp__url_parse("HTTPS://Idp.EXAMPLE:8443/Tenant/Keys?A=1&b=2", &u), MCP_OK);
    assert_string_equal(u.scheme, "https");
    assert_string_equal(u.host, "idp.example");
    assert_string_equal(u.port, "8443");
    assert_string_equal(u.path, "/Tenant/Keys");       /* the path keeps its case */
    assert_string_equal(u.query, "A=1&b=2");
    char *o = mcp__url_origin(&u);
    assert_string_equal(o, "https://idp.example:8443");
    mcp__free(o);
    assert_false(mcp__url_is_loopback(&u));
    mcp__url_cleanup(&u);
    mcp__url_cleanup(&u);                               /* twice is fine */

    static const char *const no_path[] = { "http://127.0.0.1", "http://127.0.0.1/" };
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(mcp__url_parse(no_path[i], &u), MCP_OK);
        assert_string_equal(u.path, "");
        assert_null(u.port);
        assert_null(u.query);
        assert_true(mcp__url_is_loopback(&u));
        o = mcp__url_origin(&u);
        assert_string_equal(o, "http://127.0.0.1");
        mcp__free(o);
        mcp__url_cleanup(&u);
    }
    assert_int_equal(mcp__url_parse("http://[::1]:9/x", &u), MCP_OK);
    assert_string_equal(u.host, "[::1]");
    assert_true(mcp__url_is_loopback(&u));
    mcp__url_cleanup(&u);

    static const char *const refused[] = { "ftp://idp.example/x", "file:///etc/passwd",
                                           "not a url", "http://", "//idp.example/x",
                                           "javascript:alert(1)", "" };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        memset(&u, 0x5a, sizeof u);
        if (mcp__url_parse(refused[i], &u) != MCP_ERR_INVALID_ARG)
            fail_msg("%s: not refused", refused[i]);
        assert_null(u.scheme);
        assert_null(u.host);
        assert_null(u.path);
    }
    assert_int_equal(mcp__url_parse(NULL, &u), MCP_ERR_INVALID_ARG);
    /* the length cap: 8192 bytes pass, 8193 do not */
    char big[8194];
    memcpy(big, "https://idp.example/", 20);
    memset(big + 20, 'a', sizeof big - 20);
    big[8192] = '\0';
    assert_int_equal(mcp__url_parse(big, &u), MCP_OK);
    assert_int_equal(strlen(u.path), 8192 - 19);
    mcp__url_cleanup(&u);
    big[8192] = 'a';
    big[8193] = '\0';
    assert_int_equal(mcp__url_parse(big, &u), MCP_ERR_INVALID_ARG);
    assert_false(mcp__url_is_secure(big, true));
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

static void
address_classes(void **state)
{
    (void)state;
    static const struct {
        const char         *ip;
        mcp__net_addr_class c;
    } rows[] = {
        { "8.8.8.8", MCP__NET_ADDR_PUBLIC },
        { "93.184.216.34", MCP__NET_ADDR_PUBLIC },
        { "126.255.255.255", MCP__NET_ADDR_PUBLIC },
        { "128.0.0.1", MCP__NET_ADDR_PUBLIC },
        { "172.15.255.255", MCP__NET_ADDR_PUBLIC },
        { "172.32.0.1", MCP__NET_ADDR_PUBLIC },
        { "192.167.1.1", MCP__NET_ADDR_PUBLIC },
        { "100.63.255.255", MCP__NET_ADDR_PUBLIC },
        { "100.128.0.1", MCP__NET_ADDR_PUBLIC },
        { "169.253.1.1", MCP__NET_ADDR_PUBLIC },
        { "223.255.255.255", MCP__NET_ADDR_PUBLIC },
        { "127.0.0.1", MCP__NET_ADDR_LOOPBACK },
        { "127.0.0.2", MCP__NET_ADDR_LOOPBACK },
        { "127.255.255.254", MCP__NET_ADDR_LOOPBACK },
        { "10.0.0.1", MCP__NET_ADDR_PRIVATE },
        { "10.255.255.255", MCP__NET_ADDR_PRIVATE },
        { "172.16.0.1", MCP__NET_ADDR_PRIVATE },
        { "172.31.255.254", MCP__NET_ADDR_PRIVATE },
        { "192.168.1.1", MCP__NET_ADDR_PRIVATE },
        { "100.64.0.1", MCP__NET_ADDR_PRIVATE },
        { "169.254.169.254", MCP__NET_ADDR_LINK_LOCAL },   /* cloud metadata service */
        { "0.0.0.0", MCP__NET_ADDR_UNSPECIFIED },
        { "0.1.2.3", MCP__NET_ADDR_UNSPECIFIED },
        { "192.0.0.8", MCP__NET_ADDR_RESERVED },
        { "198.18.0.1", MCP__NET_ADDR_RESERVED },
        { "224.0.0.1", MCP__NET_ADDR_RESERVED },
        { "255.255.255.255", MCP__NET_ADDR_RESERVED },
        { "2606:4700::1111", MCP__NET_ADDR_PUBLIC },
        { "2001:db8::1", MCP__NET_ADDR_PUBLIC },
        { "::1", MCP__NET_ADDR_LOOPBACK },
        { "[::1]", MCP__NET_ADDR_LOOPBACK },
        { "0:0:0:0:0:0:0:1", MCP__NET_ADDR_LOOPBACK },
        { "::", MCP__NET_ADDR_UNSPECIFIED },
        { "fc00::1", MCP__NET_ADDR_PRIVATE },
        { "fd12:3456::1", MCP__NET_ADDR_PRIVATE },
        { "fec0::1", MCP__NET_ADDR_PRIVATE },
        { "fe80::1", MCP__NET_ADDR_LINK_LOCAL },
        { "febf::1", MCP__NET_ADDR_LINK_LOCAL },
        { "ff02::1", MCP__NET_ADDR_RESERVED },
        { "::ffff:127.0.0.1", MCP__NET_ADDR_LOOPBACK },     /* v4-mapped */
        { "::ffff:10.1.2.3", MCP__NET_ADDR_PRIVATE },
        { "::ffff:8.8.8.8", MCP__NET_ADDR_PUBLIC },
        { "::127.0.0.1", MCP__NET_ADDR_LOOPBACK },          /* v4-compatible */
        { "64:ff9b::a9fe:a9fe", MCP__NET_ADDR_LINK_LOCAL },  /* NAT64 of 169.254.169.254 */
        { "64:ff9b::808:808", MCP__NET_ADDR_PUBLIC },
        { "64:ff9b:1::1", MCP__NET_ADDR_PRIVATE },
        { "localhost", MCP__NET_ADDR_INVALID },
        { "internal.example", MCP__NET_ADDR_INVALID },
        { "127.1", MCP__NET_ADDR_INVALID },
        { "", MCP__NET_ADDR_INVALID },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (mcp__net_ip_class(rows[i].ip) != rows[i].c)
            fail_msg("%s: class %s, want %s", rows[i].ip,
                     mcp__net_addr_class_name(mcp__net_ip_class(rows[i].ip)),
                     mcp__net_addr_class_name(rows[i].c));
    assert_int_equal(mcp__net_ip_class(NULL), MCP__NET_ADDR_INVALID);

    /* the socket form, as libcurl hands it to the open-socket callback */
    struct sockaddr_in s4;
    memset(&s4, 0, sizeof s4);
    s4.sin_family = AF_INET;
    inet_pton(AF_INET, "192.168.0.10", &s4.sin_addr);
    assert_int_equal(mcp__net_sockaddr_class((struct sockaddr *)&s4, sizeof s4),
                     MCP__NET_ADDR_PRIVATE);
    assert_int_equal(mcp__net_sockaddr_class((struct sockaddr *)&s4, 4), MCP__NET_ADDR_INVALID);
    struct sockaddr_in6 s6;
    memset(&s6, 0, sizeof s6);
    s6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "::ffff:169.254.169.254", &s6.sin6_addr);
    assert_int_equal(mcp__net_sockaddr_class((struct sockaddr *)&s6, sizeof s6),
                     MCP__NET_ADDR_LINK_LOCAL);
    inet_pton(AF_INET6, "2606:4700::1111", &s6.sin6_addr);
    assert_int_equal(mcp__net_sockaddr_class((struct sockaddr *)&s6, sizeof s6),
                     MCP__NET_ADDR_PUBLIC);
    assert_int_equal(mcp__net_sockaddr_class(NULL, 0), MCP__NET_ADDR_INVALID);
}

/* A tiny HTTP service on 127.0.0.1 playing an internal admin endpoint: it counts every TCP
 * connection it accepts (a TLS ClientHello counts as much as a GET) and answers "ok". */
static struct {
    int      fd;
    unsigned port;
    int      connections;
    volatile int stop;
    pthread_t th;
} svc;

static void *
svc_run(void *arg)
{
    (void)arg;
    while (!svc.stop) {
        struct pollfd p = { .fd = svc.fd, .events = POLLIN };
        if (poll(&p, 1, 50) <= 0)
            continue;
        int c = accept(svc.fd, NULL, NULL);
        if (c < 0)
            continue;
        __atomic_add_fetch(&svc.connections, 1, __ATOMIC_SEQ_CST);
        char buf[2048];
        struct pollfd q = { .fd = c, .events = POLLIN };
        if (poll(&q, 1, 1000) > 0 && read(c, buf, sizeof buf) > 0) {
            static const char ok[] =
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
            (void)!write(c, ok, sizeof ok - 1);
        }
        close(c);
    }
    return NULL;
}

static void
svc_start(void)
{
    svc.fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(svc.fd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(svc.fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(svc.fd, 16), 0);
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(svc.fd, (struct sockaddr *)&sa, &len), 0);
    svc.port = ntohs(sa.sin_port);
    svc.connections = 0;
    svc.stop = 0;
    assert_int_equal(pthread_create(&svc.th, NULL, svc_run, NULL), 0);
}

static void
svc_stop(void)
{
    svc.stop = 1;
    pthread_join(svc.th, NULL);
    close(svc.fd);
}

static mcp_status
fetch_public_only(const char *url, const char *const *resolve, mcp_error *e,
                  mcp__net_resp *rs)
{
    mcp__net_req rq = {
        .url = url,
        .max_body = 1024,
        .timeout_ms = 3000,
        .rule = MCP__NET_HTTP_ANY,
        .addr_rule = MCP__NET_ADDR_PUBLIC_ONLY,
        .resolve = resolve,
    };
    mcp_error_clear(e);
    return mcp__net_fetch(&rq, rs, e);
}

/* The SSRF rule on the address actually connected: an address literal, a DNS name that maps
 * to loopback (CURLOPT_RESOLVE stands in for a hostile DNS answer), https to such a name, and
 * [::1]: each refused with MCP_ERR_FORBIDDEN naming the address, and the service never sees a
 * connection. The same requests under MCP__NET_ADDR_ANY reach it (the control). */
static void
fetch_public_only_refuses_internal_addresses(void **state)
{
    (void)state;
    svc_start();
    char url[128], map[96];
    mcp_error e;
    mcp__net_resp rs;

    snprintf(url, sizeof url, "http://127.0.0.1:%u/internal/admin?op=wipe", svc.port);
    assert_int_equal(fetch_public_only(url, NULL, &e, &rs), MCP_ERR_FORBIDDEN);
    assert_non_null(strstr(e.message, "loopback address 127.0.0.1"));
    assert_non_null(strstr(rs.detail, "loopback address 127.0.0.1"));
    assert_null(rs.body);

    snprintf(map, sizeof map, "internal.test:%u:127.0.0.1", svc.port);
    const char *resolve[] = { map, NULL };
    snprintf(url, sizeof url, "http://internal.test:%u/internal/admin?op=wipe", svc.port);
    assert_int_equal(fetch_public_only(url, resolve, &e, &rs), MCP_ERR_FORBIDDEN);
    assert_non_null(strstr(e.message, "loopback address 127.0.0.1"));

    snprintf(url, sizeof url, "https://internal.test:%u/admin", svc.port);
    assert_int_equal(fetch_public_only(url, resolve, &e, &rs), MCP_ERR_FORBIDDEN);
    assert_non_null(strstr(e.message, "loopback address 127.0.0.1"));

    snprintf(url, sizeof url, "http://[::1]:%u/admin", svc.port);
    assert_int_equal(fetch_public_only(url, NULL, &e, &rs), MCP_ERR_FORBIDDEN);
    assert_non_null(strstr(e.message, "loopback address ::1"));
    assert_int_equal(__atomic_load_n(&svc.connections, __ATOMIC_SEQ_CST), 0);

    /* control: the operator's rule (JWKS, introspection) reaches the same name and address */
    snprintf(url, sizeof url, "http://internal.test:%u/internal/admin?op=wipe", svc.port);
    mcp__net_req rq = { .url = url, .max_body = 1024, .timeout_ms = 3000,
                        .rule = MCP__NET_HTTP_ANY, .resolve = resolve };
    mcp_error_clear(&e);
    assert_int_equal(mcp__net_fetch(&rq, &rs, &e), MCP_OK);
    assert_int_equal(rs.status, 200);
    assert_string_equal(rs.body, "ok");
    mcp__net_resp_cleanup(&rs);
    assert_int_equal(__atomic_load_n(&svc.connections, __ATOMIC_SEQ_CST), 1);
    svc_stop();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loopback_predicate_is_exact),
        cmocka_unit_test(url_check_words_each_failure),
        cmocka_unit_test(url_parse_parts_and_refusals),
        cmocka_unit_test(fetch_checks_before_sending),
        cmocka_unit_test(fetch_reports_a_refused_connection),
        cmocka_unit_test(address_classes),
        cmocka_unit_test(fetch_public_only_refuses_internal_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
