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

/* config.c: --auth jwt with --issuer and no key flag: the JWKS is discovered. */
bool mcp__app_jwt_discovers(const mcp_app_config *cfg);

/*
 * ready.c: the readiness check behind /ready. The pointers are borrowed and must outlive it;
 * with a store, a thread checks it once a second (stopped by _free). ready_fn is an
 * mcp_http_ready_fn with the object as ctx.
 */
typedef struct mcp__app_ready mcp__app_ready;
struct mcp_introspector;
mcp_status mcp__app_ready_new(mcp_store *store, const mcp_jwt_verifier *jwt,
                              bool want_introspection,
                              const struct mcp_introspector *introspector,
                              mcp__app_ready **out, mcp_error *err);
void mcp__app_ready_free(mcp__app_ready *r);
bool mcp__app_ready_fn(void *ctx, char *reason, size_t cap);

#endif
