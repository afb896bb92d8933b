/*
 * The HTTP transport checks, as a table of TRANSPORT-phase entries run by the pipeline driver
 * ahead of the installed TRANSPORT items, in this order: endpoint path, DNS rebinding (Host,
 * Origin), method, sessions in stateless mode, message framing, MCP-Protocol-Version, then for
 * POST Content-Type, Accept and Content-Length, and last the session id (looked up by the core
 * after AUTHN, so the lookup is no oracle for unauthenticated callers). Each refuses with
 * its own HTTP status through mcp__reject() (a JSON-RPC Invalid Request error in the body).
 * Only headers are read: the body is not read before these and authentication have passed.
 */
#include "transport/internal.h"

#include <stdlib.h>
#include <string.h>

static bool
host_is_local(const char *h, size_t n)
{
    return (n == 9 && strncmp(h, "localhost", 9) == 0) ||
           (n == 9 && strncmp(h, "127.0.0.1", 9) == 0) || (n == 5 && strncmp(h, "[::1]", 5) == 0);
}

/* Host header without its port. */
static size_t
host_len(const char *h)
{
    if (h[0] == '[') {
        const char *e = strchr(h, ']');
        return e ? (size_t)(e - h + 1) : strlen(h);
    }
    const char *colon = strchr(h, ':');
    return colon ? (size_t)(colon - h) : strlen(h);
}

static bool
in_list(char **list, const char *s, size_t n)
{
    for (; list != NULL && *list != NULL; list++)
        if (strlen(*list) == n && strncmp(*list, s, n) == 0)
            return true;
    return false;
}

bool
mcp__http_host_allowed(const char *host, char **allowed_hosts)
{
    if (host == NULL)
        return false;
    size_t hl = host_len(host);
    return host_is_local(host, hl) || in_list(allowed_hosts, host, strlen(host)) ||
           in_list(allowed_hosts, host, hl);
}

bool
mcp__http_host_ok(const char *host, const char *origin, char **allowed_hosts,
                  char **allowed_origins)
{
    if (!mcp__http_host_allowed(host, allowed_hosts))
        return false;
    if (origin == NULL)
        return true;
    if (in_list(allowed_origins, origin, strlen(origin)))
        return true;
    const char *p = strstr(origin, "://");
    if (p == NULL)
        return false;
    p += 3;
    return host_is_local(p, host_len(p));
}

static bool
rebinding_ok(mcp__http *h, struct MHD_Connection *c)
{
    if (!h->rebinding)
        return true;
    return mcp__http_host_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host"),
                             MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin"),
                             h->allowed_hosts, h->allowed_origins);
}

void
mcp__http_framing_add(mcp__http_framing *f, const char *key, const char *value)
{
    (void)value;
    if (key == NULL)
        return;
    if (mcp__strcasecmp(key, "Content-Length") == 0)
        f->cl++;        /* a second one is ambiguous framing, equal or not (RFC 9112 6.3) */
    else if (mcp__strcasecmp(key, "Transfer-Encoding") == 0)
        f->te++;
}

bool
mcp__http_framing_ok(const mcp__http_framing *f)
{
    return f->cl <= 1 && !(f->cl > 0 && f->te > 0);
}

static enum MHD_Result
count_hdr(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    mcp__http_framing_add(cls, key, value);
    return MHD_YES;
}

bool
mcp__http_content_type_ok(const char *ct)
{
    return ct != NULL && strncmp(ct, "application/json", 16) == 0;
}

bool
mcp__http_accept_ok(const char *acc)
{
    return acc == NULL || mcp__http_header_has(acc, "application/json") ||
           mcp__http_header_has(acc, "text/event-stream") || mcp__http_header_has(acc, "*/*");
}

bool
mcp__http_content_length_ok(const char *cl, size_t max_body)
{
    /* strtoull saturates and wraps negatives to large values: both refused (fail closed) */
    return cl == NULL || strtoull(cl, NULL, 10) <= max_body;
}

bool
mcp__http_header_has(const char *v, const char *token)
{
    return v != NULL && strstr(v, token) != NULL;
}

static struct MHD_Connection *
conn(const mcp_request *req)
{
    return req->tctx;
}

static const char *
hdr(const mcp_request *req, const char *name)
{
    return MHD_lookup_connection_value(conn(req), MHD_HEADER_KIND, name);
}

static bool
is_method(const mcp_request *req, const char *m)
{
    return strcmp(req->http_method, m) == 0;
}

static mcp_status
check_path(mcp_request *req, void *ctx, mcp_error *err)
{
    mcp__http *h = ctx;
    if (strcmp(req->path, h->path) != 0)
        return mcp__reject(req, err, MCP_ERR_NOT_FOUND, 404, "Not Found");
    return MCP_OK;
}

static mcp_status
check_rebinding(mcp_request *req, void *ctx, mcp_error *err)
{
    if (!rebinding_ok(ctx, conn(req)))
        return mcp__reject(req, err, MCP_ERR_FORBIDDEN, 403,
                           "Forbidden: Host or Origin not allowed (DNS rebinding protection)");
    return MCP_OK;
}

static mcp_status
check_method(mcp_request *req, void *ctx, mcp_error *err)
{
    (void)ctx;
    if (!is_method(req, "POST") && !is_method(req, "GET") && !is_method(req, "DELETE"))
        return mcp__reject(req, err, MCP_ERR_UNSUPPORTED, 405, "Method Not Allowed");
    return MCP_OK;
}

static mcp_status
check_stateless(mcp_request *req, void *ctx, mcp_error *err)
{
    (void)ctx;
    if (!is_method(req, "POST") && req->srv->opts.stateless)
        return mcp__reject(req, err, MCP_ERR_UNSUPPORTED, 405,
                           "Method Not Allowed: stateless server has no sessions");
    return MCP_OK;
}

static mcp_status
check_framing(mcp_request *req, void *ctx, mcp_error *err)
{
    (void)ctx;
    mcp__http_framing f = { 0, 0 };
    MHD_get_connection_values(conn(req), MHD_HEADER_KIND, count_hdr, &f);
    if (!mcp__http_framing_ok(&f))
        return mcp__reject(req, err, MCP_ERR_PROTOCOL, 400,
                           "Bad Request: ambiguous message framing (Content-Length)");
    return MCP_OK;
}

/* The version header chooses the era of the request (both eras on one endpoint). A 2026-07-28
 * request is stateless: GET and DELETE (sessions, standalone streams) do not exist for it. A
 * POST naming a version we do not speak is answered -32022 after the body is parsed, so the
 * answer carries the request id (the 2026 revision requires it); GET/DELETE are refused here. */
static mcp_status
check_version(mcp_request *req, void *ctx, mcp_error *err)
{
    (void)ctx;
    const char *pv = hdr(req, "MCP-Protocol-Version");
    req->era = mcp__era_of_header(pv);
    if (req->era == MCP__REQ_MODERN && !is_method(req, "POST"))
        return mcp__reject(req, err, MCP_ERR_UNSUPPORTED, 405,
                           "Method Not Allowed: protocol 2026-07-28 is stateless (POST only)");
    if (req->era == MCP__REQ_UNSUPPORTED && !is_method(req, "POST"))
        return mcp__reject(req, err, MCP_ERR_PROTOCOL, 400,
                           "Bad Request: unsupported MCP-Protocol-Version");
    return MCP_OK;
}

static mcp_status
check_content_type(mcp_request *req, void *ctx, mcp_error *err)
{
    (void)ctx;
    if (!is_method(req, "POST"))
        return MCP_OK;
    if (!mcp__http_content_type_ok(hdr(req, "Content-Type")))
        return mcp__reject(req, err, MCP_ERR_PROTOCOL, 415,
                           "Unsupported Media Type: Content-Type must be application/json");
    return MCP_OK;
}

static mcp_status
check_accept(mcp_request *req, void *ctx, mcp_error *err)
{
    (void)ctx;
    if (!is_method(req, "POST"))
        return MCP_OK;
    if (!mcp__http_accept_ok(hdr(req, "Accept")))
        return mcp__reject(req, err, MCP_ERR_PROTOCOL, 406,
                           "Not Acceptable: Accept must allow application/json");
    return MCP_OK;
}

static mcp_status
check_content_length(mcp_request *req, void *ctx, mcp_error *err)
{
    mcp__http *h = ctx;
    if (!is_method(req, "POST"))
        return MCP_OK;
    if (!mcp__http_content_length_ok(hdr(req, "Content-Length"), h->max_body))
        return mcp__reject(req, err, MCP_ERR_TOO_LARGE, 413, "Payload Too Large");
    return MCP_OK;
}

/* The session id the request names. It is looked up by the core after AUTHN (the session
 * owner step), so an unauthenticated caller cannot learn whether an id exists. */
static mcp_status
check_session(mcp_request *req, void *ctx, mcp_error *err)
{
    (void)ctx;
    (void)err;
    /* 2026-07-28 has no sessions: an Mcp-Session-Id header is ignored, never looked up */
    req->session_id = req->srv->opts.stateless || req->era != MCP__REQ_LEGACY
                      ? NULL : hdr(req, "Mcp-Session-Id");
    return MCP_OK;
}

static const mcp_middleware_fn check_fns[MCP__HTTP_NCHECKS] = {
    check_path, check_rebinding, check_method, check_stateless, check_framing, check_version,
    check_content_type, check_accept, check_content_length, check_session,
};

void
mcp__http_checks_init(mcp__http *h)
{
    for (size_t i = 0; i < MCP__HTTP_NCHECKS; i++) {
        h->checks[i].fn = check_fns[i];
        h->checks[i].ctx = h;
    }
}
