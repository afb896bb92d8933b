/* The protocol layer's API for src/server (mcp__ prefix). */
#ifndef MCP_SRC_PROTOCOL_H
#define MCP_SRC_PROTOCOL_H

#include "core/core.h"

/* The protocol's pipeline entries: route (after parsing: responses, notifications, lifecycle
 * checks, the target from the method table), the built-in AUTHZ entry (the target's access
 * rule or the installed authorizer), and the HANDLER (the method table's handler).
 * src/server installs them with mcp__server_set_handler(). */
extern const mcp__handler_entries mcp__protocol_entries;

#endif
