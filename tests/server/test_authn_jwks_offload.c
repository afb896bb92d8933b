/*
 * Finding 3 of issue 11: a token with an unknown `kid` must not block an HTTP IO thread on the
 * JWKS fetch. A real server (mcp_app_config_parse + mcp_app_setup, --io-threads 1) verifies JWTs
 * against a JWKS URL on 127.0.0.1 whose answers the test slows down after startup. While one
 * request waits for that fetch (on a worker), an unrelated request on the same, single IO
 * thread is answered at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <mcp/app.h>

#include "jwt/test_jwt_util.h"

#include <curl/curl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#define DELAY_MS 1500

typedef struct jwks_server {
    struct MHD_Daemon *d;
    pthread_mutex_t    mu;
    char              *body;
    unsigned           delay_ms;
    unsigned           requests;
    char               url[64];
} jwks_server;

static enum MHD_Result
serve(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
      const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)url, (void)method, (void)version, (void)upload, (void)upload_size, (void)con_cls;
    jwks_server *s = cls;
    pthread_mutex_lock(&s->mu);
    s->requests++;
    unsigned delay = s->delay_ms;
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(s->body), s->body,
                                                             MHD_RESPMEM_MUST_COPY);
    pthread_mutex_unlock(&s->mu);
    struct timespec ts = { delay / 1000, (long)(delay % 1000) * 1000000L };
    nanosleep(&ts, NULL);                  /* a slow identity provider */
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static size_t
sink(char *p, size_t sz, size_t n, void *ud)
{
    char *body = ud;
    size_t len = sz * n, have = strlen(body);
    size_t take = len < 4095 - have ? len : 4095 - have;
    memcpy(body + have, p, take);
    body[have + take] = '\0';
    return len;
}

typedef struct call {
    const char *url;
    const char *auth;      /* Authorization header value or NULL; NULL body = GET */
    long        status;
    uint64_t    ms;
    char        body[4096];
} call;

static void *
do_call(void *arg)
{
    call *k = arg;
    k->body[0] = '\0';
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL;
    char h[2048];
    if (k->auth != NULL) {
        snprintf(h, sizeof h, "Authorization: Bearer %s", k->auth);
        hl = curl_slist_append(hl, h);
        hl = curl_slist_append(hl, "Content-Type: application/json");
        hl = curl_slist_append(hl, "Accept: application/json, text/event-stream");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS,
                         "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
    }
    curl_easy_setopt(c, CURLOPT_URL, k->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, k->body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    uint64_t t0 = now_ms();
    CURLcode rc = curl_easy_perform(c);
    k->ms = now_ms() - t0;
    k->status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &k->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return NULL;
}

static void
unknown_kid_does_not_stall_the_io_thread(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    EVP_PKEY *k = tu_keygen("EC", "P-256", 0);
    char *priv = tu_pem_private(k);
    char *jwk = tu_jwk(k, "k1", "ES256", "sig");
    jwks_server js = { .delay_ms = 0 };
    pthread_mutex_init(&js.mu, NULL);
    size_t n = strlen(jwk) + 16;
    js.body = malloc(n);
    snprintf(js.body, n, "{\"keys\":[%s]}", jwk);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    js.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                            NULL, NULL, serve, &js, MHD_OPTION_SOCK_ADDR,
                            (const struct sockaddr *)&sa, MHD_OPTION_END);
    assert_non_null(js.d);
    snprintf(js.url, sizeof js.url, "http://127.0.0.1:%u/jwks.json",
             (unsigned)MHD_get_daemon_info(js.d, MHD_DAEMON_INFO_BIND_PORT)->port);

    const char *args[] = { "test", "--listen", "127.0.0.1:0", "--no-access-log", "--auth", "jwt",
                           "--jwks-url", js.url, "--jwks-refresh", "0", "--jwks-min-interval",
                           "0", "--issuer", TU_ISS, "--audience", TU_AUD, "--io-threads", "1",
                           "--authn-fail-limit", "0", NULL };
    mcp_app_config cfg;
    assert_int_equal(mcp_app_config_parse(&cfg, (int)(sizeof args / sizeof args[0]) - 1,
                                          (char **)args, "test", NULL, NULL, NULL), -1);
    mcp_server_opts so;
    mcp_server_opts_default(&so);
    so.workers = 2;
    so.stateless = true;
    mcp_server *srv = NULL;
    mcp_error err;
    assert_int_equal(mcp_server_new(&so, &srv, &err), MCP_OK);
    if (mcp_app_setup(&cfg, srv, &err) != MCP_OK)
        fail_msg("setup: %s", err.message);
    mcp_http_opts ho;
    mcp_app_http_opts(&cfg, &ho);
    if (mcp_server_listen_http(srv, &ho, &err) != MCP_OK)
        fail_msg("listen: %s", err.message);
    unsigned port = mcp_server_http_port(srv);
    char mcp_url[96], prm_url[160];
    snprintf(mcp_url, sizeof mcp_url, "http://127.0.0.1:%u/mcp", port);
    snprintf(prm_url, sizeof prm_url,
             "http://127.0.0.1:%u/.well-known/oauth-protected-resource/mcp", port);

    /* a known kid: served without a fetch */
    char *good = tu_mint("ES256", priv, strlen(priv), "k1", "alice", mcp__unix_now(), 300,
                         NULL);
    call ok = { .url = mcp_url, .auth = good };
    do_call(&ok);
    assert_int_equal(ok.status, 200);
    pthread_mutex_lock(&js.mu);
    assert_int_equal(js.requests, 1);      /* the startup fetch only */
    js.delay_ms = DELAY_MS;                /* from now on the provider is slow */
    pthread_mutex_unlock(&js.mu);

    /* an anonymous forged token with a made-up kid: costs one (slow) fetch, on a worker */
    char *forged = tu_mint("ES256", priv, strlen(priv), "made-up", "mallory", mcp__unix_now(),
                           300, NULL);
    call slow = { .url = mcp_url, .auth = forged };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, do_call, &slow), 0);
    struct timespec wait = { 0, 300 * 1000000L };
    nanosleep(&wait, NULL);               /* the fetch is under way */
    /* meanwhile, on the same single IO thread: an unrelated metadata GET and a good token */
    call meta = { .url = prm_url };
    do_call(&meta);
    call again = { .url = mcp_url, .auth = good };
    do_call(&again);
    pthread_join(t, NULL);

    assert_int_equal(meta.status, 200);
    if (meta.ms > DELAY_MS / 2)
        fail_msg("metadata GET took %llu ms while a JWKS fetch was running",
                 (unsigned long long)meta.ms);
    assert_int_equal(again.status, 200);
    if (again.ms > DELAY_MS / 2)
        fail_msg("a valid request took %llu ms while a JWKS fetch was running",
                 (unsigned long long)again.ms);
    assert_int_equal(slow.status, 401);
    assert_non_null(strstr(slow.body, "no key for kid"));
    assert_true(slow.ms >= DELAY_MS - 100);   /* it did wait for the fetch, elsewhere */
    pthread_mutex_lock(&js.mu);
    assert_int_equal(js.requests, 2);
    pthread_mutex_unlock(&js.mu);

    mcp_server_free(srv);
    mcp_app_config_cleanup(&cfg);
    MHD_stop_daemon(js.d);
    mcp_free(good);
    mcp_free(forged);
    free(js.body);
    free(jwk);
    free(priv);
    EVP_PKEY_free(k);
    pthread_mutex_destroy(&js.mu);
    curl_global_cleanup();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unknown_kid_does_not_stall_the_io_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
