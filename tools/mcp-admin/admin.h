/*
 * mcp-admin: shared declarations. Each command group lives in its own cmd_<group>.c and
 * exports a table of admin_command rows; main.c lists the tables (see ADMIN_COMMAND_TABLES).
 * A tool includes only the public API (<mcp/...>), like any other program using libmcp.
 */
#ifndef MCP_ADMIN_H
#define MCP_ADMIN_H

#include <jansson.h>
#include <mcp/store.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit statuses (docs/cli/mcp-admin.md). */
#define ADMIN_EXIT_OK    0
#define ADMIN_EXIT_ERROR 1
#define ADMIN_EXIT_USAGE 2

typedef struct admin_ctx {
    const char *db_path; /* --db, else $MCP_DB, else ./mcp.db */
    bool        json;    /* --json: machine-readable output */
    bool        create;  /* the running command may create the store file */
    mcp_store  *store;   /* opened on demand by admin_store() */
} admin_ctx;

/* Run a command: argv[0] is the first argument after "<group> <action>". Returns an exit
 * status. */
typedef int (*admin_run_fn)(admin_ctx *ctx, int argc, char **argv);

typedef struct admin_command {
    const char  *group;   /* "user" */
    const char  *action;  /* "add" */
    const char  *args;    /* usage after "group action", e.g. "SUBJECT [--name N] [--role R]..." */
    const char  *summary; /* one line for --help */
    bool         creates; /* may create the store file when it does not exist */
    admin_run_fn run;
} admin_command;

/* Command tables, each terminated by a row with group == NULL. */
extern const admin_command admin_user_commands[];
extern const admin_command admin_role_commands[];
extern const admin_command admin_key_commands[];
extern const admin_command admin_token_commands[];

/* ---- helpers for commands (main.c) ------------------------------------------------------ */

/* The store, opened on first use (creating the file only when the command allows it).
 * NULL after printing the reason. */
mcp_store *admin_store(admin_ctx *ctx);

/* Print "mcp-admin: <message>" to stderr and return ADMIN_EXIT_ERROR. */
int admin_fail(const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* Print "mcp-admin: <message>" plus the command's usage line; return ADMIN_EXIT_USAGE. */
int admin_usage_error(const char *group, const char *action, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Report a failed library call: admin_fail("%s", err->message). */
int admin_fail_err(const mcp_error *err);

/* Command-line options of one command. */
typedef struct admin_opt {
    const char   *name;     /* "--name" */
    const char  **value;    /* option with an argument: the last value given */
    const char ***list;     /* repeatable option: values appended (array owned by the caller,
                               free with admin_list_free) */
    size_t       *count;    /* with list: number of values */
    bool         *flag;     /* option without argument */
} admin_opt;

/*
 * Parse argv: options from opts (plus the global --json and --db, accepted anywhere),
 * "--" ends options, everything else is positional (pos must have room for max_pos).
 * Returns ADMIN_EXIT_OK or ADMIN_EXIT_USAGE (after printing why).
 */
int admin_parse(admin_ctx *ctx, const char *group, const char *action, int argc, char **argv,
                const admin_opt *opts, char **pos, size_t min_pos, size_t max_pos, size_t *npos);
void admin_list_free(const char **list);

/* Parse a non-negative decimal integer; false on anything else. */
bool admin_parse_int64(const char *s, int64_t *out);

/* Print v as indented JSON on stdout and release it (steals v; NULL means out of memory).
 * Returns an exit status. */
int admin_print_json(json_t *v);

/* Format unix seconds as "2025-01-31T12:00:00Z", or "-" for 0. buf needs 32 bytes. */
const char *admin_time(int64_t t, char buf[32]);

/* The body of a command whose arguments parsed: open the store (admin_store) and call
 * fn(store, arg, err); a failure of either is reported. Returns an exit status. */
typedef mcp_status (*admin_call_fn)(mcp_store *st, void *arg, mcp_error *err);
int admin_store_call(admin_ctx *ctx, admin_call_fn fn, void *arg);

/* A command that takes one positional argument and calls op(store, argument, err). Returns an
 * exit status. */
typedef mcp_status (*admin_store_op)(mcp_store *st, const char *arg, mcp_error *err);
int admin_run_store_op(admin_ctx *ctx, const char *group, const char *action, int argc,
                       char **argv, admin_store_op op);

/* State shared by the list commands and their per-row callbacks. */
typedef struct admin_list {
    bool    json;   /* --json: rows go into arr */
    json_t *arr;
    bool    nomem;  /* a callback ran out of memory: the listing fails */
    size_t  n;      /* rows seen so far (the text header goes before row 1) */
    int64_t now;    /* unix seconds when the listing started */
} admin_list;

/* Start a listing. ADMIN_EXIT_OK, or ADMIN_EXIT_ERROR after printing why. */
int admin_list_init(admin_ctx *ctx, admin_list *ls);
/* End a listing whose store call returned s (err filled when s is not MCP_OK): print the JSON
 * array under --json, or report the failure. Releases ls. Returns an exit status. */
int admin_list_finish(admin_list *ls, mcp_status s, const mcp_error *err);
/* A list command: no positional arguments (opts as given, may be NULL), then
 * fn(store, arg, ls, err) fills the listing, printed as a table or (--json) an array. fn is
 * called after the options are parsed, so arg may point at an option's value. */
typedef mcp_status (*admin_list_fn)(mcp_store *st, const void *arg, admin_list *ls,
                                    mcp_error *err);
int admin_run_list(admin_ctx *ctx, const char *group, const char *action, int argc, char **argv,
                   const admin_opt *opts, const void *arg, admin_list_fn fn);
/* A JSON array of strings v[0..n) (new reference); sets *nomem when anything fails. */
json_t *admin_json_strings(const char *const *v, size_t n, bool *nomem);
/* Print v[0..n) on stdout separated by sep, or "-" when n is 0 (no newline). */
void admin_print_strings(const char *const *v, size_t n, const char *sep);

#endif
