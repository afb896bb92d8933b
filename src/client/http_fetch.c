/*
 * Blocking one-shot HTTP requests for the OAuth side (metadata, registration, token, and the
 * headless walk through the authorization endpoint). MCP traffic itself goes through the
 * multi-handle transport in transport_http.c; these calls are rare and simple, so src/net's
 * fetcher with a hard response cap and no automatic redirects is all they need. This file
 * adds what OAuth wants on top: the WWW-Authenticate challenges, a Basic client secret, the
 * cookie share of the headless login, and the wording of its errors.
 */
#include "client/internal.h"

#include <string.h>

bool
mcp__http_header_is(const char *line, size_t n, const char *name, const char **val,
                    size_t *vlen)
{
    size_t k = strlen(name);
    if (n <= k || line[k] != ':')
        return false;
    for (size_t i = 0; i < k; i++) {
        char a = line[i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a + 32);
        if (a != name[i])
            return false;
    }
    const char *v = line + k + 1;
    const char *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    *val = v;
    *vlen = (size_t)(end - v);
    return true;
}

mcp_status
mcp__http_www_auth_add(mcp_buf *www, const char *val, size_t vlen)
{
    mcp_status rc = www->len > 0 ? mcp__buf_append(www, ", ", 2) : MCP_OK;
    return rc == MCP_OK ? mcp__buf_append(www, val, vlen) : rc;
}

typedef struct hdr_ctx {
    mcp_buf www;
    char   *dpop_nonce;
} hdr_ctx;

/* Collect WWW-Authenticate values and DPoP-Nonce; a new status line (after 100-continue)
 * starts over. */
static bool
on_header(void *ud, const char *line, size_t n)
{
    hdr_ctx *h = ud;
    const char *v;
    size_t vl;
    if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        mcp__buf_reset(&h->www);
        mcp__free(h->dpop_nonce);
        h->dpop_nonce = NULL;
    } else if (mcp__http_header_is(line, n, "www-authenticate", &v, &vl)) {
        return mcp__http_www_auth_add(&h->www, v, vl) == MCP_OK;  /* absurdly long: fail */
    } else if (mcp__http_header_is(line, n, "dpop-nonce", &v, &vl) && vl <= 1024) {
        mcp__free(h->dpop_nonce);
        h->dpop_nonce = mcp__strndup(v, vl);
    }
    return true;
}

void
mcp__http_resp_cleanup(mcp__http_resp *rs)
{
    if (rs == NULL)
        return;
    /* src/net frees what it allocated (and wipes the body: token responses carry secrets). */
    mcp__net_resp n = { .body = rs->body, .body_len = rs->body_len,
                        .content_type = rs->content_type, .location = rs->location };
    mcp__net_resp_cleanup(&n);
    mcp__free(rs->www_auth);
    mcp__free(rs->dpop_nonce);
    memset(rs, 0, sizeof *rs);
}

void
mcp__sanitize(const char *in, char *out, size_t outsz)
{
    size_t o = 0;
    if (outsz == 0)
        return;
    for (; in != NULL && *in != '\0' && o + 1 < outsz; in++) {
        unsigned char c = (unsigned char)*in;
        out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    out[o] = '\0';
}


mcp_status
mcp__http_fetch(const mcp__http_req *rq, mcp__http_resp *rs, mcp_error *err)
{
    memset(rs, 0, sizeof *rs);
    if (rq->oauth == NULL || rq->url == NULL)
        return mcp_error_set(err, MCP_ERR_INVALID_ARG, "OAuth request without its client");
    hdr_ctx hc = { .dpop_nonce = NULL };
    mcp__buf_init(&hc.www, MCP__WWW_AUTH_MAX);
    char *ah = NULL, *dh = NULL;
    const char *headers[3] = { NULL, NULL, NULL };
    size_t nh = 0;
    if (rq->accept) {
        if ((ah = mcp__aprintf("Accept: %s", rq->accept)) == NULL)
            return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        headers[nh++] = ah;
    }
    if (rq->dpop) {
        if ((dh = mcp__aprintf("DPoP: %s", rq->dpop)) == NULL) {
            mcp__free(ah);
            return mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        }
        headers[nh++] = dh;
    }
    const char *verb = rq->body ? "POST" : "GET";
    mcp__net_req nr = {
        .url = rq->url,
        .method = rq->method,
        .body = rq->body,
        .body_len = rq->body ? strlen(rq->body) : 0,
        .content_type = rq->body ? (rq->content_type ? rq->content_type : "application/json")
                                 : NULL,
        .headers = headers,
        .user_agent = "libmcp-client/" MCP_VERSION_STRING,
        .basic_user = rq->basic_user,
        .basic_pass = rq->basic_pass,
        .cookie_share = rq->cookie_handle,
        .max_body = rq->max_body ? rq->max_body : (size_t)1 << 20,
        .connect_timeout_ms = 10000,
        .timeout_ms = rq->timeout_ms ? rq->timeout_ms : 15000,
        .max_redirects = 0,                /* the OAuth code follows (and checks) each hop */
        .rule = MCP__NET_HTTP_ANY,         /* ... and applies mcp__url_is_secure itself */
        .addr_rule = mcp__oauth_addr_rule(rq->oauth, rq->url),
        .resolve = rq->oauth->resolve,
        .header_fn = on_header,
        .header_ctx = &hc,
        .want_meta = true,
    };
    mcp__net_resp nrs;
    mcp_status rc = mcp__net_fetch(&nr, &nrs, err);
    if (rc == MCP_ERR_FORBIDDEN) {
        rc = mcp_error_set(err, MCP_ERR_FORBIDDEN, "%s %s: %s (allow_internal_as / "
                           "--allow-internal-as permits it)", verb, rq->url, nrs.detail);
    } else if (rc == MCP_ERR_TOO_LARGE) {
        rc = mcp_error_set(err, MCP_ERR_TOO_LARGE, "response from %s exceeds %zu bytes",
                           rq->url, nr.max_body);
    } else if (rc == MCP_ERR_TIMEOUT || rc == MCP_ERR_IO) {
        rc = mcp_error_set(err, rc, "%s %s failed: %s", verb, rq->url, nrs.detail);
    } else if (rc == MCP_ERR_NOMEM) {
        rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
    } else if (rc == MCP_OK) {
        rs->status = nrs.status;
        rs->body = nrs.body;               /* ownership moves; wiped by mcp__http_resp_cleanup */
        rs->body_len = nrs.body_len;
        rs->content_type = nrs.content_type;
        rs->location = nrs.location;
        nrs.body = nrs.content_type = nrs.location = NULL;
        rs->dpop_nonce = hc.dpop_nonce;
        hc.dpop_nonce = NULL;
        if (hc.www.len > 0 && (rs->www_auth = mcp__strdup(hc.www.ptr)) == NULL)
            rc = mcp_error_set(err, MCP_ERR_NOMEM, "out of memory");
        else if (rq->verbose)
            mcp__log(MCP__LOG_INFO, "oauth", "%s %s -> %ld", verb, rq->url, rs->status);
    }
    if (rc != MCP_OK)
        mcp__http_resp_cleanup(rs);
    mcp__net_resp_cleanup(&nrs);
    mcp__buf_cleanup(&hc.www);
    mcp__free(hc.dpop_nonce);
    mcp__free(ah);
    mcp__free(dh);
    return rc;
}
