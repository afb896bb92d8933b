/*
 * Private to the Streamable HTTP transport: transport_http.c (the transport object, its ops,
 * starting transfers, resumption) and transport_http_recv.c (reading one transfer's answer).
 * Kept out of client/internal.h so that curl's types stay inside these two files.
 */
#ifndef MCP_SRC_CLIENT_TRANSPORT_HTTP_H
#define MCP_SRC_CLIENT_TRANSPORT_HTTP_H

#include "client/internal.h"

#include <curl/curl.h>

#define MAX_RESUMES 5               /* reconnects of one exchange without a response */
#define DEFAULT_RETRY_MS 1000
#define ERR_BODY_MAX ((size_t)64 * 1024)
#define STREAM_MAX_FAILURES 3

typedef enum { XK_POST, XK_RESUME, XK_STREAM } xkind;
typedef enum { BODY_UNSET, BODY_NONE, BODY_JSON, BODY_SSE, BODY_ERR } body_mode;

typedef struct http_tr http_tr;

typedef struct xfer {
    http_tr           *tr;
    CURL              *easy;
    struct curl_slist *hdrs;
    xkind              kind;
    uint64_t           oid;
    int64_t            rpc_id;
    char              *body;
    long               status;
    body_mode          mode;
    mcp_buf            json;
    mcp__sse           sse;
    mcp_buf            www;
    char              *dpop_nonce;
    char              *session_id;
    char              *content_type;
    mcp_status         fail;
    char               fail_msg[MCP_ERROR_MSG_MAX];
    bool               got_response;
    bool               complete_early;
    bool               headers_done;
    unsigned           resumes;
    char               errbuf[CURL_ERROR_SIZE];
    struct xfer       *next;
} xfer;

typedef struct resume {
    uint64_t       due_ms;
    xkind          kind;
    uint64_t       oid;
    int64_t        rpc_id;
    char          *last_id;
    unsigned       resumes;
    struct resume *next;
} resume;

struct http_tr {
    mcp__tr   base;
    CURLM    *multi;
    char     *url;
    char    **extra;          /* extra header lines */
    size_t    nextra;
    char     *session_id;
    char     *protocol_version;
    bool      stateless;      /* 2026-07-28: no session id adopted or sent */
    char     *auth;           /* last credential header line (secret) */
    unsigned  connect_timeout_ms;
    char     *ca_file;        /* CURLOPT_CAINFO, or NULL */
    size_t    max_message;
    bool      verbose;
    xfer     *xfers;
    resume   *resumes;
    unsigned  stream_failures;
};

/* transport_http_recv.c: curl's callbacks for one transfer (ud/ctx is the xfer), and the
 * end of transfers: queue the DONE event, schedule resumption, free the finished. */
size_t mcp__htr_on_write(char *ptr, size_t size, size_t nmemb, void *ud);
size_t mcp__htr_on_header(char *ptr, size_t size, size_t nmemb, void *ud);
mcp_status mcp__htr_on_sse_event(void *ctx, const char *event, const char *data, size_t len,
                                 const char *id);
void mcp__htr_push_done(http_tr *t, const xfer *x, mcp_status st, const char *msg,
                        bool with_www);
void mcp__htr_drain_done(http_tr *t);

/* transport_http.c: re-open a stream later (retry_ms < 0: DEFAULT_RETRY_MS); take a transfer
 * out of the list; free one. */
mcp_status mcp__htr_schedule(http_tr *t, xkind kind, uint64_t oid, int64_t rpc_id,
                             const char *last_id, unsigned resumes, long retry_ms);
void mcp__htr_unlink_xfer(http_tr *t, xfer *x);
void mcp__htr_xfer_free(xfer *x);

#endif
