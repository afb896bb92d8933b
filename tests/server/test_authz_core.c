/*
 * Authorization in the server core over real HTTP, with a test AUTHN item that maps
 * "Bearer <name>" to a principal: the entry that serves a URI is the one authorized (most
 * specific template), completion of a hidden resource template is refused, sessions are bound
 * to their principal and capped per principal, and 5xx answers carry no internal detail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness.h"

static mcp_server *srv;
static char url[128];

static mcp_status
who(mcp_request *req, void *ctx, mcp_error *err)
{
    (void)ctx;
    const char *h = mcp_request_header(req, "Authorization");
    if (h == NULL || strncmp(h, "Bearer ", 7) != 0)
        return mcp_error_set(err, MCP_ERR_UNAUTHENTICATED, "missing Authorization header");
    const char *name = h + 7;
    if (strcmp(name, "broken") == 0)
        return mcp_error_set(err, MCP_ERR_STORE, "store: /secret/path/users.db is corrupt");
    mcp_principal_fields f = { .kind = MCP_CRED_API_KEY, .subject = name };
    mcp_principal *p;
    if (mcp_principal_new(&f, &p, err) != MCP_OK)
        return err->code;
    if (strcmp(name, "admin") == 0)
        mcp_principal_add_permission(p, "Admin", err);
    mcp_request_set_principal(req, p);
    mcp_principal_unref(p);
    return MCP_OK;
}

static volatile int erin_disabled;

/* An AUTHZ item standing in for the user store: erin can be disabled mid-session. */
static mcp_status
user_enabled(mcp_request *req, void *ctx, mcp_error *err)
{
    (void)ctx;
    const char *sub = mcp_principal_subject(mcp_request_principal(req));
    if (erin_disabled && sub != NULL && strcmp(sub, "erin") == 0)
        return mcp_error_set(err, MCP_ERR_FORBIDDEN, "user disabled");
    return MCP_OK;
}

static mcp_status
read_a(mcp_ctx *ctx, const char *uri, void *u, mcp_error *err)
{
    (void)u;
    return mcp_ctx_add_resource_text(ctx, uri, NULL, "handler A (admin only)", err);
}

static mcp_status
read_b(mcp_ctx *ctx, const char *uri, void *u, mcp_error *err)
{
    (void)u;
    return mcp_ctx_add_resource_text(ctx, uri, NULL, "handler B (public)", err);
}

static mcp_status
complete(mcp_ctx *ctx, const char *rt, const char *rn, const char *an, const char *av, void *u,
         mcp_error *err)
{
    (void)rt; (void)rn; (void)an; (void)av; (void)u;
    return mcp_ctx_add_completion(ctx, "internal-value-42", err);
}

static int
start(void **state)
{
    (void)state;
    mcp_server_opts so;
    mcp_server_opts_default(&so);
    so.max_sessions_per_owner = 3;
    so.session_evict_idle_s = 1;
    mcp_error err;
    static const char *const admin[] = { "Admin", NULL };
    /* A is registered first and is less specific than B; B must serve repo://public/s */
    mcp_resource_def a = { .uri_template = "repo://{name}/s", .name = "a",
                           .access = { .any_of_perms = admin }, .handler = read_a };
    mcp_resource_def b = { .uri_template = "repo://public/{file}", .name = "b",
                           .access = { .any_authenticated = true }, .handler = read_b };
    mcp_resource_def h = { .uri_template = "hidden://{x}", .name = "hidden",
                           .access = { .any_of_perms = admin }, .handler = read_a };
    if (mcp_server_new(&so, &srv, &err) != MCP_OK ||
        mcp_server_add_resource(srv, &a, NULL, &err) != MCP_OK ||
        mcp_server_add_resource(srv, &b, NULL, &err) != MCP_OK ||
        mcp_server_add_resource(srv, &h, NULL, &err) != MCP_OK ||
        mcp_server_use(srv, MCP_PHASE_AUTHN, who, NULL, &err) != MCP_OK ||
        mcp_server_use(srv, MCP_PHASE_AUTHZ, user_enabled, NULL, &err) != MCP_OK)
        return -1;
    mcp_server_set_completer(srv, complete, NULL);
    return th_listen(srv, 0, 0, url, sizeof url);
}

static int
stop(void **state)
{
    (void)state;
    mcp_server_free(srv);
    return 0;
}

/* initialize as `who`; returns the session id (static buffer) or NULL */
static const char *
init_as(const char *name, long *status)
{
    static char sid[64];
    char auth[64];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", name);
    const char *h[] = { "Content-Type: application/json", auth, NULL };
    http_resp r;
    th_request("POST", url, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
               "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
               "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}", h, &r);
    *status = r.status;
    int ok = th_header(&r, "Mcp-Session-Id", sid, sizeof sid);
    th_resp_free(&r);
    return ok == 0 ? sid : NULL;
}

static long
call_as(const char *name, const char *sid, const char *body, http_resp *r)
{
    char auth[64], sh[128];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", name);
    snprintf(sh, sizeof sh, "Mcp-Session-Id: %s", sid);
    const char *h[] = { "Content-Type: application/json", auth, sh, NULL };
    th_request("POST", url, body, h, r);
    return r->status;
}

static void
authz_uses_the_template_that_serves(void **state)
{
    (void)state;
    long st;
    char sid[64];
    snprintf(sid, sizeof sid, "%s", init_as("mallory", &st));
    http_resp r;
    /* repo://public/s matches both; B (more specific, public) serves and is authorized */
    assert_int_equal(call_as("mallory", sid, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":"
                             "\"resources/read\",\"params\":{\"uri\":\"repo://public/s\"}}", &r),
                     200);
    assert_non_null(strstr(r.body, "handler B"));
    th_resp_free(&r);
    /* repo://x/s matches only A (admin only): refused before the handler */
    assert_int_equal(call_as("mallory", sid, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":"
                             "\"resources/read\",\"params\":{\"uri\":\"repo://x/s\"}}", &r), 403);
    assert_null(strstr(r.body, "handler A"));
    th_resp_free(&r);
}

/* resources/subscribe and resources/unsubscribe are decided by the rule of the resource, as
 * resources/read is: a caller who may not read hidden://1 can neither subscribe to nor
 * unsubscribe from it (403 naming the resource), and may do both for a resource it may read. */
static void
authz_subscribe_and_unsubscribe_follow_the_resource_rule(void **state)
{
    (void)state;
    long st;
    char sid[64];
    snprintf(sid, sizeof sid, "%s", init_as("mallory", &st));
    assert_int_equal(st, 200);
    static const char *const methods[] = { "resources/subscribe", "resources/unsubscribe" };
    for (int i = 0; i < 2; i++) {
        char body[256];
        http_resp r;
        snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\","
                 "\"params\":{\"uri\":\"hidden://1\"}}", 10 + i, methods[i]);
        assert_int_equal(call_as("mallory", sid, body, &r), 403);
        assert_non_null(r.body);
        assert_non_null(strstr(r.body, "-32003"));
        assert_non_null(strstr(r.body, "resource 'hidden://1' requires"));
        th_resp_free(&r);
        snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\","
                 "\"params\":{\"uri\":\"repo://public/s\"}}", 20 + i, methods[i]);
        assert_int_equal(call_as("mallory", sid, body, &r), 200);
        assert_non_null(r.body);
        assert_non_null(strstr(r.body, "\"result\":{}"));
        th_resp_free(&r);
    }
}

static void
authz_completion_of_hidden_template_refused(void **state)
{
    (void)state;
    long st;
    char sid[64];
    snprintf(sid, sizeof sid, "%s", init_as("mallory", &st));
    const char *body = "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"completion/complete\","
                       "\"params\":{\"ref\":{\"type\":\"ref/resource\",\"uri\":\"hidden://{x}\"},"
                       "\"argument\":{\"name\":\"x\",\"value\":\"\"}}}";
    http_resp r;
    assert_int_equal(call_as("mallory", sid, body, &r), 200);
    assert_non_null(strstr(r.body, "-32602"));
    assert_null(strstr(r.body, "internal-value-42"));
    th_resp_free(&r);
    snprintf(sid, sizeof sid, "%s", init_as("admin", &st));
    assert_int_equal(call_as("admin", sid, body, &r), 200);
    assert_non_null(strstr(r.body, "internal-value-42"));
    th_resp_free(&r);
}

static void
authz_sessions_bound_and_capped_per_principal(void **state)
{
    (void)state;
    long st;
    char first[64], sid[64];
    snprintf(first, sizeof first, "%s", init_as("carol", &st));
    http_resp r;
    const char *ping = "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\"}";
    assert_int_equal(call_as("dave", first, ping, &r), 404);   /* someone else's session */
    th_resp_free(&r);
    for (int i = 0; i < 2; i++) {                              /* carol reaches her cap ... */
        const char *s = init_as("carol", &st);
        assert_int_equal(st, 200);
        snprintf(sid, sizeof sid, "%s", s);
    }
    /* ... none of her sessions has been idle for session_evict_idle_s: refused, none closed */
    assert_null(init_as("carol", &st));
    assert_int_equal(st, 429);
    usleep(1100 * 1000);
    const char *s = init_as("carol", &st);
    assert_int_equal(st, 200);
    snprintf(sid, sizeof sid, "%s", s);
    /* ... her least recently active idle session made room; other principals are unaffected */
    assert_int_equal(call_as("carol", first, ping, &r), 404);
    th_resp_free(&r);
    assert_int_equal(call_as("carol", sid, ping, &r), 200);
    th_resp_free(&r);
    assert_non_null(init_as("dave", &st));
    assert_int_equal(st, 200);
}

static void
authz_5xx_carries_no_internal_detail(void **state)
{
    (void)state;
    long st;
    assert_null(init_as("broken", &st));
    assert_int_equal(st, 503);
    http_resp r;
    const char *h[] = { "Content-Type: application/json", "Authorization: Bearer broken", NULL };
    th_request("POST", url, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", h, &r);
    assert_int_equal(r.status, 503);
    assert_null(strstr(r.body, "/secret/path"));
    assert_non_null(strstr(r.body, "credential or user store unavailable"));
    th_resp_free(&r);
}

static void
authz_items_apply_to_get_and_delete(void **state)
{
    (void)state;
    long st;
    char sid[64], auth[] = "Authorization: Bearer erin", sh[128];
    snprintf(sid, sizeof sid, "%s", init_as("erin", &st));
    snprintf(sh, sizeof sh, "Mcp-Session-Id: %s", sid);
    erin_disabled = 1;
    http_resp r;
    const char *get[] = { "Accept: text/event-stream", auth, sh, NULL };
    th_request("GET", url, NULL, get, &r);
    assert_int_equal(r.status, 403);                   /* no stream for a disabled user */
    assert_non_null(strstr(r.body, "user disabled"));
    th_resp_free(&r);
    const char *del[] = { auth, sh, NULL };
    th_request("DELETE", url, NULL, del, &r);
    assert_int_equal(r.status, 403);
    th_resp_free(&r);
    erin_disabled = 0;
    th_request("DELETE", url, NULL, del, &r);          /* enabled again: allowed */
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(authz_uses_the_template_that_serves),
        cmocka_unit_test(authz_subscribe_and_unsubscribe_follow_the_resource_rule),
        cmocka_unit_test(authz_completion_of_hidden_template_refused),
        cmocka_unit_test(authz_sessions_bound_and_capped_per_principal),
        cmocka_unit_test(authz_5xx_carries_no_internal_detail),
        cmocka_unit_test(authz_items_apply_to_get_and_delete),
    };
    return cmocka_run_group_tests(tests, start, stop);
}
