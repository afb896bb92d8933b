/*
 * src/authz: the API of the policy/RBAC engine, rate limits and audit log for other folders.
 * Nothing beyond the public one today: authorization plugs into the server through
 * <mcp/policy.h>; the private pieces are in authz/internal.h (STYLE.md section 8).
 */
#ifndef MCP_SRC_AUTHZ_AUTHZ_H
#define MCP_SRC_AUTHZ_AUTHZ_H

#include <mcp/policy.h>

#endif
