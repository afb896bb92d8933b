/*
 * libmcp: small value types and utilities shared by the whole API.
 */
#ifndef MCP_COMMON_H
#define MCP_COMMON_H

#include <mcp/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The version of the headers a program was compiled against. mcp_version() and
 * mcp_version_num() give the version of the library it runs with; the two differ when a program
 * built against one release runs with another libmcp.so of the same SONAME (docs/design/abi.md).
 * MCP_VERSION_NUM is 0xMMmmpp (major, minor, patch), so `#if MCP_VERSION_NUM >= 0x000200` works.
 */
#define MCP_VERSION_MAJOR  0
#define MCP_VERSION_MINOR  1
#define MCP_VERSION_PATCH  0
#define MCP_VERSION_STRING "0.1.0"
#define MCP_VERSION_NUM \
    ((MCP_VERSION_MAJOR << 16) | (MCP_VERSION_MINOR << 8) | MCP_VERSION_PATCH)

/** The library's version, "MAJOR.MINOR.PATCH"; static storage. Thread: any. @since 0.1 */
MCP_EXTERN const char *mcp_version(void);

/** The library's version as MCP_VERSION_NUM encodes it (0xMMmmpp). Thread: any. @since 0.1 */
MCP_EXTERN unsigned mcp_version_num(void);

/* Levels of notifications/message and logging/setLevel (RFC 5424 order, lowest first); also
 * the levels of the library's own log (mcp_log_set_level()). @since 0.1 */
typedef enum mcp_log_level {
    MCP_LOG_DEBUG = 0, MCP_LOG_INFO, MCP_LOG_NOTICE, MCP_LOG_WARNING,
    MCP_LOG_ERROR, MCP_LOG_CRITICAL, MCP_LOG_ALERT, MCP_LOG_EMERGENCY
} mcp_log_level;

/*
 * The library's own log: start-up and shutdown lines, warnings, the access log, errors. By
 * default one text line per message on stderr ("2026-01-01T00:00:00.000Z info http: ..."), at
 * MCP_LOG_INFO and above. These settings are process-wide; set them before creating servers
 * (they may also change later: each takes effect from the next message).
 */

/**
 * Least level logged: MCP_LOG_DEBUG logs everything, MCP_LOG_ERROR errors only (NOTICE counts
 * as INFO, CRITICAL and above as ERROR). Thread: any. @since 0.1
 */
MCP_EXTERN void mcp_log_set_level(mcp_log_level level);

/**
 * One JSON object per line on stderr instead of text:
 * {"time":"...","level":"info","component":"http","message":"..."} (strings JSON-escaped).
 * Thread: any. @since 0.1
 */
MCP_EXTERN void mcp_log_set_json(bool json);

/**
 * A log message, for mcp_log_set_handler(). level is one of MCP_LOG_DEBUG, MCP_LOG_INFO,
 * MCP_LOG_WARNING, MCP_LOG_ERROR; component ("http", "auth", "access", ...) and message are
 * borrowed for the call. Called from any library thread, one call at a time.
 */
typedef void (*mcp_log_handler_fn)(mcp_log_level level, const char *component,
                                   const char *message, void *udata);

/**
 * Send log messages to fn instead of stderr (NULL: back to stderr). Messages below the level
 * of mcp_log_set_level() are not passed. Thread: any. @since 0.1
 */
MCP_EXTERN void mcp_log_set_handler(mcp_log_handler_fn fn, void *udata);

/** A borrowed view: ptr points into someone else's buffer and is not NUL-terminated. */
typedef struct mcp_str {
    const char *ptr;
    size_t      len;
} mcp_str;

#define MCP_STR_NULL ((mcp_str){ NULL, 0 })

/** View of a NUL-terminated string (NULL gives an empty view). @since 0.1 */
MCP_EXTERN mcp_str mcp_str_from(const char *s);

typedef void *(*mcp_malloc_fn)(size_t size);
typedef void *(*mcp_realloc_fn)(void *ptr, size_t size);
typedef void (*mcp_free_fn)(void *ptr);

/**
 * Replace the allocator used by libmcp (and by jansson for the values libmcp creates).
 * Call once, before any libmcp object exists. All three functions are required.
 * @return MCP_OK or MCP_ERR_INVALID_ARG.
 * @since 0.1
 */
MCP_EXTERN mcp_status mcp_replace_allocator(mcp_malloc_fn m, mcp_realloc_fn r, mcp_free_fn f);

/** Free memory that libmcp returned as an owned `char *` or buffer. NULL is allowed. @since 0.1 */
MCP_EXTERN void mcp_free(void *ptr);

/** Overwrite len bytes with zeros in a way the compiler may not remove. @since 0.1 */
MCP_EXTERN void mcp_memzero(void *ptr, size_t len);

/**
 * Compare two byte strings in time that depends only on their lengths.
 * @return true when both lengths and all bytes are equal.
 * @since 0.1
 */
MCP_EXTERN bool mcp_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/** Fill buf with len bytes from the OS CSPRNG (OpenSSL RAND_bytes). @since 0.1 */
MCP_EXTERN MCP_NODISCARD mcp_status mcp_random_bytes(void *buf, size_t len, mcp_error *err);

/** Monotonic clock in milliseconds. @since 0.1 */
MCP_EXTERN uint64_t mcp_now_ms(void);

#ifdef __cplusplus
}
#endif
#endif
