/* libmcp umbrella header: the whole public API. */
#ifndef MCP_MCP_H
#define MCP_MCP_H
#include <mcp/status.h>
#include <mcp/common.h>
#include <mcp/auth.h>
#include <mcp/server.h>
#include <mcp/jwt.h>
#include <mcp/store.h>
#include <mcp/introspect.h>
#include <mcp/app.h>
#include <mcp/client.h>
#include <mcp/authn.h>
#include <mcp/policy.h>
#endif
