/*
 * The server folder's API (mcp__ prefix). The server object is defined by the core
 * (src/core/core.h: registry, request, pipeline driver, sessions, pool); src/server creates,
 * runs and frees it and installs the protocol's entries into its pipeline. Code above the
 * server (tests, tools linked statically) includes this header to reach the core's request
 * helpers (mcp__request_init, mcp__decide, ...).
 */
#ifndef MCP_SRC_SERVER_H
#define MCP_SRC_SERVER_H

#include "core/core.h"

#endif
