/* mcp-admin key create|list|revoke|verify */
#include "admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>

static int
key_create(admin_ctx *ctx, int argc, char **argv)
{
    const char *owner = NULL, *label = NULL, *ttl_s = NULL;
    const admin_opt opts[] = {
        { .name = "--owner", .value = &owner },
        { .name = "--label", .value = &label },
        { .name = "--ttl", .value = &ttl_s },
        { 0 },
    };
    int rc = admin_parse(ctx, "key", "create", argc, argv, opts, NULL, 0, 0, NULL);
    if (rc != ADMIN_EXIT_OK)
        return rc;
    if (owner == NULL)
        return admin_usage_error("key", "create", "--owner is required");
    int64_t ttl = 0;
    if (ttl_s != NULL && !admin_parse_int64(ttl_s, &ttl))
        return admin_usage_error("key", "create", "--ttl must be a number of seconds");
    mcp_store *st = admin_store(ctx);
    if (st == NULL)
        return ADMIN_EXIT_ERROR;

    char *key = NULL;
    char id[MCP_APIKEY_ID_LEN + 1];
    mcp_error err;
    mcp_error_clear(&err);
    if (mcp_store_key_create(st, owner, label, ttl, &key, id, &err) != MCP_OK)
        return admin_fail_err(&err);

    if (ctx->json) {
        /* The key is spliced in by hand so that no JSON library buffer ever holds a copy that
         * would be freed without being wiped. */
        int64_t exp = ttl > 0 ? (int64_t)time(NULL) + ttl : 0;
        json_t *o = json_pack("{s:s, s:s, s:s, s:o}", "id", id, "owner", owner, "label",
                              label != NULL ? label : "", "expires",
                              exp ? json_integer((json_int_t)exp) : json_null());
        char *rest = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        json_decref(o);
        if (rest == NULL)
            rc = admin_fail("out of memory");
        else
            printf("{\"key\":\"%s\",%s\n", key, rest + 1);
        free(rest);
    } else {
        printf("%s\n", key);
    }
    mcp_memzero(key, strlen(key));
    mcp_free(key);
    if (rc == ADMIN_EXIT_OK)
        fprintf(stderr, "mcp-admin: created key %s for %s; copy it now, it will not be shown "
                        "again\n", id, owner);
    return rc;
}

static int
key_revoke(admin_ctx *ctx, int argc, char **argv)
{
    return admin_run_store_op(ctx, "key", "revoke", argc, argv, mcp_store_key_revoke);
}

static const char *
key_status(const mcp_store_key *k, int64_t now)
{
    if (k->revoked != 0)
        return "revoked";
    if (k->expires != 0 && now >= k->expires)
        return "expired";
    return "active";
}

static bool
print_key(void *vctx, const mcp_store_key *k)
{
    admin_list *ls = vctx;
    ls->n++;
    if (ls->json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:o, s:o}", "id", k->id, "owner",
                              k->owner, "label", k->label, "status", key_status(k, ls->now),
                              "created", (json_int_t)k->created, "expires",
                              k->expires ? json_integer((json_int_t)k->expires) : json_null(),
                              "revoked",
                              k->revoked ? json_integer((json_int_t)k->revoked) : json_null());
        if (o == NULL || json_array_append_new(ls->arr, o) != 0)
            ls->nomem = true;
        return !ls->nomem;
    }
    char c[32], e[32], r[32];
    if (ls->n == 1)
        printf("ID\tOWNER\tSTATUS\tCREATED\tEXPIRES\tREVOKED\tLABEL\n");
    printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k->id, k->owner, key_status(k, ls->now),
           admin_time(k->created, c), admin_time(k->expires, e), admin_time(k->revoked, r),
           k->label);
    return true;
}

/* arg: the --owner value (a const char *, NULL = every owner) */
static mcp_status
list_keys(mcp_store *st, const void *arg, admin_list *ls, mcp_error *err)
{
    return mcp_store_key_list(st, *(const char *const *)arg, print_key, ls, err);
}

static int
key_list(admin_ctx *ctx, int argc, char **argv)
{
    const char *owner = NULL;
    const admin_opt opts[] = { { .name = "--owner", .value = &owner }, { 0 } };
    return admin_run_list(ctx, "key", "list", argc, argv, opts, &owner, list_keys);
}

/* Read one line (the key) from stdin into buf; the key is never taken from argv, where other
 * users could see it in the process list. read(2), not stdio, so that no FILE buffer keeps a
 * copy we cannot wipe. */
static bool
read_key(char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    while (n < cap - 1) {
        ssize_t r = read(STDIN_FILENO, buf + n, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || buf[n] == '\n')
            break;
        n++;
    }
    if (n == cap - 1)
        return false; /* too long */
    while (n > 0 && (buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        n--;
    buf[n] = '\0';
    *len = n;
    return n > 0;
}

static int
key_verify(admin_ctx *ctx, int argc, char **argv)
{
    int rc = admin_parse(ctx, "key", "verify", argc, argv, NULL, NULL, 0, 0, NULL);
    if (rc != ADMIN_EXIT_OK)
        return rc;
    char buf[512];
    size_t len = 0;
    bool ok = read_key(buf, sizeof buf, &len);
    if (!ok) {
        mcp_memzero(buf, sizeof buf);
        return admin_fail("no key on standard input (or longer than %zu bytes)", sizeof buf - 2);
    }
    mcp_store *st = admin_store(ctx);
    if (st == NULL) {
        mcp_memzero(buf, sizeof buf);
        return ADMIN_EXIT_ERROR;
    }
    const mcp_principal *p = NULL;
    mcp_error err;
    mcp_error_clear(&err);
    mcp_status s = mcp_store_key_verify(st, buf, len, &p, &err);
    mcp_memzero(buf, sizeof buf);
    if (s != MCP_OK)
        return admin_fail_err(&err);

    size_t np = mcp_principal_permission_count(p);
    const char *name = mcp_principal_name(p);
    if (ctx->json) {
        json_t *perms = json_array();
        for (size_t i = 0; perms != NULL && i < np; i++)
            json_array_append_new(perms, json_string(mcp_principal_permission(p, i)));
        int64_t exp = mcp_principal_expires_at(p);
        json_t *o = json_pack("{s:s, s:s, s:s, s:o*, s:o}", "subject", mcp_principal_subject(p),
                              "name", name != NULL ? name : "", "key_id", mcp_principal_key_id(p),
                              "permissions", perms, "expires",
                              exp ? json_integer((json_int_t)exp) : json_null());
        rc = admin_print_json(o);
    } else {
        char tb[32];
        printf("subject\t%s\nname\t%s\nkey_id\t%s\nexpires\t%s\npermissions\t",
               mcp_principal_subject(p), name != NULL ? name : "", mcp_principal_key_id(p),
               admin_time(mcp_principal_expires_at(p), tb));
        for (size_t i = 0; i < np; i++)
            printf("%s%s", i ? " " : "", mcp_principal_permission(p, i));
        printf("\n");
    }
    mcp_principal_unref(p);
    return rc;
}

const admin_command admin_key_commands[] = {
    { "key", "create", "--owner SUBJECT [--label LABEL] [--ttl SECONDS]",
      "create an API key; prints it once on stdout (--json: with its id)", false, key_create },
    { "key", "list", "[--owner SUBJECT]", "list API keys, never their secrets (--json for JSON)",
      false, key_list },
    { "key", "revoke", "KEYID", "revoke an API key", false, key_revoke },
    { "key", "verify", "< KEYFILE",
      "check the API key read from standard input; prints its owner and permissions", false,
      key_verify },
    { 0 },
};
