/*
 * JWKS from a URL, against a real libmicrohttpd server on 127.0.0.1 (port 0) whose document
 * and status the test swaps, and which counts requests to prove throttling.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_jwt_util.h"

#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

typedef struct jwks_server {
    struct MHD_Daemon *d;
    uint16_t port;
    pthread_mutex_t mu;
    char *body;
    unsigned status;
    unsigned requests;
    char url[64];
    char *meta;              /* served at meta_path (discovery); other well-known paths 404 */
    char meta_path[96];
} jwks_server;

static enum MHD_Result
serve(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
      const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)url, (void)method, (void)version, (void)upload, (void)upload_size, (void)con_cls;
    jwks_server *s = cls;
    pthread_mutex_lock(&s->mu);
    s->requests++;
    bool meta = s->meta != NULL && strcmp(url, s->meta_path) == 0;
    bool wk = strncmp(url, "/.well-known/", 13) == 0;
    const char *b = meta ? s->meta : wk ? "{}" : s->body;
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(b), (void *)b,
                                                             MHD_RESPMEM_MUST_COPY);
    unsigned status = meta ? 200 : wk ? 404 : s->status;
    pthread_mutex_unlock(&s->mu);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static void
server_set(jwks_server *s, const char *body, unsigned status)
{
    pthread_mutex_lock(&s->mu);
    free(s->body);
    s->body = strdup(body);
    s->status = status;
    pthread_mutex_unlock(&s->mu);
}

static unsigned
server_requests(jwks_server *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned n = s->requests;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static void
server_start(jwks_server *s, const char *body)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    server_set(s, body, 200);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, serve, s,
                            MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&sa, MHD_OPTION_END);
    assert_non_null(s->d);
    s->port = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT)->port;
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%u/jwks.json", (unsigned)s->port);
}

static void
server_stop(jwks_server *s)
{
    if (s->d != NULL)
        MHD_stop_daemon(s->d);
    s->d = NULL;
}

static void
server_free(jwks_server *s)
{
    server_stop(s);
    free(s->body);
    free(s->meta);
    pthread_mutex_destroy(&s->mu);
}

/* ------------------------------------------------------------------------------------------ */

static EVP_PKEY *k1, *k2;
static char *k1_priv, *k2_priv, *jwks_k1, *jwks_k2, *jwks_both;

static int
setup(void **state)
{
    (void)state;
    k1 = tu_keygen("EC", "P-256", 0);
    k2 = tu_keygen("EC", "P-256", 0);
    k1_priv = tu_pem_private(k1);
    k2_priv = tu_pem_private(k2);
    char *j1 = tu_jwk(k1, "k1", "ES256", "sig"), *j2 = tu_jwk(k2, "k2", NULL, NULL);
    size_t n = strlen(j1) + strlen(j2) + 64;
    jwks_k1 = malloc(n);
    jwks_k2 = malloc(n);
    jwks_both = malloc(n);
    snprintf(jwks_k1, n, "{\"keys\":[%s]}", j1);
    snprintf(jwks_k2, n, "{\"keys\":[%s]}", j2);
    snprintf(jwks_both, n, "{\"keys\":[%s,%s]}", j1, j2);
    free(j1);
    free(j2);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
    free(k1_priv);
    free(k2_priv);
    free(jwks_k1);
    free(jwks_k2);
    free(jwks_both);
    return 0;
}

static mcp_jwt_verifier *
url_verifier(size_t cache, unsigned refresh_s, unsigned min_interval_s)
{
    mcp_jwt_opts o;
    mcp_jwt_opts_default(&o);
    o.issuer = TU_ISS;
    o.audience = TU_AUD;
    o.cache_size = cache;
    o.jwks_refresh_s = refresh_s;
    o.jwks_min_interval_s = min_interval_s;
    o.jwks_timeout_ms = 2000;
    o.jwks_max_bytes = 4096;
    mcp_jwt_verifier *v;
    mcp_error err;
    assert_int_equal(mcp_jwt_verifier_new(&o, &v, &err), MCP_OK);
    return v;
}

static char *
mint(const char *priv, const char *kid, const char *sub)
{
    return tu_mint("ES256", priv, strlen(priv), kid, sub, mcp__unix_now(), 300, NULL);
}

static mcp_status
verify(mcp_jwt_verifier *v, const char *tok, mcp_error *err)
{
    mcp_principal *p = NULL;
    mcp_status rc = mcp_jwt_verify(v, tok, strlen(tok), &p, err);
    mcp_principal_unref(p);
    return rc;
}

static void
jwks_url_rotation_via_unknown_kid(void **state)
{
    (void)state;
    jwks_server s;
    server_start(&s, jwks_k1);
    mcp_jwt_verifier *v = url_verifier(100, 0, 0);
    mcp_error err;
    assert_int_equal(mcp_jwt_verifier_set_jwks_url(v, s.url, &err), MCP_OK);
    assert_int_equal(server_requests(&s), 1);
    assert_int_equal(mcp_jwt_verifier_key_count(v), 1);

    char *t1 = mint(k1_priv, "k1", "one"), *t2 = mint(k2_priv, "k2", "two");
    assert_int_equal(verify(v, t1, &err), MCP_OK);
    assert_int_equal(verify(v, t1, &err), MCP_OK);            /* cached */
    assert_int_equal(server_requests(&s), 1);

    /* the provider rotates: k2 replaces k1 */
    server_set(&s, jwks_k2, 200);
    assert_int_equal(verify(v, t2, &err), MCP_OK);            /* unknown kid -> refetch */
    assert_int_equal(server_requests(&s), 2);
    /* the new set replaced the old one, and the cache entry for t1 went with it */
    assert_int_equal(verify(v, t1, &err), MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "no key for kid");
    assert_int_equal(mcp_jwt_verifier_key_count(v), 1);

    mcp_free(t1);
    mcp_free(t2);
    mcp_jwt_verifier_free(v);
    server_free(&s);
}

static void
sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static void
jwks_url_unknown_kid_refresh_is_throttled(void **state)
{
    (void)state;
    jwks_server s;
    server_start(&s, jwks_k1);
    mcp_jwt_verifier *v = url_verifier(100, 0, 1);
    mcp_error err;
    assert_int_equal(mcp_jwt_verifier_set_jwks_url(v, s.url, &err), MCP_OK);
    server_set(&s, jwks_both, 200);
    char *t2 = mint(k2_priv, "k2", "two"), *tx = mint(k2_priv, "nope", "x");

    /* within the throttle window after the initial fetch: no request at all */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(verify(v, t2, &err), MCP_ERR_UNAUTHENTICATED);
        assert_string_equal(err.message, "no key for kid");
    }
    assert_int_equal(server_requests(&s), 1);

    sleep_ms(1100);
    /* the first unknown kid refetches; later ones find the key */
    for (int i = 0; i < 5; i++)
        assert_int_equal(verify(v, t2, &err), MCP_OK);
    assert_int_equal(server_requests(&s), 2);
    /* a flood of unknown kids right after costs no further request */
    for (int i = 0; i < 20; i++)
        assert_int_equal(verify(v, tx, &err), MCP_ERR_UNAUTHENTICATED);
    assert_int_equal(server_requests(&s), 2);

    /* an explicit refresh is not throttled */
    assert_int_equal(mcp_jwt_verifier_refresh_jwks(v, &err), MCP_OK);
    assert_int_equal(server_requests(&s), 3);
    mcp_free(t2);
    mcp_free(tx);
    mcp_jwt_verifier_free(v);
    server_free(&s);
}

/* Finding 3: on an IO thread an unknown kid must not wait for the JWKS fetch. */
static void
jwks_url_nowait_never_fetches(void **state)
{
    (void)state;
    jwks_server s;
    server_start(&s, jwks_k1);
    mcp_jwt_verifier *v = url_verifier(100, 0, 1);
    mcp_error err;
    assert_int_equal(mcp_jwt_verifier_set_jwks_url(v, s.url, &err), MCP_OK);
    server_set(&s, jwks_both, 200);
    char *t1 = mint(k1_priv, "k1", "one"), *t2 = mint(k2_priv, "k2", "two");
    mcp_principal *p = NULL;
    /* a known key: verified without the network, as by mcp_jwt_verify */
    assert_int_equal(mcp_jwt_verify_nowait(v, t1, strlen(t1), &p, &err), MCP_OK);
    assert_string_equal(mcp_principal_subject(p), "one");
    mcp_principal_unref(p);
    /* unknown kid within the throttle window: refused at once, as by mcp_jwt_verify */
    p = NULL;
    assert_int_equal(mcp_jwt_verify_nowait(v, t2, strlen(t2), &p, &err),
                     MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "no key for kid");
    assert_int_equal(server_requests(&s), 1);
    sleep_ms(1100);
    /* a fetch would be made now: WOULD_BLOCK, no request, nothing cached */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(mcp_jwt_verify_nowait(v, t2, strlen(t2), &p, &err),
                         MCP_ERR_WOULD_BLOCK);
        assert_null(p);
    }
    assert_int_equal(server_requests(&s), 1);
    /* where blocking is allowed the fetch happens, and then nowait finds the key */
    assert_int_equal(verify(v, t2, &err), MCP_OK);
    assert_int_equal(server_requests(&s), 2);
    assert_int_equal(mcp_jwt_verify_nowait(v, t2, strlen(t2), &p, &err), MCP_OK);
    mcp_principal_unref(p);
    mcp_free(t1);
    mcp_free(t2);
    mcp_jwt_verifier_free(v);
    server_free(&s);
}

static void
jwks_url_keeps_old_keys_when_provider_fails(void **state)
{
    (void)state;
    jwks_server s;
    server_start(&s, jwks_k1);
    mcp_jwt_verifier *v = url_verifier(0, 0, 0);
    mcp_error err;
    assert_int_equal(mcp_jwt_verifier_set_jwks_url(v, s.url, &err), MCP_OK);
    char *t1 = mint(k1_priv, "k1", "one");
    assert_int_equal(verify(v, t1, &err), MCP_OK);

    char big[6000];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, jwks_k1, strlen(jwks_k1));        /* valid JSON, padded past jwks_max_bytes */
    struct {
        const char *body;
        unsigned status;
        mcp_status want;
    } rows[] = {
        { "not json", 200, MCP_ERR_INVALID_ARG },
        { "{\"keys\":[]}", 200, MCP_ERR_INVALID_ARG },
        { "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}]}", 200,
          MCP_ERR_INVALID_ARG },
        { jwks_k2, 500, MCP_ERR_IO },
        { jwks_k2, 302, MCP_ERR_IO },
        { big, 200, MCP_ERR_IO },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        server_set(&s, rows[i].body, rows[i].status);
        mcp_status rc = mcp_jwt_verifier_refresh_jwks(v, &err);
        if (rc != rows[i].want)
            fail_msg("row %zu: %s (%s)", i, mcp_status_name(rc), err.message);
        assert_int_equal(verify(v, t1, &err), MCP_OK);          /* old set still serves */
        assert_int_equal(mcp_jwt_verifier_key_count(v), 1);
    }
    /* unreachable provider */
    server_stop(&s);
    assert_int_equal(mcp_jwt_verifier_refresh_jwks(v, &err), MCP_ERR_IO);
    assert_int_equal(verify(v, t1, &err), MCP_OK);
    char *t2 = mint(k2_priv, "k2", "two");
    assert_int_equal(verify(v, t2, &err), MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "no key for kid");
    mcp_free(t1);
    mcp_free(t2);
    mcp_jwt_verifier_free(v);
    server_free(&s);
}

static void
jwks_url_background_refresh(void **state)
{
    (void)state;
    jwks_server s;
    server_start(&s, jwks_k1);
    /* the unknown-kid path is throttled for 60 s, so only the 1 s timer can bring k2 */
    mcp_jwt_verifier *v = url_verifier(100, 1, 60);
    mcp_error err;
    assert_int_equal(mcp_jwt_verifier_set_jwks_url(v, s.url, &err), MCP_OK);
    server_set(&s, jwks_k2, 200);
    char *t2 = mint(k2_priv, "k2", "two");
    mcp_status rc = MCP_ERR_UNAUTHENTICATED;
    for (int i = 0; i < 40 && rc != MCP_OK; i++) {
        sleep_ms(100);
        rc = verify(v, t2, &err);
    }
    assert_int_equal(rc, MCP_OK);
    assert_true(server_requests(&s) >= 2);
    uint64_t t0 = mcp_now_ms();
    mcp_jwt_verifier_free(v);                        /* joins the refresh thread promptly */
    assert_true(mcp_now_ms() - t0 < 1000);
    mcp_free(t2);
    server_free(&s);
}

/* The provider is down at start-up: the verifier starts anyway, is not ready, answers tokens
 * MCP_ERR_STORE (503), and the background retry (1 s backoff) picks the keys up. */
static void
jwks_url_start_survives_unreachable(void **state)
{
    (void)state;
    jwks_server s;
    server_start(&s, jwks_k1);
    server_set(&s, jwks_k1, 503);
    mcp_jwt_verifier *v = url_verifier(100, 0, 0);
    mcp_error err;
    char why[256] = "";
    assert_true(mcp_jwt_verifier_keys_ready(v, why, sizeof why));   /* no URL yet: ready */
    assert_int_equal(mcp_jwt_verifier_start_jwks_url(v, s.url, &err), MCP_OK);
    assert_false(mcp_jwt_verifier_keys_ready(v, why, sizeof why));
    assert_non_null(strstr(why, "HTTP status 503"));
    char *t1 = mint(k1_priv, "k1", "one"), *nokid = mint(k1_priv, NULL, "two");
    assert_int_equal(verify(v, t1, &err), MCP_ERR_STORE);
    assert_non_null(strstr(err.message, "signing keys unavailable"));
    assert_int_equal(verify(v, nokid, &err), MCP_ERR_STORE);  /* no kid: also waits for keys */
    assert_int_equal(mcp_jwt_verifier_start_jwks_url(v, s.url, &err), MCP_ERR_INVALID_ARG);
    server_set(&s, jwks_k1, 200);
    uint64_t t0 = mcp_now_ms();
    while (!mcp_jwt_verifier_keys_ready(v, NULL, 0) && mcp_now_ms() - t0 < 8000)
        usleep(20000);
    assert_true(mcp_jwt_verifier_keys_ready(v, why, sizeof why));
    assert_int_equal(verify(v, t1, &err), MCP_OK);
    assert_int_equal(verify(v, nokid, &err), MCP_OK);
    /* a token signed by another key is a bad token again (401), not "keys unavailable" */
    char *t2 = mint(k2_priv, "k2", "two");
    assert_int_equal(verify(v, t2, &err), MCP_ERR_UNAUTHENTICATED);
    mcp_free(t1);
    mcp_free(t2);
    mcp_free(nokid);
    mcp_jwt_verifier_free(v);
    server_free(&s);
}

/* OIDC discovery, the RFC 8414 fallback with path insertion, and what is refused. */
static void
discovery(void **state)
{
    (void)state;
    jwks_server s;
    server_start(&s, jwks_k1);
    char iss[96], doc[512];
    char *jw = NULL, *in = NULL;
    mcp_error err;
    snprintf(iss, sizeof iss, "http://127.0.0.1:%u", (unsigned)s.port);
    snprintf(s.meta_path, sizeof s.meta_path, "/.well-known/openid-configuration");
    snprintf(doc, sizeof doc, "{\"issuer\":\"%s\",\"jwks_uri\":\"%s\","
             "\"introspection_endpoint\":\"%s/introspect\"}", iss, s.url, iss);
    s.meta = strdup(doc);
    assert_int_equal(mcp_jwt_discover(iss, NULL, &jw, &in, &err), MCP_OK);
    assert_string_equal(jw, s.url);
    assert_non_null(strstr(in, "/introspect"));
    mcp_free(jw);
    mcp_free(in);
    /* the verifier discovers its JWKS from its issuer */
    mcp_jwt_opts o;
    mcp_jwt_opts_default(&o);
    o.issuer = iss;
    o.allow_no_audience = true;
    o.jwks_refresh_s = 0;
    mcp_jwt_verifier *v = NULL;
    assert_int_equal(mcp_jwt_verifier_new(&o, &v, &err), MCP_OK);
    assert_int_equal(mcp_jwt_verifier_discover_jwks(v, &err), MCP_OK);
    assert_true(mcp_jwt_verifier_keys_ready(v, NULL, 0));
    assert_int_equal(mcp_jwt_verifier_key_count(v), 1);
    mcp_jwt_verifier_free(v);

    /* RFC 8414 only, for an issuer with a path: the well-known part goes before the path */
    char iss2[128];
    snprintf(iss2, sizeof iss2, "%s/tenant1", iss);
    snprintf(s.meta_path, sizeof s.meta_path, "/.well-known/oauth-authorization-server/tenant1");
    snprintf(doc, sizeof doc, "{\"issuer\":\"%s\",\"jwks_uri\":\"%s\"}", iss2, s.url);
    free(s.meta);
    s.meta = strdup(doc);
    assert_int_equal(mcp_jwt_discover(iss2, NULL, &jw, &in, &err), MCP_OK);
    assert_string_equal(jw, s.url);
    assert_null(in);
    mcp_free(jw);
    /* another issuer's document is refused */
    snprintf(doc, sizeof doc, "{\"issuer\":\"https://evil.example\",\"jwks_uri\":\"%s\"}",
             s.url);
    free(s.meta);
    s.meta = strdup(doc);
    assert_int_equal(mcp_jwt_discover(iss2, NULL, &jw, NULL, &err), MCP_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "is not"));
    assert_null(jw);
    /* a jwks_uri over plain http to a non-loopback host is refused */
    snprintf(doc, sizeof doc, "{\"issuer\":\"%s\",\"jwks_uri\":\"http://example.com/j\"}",
             iss2);
    free(s.meta);
    s.meta = strdup(doc);
    assert_int_equal(mcp_jwt_discover(iss2, NULL, &jw, NULL, &err), MCP_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "jwks_uri"));
    /* nothing there at all: both documents named in the error */
    free(s.meta);
    s.meta = NULL;
    assert_int_equal(mcp_jwt_discover(iss2, NULL, &jw, NULL, &err), MCP_ERR_IO);
    assert_non_null(strstr(err.message, "openid-configuration"));
    assert_non_null(strstr(err.message, "oauth-authorization-server"));
    /* the issuer itself must satisfy the URL rule */
    assert_int_equal(mcp_jwt_discover("http://example.com", NULL, &jw, NULL, &err),
                     MCP_ERR_INVALID_ARG);
    server_free(&s);
}

static void
jwks_url_rules(void **state)
{
    (void)state;
    mcp_jwt_verifier *v = url_verifier(0, 0, 0);
    mcp_error err;
    assert_int_equal(mcp_jwt_verifier_refresh_jwks(v, &err), MCP_ERR_STATE);
    const char *bad[] = { "http://example.com/jwks.json", "ftp://127.0.0.1/jwks.json",
                          "file:///etc/passwd", "not a url", "" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(mcp_jwt_verifier_set_jwks_url(v, bad[i], &err), MCP_ERR_INVALID_ARG);
    /* loopback http is fine; a closed port fails the first fetch and configures nothing */
    jwks_server s;
    server_start(&s, jwks_k1);
    char closed[64];
    snprintf(closed, sizeof closed, "http://127.0.0.1:%u/x", (unsigned)s.port);
    server_stop(&s);
    assert_int_equal(mcp_jwt_verifier_set_jwks_url(v, closed, &err), MCP_ERR_IO);
    assert_int_equal(mcp_jwt_verifier_refresh_jwks(v, &err), MCP_ERR_STATE);
    server_free(&s);

    /* fetched oct keys are ignored: a URL never supplies HMAC secrets */
    char *k = mcp__b64url_encode((const unsigned char *)"0123456789abcdef0123456789abcdef", 32);
    char doc[2048];
    snprintf(doc, sizeof doc, "{\"keys\":[{\"kty\":\"oct\",\"alg\":\"HS256\",\"k\":\"%s\"},%s]}",
             k, strchr(jwks_k1, '[') + 1);
    doc[strlen(doc) - 2] = '\0';                     /* drop the extra "]}" */
    server_start(&s, doc);
    snprintf(closed, sizeof closed, "http://localhost:%u/jwks.json", (unsigned)s.port);
    assert_int_equal(mcp_jwt_verifier_set_jwks_url(v, closed, &err), MCP_OK);
    assert_int_equal(mcp_jwt_verifier_key_count(v), 1);
    assert_int_equal(mcp_jwt_verifier_set_jwks_url(v, closed, &err), MCP_ERR_INVALID_ARG);
    mcp__free(k);
    mcp_jwt_verifier_free(v);
    server_free(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jwks_url_rotation_via_unknown_kid),
        cmocka_unit_test(jwks_url_unknown_kid_refresh_is_throttled),
        cmocka_unit_test(jwks_url_nowait_never_fetches),
        cmocka_unit_test(jwks_url_keeps_old_keys_when_provider_fails),
        cmocka_unit_test(jwks_url_background_refresh),
        cmocka_unit_test(jwks_url_rules),
        cmocka_unit_test(jwks_url_start_survives_unreachable),
        cmocka_unit_test(discovery),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
