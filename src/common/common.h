/* Library-internal helpers shared by every layer (mcp__ prefix, STYLE.md section 2). */
#ifndef MCP_SRC_COMMON_H
#define MCP_SRC_COMMON_H

#include <mcp/common.h>
#include <stdarg.h>
#include <stdio.h>

void *mcp__alloc(size_t n);
void *mcp__calloc(size_t n, size_t size);
void *mcp__realloc(void *p, size_t n);
void mcp__free(void *p);
char *mcp__strdup(const char *s);        /* NULL in -> NULL out */
char *mcp__strndup(const char *s, size_t n);
char *mcp__aprintf(const char *fmt, ...) MCP_PRINTF(1, 2);

/* A growable byte buffer with a hard maximum (curl's dynbuf). Always NUL-terminated. */
typedef struct mcp_buf {
    char  *ptr;
    size_t len;
    size_t cap;
    size_t max;   /* appending past max fails with MCP_ERR_TOO_LARGE */
} mcp_buf;

void mcp__buf_init(mcp_buf *b, size_t max);
void mcp__buf_cleanup(mcp_buf *b);
void mcp__buf_reset(mcp_buf *b);
mcp_status mcp__buf_append(mcp_buf *b, const void *data, size_t len);
mcp_status mcp__buf_appends(mcp_buf *b, const char *s);
mcp_status mcp__buf_printf(mcp_buf *b, const char *fmt, ...) MCP_PRINTF(2, 3);
/* Hand the buffer's memory to the caller (free with mcp__free); b is reset. */
char *mcp__buf_steal(mcp_buf *b, size_t *len);

/* base64url without padding (RFC 7515 section 2), strict: rejects '=', '+', '/', whitespace and
 * non-canonical trailing bits. Output is NUL-terminated for convenience. */
mcp_status mcp__b64url_decode(const char *in, size_t inlen, unsigned char **out, size_t *outlen);
char *mcp__b64url_encode(const unsigned char *in, size_t len);
/* Standard base64 with padding (for blobs). */
char *mcp__b64_encode(const unsigned char *in, size_t len);

/* Case-insensitive ASCII comparison. */
int mcp__strcasecmp(const char *a, const char *b);

/* Logging to stderr: "ts level component: message". Never pass secrets. */
typedef enum { MCP__LOG_DEBUG, MCP__LOG_INFO, MCP__LOG_WARN, MCP__LOG_ERROR } mcp__log_level;
void mcp__log(mcp__log_level lvl, const char *component, const char *fmt, ...) MCP_PRINTF(3, 4);
void mcp__log_set_level(mcp__log_level lvl);

/* URI templates (RFC 6570 level 1, one path segment per variable): does uri match tmpl? Each
 * {var} matches a non-empty run of characters up to the next '/' or the literal character that
 * follows the variable in tmpl. */
bool mcp__uri_template_match(const char *tmpl, const char *uri);
/* The same, calling fn (when non-NULL) with each variable's name and value as they match
 * (views into tmpl and uri, not NUL-terminated); a match that fails later may already have
 * called fn for earlier variables. */
typedef void (*mcp__uri_var_fn)(void *ctx, const char *name, size_t nlen, const char *val,
                                size_t vlen);
bool mcp__uri_template_match_vars(const char *tmpl, const char *uri, mcp__uri_var_fn fn,
                                  void *ctx);
/* A template's specificity: the number of literal bytes outside its {var} parts. *ok is false
 * (and 0 returned) unless every {var} is balanced, non-empty and not nested. When several
 * templates match one URI, the dispatcher and the policy both pick the most specific. */
size_t mcp__uri_template_specificity(const char *tmpl, bool *ok);

/* write(2) all n bytes of p to fd, retrying after EINTR and short writes. MCP_ERR_IO when a
 * write fails or writes nothing. */
mcp_status mcp__write_all(int fd, const void *p, size_t n);

/* SHA-256 of len bytes into out[32]. The digest implementation is fetched once: OpenSSL 3's
 * one-shot SHA256() looks it up on every call, which doubled the cost of hashing a token for
 * the verified-token caches (hot path). Returns false only if OpenSSL fails. */
bool mcp__sha256(const void *data, size_t len, unsigned char out[32]);

/* Number of online CPUs (>= 1). */
unsigned mcp__ncpus(void);
/* Wall clock, unix seconds. */
int64_t mcp__unix_now(void);

/*
 * The one loopback predicate (outbound URL rules in src/net, the listener's default
 * DNS-rebinding protection in src/transport): names that cannot leave the machine. "localhost" (any ASCII
 * case), the IPv6 loopback ("::1" with or without brackets, any spelling inet_pton accepts),
 * and a numeric IPv4 address in 127.0.0.0/8 (inet_pton: dotted quad only). A DNS name that
 * merely starts with "127." (127.0.0.1.nip.io) is an ordinary name, and so is
 * "localhost." or ::ffff:127.0.0.1.
 */
bool mcp__host_is_loopback(const char *host);

#endif
