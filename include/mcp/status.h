/*
 * libmcp: status codes and the error struct (STYLE.md section 4).
 * Every function that can fail returns mcp_status (0 = MCP_OK); detail goes to an optional
 * mcp_error, always the last parameter. Numbers never change once released.
 */
#ifndef MCP_STATUS_H
#define MCP_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define MCP_NODISCARD   __attribute__((warn_unused_result))
/* Marks the exported API: the library is built with -fvisibility=hidden, so only what a public
 * header declares with MCP_EXTERN is in libmcp.so's dynamic symbol table. */
#define MCP_EXTERN      __attribute__((visibility("default")))
#define MCP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MCP_NODISCARD
#define MCP_EXTERN
#define MCP_PRINTF(f, a)
#endif

#define MCP_ERROR_MSG_MAX 256

/* X(name, number, text). Append only; never renumber. */
#define MCP_STATUS_MAP(X)                                                  \
    X(OK,                  0,  "success")                                  \
    X(ERR_NOMEM,           1,  "out of memory")                            \
    X(ERR_INVALID_ARG,     2,  "invalid argument")                         \
    X(ERR_PARSE,           3,  "malformed input")                          \
    X(ERR_TOO_LARGE,       4,  "input exceeds a configured limit")         \
    X(ERR_UNAUTHENTICATED, 5,  "missing or invalid credentials")           \
    X(ERR_FORBIDDEN,       6,  "caller lacks a required permission")       \
    X(ERR_NOT_FOUND,       7,  "no such method or tool")                   \
    X(ERR_IO,              8,  "transport I/O error")                      \
    X(ERR_TIMEOUT,         9,  "operation timed out")                      \
    X(ERR_CANCELLED,       10, "operation was cancelled")                  \
    X(ERR_STATE,           11, "operation not valid in the current state") \
    X(ERR_PROTOCOL,        12, "peer violated the protocol")               \
    X(ERR_RATE_LIMITED,    13, "rate limit exceeded")                      \
    X(ERR_INTERNAL,        14, "internal error")                           \
    X(ERR_UNSUPPORTED,     15, "not supported")                            \
    X(ERR_STORE,           16, "credential or user store unavailable")  \
    X(ERR_WOULD_BLOCK,     17, "would block: retry where blocking is allowed") \
    X(ERR_INPUT_REQUIRED,  18, "input required from the client")

typedef enum mcp_status {
#define MCP_X_(name, num, text) MCP_##name = num,
    MCP_STATUS_MAP(MCP_X_)
#undef MCP_X_
} mcp_status;

/* JSON-RPC error codes (JSON-RPC 2.0 and MCP). */
#define MCP_RPC_PARSE_ERROR      (-32700)
#define MCP_RPC_INVALID_REQUEST  (-32600)
#define MCP_RPC_METHOD_NOT_FOUND (-32601)
#define MCP_RPC_INVALID_PARAMS   (-32602)
#define MCP_RPC_INTERNAL_ERROR   (-32603)
#define MCP_RPC_RESOURCE_NOT_FOUND (-32002)
/* libmcp server errors (implementation-defined range -32000..-32099); stable. */
#define MCP_RPC_UNAUTHENTICATED  (-32001)
#define MCP_RPC_FORBIDDEN        (-32003)
#define MCP_RPC_RATE_LIMITED     (-32029)
#define MCP_RPC_NOT_INITIALIZED  (-32004)
#define MCP_RPC_REQUEST_TIMEOUT  (-32005)
#define MCP_RPC_CANCELLED        (-32006)

typedef struct mcp_error {
    mcp_status code;                       /* same value the function returned */
    int32_t    rpc_code;                   /* JSON-RPC code to send; 0 if none applies */
    char       message[MCP_ERROR_MSG_MAX]; /* NUL-terminated; names the failed check, never a secret */
} mcp_error;

/** Symbolic name of a status ("MCP_ERR_NOMEM"); never NULL. @since 0.1 */
MCP_EXTERN const char *mcp_status_name(mcp_status s);
/** Human text of a status ("out of memory"); never NULL. @since 0.1 */
MCP_EXTERN const char *mcp_status_str(mcp_status s);

/**
 * The one status -> wire table, used by every transport: the HTTP status a failing status is
 * answered with (401, 403, 404, 413, 429, 500, 503; 400 for the rest; 200 for MCP_OK).
 * @since 0.1
 */
MCP_EXTERN int mcp_status_http(mcp_status s);
/**
 * The JSON-RPC error code sent for a failing status whose mcp_error carries none (rpc_code 0):
 * MCP_RPC_UNAUTHENTICATED, MCP_RPC_FORBIDDEN, MCP_RPC_RATE_LIMITED, MCP_RPC_PARSE_ERROR,
 * MCP_RPC_INTERNAL_ERROR (memory, store, internal), MCP_RPC_INVALID_REQUEST for the rest;
 * 0 for MCP_OK. @since 0.1
 */
MCP_EXTERN int32_t mcp_status_rpc(mcp_status s);

/**
 * Fill err (if non-NULL) and return code, so callers can write `return mcp_error_set(...)`.
 * Never allocates. rpc_code is reset to 0; see mcp_error_set_rpc().
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_error_set(mcp_error *err, mcp_status code, const char *fmt, ...) MCP_PRINTF(3, 4);
/** As mcp_error_set(), and records the JSON-RPC error code to send to the peer. @since 0.1 */
MCP_EXTERN mcp_status mcp_error_set_rpc(mcp_error *err, mcp_status code, int32_t rpc_code, const char *fmt, ...)
    MCP_PRINTF(4, 5);
/** Reset err to MCP_OK with an empty message. NULL is allowed. @since 0.1 */
MCP_EXTERN void mcp_error_clear(mcp_error *err);

#ifdef __cplusplus
}
#endif
#endif
