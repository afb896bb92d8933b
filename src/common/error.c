/* Status names, the status -> wire table, and the error struct. Reporting an error never
 * allocates. */
#include "common/common.h"

#include <string.h>

const char *
mcp_status_name(mcp_status s)
{
    switch (s) {
#define X(name, num, text) case MCP_##name: return "MCP_" #name;
    MCP_STATUS_MAP(X)
#undef X
    }
    return "MCP_ERR_UNKNOWN";
}

const char *
mcp_status_str(mcp_status s)
{
    switch (s) {
#define X(name, num, text) case MCP_##name: return text;
    MCP_STATUS_MAP(X)
#undef X
    }
    return "unknown status";
}

/*
 * The one status -> HTTP status / JSON-RPC code table (include/mcp/status.h). Before it, the
 * HTTP transport, the stdio transport and the HTTP status function each had a switch of their
 * own, and they disagreed (stdio answered INVALID_ARG with -32603, HTTP with -32600).
 */
static const struct wire {
    int     http;
    int32_t rpc;
} wire[] = {
    [MCP_OK]                  = { 200, 0 },
    [MCP_ERR_NOMEM]           = { 500, MCP_RPC_INTERNAL_ERROR },
    [MCP_ERR_INVALID_ARG]     = { 400, MCP_RPC_INVALID_REQUEST },
    [MCP_ERR_PARSE]           = { 400, MCP_RPC_PARSE_ERROR },
    [MCP_ERR_TOO_LARGE]       = { 413, MCP_RPC_INVALID_REQUEST },
    [MCP_ERR_UNAUTHENTICATED] = { 401, MCP_RPC_UNAUTHENTICATED },
    [MCP_ERR_FORBIDDEN]       = { 403, MCP_RPC_FORBIDDEN },
    [MCP_ERR_NOT_FOUND]       = { 404, MCP_RPC_INVALID_REQUEST },
    [MCP_ERR_IO]              = { 400, MCP_RPC_INVALID_REQUEST },
    [MCP_ERR_TIMEOUT]         = { 400, MCP_RPC_INVALID_REQUEST },
    [MCP_ERR_CANCELLED]       = { 400, MCP_RPC_INVALID_REQUEST },
    [MCP_ERR_STATE]           = { 400, MCP_RPC_INVALID_REQUEST },
    [MCP_ERR_PROTOCOL]        = { 400, MCP_RPC_INVALID_REQUEST },
    [MCP_ERR_RATE_LIMITED]    = { 429, MCP_RPC_RATE_LIMITED },
    [MCP_ERR_INTERNAL]        = { 500, MCP_RPC_INTERNAL_ERROR },
    [MCP_ERR_UNSUPPORTED]     = { 400, MCP_RPC_INVALID_REQUEST },
    [MCP_ERR_STORE]           = { 503, MCP_RPC_INTERNAL_ERROR },
    [MCP_ERR_WOULD_BLOCK]     = { 503, MCP_RPC_INVALID_REQUEST },
    [MCP_ERR_INPUT_REQUIRED]  = { 500, MCP_RPC_INTERNAL_ERROR },   /* never sent: see errors.md */
};

int
mcp_status_http(mcp_status s)
{
    return (unsigned)s < sizeof wire / sizeof wire[0] && wire[s].http != 0 ? wire[s].http : 400;
}

int32_t
mcp_status_rpc(mcp_status s)
{
    if (s == MCP_OK)
        return 0;
    return (unsigned)s < sizeof wire / sizeof wire[0] && wire[s].rpc != 0
           ? wire[s].rpc : MCP_RPC_INVALID_REQUEST;
}

static void
error_vset(mcp_error *err, mcp_status code, int32_t rpc, const char *fmt, va_list ap)
{
    err->code = code;
    err->rpc_code = rpc;
    if (fmt == NULL) {
        snprintf(err->message, sizeof err->message, "%s", mcp_status_str(code));
        return;
    }
    vsnprintf(err->message, sizeof err->message, fmt, ap);
}

mcp_status
mcp_error_set(mcp_error *err, mcp_status code, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        error_vset(err, code, 0, fmt, ap);
        va_end(ap);
    }
    return code;
}

mcp_status
mcp_error_set_rpc(mcp_error *err, mcp_status code, int32_t rpc_code, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        error_vset(err, code, rpc_code, fmt, ap);
        va_end(ap);
    }
    return code;
}

void
mcp_error_clear(mcp_error *err)
{
    if (err != NULL) {
        err->code = MCP_OK;
        err->rpc_code = 0;
        err->message[0] = '\0';
    }
}
