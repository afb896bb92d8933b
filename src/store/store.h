/*
 * src/store: the API of the SQLite user store for other folders. Nothing beyond the public one
 * today: the store plugs into the server and into src/authn through <mcp/store.h>, and the
 * store's private pieces are in store/internal.h (STYLE.md section 8).
 */
#ifndef MCP_SRC_STORE_STORE_H
#define MCP_SRC_STORE_STORE_H

#include <mcp/store.h>

#endif
