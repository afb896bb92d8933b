/*
 * HTTP hardening (issue 11): each test runs its own server on loopback and shows one finding
 * fixed. Two client addresses are 127.0.0.1 and 127.0.0.2 (the client binds its source
 * address), so "one address cannot starve another" is tested for real.
 *   - access log: a JSON-RPC method with a newline cannot forge a log line (finding 4)
 *   - per-address connection cap and slow-header timeout (finding 7)
 *   - suspend timeout: a POST parked past it is answered 504 (finding 7)
 *   - per-principal open-stream cap (finding 7)
 *   - a principal's session cap never evicts a session in use (finding 8)
 *   - a chunked body past max_body is answered 413 (finding 9)
 *   - unauthenticated callers get 401 whatever session id they name (finding 11)
 *   - failed authentications per address: 429 + Retry-After, audited, before any
 *     verification; another address is not affected (suspicious activity); and per
 *     credential name reported by the AUTHN item (mcp_request_note_credential)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>

#include "harness.h"

static atomic_int authn_calls;
static atomic_int verifications;

/* "Authorization: Bearer NAME" is principal NAME; "Bearer bad..." and no header fail. */
static mcp_status
who(mcp_request *req, void *ctx, mcp_error *err)
{
    (void)ctx;
    atomic_fetch_add(&authn_calls, 1);
    const char *h = mcp_request_header(req, "Authorization");
    if (h == NULL || strncmp(h, "Bearer ", 7) != 0)
        return mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "missing Authorization header");
    /* the credential's name (a key id in real items), reported before verifying it */
    mcp_status rc = mcp_request_note_credential(req, h + 7, err);
    if (rc != MCP_OK)
        return rc;
    atomic_fetch_add(&verifications, 1);
    if (strncmp(h + 7, "bad", 3) == 0)
        return mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "signature mismatch");
    mcp_principal_fields f = { .kind = MCP_CRED_API_KEY, .subject = h + 7 };
    mcp_principal *p;
    if (mcp_principal_new(&f, &p, err) != MCP_OK)
        return err->code;
    mcp_request_set_principal(req, p);
    mcp_principal_unref(p);
    return MCP_OK;
}

/* The decision hook as the audit log sees it: the last AUTHN refusal. */
static pthread_mutex_t dmu = PTHREAD_MUTEX_INITIALIZER;
static char last_authn[256];

static void
on_decision(void *ctx, const mcp_request *req, const mcp_decision *d)
{
    (void)ctx;
    if (strcmp(d->phase, "authn") != 0 || d->allowed)
        return;
    pthread_mutex_lock(&dmu);
    snprintf(last_authn, sizeof last_authn, "%s %s %s", mcp_request_peer(req),
             mcp_status_str(d->status), d->reason);
    pthread_mutex_unlock(&dmu);
}

static unsigned tool_sleep_ms;

static mcp_status
sleepy(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    usleep(tool_sleep_ms * 1000u);
    return mcp_ctx_add_text(ctx, "slept", err);
}

typedef struct cfg {
    bool     auth;
    bool     stateless;
    size_t   max_body;
    unsigned max_conn, per_ip, conn_timeout, suspend_timeout, streams;
    size_t   per_owner;
    unsigned fail_limit, fail_window, evict_idle;
    bool     access_log;
} cfg;

static mcp_server *
serve(const cfg *c, char *url, size_t cap)
{
    mcp_server_opts so;
    mcp_server_opts_default(&so);
    so.stateless = c->stateless;
    if (c->per_owner)
        so.max_sessions_per_owner = c->per_owner;
    if (c->evict_idle)
        so.session_evict_idle_s = c->evict_idle;
    so.authn_fail_limit = c->fail_limit;
    if (c->fail_window)
        so.authn_fail_window_s = c->fail_window;
    mcp_server *srv;
    mcp_error err;
    assert_int_equal(mcp_server_new(&so, &srv, &err), MCP_OK);
    mcp_tool_def d = { .name = "sleepy", .description = "sleeps",
                       .access = { .any_authenticated = true }, .handler = sleepy };
    assert_int_equal(mcp_server_add_tool(srv, &d, NULL, &err), MCP_OK);
    if (c->auth)
        assert_int_equal(mcp_server_use(srv, MCP_PHASE_AUTHN, who, NULL, &err), MCP_OK);
    mcp_server_set_decision_hook(srv, on_decision, NULL);
    mcp_http_opts ho;
    mcp_http_opts_default(&ho);
    ho.port = 0;
    ho.access_log = c->access_log;
    if (c->max_body)
        ho.max_body = c->max_body;
    if (c->max_conn)
        ho.max_connections = c->max_conn;
    if (c->per_ip)
        ho.max_connections_per_ip = c->per_ip;
    if (c->conn_timeout)
        ho.connection_timeout_s = c->conn_timeout;
    if (c->suspend_timeout)
        ho.suspend_timeout_s = c->suspend_timeout;
    if (c->streams)
        ho.max_streams_per_principal = c->streams;
    ho.io_threads = 2;
    assert_int_equal(mcp_server_listen_http(srv, &ho, &err), MCP_OK);
    snprintf(url, cap, "http://127.0.0.1:%u/mcp", mcp_server_http_port(srv));
    return srv;
}

/* th_request from source address src ("127.0.0.2"), with an optional bearer name. */
static int
req_from(const char *src, const char *url, const char *bearer, const char *sid, const char *body,
         http_resp *r)
{
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char a[128], s[128];
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Accept: application/json, text/event-stream");
    if (bearer != NULL) {
        snprintf(a, sizeof a, "Authorization: Bearer %s", bearer);
        h = curl_slist_append(h, a);
    }
    if (sid != NULL) {
        snprintf(s, sizeof s, "Mcp-Session-Id: %s", sid);
        h = curl_slist_append(h, s);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, th_body_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, th_hdr_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (src != NULL)
        curl_easy_setopt(c, CURLOPT_INTERFACE, src);
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return cc == CURLE_OK ? 0 : -1;
}

static const char *const PING = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";
static const char *const INIT =
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
    "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
    "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";

/* A TCP connection from src to the server's port, or -1. */
static int
raw_connect(const char *src, uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in me = { .sin_family = AF_INET };
    inet_pton(AF_INET, src, &me.sin_addr);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof me) != 0 ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Wait up to ms for the peer to close fd (read returns 0 or an error). */
static bool
closed_within(int fd, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    while (poll(&p, 1, ms) > 0) {
        char b[512];
        ssize_t n = read(fd, b, sizeof b);
        if (n <= 0)
            return true;
    }
    return false;
}

/* ---- finding 4: log forging ---------------------------------------------------------------- */

static void
access_log_escapes_request_fields(void **state)
{
    (void)state;
    char path[] = "/tmp/mcp-accesslog-XXXXXX";
    int lf = mkstemp(path);
    assert_true(lf >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(lf, 2);
    char url[128];
    cfg c = { .stateless = true, .access_log = true };
    mcp_server *srv = serve(&c, url, sizeof url);
    http_resp r;
    req_from(NULL, url, NULL, NULL,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\\n2026-01-01T00:00:00.000Z info "
             "access: 10.0.0.1 POST forged 200\"}", &r);
    long st = r.status;
    th_resp_free(&r);
    mcp_server_free(srv);                /* the access line is written when the request ends */
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char buf[8192];
    ssize_t n = pread(lf, buf, sizeof buf - 1, 0);
    close(lf);
    unlink(path);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_int_equal(st, 200);           /* -32601 in a 200 */
    assert_non_null(strstr(buf, "x\\x0a2026"));          /* the newline, escaped */
    for (char *line = buf; line != NULL && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        assert_false(strncmp(line, "2026-01-01T00:00:00.000Z", 24) == 0);   /* no forged line */
}

/* ---- finding 7: per-address connection cap, slow headers, suspend timeout ------------------- */

static void
one_address_cannot_hold_every_slot(void **state)
{
    (void)state;
    char url[128];
    cfg c = { .stateless = true, .max_conn = 24, .per_ip = 8, .conn_timeout = 2 };
    mcp_server *srv = serve(&c, url, sizeof url);
    uint16_t port = mcp_server_http_port(srv);
    enum { N = 40 };
    int fds[N];
    int opened = 0;
    for (int i = 0; i < N; i++) {                 /* slow headers from 127.0.0.1 */
        fds[i] = raw_connect("127.0.0.1", port);
        if (fds[i] >= 0) {
            (void)!write(fds[i], "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n", 38);
            opened++;
        }
    }
    assert_int_equal(opened, N);
    usleep(200 * 1000);
    /* another address is still served */
    http_resp r;
    assert_int_equal(req_from("127.0.0.2", url, NULL, NULL, PING, &r), 0);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
    /* the connections past the per-address cap were closed at once, the others hold */
    int refused = 0;
    for (int i = 0; i < N; i++)
        refused += closed_within(fds[i], 0) ? 1 : 0;
    assert_true(refused >= N - 8);
    /* the slow-header timeout closes the ones that were taken */
    for (int i = 0; i < N; i++) {
        assert_true(closed_within(fds[i], 10000));
        close(fds[i]);
    }
    /* and 127.0.0.1 is served again: the server counts a connection gone when it has cleaned
     * it up, which may come a moment after the client saw the close (bounded: 2 s) */
    int rc = -1;
    long status = 0;
    for (int i = 0; i < 20 && status != 200; i++) {
        if (i > 0)
            usleep(100 * 1000);
        rc = req_from("127.0.0.1", url, NULL, NULL, PING, &r);
        status = rc == 0 ? r.status : 0;
        if (rc == 0)
            th_resp_free(&r);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(status, 200);
    mcp_server_free(srv);
}

static void
parked_post_times_out_with_504(void **state)
{
    (void)state;
    char url[128];
    cfg c = { .stateless = true, .suspend_timeout = 1 };
    tool_sleep_ms = 4000;
    mcp_server *srv = serve(&c, url, sizeof url);
    http_resp r;
    const char *h[] = { "Content-Type: application/json", "Accept: application/json", NULL };
    assert_int_equal(th_request("POST", url, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":"
                                "\"tools/call\",\"params\":{\"name\":\"sleepy\"}}", h, &r), 0);
    assert_int_equal(r.status, 504);
    assert_non_null(strstr(r.body, "\"id\":3"));
    th_resp_free(&r);
    mcp_server_free(srv);                         /* joins the handler */
}

typedef struct bg {
    char url[128];
    char who[32];
    http_resp r;
} bg;

static void *
bg_call(void *arg)
{
    bg *b = arg;
    req_from(NULL, b->url, b->who, NULL,
             "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":"
             "\"sleepy\"}}", &b->r);
    return NULL;
}

static void
principal_stream_cap(void **state)
{
    (void)state;
    cfg c = { .stateless = true, .auth = true, .streams = 2, .fail_limit = 0 };
    tool_sleep_ms = 1500;
    bg calls[2];
    mcp_server *srv = serve(&c, calls[0].url, sizeof calls[0].url);
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        memcpy(calls[i].url, calls[0].url, sizeof calls[i].url);
        snprintf(calls[i].who, sizeof calls[i].who, "alice");
        pthread_create(&t[i], NULL, bg_call, &calls[i]);
    }
    usleep(500 * 1000);                           /* both parked on their handler */
    http_resp r;
    assert_int_equal(req_from(NULL, calls[0].url, "alice", NULL, PING, &r), 0);
    assert_int_equal(r.status, 429);
    char ra[16];
    assert_int_equal(th_header(&r, "Retry-After", ra, sizeof ra), 0);
    th_resp_free(&r);
    assert_int_equal(req_from(NULL, calls[0].url, "bob", NULL, PING, &r), 0);
    assert_int_equal(r.status, 200);              /* another principal is not affected */
    th_resp_free(&r);
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(calls[i].r.status, 200);
        th_resp_free(&calls[i].r);
    }
    mcp_server_free(srv);
}

/* ---- finding 8: the session cap never evicts a session in use ------------------------------ */

static void
session_cap_keeps_the_working_session(void **state)
{
    (void)state;
    char url[128], work[64], sid[64];
    cfg c = { .auth = true, .per_owner = 20 };
    mcp_server *srv = serve(&c, url, sizeof url);
    http_resp r;
    assert_int_equal(req_from(NULL, url, "carol", NULL, INIT, &r), 0);
    assert_int_equal(th_header(&r, "Mcp-Session-Id", work, sizeof work), 0);
    th_resp_free(&r);
    int created = 0, refused = 0;
    /* 200 attempts in bursts of 25 (past the cap of 20) between two uses of the working
     * session: within a burst it is the least recently active session of its principal */
    for (int i = 0; i < 200; i++) {
        if (i % 25 == 0) {
            assert_int_equal(req_from(NULL, url, "carol", work, PING, &r), 0);
            assert_int_equal(r.status, 200);      /* never 404 */
            th_resp_free(&r);
        }
        assert_int_equal(req_from(NULL, url, "carol", NULL, INIT, &r), 0);
        if (r.status == 200) {
            created++;
            assert_int_equal(th_header(&r, "Mcp-Session-Id", sid, sizeof sid), 0);
        } else {
            assert_int_equal(r.status, 429);
            char ra[16];
            assert_int_equal(th_header(&r, "Retry-After", ra, sizeof ra), 0);
            refused++;
        }
        th_resp_free(&r);
    }
    assert_int_equal(created, 19);                /* the cap, with the working session */
    assert_int_equal(refused, 200 - 19);
    assert_int_equal(req_from(NULL, url, "carol", work, PING, &r), 0);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
    mcp_server_free(srv);
}

/* ---- finding 9: chunked body past max_body ------------------------------------------------- */

static void
chunked_body_past_max_body_is_413(void **state)
{
    (void)state;
    char url[128];
    cfg c = { .stateless = true, .max_body = 1024 };
    mcp_server *srv = serve(&c, url, sizeof url);
    uint16_t port = mcp_server_http_port(srv);
    for (int expect = 0; expect < 2; expect++) {
        int fd = raw_connect("127.0.0.1", port);
        assert_true(fd >= 0);
        char hdr[512];
        int hl = snprintf(hdr, sizeof hdr, "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          "Content-Type: application/json\r\nAccept: application/json\r\n"
                          "Transfer-Encoding: chunked\r\n%s\r\n",
                          expect ? "Expect: 100-continue\r\n" : "");
        assert_int_equal(write(fd, hdr, (size_t)hl), hl);
        char chunk[600];
        memset(chunk, 'x', sizeof chunk);
        memcpy(chunk, "200\r\n", 5);
        memcpy(chunk + 5 + 512, "\r\n", 2);
        for (int i = 0; i < 4; i++)               /* 2048 bytes: twice max_body */
            assert_int_equal(write(fd, chunk, 5 + 512 + 2), 5 + 512 + 2);
        assert_int_equal(write(fd, "0\r\n\r\n", 5), 5);
        char reply[4096];
        size_t got = 0;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        while (got < sizeof reply - 1 && poll(&p, 1, 5000) > 0) {
            ssize_t n = read(fd, reply + got, sizeof reply - 1 - got);
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        reply[got] = '\0';
        close(fd);
        assert_non_null(strstr(reply, "HTTP/1.1 413"));
        assert_non_null(strstr(reply, "Payload Too Large"));
    }
    mcp_server_free(srv);
}

/* ---- finding 11: no session oracle before authentication ----------------------------------- */

static void
session_lookup_comes_after_authn(void **state)
{
    (void)state;
    char url[128], sid[64];
    cfg c = { .auth = true };
    mcp_server *srv = serve(&c, url, sizeof url);
    http_resp r;
    assert_int_equal(req_from(NULL, url, "dave", NULL, INIT, &r), 0);
    assert_int_equal(th_header(&r, "Mcp-Session-Id", sid, sizeof sid), 0);
    th_resp_free(&r);
    /* unauthenticated: 401 for an existing and for an unknown id alike */
    assert_int_equal(req_from(NULL, url, NULL, sid, PING, &r), 0);
    assert_int_equal(r.status, 401);
    th_resp_free(&r);
    assert_int_equal(req_from(NULL, url, NULL, "AAAAAAAAAAAAAAAAAAAAAA", PING, &r), 0);
    assert_int_equal(r.status, 401);
    th_resp_free(&r);
    /* another principal: 404 as for an unknown id; the owner: 200 */
    assert_int_equal(req_from(NULL, url, "erin", sid, PING, &r), 0);
    assert_int_equal(r.status, 404);
    th_resp_free(&r);
    assert_int_equal(req_from(NULL, url, "erin", "AAAAAAAAAAAAAAAAAAAAAA", PING, &r), 0);
    assert_int_equal(r.status, 404);
    th_resp_free(&r);
    assert_int_equal(req_from(NULL, url, "dave", sid, PING, &r), 0);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
    mcp_server_free(srv);
}

/* ---- suspicious activity: failed authentications per address ------------------------------- */

static void
failed_authentications_are_rate_limited_per_address(void **state)
{
    (void)state;
    char url[128];
    cfg c = { .stateless = true, .auth = true, .fail_limit = 3, .fail_window = 60 };
    mcp_server *srv = serve(&c, url, sizeof url);
    http_resp r;
    for (int i = 0; i < 3; i++) {                 /* the limit: 401 each, verified each */
        assert_int_equal(req_from("127.0.0.2", url, "bad-token", NULL, PING, &r), 0);
        assert_int_equal(r.status, 401);
        th_resp_free(&r);
    }
    int before = atomic_load(&authn_calls);
    for (int i = 0; i < 3; i++) {                 /* past it: 429 before any verification */
        assert_int_equal(req_from("127.0.0.2", url, i == 2 ? "frank" : "bad-again", NULL, PING,
                                  &r), 0);
        assert_int_equal(r.status, 429);
        char ra[16];
        assert_int_equal(th_header(&r, "Retry-After", ra, sizeof ra), 0);
        assert_true(atoi(ra) >= 1 && atoi(ra) <= 61);
        th_resp_free(&r);
    }
    assert_int_equal(atomic_load(&authn_calls), before);
    pthread_mutex_lock(&dmu);
    assert_non_null(strstr(last_authn, "127.0.0.2"));
    assert_non_null(strstr(last_authn, "too many failed authentications"));
    pthread_mutex_unlock(&dmu);
    /* a valid caller from another address is not affected */
    assert_int_equal(req_from("127.0.0.1", url, "frank", NULL, PING, &r), 0);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
    mcp_server_free(srv);
}

static void
failed_authentications_are_rate_limited_per_credential(void **state)
{
    (void)state;
    char url[128];
    cfg c = { .stateless = true, .auth = true, .fail_limit = 3, .fail_window = 60 };
    mcp_server *srv = serve(&c, url, sizeof url);
    http_resp r;
    const char *from[] = { "127.0.0.1", "127.0.0.2", "127.0.0.1" };
    for (int i = 0; i < 3; i++) {                 /* one key, two addresses: 2 + 1 failures */
        assert_int_equal(req_from(from[i], url, "bad-key7", NULL, PING, &r), 0);
        assert_int_equal(r.status, 401);
        th_resp_free(&r);
    }
    int before = atomic_load(&verifications);
    assert_int_equal(req_from("127.0.0.2", url, "bad-key7", NULL, PING, &r), 0);
    assert_int_equal(r.status, 429);              /* the key reached its limit */
    char ra[16];
    assert_int_equal(th_header(&r, "Retry-After", ra, sizeof ra), 0);
    th_resp_free(&r);
    assert_int_equal(atomic_load(&verifications), before);   /* not verified */
    pthread_mutex_lock(&dmu);
    assert_non_null(strstr(last_authn, "with this credential"));
    pthread_mutex_unlock(&dmu);
    /* neither address reached its own limit: other credentials from them are served */
    assert_int_equal(req_from("127.0.0.1", url, "grace", NULL, PING, &r), 0);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
    assert_int_equal(req_from("127.0.0.2", url, "grace", NULL, PING, &r), 0);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
    mcp_server_free(srv);
}

int
main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(access_log_escapes_request_fields),
        cmocka_unit_test(one_address_cannot_hold_every_slot),
        cmocka_unit_test(parked_post_times_out_with_504),
        cmocka_unit_test(principal_stream_cap),
        cmocka_unit_test(session_cap_keeps_the_working_session),
        cmocka_unit_test(chunked_body_past_max_body_is_413),
        cmocka_unit_test(session_lookup_comes_after_authn),
        cmocka_unit_test(failed_authentications_are_rate_limited_per_address),
        cmocka_unit_test(failed_authentications_are_rate_limited_per_credential),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
