/*
 * src/net: outbound HTTP for the layers above it (jwt, authn, client). This is the folder's API
 * for other folders (STYLE.md section 8); it depends on src/common only.
 *
 * - One fetcher on libcurl (fetch.c): one curl_global_init per process, a hard body cap,
 *   connect and total timeouts, the redirect policy and the https-or-loopback rule as
 *   parameters. JWKS fetching, token introspection and the client's OAuth requests all use it.
 * - URL parsing (curl's URL API) and host rules (url.c), with the one loopback predicate.
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
/* The outbound HTTP fetcher (fetch.c): blocking, one request per call                         */

/* Which URLs a request may go to (checked before anything is sent, and for redirect targets
 * by protocol). */
typedef enum mcp__net_url_rule {
    MCP__NET_HTTP_ANY = 0,         /* http or https to any host */
    MCP__NET_HTTPS_OR_LOOPBACK     /* https, or http to a loopback host (mcp__net_url_classify) */
} mcp__net_url_rule;

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
 * @return MCP_OK; MCP_ERR_INVALID_ARG (the URL breaks rq->rule); MCP_ERR_TOO_LARGE (the body
 *         passed rq->max_body); MCP_ERR_TIMEOUT; MCP_ERR_IO (any other transfer failure, an
 *         abort by abort_fn or header_fn); MCP_ERR_NOMEM; MCP_ERR_INTERNAL (libcurl
 *         initialisation). err gets a generic message; callers usually word their own.
 */
mcp_status mcp__net_fetch(const mcp__net_req *rq, mcp__net_resp *rs, mcp_error *err);
/* Free (the body is wiped first: token responses carry secrets). NULL is fine. */
void mcp__net_resp_cleanup(mcp__net_resp *rs);

#endif
