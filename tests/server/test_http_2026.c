/* Protocol revision 2026-07-28 over HTTP, beside a 2025 session on the same endpoint: the
 * stateless request checks (_meta, version header, Mcp-Method/Mcp-Name), server/discover,
 * result decoration, error ids and statuses, and the input-required round trip with its
 * requestState (tampered, foreign, shared between two servers holding one key). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>

#include "core/core.h"
#include "harness.h"

static mcp_server *srv;
static char url[128];
static char keyfile[64];

#define META(caps) "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"," \
                   "\"io.modelcontextprotocol/clientCapabilities\":" caps "}"

static mcp_status
echo(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    return mcp_ctx_add_text(ctx, mcp_ctx_arg_str(ctx, "text"), err);
}

/* Asks for a name (elicitation) and keeps a counter in its own state. */
static mcp_status
ask_name(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    json_t *ans = NULL;
    if (mcp_ctx_state(ctx) == NULL &&
        mcp_ctx_set_state_take(ctx, json_pack("{s:i}", "round", 1), err) != MCP_OK)
        return MCP_ERR_NOMEM;
    json_t *p = json_pack("{s:s, s:{s:s}}", "message", "name?", "requestedSchema", "type",
                          "object");
    mcp_status rc = mcp_ctx_input(ctx, "user_name", "elicitation/create", p, &ans, err);
    json_decref(p);
    if (rc != MCP_OK)
        return rc;
    char buf[256];
    const char *n = json_string_value(json_object_get(json_object_get(ans, "content"), "name"));
    snprintf(buf, sizeof buf, "hello %s (state %d)", n ? n : "?",
             (int)json_integer_value(json_object_get(mcp_ctx_state(ctx), "round")));
    json_decref(ans);
    return mcp_ctx_add_text(ctx, buf, err);
}

static mcp_status
needs_sampling(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    json_t *ans = NULL;
    json_t *p = json_pack("{s:[], s:i}", "messages", "maxTokens", 10);
    mcp_status rc = mcp_ctx_input(ctx, "q", "sampling/createMessage", p, &ans, err);
    json_decref(p);
    json_decref(ans);
    return rc != MCP_OK ? rc : mcp_ctx_add_text(ctx, "sampled", err);
}

static mcp_status
logs(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    mcp_status rc = mcp_ctx_log(ctx, MCP_LOG_INFO, "t", "an info line", err);
    if (rc == MCP_OK)
        rc = mcp_ctx_log(ctx, MCP_LOG_ERROR, "t", "an error line", err);
    return rc != MCP_OK ? rc : mcp_ctx_add_text(ctx, "logged", err);
}

static mcp_status
text_res(mcp_ctx *ctx, const char *uri, void *u, mcp_error *err)
{
    (void)u;
    return mcp_ctx_add_resource_text(ctx, uri, "text/plain", "content", err);
}

static unsigned state_ttl_s;            /* 0: the default */

static mcp_server *
new_server(const char *keypath)
{
    mcp_server_opts so;
    mcp_server_opts_default(&so);
    so.request_state_ttl_s = state_ttl_s;
    so.name = "t26";
    so.version = "9.9";
    so.request_state_key_file = keypath;
    mcp_error err;
    mcp_server *s = NULL;
    const mcp_access open = { .any_authenticated = true };
    const mcp_tool_def tools[] = {
        { .name = "echo", .description = "echo", .access = open, .handler = echo },
        { .name = "ask_name", .description = "asks", .access = open, .handler = ask_name },
        { .name = "needs_sampling", .description = "samples", .access = open,
          .handler = needs_sampling },
        { .name = "logs", .description = "logs", .access = open, .handler = logs },
        { .name = "regional", .description = "x-mcp-header", .access = open, .handler = echo,
          .input_schema = "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":"
                          "\"string\",\"x-mcp-header\":\"Region\"},\"n\":{\"type\":"
                          "\"integer\",\"x-mcp-header\":\"N\"}}}" },
    };
    const mcp_resource_def res = { .uri = "test://a", .name = "a", .description = "a",
                                   .access = open, .handler = text_res };
    if (mcp_server_new(&so, &s, &err) != MCP_OK)
        return NULL;
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++)
        if (mcp_server_add_tool(s, &tools[i], NULL, &err) != MCP_OK)
            return NULL;
    if (mcp_server_add_resource(s, &res, NULL, &err) != MCP_OK)
        return NULL;
    return s;
}

static int
start(void **state)
{
    (void)state;
    snprintf(keyfile, sizeof keyfile, "/tmp/t26key.%d", (int)getpid());
    FILE *f = fopen(keyfile, "w");
    if (f == NULL)
        return -1;
    fputs("0123456789abcdef0123456789abcdef-shared-secret\n", f);
    fclose(f);
    srv = new_server(keyfile);
    if (srv == NULL)
        return -1;
    return th_listen(srv, 0, 0, url, sizeof url);
}

static int
stop(void **state)
{
    (void)state;
    mcp_server_free(srv);
    unlink(keyfile);
    return 0;
}

/* POST with the 2026 headers; mcp_name and pv may be NULL (pv NULL: 2026-07-28). */
static void
post26(const char *to, const char *method, const char *mcp_name, const char *pv,
       const char *body, http_resp *r)
{
    char hm[128], hn[256], hv[64];
    snprintf(hm, sizeof hm, "Mcp-Method: %s", method);
    snprintf(hn, sizeof hn, "Mcp-Name: %s", mcp_name ? mcp_name : "");
    snprintf(hv, sizeof hv, "MCP-Protocol-Version: %s", pv ? pv : "2026-07-28");
    const char *h[] = { "Content-Type: application/json",
                        "Accept: application/json, text/event-stream", hv, hm,
                        mcp_name ? hn : NULL, NULL };
    assert_int_equal(th_request("POST", to, body, h, r), 0);
}

static json_t *
body_json(const http_resp *r)
{
    json_t *j = json_loads(r->body, 0, NULL);
    assert_non_null(j);
    return j;
}

static void
assert_error(const http_resp *r, long status, int code, int id)
{
    assert_int_equal(r->status, status);
    json_t *j = body_json(r);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "error"), "code")),
                     code);
    assert_int_equal(json_integer_value(json_object_get(j, "id")), id);
    json_decref(j);
}

static void
discover_is_stateless_and_decorated(void **state)
{
    (void)state;
    http_resp r;
    post26(url, "server/discover", NULL, NULL,
           "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"server/discover\",\"params\":{"
           META("{}") "}}", &r);
    assert_int_equal(r.status, 200);
    char v[64];
    assert_int_equal(th_header(&r, "Mcp-Session-Id", v, sizeof v), -1);
    json_t *j = body_json(&r);
    json_t *res = json_object_get(j, "result");
    assert_string_equal(json_string_value(json_object_get(res, "resultType")), "complete");
    assert_string_equal(json_string_value(json_object_get(res, "cacheScope")), "public");
    assert_true(json_is_integer(json_object_get(res, "ttlMs")));
    json_t *info = json_object_get(json_object_get(res, "_meta"),
                                   "io.modelcontextprotocol/serverInfo");
    assert_string_equal(json_string_value(json_object_get(info, "name")), "t26");
    json_t *sv = json_object_get(res, "supportedVersions");
    assert_string_equal(json_string_value(json_array_get(sv, 0)), "2026-07-28");
    assert_string_equal(json_string_value(json_array_get(sv, 1)), "2025-11-25");
    /* list changes reach 2026 clients on subscriptions/listen streams */
    json_t *tools = json_object_get(json_object_get(res, "capabilities"), "tools");
    assert_true(json_is_true(json_object_get(tools, "listChanged")));
    json_decref(j);
    th_resp_free(&r);
}

static void
list_has_cache_hints_and_legacy_has_not(void **state)
{
    (void)state;
    http_resp r;
    post26(url, "tools/list", NULL, NULL,
           "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\",\"params\":{" META("{}") "}}",
           &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"cacheScope\":\"public\""));  /* no authentication here */
    assert_non_null(strstr(r.body, "\"resultType\":\"complete\""));
    th_resp_free(&r);
    /* a 2025 session on the same endpoint is served as before: initialize, session id, no
     * 2026 fields */
    const char *h25[] = { "Content-Type: application/json",
                          "Accept: application/json, text/event-stream", NULL };
    th_request("POST", url, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
               "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
               "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}", h25, &r);
    assert_int_equal(r.status, 200);
    char sid[80], hs[128];
    assert_int_equal(th_header(&r, "Mcp-Session-Id", sid, sizeof sid), 0);
    assert_null(strstr(r.body, "resultType"));
    th_resp_free(&r);
    snprintf(hs, sizeof hs, "Mcp-Session-Id: %s", sid);
    const char *h25s[] = { "Content-Type: application/json",
                           "Accept: application/json, text/event-stream",
                           "MCP-Protocol-Version: 2025-11-25", hs, NULL };
    th_request("POST", url, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\"}", h25s, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"tools\""));
    assert_null(strstr(r.body, "cacheScope"));
    assert_null(strstr(r.body, "resultType"));
    th_resp_free(&r);
}

static void
meta_and_version_checks(void **state)
{
    (void)state;
    http_resp r;
    post26(url, "server/discover", NULL, NULL,
           "{\"jsonrpc\":\"2.0\",\"id\":101,\"method\":\"server/discover\",\"params\":{}}", &r);
    assert_error(&r, 400, -32602, 101);
    th_resp_free(&r);
    post26(url, "server/discover", NULL, NULL,
           "{\"jsonrpc\":\"2.0\",\"id\":104,\"method\":\"server/discover\",\"params\":{\"_meta\":"
           "{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}", &r);
    assert_error(&r, 400, -32602, 104);
    th_resp_free(&r);
    /* a version we do not speak: -32022 with the list and the echo, the id kept */
    post26(url, "server/discover", NULL, "v9",
           "{\"jsonrpc\":\"2.0\",\"id\":301,\"method\":\"server/discover\",\"params\":{\"_meta\":"
           "{\"io.modelcontextprotocol/protocolVersion\":\"v9\","
           "\"io.modelcontextprotocol/clientCapabilities\":{}}}}", &r);
    assert_error(&r, 400, -32022, 301);
    json_t *j = body_json(&r);
    json_t *data = json_object_get(json_object_get(j, "error"), "data");
    assert_string_equal(json_string_value(json_object_get(data, "requested")), "v9");
    assert_string_equal(json_string_value(json_array_get(json_object_get(data, "supported"), 0)),
                        "2026-07-28");
    json_decref(j);
    th_resp_free(&r);
    /* header 2026, _meta another version: -32020 */
    post26(url, "server/discover", NULL, NULL,
           "{\"jsonrpc\":\"2.0\",\"id\":302,\"method\":\"server/discover\",\"params\":{\"_meta\":"
           "{\"io.modelcontextprotocol/protocolVersion\":\"v9\","
           "\"io.modelcontextprotocol/clientCapabilities\":{}}}}", &r);
    assert_error(&r, 400, -32020, 302);
    th_resp_free(&r);
    /* a 2026 body without the header: the header is required (-32020), not served as 2025 */
    const char *nohdr[] = { "Content-Type: application/json",
                            "Accept: application/json, text/event-stream", NULL };
    th_request("POST", url, "{\"jsonrpc\":\"2.0\",\"id\":303,\"method\":\"tools/list\",\"params\":{"
               META("{}") "}}", nohdr, &r);
    assert_error(&r, 400, -32020, 303);
    th_resp_free(&r);
}

static void
header_body_agreement(void **state)
{
    (void)state;
    http_resp r;
    const char *call = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{"
                       "\"name\":\"echo\",\"arguments\":{\"text\":\"hi\"}," META("{}") "}}";
    post26(url, "tools/call", "echo", NULL, call, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"text\":\"hi\""));
    th_resp_free(&r);
    post26(url, "tools/list", NULL, NULL, call, &r);           /* Mcp-Method differs */
    assert_error(&r, 400, -32020, 7);
    th_resp_free(&r);
    post26(url, "tools/call", "ask_name", NULL, call, &r);     /* Mcp-Name differs */
    assert_error(&r, 400, -32020, 7);
    th_resp_free(&r);
    post26(url, "tools/call", NULL, NULL, call, &r);           /* Mcp-Name missing */
    assert_error(&r, 400, -32020, 7);
    th_resp_free(&r);
    post26(url, "tools/call", "=?base64?ZWNobw==?=", NULL, call, &r);   /* "echo", encoded */
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
    post26(url, "tools/call", "  echo  ", NULL, call, &r);   /* OWS is not part of the value */
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
}

/* POST tools/call regional with extra Mcp-Param-* headers (NULL-terminated). */
static long
regional(const char *args, const char *h1, const char *h2)
{
    char body[512];
    snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"tools/call\","
             "\"params\":{\"name\":\"regional\",\"arguments\":%s," META("{}") "}}", args);
    const char *h[] = { "Content-Type: application/json", "Accept: application/json",
                        "MCP-Protocol-Version: 2026-07-28", "Mcp-Method: tools/call",
                        "Mcp-Name: regional", h1, h2, NULL };
    http_resp r;
    assert_int_equal(th_request("POST", url, body, h, &r), 0);
    long st = r.status;
    if (st == 400)
        assert_non_null(strstr(r.body, "-32020"));
    th_resp_free(&r);
    return st;
}

static void
param_headers_mirror_x_mcp_header_arguments(void **state)
{
    (void)state;
    assert_int_equal(regional("{\"text\":\"eu\"}", "Mcp-Param-Region: eu", NULL), 200);
    assert_int_equal(regional("{\"text\":\"Hello\"}", "Mcp-Param-Region: =?base64?SGVsbG8=?=",
                              NULL), 200);
    assert_int_equal(regional("{\"text\":\"eu\",\"n\":42}", "Mcp-Param-Region: eu",
                              "Mcp-Param-N: 42.0"), 200);              /* numeric equality */
    assert_int_equal(regional("{}", NULL, NULL), 200);                  /* absent: no header */
    assert_int_equal(regional("{\"text\":\"eu\"}", NULL, NULL), 400);  /* header missing */
    assert_int_equal(regional("{\"text\":\"eu\"}", "Mcp-Param-Region: us", NULL), 400);
    assert_int_equal(regional("{\"text\":\"Hello\"}", "Mcp-Param-Region: =?base64?SGVsbG8?=",
                              NULL), 400);                              /* bad padding */
    assert_int_equal(regional("{\"text\":\"eu\",\"n\":42}", "Mcp-Param-Region: eu",
                              "Mcp-Param-N: 43"), 400);
}

static void
removed_and_unknown_methods_are_404(void **state)
{
    (void)state;
    static const char *const removed[] = { "initialize", "ping", "logging/setLevel",
                                           "resources/subscribe", "no/such" };
    for (size_t i = 0; i < sizeof removed / sizeof removed[0]; i++) {
        char body[512];
        snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":500,\"method\":\"%s\","
                 "\"params\":{\"uri\":\"test://a\"," META("{}") "}}", removed[i]);
        http_resp r;
        post26(url, removed[i], strcmp(removed[i], "resources/subscribe") == 0 ? "test://a"
               : NULL, NULL, body, &r);
        assert_error(&r, 404, -32601, 500);
        th_resp_free(&r);
    }
}

static void
unreadable_id_is_absent_not_null(void **state)
{
    (void)state;
    http_resp r;
    post26(url, "tools/list", NULL, NULL, "{not json", &r);
    assert_int_equal(r.status, 400);
    json_t *j = body_json(&r);
    assert_null(json_object_get(j, "id"));
    assert_non_null(json_object_get(j, "error"));
    json_decref(j);
    th_resp_free(&r);
    /* 2025 keeps JSON-RPC's null id */
    post26(url, "tools/list", NULL, "2025-11-25", "{not json", &r);
    j = body_json(&r);
    assert_true(json_is_null(json_object_get(j, "id")));
    json_decref(j);
    th_resp_free(&r);
}

static void
resource_not_found_is_32602_with_uri(void **state)
{
    (void)state;
    http_resp r;
    post26(url, "resources/read", "test://nope", NULL,
           "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"resources/read\",\"params\":{"
           "\"uri\":\"test://nope\"," META("{}") "}}", &r);
    assert_error(&r, 400, -32602, 9);
    assert_non_null(strstr(r.body, "\"uri\":\"test://nope\""));
    th_resp_free(&r);
    post26(url, "resources/read", "test://a", NULL,
           "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"resources/read\",\"params\":{"
           "\"uri\":\"test://a\"," META("{}") "}}", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"ttlMs\":0"));
    th_resp_free(&r);
}

/* Round 1 of ask_name on server at to; returns the requestState (caller frees). */
static char *
round1(const char *to)
{
    http_resp r;
    post26(to, "tools/call", "ask_name", NULL,
           "{\"jsonrpc\":\"2.0\",\"id\":20,\"method\":\"tools/call\",\"params\":{"
           "\"name\":\"ask_name\",\"arguments\":{}," META("{\"elicitation\":{}}") "}}", &r);
    assert_int_equal(r.status, 200);
    json_t *j = body_json(&r);
    json_t *res = json_object_get(j, "result");
    assert_string_equal(json_string_value(json_object_get(res, "resultType")), "input_required");
    json_t *ask = json_object_get(json_object_get(res, "inputRequests"), "user_name");
    assert_string_equal(json_string_value(json_object_get(ask, "method")), "elicitation/create");
    assert_null(json_object_get(ask, "jsonrpc"));
    assert_null(json_object_get(res, "ttlMs"));            /* interim results are not cached */
    char *st = strdup(json_string_value(json_object_get(res, "requestState")));
    json_decref(j);
    th_resp_free(&r);
    return st;
}

static void
round2(const char *to, const char *tool, const char *args, const char *st, http_resp *r)
{
    char body[4096];
    snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":21,\"method\":\"tools/call\","
             "\"params\":{\"name\":\"%s\",\"arguments\":%s,\"inputResponses\":{\"user_name\":"
             "{\"action\":\"accept\",\"content\":{\"name\":\"Ada\"}}},\"requestState\":\"%s\","
             META("{\"elicitation\":{}}") "}}", tool, args, st);
    post26(to, "tools/call", tool, NULL, body, r);
}

static void
input_round_trip(void **state)
{
    (void)state;
    char *st = round1(url);
    http_resp r;
    round2(url, "ask_name", "{}", st, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "hello Ada (state 1)"));   /* answer + handler state back */
    assert_non_null(strstr(r.body, "\"resultType\":\"complete\""));
    th_resp_free(&r);
    /* tampered: refused, never a fresh start */
    char bad[2048];
    snprintf(bad, sizeof bad, "%s-TAMPERED", st);
    round2(url, "ask_name", "{}", bad, &r);
    assert_error(&r, 400, -32602, 21);
    th_resp_free(&r);
    /* the same state for other arguments (another request): refused */
    round2(url, "ask_name", "{\"x\":1}", st, &r);
    assert_error(&r, 400, -32602, 21);
    assert_non_null(strstr(r.body, "issued for another request or principal"));
    th_resp_free(&r);
    free(st);
}

static void
input_responses_are_checked(void **state)
{
    (void)state;
    http_resp r;
    post26(url, "tools/call", "ask_name", NULL,
           "{\"jsonrpc\":\"2.0\",\"id\":30,\"method\":\"tools/call\",\"params\":{"
           "\"name\":\"ask_name\",\"inputResponses\":null," META("{\"elicitation\":{}}") "}}", &r);
    assert_error(&r, 400, -32602, 30);
    th_resp_free(&r);
    post26(url, "tools/call", "ask_name", NULL,
           "{\"jsonrpc\":\"2.0\",\"id\":31,\"method\":\"tools/call\",\"params\":{"
           "\"name\":\"ask_name\",\"inputResponses\":{\"user_name\":12345},"
           META("{\"elicitation\":{}}") "}}", &r);
    assert_error(&r, 400, -32602, 31);
    th_resp_free(&r);
    /* an answer without state is used; unknown keys are ignored */
    post26(url, "tools/call", "ask_name", NULL,
           "{\"jsonrpc\":\"2.0\",\"id\":32,\"method\":\"tools/call\",\"params\":{"
           "\"name\":\"ask_name\",\"inputResponses\":{\"zz\":1,\"user_name\":{\"action\":"
           "\"accept\",\"content\":{\"name\":\"Bo\"}}}," META("{\"elicitation\":{}}") "}}", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "hello Bo"));
    th_resp_free(&r);
    /* the answer under another key: asked again, not an error */
    post26(url, "tools/call", "ask_name", NULL,
           "{\"jsonrpc\":\"2.0\",\"id\":33,\"method\":\"tools/call\",\"params\":{"
           "\"name\":\"ask_name\",\"inputResponses\":{\"other\":{\"action\":\"accept\"}},"
           META("{\"elicitation\":{}}") "}}", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"input_required\""));
    th_resp_free(&r);
}

static void
undeclared_capability_is_32021(void **state)
{
    (void)state;
    http_resp r;
    post26(url, "tools/call", "needs_sampling", NULL,
           "{\"jsonrpc\":\"2.0\",\"id\":401,\"method\":\"tools/call\",\"params\":{"
           "\"name\":\"needs_sampling\"," META("{\"elicitation\":{}}") "}}", &r);
    assert_error(&r, 400, -32021, 401);
    json_t *j = body_json(&r);
    json_t *rc = json_object_get(json_object_get(json_object_get(j, "error"), "data"),
                                 "requiredCapabilities");
    assert_true(json_is_object(json_object_get(rc, "sampling")));
    json_decref(j);
    th_resp_free(&r);
    post26(url, "tools/call", "needs_sampling", NULL,
           "{\"jsonrpc\":\"2.0\",\"id\":402,\"method\":\"tools/call\",\"params\":{"
           "\"name\":\"needs_sampling\"," META("{\"sampling\":{}}") "}}", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "sampling/createMessage"));
    th_resp_free(&r);
}

static void
no_log_without_log_level(void **state)
{
    (void)state;
    http_resp r;
    post26(url, "tools/call", "logs", NULL,
           "{\"jsonrpc\":\"2.0\",\"id\":40,\"method\":\"tools/call\",\"params\":{"
           "\"name\":\"logs\"," META("{}") "}}", &r);
    assert_int_equal(r.status, 200);
    assert_null(strstr(r.body, "notifications/message"));
    assert_non_null(strstr(r.body, "logged"));
    th_resp_free(&r);
    post26(url, "tools/call", "logs", NULL,
           "{\"jsonrpc\":\"2.0\",\"id\":41,\"method\":\"tools/call\",\"params\":{"
           "\"name\":\"logs\",\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":"
           "\"2026-07-28\",\"io.modelcontextprotocol/clientCapabilities\":{},"
           "\"io.modelcontextprotocol/logLevel\":\"error\"}}}", &r);
    assert_int_equal(r.status, 200);
    assert_null(strstr(r.body, "an info line"));             /* below the requested level */
    assert_non_null(strstr(r.body, "an error line"));
    th_resp_free(&r);
}

static void
two_servers_sharing_the_key_resume_each_other(void **state)
{
    (void)state;
    mcp_server *b = new_server(keyfile), *c = new_server(NULL);
    char url_b[128], url_c[128];
    assert_non_null(b);
    assert_non_null(c);
    assert_int_equal(th_listen(b, 0, 0, url_b, sizeof url_b), 0);
    assert_int_equal(th_listen(c, 0, 0, url_c, sizeof url_c), 0);
    char *st = round1(url);
    http_resp r;
    round2(url_b, "ask_name", "{}", st, &r);                 /* same key file: resumed */
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "hello Ada"));
    th_resp_free(&r);
    round2(url_c, "ask_name", "{}", st, &r);                 /* another key: refused */
    assert_error(&r, 400, -32602, 21);
    th_resp_free(&r);
    free(st);
    mcp_server_free(b);
    mcp_server_free(c);
}

typedef struct listen_job {
    char     url[128];
    http_resp r;
} listen_job;

static void *
listen_main(void *arg)
{
    listen_job *j = arg;
    post26(j->url, "subscriptions/listen", NULL, NULL,
           "{\"jsonrpc\":\"2.0\",\"id\":77,\"method\":\"subscriptions/listen\",\"params\":{"
           "\"notifications\":{\"toolsListChanged\":true,\"resourceSubscriptions\":"
           "[\"test://a\",\"test://unknown\"]}," META("{}") "}}", &j->r);
    return NULL;
}

/* Count of listeners registered on s (the test waits for the listen request to be served). */
static size_t
listeners(mcp_server *s)
{
    pthread_mutex_lock(&s->listen_mu);
    size_t n = s->nlisteners;
    pthread_mutex_unlock(&s->listen_mu);
    return n;
}

static void
listen_stream_acks_filters_tags_and_ends(void **state)
{
    (void)state;
    mcp_server *b = new_server(NULL);
    assert_non_null(b);
    listen_job j;
    assert_int_equal(th_listen(b, 0, 0, j.url, sizeof j.url), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, listen_main, &j), 0);
    for (int i = 0; i < 200 && listeners(b) == 0; i++)
        usleep(10000);
    assert_int_equal(listeners(b), 1);
    mcp_server_notify_list_changed(b, "prompts");          /* not asked for */
    mcp_server_notify_list_changed(b, "tools");
    mcp_server_notify_resource_updated(b, "test://unknown");  /* not granted */
    mcp_server_notify_resource_updated(b, "test://a");
    usleep(100000);
    /* what shutdown does first (mcp_server_run on SIGTERM, mcp_server_free): every listener
     * gets its result and its stream ends */
    mcp__listeners_close(b);
    pthread_join(t, NULL);
    assert_int_equal(listeners(b), 0);
    mcp_server_free(b);
    const char *body = j.r.body;
    assert_int_equal(j.r.status, 200);
    assert_non_null(body);
    const char *ack = strstr(body, "notifications/subscriptions/acknowledged");
    const char *tools = strstr(body, "notifications/tools/list_changed");
    const char *upd = strstr(body, "notifications/resources/updated");
    const char *fin = strstr(body, "\"id\":77,\"result\"");
    assert_non_null(ack);
    assert_non_null(tools);
    assert_non_null(upd);
    assert_non_null(fin);
    assert_true(ack < tools && tools < upd && upd < fin);   /* the ack is first, the result last */
    assert_null(strstr(body, "prompts/list_changed"));
    assert_null(strstr(body, "test://unknown\"}"));
    assert_non_null(strstr(ack, "\"resourceSubscriptions\":[\"test://a\"]"));
    assert_non_null(strstr(tools, "\"io.modelcontextprotocol/subscriptionId\":77"));
    assert_non_null(strstr(fin, "\"resultType\":\"complete\""));
    th_resp_free(&j.r);
}

static void
rotation_accepts_states_of_the_previous_key(void **state)
{
    (void)state;
    char newkey[64];
    snprintf(newkey, sizeof newkey, "/tmp/t26new.%d", (int)getpid());
    FILE *f = fopen(newkey, "w");
    assert_non_null(f);
    fputs("ffffffffffffffffffffffffffffffff-the-new-secret\n", f);
    fclose(f);
    mcp_server_opts so;
    mcp_server_opts_default(&so);
    so.request_state_key_file = newkey;
    so.request_state_prev_key_file = keyfile;          /* the main server's key */
    mcp_server *b = NULL;
    mcp_error err;
    const mcp_tool_def d = { .name = "ask_name", .description = "asks",
                             .access = { .any_authenticated = true }, .handler = ask_name };
    assert_int_equal(mcp_server_new(&so, &b, &err), MCP_OK);
    assert_int_equal(mcp_server_add_tool(b, &d, NULL, &err), MCP_OK);
    char url_b[128];
    assert_int_equal(th_listen(b, 0, 0, url_b, sizeof url_b), 0);
    char *st = round1(url);                            /* sealed with the old key */
    http_resp r;
    round2(url_b, "ask_name", "{}", st, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "hello Ada"));
    th_resp_free(&r);
    free(st);
    char *st_b = round1(url_b);                         /* sealed with the new key */
    round2(url, "ask_name", "{}", st_b, &r);           /* unknown to the old server */
    assert_error(&r, 400, -32602, 21);
    th_resp_free(&r);
    free(st_b);
    mcp_server_free(b);
    so.request_state_key_file = NULL;                  /* a previous key alone is refused */
    assert_int_equal(mcp_server_new(&so, &b, &err), MCP_ERR_INVALID_ARG);
    unlink(newkey);
}

static void
expired_state_is_refused(void **state)
{
    (void)state;
    state_ttl_s = 1;
    mcp_server *b = new_server(keyfile);
    state_ttl_s = 0;
    assert_non_null(b);
    char url_b[128];
    assert_int_equal(th_listen(b, 0, 0, url_b, sizeof url_b), 0);
    char *st = round1(url_b);
    usleep(2100000);                                   /* past exp = iat + 1 s */
    http_resp r;
    round2(url_b, "ask_name", "{}", st, &r);
    assert_error(&r, 400, -32602, 21);
    assert_non_null(strstr(r.body, "expired"));
    th_resp_free(&r);
    free(st);
    mcp_server_free(b);
}

static void
short_key_file_is_refused(void **state)
{
    (void)state;
    char p[64];
    snprintf(p, sizeof p, "/tmp/t26short.%d", (int)getpid());
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("too short\n", f);
    fclose(f);
    mcp_server_opts so;
    mcp_server_opts_default(&so);
    so.request_state_key_file = p;
    mcp_server *s = NULL;
    mcp_error err;
    assert_int_equal(mcp_server_new(&so, &s, &err), MCP_ERR_INVALID_ARG);
    assert_null(s);
    so.request_state_key_file = "/nonexistent/key";
    assert_int_equal(mcp_server_new(&so, &s, &err), MCP_ERR_IO);
    unlink(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(discover_is_stateless_and_decorated),
        cmocka_unit_test(list_has_cache_hints_and_legacy_has_not),
        cmocka_unit_test(meta_and_version_checks),
        cmocka_unit_test(header_body_agreement),
        cmocka_unit_test(param_headers_mirror_x_mcp_header_arguments),
        cmocka_unit_test(removed_and_unknown_methods_are_404),
        cmocka_unit_test(unreadable_id_is_absent_not_null),
        cmocka_unit_test(resource_not_found_is_32602_with_uri),
        cmocka_unit_test(input_round_trip),
        cmocka_unit_test(input_responses_are_checked),
        cmocka_unit_test(undeclared_capability_is_32021),
        cmocka_unit_test(no_log_without_log_level),
        cmocka_unit_test(two_servers_sharing_the_key_resume_each_other),
        cmocka_unit_test(short_key_file_is_refused),
        cmocka_unit_test(expired_state_is_refused),
        cmocka_unit_test(rotation_accepts_states_of_the_previous_key),
        cmocka_unit_test(listen_stream_acks_filters_tags_and_ends),
    };
    return cmocka_run_group_tests(tests, start, stop);
}
