/*
 * libFuzzer target: arbitrary bytes as one JSON-RPC message through the parser and the
 * protocol dispatcher (initialize, lists, tools/call with argument validation, prompts,
 * completion, ...) as the stdio transport would deliver them. Must never crash or leak.
 */
#include <mcp/mcp.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

static mcp_server *srv;

static void sink_emit(mcp__sink *s, char *msg, size_t len, bool final)
{
    (void)s; (void)len; (void)final;
    mcp__free(msg);
}
static bool sink_stream(mcp__sink *s) { (void)s; return false; }
static void sink_noop(mcp__sink *s) { (void)s; }
static mcp__sink sink = { sink_emit, NULL, sink_stream, sink_noop, sink_noop, NULL };

static mcp_status
echo(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    const char *t = mcp_ctx_arg_str(ctx, "text");
    return mcp_ctx_add_text(ctx, t ? t : "", err);
}

static mcp_status
item(mcp_ctx *ctx, const char *uri, void *u, mcp_error *err)
{
    (void)u;
    const char *id = mcp_ctx_uri_var(ctx, "id");
    return mcp_ctx_add_resource_text(ctx, uri, NULL, id ? id : "", err);
}

static mcp_status
prompt(mcp_ctx *ctx, void *u, mcp_error *err)
{
    (void)u;
    return mcp_ctx_add_prompt_message_take(ctx, "user", json_pack("{s:s,s:s}", "type", "text",
                                           "text", "x"), err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (srv == NULL) {
        mcp_server_opts o;
        mcp_server_opts_default(&o);
        o.stateless = true;
        mcp_error err;
        static const char *const admin[] = { "Admin.Write", NULL };
        mcp_tool_def t = { .name = "echo", .description = "echo", .flags = MCP_TOOL_INLINE,
                           .input_schema = "{\"type\":\"object\",\"properties\":{\"text\":"
                                           "{\"type\":\"string\"}},\"required\":[\"text\"]}",
                           .access = { .any_authenticated = true }, .handler = echo };
        mcp_tool_def a = { .name = "admin", .description = "admin only", .flags = MCP_TOOL_INLINE,
                           .access = { .any_of_perms = admin }, .handler = echo };
        mcp_resource_def r = { .uri_template = "i://{id}/x", .name = "i",
                               .access = { .any_authenticated = true }, .handler = item };
        static const mcp_prompt_arg pa[] = { { "a", "a", true }, { 0 } };
        mcp_prompt_def p = { .name = "p", .description = "p", .args = pa,
                             .access = { .any_authenticated = true }, .handler = prompt };
        if (mcp_server_new(&o, &srv, &err) != MCP_OK || mcp_server_add_tool(srv, &t, NULL, &err) ||
            mcp_server_add_tool(srv, &a, NULL, &err) ||
            mcp_server_add_resource(srv, &r, NULL, &err) ||
            mcp_server_add_prompt(srv, &p, NULL, &err))
            abort();
        srv->opts.workers = 1;
        mcp__server_start(srv, &err);
    }
    mcp_request req;
    mcp_error err;
    mcp_error_clear(&err);
    mcp__request_init(&req, srv);
    req.http_method = "STDIO";
    json_t *id = NULL;
    mcp__dispatch_result res;
    mcp__run_body(&req, (const char *)data, size, &sink, &res, NULL, &id, &err);
    if (res == MCP__DISPATCH_ASYNC)
        mcp__pool_wait_idle(srv, 1000);
    json_decref(id);
    mcp__request_cleanup(&req);
    return 0;
}
