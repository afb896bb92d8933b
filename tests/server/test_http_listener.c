/*
 * The HTTP listener's accept loop (src/transport/http_accept.c):
 *   - a server stopped right after it starts, many times over, with IO threads busy: the
 *     process survives (libmicrohttpd's own quiesce raced its epoll threads and aborted it,
 *     "Failed to remove listen FD from epoll set", in about one CI run in six);
 *   - once a shutdown begins, a new connection is refused (ECONNREFUSED) while a handler still
 *     holds the grace period, and that handler's answer is still delivered;
 *   - at --max-connections a new connection waits in the backlog, unanswered, and is served
 *     once another connection closes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>

#include "harness.h"

static const char PING_REQ[] =
    "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    "Accept: application/json, text/event-stream\r\nContent-Length: 40\r\n\r\n"
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";

static int
tcp_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
        return fd;
    int e = errno;
    if (fd >= 0)
        close(fd);
    errno = e;
    return -1;
}

/* Wait up to ms for bytes on fd; the HTTP status read, 0 when nothing came in time, -1 on
 * close or error. */
static int
read_status(int fd, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN, .revents = 0 };
    if (poll(&p, 1, ms) == 0)
        return 0;
    char buf[1024];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    int status = -1;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    return status;
}

static mcp_server *
plain_server(unsigned io_threads, unsigned max_conn, uint16_t *port)
{
    mcp_server_opts so;
    mcp_server_opts_default(&so);
    so.stateless = true;
    mcp_server *srv;
    mcp_error err;
    assert_int_equal(mcp_server_new(&so, &srv, &err), MCP_OK);
    mcp_http_opts ho;
    mcp_http_opts_default(&ho);
    ho.port = 0;
    ho.access_log = false;
    ho.io_threads = io_threads;
    if (max_conn)
        ho.max_connections = max_conn;
    assert_int_equal(mcp_server_listen_http(srv, &ho, &err), MCP_OK);
    *port = mcp_server_http_port(srv);
    assert_true(*port > 0);
    return srv;
}

/* Connections opened and closed in a loop until told to stop (each connect wakes the IO
 * threads); refused connections once the server stops are expected. */
typedef struct hammer {
    uint16_t    port;
    atomic_bool stop;
    atomic_int  served;
} hammer;

static void *
hammer_main(void *arg)
{
    hammer *hm = arg;
    for (int i = 0; i < 100000 && !atomic_load(&hm->stop); i++) {
        int fd = tcp_connect(hm->port);
        if (fd < 0)
            continue;
        if (i % 4 == 0 && write(fd, PING_REQ, sizeof PING_REQ - 1) > 0 &&
            read_status(fd, 1000) == 200)
            atomic_fetch_add(&hm->served, 1);
        close(fd);
    }
    return NULL;
}

/* Start and stop, 100 times, two IO threads kept awake by a client connecting in a loop: the
 * process survives, and once stopped nothing listens on the port. */
static void
stop_right_after_start_never_aborts(void **state)
{
    (void)state;
    int served = 0;
    for (int i = 0; i < 100; i++) {
        hammer hm = { .port = 0 };
        mcp_server *srv = plain_server(2, 0, &hm.port);
        atomic_store(&hm.stop, false);
        atomic_store(&hm.served, 0);
        pthread_t t;
        pthread_create(&t, NULL, hammer_main, &hm);
        usleep((useconds_t)(1000 + (i % 5) * 500));
        mcp_server_free(srv);
        atomic_store(&hm.stop, true);
        pthread_join(t, NULL);
        served += atomic_load(&hm.served);
        int after = tcp_connect(hm.port);
        if (after >= 0)
            close(after);
        assert_true(after < 0);
    }
    assert_true(served > 0);                         /* the servers did serve meanwhile */
}

/* A tool that holds its worker until released (bounded: 10 s). */
static atomic_bool held, release;

static mcp_status
holder(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    atomic_store(&held, true);
    for (int i = 0; i < 1000 && !atomic_load(&release); i++)
        usleep(10 * 1000);
    return mcp_ctx_add_text(ctx, "released", err);
}

typedef struct call {
    char      url[128];
    http_resp r;
    int       rc;
} call;

static void *
call_main(void *arg)
{
    call *c = arg;
    const char *h[] = { "Content-Type: application/json",
                        "Accept: application/json, text/event-stream", NULL };
    c->rc = th_request("POST", c->url,
                       "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\","
                       "\"params\":{\"name\":\"holder\",\"arguments\":{}}}", h, &c->r);
    return NULL;
}

static void
new_connections_refused_during_the_grace_period(void **state)
{
    (void)state;
    mcp_server_opts so;
    mcp_server_opts_default(&so);
    so.stateless = true;
    mcp_server *srv;
    mcp_error err;
    assert_int_equal(mcp_server_new(&so, &srv, &err), MCP_OK);
    mcp_tool_def d = { .name = "holder", .description = "holds",
                       .access = { .any_authenticated = true }, .handler = holder };
    assert_int_equal(mcp_server_add_tool(srv, &d, NULL, &err), MCP_OK);
    call c;
    memset(&c, 0, sizeof c);
    assert_int_equal(th_listen(srv, 0, 2, c.url, sizeof c.url), 0);
    uint16_t port = mcp_server_http_port(srv);
    atomic_store(&held, false);
    atomic_store(&release, false);
    th_runner rn = { srv, 10000 };
    pthread_t rt, ct;
    pthread_create(&rt, NULL, th_run_main, &rn);
    pthread_create(&ct, NULL, call_main, &c);
    for (int i = 0; i < 500 && !atomic_load(&held); i++)
        usleep(10 * 1000);
    assert_true(atomic_load(&held));
    mcp_server_stop(srv);
    /* the shutdown begins within moments: from then on connect() is refused outright */
    /* (a connection caught in the backlog as the socket closes is reset: look again) */
    int fd = -1, e = 0;
    for (int i = 0; i < 200; i++) {
        fd = tcp_connect(port);
        e = errno;
        if (fd < 0 && e == ECONNREFUSED)
            break;
        if (fd >= 0)
            close(fd);
        usleep(10 * 1000);
    }
    assert_true(fd < 0);
    assert_int_equal(e, ECONNREFUSED);
    assert_false(atomic_load(&release));            /* refused while the handler still ran */
    atomic_store(&release, true);
    pthread_join(ct, NULL);
    pthread_join(rt, NULL);
    assert_int_equal(c.rc, 0);
    assert_int_equal(c.r.status, 200);
    assert_non_null(c.r.body);
    assert_non_null(strstr(c.r.body, "released"));
    th_resp_free(&c.r);
    mcp_server_free(srv);
}

static void
past_the_connection_limit_a_connection_waits(void **state)
{
    (void)state;
    uint16_t port;
    mcp_server *srv = plain_server(1, 3, &port);
    int held_fd[3];
    for (int i = 0; i < 3; i++) {
        held_fd[i] = tcp_connect(port);
        assert_true(held_fd[i] >= 0);
    }
    /* the three are accepted (each answers a ping), so the daemon holds three connections */
    for (int i = 0; i < 3; i++) {
        assert_true(write(held_fd[i], PING_REQ, sizeof PING_REQ - 1) > 0);
        assert_int_equal(read_status(held_fd[i], 5000), 200);
    }
    int extra = tcp_connect(port);                  /* the kernel's backlog takes it */
    assert_true(extra >= 0);
    assert_true(write(extra, PING_REQ, sizeof PING_REQ - 1) > 0);
    assert_int_equal(read_status(extra, 400), 0);    /* not accepted: no answer, no close */
    close(held_fd[0]);
    assert_int_equal(read_status(extra, 5000), 200); /* a slot freed: served */
    close(extra);
    close(held_fd[1]);
    close(held_fd[2]);
    mcp_server_free(srv);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stop_right_after_start_never_aborts),
        cmocka_unit_test(new_connections_refused_during_the_grace_period),
        cmocka_unit_test(past_the_connection_limit_a_connection_waits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
