/* mcp-admin user passwd, client add|list|remove: the embedded authorization server's data. */
#include "admin.h"

#include <mcp/as.h>

#include <stdio.h>
#include <string.h>

typedef struct passwd_args {
    const char *subject;
    char        pw[1026];
    size_t      len;
} passwd_args;

static mcp_status
op_passwd(mcp_store *st, void *arg, mcp_error *err)
{
    const passwd_args *a = arg;
    return mcp_as_user_set_password(st, a->subject, a->pw, a->len, err);
}

/* The password is read from standard input (one line), never from the command line, where
 * every local user could read it. */
static int
user_passwd(admin_ctx *ctx, int argc, char **argv)
{
    char *pos[1] = { NULL };
    int rc = admin_parse(ctx, "user", "passwd", argc, argv, NULL, pos, 1, 1, NULL);
    if (rc != ADMIN_EXIT_OK)
        return rc;
    passwd_args a = { .subject = pos[0] };
    if (fgets(a.pw, sizeof a.pw, stdin) == NULL)
        return admin_fail("no password on standard input");
    a.len = strlen(a.pw);
    if (a.len > 0 && a.pw[a.len - 1] == '\n')
        a.pw[--a.len] = '\0';
    if (a.len > 0 && a.pw[a.len - 1] == '\r')
        a.pw[--a.len] = '\0';
    rc = admin_store_call(ctx, op_passwd, &a);
    mcp_memzero(a.pw, sizeof a.pw);
    return rc;
}

static int
client_add(admin_ctx *ctx, int argc, char **argv)
{
    const char *name = NULL, *owner = NULL;
    const char **uris = NULL;
    size_t nuris = 0;
    bool confidential = false;
    char *pos[1] = { NULL };
    const admin_opt opts[] = {
        { .name = "--name", .value = &name },
        { .name = "--redirect-uri", .list = &uris, .count = &nuris },
        { .name = "--confidential", .flag = &confidential },
        { .name = "--owner", .value = &owner },
        { 0 },
    };
    int rc = admin_parse(ctx, "client", "add", argc, argv, opts, pos, 1, 1, NULL);
    if (rc != ADMIN_EXIT_OK) {
        admin_list_free(uris);
        return rc;
    }
    mcp_store *st = admin_store(ctx);
    mcp_error err;
    mcp_error_clear(&err);
    char *secret = NULL;
    mcp_as_client_def d = {
        .id = pos[0], .name = name, .redirect_uris = uris, .confidential = confidential,
        .owner = owner,
    };
    if (st == NULL)
        rc = ADMIN_EXIT_ERROR;
    else if (mcp_as_client_add(st, &d, &secret, &err) != MCP_OK)
        rc = admin_fail_err(&err);
    else if (secret != NULL) {
        if (ctx->json)
            printf("{\"client_id\":\"%s\",\"client_secret\":\"%s\"}\n", pos[0], secret);
        else
            printf("%s\n", secret);
        fprintf(stderr, "mcp-admin: registered client %s; copy its secret now, it will not be "
                "shown again\n", pos[0]);
        mcp_memzero(secret, strlen(secret));
        mcp_free(secret);
    }
    admin_list_free(uris);
    return rc;
}

static int
client_remove(admin_ctx *ctx, int argc, char **argv)
{
    return admin_run_store_op(ctx, "client", "remove", argc, argv, mcp_as_client_remove);
}

static bool
print_client(void *vctx, const mcp_as_client_info *c)
{
    admin_list *ls = vctx;
    ls->n++;
    if (ls->json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:s, s:I}", "id", c->id, "name", c->name,
                              "redirect_uris", c->redirect_uris, "confidential", c->confidential,
                              "owner", c->owner, "created", (json_int_t)c->created);
        if (o == NULL || json_array_append_new(ls->arr, o) != 0)
            ls->nomem = true;
        return !ls->nomem;
    }
    char tb[32];
    if (ls->n == 1)
        printf("ID\tTYPE\tOWNER\tCREATED\tREDIRECT_URIS\tNAME\n");
    printf("%s\t%s\t%s\t%s\t%s\t%s\n", c->id, c->confidential ? "confidential" : "public",
           c->owner[0] ? c->owner : "-", admin_time(c->created, tb),
           c->redirect_uris[0] ? c->redirect_uris : "-", c->name);
    return true;
}

static mcp_status
list_clients(mcp_store *st, const void *arg, admin_list *ls, mcp_error *err)
{
    (void)arg;
    return mcp_as_client_list(st, print_client, ls, err);
}

static int
client_list(admin_ctx *ctx, int argc, char **argv)
{
    return admin_run_list(ctx, "client", "list", argc, argv, NULL, NULL, list_clients);
}

const admin_command admin_as_commands[] = {
    { "user", "passwd", "SUBJECT  (the password on standard input)",
      "set a user's password for the embedded authorization server's sign-in", false,
      user_passwd },
    { "client", "add", "ID [--name N] [--redirect-uri URI]... [--confidential] [--owner SUBJECT]",
      "register an OAuth client (a confidential one's secret is printed once)", false,
      client_add },
    { "client", "list", "", "list registered OAuth clients (--json for JSON)", false,
      client_list },
    { "client", "remove", "ID", "remove a client and revoke its refresh tokens", false,
      client_remove },
    { 0 },
};
