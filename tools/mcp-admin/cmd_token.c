/* mcp-admin token revoke|purge */
#include "admin.h"

#include <stdio.h>
#include <time.h>

static int
token_revoke(admin_ctx *ctx, int argc, char **argv)
{
    const char *exp_s = NULL;
    const admin_opt opts[] = { { .name = "--expires", .value = &exp_s }, { 0 } };
    char *pos[1];
    int rc = admin_parse(ctx, "token", "revoke", argc, argv, opts, pos, 1, 1, NULL);
    if (rc != ADMIN_EXIT_OK)
        return rc;
    int64_t exp = 0;
    if (exp_s != NULL && !admin_parse_int64(exp_s, &exp))
        return admin_usage_error("token", "revoke", "--expires must be unix seconds");
    mcp_store *st = admin_store(ctx);
    if (st == NULL)
        return ADMIN_EXIT_ERROR;
    mcp_error err;
    mcp_error_clear(&err);
    if (mcp_store_token_revoke(st, pos[0], exp, &err) != MCP_OK)
        return admin_fail_err(&err);
    return ADMIN_EXIT_OK;
}

static int
token_purge(admin_ctx *ctx, int argc, char **argv)
{
    int rc = admin_parse(ctx, "token", "purge", argc, argv, NULL, NULL, 0, 0, NULL);
    if (rc != ADMIN_EXIT_OK)
        return rc;
    mcp_store *st = admin_store(ctx);
    if (st == NULL)
        return ADMIN_EXIT_ERROR;
    mcp_error err;
    mcp_error_clear(&err);
    size_t n = 0;
    if (mcp_store_token_purge(st, (int64_t)time(NULL), &n, &err) != MCP_OK)
        return admin_fail_err(&err);
    fprintf(stderr, "mcp-admin: purged %zu expired revocation(s)\n", n);
    return ADMIN_EXIT_OK;
}

const admin_command admin_token_commands[] = {
    { "token", "revoke", "JTI [--expires UNIX]",
      "reject tokens with this jti from now on (--expires: the token's exp, for purging)", true,
      token_revoke },
    { "token", "purge", "", "delete revocations whose --expires has passed", false,
      token_purge },
    { 0 },
};
