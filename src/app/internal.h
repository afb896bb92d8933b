/* Private to the files of src/app. */
#ifndef MCP_SRC_APP_INTERNAL_H
#define MCP_SRC_APP_INTERNAL_H

#include <mcp/app.h>
#include <mcp/jwt.h>

#include <jansson.h>

/*
 * --trusted-issuers FILE: add every issuer of the JSON file to v (mcp_jwt_verifier_add_issuer),
 * each with base's options (leeway, JWKS timing) and its own keys, audience (default: base's),
 * claims profile and tenants; append each issuer (a {tenantid} template once per allowed tenant)
 * to servers, the PRM's authorization_servers. Anything unknown or inconsistent in the file is
 * an error naming the entry: a bad mapping is refused at start-up.
 */
mcp_status mcp__app_trusted_issuers(const char *path, const mcp_jwt_opts *base,
                                    mcp_jwt_verifier *v, json_t *servers, mcp_error *err);

#endif
