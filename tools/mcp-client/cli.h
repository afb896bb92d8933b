/* mcp-client: shared declarations of the CLI's files. */
#ifndef MCP_CLIENT_CLI_H
#define MCP_CLIENT_CLI_H

#include <mcp/client.h>
#include <stdio.h>

/* Exit codes (docs/cli/mcp-client.md, EXIT STATUS). */
enum {
    EXIT_OK = 0,
    EXIT_FAIL = 1,
    EXIT_USAGE = 2,
    EXIT_UNAUTHENTICATED = 3,
    EXIT_FORBIDDEN = 4
};

/* Map a library status to the CLI exit code. */
int cli_exit_code(mcp_status st);
/* Print "mcp-client: <what>: <message>" as one line on stderr; returns the exit code. */
int cli_fail(const char *what, const mcp_error *err);

/* Human-readable output of MCP results (output.c). */
void out_tools(FILE *f, const json_t *tools);
void out_call_result(FILE *f, const json_t *result);
void out_resources(FILE *f, const json_t *resources, const json_t *templates);
void out_read_result(FILE *f, const json_t *result);
void out_prompts(FILE *f, const json_t *prompts);
void out_prompt(FILE *f, const json_t *result);
/* Pretty JSON plus newline. */
void out_json(FILE *f, const json_t *v);

/* `mcp-client conformance URL` (conformance.c). */
int conformance_main(const char *url, int verbose);

#endif
