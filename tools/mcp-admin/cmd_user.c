/* mcp-admin user add|remove|enable|disable|list */
#include "admin.h"

#include <stdio.h>
#include <string.h>

typedef struct user_add_args {
    const char  *subject, *name;
    const char **roles;
} user_add_args;

static mcp_status
op_add(mcp_store *st, void *arg, mcp_error *err)
{
    const user_add_args *a = arg;
    return mcp_store_user_add_with_roles(st, a->subject, a->name, a->roles, err);
}

static int
user_add(admin_ctx *ctx, int argc, char **argv)
{
    user_add_args a = { 0 };
    size_t nroles = 0;
    char *pos[1] = { NULL };
    const admin_opt opts[] = {
        { .name = "--name", .value = &a.name },
        { .name = "--role", .list = &a.roles, .count = &nroles },
        { 0 },
    };
    int rc = admin_parse(ctx, "user", "add", argc, argv, opts, pos, 1, 1, NULL);
    a.subject = pos[0];
    if (rc == ADMIN_EXIT_OK)
        rc = admin_store_call(ctx, op_add, &a);
    admin_list_free(a.roles);
    return rc;
}

static mcp_status
op_enable(mcp_store *st, const char *subject, mcp_error *err)
{
    return mcp_store_user_set_enabled(st, subject, true, err);
}

static mcp_status
op_disable(mcp_store *st, const char *subject, mcp_error *err)
{
    return mcp_store_user_set_enabled(st, subject, false, err);
}

static int
user_enable(admin_ctx *ctx, int argc, char **argv)
{
    return admin_run_store_op(ctx, "user", "enable", argc, argv, op_enable);
}

static int
user_disable(admin_ctx *ctx, int argc, char **argv)
{
    return admin_run_store_op(ctx, "user", "disable", argc, argv, op_disable);
}

static int
user_remove(admin_ctx *ctx, int argc, char **argv)
{
    return admin_run_store_op(ctx, "user", "remove", argc, argv, mcp_store_user_remove);
}

static bool
print_user(void *vctx, const mcp_store_user *u)
{
    admin_list *ls = vctx;
    ls->n++;
    if (ls->json) {
        json_t *roles = admin_json_strings(u->roles, u->n_roles, &ls->nomem);
        json_t *o = json_pack("{s:s, s:s, s:b, s:I, s:o*}", "subject", u->subject, "name",
                              u->name, "enabled", u->enabled, "created", (json_int_t)u->created,
                              "roles", roles);
        if (o == NULL || json_array_append_new(ls->arr, o) != 0)
            ls->nomem = true;
        return !ls->nomem;
    }
    char tb[32];
    if (ls->n == 1)
        printf("SUBJECT\tSTATUS\tROLES\tCREATED\tNAME\n");
    printf("%s\t%s\t", u->subject, u->enabled ? "enabled" : "disabled");
    admin_print_strings(u->roles, u->n_roles, ",");
    printf("\t%s\t%s\n", admin_time(u->created, tb), u->name);
    return true;
}

static mcp_status
list_users(mcp_store *st, const void *arg, admin_list *ls, mcp_error *err)
{
    (void)arg;
    return mcp_store_user_list(st, print_user, ls, err);
}

static int
user_list(admin_ctx *ctx, int argc, char **argv)
{
    return admin_run_list(ctx, "user", "list", argc, argv, NULL, NULL, list_users);
}

const admin_command admin_user_commands[] = {
    { "user", "add", "SUBJECT [--name NAME] [--role ROLE]...",
      "add an enabled user, optionally with roles (creates the store file if needed)", true,
      user_add },
    { "user", "disable", "SUBJECT", "disable a user: its API keys and tokens stop working",
      false, user_disable },
    { "user", "enable", "SUBJECT", "enable a disabled user", false, user_enable },
    { "user", "remove", "SUBJECT", "delete a user with its role grants and API keys", false,
      user_remove },
    { "user", "list", "", "list users with status and roles (--json for JSON)", false,
      user_list },
    { 0 },
};
