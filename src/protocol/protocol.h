/* The protocol layer's API for src/server (mcp__ prefix). */
#ifndef MCP_SRC_PROTOCOL_H
#define MCP_SRC_PROTOCOL_H

#include "core/core.h"

/* The protocol's pipeline entries: route (after parsing: responses, notifications, lifecycle
 * checks, the target from the method table), the built-in AUTHZ entry (the target's access
 * rule or the installed authorizer), and the HANDLER (the method table's handler).
 * src/server installs them with mcp__server_set_handler(). */
extern const mcp__handler_entries mcp__protocol_entries;

/* The protocol's per-server state (srv->proto: the requestState keyring from
 * opts.request_state_key_file, or a random key). Called by mcp_server_new / mcp_server_free. */
mcp_status mcp__pr_server_init(mcp_server *srv, mcp_error *err);
void mcp__pr_server_free(mcp_server *srv);

#endif
