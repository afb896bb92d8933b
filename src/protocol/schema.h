/*
 * Private to src/protocol (and its tests and fuzzers): JSON Schema 2020-12 validation of tool
 * arguments and structured content, the subset tool schemas use (docs/design/server-core.md,
 * "Argument validation"). A schema is compiled once, at registration, into an immutable tree
 * that any number of threads may validate against at the same time.
 */
#ifndef MCP_SRC_PROTOCOL_SCHEMA_H
#define MCP_SRC_PROTOCOL_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include <mcp/status.h>

typedef struct mcp__schema mcp__schema;

/* Limits: a hostile schema or instance cannot use more time or stack than these allow. */
#define MCP__SCHEMA_MAX_DEPTH 64          /* nesting of subschemas in the schema document */
#define MCP__SCHEMA_MAX_NODES 20000       /* compiled subschemas per document */
#define MCP__SCHEMA_MAX_EVAL_DEPTH 128    /* validation recursion (subschemas and $ref hops) */
#define MCP__SCHEMA_MAX_STEPS 4000000     /* validation work units per instance */
#define MCP__SCHEMA_MAX_PATTERN 1024      /* bytes of one pattern */

/*
 * Compile a schema document (an object or a boolean). root names it in messages
 * ("inputSchema"). On failure why says which keyword is wrong and where
 * ("inputSchema/properties/q/pattern: ...").
 * @return MCP_OK, MCP_ERR_INVALID_ARG (bad or unsupported schema), MCP_ERR_TOO_LARGE (past a
 *         limit above), MCP_ERR_NOMEM. *out is set only on MCP_OK.
 */
mcp_status mcp__schema_compile(const json_t *schema, const char *root, mcp__schema **out,
                               char *why, size_t whylen);
void mcp__schema_free(mcp__schema *s);

/*
 * Validate instance. root names it in messages ("arguments"); on false why says where and why
 * ("arguments/items/2/qty: expected integer"). Read-only on s: thread-safe.
 */
bool mcp__schema_validate(const mcp__schema *s, const json_t *instance, const char *root,
                          char *why, size_t whylen);

#endif
