/* JSON-RPC 2.0 envelopes on jansson (mcp__rpc_*). */
#ifndef MCP_SRC_JSONRPC_H
#define MCP_SRC_JSONRPC_H

#include <jansson.h>
#include <mcp/server.h>

#include "common/common.h"

#define MCP__JSON_MAX_DEPTH 64

typedef enum mcp__rpc_kind {
    MCP__RPC_REQUEST,
    MCP__RPC_NOTIFICATION,
    MCP__RPC_RESPONSE,   /* result or error, answering one of our requests */
} mcp__rpc_kind;

typedef struct mcp__rpc_msg {
    mcp__rpc_kind kind;
    json_t       *root;      /* owned: the whole message */
    const char   *method;    /* borrowed from root (requests, notifications) */
    json_t       *id;        /* borrowed from root (requests, responses); string or integer */
    json_t       *params;    /* borrowed; object or NULL */
    json_t       *result;    /* borrowed (responses) */
    json_t       *error;     /* borrowed (error responses) */
} mcp__rpc_msg;

/*
 * Parse one JSON-RPC message. On failure fills err with rpc_code -32700 (not JSON) or -32600
 * (JSON but not a valid message); *id_out (if non-NULL) gets a new reference to the id when one
 * could be recovered, so the error response can echo it.
 */
mcp_status mcp__rpc_parse(const char *buf, size_t len, mcp__rpc_msg *out, json_t **id_out,
                          mcp_error *err);
void mcp__rpc_msg_cleanup(mcp__rpc_msg *m);

/* Serialize {"jsonrpc":"2.0","id":id,"result":result}; steals result. Caller frees with mcp__free. */
char *mcp__rpc_result(const json_t *id, json_t *result, size_t *len);
/* The same with extra members, serialized already (tail: tlen bytes such as "a":1,"b":2),
 * appended to the result object (which must be an object); steals result. */
char *mcp__rpc_result_tail(const json_t *id, json_t *result, const char *tail, size_t tlen,
                           size_t *len);
/* The same around a result serialized already (rlen bytes of JSON, borrowed). */
char *mcp__rpc_result_raw(const json_t *id, const char *result, size_t rlen, size_t *len);
/* {"jsonrpc":"2.0","id":id|null,"error":{"code":..,"message":..[,"data":data]}}; steals data. */
char *mcp__rpc_error(const json_t *id, int32_t code, const char *message, json_t *data, size_t *len);
/* The same for protocol 2026-07-28, whose schema has no null id: an unreadable id (NULL) is
 * left out of the envelope instead of sent as null. */
char *mcp__rpc_error_noid(const json_t *id, int32_t code, const char *message, json_t *data,
                          size_t *len);
/* {"jsonrpc":"2.0","method":m,"params":params}; steals params (may be NULL). */
char *mcp__rpc_notification(const char *method, json_t *params, size_t *len);
/* {"jsonrpc":"2.0","id":id,"method":m,"params":params}; steals params. */
char *mcp__rpc_request(const json_t *id, const char *method, json_t *params, size_t *len);

/* Dump compactly into an mcp__alloc'd string (NULL on failure). */
char *mcp__json_dump(const json_t *v, size_t *len);
/* The same, appended to b. */
bool mcp__json_dump_into(mcp_buf *b, const json_t *v);
/* Append s (n bytes of valid UTF-8) escaped as the inside of a JSON string, byte for byte as
 * jansson's compact dump writes it: \" \\ \b \f \n \r \t, other control characters \u00XX,
 * everything else (also '/' and non-ASCII) as it is. */
mcp_status mcp__json_escape_into(mcp_buf *b, const char *s, size_t n);
/* Depth of nested arrays/objects (stops counting past limit). */
int mcp__json_depth(const json_t *v, int limit);

/* The params member a 2026-07-28 request's Mcp-Name header mirrors for method (SEP-2243):
 * "name" for tools/call and prompts/get, "uri" for resources/read, "taskId" for tasks/get,
 * tasks/update and tasks/cancel; NULL for every other method (or NULL). The one table the
 * server's header check and the client's header writer both read. */
const char *mcp__rpc_name_member(const char *method);

/* ---- Reading a peer's messages the way a client does ----------------------------------- */

/*
 * Classify an already-parsed message as the client reads what a server sends: leniently, since
 * it only needs to route it ("jsonrpc" is not checked, "params" may be of any type, batches are
 * split by the caller). An object whose "method" is a string is a request (it has a non-null
 * "id") or a notification; any other object with an "id" is a response (result and error may
 * both be absent: the caller decides what that means). Fills out with pointers borrowed from msg
 * (out->root is NULL: msg stays the caller's, mcp__rpc_msg_cleanup is not needed).
 * @return MCP_OK, or MCP_ERR_PARSE when msg is not an object or is none of the above.
 */
mcp_status mcp__rpc_classify(const json_t *msg, mcp__rpc_msg *out);
/* Is msg the response to our request with this integer id: an object without "method" whose
 * "id" is that integer and that carries "result" or "error"? */
bool mcp__rpc_is_response_to(const json_t *msg, json_int_t id);
/* The parts of a response's "error" member: *code is its integer "code" (-32603 when absent or
 * not an integer), *message its string "message" (NULL when absent), borrowed from error. */
void mcp__rpc_error_parts(const json_t *error, json_int_t *code, const char **message);

#endif
