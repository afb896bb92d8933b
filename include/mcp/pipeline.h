/*
 * libmcp: the request pipeline (STYLE.md section 10): its fixed phases, the middleware that
 * plugs into them, and what a middleware item may read and set on a request. Included by
 * <mcp/server.h>; authentication and policy modules (<mcp/store.h>, <mcp/jwt.h>,
 * <mcp/policy.h>, ...) plug in through these declarations.
 */
#ifndef MCP_PIPELINE_H
#define MCP_PIPELINE_H

#include <mcp/auth.h>
#include <mcp/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mcp_server mcp_server;
typedef struct mcp_request mcp_request; /* one JSON-RPC message travelling through the phases */

typedef enum mcp_phase {
    MCP_PHASE_TRANSPORT, /* size limits, Origin/Host checks (headers only) */
    MCP_PHASE_AUTHN,     /* credentials -> principal (headers only) */
    MCP_PHASE_AUTHZ,     /* may this principal call this method / target? (after parsing) */
    MCP_PHASE_HANDLER,   /* reserved: the protocol dispatcher */
    MCP_PHASE_COUNT_
} mcp_phase;

/**
 * A pipeline item. Return MCP_OK to continue, anything else to stop the request (fail closed):
 * MCP_ERR_UNAUTHENTICATED -> 401, MCP_ERR_FORBIDDEN -> 403, MCP_ERR_RATE_LIMITED -> 429,
 * MCP_ERR_TOO_LARGE -> 413, MCP_ERR_STORE -> 503, others -> 400.
 */
typedef mcp_status (*mcp_middleware_fn)(mcp_request *req, void *ctx, mcp_error *err);

/** Append fn to phase. ctx must outlive the server. Not allowed once the server runs. */
MCP_EXTERN mcp_status mcp_server_use(mcp_server *srv, mcp_phase phase, mcp_middleware_fn fn, void *ctx,
                          mcp_error *err);

/** Request header by name (case-insensitive), or NULL. Borrowed until the request ends. */
MCP_EXTERN const char *mcp_request_header(const mcp_request *req, const char *name);
/** HTTP method ("POST", "GET", "DELETE"), or "STDIO". */
MCP_EXTERN const char *mcp_request_http_method(const mcp_request *req);
/** JSON-RPC method (NULL before parsing, i.e. in TRANSPORT/AUTHN, and for responses). */
MCP_EXTERN const char *mcp_request_rpc_method(const mcp_request *req);
/** Tool or prompt name / resource URI a request targets (NULL for other methods). */
MCP_EXTERN const char *mcp_request_target(const mcp_request *req);
/** Does the target name a registered tool / prompt / resource? (false before parsing) */
MCP_EXTERN bool mcp_request_target_known(const mcp_request *req);
/** Session id the request carries, or NULL. */
MCP_EXTERN const char *mcp_request_session_id(const mcp_request *req);
/** Client address as text ("127.0.0.1"), or "" on stdio. */
MCP_EXTERN const char *mcp_request_peer(const mcp_request *req);
/**
 * May this middleware call block (network I/O such as token introspection)? False on the HTTP
 * IO threads. An AUTHN item that would have to block returns MCP_ERR_WOULD_BLOCK when this is
 * false; the server then runs the AUTHN phase again on a worker thread, where it is true.
 */
MCP_EXTERN bool mcp_request_can_block(const mcp_request *req);
/** Set the caller (takes a new reference; drops any earlier one). */
MCP_EXTERN void mcp_request_set_principal(mcp_request *req, const mcp_principal *p);
MCP_EXTERN const mcp_principal *mcp_request_principal(const mcp_request *req);
/**
 * Details for the WWW-Authenticate challenge of a 401/403: error code ("invalid_token",
 * "invalid_request", "insufficient_scope") and, for 403, the scope the caller should obtain.
 * Strings are copied. NULL leaves a field unchanged.
 */
MCP_EXTERN mcp_status mcp_request_set_challenge(mcp_request *req, const char *error, const char *scope);
/** Seconds for Retry-After on a 429. */
MCP_EXTERN void mcp_request_set_retry_after(mcp_request *req, unsigned seconds);

/** The JSON-RPC id as text (a string id in quotes), or "" before parsing / for notifications. */
MCP_EXTERN void mcp_request_rpc_id_text(const mcp_request *req, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
