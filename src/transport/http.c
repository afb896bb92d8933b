/*
 * Streamable HTTP transport on libmicrohttpd: the access handler and the lifecycle.
 *
 * Threads: MHD runs a pool of epoll IO threads; handlers that may block run on the server's
 * worker pool while their connection is suspended. A request goes through the core's pipeline
 * in two calls: mcp__run_head() once the headers are in (this transport's checks table,
 * http_checks.c, heads its TRANSPORT phase), mcp__run_body() once the body is read. Output
 * streams and GET live in http_stream.c. The core reaches this transport only through its
 * registered ops (stop, free, session_closed, keepalive).
 */
#include "transport/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- responses --------------------------------------------------------------------------- */

static void
free_cb(void *p)
{
    mcp__free(p);
}

enum MHD_Result
mcp__http_send_body(conn_state *cs, struct MHD_Connection *c, unsigned status, const char *ctype,
          char *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(
        len, body ? body : (char *)"", body ? free_cb : NULL);
    if (r == NULL) {
        mcp__free(body);
        return MHD_NO;
    }
    if (ctype != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (cs->created != NULL)
        MHD_add_response_header(r, "Mcp-Session-Id", cs->created->id);
    if (cs->close_after)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    cs->status = status;
    cs->phase = PH_DONE;
    return ok;
}

/* A JSON-RPC error body for this request: data (stolen) or the request's err_data; a 2026-07-28
 * request whose id could not be read gets no id at all (its schema has no null id). */
static char *
error_body(conn_state *cs, struct MHD_Connection *c, int32_t code, const char *message,
           json_t *data, size_t *len)
{
    if (data == NULL && cs->req.err_data != NULL)
        data = json_incref(cs->req.err_data);
    const char *pv = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "MCP-Protocol-Version");
    if (pv != NULL && strcmp(pv, MCP__PV_MODERN) == 0)
        return mcp__rpc_error_noid(cs->rpc_id, code, message, data, len);
    return mcp__rpc_error(cs->rpc_id, code, message, data, len);
}

enum MHD_Result
mcp__http_send_rpc_error(conn_state *cs, struct MHD_Connection *c, unsigned status, int32_t code,
               const char *message)
{
    size_t len;
    char *b = error_body(cs, c, code, message, NULL, &len);
    return mcp__http_send_body(cs, c, status, "application/json", b, b ? len : 0);
}

/* Quote-safe copy for WWW-Authenticate parameters. */
static void
sanitize(char *dst, size_t cap, const char *src)
{
    size_t o = 0;
    for (; src != NULL && *src && o + 1 < cap; src++)
        if (*src >= 0x20 && *src < 0x7f && *src != '"' && *src != '\\')
            dst[o++] = *src;
    dst[o] = '\0';
}

static void
prm_url(mcp__http *h, struct MHD_Connection *c, char *out, size_t cap)
{
    /* RFC 9728 section 3.1: insert the well-known path between host and the resource path. */
    if (h->resource_url != NULL) {
        const char *p = strstr(h->resource_url, "://");
        p = p ? strchr(p + 3, '/') : NULL;
        int origin = p ? (int)(p - h->resource_url) : (int)strlen(h->resource_url);
        snprintf(out, cap, "%.*s%s%s", origin, h->resource_url, PRM_PATH, p ? p : "");
        return;
    }
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    char safe[256];
    sanitize(safe, sizeof safe, host ? host : "localhost");
    snprintf(out, cap, "%s://%s%s%s", h->tls_cert != NULL ? "https" : "http", safe, PRM_PATH,
             h->path);
}

static enum MHD_Result
send_failure(conn_state *cs, struct MHD_Connection *c, mcp_status rc, const mcp_error *err)
{
    mcp__http *h = cs->h;
    unsigned status = (unsigned)mcp_status_http(rc);
    int32_t code = err->rpc_code ? err->rpc_code : mcp_status_rpc(rc);
    const char *msg = err->message[0] ? err->message : mcp_status_str(rc);
    if (status >= 500) {
        /* Server-side failures (store, introspection endpoint, memory) are the operator's
         * business: the detail goes to the log, the peer gets the generic text. */
        mcp__log(MCP__LOG_WARN, "http", "%u: %s", status, msg);
        msg = mcp_status_str(rc);
    }
    size_t len;
    json_t *data = NULL;
    if (rc == MCP_ERR_FORBIDDEN && cs->req.target != NULL)
        data = json_pack("{s:s}", "target", cs->req.target);
    char *b = error_body(cs, c, code, msg, data, &len);
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(
        b ? len : 0, b ? b : (char *)"", b ? free_cb : NULL);
    if (r == NULL) {
        mcp__free(b);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    /* An empty error code (mcp_request_set_challenge(req, "", ...)) means "no error code":
     * a 401 to a request that carried no credentials (RFC 6750 section 3.1: no error
     * information then) is a bare Bearer challenge; a 403 that a wider token cannot cure (the
     * user is not granted the permission) has no challenge at all, so no client steps up. */
    const char *ecode = cs->req.challenge_error ? cs->req.challenge_error
                        : rc == MCP_ERR_FORBIDDEN ? "insufficient_scope" : "invalid_token";
    if (rc == MCP_ERR_UNAUTHENTICATED || (rc == MCP_ERR_FORBIDDEN && ecode[0] != '\0')) {
        char desc[MCP_ERROR_MSG_MAX], scope[1024], url[512], hdr[2048];
        int n;
        if (ecode[0] != '\0') {
            sanitize(desc, sizeof desc, msg);
            n = snprintf(hdr, sizeof hdr, "Bearer error=\"%s\", error_description=\"%s\"",
                         ecode, desc);
            if (cs->req.challenge_scope != NULL && n > 0 && (size_t)n < sizeof hdr) {
                sanitize(scope, sizeof scope, cs->req.challenge_scope);
                n += snprintf(hdr + n, sizeof hdr - (size_t)n, ", scope=\"%s\"", scope);
            }
        } else {
            n = snprintf(hdr, sizeof hdr, "Bearer");
        }
        if (h->prm_json != NULL && n > 0 && (size_t)n < sizeof hdr) {
            prm_url(h, c, url, sizeof url);
            snprintf(hdr + n, sizeof hdr - (size_t)n, "%s resource_metadata=\"%s\"",
                     ecode[0] != '\0' ? "," : "", url);
        }
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, hdr);
    }
    if (cs->close_after)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    if (rc == MCP_ERR_RATE_LIMITED) {
        char ra[16];
        snprintf(ra, sizeof ra, "%u", cs->req.retry_after ? cs->req.retry_after : 1);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    } else if (rc == MCP_ERR_STORE) {
        /* the store (or introspection endpoint) is rechecked about once a second */
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    }
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    cs->status = status;
    cs->phase = PH_DONE;
    return ok;
}

/* An error answer after which the connection is closed (413 of a chunked body, shutdown). */
static enum MHD_Result
send_closing(conn_state *cs, struct MHD_Connection *c, unsigned status, const char *message)
{
    size_t len;
    char *b = error_body(cs, c, status >= 500 ? MCP_RPC_INTERNAL_ERROR : MCP_RPC_INVALID_REQUEST,
                         message, NULL, &len);
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(
        b ? len : 0, b ? b : (char *)"", b ? free_cb : NULL);
    if (r == NULL) {
        mcp__free(b);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    cs->status = status;
    cs->phase = PH_DONE;
    return ok;
}

static const char *
get_header(void *tctx, const char *name)
{
    return MHD_lookup_connection_value(tctx, MHD_HEADER_KIND, name);
}

/* ---- other resources (mcp_http_opts.route) ----------------------------------------------- */

static const char *
route_header(const mcp_http_route_req *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->tctx_, MHD_HEADER_KIND, name);
}

typedef struct query_probe {
    const char *name;
    const char *first;
    unsigned    count;
} query_probe;

static enum MHD_Result
query_iter(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    query_probe *q = cls;
    if (key != NULL && strcmp(key, q->name) == 0) {
        if (q->count++ == 0)
            q->first = value != NULL ? value : "";
    }
    return MHD_YES;
}

static const char *
route_query(const mcp_http_route_req *rq, const char *name, unsigned *count)
{
    query_probe q = { .name = name };
    MHD_get_connection_values(rq->tctx_, MHD_GET_ARGUMENT_KIND, query_iter, &q);
    if (count != NULL)
        *count = q.count;
    return q.first;
}

static void
route_call(conn_state *cs, struct MHD_Connection *c, bool can_block, mcp_http_route_resp *rs)
{
    mcp__http *h = cs->h;
    mcp_http_route_req rq = {
        .method = cs->req.http_method,
        .path = cs->req.path,
        .peer = cs->peer,
        .body = cs->body.ptr != NULL ? cs->body.ptr : "",
        .body_len = cs->body.len,
        .header = route_header,
        .query = route_query,
        .tctx_ = c,
        .can_block = can_block,
    };
    memset(rs, 0, sizeof *rs);
    h->route(h->route_ctx, &rq, rs);
    if (rs->nheaders > MCP_HTTP_ROUTE_MAX_HEADERS)
        rs->nheaders = MCP_HTTP_ROUTE_MAX_HEADERS;
}

static void
route_resp_free(mcp_http_route_resp *rs)
{
    for (unsigned i = 0; i < rs->nheaders; i++)
        mcp__free(rs->header_value[i]);
    mcp__free(rs->body);
    memset(rs, 0, sizeof *rs);
}

static enum MHD_Result
send_route(conn_state *cs, struct MHD_Connection *c, mcp_http_route_resp *rs)
{
    enum MHD_Result ok = MHD_NO;
    if (rs->status == 0) {
        route_resp_free(rs);
        return mcp__http_send_rpc_error(cs, c, 404, MCP_RPC_INVALID_REQUEST, "Not Found");
    }
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(
        rs->body != NULL ? rs->body_len : 0, rs->body != NULL ? rs->body : (char *)"",
        rs->body != NULL ? free_cb : NULL);
    if (r == NULL)
        mcp__free(rs->body);
    rs->body = NULL;   /* the response owns it now */
    if (r != NULL && rs->content_type != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rs->content_type);
    for (unsigned i = 0; i < rs->nheaders; i++) {
        if (r != NULL && rs->header_name[i] != NULL && rs->header_value[i] != NULL)
            MHD_add_response_header(r, rs->header_name[i], rs->header_value[i]);
        mcp__free(rs->header_value[i]);
    }
    rs->nheaders = 0;
    if (r != NULL) {
        ok = MHD_queue_response(c, rs->status, r);
        MHD_destroy_response(r);
    }
    cs->status = rs->status;
    cs->phase = PH_DONE;
    return ok;
}

static void route_job(void *arg);

static enum MHD_Result
run_route(conn_state *cs, struct MHD_Connection *c)
{
    mcp__http *h = cs->h;
    if (cs->too_large)
        return send_closing(cs, c, 413, "Payload Too Large");
    mcp_http_route_resp rs;
    route_call(cs, c, false, &rs);
    if (!rs.defer)
        return send_route(cs, c, &rs);
    /* The route has blocking work (the sign-in's password hash): park the connection and call
     * it again on a worker, counted with the deferred authentications, so shutdown waits for it
     * the same way. */
    route_resp_free(&rs);
    cs->phase = PH_ROUTE_WAIT;
    atomic_fetch_add(&h->authn_jobs, 1);
    MHD_suspend_connection(c);
    if (mcp__pool_submit(h->srv, route_job, cs) != MCP_OK) {
        atomic_fetch_sub(&h->authn_jobs, 1);
        MHD_resume_connection(c);
        return mcp__http_send_rpc_error(cs, c, 503, MCP_RPC_INTERNAL_ERROR,
                                        "server is shutting down");
    }
    return MHD_YES;
}

static void
route_job(void *arg)
{
    conn_state *cs = arg;
    mcp__http *h = cs->h;
    route_call(cs, cs->req.tctx, true, &cs->route_rs);
    /* the connection is parked until this resume; it cannot complete (and free cs) before */
    MHD_resume_connection(cs->req.tctx);
    atomic_fetch_sub(&h->authn_jobs, 1);
}

/* ---- the access handler ------------------------------------------------------------------ */

static void authn_job(void *arg);

/* A failed head or body pipeline: a check's own status, or the status table with challenges. */
static enum MHD_Result
send_refusal(conn_state *cs, struct MHD_Connection *c, mcp_status rc, const mcp_error *err)
{
    if (cs->req.http_status != 0)
        return mcp__http_send_rpc_error(cs, c, cs->req.http_status,
                                        err->rpc_code ? err->rpc_code : MCP_RPC_INVALID_REQUEST,
                                        err->message);
    return send_failure(cs, c, rc, err);
}

/* The head pipeline passed: GET and DELETE are answered now, a POST reads its body. */
static enum MHD_Result
after_head(conn_state *cs, struct MHD_Connection *c)
{
    mcp__http *h = cs->h;
    if (!cs->is_del && cs->req.principal != NULL &&
        mcp__http_open_streams(h, mcp_principal_owner_key(cs->req.principal)) >=
            h->max_streams_per_principal) {
        /* one principal cannot hold every connection slot with parked requests/streams */
        mcp_error err;
        mcp_error_set_rpc(&err, MCP_ERR_RATE_LIMITED, MCP_RPC_RATE_LIMITED,
                          "too many open requests and streams for this principal");
        cs->req.retry_after = 1;
        return send_failure(cs, c, MCP_ERR_RATE_LIMITED, &err);
    }
    if (cs->is_get)
        return mcp__http_handle_get(cs, c);
    if (cs->is_del) {
        if (cs->req.session == NULL)
            return mcp__http_send_rpc_error(cs, c, 400, MCP_RPC_INVALID_REQUEST,
                                            "Bad Request: Mcp-Session-Id header is required");
        mcp__session_remove(h->srv, cs->req.session);
        return mcp__http_send_body(cs, c, 200, NULL, NULL, 0);
    }
    cs->phase = PH_BODY;
    if (!cs->counted) {
        cs->counted = true;
        atomic_fetch_add(&h->active_posts, 1);
    }
    return MHD_YES;
}

/* Run (or continue) the head pipeline: the checks table, TRANSPORT, AUTHN, session owner and,
 * for GET/DELETE, AUTHZ. */
static enum MHD_Result
run_head(conn_state *cs, struct MHD_Connection *c)
{
    mcp__http *h = cs->h;
    mcp_error err;
    mcp_error_clear(&err);
    mcp_status rc = mcp__run_head(&cs->req, &err);
    if (rc == MCP_ERR_WOULD_BLOCK) {
        /* An AUTHN item needs network I/O (token introspection): an IO thread must not wait
         * for it. Park the connection before any body is read (an anonymous caller must not
         * make us buffer bodies) and run the phase on a worker; the access handler is called
         * again once it is resumed (PH_AUTHN_HDR). */
        cs->phase = PH_AUTHN_HDR;
        atomic_fetch_add(&h->authn_jobs, 1);
        MHD_suspend_connection(c);
        if (mcp__pool_submit(h->srv, authn_job, cs) != MCP_OK) {
            atomic_fetch_sub(&h->authn_jobs, 1);
            MHD_resume_connection(c);
            return mcp__http_send_rpc_error(cs, c, 503, MCP_RPC_INTERNAL_ERROR,
                                            "server is shutting down");
        }
        return MHD_YES;
    }
    if (rc != MCP_OK) {
        /* A 2026 POST refused from its headers (401, 403 decided from Mcp-Method/Mcp-Name,
         * 429): its body is never read. The connection closes after the answer, so the upload
         * is not drained either (a client sending Expect: 100-continue never sends it). */
        cs->close_after = cs->req.has_body && cs->req.era == MCP__REQ_MODERN;
        return send_refusal(cs, c, rc, &err);
    }
    return after_head(cs, c);
}

/* Readiness (orchestrators, load balancers): 200 when ready_fn says the server's dependencies
 * are reachable, else 503 with its reason. No credential; the reason names a dependency, never
 * a secret. */
static enum MHD_Result
send_ready(conn_state *cs, struct MHD_Connection *c)
{
    mcp__http *h = cs->h;
    char why[256] = "";
    bool ok = h->ready_fn == NULL || h->ready_fn(h->ready_ctx, why, sizeof why);
    why[sizeof why - 1] = '\0';
    json_t *doc = ok ? json_pack("{s:s}", "status", "ready")
                     : json_pack("{s:s,s:s}", "status", "not ready", "reason",
                                 why[0] ? why : "not ready");
    char *b = doc != NULL ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    if (b == NULL)
        return mcp__http_send_rpc_error(cs, c, 500, MCP_RPC_INTERNAL_ERROR, "out of memory");
    /* jansson allocates through the library's allocator (common/alloc.c) */
    return mcp__http_send_body(cs, c, ok ? 200 : 503, "application/json", b, strlen(b));
}

/* The protected-resource metadata (RFC 9728: also at PRM_PATH + the endpoint's path). */
static enum MHD_Result
send_prm(conn_state *cs, struct MHD_Connection *c)
{
    char *b = mcp__strdup(cs->h->prm_json);
    return mcp__http_send_body(cs, c, 200, "application/json", b, b ? strlen(b) : 0);
}

/* Liveness for load balancers, orchestrators and systemd watchdogs: no credential, no session,
 * nothing about the server beyond "it answers" (a server shutting down answers 503 before). */
static enum MHD_Result
send_health(conn_state *cs, struct MHD_Connection *c)
{
    char *b = mcp__strdup("{\"status\":\"ok\"}");
    return mcp__http_send_body(cs, c, 200, "application/json", b, b ? strlen(b) : 0);
}

/* Prometheus scrape: counters only, no credential (off unless asked for; see
 * mcp_http_opts.metrics_path) */
static enum MHD_Result
send_metrics(conn_state *cs, struct MHD_Connection *c)
{
    size_t mlen = 0;
    char *b = mcp__http_metrics_render(cs->h, &mlen);
    if (b == NULL)
        return mcp__http_send_rpc_error(cs, c, 500, MCP_RPC_INTERNAL_ERROR, "out of memory");
    return mcp__http_send_body(cs, c, 200, "text/plain; version=0.0.4; charset=utf-8", b, mlen);
}

static const char *
prm_path(const mcp__http *h)
{
    return h->prm_json != NULL ? PRM_PATH : NULL;
}
static const char *
health_path(const mcp__http *h)
{
    return h->health_path;
}
static const char *
ready_path(const mcp__http *h)
{
    return h->ready_path;
}
static const char *
metrics_path(const mcp__http *h)
{
    return h->metrics_path;
}

/* The server's own resources, answered before (and outside) the MCP endpoint's pipeline: no
 * credential, no session. A route whose path is NULL is off. GET, and HEAD where .head says so;
 * any other method is answered 405. Everything else that is not the endpoint goes to the
 * embedded authorization server's route (mcp_http_opts.route), if there is one. */
typedef struct fixed_route {
    const char *(*path)(const mcp__http *h);
    bool prefix;                                  /* the path starts the URL (RFC 9728 suffix) */
    bool head;
    enum MHD_Result (*send)(conn_state *cs, struct MHD_Connection *c);
} fixed_route;

static const fixed_route fixed_routes[] = {
    { prm_path,     true,  false, send_prm },
    { health_path,  false, true,  send_health },
    { ready_path,   false, true,  send_ready },
    { metrics_path, false, true,  send_metrics },
};

static enum MHD_Result
begin(conn_state *cs, struct MHD_Connection *c, const char *url, const char *method)
{
    mcp__http *h = cs->h;
    if (atomic_load(&h->stopping))      /* a keep-alive connection's next request */
        return send_closing(cs, c, 503, "server is shutting down");
    /* the server's own resources beside the MCP endpoint (fixed_routes) */
    for (size_t i = 0; i < sizeof fixed_routes / sizeof fixed_routes[0]; i++) {
        const fixed_route *r = &fixed_routes[i];
        const char *path = r->path(h);
        if (path == NULL || (r->prefix ? strncmp(url, path, strlen(path)) != 0
                                       : strcmp(url, path) != 0))
            continue;
        if (strcmp(method, "GET") != 0 && (!r->head || strcmp(method, "HEAD") != 0))
            return mcp__http_send_rpc_error(cs, c, 405, MCP_RPC_INVALID_REQUEST,
                                            "Method Not Allowed");
        return r->send(cs, c);
    }
    if (h->route != NULL && strcmp(url, h->path) != 0) {
        /* another resource (the embedded authorization server): read its (small) body, then
         * hand it to the route, outside the MCP pipeline. The Host check of the DNS rebinding
         * protection applies (a rebound name must not reach the sign-in page); Origin does
         * not, since token requests may come from other origins. */
        if (h->rebinding &&
            !mcp__http_host_allowed(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host"),
                                    h->allowed_hosts))
            return mcp__http_send_rpc_error(cs, c, 403, MCP_RPC_INVALID_REQUEST,
                                            "Forbidden: Host not allowed (DNS rebinding "
                                            "protection)");
        mcp__buf_cleanup(&cs->body);
        mcp__buf_init(&cs->body, h->route_max_body);
        cs->req.path = url;
        cs->phase = PH_ROUTE;
        return MHD_YES;
    }
    cs->is_get = strcmp(method, "GET") == 0;
    cs->is_del = strcmp(method, "DELETE") == 0;
    cs->req.path = url;
    cs->req.caps = MCP__CAP_HEADER_SESSIONS;
    cs->req.has_body = !cs->is_get && !cs->is_del;
    cs->req.checks = h->checks;
    cs->req.nchecks = MCP__HTTP_NCHECKS;
    return run_head(cs, c);
}

static void
authn_job(void *arg)
{
    conn_state *cs = arg;
    mcp__http *h = cs->h;
    mcp_error_clear(&cs->authn_err);
    cs->req.can_block = true;
    cs->authn_rc = mcp__run_head_authn(&cs->req, &cs->authn_err);
    /* the connection is parked until this resume; it cannot complete (and free cs) before */
    MHD_resume_connection(cs->req.tctx);
    atomic_fetch_sub(&h->authn_jobs, 1);
}

static enum MHD_Result
finish_post(conn_state *cs, struct MHD_Connection *c)
{
    mcp__http *h = cs->h;
    mcp_error err;
    mcp_error_clear(&err);
    cs->st = mcp__http_stream_new(h, cs->req.session, false);
    if (cs->st == NULL)
        return mcp__http_send_rpc_error(cs, c, 500, MCP_RPC_INTERNAL_ERROR, "out of memory");
    const char *acc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
    cs->st->accept_sse = acc == NULL || mcp__http_header_has(acc, "text/event-stream") ||
                         mcp__http_header_has(acc, "*/*");
    cs->st->conn = c;
    if (cs->req.principal != NULL)
        cs->st->owner = mcp__strdup(mcp_principal_owner_key(cs->req.principal));
    mcp__dispatch_result res;
    mcp_status rc = mcp__run_body(&cs->req, cs->body.ptr ? cs->body.ptr : "", cs->body.len,
                                  &cs->st->sink, &res, &cs->created, &cs->rpc_id, &err);
    if (cs->req.msg.method != NULL)
        snprintf(cs->rpc_method, sizeof cs->rpc_method, "%s", cs->req.msg.method);
    if (cs->created != NULL && cs->st->sess == NULL) {
        mcp__session_ref(cs->created);
        cs->st->sess = cs->created;
    }
    if (rc != MCP_OK) {
        pthread_mutex_lock(&cs->st->mu);
        cs->st->conn = NULL;
        pthread_mutex_unlock(&cs->st->mu);
        return send_refusal(cs, c, rc, &err);    /* a 2026 check may have chosen the status */
    }
    if (res == MCP__DISPATCH_ACCEPTED) {
        pthread_mutex_lock(&cs->st->mu);
        cs->st->conn = NULL;
        pthread_mutex_unlock(&cs->st->mu);
        return mcp__http_send_body(cs, c, 202, NULL, NULL, 0);
    }
    return mcp__http_answer_or_park(cs, c);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)version;
    mcp__http *h = cls;
    conn_state *cs = *con_cls;
    if (cs == NULL) {
        cs = mcp__calloc(1, sizeof *cs);
        if (cs == NULL)
            return MHD_NO;
        *con_cls = cs;
        cs->h = h;
        cs->t0 = mcp_now_ms();
        atomic_fetch_add(&h->nreqs, 1);
        mcp__request_init(&cs->req, h->srv);
        cs->req.http_method = method;
        cs->req.header = get_header;
        cs->req.tctx = c;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci != NULL && ci->client_addr != NULL) {
            const struct sockaddr *sa = ci->client_addr;
            if (sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                          cs->peer, sizeof cs->peer);
            else if (sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                          cs->peer, sizeof cs->peer);
        }
        cs->req.peer = cs->peer;
        mcp__buf_init(&cs->body, h->max_body);
        return begin(cs, c, url, method);
    }
    if (cs->phase == PH_DONE) {
        *upload_data_size = 0;                    /* already answered: discard the rest */
        return MHD_YES;
    }
    if (cs->phase == PH_AUTHN_HDR) {
        /* resumed after the deferred AUTHN run (authn_job resumes only when it is done) */
        if (cs->authn_rc != MCP_OK) {
            *upload_data_size = 0;
            return send_failure(cs, c, cs->authn_rc, &cs->authn_err);
        }
        if (atomic_load(&h->stopping)) {
            *upload_data_size = 0;
            return send_closing(cs, c, 503, "server is shutting down");
        }
        enum MHD_Result r = run_head(cs, c);     /* continues after AUTHN */
        if (cs->phase != PH_BODY) {
            *upload_data_size = 0;
            return r;
        }
        if (*upload_data_size == 0)
            return r;                           /* body (if any) follows in later calls */
    }
    if (cs->phase == PH_ROUTE_WAIT) {
        /* resumed after the deferred route ran (route_job resumes only when it is done) */
        *upload_data_size = 0;
        return send_route(cs, c, &cs->route_rs);
    }
    if (cs->phase == PH_ROUTE) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (n == 0)
            return run_route(cs, c);
        if (!cs->too_large && mcp__buf_append(&cs->body, upload_data, n) != MCP_OK)
            cs->too_large = true;         /* answered 413 once the body is in */
        if (cs->too_large) {
            cs->discarded += n;
            return cs->discarded > (1u << 20) ? MHD_NO : MHD_YES;
        }
        return MHD_YES;
    }
    if (cs->phase == PH_BODY && *upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (cs->too_large) {
            /* libmicrohttpd queues a response only before the body or after all of it: discard
             * the rest (bounded: as many bytes again as --max-body, at most 16 MiB), then 413 */
            cs->discarded += n;
            size_t bound = h->max_body < (16u << 20) ? h->max_body : 16u << 20;
            return cs->discarded > bound ? MHD_NO : MHD_YES;
        }
        mcp_status rc = mcp__buf_append(&cs->body, upload_data, n);
        if (rc == MCP_ERR_TOO_LARGE) {       /* chunked: no Content-Length to refuse early */
            cs->too_large = true;
            mcp__buf_cleanup(&cs->body);
            mcp__buf_init(&cs->body, h->max_body);
            return MHD_YES;
        }
        if (rc != MCP_OK) {
            cs->too_large = true;            /* out of memory: refuse the same way */
            return MHD_YES;
        }
        return MHD_YES;
    }
    if (cs->phase == PH_BODY && cs->too_large)
        return send_closing(cs, c, 413, "Payload Too Large");
    if (cs->phase == PH_BODY)
        return finish_post(cs, c);
    if (cs->phase == PH_WAIT)
        return mcp__http_answer_or_park(cs, c);
    return MHD_YES;
}

/* Copy src for a log line: printable ASCII except backslash and quote as is, every other byte
 * as \xHH (so CR, LF and other control bytes never reach the log). Truncates to cap. */
static void
log_escape(char *dst, size_t cap, const char *src)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (; src != NULL && *src != '\0'; src++) {
        unsigned char ch = (unsigned char)*src;
        if (ch > 0x20 && ch < 0x7f && ch != '\\' && ch != '"') {
            if (o + 2 > cap)
                break;
            dst[o++] = (char)ch;
        } else {
            if (o + 5 > cap)
                break;
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[ch >> 4];
            dst[o++] = hex[ch & 15];
        }
    }
    if (cap > 0)
        dst[o < cap ? o : cap - 1] = '\0';
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    conn_state *cs = *con_cls;
    if (cs == NULL)
        return;
    *con_cls = NULL;
    if (cs->st != NULL) {
        pthread_mutex_lock(&cs->st->mu);
        if (cs->st->conn == c) {
            cs->st->conn = NULL;
            cs->st->suspended = false;
        }
        pthread_mutex_unlock(&cs->st->mu);
        mcp__http_stream_release(&cs->st->sink);
    }
    mcp__http_metrics_record(&cs->h->metrics, cs->req.http_method, cs->status,
                             mcp_now_ms() - cs->t0);
    if (cs->h->access_log) {
        /* every request-derived field escaped: a method name cannot forge a log line */
        uint64_t ms = mcp_now_ms() - cs->t0;
        char hm[4 * 16 + 1], rm[4 * sizeof cs->rpc_method + 1], peer[4 * sizeof cs->peer + 1];
        char who[4 * 128 + 1];
        log_escape(hm, sizeof hm, cs->req.http_method);
        log_escape(rm, sizeof rm, cs->rpc_method[0] ? cs->rpc_method : "-");
        log_escape(peer, sizeof peer, cs->peer[0] ? cs->peer : "-");
        /* the caller: its subject as authentication established it (a token's or key's owner,
         * never the credential), "-" when there is none */
        const char *sub = cs->req.principal ? mcp_principal_subject(cs->req.principal) : NULL;
        char subcut[129];
        snprintf(subcut, sizeof subcut, "%s", sub != NULL && sub[0] ? sub : "-");
        log_escape(who, sizeof who, subcut);
        mcp__log(MCP__LOG_INFO, "access", "%s %s %s %s %u %llums%s", peer, who, hm, rm,
                 cs->status, (unsigned long long)ms,
                 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)");
    }
    atomic_fetch_sub(&cs->h->nreqs, 1);
    if (cs->counted)
        atomic_fetch_sub(&cs->h->active_posts, 1);
    if (cs->created != NULL)
        mcp__session_unref(cs->created);
    if (cs->req.session != NULL)
        mcp__session_unref(cs->req.session);
    json_decref(cs->rpc_id);
    route_resp_free(&cs->route_rs);
    mcp__request_cleanup(&cs->req);
    mcp__buf_cleanup(&cs->body);
    mcp__free(cs);
}

/* ---- lifecycle --------------------------------------------------------------------------- */

/* A connection accepted once shutdown began is closed at once. */
static enum MHD_Result
accept_policy(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    (void)addr;
    (void)addrlen;
    return atomic_load(&((mcp__http *)cls)->quiesced) ? MHD_NO : MHD_YES;
}

/* libmicrohttpd's own messages (client hung up mid-request, ...) are debug-level noise for an
 * operator; route them through our logger instead of raw stderr. */
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    mcp__log(MCP__LOG_DEBUG, "mhd", "%s", line);
}

void
mcp_http_opts_default(mcp_http_opts *o)
{
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 8080;
    o->path = "/mcp";
    o->max_body = 4u << 20;
    o->max_header = 16u << 10;
    o->max_connections = 2048;
    o->connection_timeout_s = 30;
    o->dns_rebinding_protection = -1;
    o->sse_retry_ms = 1000;
    o->sse_replay_events = 256;
    o->access_log = true;
    o->health_path = "/health";
    o->ready_path = "/ready";
    o->listen_fd = -1;
    o->max_connections_per_ip = 256;
    o->max_streams_per_principal = 64;
    o->suspend_timeout_s = 300;
}

static char **
strv_copy(const char *const *v)
{
    size_t n = 0;
    while (v != NULL && v[n] != NULL)
        n++;
    char **d = mcp__calloc(n + 1, sizeof *d);
    for (size_t i = 0; d != NULL && i < n; i++)
        d[i] = mcp__strdup(v[i]);
    return d;
}


static void
http_free(void *tr)
{
    mcp__http *h = tr;
    if (h == NULL)
        return;
    if (h->d != NULL) {
        /* stop was cut short by a deferred authentication; the workers are joined now, so it
         * has resumed its connection: nothing is suspended any more */
        (void)mcp__http_acceptor_stop(h);
        atomic_store(&h->stopping, true);
        mcp__http_end_all_streams(h);
        MHD_stop_daemon(h->d);
        h->d = NULL;
    }
    mcp__http_acceptor_free(h);
    pthread_mutex_destroy(&h->live_mu);
    mcp__free(h->host);
    mcp__free(h->path);
    mcp__free(h->resource_url);
    mcp__free(h->prm_json);
    mcp__free(h->health_path);
    mcp__free(h->metrics_path);
    mcp__free(h->ready_path);
    mcp__free(h->tls_cert);
    mcp__http_tls_free(h->tls);
    if (h->tls_key != NULL) {
        mcp_memzero(h->tls_key, h->tls_key_len);
        mcp__free(h->tls_key);
    }
    for (char **p = h->allowed_hosts; p && *p; p++)
        mcp__free(*p);
    for (char **p = h->allowed_origins; p && *p; p++)
        mcp__free(*p);
    mcp__free(h->allowed_hosts);
    mcp__free(h->allowed_origins);
    mcp__free(h);
}

/*
 * Shutdown, in this order: stop accepting; give worker jobs, deferred authentications and
 * in-flight POSTs the grace period; then end every live stream (session or stateless, SSE or a
 * POST parked for its JSON answer), so each suspended connection is resumed and answered (503,
 * or the end of its stream); give those answers a moment to drain; only then stop the daemon,
 * which must never see a suspended connection (it aborts the process). A deferred
 * authentication still running past the grace period keeps its connection suspended until it
 * returns (its network I/O is bounded by its own timeouts): the daemon is then stopped by
 * http_free(), after the workers are joined.
 */
static void
http_stop(void *tr, unsigned grace_ms)
{
    mcp__http *h = tr;
    if (h == NULL || h->d == NULL)
        return;
    mcp_server *srv = h->srv;
    uint64_t deadline = mcp_now_ms() + grace_ms;
    /* stop accepting and close the listen socket: new connections are refused at once, those
     * left in the backlog are reset; in-flight work continues */
    if (mcp__http_acceptor_stop(h))
        mcp__log(MCP__LOG_INFO, "http",
                 "shutting down: no longer accepting connections (grace %u ms)", grace_ms);
    mcp__pool_wait_idle(srv, grace_ms);
    while (atomic_load(&h->authn_jobs) > 0 && mcp_now_ms() < deadline)
        usleep(5000);
    /* handlers are done (or the grace period is over); let their responses drain */
    while (atomic_load(&h->active_posts) > 0 && mcp_now_ms() < deadline)
        usleep(5000);
    /* A handler still waiting on the client (sampling, elicitation) would hold its worker until
     * its request timeout: make it give up, and give its error answer a moment to go out on its
     * stream before the streams end. */
    mcp__server_abort_waits(srv);
    uint64_t settle = mcp_now_ms() + 1000;
    (void)mcp__pool_wait_idle(srv, 1000);
    while (atomic_load(&h->active_posts) > 0 && mcp_now_ms() < settle)
        usleep(5000);
    atomic_store(&h->stopping, true);
    mcp__http_end_all_streams(h);
    uint64_t drain = mcp_now_ms() + 1000;
    while (atomic_load(&h->nreqs) > atomic_load(&h->authn_jobs) && mcp_now_ms() < drain)
        usleep(5000);
    if (atomic_load(&h->authn_jobs) > 0) {
        mcp__log(MCP__LOG_WARN, "http", "%d authentication run(s) still in flight: the listener "
                 "stops once they return", atomic_load(&h->authn_jobs));
        return;
    }
    MHD_stop_daemon(h->d);
    h->d = NULL;
}

static void
http_session_closed(void *tr, mcp__session *s)
{
    (void)tr;
    mcp__http_session_closed(s);
}

static void
http_tick(void *tr)
{
    mcp__http_tick(tr);
}

/* What the core calls on this transport (registered per server, no process-global hooks). */
static const mcp__transport_ops http_ops = {
    .stop = http_stop,
    .free = http_free,
    .session_closed = http_session_closed,
    .keepalive = NULL,                  /* the tick pings every parked SSE stream */
    .tick = http_tick,
};

/* A PEM file for TLS into *out (NUL-terminated, at most 1 MiB); err names the option and file. */
static mcp_status
read_pem(const char *path, const char *what, char **out, size_t *len, mcp_error *err)
{
    enum { MAX = 1 << 20 };
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return mcp_error_set(err, MCP_ERR_IO, "%s %s: %s", what, path, strerror(errno));
    char *buf = mcp__alloc(MAX + 1);
    size_t n = buf != NULL ? fread(buf, 1, MAX + 1, f) : 0;
    bool bad = buf != NULL && ferror(f) != 0;
    fclose(f);
    if (buf == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    buf[n <= MAX ? n : MAX] = '\0';
    const char *why = bad ? "read error" : n > MAX ? "larger than 1 MiB"
                      : strstr(buf, "-----BEGIN ") == NULL ? "not a PEM file" : NULL;
    if (why != NULL) {
        mcp_memzero(buf, MAX + 1);
        mcp__free(buf);
        return mcp_error_set(err, bad ? MCP_ERR_IO : MCP_ERR_INVALID_ARG, "%s %s: %s", what, path,
                             why);
    }
    *out = buf;
    *len = MAX + 1;
    return MCP_OK;
}

/*
 * GnuTLS priorities: TLS 1.3 and 1.2 only, and in 1.2 only ECDHE with AEAD ciphers (what
 * Mozilla's "intermediate" profile allows); no RSA key exchange, CBC, SHA-1 MACs or SSL 3.
 */
static const char TLS_PRIORITIES[] =
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:"
    "-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD:%SERVER_PRECEDENCE";

/* A bound, listening TCP socket for ss, or -1 with err naming `where` and the reason. */
static int
open_listener(const struct sockaddr_storage *ss, bool reuse_port, const char *where,
              mcp_error *err)
{
    socklen_t len = ss->ss_family == AF_INET6 ? (socklen_t)sizeof(struct sockaddr_in6)
                                              : (socklen_t)sizeof(struct sockaddr_in);
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        mcp_error_set(err, MCP_ERR_IO, "cannot listen on %s: %s", where, strerror(errno));
        return -1;
    }
    int one = 1;
    /* SO_REUSEADDR only lets a restarted server bind past connections in TIME_WAIT; it does
     * not let two listeners share a port (SO_REUSEPORT does, and is off unless asked). */
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss->ss_family == AF_INET6)
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if ((reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) ||
        bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, SOMAXCONN) != 0) {
        int e = errno;
        close(fd);
        mcp_error_set(err, MCP_ERR_IO, "cannot listen on %s: %s", where,
                      e == EADDRINUSE ? "address already in use" : strerror(e));
        return -1;
    }
    return fd;
}

mcp_status
mcp_server_listen_http(mcp_server *srv, const mcp_http_opts *opts, mcp_error *err)
{
    mcp_http_opts def;
    if (opts == NULL) {
        mcp_http_opts_default(&def);
        opts = &def;
    }
    if (srv->tr_ops != NULL)
        return mcp_error_set(err, MCP_ERR_STATE, "HTTP transport already running");
    mcp__http *h = mcp__calloc(1, sizeof *h);
    if (h == NULL)
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    h->srv = srv;
    h->host = mcp__strdup(opts->host ? opts->host : "127.0.0.1");
    h->path = mcp__strdup(opts->path ? opts->path : "/mcp");
    bool want_health = opts->health_path != NULL && opts->health_path[0] == '/' &&
                       strcmp(opts->health_path, h->path ? h->path : "") != 0;
    if (want_health)
        h->health_path = mcp__strdup(opts->health_path);
    bool want_metrics = opts->metrics_path != NULL && opts->metrics_path[0] == '/' &&
                        strcmp(opts->metrics_path, h->path ? h->path : "") != 0;
    if (want_metrics)
        h->metrics_path = mcp__strdup(opts->metrics_path);
    bool want_ready = opts->ready_path != NULL && opts->ready_path[0] == '/' &&
                      strcmp(opts->ready_path, h->path ? h->path : "") != 0;
    if (want_ready)
        h->ready_path = mcp__strdup(opts->ready_path);
    h->ready_fn = opts->ready_fn;
    h->ready_ctx = opts->ready_ctx;
    h->resource_url = mcp__strdup(opts->resource_url);
    h->prm_json = mcp__strdup(opts->resource_metadata_json);
    h->route = opts->route;
    h->route_ctx = opts->route_ctx;
    h->route_max_body = opts->route_max_body ? opts->route_max_body : 64u << 10;
    h->allowed_hosts = strv_copy(opts->allowed_hosts);
    h->allowed_origins = strv_copy(opts->allowed_origins);
    h->max_body = opts->max_body ? opts->max_body : 4u << 20;
    h->retry_ms = opts->sse_retry_ms ? opts->sse_retry_ms : 1000;
    h->replay_events = opts->sse_replay_events ? opts->sse_replay_events : 256;
    h->access_log = opts->access_log;
    h->max_streams_per_principal = opts->max_streams_per_principal
                                   ? opts->max_streams_per_principal : 64;
    h->suspend_timeout_s = opts->suspend_timeout_s ? opts->suspend_timeout_s : 300;
    h->lfd = MHD_INVALID_SOCKET;
    h->wake_r = h->wake_w = -1;
    h->last_ping_ms = mcp_now_ms();
    pthread_mutex_init(&h->live_mu, NULL);
    if (h->host == NULL || h->path == NULL || h->allowed_hosts == NULL ||
        h->allowed_origins == NULL || (want_health && h->health_path == NULL) ||
        (want_metrics && h->metrics_path == NULL) || (want_ready && h->ready_path == NULL)) {
        http_free(h);
        return mcp_error_set(err, MCP_ERR_NOMEM, NULL);
    }
    mcp__http_checks_init(h);
    h->rebinding = opts->dns_rebinding_protection < 0 ? mcp__host_is_loopback(h->host)
                                                      : opts->dns_rebinding_protection > 0;

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    /* no listen socket of libmicrohttpd's own: http_accept.c accepts and hands connections over */
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET;
    const char *bind_host = strcmp(h->host, "localhost") == 0 ? "127.0.0.1" : h->host;
    struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)&ss;
    if (inet_pton(AF_INET, bind_host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(opts->port);
    } else if (inet_pton(AF_INET6, bind_host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(opts->port);
        flags |= MHD_USE_IPv6;
    } else {
        http_free(h);
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "listen address must be a numeric IP");
    }
    /* The socket is bound here rather than by libmicrohttpd so that a failure says why
     * (errno), and without SO_REUSEPORT unless asked: with it a second server on a busy port
     * starts anyway and the kernel hands it a share of the connections. */
    mcp_status rc0;
    if ((opts->tls_cert_file == NULL) != (opts->tls_key_file == NULL)) {
        http_free(h);
        return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                             "TLS needs both a certificate and a key file");
    }
    if (opts->tls_cert_file != NULL) {
        size_t clen = 0;   /* the certificate is public: its length is not needed */
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            http_free(h);
            return mcp_error_set(err, MCP_ERR_INVALID_ARG,
                                 "this libmicrohttpd was built without TLS support");
        }
        if ((rc0 = read_pem(opts->tls_cert_file, "--tls-cert", &h->tls_cert, &clen, err)) !=
                MCP_OK ||
            (rc0 = read_pem(opts->tls_key_file, "--tls-key", &h->tls_key, &h->tls_key_len,
                            err)) != MCP_OK ||
            (rc0 = mcp__http_tls_new(opts->tls_cert_file, opts->tls_key_file, &h->tls, err)) !=
                MCP_OK) {
            http_free(h);
            return rc0;
        }
        flags |= MHD_USE_TLS;
    }
    int lfd = opts->listen_fd;
    bool own_fd = false;
    if (lfd < 0) {
        char where[INET6_ADDRSTRLEN + 16];
        snprintf(where, sizeof where, "%s%s%s:%u", strchr(h->host, ':') ? "[" : "", h->host,
                 strchr(h->host, ':') ? "]" : "", (unsigned)opts->port);
        if ((lfd = open_listener(&ss, opts->reuse_port, where, err)) < 0) {
            http_free(h);
            return MCP_ERR_IO;
        }
        own_fd = true;
    }
    mcp_status rc = mcp__server_start(srv, err);
    if (rc != MCP_OK) {
        if (own_fd)
            close(lfd);
        http_free(h);
        return rc;
    }
    /* registered before the daemon runs: a session removed from then on ends its streams */
    if ((rc = mcp__server_set_transport(srv, &http_ops, h, err)) != MCP_OK) {
        if (own_fd)
            close(lfd);
        http_free(h);
        return rc;
    }
    unsigned io = opts->io_threads ? opts->io_threads : mcp__ncpus();
    size_t mem = opts->max_header ? opts->max_header : 16u << 10;
    if (mem < 8192)
        mem = 8192;
    unsigned limit = opts->max_connections ? opts->max_connections : 2048u;
    struct MHD_OptionItem common[] = {
        { MHD_OPTION_THREAD_POOL_SIZE, io > 1 ? (intptr_t)io : 0, NULL },
        /* ours is enforced by the accept loop; the daemon's is a backstop (http_accept.c) */
        { MHD_OPTION_CONNECTION_LIMIT, (intptr_t)(limit + MCP__HTTP_ACCEPT_SLACK), NULL },
        { MHD_OPTION_PER_IP_CONNECTION_LIMIT,
          (intptr_t)(opts->max_connections_per_ip ? opts->max_connections_per_ip : 256u), NULL },
        { MHD_OPTION_CONNECTION_TIMEOUT,
          (intptr_t)(opts->connection_timeout_s ? opts->connection_timeout_s : 30u), NULL },
        { MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)mem, NULL },
        { MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h },
        { MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)mcp__http_on_connection, h },
        { MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, h },
        /* the TLS entries last: without TLS they are cut off by the END written over them */
        /* the certificate comes from a callback, so that SIGHUP can replace it (http_tls.c) */
        { MHD_OPTION_HTTPS_CERT_CALLBACK, 0, h->tls ? mcp__http_tls_callback() : NULL },
        { MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES },
        { MHD_OPTION_END, 0, NULL },
    };
    if (h->tls_cert == NULL) {
        size_t n = sizeof common / sizeof common[0];
        common[n - 3] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
    }
    h->d = MHD_start_daemon(flags, 0, accept_policy, h, on_request, h,
                            MHD_OPTION_ARRAY, common, MHD_OPTION_END);
    if (h->d == NULL) {
        bool h_tls = h->tls_cert != NULL;
        if (own_fd)
            close(lfd);
        srv->tr_ops = NULL;
        srv->tr = NULL;
        http_free(h);
        return mcp_error_set(err, MCP_ERR_IO, "cannot listen on %s:%u%s", opts->host,
                             (unsigned)opts->port, h_tls ? " (TLS setup failed: is --tls-key "
                             "the key of --tls-cert? see the log)" : "");
    }
    if (h->tls != NULL)           /* before the first connection can arrive */
        mcp__http_tls_register(h->tls, lfd);
    if ((rc = mcp__http_acceptor_start(h, lfd, limit, err)) != MCP_OK) {
        MHD_stop_daemon(h->d);
        h->d = NULL;
        if (own_fd)
            close(lfd);
        srv->tr_ops = NULL;
        srv->tr = NULL;
        http_free(h);
        return rc;
    }
    struct sockaddr_storage bound;
    socklen_t bl = sizeof bound;
    if (getsockname(lfd, (struct sockaddr *)&bound, &bl) == 0)
        h->port = ntohs(bound.ss_family == AF_INET6
                        ? ((struct sockaddr_in6 *)(void *)&bound)->sin6_port
                        : ((struct sockaddr_in *)(void *)&bound)->sin_port);
    mcp__log(MCP__LOG_INFO, "http", "listening on %s://%s%s%s:%u%s%s",
             h->tls_cert != NULL ? "https" : "http", strchr(h->host, ':') ? "["
             : "", h->host, strchr(h->host, ':') ? "]" : "", (unsigned)h->port, h->path,
             srv->opts.stateless ? " (stateless)" : "");
    return MCP_OK;
}

uint16_t
mcp_server_http_port(const mcp_server *srv)
{
    return srv->tr_ops == &http_ops ? ((const mcp__http *)srv->tr)->port : 0;
}

mcp_status
mcp_server_reload_tls(mcp_server *srv, mcp_error *err)
{
    if (srv == NULL || srv->tr_ops != &http_ops || ((mcp__http *)srv->tr)->tls == NULL)
        return mcp_error_set(err, MCP_ERR_STATE, "the server does not serve HTTPS");
    mcp__http *h = srv->tr;
    mcp_status rc = mcp__http_tls_reload(h->tls, err);
    if (rc == MCP_OK)
        mcp__log(MCP__LOG_INFO, "http", "TLS certificate reloaded: new connections get it");
    else
        mcp__log(MCP__LOG_ERROR, "http", "TLS reload failed, keeping the current certificate: "
                 "%s", err != NULL ? err->message : mcp_status_str(rc));
    return rc;
}

