/* libmcp umbrella header. */
#ifndef MCP_MCP_H
#define MCP_MCP_H
#include <mcp/status.h>
#include <mcp/common.h>
#include <mcp/auth.h>
#include <mcp/server.h>
#endif
