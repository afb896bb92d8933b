/* Direct unit tests for src/client/loopback.c: the interactive login's redirect listener on
 * 127.0.0.1. A real HTTP client (libcurl) plays the browser coming back to /callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/internal.h"

typedef struct got {
    long status;
    char body[512];
    char ctype[128];
    char cache[64];
} got;

static size_t
on_body(char *p, size_t sz, size_t n, void *ud)
{
    got *g = ud;
    size_t have = strlen(g->body), add = sz * n;
    if (have + add < sizeof g->body) {
        memcpy(g->body + have, p, add);
        g->body[have + add] = '\0';
    }
    return add;
}

static size_t
on_header(char *p, size_t sz, size_t n, void *ud)
{
    got *g = ud;
    size_t len = sz * n;
    const char *v;
    size_t vl;
    if (mcp__http_header_is(p, len, "cache-control", &v, &vl) && vl < sizeof g->cache) {
        memcpy(g->cache, v, vl);
        g->cache[vl] = '\0';
    }
    return len;
}

/* The browser: one request, bounded by a 5 s timeout. */
static void
browse(const char *method, const char *url, got *g)
{
    memset(g, 0, sizeof *g);
    CURL *h = curl_easy_init();
    assert_non_null(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (strcmp(method, "POST") == 0)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "code=x");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, g);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, g);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &g->status);
    char *ct = NULL;
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
    snprintf(g->ctype, sizeof g->ctype, "%s", ct ? ct : "");
    curl_easy_cleanup(h);
}

static void
open_gives_loopback_redirect_uri(void **state)
{
    (void)state;
    mcp__loopback *l = NULL;
    char *uri = NULL;
    mcp_error err;
    assert_int_equal(mcp__loopback_open("st", &l, &uri, &err), MCP_OK);
    unsigned port = 0;
    char tail[32];
    assert_int_equal(sscanf(uri, "http://127.0.0.1:%u/%31s", &port, tail), 2);
    assert_true(port > 0 && port < 65536);
    assert_string_equal(tail, "callback");
    /* Two listeners at once get different ports. */
    mcp__loopback *l2 = NULL;
    char *uri2 = NULL;
    assert_int_equal(mcp__loopback_open("st2", &l2, &uri2, &err), MCP_OK);
    assert_string_not_equal(uri, uri2);
    mcp__loopback_close(l2);
    mcp__free(uri2);
    mcp__loopback_close(l);
    mcp__free(uri);
    mcp__loopback_close(NULL);
}

static void
callback_query_handed_over(void **state)
{
    (void)state;
    mcp__loopback *l = NULL;
    char *uri = NULL, *cb = NULL;
    mcp_error err;
    assert_int_equal(mcp__loopback_open("a b", &l, &uri, &err), MCP_OK);
    char url[512];
    /* Parameters in any order; unknown ones dropped; values re-encoded. */
    snprintf(url, sizeof url, "%s?iss=https%%3A%%2F%%2Fidp.example&extra=1&state=a%%20b&code=c0d3",
             uri);
    got g;
    browse("GET", url, &g);
    assert_int_equal(g.status, 200);
    assert_string_equal(g.ctype, "text/html; charset=utf-8");
    assert_string_equal(g.cache, "no-store");
    assert_non_null(strstr(g.body, "Login complete."));
    assert_int_equal(mcp__loopback_wait(l, 5000, &cb, &err), MCP_OK);
    char want[512];
    snprintf(want, sizeof want, "%s?code=c0d3&state=a%%20b&iss=https%%3A%%2F%%2Fidp.example", uri);
    assert_string_equal(cb, want);
    mcp__free(cb);
    /* Handed over once: a second wait has nothing (and does not block). */
    mcp_error_clear(&err);
    assert_int_equal(mcp__loopback_wait(l, 60000, &cb, &err), MCP_ERR_TIMEOUT);
    assert_null(cb);
    mcp__loopback_close(l);
    mcp__free(uri);
}

static void
error_callback_and_first_wins(void **state)
{
    (void)state;
    mcp__loopback *l = NULL;
    char *uri = NULL, *cb = NULL;
    mcp_error err;
    assert_int_equal(mcp__loopback_open("s1", &l, &uri, &err), MCP_OK);
    char url[512];
    snprintf(url, sizeof url, "%s?error=access_denied&error_description=User+denied&state=s1", uri);
    got g;
    browse("GET", url, &g);
    assert_int_equal(g.status, 200);
    /* A second redirect (a reload, or an attacker racing the browser) does not replace it. */
    snprintf(url, sizeof url, "%s?code=evil&state=s1", uri);
    browse("GET", url, &g);
    assert_int_equal(g.status, 200);
    assert_int_equal(mcp__loopback_wait(l, 5000, &cb, &err), MCP_OK);
    char want[512];
    /* MHD decodes '+' in the query to a space; it is re-encoded as %20. */
    snprintf(want, sizeof want, "%s?state=s1&error=access_denied&error_description=User%%20denied",
             uri);
    assert_string_equal(cb, want);
    mcp__free(cb);
    mcp__loopback_close(l);
    mcp__free(uri);
}

static void
other_paths_and_methods_ignored(void **state)
{
    (void)state;
    mcp__loopback *l = NULL;
    char *uri = NULL, *cb = NULL;
    mcp_error err;
    assert_int_equal(mcp__loopback_open("st", &l, &uri, &err), MCP_OK);
    char url[512], root[256];
    snprintf(root, sizeof root, "%s", uri);
    *strrchr(root, '/') = '\0';
    got g;
    snprintf(url, sizeof url, "%s/favicon.ico", root);
    browse("GET", url, &g);
    assert_int_equal(g.status, 404);
    assert_string_equal(g.body, "not found");
    assert_string_equal(g.ctype, "text/plain");
    snprintf(url, sizeof url, "%s/callback/x?code=1", root);
    browse("GET", url, &g);
    assert_int_equal(g.status, 404);
    browse("POST", uri, &g);
    assert_int_equal(g.status, 404);
    /* None of these completed the login. */
    mcp_error_clear(&err);
    assert_int_equal(mcp__loopback_wait(l, 1000, &cb, &err), MCP_ERR_TIMEOUT);
    assert_null(cb);
    assert_string_equal(err.message, "no login redirect arrived within 1.000 s");
    /* a bound under a second is said as it is, not "0 s" */
    mcp_error_clear(&err);
    assert_int_equal(mcp__loopback_wait(l, 250, &cb, &err), MCP_ERR_TIMEOUT);
    assert_string_equal(err.message, "no login redirect arrived within 0.250 s");
    mcp__loopback_close(l);
    mcp__free(uri);
}

/* A callback with the right state whose query does not fit (a 17,000-byte code): the browser is
 * told the login failed (not "complete"), and the wait ends at once with that error instead of
 * running into its timeout. */
static void
oversize_callback_fails_the_wait(void **state)
{
    (void)state;
    mcp__loopback *l = NULL;
    char *uri = NULL, *cb = NULL;
    mcp_error err;
    assert_int_equal(mcp__loopback_open("big", &l, &uri, &err), MCP_OK);
    size_t n = 17000;
    char *url = malloc(strlen(uri) + n + 64);
    assert_non_null(url);
    int k = sprintf(url, "%s?state=big&code=", uri);
    memset(url + k, 'a', n);
    url[k + (int)n] = '\0';
    got g;
    browse("GET", url, &g);
    free(url);
    assert_int_equal(g.status, 400);
    assert_non_null(strstr(g.body, "too large"));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    mcp_error_clear(&err);
    assert_int_equal(mcp__loopback_wait(l, 30000, &cb, &err), MCP_ERR_TOO_LARGE);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(t1.tv_sec - t0.tv_sec < 5);    /* ended by the callback, not the 30 s bound */
    assert_null(cb);
    assert_string_equal(err.message, "the login redirect was larger than 16384 bytes; refused");
    /* a later callback, even a proper one, does not revive the failed login */
    char small[512];
    snprintf(small, sizeof small, "%s?state=big&code=c", uri);
    browse("GET", small, &g);
    mcp_error_clear(&err);
    assert_int_equal(mcp__loopback_wait(l, 300, &cb, &err), MCP_ERR_TIMEOUT);
    assert_null(cb);
    mcp__loopback_close(l);
    mcp__free(uri);
}

typedef struct later {
    char url[512];
} later;

static void *
browse_later(void *ud)
{
    later *a = ud;
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
    got g;
    browse("GET", a->url, &g);
    return NULL;
}

static void
wait_wakes_on_arrival(void **state)
{
    (void)state;
    mcp__loopback *l = NULL;
    char *uri = NULL, *cb = NULL;
    mcp_error err;
    assert_int_equal(mcp__loopback_open("w", &l, &uri, &err), MCP_OK);
    later a;
    snprintf(a.url, sizeof a.url, "%s?code=late&state=w", uri);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, browse_later, &a), 0);
    /* Blocks until the redirect arrives (well inside the 10 s bound). */
    assert_int_equal(mcp__loopback_wait(l, 10000, &cb, &err), MCP_OK);
    pthread_join(t, NULL);
    char want[512];
    snprintf(want, sizeof want, "%s?code=late&state=w", uri);
    assert_string_equal(cb, want);
    mcp__free(cb);
    mcp__loopback_close(l);
    mcp__free(uri);
}

int
main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(open_gives_loopback_redirect_uri),
        cmocka_unit_test(callback_query_handed_over),
        cmocka_unit_test(error_callback_and_first_wins),
        cmocka_unit_test(other_paths_and_methods_ignored),
        cmocka_unit_test(wait_wakes_on_arrival),
        cmocka_unit_test(oversize_callback_fails_the_wait),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
