/*
 * The library's own version, compiled in from the header of this build, so a program can tell
 * which libmcp.so it runs with (the macros only say which headers it was compiled against).
 */
#include <mcp/common.h>

/* The macros must agree with each other; CMakeLists.txt checks MCP_VERSION_STRING against
 * project(VERSION). */
_Static_assert(MCP_VERSION_MAJOR < 256 && MCP_VERSION_MINOR < 256 && MCP_VERSION_PATCH < 256,
               "version parts fit a byte of MCP_VERSION_NUM");

const char *
mcp_version(void)
{
    return MCP_VERSION_STRING;
}

unsigned
mcp_version_num(void)
{
    return MCP_VERSION_NUM;
}
