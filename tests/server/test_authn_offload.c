/*
 * An AUTHN item that must block (token introspection) never runs on an HTTP IO thread: it
 * answers MCP_ERR_WOULD_BLOCK there and the server reruns the phase on a worker with the
 * connection parked. With one IO thread, slow authentications must not delay a fast caller.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>

#include "harness.h"

static mcp_server *srv;
static char url[128];

static mcp_status
slow_authn(mcp_request *req, void *ctx, mcp_error *err)
{
    (void)ctx;
    const char *h = mcp_request_header(req, "Authorization");
    if (h == NULL)
        return mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "missing Authorization header");
    bool slow = strcmp(h, "Bearer slow") == 0 || strcmp(h, "Bearer slow-bad") == 0;
    if (slow && !mcp_request_can_block(req))
        return MCP_ERR_WOULD_BLOCK;
    if (slow) {
        usleep(600000);                         /* an introspection endpoint taking its time */
        if (strcmp(h, "Bearer slow-bad") == 0)
            return mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "token inactive");
    }
    mcp_principal_fields f = { .kind = MCP_CRED_INTROSPECTION, .subject = h + 7 };
    mcp_principal *p;
    if (mcp_principal_new(&f, &p, err) != MCP_OK)
        return err->code;
    mcp_request_set_principal(req, p);
    mcp_principal_unref(p);
    return MCP_OK;
}

static mcp_status
whoami(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    return mcp_ctx_add_text(ctx, mcp_principal_subject(mcp_ctx_principal(ctx)), err);
}

static int
start(void **state)
{
    (void)state;
    mcp_server_opts so;
    mcp_server_opts_default(&so);
    so.stateless = true;
    so.workers = 4;
    mcp_error err;
    static const mcp_tool_def d = { .name = "whoami", .description = "the caller's subject",
                                    .access = { .any_authenticated = true },
                                    .flags = MCP_TOOL_INLINE, .handler = whoami };
    if (mcp_server_new(&so, &srv, &err) != MCP_OK || mcp_server_add_tool(srv, &d, NULL, &err) ||
        mcp_server_use(srv, MCP_PHASE_AUTHN, slow_authn, NULL, &err) != MCP_OK)
        return -1;
    return th_listen(srv, 0, 1, url, sizeof url);           /* one IO thread */
}

static int
stop(void **state)
{
    (void)state;
    mcp_server_free(srv);
    return 0;
}

#define CALL "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"whoami\"}}"

typedef struct call_arg {
    const char *token;
    long        status;
    char        body[512];
    uint64_t    done_ms;
} call_arg;

static void *
call(void *arg)
{
    call_arg *a = arg;
    char auth[64];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", a->token);
    const char *h[] = { "Content-Type: application/json", auth, NULL };
    http_resp r;
    th_request("POST", url, CALL, h, &r);
    a->status = r.status;
    snprintf(a->body, sizeof a->body, "%s", r.body ? r.body : "");
    th_resp_free(&r);
    a->done_ms = mcp_now_ms();
    return NULL;
}

static void
offload_slow_authentication_does_not_stall_io(void **state)
{
    (void)state;
    pthread_t t[4];
    call_arg a[4] = { { .token = "slow" }, { .token = "slow" }, { .token = "slow" },
                      { .token = "slow-bad" } };
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, call, &a[i]);
    usleep(100000);                               /* the slow ones are authenticating now */
    call_arg fast = { .token = "fast" };
    call(&fast);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(fast.status, 200);
    assert_non_null(strstr(fast.body, "\"text\":\"fast\""));
    /* Ordering, not timing: had a slow authentication held the only IO thread, the fast call
     * could only have finished after it. */
    for (int i = 0; i < 4; i++)
        assert_true(fast.done_ms < a[i].done_ms);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(a[i].status, 200);       /* the deferred ones complete normally */
        assert_non_null(strstr(a[i].body, "\"text\":\"slow\""));
    }
    assert_int_equal(a[3].status, 401);           /* and a deferred rejection is a 401 */
    assert_non_null(strstr(a[3].body, "token inactive"));
}

static void
offload_keeps_large_and_empty_bodies_intact(void **state)
{
    (void)state;
    /* a 200 KB body (whitespace inside the JSON) behind a deferred authentication */
    size_t pad = 200 * 1024;
    char *big = malloc(pad + 256);
    int n = snprintf(big, 64, "{\"jsonrpc\":\"2.0\",\"id\":7,");
    memset(big + n, ' ', pad);
    snprintf(big + n + pad, 200, "\"method\":\"tools/call\",\"params\":{\"name\":\"whoami\"}}");
    const char *h[] = { "Content-Type: application/json", "Authorization: Bearer slow", NULL };
    http_resp r;
    th_request("POST", url, big, h, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"text\":\"slow\""));
    th_resp_free(&r);
    free(big);
    th_request("POST", url, "", h, &r);                /* empty body: parse error, no hang */
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "-32700"));
    th_resp_free(&r);
    const char *bad[] = { "Content-Type: application/json", "Authorization: Bearer slow-bad",
                          NULL };
    th_request("POST", url, CALL, bad, &r);
    assert_int_equal(r.status, 401);
    th_resp_free(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(offload_slow_authentication_does_not_stall_io),
        cmocka_unit_test(offload_keeps_large_and_empty_bodies_intact),
    };
    return cmocka_run_group_tests(tests, start, stop);
}
