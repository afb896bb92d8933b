/* mcp-admin role grant|revoke|list|set|remove */
#include "admin.h"

#include <stdio.h>

static mcp_status
op_grant(mcp_store *st, void *arg, mcp_error *err)
{
    char **pos = arg;
    return mcp_store_role_grant(st, pos[0], pos[1], err);
}

static mcp_status
op_revoke(mcp_store *st, void *arg, mcp_error *err)
{
    char **pos = arg;
    return mcp_store_role_revoke(st, pos[0], pos[1], err);
}

/* role grant|revoke SUBJECT ROLE */
static int
subject_role(admin_ctx *ctx, const char *action, int argc, char **argv, admin_call_fn op)
{
    char *pos[2] = { NULL, NULL };
    int rc = admin_parse(ctx, "role", action, argc, argv, NULL, pos, 2, 2, NULL);
    return rc != ADMIN_EXIT_OK ? rc : admin_store_call(ctx, op, pos);
}

static int
role_grant(admin_ctx *ctx, int argc, char **argv)
{
    return subject_role(ctx, "grant", argc, argv, op_grant);
}

static int
role_revoke(admin_ctx *ctx, int argc, char **argv)
{
    return subject_role(ctx, "revoke", argc, argv, op_revoke);
}

#define MAX_PERMS 256

/* pos: ROLE, then its permissions, NULL-terminated */
static mcp_status
op_set(mcp_store *st, void *arg, mcp_error *err)
{
    char **pos = arg;
    return mcp_store_role_set_permissions(st, pos[0], (const char *const *)(pos + 1), err);
}

static int
role_set(admin_ctx *ctx, int argc, char **argv)
{
    char *pos[1 + MAX_PERMS + 1];
    size_t n = 0;
    int rc = admin_parse(ctx, "role", "set", argc, argv, NULL, pos, 1, 1 + MAX_PERMS, &n);
    if (rc != ADMIN_EXIT_OK)
        return rc;
    pos[n] = NULL;
    return admin_store_call(ctx, op_set, pos);
}

static int
role_remove(admin_ctx *ctx, int argc, char **argv)
{
    return admin_run_store_op(ctx, "role", "remove", argc, argv, mcp_store_role_remove);
}

static bool
print_role(void *vctx, const mcp_store_role *r)
{
    admin_list *ls = vctx;
    ls->n++;
    if (ls->json) {
        json_t *perms = admin_json_strings(r->permissions, r->n_permissions, &ls->nomem);
        json_t *o = json_pack("{s:s, s:o*}", "name", r->name, "permissions", perms);
        if (o == NULL || json_array_append_new(ls->arr, o) != 0)
            ls->nomem = true;
        return !ls->nomem;
    }
    if (ls->n == 1)
        printf("ROLE\tPERMISSIONS\n");
    printf("%s\t", r->name);
    admin_print_strings(r->permissions, r->n_permissions, " ");
    printf("\n");
    return true;
}

static mcp_status
list_roles(mcp_store *st, const void *arg, admin_list *ls, mcp_error *err)
{
    (void)arg;
    return mcp_store_role_list(st, print_role, ls, err);
}

static int
role_list(admin_ctx *ctx, int argc, char **argv)
{
    return admin_run_list(ctx, "role", "list", argc, argv, NULL, NULL, list_roles);
}

const admin_command admin_role_commands[] = {
    { "role", "grant", "SUBJECT ROLE", "give a user a role", false, role_grant },
    { "role", "revoke", "SUBJECT ROLE", "take a role away from a user", false, role_revoke },
    { "role", "list", "", "list roles with their permissions (--json for JSON)", false,
      role_list },
    { "role", "set", "ROLE [PERMISSION]...",
      "create a role or replace its permissions (creates the store file if needed)", true,
      role_set },
    { "role", "remove", "ROLE", "delete a role and every grant of it", false, role_remove },
    { 0 },
};
