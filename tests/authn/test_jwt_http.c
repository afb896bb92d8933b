/*
 * mcp_jwt_authn in a real server: Streamable HTTP on 127.0.0.1 (port 0), requests with
 * libcurl. Checks 200/401/403, the WWW-Authenticate error codes (invalid_request for a
 * malformed header, invalid_token for a bad token, none for a missing or foreign credential),
 * and that the principal and its permissions reach the handler and the authorization phase.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "server/harness.h"
#include "test_authn_server.h"
#include "jwt/test_jwt_util.h"

#include <strings.h>

static const unsigned char secret[] = "jwt-http-test-secret-0123456789abcdef";

typedef struct fixture {
    mcp_jwt_verifier *v;
    mcp_server *srv;
    char url[128];
    uint16_t port;
} fixture;

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    mcp_error err;
    f->v = tu_verifier(100);
    assert_int_equal(mcp_jwt_verifier_add_hmac(f->v, "k", "HS256", secret, sizeof secret - 1,
                                               &err), MCP_OK);
    f->port = authn_server_start(mcp_jwt_authn, f->v, &f->srv, f->url);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;
    mcp_server_free(f->srv);
    mcp_jwt_verifier_free(f->v);
    free(f);
    return 0;
}

/* tools/call of tool with an optional Authorization header value (NULL: none). */
static void
call(const fixture *f, const char *tool, const char *auth, http_resp *r)
{
    char h[16384], body[256];
    const char *hdrs[5] = { "Content-Type: application/json",
                            "Accept: application/json, text/event-stream",
                            "MCP-Protocol-Version: " MCP_PROTOCOL_LATEST, NULL, NULL };
    if (auth != NULL) {
        snprintf(h, sizeof h, "Authorization: %s", auth);
        hdrs[3] = h;
    }
    snprintf(body, sizeof body,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
             "\"params\":{\"name\":\"%s\",\"arguments\":{}}}", tool);
    assert_int_equal(th_request("POST", f->url, body, hdrs, r), 0);
}

static char *
bearer(const char *sub, int64_t ttl, const char *extra)
{
    char *t = tu_mint("HS256", secret, sizeof secret - 1, "k", sub, mcp__unix_now(), ttl, extra);
    char *h = malloc(strlen(t) + 16);
    sprintf(h, "Bearer %s", t);
    mcp_free(t);
    return h;
}

static void
www_auth(const http_resp *r, char *out, size_t cap)
{
    if (th_header(r, "WWW-Authenticate", out, cap) != 0)
        out[0] = '\0';
}

static void
jwt_authn_accepts_valid_bearer(void **state)
{
    fixture *f = *state;
    http_resp r;
    char *b = bearer("alice", 300, NULL);
    call(f, "whoami", b, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "subject=alice kind=jwt key=k"));
    th_resp_free(&r);

    /* scheme is case-insensitive; extra spaces before the token are allowed */
    char *lower = malloc(strlen(b) + 4);
    sprintf(lower, "bEaReR   %s", b + 7);
    call(f, "whoami", lower, &r);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);

    /* permissions from the token reach the authorization phase */
    call(f, "admin_only", b, &r);
    assert_int_equal(r.status, 403);
    th_resp_free(&r);
    char *admin = bearer("root", 300, ",\"permissions\":[\"Admin.Write\"]");
    call(f, "admin_only", admin, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "subject=root"));
    th_resp_free(&r);
    free(b);
    free(lower);
    free(admin);
}

static void
jwt_authn_challenges(void **state)
{
    fixture *f = *state;
    http_resp r;
    char wa[512];

    /* No credentials / someone else's scheme: the middleware sets no error code (RFC 6750
     * section 3.1); what the transport then puts in the challenge is its business, but it must
     * not claim the request was malformed. */
    call(f, "whoami", NULL, &r);
    assert_int_equal(r.status, 401);
    www_auth(&r, wa, sizeof wa);
    assert_true(strncasecmp(wa, "Bearer", 6) == 0);
    assert_null(strstr(wa, "invalid_request"));
    assert_null(strstr(wa, "error="));          /* RFC 6750 section 3.1: no error code */
    assert_non_null(strstr(r.body, "missing Authorization header"));
    th_resp_free(&r);

    call(f, "whoami", "Basic YWxpY2U6c2VjcmV0", &r);
    assert_int_equal(r.status, 401);
    www_auth(&r, wa, sizeof wa);
    assert_null(strstr(wa, "invalid_request"));
    assert_null(strstr(wa, "error="));          /* no bearer credentials: no error code */
    assert_null(strstr(r.body, "YWxpY2U6c2VjcmV0"));
    th_resp_free(&r);

    const char *malformed[] = { "Bearer", "Bearer a.b.c d", "Bearer abc==", "Bearer a+b.c.d",
                                "Bearer \"a.b.c\"" };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        call(f, "whoami", malformed[i], &r);
        assert_int_equal(r.status, 401);
        www_auth(&r, wa, sizeof wa);
        if (strstr(wa, "error=\"invalid_request\"") == NULL)
            fail_msg("%s: WWW-Authenticate: %s", malformed[i], wa);
        th_resp_free(&r);
    }

    char *expired = bearer("alice", -3600, NULL);
    char *too_large = malloc(9100);
    strcpy(too_large, "Bearer ");
    memset(too_large + 7, 'a', 9000);
    too_large[9007] = '\0';
    const char *bad[] = { expired, "Bearer a.b.c", too_large };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        call(f, "whoami", bad[i], &r);
        assert_int_equal(r.status, 401);                  /* an oversize token is not a 413 */
        www_auth(&r, wa, sizeof wa);
        if (strstr(wa, "error=\"invalid_token\"") == NULL)
            fail_msg("bad token %zu: WWW-Authenticate: %s", i, wa);
        assert_null(strstr(r.body, "aaaaaaaa"));           /* the token is never echoed */
        th_resp_free(&r);
    }
    free(expired);
    free(too_large);

    /* a tab is not the separator RFC 6750 allows */
    char raw[1024], reply[4096];
    snprintf(raw, sizeof raw,
             "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nContent-Type: application/json\r\n"
             "Accept: application/json, text/event-stream\r\nAuthorization: Bearer\ta.b.c\r\n"
             "Content-Length: 2\r\nConnection: close\r\n\r\n{}", (unsigned)f->port);
    assert_int_equal(th_raw(f->port, raw, reply, sizeof reply), 401);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jwt_authn_accepts_valid_bearer),
        cmocka_unit_test(jwt_authn_challenges),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
