/* mcp_store_check: the store's own reachability check, for readiness probes (mcp_app /ready). */
#include "store/internal.h"

mcp_status
mcp_store_check(mcp_store *store, mcp_error *err)
{
    if (store == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no store");
    return mcp__store_check_changes(store, err);
}
