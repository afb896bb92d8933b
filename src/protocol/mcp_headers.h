/* Mcp-Method / Mcp-Name / Mcp-Param-{Name} request headers (protocol 2026-07-28, SEP-2243).
 *
 * A 2026 POST mirrors the body's method into Mcp-Method and params.name / params.uri into
 * Mcp-Name (tools/call, prompts/get, resources/read; the tasks extension adds taskId). A value
 * that is not plain header-safe ASCII is sent as "=?base64?<standard base64 of UTF-8>?=". These
 * functions are pure (no request, no transport) so that the HTTP head phase can use them before
 * the body is read (authorization from the headers) and the body phase can verify them after.
 */
#ifndef MCP_SRC_PROTOCOL_MCP_HEADERS_H
#define MCP_SRC_PROTOCOL_MCP_HEADERS_H

#include <jansson.h>

#include "common/common.h"

#define MCP__HDR_MAX_VALUE 8192u   /* decoded Mcp-Name / Mcp-Param-* values longer than this fail */

/* May v be sent as a plain header value? RFC 9110 field-value characters only: VCHAR
 * (0x21-0x7E), SP and HTAB, no leading/trailing whitespace, not empty. This is the encoder's rule
 * (a client base64-encodes anything else); a receiver first trims OWS (mcp__hdr_decode does). */
bool mcp__hdr_value_plain_ok(const char *v, size_t len);

/* An x-mcp-header name (the {Name} of Mcp-Param-{Name}): 1*tchar (RFC 9110 5.6.2). */
bool mcp__hdr_token_ok(const char *name, size_t len);

/* Decode a Mcp-Name / Mcp-Param-* header value. Surrounding SP/HTAB is trimmed first (RFC 9110
 * 5.5 OWS; the pending suite scenario http-header-validation sends "  name  "). The sentinel form is base64-decoded (strict:
 * padding required, no whitespace, no stray bits; the result must be UTF-8 without NUL), a plain
 * value must pass mcp__hdr_value_plain_ok.
 * @param[out] out NUL-terminated, caller frees with mcp__free; set only on MCP_OK.
 * @return MCP_OK, MCP_ERR_INVALID_ARG (rpc_code -32020, message says why), MCP_ERR_TOO_LARGE,
 *         MCP_ERR_NOMEM. */
MCP_NODISCARD mcp_status mcp__hdr_decode(const char *v, size_t len, char **out, size_t *outlen,
                                         mcp_error *err);

/* What the head phase learns from the headers alone, before the body. */
typedef struct mcp__hdr_target {
    char        method[64]; /* Mcp-Method, OWS trimmed; "" when absent (longer is refused) */
    char       *name;       /* decoded Mcp-Name, or NULL (owned; mcp__hdr_target_cleanup) */
    size_t      name_len;
} mcp__hdr_target;

/* Read Mcp-Method and Mcp-Name (each NULL when absent; OWS around either is trimmed) for a 2026
 * request:
 *   Mcp-Method missing or not a plain value         -> -32020
 *   method needs Mcp-Name and it is missing          -> -32020
 *   Mcp-Name malformed (bad chars, bad base64)       -> -32020
 * The result is only a claim: mcp__hdr_verify_body must run on the body before the handler. */
MCP_NODISCARD mcp_status mcp__hdr_target_read(const char *mcp_method, const char *mcp_name,
                                              mcp__hdr_target *out, mcp_error *err);
void mcp__hdr_target_cleanup(mcp__hdr_target *t);

/* The body must say what the headers said: method == Mcp-Method, and for methods with an
 * Mcp-Name, params.<field> is a string equal (bytewise, after decoding) to it. -32020 on any
 * difference, with a message naming the header (never echoing the body value). */
MCP_NODISCARD mcp_status mcp__hdr_verify_body(const mcp__hdr_target *t, const char *body_method,
                                              const json_t *params, mcp_error *err);

/* Does decoded header value hv (NUL-terminated) represent the argument value v?
 *   string  -> byte equality
 *   integer -> numeric equality: hv is an optional '-', digits, and optionally '.' followed by
 *              zeros only ("42.0" == 42), within +-(2^53-1)
 *   boolean -> "true" / "false" exactly (lowercase)
 * Anything else (number, null, object, array) never matches. */
bool mcp__hdr_param_matches(const char *hv, const json_t *v);

#endif
