/* Authorization of 2026-07-28 requests from their headers, before the body (docs/design/
 * protocol-2026.md 4.5): a forbidden call is refused 403 insufficient_scope without reading the
 * body (a 4 MiB upload is never sent after Expect: 100-continue; with no body at all the answer
 * still comes), the body must then say what the headers said (no target smuggled past the
 * decision), and every request gets exactly one authorization decision. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>

#include "harness.h"

static mcp_server *srv;
static char url[128];
static atomic_int admin_calls, authz_decisions;

#define META "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"," \
             "\"io.modelcontextprotocol/clientCapabilities\":{}}"

static mcp_status
who(mcp_request *req, void *ctx, mcp_error *err)
{
    (void)ctx;
    const char *h = mcp_request_header(req, "Authorization");
    if (h == NULL || strncmp(h, "Bearer ", 7) != 0)
        return mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "missing Authorization header");
    mcp_principal_fields f = { .kind = MCP_CRED_API_KEY, .subject = h + 7 };
    mcp_principal *p;
    if (mcp_principal_new(&f, &p, err) != MCP_OK)
        return err->code;
    if (strcmp(h + 7, "admin") == 0)
        mcp_principal_add_permission(p, "Admin", err);
    mcp_request_set_principal(req, p);
    mcp_principal_unref(p);
    return MCP_OK;
}

static void
count_decisions(void *ctx, const mcp_request *req, const mcp_decision *d)
{
    (void)ctx;
    (void)req;
    if (strcmp(d->phase, "authz") == 0)
        atomic_fetch_add(&authz_decisions, 1);
}

static mcp_status
admin_tool(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    atomic_fetch_add(&admin_calls, 1);
    return mcp_ctx_add_text(ctx, "admin done", err);
}

static mcp_status
public_tool(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    return mcp_ctx_add_text(ctx, "public done", err);
}

static mcp_status
ask_tool(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    json_t *ans = NULL;
    json_t *p = json_pack("{s:s, s:{s:s}}", "message", "ok?", "requestedSchema", "type",
                          "object");
    mcp_status rc = mcp_ctx_input(ctx, "confirm", "elicitation/create", p, &ans, err);
    json_decref(p);
    json_decref(ans);
    return rc != MCP_OK ? rc : mcp_ctx_add_text(ctx, "confirmed", err);
}

static int
start(void **state)
{
    (void)state;
    mcp_server_opts so;
    mcp_server_opts_default(&so);
    mcp_error err;
    static const char *const admin[] = { "Admin", NULL };
    const mcp_tool_def a = { .name = "admin_tool", .description = "admin only",
                             .access = { .any_of_perms = admin }, .handler = admin_tool };
    const mcp_tool_def p = { .name = "public_tool", .description = "anyone",
                             .access = { .any_authenticated = true }, .handler = public_tool };
    const mcp_tool_def q = { .name = "ask_tool", .description = "asks",
                             .access = { .any_authenticated = true }, .handler = ask_tool };
    if (mcp_server_new(&so, &srv, &err) != MCP_OK ||
        mcp_server_add_tool(srv, &a, NULL, &err) != MCP_OK ||
        mcp_server_add_tool(srv, &p, NULL, &err) != MCP_OK ||
        mcp_server_add_tool(srv, &q, NULL, &err) != MCP_OK ||
        mcp_server_use(srv, MCP_PHASE_AUTHN, who, NULL, &err) != MCP_OK)
        return -1;
    mcp_server_set_decision_hook(srv, count_decisions, NULL);
    return th_listen(srv, 8u << 20, 0, url, sizeof url);
}

static int
stop(void **state)
{
    (void)state;
    mcp_server_free(srv);
    return 0;
}

static char *
call_body(int id, const char *tool, size_t pad)
{
    /* a padded arguments string makes the body as large as the test wants */
    char *b = malloc(pad + 512);
    assert_non_null(b);
    int n = snprintf(b, 512, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\","
                     "\"params\":{\"name\":\"%s\"," META ",\"arguments\":{\"pad\":\"", id, tool);
    memset(b + n, 'x', pad);
    strcpy(b + n + pad, "\"}}}");
    return b;
}

static void
post(const char *token, const char *name, const char *body, bool expect100, http_resp *r)
{
    char auth[128], hn[128];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token ? token : "");
    snprintf(hn, sizeof hn, "Mcp-Name: %s", name);
    const char *h[] = { "Content-Type: application/json",
                        "Accept: application/json, text/event-stream",
                        "MCP-Protocol-Version: 2026-07-28", "Mcp-Method: tools/call", hn,
                        expect100 ? "Expect: 100-continue" : "X-No-Expect: 1",
                        token ? auth : NULL, NULL };
    assert_int_equal(th_request("POST", url, body, h, r), 0);
}

static void
no_token_is_401_without_an_id(void **state)
{
    (void)state;
    char *b = call_body(1, "public_tool", 10);
    http_resp r;
    post(NULL, "public_tool", b, false, &r);
    assert_int_equal(r.status, 401);
    char v[512];
    assert_int_equal(th_header(&r, "WWW-Authenticate", v, sizeof v), 0);
    assert_non_null(strstr(v, "Bearer"));
    json_t *j = json_loads(r.body, 0, NULL);
    assert_non_null(j);
    assert_null(json_object_get(j, "id"));            /* unread, so absent (never null) */
    json_decref(j);
    th_resp_free(&r);
    free(b);
}

static void
forbidden_big_body_is_refused_before_it_is_sent(void **state)
{
    (void)state;
    int before = atomic_load(&admin_calls);
    int d0 = atomic_load(&authz_decisions);
    char *b = call_body(2, "admin_tool", 4u << 20);   /* 4 MiB */
    http_resp r;
    post("uma", "admin_tool", b, true, &r);
    assert_int_equal(r.status, 403);
    char v[512];
    assert_int_equal(th_header(&r, "WWW-Authenticate", v, sizeof v), 0);
    assert_non_null(strstr(v, "error=\"insufficient_scope\""));
    assert_non_null(strstr(v, "scope=\"Admin\""));
    /* libcurl shows an interim "100 Continue" among the headers when the server asked for the
     * body: the refusal came first, so the 4 MiB were never sent */
    assert_null(strstr(r.headers, "100 Continue"));
    assert_non_null(strstr(r.body, "admin_tool"));
    assert_int_equal(atomic_load(&admin_calls), before);
    assert_int_equal(atomic_load(&authz_decisions), d0 + 1);
    th_resp_free(&r);
    free(b);
}

static void
forbidden_call_is_answered_without_any_body(void **state)
{
    (void)state;
    /* headers only, announcing 4 MiB that never come: the answer does not wait for them */
    char req[1024], reply[4096];
    snprintf(req, sizeof req,
             "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
             "Accept: application/json\r\nMCP-Protocol-Version: 2026-07-28\r\n"
             "Mcp-Method: tools/call\r\nMcp-Name: admin_tool\r\n"
             "Authorization: Bearer uma\r\nContent-Length: %u\r\n\r\n", 4u << 20);
    uint16_t port = mcp_server_http_port(srv);
    assert_int_equal(th_raw(port, req, reply, sizeof reply), 403);
    assert_non_null(strstr(reply, "insufficient_scope"));
}

static void
body_must_match_the_authorized_headers(void **state)
{
    (void)state;
    int before = atomic_load(&admin_calls);
    /* allowed for public_tool by the headers, but the body names admin_tool */
    char *b = call_body(3, "admin_tool", 10);
    http_resp r;
    post("uma", "public_tool", b, false, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "-32020"));
    assert_non_null(strstr(r.body, "\"id\":3"));
    assert_int_equal(atomic_load(&admin_calls), before);
    th_resp_free(&r);
    free(b);
}

static void
allowed_call_has_one_decision(void **state)
{
    (void)state;
    int d0 = atomic_load(&authz_decisions);
    char *b = call_body(4, "admin_tool", 10);
    http_resp r;
    post("admin", "admin_tool", b, false, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "admin done"));
    assert_int_equal(atomic_load(&authz_decisions), d0 + 1);
    th_resp_free(&r);
    free(b);
    /* without Mcp-Name the headers decide nothing and the body is refused (-32020) before any
     * authorization or handler */
    b = call_body(5, "admin_tool", 10);
    const char *h[] = { "Content-Type: application/json", "Accept: application/json",
                        "MCP-Protocol-Version: 2026-07-28", "Mcp-Method: tools/call",
                        "Authorization: Bearer uma", NULL };
    int calls = atomic_load(&admin_calls);
    assert_int_equal(th_request("POST", url, b, h, &r), 0);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "-32020"));
    assert_int_equal(atomic_load(&admin_calls), calls);
    th_resp_free(&r);
    free(b);
}

/* A requestState is bound to the principal it was issued to. */
static void
state_of_another_principal_is_refused(void **state)
{
    (void)state;
    static const char *const caps = "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":"
        "\"2026-07-28\",\"io.modelcontextprotocol/clientCapabilities\":{\"elicitation\":{}}}";
    char body[4096];
    snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":60,\"method\":\"tools/call\","
             "\"params\":{\"name\":\"ask_tool\",\"arguments\":{},%s}}", caps);
    http_resp r;
    post("uma", "ask_tool", body, false, &r);
    assert_int_equal(r.status, 200);
    json_t *j = json_loads(r.body, 0, NULL);
    const char *st = json_string_value(json_object_get(json_object_get(j, "result"),
                                                       "requestState"));
    assert_non_null(st);
    char retry[4096];
    snprintf(retry, sizeof retry, "{\"jsonrpc\":\"2.0\",\"id\":61,\"method\":\"tools/call\","
             "\"params\":{\"name\":\"ask_tool\",\"arguments\":{},\"inputResponses\":{"
             "\"confirm\":{\"action\":\"accept\"}},\"requestState\":\"%s\",%s}}", st, caps);
    json_decref(j);
    th_resp_free(&r);
    post("mallory", "ask_tool", retry, false, &r);     /* uma's state, another caller */
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "-32602"));
    assert_non_null(strstr(r.body, "issued for another request or principal"));
    assert_null(strstr(r.body, "confirmed"));
    th_resp_free(&r);
    post("uma", "ask_tool", retry, false, &r);         /* its own caller resumes */
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "confirmed"));
    th_resp_free(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_token_is_401_without_an_id),
        cmocka_unit_test(forbidden_big_body_is_refused_before_it_is_sent),
        cmocka_unit_test(forbidden_call_is_answered_without_any_body),
        cmocka_unit_test(body_must_match_the_authorized_headers),
        cmocka_unit_test(allowed_call_has_one_decision),
        cmocka_unit_test(state_of_another_principal_is_refused),
    };
    return cmocka_run_group_tests(tests, start, stop);
}
