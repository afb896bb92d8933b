/* Per-request _meta of protocol 2026-07-28 (SEP-2575) and the era rule for a dual-era endpoint.
 *
 * A 2026 request carries everything the server may know about the client in params._meta:
 *   io.modelcontextprotocol/protocolVersion     string, required
 *   io.modelcontextprotocol/clientCapabilities  object, required
 *   io.modelcontextprotocol/clientInfo          Implementation {name, version}, optional (SHOULD)
 *   io.modelcontextprotocol/logLevel            LoggingLevel, optional (no log without it)
 *   progressToken                               string | integer, optional
 * Nothing is carried over from an earlier request. A missing or ill-typed required field is
 * -32602 (HTTP 400); the message names the JSON path. Values are borrowed views into params.
 */
#ifndef MCP_SRC_PROTOCOL_META_H
#define MCP_SRC_PROTOCOL_META_H

#include <jansson.h>

#include "common/common.h"

#define MCP__PV_2026           "2026-07-28"
#define MCP__META_PV           "io.modelcontextprotocol/protocolVersion"
#define MCP__META_CAPS         "io.modelcontextprotocol/clientCapabilities"
#define MCP__META_CLIENT_INFO  "io.modelcontextprotocol/clientInfo"
#define MCP__META_LOG_LEVEL    "io.modelcontextprotocol/logLevel"
#define MCP__META_SERVER_INFO  "io.modelcontextprotocol/serverInfo"
#define MCP__META_SUB_ID       "io.modelcontextprotocol/subscriptionId"

/* JSON-RPC codes the 2026 revision defines (schema: HeaderMismatchError etc.). */
#define MCP__RPC_HEADER_MISMATCH       (-32020)
#define MCP__RPC_MISSING_CLIENT_CAP    (-32021)
#define MCP__RPC_UNSUPPORTED_VERSION   (-32022)

/* Client capability bits read from clientCapabilities (only what the server acts on). */
enum {
    MCP__CAP_SAMPLING       = 1u << 0,
    MCP__CAP_SAMPLING_TOOLS = 1u << 1,
    MCP__CAP_ELICIT_FORM    = 1u << 2,   /* elicitation: {} counts as form (spec: implicit) */
    MCP__CAP_ELICIT_URL     = 1u << 3,
    MCP__CAP_ROOTS          = 1u << 4,
    MCP__CAP_EXT_TASKS      = 1u << 5,   /* extensions["io.modelcontextprotocol/tasks"] */
};

typedef enum mcp__era {
    MCP__ERA_LEGACY,      /* initialize + sessions (2025-03-26 .. 2025-11-25) */
    MCP__ERA_MODERN,      /* per-request _meta (2026-07-28) */
    MCP__ERA_UNSUPPORTED, /* a version this server does not speak: -32022 with the list */
} mcp__era;

/* -1 when absent; otherwise 0 (debug) .. 7 (emergency), the order of RFC 5424 severities. */
typedef int mcp__log_threshold;

typedef struct mcp__meta26 {
    const char   *protocol_version;     /* never NULL after a successful parse */
    const json_t *client_caps;          /* the object as sent; never NULL after parse */
    unsigned      caps;                 /* MCP__CAP_* bits */
    const char   *client_name;          /* NULL when clientInfo is absent */
    const char   *client_version;
    mcp__log_threshold log_level;       /* -1: the client asked for no log messages */
    const json_t *progress_token;       /* NULL or a string/integer */
} mcp__meta26;

/* Parse params._meta (params may be NULL: then _meta is missing). On failure the status is
 * MCP_ERR_INVALID_ARG, err->rpc_code is -32602 and err->message names the path, e.g.
 * "params._meta.io.modelcontextprotocol/clientCapabilities: required". */
MCP_NODISCARD mcp_status mcp__meta26_parse(const json_t *params, mcp__meta26 *out, mcp_error *err);

/* Which era serves a request, from the MCP-Protocol-Version header value (NULL when absent) and
 * the body's method (NULL when unknown; the head phase calls it before the body is read).
 *   header 2026-07-28                   -> MODERN
 *   header one of the legacy versions   -> LEGACY
 *   header present, anything else       -> UNSUPPORTED (-32022, HTTP 400)
 *   no header, method "initialize"      -> LEGACY (a 2025-03-26 client may omit the header)
 *   no header, other or unknown method  -> LEGACY (today's behaviour: session rules apply; the
 *                                          body's _meta alone never selects MODERN, because the
 *                                          header is REQUIRED for 2026 and its absence is -32020
 *                                          once the body shows a 2026 _meta; see
 *                                          mcp__meta26_header_check) */
mcp__era mcp__era_select(const char *header_pv, const char *method);

/* Does the body's _meta protocolVersion match the header? header NULL counts as missing.
 * MCP_OK, or MCP_ERR_INVALID_ARG with rpc_code -32020 (HTTP 400) naming the mismatch. */
MCP_NODISCARD mcp_status mcp__meta26_header_check(const char *header_pv, const mcp__meta26 *m,
                                                  mcp_error *err);

/* Is pv a version this server implements (either era)? */
bool mcp__pv_supported(const char *pv);
/* The supported versions, newest first, as a new JSON array (server/discover supportedVersions
 * and UnsupportedProtocolVersionError data.supported use the same list). NULL on NOMEM. */
json_t *mcp__pv_supported_json(void);
/* error.data for -32022: {"supported":[...], "requested": requested}. NULL on NOMEM. */
json_t *mcp__pv_unsupported_data(const char *requested);

/* The MissingRequiredClientCapabilityError check: needed is a set of MCP__CAP_* bits.
 * MCP_OK when m->caps has all of them; otherwise MCP_ERR_UNSUPPORTED with rpc_code -32021 and,
 * when data is non-NULL, *data = {"requiredCapabilities": {"sampling": {}, ...}} (new ref). */
MCP_NODISCARD mcp_status mcp__meta26_require_caps(const mcp__meta26 *m, unsigned needed,
                                                  json_t **data, mcp_error *err);

/* The MCP__CAP_* bits of a ClientCapabilities object (a 2025 session's initialize); members of
 * the wrong type count as absent. */
unsigned mcp__meta_caps_bits(const json_t *caps);

/* Parse a LoggingLevel name; -1 when unknown. */
mcp__log_threshold mcp__log_level_parse(const char *name);

#endif
