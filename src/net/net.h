/*
 * src/net: outbound HTTP for the layers above it (jwt, authn, client). This is the folder's API
 * for other folders (STYLE.md section 8); it depends on src/common only.
 *
 * - One fetcher on libcurl (fetch.c): one curl_global_init per process, a hard body cap,
 *   connect and total timeouts, the redirect policy and the https-or-loopback rule as
 *   parameters. JWKS fetching, token introspection and the client's OAuth requests all use it.
 * - URL parsing (curl's URL API) and host rules (url.c), with the one loopback predicate.
 * - Address classes (addr.c) for the SSRF rule: a URL a peer told us about may not make us
 *   connect to loopback, private, link-local, unspecified or reserved addresses.
 */
#ifndef MCP_SRC_NET_NET_H
#define MCP_SRC_NET_NET_H

#include "common/common.h"

#include <stdbool.h>
#include <stddef.h>

/* curl_global_init exactly once per process (never cleaned up: other code may use curl).
 * Thread safe. Returns false when that one initialisation failed. */
bool mcp__curl_global_init(void);

/* ------------------------------------------------------------------------------------------ */
/* URLs and host rules (url.c)                                                                */

typedef struct mcp__url {
    char *scheme;   /* lowercase */
    char *host;     /* lowercase; IPv6 in brackets */
    char *port;     /* explicit port or NULL */
    char *path;     /* "" when none; never includes query */
    char *query;    /* NULL when none */
} mcp__url;

/* Parse an http(s) URL of at most 8192 bytes. MCP_ERR_INVALID_ARG for anything else,
 * MCP_ERR_NOMEM. On failure u is cleaned up. */
mcp_status mcp__url_parse(const char *url, mcp__url *u);
void mcp__url_cleanup(mcp__url *u);
/* "scheme://host[:port]" (new string). */
char *mcp__url_origin(const mcp__url *u);

/* mcp__host_is_loopback(u->host). */
bool mcp__url_is_loopback(const mcp__url *u);

/* The https-or-loopback rule's verdict for a URL. */
typedef enum mcp__net_url_verdict {
    MCP__NET_URL_OK = 0,
    MCP__NET_URL_INVALID,    /* libcurl cannot parse it, or it has no scheme or host */
    MCP__NET_URL_NOT_HTTP,   /* the scheme is neither http nor https */
    MCP__NET_URL_INSECURE,   /* http to a host that is not loopback, without allow_insecure */
    MCP__NET_URL_NOMEM
} mcp__net_url_verdict;

/* https is fine anywhere; http only to a loopback host, or anywhere with allow_insecure.
 * Schemes compare case-insensitively. */
mcp__net_url_verdict mcp__net_url_classify(const char *url, bool allow_insecure);
/* The same rule as a yes/no for URLs of at most 8192 bytes (allow_http = allow_insecure). */
bool mcp__url_is_secure(const char *url, bool allow_http);

/* What mcp__net_url_check says for each failed check; each caller keeps its own wording. */
typedef struct mcp__net_url_msgs {
    const char *invalid;    /* MCP__NET_URL_INVALID */
    const char *not_http;   /* MCP__NET_URL_NOT_HTTP */
    const char *insecure;   /* MCP__NET_URL_INSECURE */
} mcp__net_url_msgs;

/*
 * The rule with an error: for endpoints configured at setup (JWKS, introspection).
 *
 * @param url            Borrowed for the call.
 * @param msgs           Borrowed; the message put into err for each failed check.
 * @param[out] err       Optional.
 * @return MCP_OK, MCP_ERR_INVALID_ARG (err holds the matching message), or MCP_ERR_NOMEM.
 */
mcp_status mcp__net_url_check(const char *url, bool allow_insecure,
                              const mcp__net_url_msgs *msgs, mcp_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Address classes (addr.c)                                                                   */

struct sockaddr;

typedef enum mcp__net_addr_class {
    MCP__NET_ADDR_PUBLIC = 0,      /* none of the below: fine for any URL */
    MCP__NET_ADDR_LOOPBACK,        /* 127.0.0.0/8, ::1 */
    MCP__NET_ADDR_PRIVATE,         /* RFC 1918, 100.64/10, fc00::/7, fec0::/10, 64:ff9b:1::/48 */
    MCP__NET_ADDR_LINK_LOCAL,      /* 169.254.0.0/16, fe80::/10 */
    MCP__NET_ADDR_UNSPECIFIED,     /* 0.0.0.0/8, :: */
    MCP__NET_ADDR_RESERVED,        /* 192.0.0.0/24, 198.18.0.0/15, multicast, 240.0.0.0/4 */
    MCP__NET_ADDR_INVALID          /* not an IPv4/IPv6 address */
} mcp__net_addr_class;

/* The class of a socket address (IPv6 forms that embed an IPv4 address - v4-mapped,
 * v4-compatible, NAT64 64:ff9b::/96 - are judged by that address). Thread safe. */
mcp__net_addr_class mcp__net_sockaddr_class(const struct sockaddr *sa, size_t len);
/* The same for a numeric address in text ("10.0.0.1", "::1", "[fe80::1]"); INVALID for a
 * name. */
mcp__net_addr_class mcp__net_ip_class(const char *ip);
/* "loopback", "private", ... (static). */
const char *mcp__net_addr_class_name(mcp__net_addr_class c);

/* ------------------------------------------------------------------------------------------ */
/* The outbound HTTP fetcher (fetch.c): blocking, one request per call                         */

/* Which URLs a request may go to (checked before anything is sent, and for redirect targets
 * by protocol). */
typedef enum mcp__net_url_rule {
    MCP__NET_HTTP_ANY = 0,         /* http or https to any host */
    MCP__NET_HTTPS_OR_LOOPBACK     /* https, or http to a loopback host (mcp__net_url_classify) */
} mcp__net_url_rule;

/* Which addresses a request may connect to, checked on every address libcurl is about to
 * connect to (after DNS, for each address tried and for each redirect hop), so a DNS name that
 * resolves to an internal address is caught like an address literal. */
typedef enum mcp__net_addr_rule {
    MCP__NET_ADDR_ANY = 0,         /* endpoints the operator configured (JWKS, introspection) */
    MCP__NET_ADDR_PUBLIC_ONLY      /* URLs learned from a remote peer: MCP__NET_ADDR_PUBLIC only;
                                    * anything else fails with MCP_ERR_FORBIDDEN before any
                                    * byte (not even a TCP SYN) is sent */
} mcp__net_addr_rule;

/* A small pool of easy handles, so repeated requests to one endpoint keep their connection
 * (introspection). Thread safe. */
typedef struct mcp__net_pool mcp__net_pool;
/* max handles kept (1..64); NULL on allocation failure. */
mcp__net_pool *mcp__net_pool_new(size_t max);
void mcp__net_pool_free(mcp__net_pool *p);

typedef struct mcp__net_req {
    const char *url;
    const char *method;          /* with a body always POST; else NULL or "GET": GET */
    const char *body;            /* request body (not copied; must live for the call) or NULL */
    size_t      body_len;
    const char *content_type;    /* header for body; NULL: libcurl's form default */
    /* Extra header lines ("Name: value"), NULL-terminated, or NULL. They may carry secrets:
     * the fetcher's copies are wiped. "Expect:" is always added. */
    const char *const *headers;
    const char *user_agent;      /* NULL: "libmcp/<version>" */
    const char *basic_user;      /* HTTP Basic when both are set */
    const char *basic_pass;
    void       *cookie_share;    /* a CURLSH * with the cookie engine, or NULL */

    size_t      max_body;        /* hard cap on the response body (> 0) */
    unsigned    connect_timeout_ms;  /* 0: same as timeout_ms */
    unsigned    timeout_ms;      /* whole transfer (> 0) */
    unsigned    max_redirects;   /* 0: never follow a redirect (every caller today) */
    mcp__net_url_rule rule;
    mcp__net_addr_rule addr_rule;
    /* CURLOPT_RESOLVE entries ("host:port:address"), NULL-terminated, or NULL. The address
     * rule judges the mapped address. */
    const char *const *resolve;

    /* Optional: each response header line as libcurl hands it over (incl. the status line and
     * CRLF). Return false to fail the transfer (MCP_ERR_IO). */
    bool      (*header_fn)(void *ctx, const char *line, size_t n);
    void       *header_ctx;
    /* Optional: polled during the transfer; true aborts it (MCP_ERR_IO). */
    bool      (*abort_fn)(void *ctx);
    void       *abort_ctx;

    mcp__net_pool *pool;         /* reuse handles (and connections) from here, or NULL */
    bool        want_meta;       /* fill content_type and location */
} mcp__net_req;

#define MCP__NET_ERROR_MAX 256     /* CURL_ERROR_SIZE */

typedef struct mcp__net_resp {
    long        status;          /* the HTTP status, 0 when no response arrived */
    char       *body;            /* NUL-terminated, never NULL after MCP_OK */
    size_t      body_len;
    char       *content_type;    /* want_meta; NULL when absent */
    char       *location;        /* want_meta; absolute redirect target of a 3xx, or NULL */
    const char *reason;          /* after a transfer failure: libcurl's short text (static) */
    char        detail[MCP__NET_ERROR_MAX];  /* ... and its detailed message (or reason) */
} mcp__net_resp;

/*
 * Send one request and read the whole response into rs (any HTTP status is MCP_OK: the caller
 * decides). On failure rs holds no allocation, and reason/detail say what libcurl reported.
 *
 * @return MCP_OK; MCP_ERR_INVALID_ARG (the URL breaks rq->rule); MCP_ERR_FORBIDDEN (every
 *         address of the host breaks rq->addr_rule; rs->detail names the address and its
 *         class); MCP_ERR_TOO_LARGE (the body
 *         passed rq->max_body); MCP_ERR_TIMEOUT; MCP_ERR_IO (any other transfer failure, an
 *         abort by abort_fn or header_fn); MCP_ERR_NOMEM; MCP_ERR_INTERNAL (libcurl
 *         initialisation). err gets a generic message; callers usually word their own.
 */
mcp_status mcp__net_fetch(const mcp__net_req *rq, mcp__net_resp *rs, mcp_error *err);
/* Free (the body is wiped first: token responses carry secrets). NULL is fine. */
void mcp__net_resp_cleanup(mcp__net_resp *rs);

#endif
