/*
 * libmcp: the request pipeline (STYLE.md section 10): its fixed phases, the middleware that
 * plugs into them, and what a middleware item may read and set on a request. Included by
 * <mcp/server.h>; authentication and policy modules (<mcp/store.h>, <mcp/jwt.h>,
 * <mcp/policy.h>, ...) plug in through these declarations.
 *
 * One driver runs the phases in order; each phase is an array of items called in the order they
 * were added. Items never call "next": any status other than MCP_OK stops the request (fail
 * closed). Over HTTP the phases before the body run once the headers are in (the transport's own
 * checks, then TRANSPORT, AUTHN, the session owner check, and for GET/DELETE AUTHZ); the body is
 * read only after them; then it is parsed, and AUTHZ and the handler run. stdio runs every
 * phase for each line.
 *
 * Lifetimes: an mcp_request is owned by the transport and lives until its response is sent;
 * a middleware item or hook may use it only during its call. Strings returned by the
 * mcp_request_* accessors are borrowed until the request ends (copy them to keep them).
 *
 * Thread safety: mcp_server_use() is setup only (before mcp_server_listen_http() /
 * mcp_server_run_stdio()). The mcp_request_* functions may be called only by the middleware
 * item or hook that was given the request, on its thread, during that call. Items are called
 * concurrently for different requests, from HTTP IO threads, worker threads and the stdio
 * reader: they and their ctx must be thread-safe.
 */
#ifndef MCP_PIPELINE_H
#define MCP_PIPELINE_H

#include <mcp/auth.h>
#include <mcp/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mcp_server mcp_server;
/* One JSON-RPC message (or one GET/DELETE) travelling through the phases; opaque, owned by the
 * transport. @since 0.1 */
typedef struct mcp_request mcp_request;

/** The phases, in the order they run. @since 0.1 */
typedef enum mcp_phase {
    MCP_PHASE_TRANSPORT, /* size limits, Origin/Host checks (headers only); over HTTP the
                            transport's built-in checks run first, then these items */
    MCP_PHASE_AUTHN,     /* credentials -> principal (headers only) */
    MCP_PHASE_AUTHZ,     /* may this principal call this method / target? After parsing for a
                            JSON-RPC request (not for notifications and responses, which get no
                            answer); for GET and DELETE right after AUTHN and the session
                            owner check, with no method or target. The built-in check of the
                            target's access rule runs after these items */
    MCP_PHASE_HANDLER,   /* reserved: the protocol dispatcher (mcp_server_use() refuses it) */
    MCP_PHASE_COUNT_
} mcp_phase;

/**
 * A pipeline item. Return MCP_OK to continue, anything else to stop the request (fail closed);
 * put the reason in err (mcp_error_set(); mcp_error_set_rpc() to choose the JSON-RPC code).
 * Over HTTP the status is answered with mcp_status_http(): MCP_ERR_UNAUTHENTICATED -> 401,
 * MCP_ERR_FORBIDDEN -> 403, MCP_ERR_NOT_FOUND -> 404, MCP_ERR_TOO_LARGE -> 413,
 * MCP_ERR_RATE_LIMITED -> 429 (Retry-After from mcp_request_set_retry_after(), default 1),
 * MCP_ERR_NOMEM and MCP_ERR_INTERNAL -> 500, MCP_ERR_STORE and MCP_ERR_WOULD_BLOCK -> 503,
 * others -> 400. 401 and 403 carry a WWW-Authenticate challenge (mcp_request_set_challenge()).
 * The body is a JSON-RPC error with err->rpc_code, or mcp_status_rpc() of the status when it is
 * 0, and err->message (for a 5xx the message is logged and the status text sent instead). On
 * stdio the same JSON-RPC error is written, with err->message.
 * @param req Borrowed for the call.
 * @param ctx As given to mcp_server_use().
 * @param err Never NULL.
 * Thread: see the top of this file; mcp_request_can_block() says whether it may block.
 * @since 0.1
 */
typedef mcp_status (*mcp_middleware_fn)(mcp_request *req, void *ctx, mcp_error *err);

/**
 * Append fn to phase; items of a phase run in the order they were added.
 * @param phase MCP_PHASE_TRANSPORT, MCP_PHASE_AUTHN or MCP_PHASE_AUTHZ.
 * @param ctx   Passed to fn; not owned by the server; must outlive it.
 * @return MCP_OK; MCP_ERR_INVALID_ARG (NULL srv or fn, phase MCP_PHASE_HANDLER or beyond);
 *         MCP_ERR_STATE (the server already runs); MCP_ERR_TOO_LARGE (16 items in that phase).
 * Thread: setup only.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_server_use(mcp_server *srv, mcp_phase phase, mcp_middleware_fn fn, void *ctx,
                          mcp_error *err);

/**
 * Request header by name (case-insensitive), or NULL (always NULL on stdio).
 * @return Borrowed until the request ends.
 * @since 0.1
 */
MCP_EXTERN const char *mcp_request_header(const mcp_request *req, const char *name);
/**
 * HTTP method: "POST", "GET" or "DELETE" (the transport refuses others with 405 before the
 * items run), or "STDIO". Static or borrowed until the request ends.
 * @since 0.1
 */
MCP_EXTERN const char *mcp_request_http_method(const mcp_request *req);
/**
 * JSON-RPC method, or NULL before parsing (TRANSPORT, AUTHN, and AUTHZ for GET/DELETE).
 * @return Borrowed until the request ends.
 * @since 0.1
 */
MCP_EXTERN const char *mcp_request_rpc_method(const mcp_request *req);
/**
 * Tool or prompt name / resource URI a request targets (tools/call, prompts/get,
 * resources/read, resources/subscribe, resources/unsubscribe), or NULL for other methods and
 * before parsing.
 * @return Borrowed until the request ends.
 * @since 0.1
 */
MCP_EXTERN const char *mcp_request_target(const mcp_request *req);
/**
 * Does the target name a registered tool / prompt / resource (a resource: an exact URI or a
 * matching template)? False before parsing and without a target.
 * @since 0.1
 */
MCP_EXTERN bool mcp_request_target_known(const mcp_request *req);
/**
 * Session id the request carries (HTTP Mcp-Session-Id; the session exists, the transport
 * checked it before the items run), or NULL: no header, stateless mode, or stdio.
 * @return Borrowed until the request ends.
 * @since 0.1
 */
MCP_EXTERN const char *mcp_request_session_id(const mcp_request *req);
/**
 * Client address as text ("127.0.0.1", "::1"), or "" on stdio (and when unknown). Never NULL.
 * @return Borrowed until the request ends.
 * @since 0.1
 */
MCP_EXTERN const char *mcp_request_peer(const mcp_request *req);
/**
 * May this middleware call block (network I/O such as token introspection)? False on the HTTP
 * IO threads, where every HTTP phase runs except a rerun of AUTHN; true on worker threads and on
 * stdio. (Over HTTP it stays true for the phases after a rerun of AUTHN, which run on an IO
 * thread again.) An AUTHN item that would have to block returns MCP_ERR_WOULD_BLOCK when this is
 * false; the server then parks the connection (before the body is read) and runs the AUTHN phase
 * again, from its first item, on a worker thread, where it is true. Only AUTHN is rerun:
 * MCP_ERR_WOULD_BLOCK from another phase fails the request (503), and from AUTHN where this is
 * true it fails with MCP_ERR_INTERNAL.
 * @since 0.1
 */
MCP_EXTERN bool mcp_request_can_block(const mcp_request *req);
/**
 * Set the caller: takes a new reference to p (the caller keeps its own) and drops any earlier
 * principal; NULL clears it. The request releases its reference when it ends; handlers see the
 * principal through mcp_ctx_principal().
 * @since 0.1
 */
MCP_EXTERN void mcp_request_set_principal(mcp_request *req, const mcp_principal *p);
/**
 * The caller set by an AUTHN item, or NULL (none set yet, or no authentication).
 * @return Borrowed until the request ends or the principal is replaced (mcp_principal_ref() to
 *         keep it).
 * @since 0.1
 */
MCP_EXTERN const mcp_principal *mcp_request_principal(const mcp_request *req);
/**
 * Details for the WWW-Authenticate challenge of a 401/403: error code ("invalid_token",
 * "invalid_request", "insufficient_scope") and, for 403, the scope the caller should obtain.
 * Strings are copied. NULL leaves a field unchanged. Without a call, a 401 says
 * "invalid_token" and a 403 "insufficient_scope". The empty error code "" means "no error
 * code": a 401 then carries a bare `Bearer resource_metadata="..."` challenge (a request
 * without credentials, RFC 6750 section 3.1), a 403 no challenge at all (a denial that no
 * wider token can cure: no step-up is invited). Ignored on stdio.
 * @return MCP_OK or MCP_ERR_NOMEM (err is not filled: there is none).
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_request_set_challenge(mcp_request *req, const char *error, const char *scope);
/**
 * Seconds for Retry-After on a 429 (0 or no call: 1). Ignored on stdio.
 * @since 0.1
 */
MCP_EXTERN void mcp_request_set_retry_after(mcp_request *req, unsigned seconds);
/**
 * Suspicious activity: name the credential this request presents (an API key id, a JWT `kid`,
 * a token subject), as an AUTHN item parsed it, before the item verifies it. A 401 of this
 * request is then counted for that name as well as for the client address (see
 * mcp_server_opts.authn_fail_limit); once the name reached the limit within its window, this
 * call answers MCP_ERR_RATE_LIMITED with Retry-After set and err filled, and the item should
 * return that status without verifying anything. The refusal is reported to the decision hook.
 * @param req   The request, in the AUTHN phase.
 * @param name  NUL-terminated, borrowed, never a secret; at most 63 bytes are used (compared
 *              exactly). NULL or "" does nothing.
 * @param err   Filled on refusal; may be NULL.
 * @return MCP_OK, or MCP_ERR_RATE_LIMITED.
 * Thread: the thread running the request's AUTHN item. @since 0.1
 */
MCP_EXTERN mcp_status mcp_request_note_credential(mcp_request *req, const char *name,
                                                  mcp_error *err);

/**
 * The JSON-RPC id as text into buf (NUL-terminated, truncated to cap; nothing written when cap
 * is 0): an integer as digits, a string id in double quotes (not escaped), "" before parsing,
 * for notifications and for other id types.
 * @since 0.1
 */
MCP_EXTERN void mcp_request_rpc_id_text(const mcp_request *req, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
