/*
 * src/authn: the API of the AUTHN items (API keys, JWT bearer, introspection) for other
 * folders. Nothing beyond the public one today: the items plug into the server through
 * <mcp/authn.h> and <mcp/introspect.h> (STYLE.md section 8).
 */
#ifndef MCP_SRC_AUTHN_AUTHN_H
#define MCP_SRC_AUTHN_AUTHN_H

#include <mcp/authn.h>
#include <mcp/introspect.h>

#endif
