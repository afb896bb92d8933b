/*
 * The client at protocol revision 2026-07-28: the header and _meta helpers (modern.c), the
 * x-mcp-header tool rules, and whole sessions against an in-process libmicrohttpd server on
 * 127.0.0.1:0 that speaks 2026-07-28, 2025 only, or refuses the first request with -32022:
 * negotiation (server/discover, the initialize fallback, the pinned and legacy modes), the
 * per-request headers and _meta as the server saw them, tools with invalid annotations left
 * out, and input-required round trips (requestState echoed, omitted when absent, a bound on
 * rounds, an input the client cannot answer). Every wait is bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"
#include "test_mhd_util.h"

/* ------------------------------------------------------------------------------------------ */
/* helpers                                                                                     */

static void
value_encoding(void **state)
{
    (void)state;
    const struct { const char *in, *out; } cases[] = {
        { "us-west1", "us-west1" },
        { "us west 1", "us west 1" },             /* inner blanks are fine */
        { "", "" },
        { " padded ", "=?base64?IHBhZGRlZCA=?=" },
        { "\tx", "=?base64?CXg=?=" },
        { "Hello, \xe4\xb8\x96", "=?base64?SGVsbG8sIOS4lg==?=" },
        { "a\r\nb", "=?base64?YQ0KYg==?=" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *v = mcp__header_value_encode(cases[i].in);
        assert_non_null(v);
        assert_string_equal(v, cases[i].out);
        mcp__free(v);
    }
    assert_false(mcp__header_value_needs_b64("plain"));
    assert_true(mcp__header_value_needs_b64("trailing "));
}

static json_t *
tool_with(const char *props_json)
{
    json_error_t je;
    json_t *props = json_loads(props_json, 0, &je);
    assert_non_null(props);
    return json_pack("{s:s, s:{s:s, s:o}}", "name", "t", "inputSchema", "type", "object",
                     "properties", props);
}

static void
tool_header_rules(void **state)
{
    (void)state;
    const char *good[] = {
        "{\"r\":{\"type\":\"string\",\"x-mcp-header\":\"Region\"},"
        " \"p\":{\"type\":\"integer\",\"x-mcp-header\":\"Priority\"},"
        " \"v\":{\"type\":[\"boolean\",\"null\"],\"x-mcp-header\":\"Verbose\"},"
        " \"q\":{\"type\":\"string\"}}",
        "{}",
    };
    const char *bad[] = {
        "{\"v\":{\"type\":\"string\",\"x-mcp-header\":\"\"}}",
        "{\"v\":{\"type\":\"object\",\"x-mcp-header\":\"Data\"}}",
        "{\"v\":{\"type\":\"array\",\"x-mcp-header\":\"Items\"}}",
        "{\"v\":{\"type\":\"null\",\"x-mcp-header\":\"Nil\"}}",
        "{\"v\":{\"type\":\"number\",\"x-mcp-header\":\"Score\"}}",
        "{\"v\":{\"x-mcp-header\":\"NoType\"}}",
        "{\"a\":{\"type\":\"string\",\"x-mcp-header\":\"Region\"},"
        " \"b\":{\"type\":\"string\",\"x-mcp-header\":\"Region\"}}",
        "{\"a\":{\"type\":\"string\",\"x-mcp-header\":\"MyField\"},"
        " \"b\":{\"type\":\"string\",\"x-mcp-header\":\"myfield\"}}",
        "{\"v\":{\"type\":\"string\",\"x-mcp-header\":\"My Region\"}}",
        "{\"v\":{\"type\":\"string\",\"x-mcp-header\":\"Region:Primary\"}}",
        "{\"v\":{\"type\":\"string\",\"x-mcp-header\":\"R\xc3\xa9gion\"}}",
        "{\"v\":{\"type\":\"string\",\"x-mcp-header\":\"Region\\t1\"}}",
        "{\"v\":{\"type\":\"string\",\"x-mcp-header\":7}}",
    };
    char why[160];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        json_t *t = tool_with(good[i]);
        assert_true(mcp__tool_headers_valid(t, why, sizeof why));
        json_decref(t);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *t = tool_with(bad[i]);
        why[0] = '\0';
        assert_false(mcp__tool_headers_valid(t, why, sizeof why));
        assert_true(why[0] != '\0');
        json_decref(t);
    }
}

static bool
has_line(char **h, const char *line)
{
    for (size_t i = 0; h != NULL && h[i] != NULL; i++)
        if (strcmp(h[i], line) == 0)
            return true;
    return false;
}

static bool
has_prefix(char **h, const char *prefix)
{
    for (size_t i = 0; h != NULL && h[i] != NULL; i++)
        if (strncmp(h[i], prefix, strlen(prefix)) == 0)
            return true;
    return false;
}

static void
message_headers(void **state)
{
    (void)state;
    mcp_client *c = NULL;
    mcp_error err;
    assert_int_equal(mcp_client_new(NULL, &c, &err), MCP_OK);
    json_t *tools = json_pack("[{s:s, s:{s:{s:{s:s, s:s}, s:{s:s, s:s}, s:{s:s, s:s},"
                              " s:{s:s, s:s}, s:{s:s}}}}, {s:s, s:{s:{s:{s:s, s:s}}}}]",
                              "name", "tc", "inputSchema", "properties",
                              "region", "type", "string", "x-mcp-header", "Region",
                              "prio", "type", "integer", "x-mcp-header", "Priority",
                              "verbose", "type", "boolean", "x-mcp-header", "Verbose",
                              "empty", "type", "string", "x-mcp-header", "EmptyVal",
                              "query", "type", "string",
                              "name", "broken", "inputSchema", "properties",
                              "x", "type", "object", "x-mcp-header", "X");
    assert_int_equal(mcp__modern_filter_tools(c, tools), MCP_OK);
    assert_int_equal(json_array_size(tools), 1);       /* "broken" left out */
    json_t *params = json_pack("{s:s, s:{s:s, s:i, s:b, s:s, s:s}}", "name", "tc",
                               "arguments", "region", " eu ", "prio", 42, "verbose", 0,
                               "empty", "", "query", "SELECT 1");
    char **h = NULL;
    assert_int_equal(mcp__modern_headers(c, "tools/call", params, &h), MCP_OK);
    assert_true(has_line(h, "Mcp-Method: tools/call"));
    assert_true(has_line(h, "Mcp-Name: tc"));
    assert_true(has_line(h, "Mcp-Param-Region: =?base64?IGV1IA==?="));
    assert_true(has_line(h, "Mcp-Param-Priority: 42"));
    assert_true(has_line(h, "Mcp-Param-Verbose: false"));
    assert_true(has_line(h, "Mcp-Param-EmptyVal;"));    /* libcurl's form of an empty value */
    assert_false(has_prefix(h, "Mcp-Param-Query"));
    mcp__header_list_free(h);
    /* null and absent arguments are omitted */
    json_object_set_new(json_object_get(params, "arguments"), "verbose", json_null());
    json_object_del(json_object_get(params, "arguments"), "prio");
    assert_int_equal(mcp__modern_headers(c, "tools/call", params, &h), MCP_OK);
    assert_false(has_prefix(h, "Mcp-Param-Verbose"));
    assert_false(has_prefix(h, "Mcp-Param-Priority"));
    mcp__header_list_free(h);
    json_decref(params);

    params = json_pack("{s:s}", "uri", "file:///r\xc3\xa9sum\xc3\xa9.txt");
    assert_int_equal(mcp__modern_headers(c, "resources/read", params, &h), MCP_OK);
    assert_true(has_line(h, "Mcp-Method: resources/read"));
    assert_true(has_prefix(h, "Mcp-Name: =?base64?"));
    mcp__header_list_free(h);
    json_decref(params);
    assert_int_equal(mcp__modern_headers(c, "tools/list", NULL, &h), MCP_OK);
    assert_true(has_line(h, "Mcp-Method: tools/list"));
    assert_false(has_prefix(h, "Mcp-Name"));
    mcp__header_list_free(h);
    json_decref(tools);
    mcp_client_free(c);
}

static mcp_status
deny(mcp_client *c, const char *method, const json_t *params, void *ud, json_t **result,
     mcp_error *err)
{
    (void)c;
    (void)method;
    (void)params;
    (void)ud;
    (void)result;
    return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no");
}

static void
meta_keeps_progress_token(void **state)
{
    (void)state;
    mcp_client_opts o;
    mcp_client_opts_default(&o);
    o.name = "n";
    o.version = "1";
    o.cb.elicitation = deny;
    mcp_client *c = NULL;
    mcp_error err;
    assert_int_equal(mcp_client_new(&o, &c, &err), MCP_OK);
    json_t *p = json_pack("{s:{s:i}}", "_meta", "progressToken", 7);
    assert_int_equal(mcp__modern_add_meta(c, p), MCP_OK);
    const json_t *m = json_object_get(p, "_meta");
    assert_int_equal(json_integer_value(json_object_get(m, "progressToken")), 7);
    assert_string_equal(json_string_value(json_object_get(
                            m, "io.modelcontextprotocol/protocolVersion")), "2026-07-28");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(m, "io.modelcontextprotocol/clientInfo"), "name")),
                        "n");
    const json_t *caps = json_object_get(m, "io.modelcontextprotocol/clientCapabilities");
    assert_true(json_is_object(json_object_get(caps, "elicitation")));
    assert_null(json_object_get(caps, "sampling"));
    json_decref(p);
    mcp_client_free(c);
}

static void
bad_protocol_options(void **state)
{
    (void)state;
    mcp_client_opts o;
    mcp_client_opts_default(&o);
    mcp_client *c = NULL;
    mcp_error err;
    o.protocol = (mcp_client_protocol)7;
    assert_int_equal(mcp_client_new(&o, &c, &err), MCP_ERR_INVALID_ARG);
    o.protocol = MCP_CLIENT_PROTOCOL_LEGACY;
    o.protocol_version = MCP_PROTOCOL_2026;
    assert_int_equal(mcp_client_new(&o, &c, &err), MCP_ERR_INVALID_ARG);
    assert_null(c);
}

/* ------------------------------------------------------------------------------------------ */
/* the scripted server                                                                        */

typedef enum { M_MODERN, M_LEGACY, M_RETRY, M_OLD_DISCOVER } mode;

static struct {
    pthread_mutex_t mu;
    mode   m;
    int    posts, discovers, initializes;
    bool   rejected_first;
    bool   saw_session_id, missing_meta, missing_version_header;
    char   last_method_hdr[64], last_name_hdr[128], last_region_hdr[128];
    json_t *last_body;         /* the last tools/call body */
    int64_t first_ask_id;
    bool   retry_state_ok, retry_new_id, nostate_retry_clean;
} S;

static char url_[128];
static struct MHD_Daemon *daemon_;

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned status, json_t *msg_owned)
{
    char *text = json_dumps(msg_owned, JSON_COMPACT);
    json_decref(msg_owned);
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text,
                                                             MHD_RESPMEM_MUST_COPY);
    free(text);
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (S.m != M_LEGACY)
        MHD_add_response_header(r, "Mcp-Session-Id", "must-not-be-echoed");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static json_t *
result(const json_t *id, json_t *res)
{
    return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", res);
}

static json_t *
discover_result(const char *version)
{
    return json_pack("{s:s, s:[s], s:{s:{}}, s:{s:{s:s, s:s}}, s:i, s:s}", "resultType",
                     "complete", "supportedVersions", version, "capabilities", "tools",
                     "_meta", "io.modelcontextprotocol/serverInfo", "name", "modern-srv",
                     "version", "9", "ttlMs", 0, "cacheScope", "private");
}

static json_t *
elicit_request(void)
{
    return json_pack("{s:{s:s, s:{s:s, s:{s:s, s:{}}}}}", "q", "method", "elicitation/create",
                     "params", "message", "?", "requestedSchema", "type", "object",
                     "properties");
}

static json_t *
tools_call(const json_t *id, const json_t *params)
{
    const char *name = json_string_value(json_object_get(params, "name"));
    const json_t *answers = json_object_get(params, "inputResponses");
    const json_t *st = json_object_get(params, "requestState");
    json_t *done = json_pack("{s:s, s:[{s:s, s:s}]}", "resultType", "complete", "content",
                             "type", "text", "text", "done");
    if (strcmp(name, "ask") == 0) {
        if (answers == NULL) {
            S.first_ask_id = json_integer_value(id);
            json_decref(done);
            return result(id, json_pack("{s:s, s:o, s:s}", "resultType", "input_required",
                                        "inputRequests", elicit_request(), "requestState",
                                        "opaque-1"));
        }
        S.retry_state_ok = json_is_string(st) && strcmp(json_string_value(st), "opaque-1") == 0 &&
                           strcmp(json_string_value(json_object_get(
                                      json_object_get(answers, "q"), "action")), "accept") == 0;
        S.retry_new_id = json_integer_value(id) != S.first_ask_id;
        return result(id, done);
    }
    if (strcmp(name, "ask_nostate") == 0) {
        if (answers == NULL) {
            json_decref(done);
            return result(id, json_pack("{s:s, s:o}", "resultType", "input_required",
                                        "inputRequests", elicit_request()));
        }
        S.nostate_retry_clean = st == NULL;
        return result(id, done);
    }
    if (strcmp(name, "forever") == 0) {
        json_decref(done);
        return result(id, json_pack("{s:s, s:o, s:s}", "resultType", "input_required",
                                    "inputRequests", elicit_request(), "requestState", "again"));
    }
    if (strcmp(name, "sample") == 0) {
        json_decref(done);
        return result(id, json_pack("{s:s, s:{s:{s:s, s:{}}}}", "resultType", "input_required",
                                    "inputRequests", "s", "method", "sampling/createMessage",
                                    "params"));
    }
    return result(id, done);
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
        const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)url;
    (void)version;
    if (req_collect(con_cls, upload, upload_size))
        return MHD_YES;
    req_ctx *rc = *con_cls;
    if (strcmp(method, "POST") != 0)
        return reply(conn, 405, json_object());
    json_error_t je;
    json_t *msg = json_loadb(rc->body ? rc->body : "", rc->len, 0, &je);
    const char *m = json_string_value(json_object_get(msg, "method"));
    const json_t *id = json_object_get(msg, "id");
    const json_t *params = json_object_get(msg, "params");
    const char *mh = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Mcp-Method");
    const char *nh = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Mcp-Name");
    const char *vh = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "MCP-Protocol-Version");
    const char *rh = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Mcp-Param-Region");
    pthread_mutex_lock(&S.mu);
    S.posts++;
    if (MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Mcp-Session-Id") != NULL)
        S.saw_session_id = true;
    json_t *out = NULL;
    unsigned status = 200;
    bool modern_req = vh != NULL && strcmp(vh, "2026-07-28") == 0;
    if (m == NULL) {
        status = 400;
        out = json_object();
    } else if (S.m == M_RETRY && !S.rejected_first) {
        S.rejected_first = true;
        status = 400;
        out = json_pack("{s:s, s:O, s:{s:i, s:s, s:{s:[s], s:s}}}", "jsonrpc", "2.0", "id", id,
                        "error", "code", -32022, "message", "Unsupported protocol version",
                        "data", "supported", "2026-07-28", "requested", vh ? vh : "");
    } else if (strcmp(m, "server/discover") == 0) {
        S.discovers++;
        if (S.m == M_LEGACY) {
            status = 400;
            out = json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id, "error",
                            "code", -32600, "message", "Bad Request: no session");
        } else {
            out = result(id, discover_result(S.m == M_OLD_DISCOVER ? "2025-11-25"
                                                                  : "2026-07-28"));
        }
    } else if (strcmp(m, "initialize") == 0) {
        S.initializes++;
        out = result(id, json_pack("{s:s, s:{s:{}}, s:{s:s, s:s}}", "protocolVersion",
                                   "2025-11-25", "capabilities", "tools", "serverInfo", "name",
                                   "legacy-srv", "version", "1"));
    } else if (id == NULL) {
        status = 202;
        out = json_object();
    } else {
        const json_t *meta = json_object_get(params, "_meta");
        if (S.m != M_LEGACY && (!modern_req ||
                                json_object_get(meta, "io.modelcontextprotocol/protocolVersion") ==
                                    NULL))
            S.missing_meta = true;
        snprintf(S.last_method_hdr, sizeof S.last_method_hdr, "%s", mh ? mh : "");
        snprintf(S.last_name_hdr, sizeof S.last_name_hdr, "%s", nh ? nh : "");
        snprintf(S.last_region_hdr, sizeof S.last_region_hdr, "%s", rh ? rh : "");
        if (strcmp(m, "tools/list") == 0) {
            out = result(id, json_pack(
                "{s:s, s:i, s:s, s:[{s:s, s:{s:s, s:{s:{s:s, s:s}}}},"
                " {s:s, s:{s:s, s:{s:{s:s, s:s}}}}]}",
                "resultType", "complete", "ttlMs", 0, "cacheScope", "private", "tools",
                "name", "ask", "inputSchema", "type", "object", "properties", "region", "type",
                "string", "x-mcp-header", "Region",
                "name", "bad", "inputSchema", "type", "object", "properties", "n", "type",
                "number", "x-mcp-header", "N"));
        } else if (strcmp(m, "tools/call") == 0) {
            json_decref(S.last_body);
            S.last_body = json_incref(msg);
            out = tools_call(id, params);
        } else {
            out = result(id, json_object());
        }
    }
    if (S.m != M_LEGACY && strcmp(m ? m : "", "initialize") != 0 && vh == NULL)
        S.missing_version_header = true;
    pthread_mutex_unlock(&S.mu);
    json_decref(msg);
    return reply(conn, status, out);
}

static void
server_start(mode m)
{
    json_decref(S.last_body);
    memset(&S, 0, sizeof S);
    pthread_mutex_init(&S.mu, NULL);
    S.m = m;
    daemon_ = mhd_start_loopback(handler);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(url_, sizeof url_, "http://127.0.0.1:%u/mcp", (unsigned)di->port);
}

static void
server_stop(void)
{
    MHD_stop_daemon(daemon_);
    daemon_ = NULL;
    json_decref(S.last_body);
    S.last_body = NULL;
}

static mcp_status
accept_elicit(mcp_client *c, const char *method, const json_t *params, void *ud,
              json_t **res, mcp_error *err)
{
    (void)c;
    (void)method;
    (void)params;
    (void)ud;
    *res = json_pack("{s:s, s:{}}", "action", "accept", "content");
    return *res ? MCP_OK : mcp_error_set(err, MCP_ERR_NOMEM, "oom");
}

static mcp_client *
new_client(mcp_client_protocol p)
{
    mcp_client_opts o;
    mcp_client_opts_default(&o);
    o.protocol = p;
    o.request_timeout_ms = 5000;
    o.cb.elicitation = accept_elicit;
    mcp_client *c = NULL;
    mcp_error err;
    assert_int_equal(mcp_client_new(&o, &c, &err), MCP_OK);
    return c;
}

/* ------------------------------------------------------------------------------------------ */
/* sessions                                                                                    */

static void
auto_speaks_2026_to_a_modern_server(void **state)
{
    (void)state;
    server_start(M_MODERN);
    mcp_client *c = new_client(MCP_CLIENT_PROTOCOL_AUTO);
    mcp_error err;
    assert_int_equal(mcp_client_connect_http(c, url_, &err), MCP_OK);
    assert_string_equal(mcp_client_protocol_version(c), "2026-07-28");
    assert_string_equal(json_string_value(json_object_get(mcp_client_server_info(c), "name")),
                        "modern-srv");
    assert_non_null(json_object_get(mcp_client_server_capabilities(c), "tools"));
    assert_null(mcp_client_session_id(c));
    json_t *tools = NULL;
    assert_int_equal(mcp_client_list_tools(c, &tools, &err), MCP_OK);
    assert_int_equal(json_array_size(tools), 1);              /* "bad" left out */
    assert_string_equal(S.last_method_hdr, "tools/list");
    json_decref(tools);

    json_t *res = NULL;
    json_t *args = json_pack("{s:s}", "region", "eu-1");
    assert_int_equal(mcp_client_call_tool(c, "ask", args, &res, &err), MCP_OK);
    json_decref(args);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(res, "content"), 0), "text")),
                        "done");
    json_decref(res);
    assert_true(S.retry_state_ok);
    assert_true(S.retry_new_id);
    assert_string_equal(S.last_method_hdr, "tools/call");
    assert_string_equal(S.last_name_hdr, "ask");
    assert_string_equal(S.last_region_hdr, "eu-1");
    /* the retry repeats the arguments */
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(S.last_body, "params"), "arguments"),
                            "region")), "eu-1");

    int d = S.discovers;
    assert_int_equal(mcp_client_ping(c, &err), MCP_OK);     /* no ping at 2026-07-28 */
    assert_int_equal(S.discovers, d + 1);
    assert_int_equal(mcp_client_call_tool(c, "ask_nostate", NULL, &res, &err), MCP_OK);
    json_decref(res);
    assert_true(S.nostate_retry_clean);
    assert_int_equal(S.initializes, 0);
    assert_false(S.saw_session_id);
    assert_false(S.missing_meta);
    assert_false(S.missing_version_header);
    mcp_client_free(c);
    server_stop();
}

static void
input_rounds_are_bounded_and_need_a_handler(void **state)
{
    (void)state;
    server_start(M_MODERN);
    mcp_client *c = new_client(MCP_CLIENT_PROTOCOL_MODERN);
    mcp_error err;
    assert_int_equal(mcp_client_connect_http(c, url_, &err), MCP_OK);
    json_t *res = NULL;
    int before = S.posts;
    assert_int_equal(mcp_client_call_tool(c, "forever", NULL, &res, &err), MCP_ERR_PROTOCOL);
    assert_null(res);
    assert_non_null(strstr(err.message, "still needs input"));
    assert_int_equal(S.posts - before, MCP__MAX_INPUT_ROUNDS + 1);
    /* no sampling callback: the input cannot be answered, and nothing is sent again */
    before = S.posts;
    assert_int_equal(mcp_client_call_tool(c, "sample", NULL, &res, &err), MCP_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.message, "sampling/createMessage"));
    assert_int_equal(S.posts - before, 1);
    mcp_client_free(c);
    server_stop();
}

static void
auto_falls_back_to_initialize(void **state)
{
    (void)state;
    const mode modes[] = { M_LEGACY, M_OLD_DISCOVER };
    for (size_t i = 0; i < 2; i++) {
        server_start(modes[i]);
        mcp_client *c = new_client(MCP_CLIENT_PROTOCOL_AUTO);
        mcp_error err;
        assert_int_equal(mcp_client_connect_http(c, url_, &err), MCP_OK);
        assert_string_equal(mcp_client_protocol_version(c), "2025-11-25");
        assert_int_equal(S.discovers, 1);
        assert_int_equal(S.initializes, 1);
        json_t *tools = NULL;
        assert_int_equal(mcp_client_list_tools(c, &tools, &err), MCP_OK);
        assert_int_equal(json_array_size(tools), 2);        /* legacy: nothing filtered */
        assert_string_equal(S.last_method_hdr, "");         /* no 2026 headers */
        json_decref(tools);
        mcp_client_free(c);
        server_stop();
    }
}

static void
pinned_2026_refuses_a_legacy_server(void **state)
{
    (void)state;
    const mode modes[] = { M_LEGACY, M_OLD_DISCOVER };
    for (size_t i = 0; i < 2; i++) {
        server_start(modes[i]);
        mcp_client *c = new_client(MCP_CLIENT_PROTOCOL_MODERN);
        mcp_error err;
        assert_int_not_equal(mcp_client_connect_http(c, url_, &err), MCP_OK);
        assert_int_equal(S.initializes, 0);
        mcp_client_free(c);
        server_stop();
    }
}

static void
legacy_mode_never_discovers(void **state)
{
    (void)state;
    server_start(M_LEGACY);
    mcp_client *c = new_client(MCP_CLIENT_PROTOCOL_LEGACY);
    mcp_error err;
    assert_int_equal(mcp_client_connect_http(c, url_, &err), MCP_OK);
    assert_int_equal(S.discovers, 0);
    assert_int_equal(S.initializes, 1);
    mcp_client_free(c);
    server_stop();
}

static void
unsupported_version_error_is_retried_once(void **state)
{
    (void)state;
    server_start(M_RETRY);
    mcp_client *c = new_client(MCP_CLIENT_PROTOCOL_MODERN);
    mcp_error err;
    assert_int_equal(mcp_client_connect_http(c, url_, &err), MCP_OK);
    assert_true(S.rejected_first);
    assert_int_equal(S.discovers, 1);
    assert_string_equal(mcp_client_protocol_version(c), "2026-07-28");
    mcp_client_free(c);
    server_stop();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(value_encoding),
        cmocka_unit_test(tool_header_rules),
        cmocka_unit_test(message_headers),
        cmocka_unit_test(meta_keeps_progress_token),
        cmocka_unit_test(bad_protocol_options),
        cmocka_unit_test(auto_speaks_2026_to_a_modern_server),
        cmocka_unit_test(input_rounds_are_bounded_and_need_a_handler),
        cmocka_unit_test(auto_falls_back_to_initialize),
        cmocka_unit_test(pinned_2026_refuses_a_legacy_server),
        cmocka_unit_test(legacy_mode_never_discovers),
        cmocka_unit_test(unsupported_version_error_is_retried_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
