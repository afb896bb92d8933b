/*
 * Token introspection (RFC 7662) against a real scripted endpoint on 127.0.0.1: what is sent
 * (client_secret_basic, form body), how each answer is judged, the cache (hits, expiry bounded
 * by exp and by the ttl, no negative caching) and fail-closed behaviour when the endpoint is
 * unusable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <time.h>

#include <mcp/introspect.h>

#include "authn/test_introspect_util.h"
#include "common/common.h"

#define ISS "https://as.example"
#define AUD "http://127.0.0.1:9/mcp"
#define CID "rs-client"
#define SECRET "s3cr+t /x"      /* form-encoded: s3cr%2Bt+%2Fx */

static fake_as S;

static int
setup(void **state)
{
    (void)state;
    return fake_as_start(&S);
}

static int
teardown(void **state)
{
    (void)state;
    fake_as_free(&S);
    return 0;
}

static void
opts_for(mcp_introspect_opts *o)
{
    mcp_introspect_opts_default(o);
    o->url = S.url;
    o->client_id = CID;
    o->client_secret = SECRET;
    o->client_secret_len = strlen(SECRET);
    o->issuer = ISS;
    o->audience = AUD;
}

static mcp_introspector *
new_in(const mcp_introspect_opts *o)
{
    mcp_introspector *in = NULL;
    mcp_error err;
    mcp_status rc = mcp_introspector_new(o, &in, &err);
    if (rc != MCP_OK)
        fail_msg("mcp_introspector_new: %s", err.message);
    return in;
}

/* An active answer with every member; extra is spliced in before the closing brace. */
static void
answer_active(int64_t exp_delta, const char *extra)
{
    char b[2048];
    snprintf(b, sizeof b,
             "{\"active\":true,\"sub\":\"alice\",\"username\":\"Alice\",\"client_id\":\"app1\","
             "\"scope\":\"User.Read tools:call\",\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%lld,"
             "\"jti\":\"j-1\",\"token_type\":\"Bearer\"%s}",
             ISS, AUD, (long long)(mcp__unix_now() + exp_delta), extra ? extra : "");
    fake_as_set(&S, 200, b);
}

static mcp_status
verify(mcp_introspector *in, const char *tok, mcp_principal **p, mcp_error *err)
{
    mcp_error_clear(err);
    return mcp_introspect_verify(in, tok, strlen(tok), p, err);
}

/* A rejection: status and message, and the token never appears in the message. */
static void
expect_reject(mcp_introspector *in, const char *tok, mcp_status want, const char *msg)
{
    mcp_principal *p = (mcp_principal *)1;
    mcp_error err;
    mcp_status rc = verify(in, tok, &p, &err);
    if (rc != want || strstr(err.message, msg) == NULL)
        fail_msg("want %s \"%s\", got %s \"%s\"", mcp_status_name(want), msg,
                 mcp_status_name(rc), err.message);
    assert_null(p);
    if (tok[0] != '\0')
        assert_null(strstr(err.message, tok));
}

static void
introspect_sends_basic_auth_and_form_body(void **state)
{
    (void)state;
    mcp_introspect_opts o;
    opts_for(&o);
    mcp_introspector *in = new_in(&o);
    answer_active(600, NULL);
    mcp_principal *p = NULL;
    mcp_error err;
    assert_int_equal(verify(in, "tok+/=en.1", &p, &err), MCP_OK);
    mcp_principal_unref(p);
    /* RFC 6749 2.3.1: id and secret form-urlencoded, then base64 of "id:secret". */
    char *want = mcp__b64_encode((const unsigned char *)"rs-client:s3cr%2Bt+%2Fx", 23);
    char hdr[256];
    snprintf(hdr, sizeof hdr, "Basic %s", want);
    mcp__free(want);
    assert_string_equal(S.last_auth, hdr);
    assert_string_equal(S.last_method, "POST");
    assert_string_equal(S.last_ctype, "application/x-www-form-urlencoded");
    assert_string_equal(S.last_body, "token=tok%2B%2F%3Den.1&token_type_hint=access_token");
    mcp_introspector_free(in);
}

static void
introspect_active_token_builds_principal(void **state)
{
    (void)state;
    mcp_introspect_opts o;
    opts_for(&o);
    mcp_introspector *in = new_in(&o);
    answer_active(600, NULL);
    mcp_principal *p = NULL;
    mcp_error err;
    assert_int_equal(verify(in, "opaque-1", &p, &err), MCP_OK);
    assert_int_equal(mcp_principal_kind(p), MCP_CRED_INTROSPECTION);
    assert_string_equal(mcp_principal_subject(p), "alice");
    assert_string_equal(mcp_principal_name(p), "Alice");
    assert_string_equal(mcp_principal_client_id(p), "app1");
    assert_string_equal(mcp_principal_issuer(p), ISS);
    assert_string_equal(mcp_principal_jti(p), "j-1");
    assert_int_equal(mcp_principal_permission_count(p), 2);
    assert_true(mcp_principal_has(p, "User.Read"));
    assert_true(mcp_principal_has(p, "tools:call"));
    assert_true(mcp_principal_expires_at(p) > mcp__unix_now() + 500);
    assert_non_null(strstr(mcp_principal_claims_json(p), "\"sub\":\"alice\""));
    mcp_principal_unref(p);
    mcp_introspector_free(in);
}

static void
introspect_rejects_each_failed_check(void **state)
{
    (void)state;
    mcp_introspect_opts o;
    opts_for(&o);
    o.cache_size = 0;    /* every call asks the server */
    mcp_introspector *in = new_in(&o);

    fake_as_set(&S, 200, "{\"active\":false}");
    expect_reject(in, "t-inactive", MCP_ERR_UNAUTHENTICATED, "token inactive");
    fake_as_set(&S, 200, "{\"active\":\"true\",\"sub\":\"a\"}");
    expect_reject(in, "t-strtrue", MCP_ERR_UNAUTHENTICATED, "token inactive");
    fake_as_set(&S, 200, "{\"sub\":\"a\"}");
    expect_reject(in, "t-noactive", MCP_ERR_UNAUTHENTICATED, "token inactive");
    answer_active(-1000, NULL);
    expect_reject(in, "t-expired", MCP_ERR_UNAUTHENTICATED, "token expired");
    answer_active(600, ",\"nbf\":99999999999");
    expect_reject(in, "t-nbf", MCP_ERR_UNAUTHENTICATED, "token not yet valid");
    fake_as_set(&S, 200, "{\"active\":true,\"sub\":\"a\",\"iss\":\"https://evil\",\"aud\":\"" AUD
                         "\"}");
    expect_reject(in, "t-iss", MCP_ERR_UNAUTHENTICATED, "issuer mismatch");
    fake_as_set(&S, 200, "{\"active\":true,\"sub\":\"a\",\"aud\":\"" AUD "\"}");
    expect_reject(in, "t-noiss", MCP_ERR_UNAUTHENTICATED, "missing iss");
    fake_as_set(&S, 200,
                "{\"active\":true,\"sub\":\"a\",\"iss\":\"" ISS "\",\"aud\":\"http://other/mcp\"}");
    expect_reject(in, "t-aud", MCP_ERR_UNAUTHENTICATED, "audience mismatch");
    fake_as_set(&S, 200,
                "{\"active\":true,\"sub\":\"a\",\"iss\":\"" ISS "\",\"aud\":[\"x\",\"y\"]}");
    expect_reject(in, "t-audarr", MCP_ERR_UNAUTHENTICATED, "audience mismatch");
    fake_as_set(&S, 200, "{\"active\":true,\"sub\":\"a\",\"iss\":\"" ISS "\"}");
    expect_reject(in, "t-noaud", MCP_ERR_UNAUTHENTICATED, "missing aud");
    fake_as_set(&S, 200, "{\"active\":true,\"iss\":\"" ISS "\",\"aud\":\"" AUD "\"}");
    expect_reject(in, "t-nosub", MCP_ERR_UNAUTHENTICATED, "missing sub");
    answer_active(600, ",\"token_type\":\"refresh_token\"");
    /* a duplicate member is refused by the JSON parser: the answer is unusable */
    expect_reject(in, "t-dup", MCP_ERR_STORE, "introspection unavailable");
    fake_as_set(&S, 200, "{\"active\":true,\"sub\":\"a\",\"iss\":\"" ISS "\",\"aud\":\"" AUD
                         "\",\"token_type\":\"refresh_token\"}");
    expect_reject(in, "t-refresh", MCP_ERR_UNAUTHENTICATED, "not a bearer access token");
    fake_as_set(&S, 200, "{\"active\":true,\"sub\":\"a\",\"iss\":\"" ISS "\",\"aud\":\"" AUD
                         "\",\"exp\":\"soon\"}");
    expect_reject(in, "t-expstr", MCP_ERR_UNAUTHENTICATED, "malformed introspection answer: exp");
    fake_as_set(&S, 200, "{\"active\":true,\"sub\":7,\"iss\":\"" ISS "\",\"aud\":\"" AUD "\"}");
    expect_reject(in, "t-subnum", MCP_ERR_UNAUTHENTICATED, "malformed introspection answer");
    fake_as_set(&S, 200, "{\"active\":true,\"sub\":\"a\",\"iss\":\"" ISS "\",\"aud\":[\"" AUD
                         "\",3]}");
    expect_reject(in, "t-audnum", MCP_ERR_UNAUTHENTICATED, "malformed introspection answer: aud");
    assert_int_equal(fake_as_requests(&S) >= 17, true);
    mcp_introspector_free(in);
}

static void
introspect_accepts_edge_cases(void **state)
{
    (void)state;
    mcp_introspect_opts o;
    opts_for(&o);
    o.cache_size = 0;
    mcp_introspector *in = new_in(&o);
    mcp_principal *p = NULL;
    mcp_error err;
    /* expired 10 s ago, inside the 60 s leeway */
    answer_active(-10, NULL);
    assert_int_equal(verify(in, "t-leeway", &p, &err), MCP_OK);
    mcp_principal_unref(p);
    /* aud as an array containing us; token_type in lower case; no sub -> "client:" + client_id
     * (a namespace of its own: a client is never mistaken for a user of the same name) */
    fake_as_set(&S, 200,
                "{\"active\":true,\"client_id\":\"svc\",\"iss\":\"" ISS "\",\"aud\":[\"x\",\"" AUD
                "\"],\"token_type\":\"bearer\"}");
    assert_int_equal(verify(in, "t-arr", &p, &err), MCP_OK);
    assert_string_equal(mcp_principal_subject(p), "client:svc");
    assert_string_equal(mcp_principal_client_id(p), "svc");
    assert_int_equal(mcp_principal_permission_count(p), 0);
    assert_int_equal(mcp_principal_expires_at(p), 0);
    mcp_principal_unref(p);
    /* a client whose id equals a user's subject does not become that user */
    fake_as_set(&S, 200, "{\"active\":true,\"client_id\":\"alice\",\"iss\":\"" ISS
                         "\",\"aud\":\"" AUD "\"}");
    assert_int_equal(verify(in, "t-client-alice", &p, &err), MCP_OK);
    assert_string_equal(mcp_principal_subject(p), "client:alice");
    mcp_principal_unref(p);
    fake_as_set(&S, 200, "{\"active\":true,\"sub\":\"alice\",\"client_id\":\"alice\",\"iss\":\""
                         ISS "\",\"aud\":\"" AUD "\"}");
    assert_int_equal(verify(in, "t-user-alice", &p, &err), MCP_OK);
    assert_string_equal(mcp_principal_subject(p), "alice");     /* a sub is taken as it is */
    mcp_principal_unref(p);
    /* a user sub that poses as a client subject is refused */
    fake_as_set(&S, 200, "{\"active\":true,\"sub\":\"client:svc\",\"iss\":\"" ISS
                         "\",\"aud\":\"" AUD "\"}");
    assert_int_equal(verify(in, "t-fake-client", &p, &err), MCP_ERR_UNAUTHENTICATED);
    assert_string_equal(err.message, "malformed introspection answer: sub");
    mcp_introspector_free(in);

    /* audience check switched off explicitly: no aud is fine; no issuer configured: no iss ok */
    opts_for(&o);
    o.audience = NULL;
    o.allow_no_audience = true;
    o.issuer = NULL;
    in = new_in(&o);
    fake_as_set(&S, 200, "{\"active\":true,\"sub\":\"bob\"}");
    assert_int_equal(verify(in, "t-noaud-ok", &p, &err), MCP_OK);
    assert_string_equal(mcp_principal_subject(p), "bob");
    mcp_principal_unref(p);
    mcp_introspector_free(in);
}

static void
introspect_caches_by_token_hash(void **state)
{
    (void)state;
    mcp_introspect_opts o;
    opts_for(&o);
    mcp_introspector *in = new_in(&o);
    answer_active(600, NULL);
    unsigned base = fake_as_requests(&S);
    mcp_principal *p1 = NULL, *p2 = NULL, *p3 = NULL;
    mcp_error err;
    assert_int_equal(verify(in, "cached-1", &p1, &err), MCP_OK);
    assert_int_equal(verify(in, "cached-1", &p2, &err), MCP_OK);
    assert_ptr_equal(p1, p2);                          /* the cached principal is shared */
    assert_int_equal(fake_as_requests(&S), base + 1);
    assert_int_equal(verify(in, "cached-2", &p3, &err), MCP_OK);
    assert_int_equal(fake_as_requests(&S), base + 2);
    mcp_introspect_stats st;
    mcp_introspector_stats(in, &st);
    assert_int_equal(st.requests, 2);
    assert_int_equal(st.cache_hits, 1);
    assert_true(st.cached >= 1 && st.cached <= 2);
    mcp_principal_unref(p1);
    mcp_principal_unref(p2);
    mcp_principal_unref(p3);

    /* the server now says inactive (revoked), but the cached result stands until flushed */
    fake_as_set(&S, 200, "{\"active\":false}");
    assert_int_equal(verify(in, "cached-1", &p1, &err), MCP_OK);
    mcp_principal_unref(p1);
    mcp_introspector_flush(in);
    expect_reject(in, "cached-1", MCP_ERR_UNAUTHENTICATED, "token inactive");
    /* rejections are cached briefly (negative cache, 5 s by default): a replay asks nothing */
    unsigned before = fake_as_requests(&S);
    for (int i = 0; i < 5; i++)
        expect_reject(in, "cached-1", MCP_ERR_UNAUTHENTICATED, "token inactive");
    assert_int_equal(fake_as_requests(&S), before);
    mcp_introspector_stats(in, &st);
    assert_int_equal(st.negative_hits, 5);
    /* ... even when the server has changed its mind, until the short ttl or a flush */
    answer_active(600, NULL);
    expect_reject(in, "cached-1", MCP_ERR_UNAUTHENTICATED, "token inactive");
    mcp_introspector_flush(in);
    assert_int_equal(verify(in, "cached-1", &p1, &err), MCP_OK);
    mcp_principal_unref(p1);
    assert_int_equal(fake_as_requests(&S), before + 1);
    mcp_introspector_free(in);

    /* the check's own message is what is cached (here: another audience) */
    o.negative_cache_ttl_s = 1;
    in = new_in(&o);
    fake_as_set(&S, 200, "{\"active\":true,\"sub\":\"a\",\"iss\":\"" ISS
                         "\",\"aud\":\"https://other.example\"}");
    before = fake_as_requests(&S);
    expect_reject(in, "neg-aud", MCP_ERR_UNAUTHENTICATED, "audience mismatch");
    expect_reject(in, "neg-aud", MCP_ERR_UNAUTHENTICATED, "audience mismatch");
    assert_int_equal(fake_as_requests(&S), before + 1);
    /* an unusable endpoint (503) is never cached */
    fake_as_set(&S, 500, "oops");
    expect_reject(in, "neg-503", MCP_ERR_STORE, "introspection");
    answer_active(600, NULL);
    assert_int_equal(verify(in, "neg-503", &p1, &err), MCP_OK);
    mcp_principal_unref(p1);
    /* the ttl ends: asked again */
    struct timespec ts = { 1, 100 * 1000000L };
    nanosleep(&ts, NULL);
    before = fake_as_requests(&S);
    assert_int_equal(verify(in, "neg-aud", &p1, &err), MCP_OK);
    mcp_principal_unref(p1);
    assert_int_equal(fake_as_requests(&S), before + 1);
    mcp_introspector_free(in);

    /* off, and bounds */
    o.negative_cache_ttl_s = 0;
    in = new_in(&o);
    fake_as_set(&S, 200, "{\"active\":false}");
    before = fake_as_requests(&S);
    expect_reject(in, "neg-off", MCP_ERR_UNAUTHENTICATED, "token inactive");
    expect_reject(in, "neg-off", MCP_ERR_UNAUTHENTICATED, "token inactive");
    assert_int_equal(fake_as_requests(&S), before + 2);
    mcp_introspector_free(in);
    o.negative_cache_ttl_s = 3601;
    in = NULL;
    assert_int_equal(mcp_introspector_new(&o, &in, &err), MCP_ERR_INVALID_ARG);
    assert_null(in);
}

static void
introspect_cache_entry_never_outlives_exp_or_ttl(void **state)
{
    (void)state;
    mcp_introspect_opts o;
    opts_for(&o);
    o.leeway_s = 0;
    mcp_introspector *by_exp = new_in(&o);       /* ttl 60, token exp in 1 s */
    o.cache_ttl_s = 1;
    mcp_introspector *by_ttl = new_in(&o);       /* ttl 1, token exp in 600 s */
    mcp_principal *p = NULL;
    mcp_error err;

    answer_active(1, NULL);
    assert_int_equal(verify(by_exp, "short-lived", &p, &err), MCP_OK);
    mcp_principal_unref(p);
    answer_active(600, NULL);
    assert_int_equal(verify(by_ttl, "long-lived", &p, &err), MCP_OK);
    mcp_principal_unref(p);
    unsigned base = fake_as_requests(&S);

    fake_sleep_ms(2100);
    /* the server still answers with the old exp: now in the past, so the token is expired */
    char b[512];
    snprintf(b, sizeof b, "{\"active\":true,\"sub\":\"alice\",\"iss\":\"%s\",\"aud\":\"%s\","
             "\"exp\":%lld}", ISS, AUD, (long long)mcp__unix_now() - 1);
    fake_as_set(&S, 200, b);
    expect_reject(by_exp, "short-lived", MCP_ERR_UNAUTHENTICATED, "token expired");
    assert_int_equal(fake_as_requests(&S), base + 1);
    answer_active(600, NULL);
    assert_int_equal(verify(by_ttl, "long-lived", &p, &err), MCP_OK);
    mcp_principal_unref(p);
    assert_int_equal(fake_as_requests(&S), base + 2);    /* ttl passed: asked again */
    mcp_introspector_free(by_exp);
    mcp_introspector_free(by_ttl);
}

static void
introspect_fails_closed_when_endpoint_unusable(void **state)
{
    (void)state;
    mcp_introspect_opts o;
    opts_for(&o);
    o.max_response = 1024;
    o.timeout_ms = 300;
    mcp_introspector *in = new_in(&o);

    fake_as_set(&S, 500, "{\"error\":\"server_error\"}");
    expect_reject(in, "u-500", MCP_ERR_STORE, "introspection unavailable: HTTP status 500");
    fake_as_set(&S, 401, "{\"error\":\"invalid_client\"}");
    expect_reject(in, "u-401", MCP_ERR_STORE, "introspection unavailable: HTTP status 401");
    fake_as_set(&S, 200, "<html>not json</html>");
    expect_reject(in, "u-html", MCP_ERR_STORE, "not a JSON object");
    fake_as_set(&S, 200, "[true]");
    expect_reject(in, "u-array", MCP_ERR_STORE, "not a JSON object");
    char big[4096];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "{\"active\":true,\"pad\":\"", 22);
    big[sizeof big - 3] = '"';
    big[sizeof big - 2] = '}';
    fake_as_set(&S, 200, big);
    expect_reject(in, "u-big", MCP_ERR_STORE, "answer too large");
    answer_active(600, NULL);
    fake_as_set_delay(&S, 1200);
    uint64_t t0 = mcp_now_ms();
    expect_reject(in, "u-slow", MCP_ERR_STORE, "introspection unavailable");
    assert_true(mcp_now_ms() - t0 < 1100);
    fake_as_set_delay(&S, 0);
    mcp_introspector_free(in);

    /* nothing listening any more */
    mcp_introspect_opts o2;
    opts_for(&o2);
    fake_as s2;
    assert_int_equal(fake_as_start(&s2), 0);
    o2.url = s2.url;
    fake_as_free(&s2);
    in = new_in(&o2);
    expect_reject(in, "u-down", MCP_ERR_STORE, "introspection unavailable");
    mcp_introspector_free(in);
}

static void
introspect_refuses_oversize_token_without_asking(void **state)
{
    (void)state;
    mcp_introspect_opts o;
    opts_for(&o);
    o.max_token_len = 16;
    mcp_introspector *in = new_in(&o);
    unsigned base = fake_as_requests(&S);
    expect_reject(in, "0123456789abcdefg", MCP_ERR_TOO_LARGE, "token too large");
    expect_reject(in, "", MCP_ERR_UNAUTHENTICATED, "empty token");
    assert_int_equal(fake_as_requests(&S), base);
    mcp_introspector_free(in);
}

static void
introspect_new_validates_options(void **state)
{
    (void)state;
    mcp_introspect_opts o;
    mcp_introspector *in = NULL;
    mcp_error err;
    static const struct {
        const char *url;
        const char *msg;
    } bad_urls[] = {
        { "http://as.example/introspect", "https" },
        { "ftp://127.0.0.1/x", "http(s)" },
        { "not a url", "not a valid URL" },
        { "", "endpoint URL" },
    };
    for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++) {
        opts_for(&o);
        o.url = bad_urls[i].url;
        assert_int_equal(mcp_introspector_new(&o, &in, &err), MCP_ERR_INVALID_ARG);
        assert_non_null(strstr(err.message, bad_urls[i].msg));
        assert_null(in);
    }
    opts_for(&o);
    o.client_id = NULL;
    assert_int_equal(mcp_introspector_new(&o, &in, &err), MCP_ERR_INVALID_ARG);
    opts_for(&o);
    o.client_secret_len = 0;
    assert_int_equal(mcp_introspector_new(&o, &in, &err), MCP_ERR_INVALID_ARG);
    assert_null(strstr(err.message, SECRET));
    opts_for(&o);
    o.audience = NULL;
    assert_int_equal(mcp_introspector_new(&o, &in, &err), MCP_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "audience"));
    opts_for(&o);
    o.timeout_ms = 0;
    assert_int_equal(mcp_introspector_new(&o, &in, &err), MCP_ERR_INVALID_ARG);
    /* https anywhere, http to loopback names, http elsewhere only when allowed */
    const char *good[] = { "https://as.example/i", "http://localhost:1/i", "http://[::1]:1/i",
                           "http://127.0.0.2/i" };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        opts_for(&o);
        o.url = good[i];
        assert_int_equal(mcp_introspector_new(&o, &in, &err), MCP_OK);
        mcp_introspector_free(in);
        in = NULL;
    }
    opts_for(&o);
    o.url = "http://as.example/introspect";
    o.allow_insecure_url = true;
    assert_int_equal(mcp_introspector_new(&o, &in, &err), MCP_OK);
    mcp_introspector_free(in);
    mcp_introspector_free(NULL);
}

typedef struct worker_arg {
    mcp_introspector *in;
    int failures;
    int id;
} worker_arg;

static void *
worker(void *arg)
{
    worker_arg *w = arg;
    for (int i = 0; i < 60; i++) {
        char tok[32];
        snprintf(tok, sizeof tok, "conc-%d", (i * 7 + w->id) % 10);
        mcp_principal *p = NULL;
        mcp_error err;
        if (mcp_introspect_verify(w->in, tok, strlen(tok), &p, &err) != MCP_OK)
            w->failures++;
        else if (strcmp(mcp_principal_subject(p), "alice") != 0)
            w->failures++;
        mcp_principal_unref(p);
        if (i == 30 && w->id == 0)
            mcp_introspector_flush(w->in);
    }
    return NULL;
}

static void
introspect_is_thread_safe(void **state)
{
    (void)state;
    mcp_introspect_opts o;
    opts_for(&o);
    o.cache_size = 7;    /* small: collisions replace entries while others read them */
    mcp_introspector *in = new_in(&o);
    answer_active(600, NULL);
    pthread_t t[4];
    worker_arg w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker_arg){ in, 0, i };
        assert_int_equal(pthread_create(&t[i], NULL, worker, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    mcp_introspect_stats st;
    mcp_introspector_stats(in, &st);
    assert_int_equal(st.requests + st.cache_hits, 240);
    assert_true(st.cache_hits > 0);
    mcp_introspector_free(in);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(introspect_sends_basic_auth_and_form_body),
        cmocka_unit_test(introspect_active_token_builds_principal),
        cmocka_unit_test(introspect_rejects_each_failed_check),
        cmocka_unit_test(introspect_accepts_edge_cases),
        cmocka_unit_test(introspect_caches_by_token_hash),
        cmocka_unit_test(introspect_cache_entry_never_outlives_exp_or_ttl),
        cmocka_unit_test(introspect_fails_closed_when_endpoint_unusable),
        cmocka_unit_test(introspect_refuses_oversize_token_without_asking),
        cmocka_unit_test(introspect_new_validates_options),
        cmocka_unit_test(introspect_is_thread_safe),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
