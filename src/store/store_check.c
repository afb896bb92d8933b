/* mcp_store_check: the store's own reachability check, for readiness probes (mcp_app /ready). */
#include "store/internal.h"

mcp_status
mcp_store_check(mcp_store *store, mcp_error *err)
{
    if (store == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "no store");
    /* Lookups that find this check running wait for it instead of skipping their own (see
     * mcp__store_check_changes): a probe must not make them serve from the cache while the
     * store has just failed. */
    atomic_store_explicit(&store->probing, true, memory_order_release);
    mcp_status rc = mcp__store_check_changes(store, err);
    atomic_store_explicit(&store->probing, false, memory_order_release);
    return rc;
}
