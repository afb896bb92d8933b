/*
 * mcp-admin: manage the libmcp user and credential store (users, roles, API keys, revoked
 * tokens). See docs/cli/mcp-admin.md.
 *
 * Structure: global options here, then "<group> <action>" is looked up in the command tables
 * below. A new command group is one new cmd_<group>.c exporting a table, plus one line in
 * ADMIN_COMMAND_TABLES; nothing else changes.
 */
#include "admin.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/*
 * The command tables, in --help order.
 *
 * ==== POLICY HOOK ====
 * The RBAC engineer adds `policy check` here: create tools/mcp-admin/cmd_policy.c exporting
 * `const admin_command admin_policy_commands[]` (declare it in admin.h) and add
 * `admin_policy_commands` to this list. Done: tools/mcp-admin/policy_check.c.
 */
extern const admin_command admin_policy_commands[]; /* policy_check.c */
extern const admin_command admin_as_commands[];     /* cmd_as.c */
#define ADMIN_COMMAND_TABLES \
    admin_user_commands, admin_role_commands, admin_key_commands, admin_token_commands, \
    admin_policy_commands, admin_as_commands

static const admin_command *const command_tables[] = { ADMIN_COMMAND_TABLES, NULL };

static void
print_message(const char *fmt, va_list ap)
{
    fputs("mcp-admin: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int
admin_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    print_message(fmt, ap);
    va_end(ap);
    return ADMIN_EXIT_ERROR;
}

int
admin_fail_err(const mcp_error *err)
{
    return admin_fail("%s", err->message[0] != '\0' ? err->message : mcp_status_str(err->code));
}

static const admin_command *
find_command(const char *group, const char *action)
{
    for (size_t t = 0; command_tables[t] != NULL; t++)
        for (const admin_command *c = command_tables[t]; c->group != NULL; c++)
            if (strcmp(c->group, group) == 0 && (action == NULL || strcmp(c->action, action) == 0))
                return c;
    return NULL;
}

int
admin_usage_error(const char *group, const char *action, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mcp-admin: ", stderr);          /* the one usage-error wording of every tool */
    vfprintf(stderr, fmt, ap);
    fputs(" (see mcp-admin --help)\n", stderr);
    va_end(ap);
    const admin_command *c = group != NULL && action != NULL ? find_command(group, action) : NULL;
    if (c != NULL)
        fprintf(stderr, "usage: mcp-admin [--db FILE] [--json] %s %s %s\n", c->group, c->action,
                c->args);
    return ADMIN_EXIT_USAGE;
}

static void
print_help(FILE *f)
{
    fputs("usage: mcp-admin [--db FILE] [--json] GROUP ACTION [ARGS]\n"
          "       mcp-admin [--db FILE] init\n"
          "\n"
          "Manage the libmcp user and credential store (SQLite, or PostgreSQL).\n"
          "\n"
          "options:\n"
          "  --db FILE   store file or postgresql:// URI (default: $MCP_DB, else ./mcp.db)\n"
          "  --json      JSON output for list commands and key create/verify\n"
          "  -h, --help  this text\n"
          "  -V, --version  print the version\n"
          "\n"
          "commands:\n"
          "  init\n"
          "      create the store file (owner-only) with the current schema; an existing\n"
          "      store is left as it is (its schema is upgraded if older)\n", f);
    for (size_t t = 0; command_tables[t] != NULL; t++)
        for (const admin_command *c = command_tables[t]; c->group != NULL; c++) {
            char head[96];
            snprintf(head, sizeof head, "%s %s %s", c->group, c->action, c->args);
            fprintf(f, "  %s\n      %s\n", head, c->summary);
        }
    fputs("\nexit status: 0 success, 1 error (reason on stderr), 2 usage error\n"
          "(docs/cli/exit-status.md)\n", f);
}

mcp_store *
admin_store(admin_ctx *ctx)
{
    if (ctx->store != NULL)
        return ctx->store;
    mcp_store_opts o;
    mcp_store_opts_default(&o);
    o.readers = 1;
    o.cache_max = 0;   /* one command, one read: nothing to cache */
    /* not a request path: an operator's command waits as long for a read lock as for the
     * write lock, instead of the server's short lookup bound */
    o.read_timeout_ms = o.busy_timeout_ms;
    o.create = ctx->create;
    mcp_error err;
    mcp_error_clear(&err);
    struct stat sb;
    /* a file that is not there is named, not opened (a PostgreSQL URI is the server's business) */
    if (!ctx->create && strstr(ctx->db_path, "://") == NULL && stat(ctx->db_path, &sb) != 0) {
        admin_fail("%s: no such file (`mcp-admin --db %s init` creates a store)", ctx->db_path,
                   ctx->db_path);
        return NULL;
    }
    if (mcp_store_open(ctx->db_path, &o, &ctx->store, &err) != MCP_OK) {
        char shown[512]; /* a PostgreSQL URI without its password */
        mcp_store_display_name(ctx->db_path, shown, sizeof shown);
        if (!ctx->create)
            admin_fail("%s: %s (no store there? `mcp-admin --db ... init` creates one)", shown,
                       err.message);
        else
            admin_fail("%s: %s", shown, err.message);
        return NULL;
    }
    return ctx->store;
}

bool
admin_parse_int64(const char *s, int64_t *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return false;
    int64_t v = 0;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return false;
        int d = *s - '0';
        if (v > (INT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

const char *
admin_time(int64_t t, char buf[32])
{
    if (t == 0)
        return "-";
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL || strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, 32, "%lld", (long long)t);
    return buf;
}

int
admin_print_json(json_t *v)
{
    if (v == NULL)
        return admin_fail("out of memory");
    int rc = json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII) == 0 ? ADMIN_EXIT_OK
                                                                           : ADMIN_EXIT_ERROR;
    json_decref(v);
    if (rc != ADMIN_EXIT_OK)
        return admin_fail("cannot write output");
    fputc('\n', stdout);
    return rc;
}

int
admin_store_call(admin_ctx *ctx, admin_call_fn fn, void *arg)
{
    mcp_store *st = admin_store(ctx);
    if (st == NULL)
        return ADMIN_EXIT_ERROR;
    mcp_error err;
    mcp_error_clear(&err);
    return fn(st, arg, &err) == MCP_OK ? ADMIN_EXIT_OK : admin_fail_err(&err);
}

typedef struct store_op_call {
    admin_store_op op;
    const char    *arg;
} store_op_call;

static mcp_status
call_store_op(mcp_store *st, void *arg, mcp_error *err)
{
    const store_op_call *c = arg;
    return c->op(st, c->arg, err);
}

int
admin_run_store_op(admin_ctx *ctx, const char *group, const char *action, int argc,
                   char **argv, admin_store_op op)
{
    char *pos[1] = { NULL };
    int rc = admin_parse(ctx, group, action, argc, argv, NULL, pos, 1, 1, NULL);
    store_op_call c = { op, pos[0] };
    return rc != ADMIN_EXIT_OK ? rc : admin_store_call(ctx, call_store_op, &c);
}

int
admin_run_list(admin_ctx *ctx, const char *group, const char *action, int argc, char **argv,
               const admin_opt *opts, const void *arg, admin_list_fn fn)
{
    int rc = admin_parse(ctx, group, action, argc, argv, opts, NULL, 0, 0, NULL);
    if (rc != ADMIN_EXIT_OK)
        return rc;
    mcp_store *st = admin_store(ctx);
    if (st == NULL)
        return ADMIN_EXIT_ERROR;
    admin_list ls;
    if (admin_list_init(ctx, &ls) != ADMIN_EXIT_OK)
        return ADMIN_EXIT_ERROR;
    mcp_error err;
    mcp_error_clear(&err);
    return admin_list_finish(&ls, fn(st, arg, &ls, &err), &err);
}

int
admin_list_init(admin_ctx *ctx, admin_list *ls)
{
    *ls = (admin_list){ .json = ctx->json, .arr = ctx->json ? json_array() : NULL,
                        .now = (int64_t)time(NULL) };
    if (ctx->json && ls->arr == NULL)
        return admin_fail("out of memory");
    return ADMIN_EXIT_OK;
}

int
admin_list_finish(admin_list *ls, mcp_status s, const mcp_error *err)
{
    if (s != MCP_OK) {
        json_decref(ls->arr);
        return admin_fail_err(err);
    }
    if (ls->nomem) {
        json_decref(ls->arr);
        return admin_fail("out of memory");
    }
    return ls->json ? admin_print_json(ls->arr) : ADMIN_EXIT_OK;
}

json_t *
admin_json_strings(const char *const *v, size_t n, bool *nomem)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < n; i++)
        if (json_array_append_new(arr, json_string(v[i])) != 0)
            *nomem = true;
    return arr;
}

void
admin_print_strings(const char *const *v, size_t n, const char *sep)
{
    for (size_t i = 0; i < n; i++)
        printf("%s%s", i ? sep : "", v[i]);
    printf("%s", n == 0 ? "-" : "");
}

void
admin_list_free(const char **list)
{
    free((void *)list);
}

static bool
list_append(const char ***list, size_t *count, const char *v)
{
    const char **l = realloc((void *)*list, (*count + 2) * sizeof *l);
    if (l == NULL)
        return false;
    l[(*count)++] = v;
    l[*count] = NULL;
    *list = l;
    return true;
}

int
admin_parse(admin_ctx *ctx, const char *group, const char *action, int argc, char **argv,
            const admin_opt *opts, char **pos, size_t min_pos, size_t max_pos, size_t *npos)
{
    size_t n = 0;
    bool only_pos = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == '\0') {
            if (n == max_pos)
                return admin_usage_error(group, action, "unexpected argument '%s'", a);
            pos[n++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        /* "--opt=value" or "--opt value" */
        const char *eq = strchr(a, '=');
        size_t nlen = eq != NULL ? (size_t)(eq - a) : strlen(a);
        const char *inline_val = eq != NULL ? eq + 1 : NULL;

        if (nlen == 6 && strncmp(a, "--json", 6) == 0 && inline_val == NULL) {
            ctx->json = true;
            continue;
        }
        const admin_opt *o = NULL;
        for (size_t k = 0; opts != NULL && opts[k].name != NULL; k++)
            if (strlen(opts[k].name) == nlen && strncmp(opts[k].name, a, nlen) == 0)
                o = &opts[k];
        bool is_db = nlen == 4 && strncmp(a, "--db", 4) == 0;
        if (o == NULL && !is_db)
            return admin_usage_error(group, action, "unknown option %.*s", (int)nlen, a);
        if (o != NULL && o->flag != NULL) {
            if (inline_val != NULL)
                return admin_usage_error(group, action, "%.*s takes no value", (int)nlen, a);
            *o->flag = true;
            continue;
        }
        const char *val = inline_val;
        if (val == NULL) {
            if (i + 1 >= argc)
                return admin_usage_error(group, action, "%s needs a value", a);
            val = argv[++i];
        }
        if (is_db)
            ctx->db_path = val;
        else if (o->list != NULL) {
            if (!list_append(o->list, o->count, val))
                return admin_fail("out of memory");
        } else
            *o->value = val;
    }
    if (n < min_pos)
        return admin_usage_error(group, action, "missing argument");
    if (npos != NULL)
        *npos = n;
    return ADMIN_EXIT_OK;
}

/*
 * `init`: the explicit way to create a store (servers refuse a --db that does not exist, so a
 * typo cannot create an empty one). Says what it did.
 */
static int
cmd_init(admin_ctx *ctx, int nargs)
{
    if (nargs != 0)
        return admin_usage_error(NULL, NULL, "init takes no arguments");
    if (ctx->db_path[0] == '\0')
        return admin_usage_error(NULL, NULL, "--db is empty");
    struct stat sb;
    bool existed = stat(ctx->db_path, &sb) == 0;
    ctx->create = true;
    mcp_store *st = admin_store(ctx);
    if (st == NULL)
        return ADMIN_EXIT_ERROR;
    int schema = mcp_store_schema_version(st);
    mcp_store_close(st);
    ctx->store = NULL;
    char shown[512];                      /* a PostgreSQL URI without its password */
    mcp_store_display_name(ctx->db_path, shown, sizeof shown);
    if (strstr(ctx->db_path, "://") != NULL)
        printf("store %s ready (schema %d)\n", shown, schema);
    else
        printf("%s store %s (schema %d)\n", existed ? "kept the existing" : "created", shown,
               schema);
    return ADMIN_EXIT_OK;
}

int
main(int argc, char **argv)
{
    /* Files this tool creates (the store and its -wal/-shm) hold credential hashes: owner only.
     * The store creates its file 0600 anyway; this also covers anything else created here. */
    umask(077);
    admin_ctx ctx = { .db_path = NULL, .json = false, .create = false, .store = NULL };
    const char *env = getenv("MCP_DB");
    ctx.db_path = env != NULL && env[0] != '\0' ? env : "./mcp.db";

    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            print_help(stdout);
            return ADMIN_EXIT_OK;
        } else if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
            printf("mcp-admin %s\n", MCP_VERSION_STRING);
            return ADMIN_EXIT_OK;
        } else if (strcmp(a, "--json") == 0) {
            ctx.json = true;
        } else if (strcmp(a, "--db") == 0) {
            if (i + 1 >= argc)
                return admin_usage_error(NULL, NULL, "--db needs a value");
            ctx.db_path = argv[++i];
        } else if (strncmp(a, "--db=", 5) == 0) {
            ctx.db_path = a + 5;
        } else {
            return admin_usage_error(NULL, NULL, "unknown option %s", a);
        }
    }
    if (i >= argc)
        return admin_usage_error(NULL, NULL, "missing command");
    if (strcmp(argv[i], "init") == 0)
        return cmd_init(&ctx, argc - i - 1);
    const char *group = argv[i++];
    if (find_command(group, NULL) == NULL)
        return admin_usage_error(NULL, NULL, "unknown command '%s'", group);
    if (i >= argc)
        return admin_usage_error(NULL, NULL, "'%s' needs an action", group);
    const char *action = argv[i++];
    const admin_command *c = find_command(group, action);
    if (c == NULL)
        return admin_usage_error(NULL, NULL, "unknown command '%s %s'", group, action);
    if (ctx.db_path[0] == '\0')
        return admin_usage_error(group, action, "--db is empty");

    ctx.create = c->creates;
    int rc = c->run(&ctx, argc - i, argv + i);
    /* Commands that change the store say so (on stderr: stdout stays data); the others print
     * their result already (list, verify, create, purge, check, ...). */
    static const char *const changes[] = { "add", "remove", "enable", "disable", "grant",
                                           "revoke", "set", "passwd", NULL };
    bool changed = false;
    for (size_t k = 0; changes[k] != NULL; k++)
        changed = changed || strcmp(action, changes[k]) == 0;
    if (rc == ADMIN_EXIT_OK && changed) {
        fprintf(stderr, "mcp-admin: done: %s %s", group, action);
        for (int k = i; k < argc; k++)
            fprintf(stderr, " %s", argv[k]);
        char shown[4096]; /* a postgresql:// URI's password is never printed */
        fprintf(stderr, " (%s)\n", mcp_store_display_name(ctx.db_path, shown, sizeof shown));
    }
    mcp_store_close(ctx.store);
    if (fflush(stdout) != 0 && rc == ADMIN_EXIT_OK)
        rc = admin_fail("cannot write output");
    return rc;
}
