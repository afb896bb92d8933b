/* Input requests and responses of protocol 2026-07-28 (SEP-2322, "MRTR"): the pure parts.
 *
 * A handler asks for input under a key; a 2026 client retries the original request with
 * params.inputResponses.<key>. These helpers decide which methods may ask, which client
 * capability an ask needs, whether a client's answer has the shape of the result it answers,
 * and build the InputRequiredResult. The request/handler glue (mcp_ctx_input) is for the
 * implementation round, on the restructured core; see docs/design/protocol-2026.md 4.6.
 */
#ifndef MCP_SRC_PROTOCOL_INPUT_H
#define MCP_SRC_PROTOCOL_INPUT_H

#include <jansson.h>

#include "common/common.h"

#define MCP__INPUT_MAX_KEY 128u   /* longer keys are refused (they are server-chosen anyway) */

/* May a result of this client request be input_required? (prompts/get, resources/read,
 * tools/call; the spec: "MUST NOT ... on any other client requests".) */
bool mcp__input_allowed(const char *client_method);

/* The MCP__CAP_* bits (protocol/meta.h) an ask needs from the client: elicitation/create ->
 * ELICIT_FORM, or ELICIT_URL when params.mode is "url"; sampling/createMessage -> SAMPLING, plus
 * SAMPLING_TOOLS when params.tools is present; roots/list -> ROOTS. 0 for any other method
 * (which is not an input request at all). */
unsigned mcp__input_needed_caps(const char *ask_method, const json_t *ask_params);

/* Is key usable as an inputRequests key? Non-empty, at most MCP__INPUT_MAX_KEY bytes, printable
 * ASCII (it becomes a JSON object key the client echoes back). */
bool mcp__input_key_ok(const char *key);

/* params.inputResponses of a retry: absent is fine (*out = NULL); present must be an object.
 * -32602 "params.inputResponses: must be an object" otherwise (null included). */
MCP_NODISCARD mcp_status mcp__input_responses_get(const json_t *params, const json_t **out,
                                                  mcp_error *err);

/* Does resp have the shape of the result of ask_method? Checked:
 *   elicitation/create    ElicitResult: action in accept|decline|cancel; content, when present,
 *                         an object whose values are string, integer, boolean or string arrays
 *                         (number also allowed: ElicitResult is validated against the schema the
 *                         server sent, and a form may ask for a number)
 *   sampling/createMessage CreateMessageResult: role user|assistant, model string, content an
 *                         object or array
 *   roots/list            ListRootsResult: roots array of objects each with a string uri
 * -32602 naming "params.inputResponses.<key>..." on failure. */
MCP_NODISCARD mcp_status mcp__input_response_check(const char *ask_method, const char *key,
                                                   const json_t *resp, mcp_error *err);

/* {"resultType":"input_required","inputRequests":asks,"requestState":state}. asks (borrowed;
 * an object key -> {method, params}) may be NULL when state is non-NULL, and state may be NULL
 * when asks is non-empty; both empty is MCP_ERR_INVALID_ARG (spec: at least one of them).
 * @param[out] out New reference; set only on MCP_OK. */
MCP_NODISCARD mcp_status mcp__input_required_result(const json_t *asks, const char *state,
                                                    json_t **out, mcp_error *err);

#endif
