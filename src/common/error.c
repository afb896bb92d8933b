/* Status names and the error struct. Reporting an error never allocates. */
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
